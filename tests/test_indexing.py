"""Index lifecycle: idempotent and incremental re-index, upsert, delete, rebuild, a migrated
database, a read-only data directory, a full disk, and bulk failures on Elasticsearch.

The SIGKILL test is in test_crash.py."""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import sqlite3
import subprocess
import sys
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

import indexer.pipeline as pipeline
from indexer.cli import main
from indexer.documents import LetterDocs
from indexer.pipeline import index_paths
from indexer.query_text import parse_query
from indexer.schema import EMBEDDING_DIMS, index_definition
from indexer.search import SearchRequest, SearchService
from indexer.stores.base import FileStamp, Filters, IndexReport, ReadOnlyStorage
from indexer.stores.elasticsearch import ElasticsearchStore
from indexer.stores.embedded import EmbeddedStore

from . import es_openapi
from .conftest import ROOT, SAMPLES, SEEDS, index_samples, run_cli
from .es_fake import FakeElasticsearch, bulk_answer, mget_answer, route_scroll


def test_indexing_twice_changes_nothing(tmp_path, embedder):
    store = EmbeddedStore(tmp_path / "data")
    first = index_samples(store, embedder, [SAMPLES / "seeds"])
    assert (first.indexed, first.skipped, first.chunks) == (5, 0, 19)
    second = index_samples(store, embedder, [SAMPLES / "seeds"])
    assert (second.indexed, second.skipped, second.chunks) == (0, 5, 0)
    assert store.counts() == (5, 19)


def test_a_changed_letter_replaces_its_old_version(tmp_path, embedder):
    folder = tmp_path / "letters"
    folder.mkdir()
    letter = folder / "seed.txt"
    shutil.copy(SEEDS[2], letter)
    store = EmbeddedStore(tmp_path / "data")
    index_samples(store, embedder, [folder])
    service = SearchService(store, lambda: embedder)
    overturned = SearchRequest.from_params(
        {"q": "diazepam", "mode": "keyword", "decision": "overturned"}
    )
    assert service.search(overturned).total == 0
    before = [c["chunk_id"] for c in store.letter_chunks("L-f79e6a4b89368566")]

    letter.write_text(
        SEEDS[2].read_text().replace("Diazepam 5mg: Upheld", "Diazepam 5mg: Overturned")
    )
    summary = index_samples(store, embedder, [folder])
    new_id = summary and store.fingerprints()
    assert summary.indexed == 1 and summary.skipped == 0
    # Its text changed, so its content-derived id did too: the old version is gone.
    assert len(new_id) == 1
    (letter_id,) = new_id
    assert store.counts() == (1, len(before))
    assert service.search(overturned).total == 1
    assert store.letter(letter_id)["record"]["items"][0]["decision"] == "overturned"


def test_a_letter_with_a_case_number_is_upserted_in_place(tmp_path, embedder):
    folder = tmp_path / "letters"
    folder.mkdir()
    letter = folder / "letter.txt"
    shutil.copy(SEEDS[4], letter)
    store = EmbeddedStore(tmp_path / "data")
    index_samples(store, embedder, [folder])
    chunk_ids = [c["chunk_id"] for c in store.letter_chunks("CM15-0022402")]
    letter.write_text(
        SEEDS[4].read_text().replace("Valium 10 mg #50: Upheld", "Valium 10 mg #50: Overturned")
    )
    index_samples(store, embedder, [folder])
    assert store.counts() == (1, len(chunk_ids))
    assert [c["chunk_id"] for c in store.letter_chunks("CM15-0022402")] == chunk_ids
    assert store.letter_chunks("CM15-0022402")[1]["decision"] == ["overturned"]


