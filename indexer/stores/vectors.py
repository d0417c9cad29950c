"""Nearest-neighbour search for the embedded store: exact in numpy, or HNSW (usearch) when large.

Below `HNSW_MIN_CHUNKS` chunks an exact scan costs a few milliseconds and is always right. Above
it, an HNSW graph answers unfiltered queries in about a millisecond. A filter that keeps few
chunks is answered exactly over just those chunks (fast because they are few); a filter that keeps
many asks the graph for more neighbours than wanted and keeps the allowed ones, falling back to
the exact scan of the allowed chunks when too few survive. Either way a filtered query returns as
many hits as an exact search would.

An exact scan first reads the vectors in 8 bits (`scan_top`): a quarter of the bytes, which is
what a scan's time goes to, then ranks the best few hundred by their exact cosines.

The graph is a cache derived from SQLite, like the text index: its keys are SQLite row ids, it is
reconciled with the chunks on load (missing rows added, deleted ones removed), so a crash or a
write by another process costs only the reconciliation.
"""

from __future__ import annotations

import contextlib
import os
import threading
from pathlib import Path

import numpy as np

from .columns import Columns
from .kernels import int8_dots

#: Fewer chunks than this are searched exactly (env `IMR_SEARCH_HNSW_MIN_CHUNKS`).
HNSW_MIN_CHUNKS = 100_000
#: A filter keeping at most this many chunks is answered by an exact scan of those chunks.
EXACT_SUBSET = 60_000
# Graph parameters, measured as recall@10 against exact search over 200 queries
# (bench/queries.py), with the query time of the graph search:
# - 100k chunks: connectivity 16 with search expansion 256 found 0.93 of the true ten, 512
#   finds 0.98 (2.3 ms); connectivity 32 finds 0.96 and 0.99.
# - 1M chunks: connectivity 16 finds 0.64 at expansion 512 and 0.91 at 4096 (12.6 ms);
#   connectivity 32 finds 0.82 at 512, 0.88 at 1024 and 0.95 at 2048 (7.7 ms).
# With 16-bit vectors (below) at 1M chunks: expansion 2048 finds 0.947, 3072 finds 0.976 (store
# kNN 12.5 ms), 4096 finds 0.990 (14.8 ms).
# 16-bit vectors: with usearch 2.26.6, 8-bit ones (measured here with 2.26 earlier as recalling
# as well) found 0.89 of the true ten from the graph alone at 100k chunks against 0.98 for 16-bit,
# and re-ranking the candidates by exact cosines did not make up for it (0.92).
_DTYPE = "f16"
_CONNECTIVITY = 32
_EXPANSION_ADD = 128


def _expansion_search(n: int) -> int:
    """How widely the graph is searched: wider as the index grows, to keep recall at 0.95."""
    return 512 if n < 500_000 else 3072


#: How widely the graph is searched for a stored chunk's own vector (similar cases). Such a vector
#: is a node of the graph, and its neighbours are found by a far narrower search than a query
#: text's: the 25 nearest of 100-200 stored vectors, expansion 128 found 0.999 of them at 100k
#: chunks and 0.998 at 1M (as many as 1024 did; 1.0 ms against 4.9), where query texts need 512
#: and 3072 for 0.987 and 0.976 of their ten.
_EXPANSION_STORED = 128


_MIN_CANDIDATES = 64


def hnsw_min_chunks() -> int:
    """Return the index size from which the HNSW graph is used."""
    return int(os.environ.get("IMR_SEARCH_HNSW_MIN_CHUNKS", HNSW_MIN_CHUNKS))


