"""Index lifecycle on the embedded store: idempotent re-index, upsert, delete, rebuild, crash."""

from __future__ import annotations

import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from indexer.search import SearchRequest, SearchService
from indexer.stores.embedded import EmbeddedStore

from .conftest import ROOT, SAMPLES, SEEDS, index_samples, run_cli


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


def _letters_and_whole(data: Path) -> tuple[int, int, bool]:
    """Count letters and chunks straight from the files, and check each letter is whole."""
    active = (data / "ACTIVE").read_text()
    db = sqlite3.connect(data / active / "store.sqlite")
    letters = db.execute("SELECT count(*), coalesce(sum(chunk_count), 0) FROM letters").fetchone()
    chunks = db.execute("SELECT count(*) FROM chunks").fetchone()[0]
    db.close()
    return letters[0], chunks, letters[1] == chunks


@pytest.mark.slow
def test_killed_indexer_leaves_whole_letters_and_a_rerun_completes(tmp_path):
    """SIGKILL the indexer mid-run, check what it left, run again: same as an uninterrupted run."""
    data = tmp_path / "data"
    dev = str(SAMPLES / "dev")
    cmd = [
        sys.executable,
        "-m",
        "indexer.cli",
        "--data-dir",
        str(data),
        "index",
        dev,
        "--batch-size",
        "3",
    ]
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 240
    letters = 0
    while time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.2)
        if (data / "ACTIVE").exists():
            try:
                letters = _letters_and_whole(data)[0]
            except sqlite3.OperationalError:
                continue
            if letters >= 9:
                break
    assert proc.poll() is None, "the indexer finished before it could be killed"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()

    letters, chunks, whole = _letters_and_whole(data)
    assert 9 <= letters < 50 and whole
    # The half-written index opens and answers.
    store = EmbeddedStore(data)
    assert store.counts() == (letters, chunks)
    assert store.fingerprints()

    rerun = run_cli("--data-dir", str(data), "index", dev)
    assert rerun.returncode == 0, rerun.stderr
    assert f"{50 - letters} letters indexed" in rerun.stdout
    clean = tmp_path / "clean"
    assert run_cli("--data-dir", str(clean), "index", dev).returncode == 0
    assert EmbeddedStore(data).counts() == EmbeddedStore(clean).counts() == (50, 252)
    assert sorted(EmbeddedStore(data).fingerprints().items()) == sorted(
        EmbeddedStore(clean).fingerprints().items()
    )