def test_a_second_file_with_an_indexed_case_number_is_reported_not_swapped_in(tmp_path, embedder):
    store = EmbeddedStore(tmp_path / "data")
    index_samples(store, embedder, [SEEDS[4]])
    copy = tmp_path / "elsewhere" / "copy.txt"
    copy.parent.mkdir()
    copy.write_text(SEEDS[4].read_text().replace("Valium 10 mg #50: Upheld", "Valium: Overturned"))
    errors: list = []
    summary = pipeline.index_letters(
        pipeline.read_letters([str(copy)], lambda *e: errors.append(e)), store, embedder
    )
    assert summary.indexed == 0
    assert summary.failed == [
        (
            str(copy.resolve()),
            f"same letter id CM15-0022402 as {SEEDS[4].resolve()}, which is indexed and still "
            "there; skipped (delete or move one of the two files)",
        )
    ]
    assert store.letter("CM15-0022402")["source"] == str(SEEDS[4].resolve())
    # Once the first file is gone, the other one is the letter's file.
    moved = tmp_path / "seed.txt"
    shutil.copy(SEEDS[4], moved)
    store2 = EmbeddedStore(tmp_path / "data2")
    index_samples(store2, embedder, [moved])
    moved.unlink()
    summary = pipeline.index_letters(
        pipeline.read_letters([str(copy)], lambda *e: errors.append(e)), store2, embedder
    )
    assert (summary.indexed, summary.failed) == (1, [])
    assert store2.letter("CM15-0022402")["source"] == str(copy.resolve())


def test_delete_removes_a_letter_and_all_its_chunks(tmp_path, embedder):
    store = EmbeddedStore(tmp_path / "data")
    index_samples(store, embedder, [SAMPLES / "seeds"])
    service = SearchService(store, lambda: embedder)
    assert store.delete(["L-8bfe781363af6ef1", "NOT-THERE"]) == 1
    assert store.counts() == (4, 19 - 5)
    hits = service.search(SearchRequest.from_params({"q": "Klonopin", "mode": "keyword"}))
    assert [h.letter_id for h in hits.hits] == ["L-96b58c07c53b0b00"]
    assert store.delete(["L-8bfe781363af6ef1"]) == 0
    # A new handle on the same directory (another process) sees the same.
    assert EmbeddedStore(tmp_path / "data").counts() == (4, 14)


def test_rebuild_switches_to_a_new_index_and_drops_the_old(tmp_path):
    data = tmp_path / "data"
    assert run_cli("--data-dir", str(data), "index", str(SAMPLES / "seeds")).returncode == 0
    old = (data / "ACTIVE").read_text()
    reader = EmbeddedStore(data)  # as the web app would hold it
    result = run_cli("--data-dir", str(data), "reindex", str(SAMPLES / "seeds"))
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-1] == "rebuilt: 5 letters, 19 chunks (0 files failed)"
    new = (data / "ACTIVE").read_text()
    assert new != old and not (data / old).exists()
    assert reader.counts() == (5, 19)


# -- re-indexing only what changed ----------------------------------------------------------


def _copy_seeds(folder: Path) -> Path:
    folder.mkdir()
    for seed in SEEDS:
        shutil.copy2(seed, folder / seed.name)  # with their (old) modification times
    return folder.resolve()


def _index_folder(store, embedder, folder: Path, **options):
    errors: list = []
    summary = index_paths([str(folder)], store, embedder, lambda *e: errors.append(e), **options)
    assert errors == []
    return summary


def _record_parses(monkeypatch) -> list[str]:
    parsed: list[str] = []
    real = pipeline.parse_letter
    monkeypatch.setattr(pipeline, "parse_letter", lambda p: parsed.append(Path(p).name) or real(p))
    return parsed


