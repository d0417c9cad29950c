"""Query latency of the embedded store, with a SQLite FTS5 + numpy baseline in the same run.

    python bench/queries.py DATA_DIR [DATA_DIR ...] [--repeat 5] [--fts5/--no-fts5]

For each index (built by `bench/build_index.py` or `imr-search index`) it prints, through the real
search service (what the web app and the API call):
- p50 / p95 latency of keyword search with all facet counts, the histogram and highlights;
  semantic (embedding the query included, uncached); hybrid; semantic with a filter that keeps
  about 2% of the chunks (and how many hits it returned); similar(); stats();
- recall@10 of the store's kNN (HNSW above its threshold) against exact search;
- query embedding alone; index size on disk; resident memory of this process;
- the same faceted keyword queries on SQLite FTS5 (porter, bm25, snippet, GROUP BY facet counts
  of distinct letters) plus exact numpy kNN, over the same chunks, and the ratio.
"""

from __future__ import annotations

import json
import os
import platform
import sqlite3
import statistics
import sys
import time
from pathlib import Path

import click
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from indexer.schema import facet_names  # noqa: E402
from indexer.search import SearchRequest, SearchService  # noqa: E402
from indexer.stores.base import Filters  # noqa: E402
from indexer.stores.embedded import EmbeddedStore  # noqa: E402
from indexer.stores.vectors import exact_top  # noqa: E402

QUERIES = [
    "valium low back pain",
    "MRI lumbar spine",
    "additional physical therapy sessions",
    "Norco opioid weaning",
    "epidural steroid injection radiculopathy",
    "TENS unit",
    "compounded topical cream",
    "cervical fusion",
    "acupuncture",
    "Lyrica neuropathic pain",
    "urine drug screen",
    "chiropractic manipulation",
    "knee arthroscopy meniscus tear",
    "Ambien insomnia",
    "omeprazole gastrointestinal risk",
    "carpal tunnel release",
    "functional restoration program",
    "shoulder MRI rotator cuff",
    "trigger point injections",
    "Soma carisoprodol muscle relaxant",
]


def percentiles(samples: list[float]) -> tuple[float, float]:
    """Return the median and the 95th percentile of `samples` (milliseconds)."""
    ordered = sorted(samples)
    return statistics.median(ordered), ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))]


def timed(fn, repeat: int) -> list[float]:
    """Run `fn` `repeat` times; return the milliseconds each run took."""
    out = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        out.append((time.perf_counter() - t) * 1000)
    return out


def rss_mb() -> float:
    """Resident memory of this process in MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def disk_mb(path: Path) -> float:
    """Size of the files under `path` in MB."""
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) / 1e6


def two_percent_filter(store: EmbeddedStore) -> tuple[str, str, float]:
    """A facet value held by the share of chunks closest to 2%."""
    cols = store._cols()
    n = len(cols.rows)
    best = min(
        (
            (abs(len(p) / n - 0.02), f, v, len(p) / n)
            for f, values in cols.postings.items()
            if f in facet_names()
            for v, p in values.items()
        ),
    )
    return best[1], best[2], best[3]


class Fts5Baseline:
    """The same chunks in SQLite FTS5 (porter) with facet columns, plus exact numpy kNN."""

    def __init__(self, store: EmbeddedStore, path: Path) -> None:
        """Build (or reuse) the FTS5 database at `path` from the store's chunks."""
        self.facets = [f for f in facet_names()]
        self.db = sqlite3.connect(path)
        built = self.db.execute(
            "SELECT count(*) FROM sqlite_master WHERE name = 'chunk_text'"
        ).fetchone()[0]
        if not built:
            cols = ", ".join(f'"{f}"' for f in self.facets)
            self.db.executescript(
                f"""
                CREATE VIRTUAL TABLE chunk_text USING fts5(text, request, treatment_terms,
                    tokenize = 'porter unicode61');
                CREATE TABLE chunk_facets (row INTEGER PRIMARY KEY, letter_id TEXT, {cols});
                CREATE TABLE chunk_values (row INTEGER, facet TEXT, value TEXT);
                CREATE INDEX chunk_values_row ON chunk_values (row);
                """
            )
            src = store._db.execute("SELECT row, letter_id, doc FROM chunks ORDER BY row")
            with self.db:
                for row, letter_id, doc_json in src:
                    doc = json.loads(doc_json)
                    terms = doc.get("treatment_terms") or []
                    self.db.execute(
                        "INSERT INTO chunk_text (rowid, text, request, treatment_terms) "
                        "VALUES (?, ?, ?, ?)",
                        (row, doc.get("text") or "", doc.get("request") or "", " ".join(terms)),
                    )
                    values = []
                    for f in self.facets:
                        v = doc.get(f)
                        for x in v if isinstance(v, list) else [v]:
                            if x is not None:
                                values.append((row, f, str(x)))
                    self.db.executemany("INSERT INTO chunk_values VALUES (?, ?, ?)", values)
                    self.db.execute(
                        "INSERT INTO chunk_facets (row, letter_id) VALUES (?, ?)", (row, letter_id)
                    )

    def keyword(self, q: str) -> None:
        """Top 10 by bm25 with snippets, the total of letters, and every facet's letter counts."""
        match = " OR ".join(f'"{w}"' for w in q.split())
        self.db.execute(
            "SELECT rowid, snippet(chunk_text, 0, '<mark>', '</mark>', '…', 20) FROM chunk_text "
            "WHERE chunk_text MATCH ? ORDER BY bm25(chunk_text) LIMIT 10",
            (match,),
        ).fetchall()
        self.db.execute(
            "SELECT count(DISTINCT f.letter_id) FROM chunk_text t JOIN chunk_facets f "
            "ON f.row = t.rowid WHERE chunk_text MATCH ?",
            (match,),
        ).fetchone()
        self.db.execute(
            "SELECT v.facet, v.value, count(DISTINCT f.letter_id) FROM chunk_text t "
            "JOIN chunk_values v ON v.row = t.rowid JOIN chunk_facets f ON f.row = t.rowid "
            "WHERE chunk_text MATCH ? GROUP BY v.facet, v.value",
            (match,),
        ).fetchall()


