"""The embedded store's vector search: HNSW (usearch) against exact numpy, filters, reconciling."""

from __future__ import annotations

import numpy as np
import pytest

from indexer.stores import vectors
from indexer.stores.columns import Columns
from indexer.stores.vectors import VectorSearch, exact_top, scan_top


def _columns(n: int, dims: int = 32, seed: int = 7, first_row: int = 1) -> Columns:
    """Columns of `n` clustered unit vectors (40 clusters), rows first_row, first_row + 1, ..."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(40, dims))
    vecs = centres[rng.integers(0, 40, n)] + 0.35 * rng.normal(size=(n, dims))
    vecs = (vecs / np.linalg.norm(vecs, axis=1, keepdims=True)).astype(np.float32)
    return Columns(
        rows=np.arange(first_row, first_row + n, dtype=np.int64),
        letter_index=np.arange(n, dtype=np.int32) // 5,
        letter_ids=[f"L{i}" for i in range(n // 5 + 1)],
        vectors=vecs,
        postings={},
        dates={},
        section_item=np.ones(n, bool),
        first_window=np.ones(n, bool),
        chunk_position={},
        chunk_ids=[f"c{i}" for i in range(n)],
        item_index=np.zeros(n, np.int32),
        section_code=np.zeros(n, np.int16),
        section_names=["clinical_case_summary"],
    )


@pytest.fixture
def hnsw_everywhere(monkeypatch):
    """Use the graph from the first chunk, and answer filters by it unless they keep < 50."""
    monkeypatch.setenv("IMR_SEARCH_HNSW_MIN_CHUNKS", "1")
    monkeypatch.setattr(vectors, "EXACT_SUBSET", 50)


def _queries(cols: Columns, count: int = 30) -> np.ndarray:
    rng = np.random.default_rng(99)
    q = cols.vectors[rng.integers(0, len(cols.rows), count)] + 0.2 * rng.normal(
        size=(count, cols.vectors.shape[1])
    )
    return (q / np.linalg.norm(q, axis=1, keepdims=True)).astype(np.float32)


def test_graph_recall_at_10_against_exact(tmp_path, hnsw_everywhere):
    cols = _columns(5000)
    search = VectorSearch(tmp_path / "v.usearch")
    found = 0
    for q in _queries(cols):
        exact, _ = exact_top(cols.vectors, q, 10)
        approx, scores = search.search(cols, q, 10, None)
        assert len(approx) == 10
        # Scores are exact cosines recomputed from the stored vectors, best first.
        np.testing.assert_allclose(scores, cols.vectors[approx] @ q, rtol=1e-5)
        assert list(scores) == sorted(scores, reverse=True)
        found += len(set(approx) & set(exact))
    assert found / 300 >= 0.97


def test_a_stored_vector_is_searched_narrowly_and_the_query_width_comes_back(
    tmp_path, hnsw_everywhere
):
    cols = _columns(5000)
    search = VectorSearch(tmp_path / "v.usearch")
    found = 0
    rng = np.random.default_rng(5)
    for position in rng.choice(5000, 40, replace=False):
        exact, _ = exact_top(cols.vectors, cols.vectors[position], 25)
        approx, _ = search.search(cols, cols.vectors[position], 25, None, stored=True)
        assert search.graph(cols).expansion_search == 128
        found += len(set(approx.tolist()) & set(exact.tolist()))
    assert found / (40 * 25) >= 0.99
    search.search(cols, _queries(cols, 1)[0], 10, None)
    assert search.graph(cols).expansion_search == 512


@pytest.mark.parametrize("dims", [32, 384])
def test_the_8bit_scan_returns_what_the_float_scan_returns(dims):
    cols = _columns(20_000, dims=dims)
    every_third = np.arange(1, 20_000, 3)
    small, scale = cols.quantized()
    assert small.dtype == np.int8
    assert np.abs(small).max() == 127
    for q in _queries(cols, 20):
        for k in (10, 200):
            for positions in (None, every_third):
                got = scan_top(cols, q, k, positions)
                want = exact_top(cols.vectors, q, k, positions)
                assert got[0].tolist() == want[0].tolist()
                # The same cosines, but for the order BLAS sums them in.
                np.testing.assert_allclose(got[1], want[1], rtol=1e-6)


def test_small_filter_is_answered_exactly(tmp_path, hnsw_everywhere):
    cols = _columns(3000)
    allowed = np.zeros(3000, dtype=bool)
    allowed[::100] = True  # 30 chunks: below EXACT_SUBSET
    q = _queries(cols, 1)[0]
    positions, _ = VectorSearch(tmp_path / "v.usearch").search(cols, q, 10, allowed)
    exact, _ = exact_top(cols.vectors, q, 10, np.arange(0, 3000, 100))
    assert positions.tolist() == exact.tolist()


def test_broad_filter_still_returns_k_allowed_hits(tmp_path, hnsw_everywhere):
    cols = _columns(4000)
    allowed = np.zeros(4000, dtype=bool)
    allowed[1::3] = True  # a third of the chunks, above EXACT_SUBSET
    search = VectorSearch(tmp_path / "v.usearch")
    found = 0
    for q in _queries(cols, 10):
        positions, _ = search.search(cols, q, 10, allowed)
        exact, _ = exact_top(cols.vectors, q, 10, np.arange(1, 4000, 3))
        assert len(positions) == 10
        assert allowed[positions].all()
        found += len(set(positions.tolist()) & set(exact.tolist()))
    # The graph is built on several threads, so it differs from run to run: nearly exact.
    assert found >= 95


def test_searching_many_vectors_at_once_finds_what_searching_each_finds(tmp_path, hnsw_everywhere):
    cols = _columns(4000)
    allowed = np.ones(4000, dtype=bool)
    allowed[::7] = False  # as similar cases exclude the source letter
    search = VectorSearch(tmp_path / "v.usearch")
    stored = cols.vectors[[5, 1200, 3999]]
    queries = _queries(cols, 3)
    for vecs, is_stored in ((stored, True), (queries, False)):
        for mask in (None, allowed):
            together = search.search_many(cols, vecs, 50, mask, stored=is_stored)
            alone = [search.search(cols, v, 50, mask, stored=is_stored) for v in vecs]
            assert len(together) == 3
            for (pos, scores), (pos1, scores1) in zip(together, alone, strict=True):
                assert len(pos) == 50
                assert pos.tolist() == pos1.tolist()
                np.testing.assert_array_equal(scores, scores1)
                if mask is not None:
                    assert allowed[pos].all()
    # A filter that keeps few chunks: each is answered exactly, as `search` answers it.
    few = np.zeros(4000, dtype=bool)
    few[[3, 8, 13]] = True
    assert [p.tolist() for p, _ in search.search_many(cols, queries, 10, few)] == [
        search.search(cols, q, 10, few)[0].tolist() for q in queries
    ]


def test_graph_is_saved_and_reconciled_with_the_chunks(tmp_path, hnsw_everywhere):
    path = tmp_path / "v.usearch"
    cols = _columns(2000)
    VectorSearch(path).graph(cols)
    assert path.is_file()
    # Rows 1..100 deleted, 300 new ones written: a new process reconciles the saved graph.
    later = _columns(2200, first_row=101)
    graph = VectorSearch(path).graph(later)
    assert len(graph) == 2200
    assert np.asarray(graph.keys).min() == 101
    assert np.asarray(graph.keys).max() == 2300
    q = later.vectors[2150]
    positions, scores = VectorSearch(path).search(later, q, 1, None)
    assert positions.tolist() == [2150]
    assert scores[0] == pytest.approx(1.0, abs=1e-5)


@pytest.mark.parametrize(("gone", "patched"), [(200, True), (201, False), (2000, False)])
def test_a_graph_that_lost_over_a_tenth_of_its_chunks_is_built_afresh(
    tmp_path, hnsw_everywhere, gone, patched
):
    # Re-indexing every letter gives every chunk a new row: removing them all from the graph
    # and adding them again spoilt its recall (0.868 against 0.987 built afresh, 100k chunks).
    search = VectorSearch(tmp_path / "v.usearch")
    first = search.graph(_columns(2000))
    later = _columns(2000, first_row=1 + gone, seed=8)
    graph = search.graph(later)
    assert (graph is first) is patched
    assert sorted(np.asarray(graph.keys).tolist()) == later.rows.tolist()


def test_below_the_threshold_search_is_exact(tmp_path, monkeypatch):
    monkeypatch.setenv("IMR_SEARCH_HNSW_MIN_CHUNKS", "100000")
    cols = _columns(1000)
    q = _queries(cols, 1)[0]
    search = VectorSearch(tmp_path / "v.usearch")
    positions, _ = search.search(cols, q, 10, None)
    assert positions.tolist() == exact_top(cols.vectors, q, 10)[0].tolist()
    assert not (tmp_path / "v.usearch").exists()


def test_the_embedding_model_loads_after_the_vector_graph(tmp_path):
    # usearch imported before onnxruntime made onnxruntime's import crash the process.
    import subprocess
    import sys

    code = (
        "import numpy as np\n"
        "from tests.test_vectors import _columns\n"
        "from indexer.stores.vectors import VectorSearch\n"
        f"VectorSearch(__import__('pathlib').Path({str(tmp_path)!r}) / 'v').graph(_columns(50))\n"
        "import onnxruntime\n"
        "print('both loaded')\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert (done.returncode, done.stdout) == (0, "both loaded\n")


@pytest.mark.parametrize(
    ("dtype", "connectivity"), [("f16", 16), ("i8", 32)], ids=["sparser", "8-bit"]
)
def test_a_saved_graph_of_an_older_kind_is_rebuilt(tmp_path, hnsw_everywhere, dtype, connectivity):
    cols = _columns(2000)
    path = tmp_path / "v.usearch"
    old = vectors._usearch_index()(ndim=32, metric="cos", dtype=dtype, connectivity=connectivity)
    old.add(cols.rows, cols.vectors)
    old.save(str(path))
    graph = VectorSearch(path).graph(cols)
    assert (graph.connectivity, str(graph.dtype), len(graph)) == (32, "ScalarKind.F16", 2000)
    assert graph.expansion_search == 512
    # Saved again in the new kind: the next process loads it as it is.
    again = VectorSearch(path).graph(cols)
    assert (again.connectivity, str(again.dtype)) == (32, "ScalarKind.F16")


def test_the_search_widens_with_the_index():
    assert [vectors._expansion_search(n) for n in (1, 499_999, 500_000, 2_000_000)] == [
        512,
        512,
        3072,
        3072,
    ]