def test_unchanged_files_are_not_parsed_again_until_the_parser_changes(
    tmp_path, embedder, monkeypatch
):
    folder = _copy_seeds(tmp_path / "letters")
    store = EmbeddedStore(tmp_path / "data")
    assert _index_folder(store, embedder, folder).indexed == 5
    stamp = store.indexed_letters()["CM15-0022402"].file
    seed = SEEDS[4]
    assert stamp == FileStamp(
        hashlib.sha256(seed.read_bytes()).hexdigest(),
        seed.stat().st_size,
        seed.stat().st_mtime_ns,
        pipeline.parser_version(),
    )
    parsed = _record_parses(monkeypatch)
    again = _index_folder(store, embedder, folder)
    assert (again.indexed, again.skipped, parsed) == (0, 5, [])

    # Another parser (code or library version) may read the same bytes differently: every
    # file is parsed again, and every letter records the parser it was read by.
    monkeypatch.setattr(pipeline, "parser_version", lambda: "another-parser")
    upgraded = _index_folder(store, embedder, folder)
    assert (upgraded.indexed, upgraded.skipped, len(parsed)) == (5, 0, 5)
    assert {il.file.parser for il in store.indexed_letters().values()} == {"another-parser"}
    assert store.counts() == (5, 19)
    parsed.clear()
    last = _index_folder(store, embedder, folder)
    assert (last.indexed, last.skipped, parsed) == (0, 5, [])

    # --force parses and writes everything.
    forced = _index_folder(store, embedder, folder, force=True)
    assert (forced.indexed, forced.skipped, len(parsed)) == (5, 0, 5)


def test_a_file_changed_within_its_mtime_tick_is_still_seen(tmp_path, embedder):
    """A file stamped just after it was written has no trusted mtime: it is hashed next time."""
    folder = tmp_path / "letters"
    folder.mkdir()
    letter = folder / "a.txt"
    letter.write_text(SEEDS[4].read_text())
    store = EmbeddedStore(tmp_path / "data")
    _index_folder(store, embedder, folder)
    assert store.indexed_letters()["CM15-0022402"].file.mtime_ns is None
    mtime = letter.stat().st_mtime_ns
    # Same size, same mtime, other bytes: only the hash can tell.
    letter.write_text(SEEDS[4].read_text().replace("68 year old", "69 year old"))
    os.utime(letter, ns=(mtime, mtime))
    changed = _index_folder(store, embedder, folder)
    assert (changed.indexed, changed.skipped) == (1, 0)


def test_a_database_from_before_file_stamps_gets_the_new_columns(tmp_path, embedder):
    data = tmp_path / "data"
    folder = _copy_seeds(tmp_path / "letters")
    store = EmbeddedStore(data)
    _index_folder(store, embedder, folder)
    store.close()
    db = sqlite3.connect(data / (data / "ACTIVE").read_text() / "store.sqlite")
    for column in ("file_sha256", "file_size", "file_mtime_ns", "parser"):
        db.execute(f"ALTER TABLE letters DROP COLUMN {column}")
    db.close()

    old = EmbeddedStore(data, read_only=True)  # a reader changes nothing, and copes
    assert {il.file for il in old.indexed_letters().values()} == {None}
    assert len(old.indexed_letters()) == 5
    migrated = EmbeddedStore(data)
    columns = {r[1] for r in migrated._db.execute("PRAGMA table_info(letters)")}
    assert {"file_sha256", "file_size", "file_mtime_ns", "parser"} <= columns
    # Letters indexed without a stamp are written once more, to record one; then skipped.
    first = _index_folder(migrated, embedder, folder)
    assert (first.indexed, first.skipped) == (5, 0)
    second = _index_folder(migrated, embedder, folder)
    assert (second.indexed, second.skipped) == (0, 5)


# -- a read-only data directory, a full disk ------------------------------------------------


@contextmanager
def _read_only(path: Path):
    """Make `path` read-only for this process: a read-only bind mount for root (whom file
    modes do not stop), file modes for anyone else."""
    if os.geteuid() != 0:
        modes = {p: p.stat().st_mode for p in [path, *path.rglob("*")]}
        for p in modes:
            p.chmod(modes[p] & ~0o222)
        try:
            yield
        finally:
            for p, mode in modes.items():
                p.chmod(mode)
        return
    bind = subprocess.run(["mount", "--bind", str(path), str(path)], capture_output=True)
    if bind.returncode != 0:
        pytest.skip(f"root cannot make a directory read-only here: {bind.stderr.decode()}")
    try:
        ro = subprocess.run(["mount", "-o", "remount,bind,ro", str(path)], capture_output=True)
        assert ro.returncode == 0, ro.stderr
        yield
    finally:
        subprocess.run(["umount", "-l", str(path)], check=True)  # -l: our readers still hold files