def bench_index(
    data_dir: Path, service_embedder, repeat: int, fts5: bool, profile: tuple[str, ...] = ()
) -> None:
    """Print the figures for one index."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    store = EmbeddedStore(data_dir)
    t = time.perf_counter()
    store.prepare()
    open_s = time.perf_counter() - t
    letters, chunks = store.counts()
    service = SearchService(store, lambda: service_embedder)
    print(f"\n## {data_dir}: {letters} letters, {chunks} chunks")
    print(f"open + load columns + vector graph: {open_s:.1f} s; disk {disk_mb(data_dir):.0f} MB")

    def run(mode: str, q: str, **params) -> None:
        service.embedder._queries.clear()  # uncached query embeddings
        service.search(SearchRequest.from_params({"q": q, "mode": mode, **params}))

    for q in QUERIES[:3]:  # warm the page cache and the lazy parts
        run("hybrid", q)
    results: dict[str, list[float]] = {}
    for mode in ("keyword", "semantic", "hybrid"):
        results[mode] = [
            ms for q in QUERIES for ms in timed(lambda mode=mode, q=q: run(mode, q), repeat)
        ]
    facet, value, share = two_percent_filter(store)
    hits = []

    def filtered(q: str) -> None:
        service.embedder._queries.clear()
        r = service.search(
            SearchRequest.from_params({"q": q, "mode": "semantic", facet: value, "per_page": 10})
        )
        hits.append(len(r.hits))

    results[f"semantic, filter {facet}={value} ({share:.1%} of chunks)"] = [
        ms for q in QUERIES for ms in timed(lambda q=q: filtered(q), repeat)
    ]
    cols = store._cols()
    # The store alone: the service drops neighbours under its similarity floor, the store never.
    knn_hits = []
    vectors = {q: service.embedder.embed_query(q) for q in QUERIES}
    only = Filters(terms=((facet, (value,)),))

    def knn(q: str, filters: Filters) -> None:
        knn_hits.append(len(store.knn(vectors[q], filters, 10)))

    results["kNN top 10 (store), no filter"] = [
        ms for q in QUERIES for ms in timed(lambda q=q: knn(q, Filters()), repeat)
    ]
    results[f"kNN top 10 (store), filter {facet}={value}"] = [
        ms for q in QUERIES for ms in timed(lambda q=q: knn(q, only), repeat)
    ]
    sample = [
        cols.letter_ids[i] for i in range(0, len(cols.letter_ids), len(cols.letter_ids) // 20)
    ][:20]
    results["similar()"] = [
        ms for lid in sample for ms in timed(lambda lid=lid: service.similar(lid), 1)
    ]
    results["stats(by=treatment_class)"] = [
        ms
        for q in QUERIES[:10]
        for ms in timed(
            lambda q=q: service.stats(
                SearchRequest.from_params({"q": q, "mode": "keyword"}), "treatment_class"
            ),
            repeat,
        )
    ]
    embed = service.embedder

    def embed_one(q: str) -> None:
        embed._queries.clear()
        embed.embed_query(q)

    results["query embedding alone"] = [
        ms for q in QUERIES for ms in timed(lambda q=q: embed_one(q), repeat)
    ]
    for name, samples in results.items():
        p50, p95 = percentiles(samples)
        print(f"{name:60s} p50 {p50:7.1f} ms   p95 {p95:7.1f} ms   (n={len(samples)})")
    print(
        f"letters on the page, filtered semantic search: min {min(hits)}, "
        f"median {statistics.median(hits)}; hits of the store's filtered kNN: min {min(knn_hits)}"
    )
    # recall@10 of the store's kNN against an exact scan, over the 20 queries and 180 phrases
    # of 3-8 words cut from random passages (20 queries alone give a coarse figure)
    recall_texts = list(QUERIES) + passage_phrases(store, cols, 180)
    found = 0
    for q in recall_texts:
        v = embed.embed_query(q)
        approx = {h.chunk_id for h in store.knn(v, Filters(), 10)}
        exact_pos, _ = exact_top(cols.vectors, v, 10)
        exact = {cols.chunk_ids[p] for p in exact_pos.tolist()}
        found += len(approx & exact)
    print(
        f"recall@10 of kNN against exact ({len(recall_texts)} queries): "
        f"{found / (10 * len(recall_texts)):.3f}"
    )
    print(f"resident memory of this process: {rss_mb():.0f} MB")
    for mode in profile:
        # Where a search's time goes: the functions with the most time of their own.
        import cProfile
        import pstats

        profiler = cProfile.Profile()
        profiler.enable()
        for q in QUERIES:
            run(mode, q)
        profiler.disable()
        print(f"\nprofile of {len(QUERIES)} {mode} searches, by own time:")
        pstats.Stats(profiler, stream=sys.stdout).sort_stats("tottime").print_stats(18)
    if fts5:
        t = time.perf_counter()
        base = Fts5Baseline(store, data_dir / "fts5-baseline.sqlite")
        print(f"FTS5 baseline built/opened in {time.perf_counter() - t:.0f} s")
        base.keyword(QUERIES[0])
        f_samples = [ms for q in QUERIES for ms in timed(lambda q=q: base.keyword(q), repeat)]
        f50, f95 = percentiles(f_samples)
        k50, k95 = percentiles(results["keyword"])
        print(
            f"{'FTS5 keyword + facet counts + snippets':60s} p50 {f50:7.1f} ms   p95 {f95:7.1f} ms"
        )
        print(f"embedded keyword is {f50 / k50:.1f}x faster at p50, {f95 / k95:.1f}x at p95")
        v = embed.embed_query(QUERIES[0])
        e_samples = timed(lambda: exact_top(cols.vectors, v, 10), repeat * 4)
        print(f"{'exact numpy kNN over all chunks':60s} p50 {percentiles(e_samples)[0]:7.1f} ms")


def passage_phrases(store: EmbeddedStore, cols, n: int) -> list[str]:
    """Return `n` phrases of 3 to 8 words from random passages (seeded), as short queries."""
    import random

    rng = random.Random(7)
    out = []
    for position in rng.sample(range(len(cols.rows)), n):
        chunk_id = cols.chunk_ids[position]
        words = (store._docs_by_chunk_id([chunk_id])[chunk_id].get("text") or "").split()
        start = rng.randrange(0, max(1, len(words) - 8))
        out.append(" ".join(words[start : start + rng.randint(3, 8)]) or "treatment")
    return out


@click.command()
@click.argument("data_dirs", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--repeat", type=int, default=3)
@click.option("--fts5/--no-fts5", default=True)
@click.option(
    "--profile",
    multiple=True,
    type=click.Choice(["keyword", "semantic", "hybrid"]),
    help="Also print a profile of this mode's searches (repeatable).",
)
def main(data_dirs: tuple[Path, ...], repeat: int, fts5: bool, profile: tuple[str, ...]) -> None:
    """Print query latencies for each DATA_DIR."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from indexer.embedder import Embedder

    print(
        f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}, numpy {np.__version__}"
    )
    cpu = [ln for ln in Path("/proc/cpuinfo").read_text().splitlines() if "model name" in ln]
    if cpu:
        print(cpu[0].split(":", 1)[1].strip())
    embedder = Embedder()
    print(f"embedder: {getattr(embedder, 'backend', 'torch')} {embedder.model_id}")
    for d in data_dirs:
        bench_index(d, embedder, repeat, fts5, profile)


if __name__ == "__main__":
    main()
