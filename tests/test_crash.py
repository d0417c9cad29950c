"""The indexer killed (SIGKILL) at random points of a 300-letter run, ten times in a row.

Each kill lands while letters are being written (the test waits until the index holds at least
a randomly chosen number of letters, then a random moment more). After each kill the test
opens the index read-only, as a reader would, and checks that it holds whole letters only,
in SQLite and in the text index, that its files pass the whole check of `verify` (the manifest
a killed commit left included), and that keyword and vector searches answer; then it runs the
same command again, which is killed in turn. The eleventh run completes, and the index must
then be the index of an uninterrupted run of the same command in another data directory: the
same letters, files, chunks (ids, order, vectors) and text-index documents, none twice.

The 300 letters come from `bench/make_corpus.py` (2,000-odd chunks). Running them all through
the embedding model would take minutes on a small machine and prove nothing about indexing, so
the test puts a deterministic unit vector for every chunk text into each data directory's
embedding cache first: every run, the reference included, takes its vectors from the cache.
"""

from __future__ import annotations

import hashlib
import os
import random
import re
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from indexer.query_text import parse_query
from indexer.search import SearchRequest, SearchService
from indexer.stores.base import Filters
from indexer.stores.embedded import EmbeddedStore
from indexer.verify import verify

from .conftest import ROOT

LETTERS = 300
KILLS = 10
BATCH = 5  # letters per write: 60 writes, so kills land between and inside many of them
SEED = int(os.environ.get("IMR_SEARCH_CRASH_SEED", "20261123"))
QUERY = "lumbar"


def _corpus(out: Path) -> Path:
    make = [sys.executable, str(ROOT / "bench" / "make_corpus.py"), str(LETTERS), str(out)]
    subprocess.run([*make, "--seed", "7"], check=True, capture_output=True, cwd=ROOT)
    return out


def _vector(text: str) -> np.ndarray:
    seed = int.from_bytes(hashlib.sha256(text.encode("utf-8", "surrogatepass")).digest()[:8])
    v = np.random.default_rng(seed).standard_normal(384).astype(np.float32)
    return v / np.linalg.norm(v)


def _prefill_caches(folder: Path, data_dirs: list[Path], embedder) -> int:
    """Put a vector for every chunk text of the corpus into each data directory's cache, under
    the model id the CLI's embedder looks vectors up by."""
    from indexer.embedder import _DiskCache, text_key
    from indexer.pipeline import read_letters

    errors: list = []
    texts = {
        c["text"]
        for d in read_letters([str(folder)], lambda *e: errors.append(e))
        for c in d.chunks
    }
    assert errors == []
    items = [(text_key(t), _vector(t)) for t in sorted(texts)]
    for data in data_dirs:
        data.mkdir(parents=True)
        cache = _DiskCache(data / "embeddings.sqlite", embedder.model_id, embedder.dims)
        cache.put_many(items)
        assert cache.usable
        cache.close()
    return len(items)


def _letter_count(data: Path) -> int:
    """Letters committed so far, read as another process would (-1 before there is an index)."""
    try:
        db_path = data / (data / "ACTIVE").read_text().strip() / "store.sqlite"
        db = sqlite3.connect(f"{db_path.resolve().as_uri()}?mode=ro", uri=True, timeout=5)
        try:
            return db.execute("SELECT count(*) FROM letters").fetchone()[0]
        finally:
            db.close()
    except (OSError, sqlite3.Error):
        return -1


def _snapshot(store: EmbeddedStore) -> dict:
    """Everything that must match an uninterrupted run, read through the store's methods."""
    letters = store.indexed_letters()
    chunks = {lid: store.letter_chunks(lid) for lid in sorted(letters)}
    n_chunks = store.counts()[1]
    # The hits are the text index's documents (tantivy ranks them); each maps to its SQLite row.
    hits, total = store.keyword(parse_query(""), Filters(), n_chunks + 100)
    return {
        # Not the parser version: it names the code, which other work may change between runs.
        "letters": {
            lid: (il.source, il.fingerprint, il.file.sha256, il.file.size, il.file.mtime_ns)
            for lid, il in letters.items()
        },
        "chunk_ids": {lid: [c["chunk_id"] for c in cs] for lid, cs in chunks.items()},
        "vectors": {
            lid: hashlib.sha256(np.asarray([c["embedding"] for c in cs], np.float32)).hexdigest()
            for lid, cs in chunks.items()
        },
        "text_docs": Counter(h.chunk_id for h in hits),
        "text_letters": Counter(h.letter_id for h in hits),
        "counts": store.counts(),
        "keyword_total": total,
    }


def _matching_letters(store: EmbeddedStore, query: str) -> set[str]:
    hits, _ = store.keyword(parse_query(query), Filters(), store.counts()[1] + 100)
    return {h.letter_id for h in hits}