def test_a_read_only_data_directory_is_reported_and_stays_searchable(tmp_path, embedder):
    data = (tmp_path / "data").resolve()
    folder = _copy_seeds(tmp_path / "letters")
    _index_folder(EmbeddedStore(data), embedder, folder)
    (folder / "new.txt").write_text(SEEDS[4].read_text().replace("CM15-0022402", "CM19-0000001"))
    files_before = sorted(p.relative_to(data) for p in data.rglob("*"))
    runner = CliRunner()
    with _read_only(data):
        with pytest.raises(OSError):
            (data / "probe").write_text("x")
        index = runner.invoke(main, ["--data-dir", str(data), "index", str(folder)])
        assert index.exit_code == 1
        assert isinstance(index.exception, SystemExit)  # no traceback
        assert index.stderr == f"Error: data directory '{data}' is read-only; nothing was indexed\n"
        assert index.stdout == ""

        search = runner.invoke(
            main, ["--data-dir", str(data), "search", "Klonopin", "--mode", "keyword"]
        )
        assert search.exit_code == 0, search.output
        assert search.stdout.startswith("2 letters (")
        verify = runner.invoke(main, ["--data-dir", str(data), "verify", str(folder)])
        assert verify.exit_code == 1
        assert verify.stdout.splitlines()[1] == (
            f"missing: {folder / 'new.txt'} (CM19-0000001 is not indexed)"
        )
        store = EmbeddedStore(data)
        assert store.read_only and store.counts() == (5, 19)
        with pytest.raises(ReadOnlyStorage, match="is read-only"):
            store.delete(["CM15-0022402"])
    assert sorted(p.relative_to(data) for p in data.rglob("*")) == files_before
    again = runner.invoke(main, ["--data-dir", str(data), "index", str(folder)])
    assert again.exit_code == 0, again.output
    assert again.stdout.startswith("1 letters indexed (2 chunks), 5 unchanged, 0 failed")


class _FillingDisk:
    """A SQLite connection whose disk fills up: after `room[0]` more letters every write of a
    letter fails as SQLite fails on a full disk (a fake at a boundary tests cannot reach)."""

    def __init__(self, db: sqlite3.Connection, room: list[int]) -> None:
        self._db, self._room = db, room

    def execute(self, sql: str, *args):
        if sql.startswith("INSERT OR REPLACE INTO letters"):
            if self._room[0] <= 0:
                raise sqlite3.OperationalError("database or disk is full")
            self._room[0] -= 1
        return self._db.execute(sql, *args)

    def __getattr__(self, name: str):
        return getattr(self._db, name)


def test_a_full_disk_is_reported_and_a_rerun_completes(tmp_path, monkeypatch, embedder):
    data = (tmp_path / "data").resolve()
    folder = _copy_seeds(tmp_path / "letters")
    room = [3]  # batches of 2: the first is written, the second fails at its second letter
    connect = EmbeddedStore._connect
    monkeypatch.setattr(EmbeddedStore, "_connect", lambda self: _FillingDisk(connect(self), room))
    runner = CliRunner()
    full = runner.invoke(main, ["--data-dir", str(data), "index", str(folder), "--batch-size", "2"])
    assert full.exit_code == 1 and isinstance(full.exception, SystemExit)
    assert full.stderr.splitlines()[-1] == (
        f"Error: disk full while writing to '{data}': 2 letters indexed before it, "
        "the index holds whole letters only"
    )
    monkeypatch.undo()  # space freed
    store = EmbeddedStore(data)
    first_two = sorted(store.indexed_letters())
    assert first_two == ["L-8bfe781363af6ef1", "L-96b58c07c53b0b00"]  # seeds 000 and 001
    assert store.counts() == (2, 5 + 5)
    assert [len(store.letter_chunks(lid)) for lid in first_two] == [5, 5]
    again = runner.invoke(main, ["--data-dir", str(data), "index", str(folder)])
    assert again.exit_code == 0, again.output
    assert again.stdout.startswith("3 letters indexed (9 chunks), 2 unchanged, 0 failed")
    assert store.counts() == (5, 19)


