"""`imr-search verify` and incremental indexing: the index against a folder of letters."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
from pathlib import Path

import pytest
from click.testing import CliRunner

from indexer.cli import main
from indexer.pipeline import index_paths
from indexer.stores.embedded import EmbeddedStore
from indexer.verify import VerifyReport, verify

from .conftest import SEEDS

CASE = "CM15-0022402"  # SEEDS[4], the seed with a case number
B_ID, C_ID = "L-96b58c07c53b0b00", "L-f79e6a4b89368566"  # SEEDS[0], SEEDS[2]


def _index(store, embedder, folder: Path):
    errors: list[tuple[str, str]] = []
    summary = index_paths([str(folder)], store, embedder, lambda *e: errors.append(e))
    return summary, errors


@pytest.fixture
def folder(tmp_path) -> Path:
    """Three seed letters, copied with their (old) modification times."""
    out = tmp_path / "letters"
    out.mkdir()
    shutil.copy2(SEEDS[4], out / "a.txt")
    shutil.copy2(SEEDS[0], out / "b.txt")
    shutil.copy2(SEEDS[2], out / "c.txt")
    return out.resolve()


def test_a_folder_just_indexed_verifies_clean(tmp_path, folder, embedder):
    store = EmbeddedStore(tmp_path / "data")
    summary, errors = _index(store, embedder, folder)
    assert (summary.indexed, summary.skipped, errors) == (3, 0, [])
    report = verify([str(folder)], store.indexed_letters())
    assert report == VerifyReport(files=3, indexed=3, unchanged=3)
    assert report.consistent


def test_verify_reports_missing_extra_stale_duplicated_and_unreadable(
    tmp_path, folder, embedder, monkeypatch
):
    store = EmbeddedStore(tmp_path / "data")
    _index(store, embedder, folder)
    a, b, c = folder / "a.txt", folder / "b.txt", folder / "c.txt"
    a.write_text(
        SEEDS[4].read_text().replace("Valium 10 mg #50: Upheld", "Valium 10 mg #50: Overturned")
    )
    (folder / "d.txt").write_text(SEEDS[4].read_text().replace(CASE, "CM19-0000001"))
    c.unlink()
    shutil.copy2(b, folder / "e.txt")
    (folder / "f.txt").write_text("")

    report = verify([str(folder)], store.indexed_letters())
    assert report == VerifyReport(
        files=5,
        indexed=3,
        unchanged=1,
        missing=[(str(folder / "d.txt"), "CM19-0000001")],
        extra=[(C_ID, str(c))],
        stale=[(str(a), CASE, "file content changed since indexing")],
        duplicates=[(B_ID, [str(b), str(folder / "e.txt")])],
        unreadable=[(str(folder / "f.txt"), "empty file")],
    )
    assert not report.consistent

    # Indexing again re-reads only what changed: b is skipped without being parsed.
    parsed: list[str] = []
    import indexer.pipeline as pipeline

    real_parse = pipeline.parse_letter
    monkeypatch.setattr(
        pipeline, "parse_letter", lambda p: parsed.append(Path(p).name) or real_parse(p)
    )
    summary, errors = _index(store, embedder, folder)
    # (f.txt, empty, may be turned away before parsing.)
    assert [n for n in parsed if n != "f.txt"] == ["a.txt", "d.txt", "e.txt"]  # not b.txt
    assert (summary.indexed, summary.skipped) == (2, 1)
    assert errors == [(str(folder / "f.txt"), "empty file")]
    assert summary.failed == [
        (
            str(folder / "e.txt"),
            f"same letter id {B_ID} as a file indexed earlier in this run; skipped",
        )
    ]
    assert store.letter_chunks(CASE)[1]["decision"] == ["overturned"]

    # What is left is what indexing does not decide: a vanished file, a copy, a bad file.
    (folder / "e.txt").unlink()
    (folder / "f.txt").unlink()
    report = verify([str(folder)], store.indexed_letters())
    assert (report.unchanged, report.extra, report.missing, report.stale) == (
        3,
        [(C_ID, str(c))],
        [],
        [],
    )
    assert store.delete([C_ID]) == 1
    assert verify([str(folder)], store.indexed_letters()).consistent


def test_a_touched_file_is_compared_by_hash_and_stays_unchanged(
    tmp_path, folder, embedder, monkeypatch
):
    store = EmbeddedStore(tmp_path / "data")
    _index(store, embedder, folder)
    stamp = store.indexed_letters()[CASE].file
    assert stamp is not None and stamp.mtime_ns == (folder / "a.txt").stat().st_mtime_ns
    os.utime(folder / "a.txt", ns=(stamp.mtime_ns + 10**9, stamp.mtime_ns + 10**9))

    import indexer.pipeline as pipeline
    import indexer.verify as verify_module

    def no_parse(path):
        raise AssertionError(f"{path} was parsed")

    monkeypatch.setattr(pipeline, "parse_letter", no_parse)
    monkeypatch.setattr(verify_module, "parse_letter", no_parse)
    assert verify([str(folder)], store.indexed_letters()).unchanged == 3
    summary, errors = _index(store, embedder, folder)
    assert (summary.indexed, summary.skipped, errors) == (0, 3, [])


def test_a_moved_file_is_stale_not_missing_and_indexing_records_its_new_place(
    tmp_path, folder, embedder
):
    store = EmbeddedStore(tmp_path / "data")
    _index(store, embedder, folder)
    (folder / "sub").mkdir()
    (folder / "a.txt").rename(folder / "sub" / "a.txt")
    report = verify([str(folder)], store.indexed_letters())
    assert report.stale == [
        (str(folder / "sub" / "a.txt"), CASE, f"indexed from {folder / 'a.txt'}, now gone")
    ]
    assert (report.missing, report.extra, report.unchanged) == ([], [], 2)
    summary, _ = _index(store, embedder, folder)
    assert (summary.indexed, summary.skipped) == (1, 2)
    assert store.indexed_letters()[CASE].source == str(folder / "sub" / "a.txt")
    assert verify([str(folder)], store.indexed_letters()).consistent


def test_the_verify_command_prints_counts_and_lists_and_exits_1_when_inconsistent(
    tmp_path, folder, embedder
):
    data = tmp_path / "data"
    _index(EmbeddedStore(data), embedder, folder)
    runner = CliRunner()
    clean = runner.invoke(main, ["--data-dir", str(data), "verify", str(folder)])
    assert clean.exit_code == 0, clean.output
    assert clean.output.splitlines() == [
        "3 files, 3 letters indexed: 3 unchanged, 0 missing, 0 extra, 0 stale, 0 duplicated, "
        "0 unreadable",
        "the index holds exactly the letters of these files",
    ]
    (folder / "c.txt").unlink()
    (folder / "d.txt").write_text(SEEDS[4].read_text().replace(CASE, "CM19-0000001"))
    dirty = runner.invoke(main, ["--data-dir", str(data), "verify", str(folder)])
    assert dirty.exit_code == 1
    assert dirty.output.splitlines() == [
        "3 files, 3 letters indexed: 2 unchanged, 1 missing, 1 extra, 0 stale, 0 duplicated, "
        "0 unreadable",
        f"missing: {folder / 'd.txt'} (CM19-0000001 is not indexed)",
        f"extra: {C_ID} (indexed from {folder / 'c.txt'}, not found under the paths)",
        "the index does not match these files: 'imr-search index PATH' adds the missing and the "
        "stale, 'imr-search delete LETTER_ID' removes the extra",
    ]
    as_json = runner.invoke(main, ["--data-dir", str(data), "verify", str(folder), "--json"])
    assert as_json.exit_code == 1
    assert json.loads(as_json.output) == {
        "consistent": False,
        "damaged": [],
        "files": 3,
        "indexed": 3,
        "unchanged": 2,
        "missing": [{"file": str(folder / "d.txt"), "letter_id": "CM19-0000001"}],
        "extra": [{"letter_id": C_ID, "source": str(folder / "c.txt")}],
        "stale": [],
        "duplicates": [],
        "unreadable": [],
        "chunks": {"indexed": 10, "of_letters": 10},
    }


def test_chunks_of_no_letter_make_the_index_inconsistent(tmp_path, folder, embedder, capsys):
    data = tmp_path / "data"
    store = EmbeddedStore(data)
    _index(store, embedder, folder)
    indexed = store.indexed_letters()
    store.close()
    # What a write cut short leaves on Elasticsearch: the chunks of a letter with no record.
    db = sqlite3.connect(data / (data / "ACTIVE").read_text() / "store.sqlite")
    with db:
        db.execute("DELETE FROM letters WHERE letter_id = ?", (C_ID,))
    db.close()
    # The embedded store's own check finds it first: its database changed behind its back.
    result = CliRunner().invoke(main, ["--data-dir", str(data), "verify", str(folder)])
    assert result.exit_code == 1
    assert result.output.splitlines() == [
        "damaged: store.sqlite holds 3 chunks of no letter",
        f"the index in '{data}' is damaged: 'imr-search reindex PATH' rebuilds it from the letter "
        "files",
    ]
    # The comparison itself (all there is on Elasticsearch) counts them against the letters.
    del indexed[C_ID]
    report = verify([str(folder)], indexed, chunks=10)
    assert (report.chunks, report.letter_chunks, report.consistent) == (10, 7, False)
    from indexer.commands import _print_verify

    _print_verify(report, str(data))
    assert capsys.readouterr().out.splitlines() == [
        "3 files, 2 letters indexed: 2 unchanged, 1 missing, 0 extra, 0 stale, 0 duplicated, "
        "0 unreadable",
        f"missing: {folder / 'c.txt'} ({C_ID} is not indexed)",
        "chunks: the index holds 10, its letters 7 (a write was cut short): "
        "'imr-search reindex PATH' rebuilds it",
        "the index does not match these files: 'imr-search index PATH' adds the missing and the "
        "stale, 'imr-search delete LETTER_ID' removes the extra",
    ]