@pytest.mark.slow
def test_ten_kills_in_a_row_then_a_rerun_give_the_index_of_an_uninterrupted_run(
    tmp_path, capsys, embedder
):
    started = time.monotonic()
    folder = _corpus(tmp_path / "letters")
    ref_data, data = tmp_path / "reference", tmp_path / "crashed"
    texts = _prefill_caches(folder, [ref_data, data], embedder)

    def command(data_dir: Path) -> list[str]:
        return [sys.executable, "-m", "indexer.cli", "--data-dir", str(data_dir), "index",
                str(folder), "--batch-size", str(BATCH)]  # fmt: skip

    ref_started = time.monotonic()
    reference = subprocess.run(command(ref_data), capture_output=True, text=True, cwd=ROOT)
    ref_seconds = time.monotonic() - ref_started
    assert reference.returncode == 0, reference.stderr
    ref = _snapshot(EmbeddedStore(ref_data, read_only=True))
    ref_counts = {lid: len(ids) for lid, ids in ref["chunk_ids"].items()}
    assert len(ref_counts) == LETTERS and ref["counts"] == (LETTERS, sum(ref_counts.values()))
    ref_matches = _matching_letters(EmbeddedStore(ref_data, read_only=True), QUERY)
    assert 0 < len(ref_matches) < LETTERS

    rng = random.Random(SEED)
    targets = sorted(rng.sample(range(5, LETTERS - 30), KILLS))
    kills: list[int] = []  # letters in SQLite after each kill
    text_behind = 0  # kills that left the text index behind SQLite (killed between commits)
    for target in targets:
        # Each run is killed only after writing letters of its own (past the previous kill).
        target = max(target, (kills[-1] if kills else 0) + 1)
        with open(tmp_path / "stderr.txt", "w") as err:
            proc = subprocess.Popen(command(data), stdout=subprocess.DEVNULL, stderr=err, cwd=ROOT)
            deadline = time.monotonic() + 600
            while _letter_count(data) < target:
                assert proc.poll() is None, f"the indexer ended (exit {proc.returncode}) early"
                assert time.monotonic() < deadline, "the indexer made no progress"
                time.sleep(0.02)
            time.sleep(rng.uniform(0, 0.3))
            assert proc.poll() is None, f"the indexer finished before kill {len(kills) + 1}"
            os.kill(proc.pid, signal.SIGKILL)
            assert proc.wait() == -signal.SIGKILL

        store = EmbeddedStore(data, read_only=True)
        now = _snapshot(store)
        # Its files pass the whole check of `verify` (manifest, checksums, SQLite's integrity):
        # a kill never leaves a manifest that disagrees with what the next writer replays.
        assert store.check_whole() == []
        letters = set(now["letters"])
        kills.append(len(letters))
        assert target <= len(letters) < LETTERS
        # SQLite: only whole letters, each exactly as in the uninterrupted run.
        assert now["chunk_ids"] == {lid: ref["chunk_ids"][lid] for lid in letters}
        assert now["counts"] == (len(letters), sum(ref_counts[lid] for lid in letters))
        # Text index: only whole letters, none twice, at most one write behind SQLite.
        assert set(now["text_docs"].values()) <= {1}
        assert all(n == ref_counts[lid] for lid, n in now["text_letters"].items())
        behind = letters - set(now["text_letters"])
        assert set(now["text_letters"]) <= letters and len(behind) <= BATCH
        text_behind += bool(behind)
        # Searches answer: keyword over the text index, nearest neighbours over SQLite.
        service = SearchService(store, lambda: pytest.fail("a keyword search needs no model"))
        result = service.search(SearchRequest.from_params({"q": QUERY, "mode": "keyword"}))
        # Counted from the text index, or from SQLite's columns (what counting reads now).
        counted = {len(ref_matches & set(now["text_letters"])), len(ref_matches & letters)}
        assert result.total in counted
        assert {h.letter_id for h in result.hits} <= ref_matches & letters
        probe = store.letter_chunks(sorted(letters)[len(letters) // 2])[0]
        (nearest,) = store.knn(np.asarray(probe["embedding"], np.float32), Filters(), 1)
        store.complete([nearest])
        assert nearest.doc["text"] == probe["text"]
        assert nearest.score == pytest.approx(1.0, abs=1e-5)
        store.close()

    rerun = subprocess.run(command(data), capture_output=True, text=True, cwd=ROOT)
    assert rerun.returncode == 0, rerun.stderr
    summary = re.match(
        r"(\d+) letters indexed \((\d+) chunks\), (\d+) unchanged, 0 failed", rerun.stdout
    )
    assert summary is not None, rerun.stdout
    assert (int(summary[1]), int(summary[3])) == (LETTERS - kills[-1], kills[-1])

    final = _snapshot(EmbeddedStore(data, read_only=True))
    assert final == ref
    done = EmbeddedStore(data, read_only=True)
    assert done.check_whole() == []
    report = verify([str(folder)], done.indexed_letters(), chunks=done.counts()[1])
    assert report.consistent and report.unchanged == LETTERS
    with capsys.disabled():
        print(
            f"\ncrash test (seed {SEED}): {KILLS} SIGKILLs in a row at "
            f"{', '.join(map(str, kills))} letters of {LETTERS} ({text_behind} between the "
            f"SQLite and the text-index commit), each state searchable with whole letters only; "
            f"the rerun indexed the other {LETTERS - kills[-1]}: index identical to an "
            f"uninterrupted run ({final['counts'][0]} letters, {final['counts'][1]} chunks, "
            f"{texts} distinct chunk texts); {time.monotonic() - started:.0f} s in all, the "
            f"uninterrupted run {ref_seconds:.0f} s"
        )