def test_a_real_full_disk_is_reported_and_a_rerun_completes(tmp_path, embedder):
    """On a small tmpfs (root only): the disk really fills mid-run, then grows."""
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("mounting a small tmpfs needs root")
    folder = tmp_path / "letters"
    folder.mkdir()
    for i in range(40):  # 40 letters from the seed with a case number: one text to embed
        text = SEEDS[4].read_text().replace("CM15-0022402", f"CM19-{i:07d}")
        (folder / f"{i:03d}.txt").write_text(text)
    reference = tmp_path / "reference"
    _index_folder(EmbeddedStore(reference), embedder, folder, batch_size=4)
    needed = sum(p.stat().st_size for p in reference.rglob("*") if p.is_file())
    disk = tmp_path / "disk"
    disk.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={needed // 2}", "tmpfs", str(disk)],
        capture_output=True,
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.decode()}")
    try:
        data = disk / "data"
        run = [sys.executable, "-m", "indexer.cli", "--data-dir", str(data), "index"]
        full = subprocess.run(
            [*run, str(folder), "--batch-size", "4"], capture_output=True, text=True, cwd=ROOT
        )
        assert full.returncode == 1, full.stderr
        last = full.stderr.splitlines()[-1]
        found = re.fullmatch(
            rf"Error: disk full while writing to '{re.escape(str(data))}': (\d+) letters indexed "
            r"before it, the index holds whole letters only",
            last,
        )
        assert found, full.stderr
        written = int(found[1])
        assert 0 < written < 40
        store = EmbeddedStore(data, read_only=True)
        assert len(store.indexed_letters()) == written
        assert {len(store.letter_chunks(lid)) for lid in store.indexed_letters()} == {2}
        subprocess.run(["mount", "-o", f"remount,size={needed * 4}", str(disk)], check=True)
        again = subprocess.run([*run, str(folder)], capture_output=True, text=True, cwd=ROOT)
        assert again.returncode == 0, again.stderr
        done = EmbeddedStore(data, read_only=True)
        ref = EmbeddedStore(reference, read_only=True)
        assert done.counts() == ref.counts() == (40, 80)
        assert {k: (v.source, v.fingerprint) for k, v in done.indexed_letters().items()} == {
            k: (v.source, v.fingerprint) for k, v in ref.indexed_letters().items()
        }
        hits, total = done.keyword(parse_query("Valium"), Filters(), 200)
        assert total == 80 and len({h.chunk_id for h in hits}) == 80  # both chunks, once
    finally:
        subprocess.run(["umount", "-l", str(disk)], check=False)


# -- Elasticsearch bulk failures: retried when retriable, else reported per letter ---------

REJECTED = {
    "type": "es_rejected_execution_exception",
    "reason": "rejected execution of coordinating operation",
}
REFRESHED = (200, {"_shards": {"total": 1, "successful": 1, "failed": 0}})


@pytest.fixture
def es_letters(tokenizer) -> list[LetterDocs]:
    """Seeds 002 and 004, parsed and chunked, with unit vectors."""
    from indexer.chunking import chunk_letter
    from indexer.documents import letter_docs
    from indexer.letters.parser import parse_letter

    out = []
    for seed in (SEEDS[2], SEEDS[4]):
        letter = parse_letter(str(seed))
        docs = letter_docs(letter, chunk_letter(letter, tokenizer))
        docs.vectors = np.zeros((len(docs.chunks), EMBEDDING_DIMS), np.float32)
        docs.vectors[:, len(out)] = 1.0
        out.append(docs)
    return out