def exact_top(
    vectors: np.ndarray, vector: np.ndarray, k: int, positions: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Return the positions and cosine scores of the `k` best rows (ties by position)."""
    if positions is None:
        scores = vectors @ vector
        candidates = np.arange(len(scores))
    else:
        scores = vectors[positions] @ vector
        candidates = positions
    if len(scores) == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.float32)
    k = min(k, len(scores))
    top = np.argpartition(-scores, k - 1)[:k]
    top = top[np.lexsort((candidates[top], -scores[top]))]
    return candidates[top], scores[top]


#: An exact scan ranks exactly this many times the hits wanted (plus 64), chosen by 8-bit dot
#: products. Measured on the 100k-chunk benchmark index over 120 queries (20 texts, 100 stored
#: chunks), filtered to overturned decisions (11k chunks): even 1x gave the same hits in the same
#: order as the float scan for k = 10 and k = 200, in 0.9 ms against 4.4.
PRESELECT = 4


def scan_top(
    cols: Columns, vector: np.ndarray, k: int, positions: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Return what `exact_top` returns over the columns' vectors, reading them in 8 bits first."""
    count = len(cols.rows) if positions is None else len(positions)
    wanted = PRESELECT * k + 64
    if count <= wanted:
        return exact_top(cols.vectors, vector, k, positions)
    small, scale = cols.quantized()
    query = np.clip(np.round(vector * scale), -127, 127).astype(np.int8)
    at = np.arange(count, dtype=np.int64) if positions is None else np.asarray(positions, np.int64)
    scores = int8_dots(small, query, at)
    candidates = np.sort(at[np.argpartition(-scores, wanted - 1)[:wanted]])
    return exact_top(cols.vectors, vector, k, candidates)


class VectorSearch:
    """kNN over a store's columns, with an HNSW graph persisted at `path` for large indexes."""

    def __init__(self, path: Path) -> None:
        """Keep the graph at `path` (created when first needed)."""
        self.path = path
        self._graph = None
        self._graph_rows: np.ndarray | None = None  # the columns' rows it was reconciled with
        self._lock = threading.Lock()
        self._search_lock = threading.Lock()

    def search(
        self,
        cols: Columns,
        vector: np.ndarray,
        k: int,
        allowed: np.ndarray | None,
        stored: bool = False,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Return positions and scores of the `k` nearest chunks the mask allows (None: all);
        `stored`: the vector is a stored chunk's own, searched more narrowly."""
        n = len(cols.rows)
        count = n if allowed is None else int(np.count_nonzero(allowed))
        if n < hnsw_min_chunks() or count <= EXACT_SUBSET:
            return scan_top(cols, vector, k, _kept(allowed))
        graph = self.graph(cols)
        want, ask = _candidates(k, n, count, allowed is not None)
        expansion = _EXPANSION_STORED if stored else _expansion_search(n)
        for _ in range(2):
            ask = min(ask, n)
            # usearch keeps the expansion on the graph, not per search: set with each search.
            with self._search_lock:
                graph.expansion_search = expansion
                # One thread a query: concurrent requests are the parallelism.
                matches = graph.search(vector, ask, threads=1)
            best = _best_allowed(cols, vector, matches.keys, allowed, want)
            if best is not None:
                return best
            ask *= 4
        return scan_top(cols, vector, k, _kept(allowed))

    def search_many(
        self,
        cols: Columns,
        vectors: np.ndarray,
        k: int,
        allowed: np.ndarray | None,
        stored: bool = False,
    ) -> list[tuple[np.ndarray, np.ndarray]]:
        """`search` for each row of `vectors`, the graph asked once for all of them (a letter's
        similar cases search from each of its chunks)."""
        n = len(cols.rows)
        count = n if allowed is None else int(np.count_nonzero(allowed))
        if len(vectors) < 2 or n < hnsw_min_chunks() or count <= EXACT_SUBSET:
            return [self.search(cols, v, k, allowed, stored) for v in vectors]
        graph = self.graph(cols)
        want, ask = _candidates(k, n, count, allowed is not None)
        ask = min(ask, n)
        with self._search_lock:
            graph.expansion_search = _EXPANSION_STORED if stored else _expansion_search(n)
            matches = graph.search(vectors, ask, threads=1)
        out = []
        for vector, keys, found in zip(vectors, matches.keys, matches.counts, strict=True):
            best = _best_allowed(cols, vector, keys[:found], allowed, want)
            # Too many filtered out: on as `search` goes on.
            out.append(best if best is not None else self.search(cols, vector, k, allowed, stored))
        return out

    def graph(self, cols: Columns):
        """Return the HNSW graph holding exactly the columns' rows, loading or building it."""
        with self._lock:
            if self._graph is not None and self._graph_rows is cols.rows:
                return self._graph
            Index = _usearch_index()

            def new_graph():
                return Index(
                    ndim=cols.vectors.shape[1],
                    metric="cos",
                    dtype=_DTYPE,
                    connectivity=_CONNECTIVITY,
                    expansion_add=_EXPANSION_ADD,
                    expansion_search=_expansion_search(len(cols.rows)),
                )

            graph = self._graph
            if graph is None:
                graph = new_graph()
                if self.path.exists():
                    try:
                        graph.load(str(self.path))
                    except Exception:  # noqa: BLE001 - a damaged cache is rebuilt, not fatal
                        graph = new_graph()
                    # A graph of an earlier version's sparser or 8-bit kind recalls too little
                    # at scale: rebuilt once (minutes at a million chunks).
                    if graph.connectivity != _CONNECTIVITY or _kind(graph) != _DTYPE:
                        graph = new_graph()
            if _worn(graph, cols):
                graph = new_graph()
            # A loaded graph keeps the settings it was saved with; search as wide as its size needs.
            graph.expansion_search = _expansion_search(len(cols.rows))
            changed = _reconcile(graph, cols)
            if changed:
                tmp = self.path.with_name(self.path.name + f".{os.getpid()}.tmp")
                try:
                    graph.save(str(tmp))
                    os.replace(tmp, self.path)
                except OSError:
                    tmp.unlink(missing_ok=True)  # a read-only index still serves from memory
            self._graph, self._graph_rows = graph, cols.rows
            return graph


def _candidates(k: int, n: int, count: int, filtered: bool) -> tuple[int, int]:
    """The hits wanted of a graph search, and the candidates to ask the graph for."""
    want = min(k, count)
    # At least 64 candidates, re-ranked by their exact cosines (asking 200 finds no more); a
    # filter that keeps `count` of `n` chunks needs proportionally more.
    ask = max(want, _MIN_CANDIDATES)
    if filtered:
        ask = max(ask, int(want * n / max(count, 1) * 2) + 16)
    return want, ask


def _best_allowed(
    cols: Columns, vector: np.ndarray, keys: np.ndarray, allowed: np.ndarray | None, want: int
) -> tuple[np.ndarray, np.ndarray] | None:
    """The `want` best of a graph's candidate keys the mask allows, by exact cosine (ties by
    position), or None when fewer are allowed."""
    positions = _positions(cols, np.asarray(keys, dtype=np.int64))
    if allowed is not None:
        # A lookup per candidate: testing membership in a list of allowed positions would
        # sort the whole list, milliseconds per query on a large index.
        positions = positions[allowed[positions]]
    if len(positions) < want:
        return None
    scores = cols.vectors[positions] @ vector
    order = np.lexsort((positions, -scores))[:want]
    return positions[order], scores[order]


def _usearch_index():
    """Import usearch's Index, onnxruntime first: imported after usearch, onnxruntime crashes
    the process (a segmentation fault in its import, usearch 2.26 and onnxruntime 1.32)."""
    with contextlib.suppress(ImportError):
        import onnxruntime  # noqa: F401
    from usearch.index import Index

    return Index


def _kind(graph) -> str:
    """The graph's scalar type as usearch names it on creation ("f16", "i8", ...)."""
    return str(graph.dtype).rpartition(".")[2].lower()


def _kept(allowed: np.ndarray | None) -> np.ndarray | None:
    return None if allowed is None else np.flatnonzero(allowed)


def _positions(cols: Columns, rows: np.ndarray) -> np.ndarray:
    """Positions of the given row ids, in their order, dropping rows not in the columns."""
    pos = np.searchsorted(cols.rows, rows)
    pos = np.minimum(pos, len(cols.rows) - 1)
    return pos[cols.rows[pos] == rows]


#: A graph that has lost more than this share of its chunks (letters re-indexed or deleted) is
#: built afresh rather than patched: usearch's removals thin the graph's links. Measured on the
#: 100k-chunk benchmark index with every letter written again: recall@10 0.868 patched, 0.987
#: built afresh, in about the same time.
REBUILD_SHARE = 0.1


def _worn(graph, cols: Columns) -> bool:
    """Whether so many of the graph's chunks are gone that patching it would spoil its recall."""
    if not len(graph):
        return False
    keys = np.asarray(graph.keys, dtype=np.int64)
    kept = np.count_nonzero(np.isin(keys, cols.rows, assume_unique=True))
    return len(keys) - kept > REBUILD_SHARE * len(keys)


def _reconcile(graph, cols: Columns) -> bool:
    """Make the graph's keys equal the columns' rows; return whether anything changed."""
    keys = np.asarray(graph.keys, dtype=np.int64) if len(graph) else np.zeros(0, np.int64)
    stale = np.setdiff1d(keys, cols.rows, assume_unique=True)
    missing = np.setdiff1d(cols.rows, keys, assume_unique=True)
    if len(stale):
        graph.remove(stale)
    if len(missing):
        positions = np.searchsorted(cols.rows, missing)
        graph.add(missing, cols.vectors[positions])
    return bool(len(stale) or len(missing))