def _es_store(es: FakeElasticsearch) -> ElasticsearchStore:
    store = ElasticsearchStore(es.url, "imr-test")
    store.bulk_initial_backoff = 0.01  # the real 1, 2, 4 s would only slow the test down
    return store


def _bulk_ids(es: FakeElasticsearch) -> list[list[str]]:
    """The `_id` of each action of each bulk request (a `delete` has no source line)."""
    out = []
    for request in es.find("PUT", "/_bulk"):
        ids, lines, i = [], request.lines, 0
        while i < len(lines):
            ((op, meta),) = lines[i].items()
            ids.append(meta["_id"])
            i += 1 if op == "delete" else 2
        out.append(ids)
    return out


def test_es_chunks_refused_by_an_overloaded_node_are_sent_again(es_letters):
    first, second = es_letters
    refused = second.chunks[1]["chunk_id"]
    with FakeElasticsearch() as es:
        es.route("HEAD", r"/_alias/.*", (200, None))
        es.route("PUT", r"/_bulk", bulk_answer({refused: (429, REJECTED)}), times=2)
        es.route("PUT", r"/_bulk", bulk_answer())
        route_scroll(es, "imr-test", [])  # no stale chunks
        es.route("POST", r"/imr-test,imr-test-letters/_refresh", REFRESHED)
        store = _es_store(es)
        report = store.upsert([first, second])
        assert es.unrouted == []
    all_chunks = [c["chunk_id"] for d in es_letters for c in d.chunks]
    # Sent, refused twice, accepted the third time; then both records.
    assert _bulk_ids(es) == [all_chunks, [refused], [refused], [first.letter_id, second.letter_id]]
    assert report == IndexReport(indexed=2)


def test_es_chunks_still_refused_after_the_retries_fail_their_letter_only(es_letters):
    first, second = es_letters
    refused = second.chunks[0]["chunk_id"]
    with FakeElasticsearch() as es:
        es.route("HEAD", r"/_alias/.*", (200, None))
        # Refused when sent and at each of the 3 retries; answered normally afterwards.
        es.route("PUT", r"/_bulk", bulk_answer({refused: (429, REJECTED)}), times=4)
        es.route("PUT", r"/_bulk", bulk_answer(missing={refused}))
        route_scroll(es, "imr-test", [])
        es.route("POST", r"/imr-test-letters/_mget", mget_answer())  # the second letter is new
        es.route("POST", r"/imr-test,imr-test-letters/_refresh", REFRESHED)
        report = _es_store(es).upsert([first, second])
        assert es.unrouted == []
    all_chunks = [c["chunk_id"] for d in es_letters for c in d.chunks]
    # The chunks written for the failed new letter are withdrawn, so none is found without it.
    withdrawn = [c["chunk_id"] for c in second.chunks]
    assert _bulk_ids(es) == [
        all_chunks,
        [refused],
        [refused],
        [refused],
        [first.letter_id],
        withdrawn,
    ]
    assert report == IndexReport(
        indexed=1,
        failed=[
            (
                second.letter_id,
                f"chunk {refused}: es_rejected_execution_exception: rejected execution of "
                "coordinating operation (still refused after 3 retries)",
            )
        ],
    )


def test_es_letters_index_of_an_earlier_mapping_gets_the_file_fields(es_letters):
    strict = {
        "type": "strict_dynamic_mapping_exception",
        "reason": "mapping set to strict, dynamic introduction of [file_sha256] within [_doc] "
        "is not allowed",
    }
    ids = [d.letter_id for d in es_letters]
    with FakeElasticsearch() as es:
        es.route("HEAD", r"/_alias/.*", (200, None))
        es.route("PUT", r"/_bulk", bulk_answer(), times=1)  # the chunks
        es.route("PUT", r"/_bulk", bulk_answer({i: (400, strict) for i in ids}), times=1)
        es.route("PUT", r"/_bulk", bulk_answer())
        es.route("PUT", r"/imr-test-letters/_mapping", (200, {"acknowledged": True}))
        route_scroll(es, "imr-test", [])
        es.route("POST", r"/imr-test,imr-test-letters/_refresh", REFRESHED)
        report = _es_store(es).upsert(es_letters)
        assert es.unrouted == []
    assert report == IndexReport(indexed=2)
    assert _bulk_ids(es)[1:] == [ids, ids]
    (put,) = es.find("PUT", r"/imr-test-letters/_mapping")
    assert put.body == {"properties": index_definition("letters")["mappings"]["properties"]}
    if es_openapi.spec_available():
        es_openapi.validate_body("put", "/{index}/_mapping", put.body)


def test_the_index_command_reports_each_letter_elasticsearch_refused(
    tmp_path, monkeypatch, es_letters
):
    folder = _copy_seeds(tmp_path / "letters")
    bad = es_letters[0]  # seed 002
    broken = bad.chunks[0]["chunk_id"]
    mapper = {"type": "mapper_parsing_exception", "reason": "failed to parse field [text]"}
    shards = {"total": 1, "successful": 1, "skipped": 0, "failed": 0}
    with FakeElasticsearch() as es:
        es.route(
            "POST", r"/imr-chunks-letters/_search", (200, {"_shards": shards, "hits": {"hits": []}})
        )
        es.route("HEAD", r"/_alias/.*", (200, None))
        # The writer lock: its document created, then deleted when the command ends.
        locked = {"_index": "imr-chunks-lock", "_id": "writer", "_seq_no": 0, "_primary_term": 1}
        es.route("PUT", r"/imr-chunks-lock/_doc/writer", (201, {**locked, "result": "created"}))
        es.route("DELETE", r"/imr-chunks-lock/_doc/writer", (200, {**locked, "result": "deleted"}))
        es.route("PUT", r"/_bulk", bulk_answer({broken: (400, mapper)}), times=1)
        es.route("PUT", r"/_bulk", bulk_answer(missing={broken}))
        route_scroll(es, "imr-chunks", [])  # no stale chunks
        es.route("POST", r"/imr-chunks-letters/_mget", mget_answer())  # the letters are new
        es.route("POST", r"/imr-chunks,imr-chunks-letters/_refresh", REFRESHED)
        es.route(
            "POST",
            r"/imr-chunks(-letters)?/_count",
            lambda r: (200, {"count": 4 if "letters" in r.path else 16}),
        )
        monkeypatch.setenv("ELASTICSEARCH_URL", es.url)
        monkeypatch.delenv("IMR_SEARCH_ES_INDEX", raising=False)
        result = CliRunner().invoke(
            main,
            [
                "--data-dir",
                str(tmp_path / "data"),
                "--backend",
                "elasticsearch",
                "index",
                str(folder),
            ],
        )
        assert es.unrouted == []
        assert [r.method for r in es.find("PUT", r"/imr-chunks-lock/.*")] == ["PUT"]
        assert [r.method for r in es.find("DELETE", r"/imr-chunks-lock/.*")] == ["DELETE"]
    assert result.exit_code == 1
    assert result.stderr.splitlines() == [
        f"error: {bad.letter_id}: chunk {broken}: mapper_parsing_exception: failed to parse field [text]"
    ]
    assert result.stdout.startswith("4 letters indexed (16 chunks), 0 unchanged, 1 failed in ")
    assert result.stdout.endswith("the index now holds 4 letters, 16 chunks (elasticsearch)\n")
    records = [next(iter(h.values()))["_id"] for h in es.find("PUT", "/_bulk")[1].lines[::2]]
    assert bad.letter_id not in records and len(records) == 4
    # The chunks written for the refused letter (new) are withdrawn, so none is found without it.
    assert _bulk_ids(es)[2:] == [[c["chunk_id"] for c in bad.chunks]]
