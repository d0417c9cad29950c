"""Elasticsearch and the embedded store side by side, on the same chunks and vectors, in one run.

    python bench/side_by_side.py DATA_DIR --es-url http://127.0.0.1:9500 [--repeat 3]

DATA_DIR is an embedded index (`bench/build_index.py`). The script

1. loads every letter of DATA_DIR (chunk documents, records and the stored vectors: nothing is
   embedded again) into Elasticsearch through `ElasticsearchStore` the way `imr-search reindex`
   does (a new generation, `upsert` of BATCH letters at a time, one refresh and the alias swap at
   the end), once per refresh policy of `--load-modes`, and prints chunks/s of each:
   `default` (the index's refresh_interval left at Elasticsearch's 1 s), `off` (refresh_interval
   -1 while loading, reset before the final refresh), `each` (`imr-search index`: a refresh after
   every batch; on the first `--each-chunks` chunks only, into a scratch alias);
2. runs the same requests through two `SearchService`s, one per store, alternating the back
   ends query by query (and which goes first, repeat by repeat): keyword with facets and
   highlights, semantic, hybrid, semantic with a facet filter keeping about 2% of the chunks,
   similar letters and stats; prints p50 / p90 per operation and back end, the ratio, and how
   far the two back ends agree (top-10 letters in common);
3. measures kNN alone: recall@10 against exact numpy search over the same vectors (200 queries:
   the 20 of bench/queries.py and 180 phrases cut from random passages, embedded by the model)
   and latency, for the embedded store, the loaded index (the production mapping and
   num_candidates), and extra vector-only indices per `--options` (hnsw, int8_hnsw, bbq_hnsw,
   ...) over a grid of num_candidates, for k=10 and for the k=200 a semantic search asks for;
4. prints memory: the Elasticsearch node's resident memory and heap, index sizes on disk, and
   the resident memory of a separate process that opened the embedded store and ran the queries.

The machine is noisy: compare the two back ends within one run (they alternate), not across runs.
The Elasticsearch client runs in this process, so Elasticsearch's latencies include the HTTP
round trip and JSON, as the web app sees them. Needs a running Elasticsearch that nothing else
writes to (`scripts/elasticsearch.sh start --dir /tmp/bench-es --port 9500`); the script creates
and deletes its own indices (alias `--alias`, default bench-sbs, and `<alias>-opt-*`).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.queries import QUERIES, passage_phrases, two_percent_filter  # noqa: E402
from indexer.documents import LetterDocs  # noqa: E402
from indexer.schema import facet_names  # noqa: E402
from indexer.search import CANDIDATES, SearchRequest, SearchService  # noqa: E402
from indexer.stores.base import Filters  # noqa: E402
from indexer.stores.elasticsearch import (  # noqa: E402
    ElasticsearchStore,
    build_index_body,
    build_knn_search,
    num_candidates,
)
from indexer.stores.embedded import EmbeddedStore  # noqa: E402
from indexer.stores.vectors import exact_top  # noqa: E402

OPERATIONS = ("keyword", "semantic", "hybrid", "filtered semantic", "similar", "stats")


# ---------------------------------------------------------------------------------------------
# Small helpers


def pct(samples: list[float], q: float) -> float:
    """The q-quantile of `samples` (nearest rank)."""
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


def p50_p90(samples: list[float]) -> tuple[float, float]:
    """Median and 90th percentile."""
    return (statistics.median(samples) if samples else float("nan")), pct(samples, 0.9)


def rss_mb(pid: int | str = "self") -> float:
    """Resident memory of a process in MB (from /proc)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def disk_mb(path: Path) -> float:
    """Size of the files under `path` in MB."""
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) / 1e6


def machine_line() -> str:
    """CPU model, cores, Python and the load average now."""
    cpu = [ln for ln in Path("/proc/cpuinfo").read_text().splitlines() if "model name" in ln]
    model = cpu[0].split(":", 1)[1].strip() if cpu else platform.machine()
    load = " ".join(f"{x:.1f}" for x in os.getloadavg())
    return (
        f"{model}, {os.cpu_count()} cores, Python {platform.python_version()}, load average {load}"
    )


def say(text: str = "") -> None:
    print(text, flush=True)


# ---------------------------------------------------------------------------------------------
# Reading the embedded index back as LetterDocs


def embedded_letters(store: EmbeddedStore, batch: int) -> Iterator[list[LetterDocs]]:
    """Yield the embedded store's letters, `batch` at a time, with their stored vectors."""
    db = store._db
    ids = [r[0] for r in db.execute("SELECT letter_id FROM letters ORDER BY letter_id")]
    for start in range(0, len(ids), batch):
        part = ids[start : start + batch]
        marks = ",".join("?" * len(part))
        letters = {
            lid: LetterDocs(lid, source, fp, json.loads(record), text, original, [], None)
            for lid, source, fp, record, text, original in db.execute(
                "SELECT letter_id, source, fingerprint, record, text, original_text "
                f"FROM letters WHERE letter_id IN ({marks})",
                part,
            )
        }
        vectors: dict[str, list[np.ndarray]] = {lid: [] for lid in letters}
        for lid, doc, emb in db.execute(
            f"SELECT letter_id, doc, embedding FROM chunks WHERE letter_id IN ({marks}) "
            "ORDER BY letter_id, ord",
            part,
        ):
            letters[lid].chunks.append(orjson.loads(doc))
            vectors[lid].append(np.frombuffer(emb, dtype=np.float32))
        out = []
        for lid in part:
            letter = letters[lid]
            letter.vectors = np.stack(vectors[lid]) if vectors[lid] else np.zeros((0, 384))
            out.append(letter)
        yield out


# ---------------------------------------------------------------------------------------------
# 1. Bulk loading


def load_es(
    es: ElasticsearchStore,
    embedded: EmbeddedStore,
    mode: str,
    batch: int,
    limit: int | None = None,
) -> dict[str, float]:
    """Load the embedded store's letters into `es` by refresh policy `mode`; return figures.

    `default` and `off` rebuild a generation as `imr-search reindex` does and switch the alias
    to it; `each` upserts through the alias with a refresh after every batch, like `index`."""
    client = es.client
    gen = None
    if mode in ("default", "off"):
        gen = es.begin_reindex()
        if mode == "off":
            client.indices.put_settings(
                index=",".join(gen.indices), settings={"index": {"refresh_interval": "-1"}}
            )
    else:
        es.drop_all()
        es.ensure_index()
    chunks = letters = 0
    in_store = 0.0
    started = time.perf_counter()
    cpu = time.process_time()
    for part in embedded_letters(embedded, batch):
        t = time.perf_counter()
        report = es.upsert(part)
        in_store += time.perf_counter() - t
        if report.failed:
            raise SystemExit(f"{len(report.failed)} letters failed: {report.failed[:3]}")
        letters += len(part)
        chunks += sum(len(ld.chunks) for ld in part)
        if limit and chunks >= limit:
            break
    t = time.perf_counter()
    if gen is not None:
        if mode == "off":
            client.indices.put_settings(
                index=",".join(gen.indices), settings={"index": {"refresh_interval": None}}
            )
        es.finish_reindex(gen)
    final = time.perf_counter() - t
    in_store += final
    wall = time.perf_counter() - started
    return {
        "client_cpu_s": time.process_time() - cpu,
        "letters": letters,
        "chunks": chunks,
        "store_s": in_store,
        "final_s": final,
        "wall_s": wall,
        "chunks_per_s": chunks / in_store,
    }


def segments(client: Any, index: str) -> int:
    """Number of Lucene segments of `index`'s primaries."""
    stats = client.indices.stats(index=index, metric="segments")
    return int(stats["_all"]["primaries"]["segments"]["count"])


# ---------------------------------------------------------------------------------------------
# 2. Side-by-side queries


#: Store methods the search service calls, timed one by one (where an operation's time goes).
STORE_METHODS = (
    "keyword",
    "knn",
    "knn_many",
    "facet_counts",
    "count_letters",
    "highlight",
    "complete",
    "letter_shares",
    "letter_chunks",
    "stats",
)


class Side:
    """One back end's search service, its timings per operation, and the time spent in each
    store method per operation (summed over the calls, which may overlap on two threads)."""

    def __init__(self, name: str, store: Any, embedder: Any) -> None:
        self.name = name
        self.store = store
        self.service = SearchService(store, lambda: embedder)
        self.embedder = embedder
        self.samples: dict[str, list[float]] = {op: [] for op in OPERATIONS}
        self.parts: dict[str, dict[str, list[float]]] = {op: {} for op in OPERATIONS}
        self.calls: dict[str, dict[str, list[int]]] = {op: {} for op in OPERATIONS}
        self._now: dict[str, list[float]] = {}
        self._lock = threading.Lock()
        for method in STORE_METHODS:
            if hasattr(store, method):
                setattr(store, method, self._wrap(method, getattr(store, method)))

    def _wrap(self, method: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        def timed(*args: Any, **kwargs: Any) -> Any:
            t = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                with self._lock:
                    self._now.setdefault(method, []).append((time.perf_counter() - t) * 1000)

        return timed

    def timed(self, op: str, fn: Callable[[], Any]) -> Any:
        self.embedder._queries.clear()  # uncached query embeddings, as in bench/queries.py
        self._now = {}
        t = time.perf_counter()
        out = fn()
        self.samples[op].append((time.perf_counter() - t) * 1000)
        for method in STORE_METHODS:
            got = self._now.get(method, [])
            self.parts[op].setdefault(method, []).append(sum(got))
            self.calls[op].setdefault(method, []).append(len(got))
        return out


def letters_of(result: Any) -> list[str]:
    """The letter ids of a search result's page, or of similar() hits."""
    return [h.letter_id for h in (result if isinstance(result, list) else result.hits)]


def side_by_side(
    sides: list[Side], embedded: EmbeddedStore, repeat: int, similar_letters: int
) -> tuple[dict[str, list[float]], str]:
    """Run every operation over the same inputs on both sides, alternating; return the top-10
    letter overlaps per operation and a description of the 2% filter."""
    facet, value, share = two_percent_filter(embedded)
    cols = embedded._cols()
    step = max(1, len(cols.letter_ids) // similar_letters)
    sample = [cols.letter_ids[i] for i in range(0, len(cols.letter_ids), step)][:similar_letters]

    def request(q: str, mode: str, **extra: str) -> SearchRequest:
        return SearchRequest.from_params({"q": q, "mode": mode, **extra})

    cases: list[tuple[str, Callable[[SearchService], Any]]] = []
    for q in QUERIES:
        cases.append(("keyword", lambda s, q=q: s.search(request(q, "keyword"))))
        cases.append(("semantic", lambda s, q=q: s.search(request(q, "semantic"))))
        cases.append(("hybrid", lambda s, q=q: s.search(request(q, "hybrid"))))
        cases.append(
            (
                "filtered semantic",
                lambda s, q=q: s.search(request(q, "semantic", **{facet: value})),
            )
        )
    for lid in sample:
        cases.append(("similar", lambda s, lid=lid: s.similar(lid)))
    for q in QUERIES[:10]:
        cases.append(("stats", lambda s, q=q: s.stats(request(q, "keyword"), "treatment_class")))
    # Warm both: every case once (page cache, lazy columns, Elasticsearch's caches and JIT).
    for _, fn in cases:
        for side in sides:
            fn(side.service)
    overlap: dict[str, list[float]] = {op: [] for op in OPERATIONS}
    for r in range(repeat):
        for i, (op, fn) in enumerate(cases):
            order = sides if (i + r) % 2 == 0 else sides[::-1]
            got = {}
            for side in order:
                got[side.name] = side.timed(op, lambda fn=fn, side=side: fn(side.service))
            if r == 0 and op != "stats" and len(sides) == 2:
                a, b = (letters_of(got[s.name])[:10] for s in sides)
                if a or b:
                    overlap[op].append(len(set(a) & set(b)) / max(len(a), len(b)))
    return overlap, f"{facet}={value} ({share:.1%} of chunks)"


# ---------------------------------------------------------------------------------------------
# 3. kNN recall and latency


def recall_queries(embedded: EmbeddedStore, embedder: Any, n_phrases: int) -> np.ndarray:
    """Query vectors: the 20 benchmark queries and `n_phrases` passage phrases, embedded."""
    cols = embedded._cols()
    texts = list(QUERIES) + passage_phrases(embedded, cols, n_phrases)
    return np.stack([embedder.embed_query(t) for t in texts]).astype(np.float32)


def exact_neighbours(cols: Any, vectors: np.ndarray, k: int) -> list[set[str]]:
    """The exact top-k chunk ids of each query vector (numpy over every stored vector)."""
    out = []
    for v in vectors:
        positions, _ = exact_top(cols.vectors, v, k)
        out.append({cols.chunk_ids[p] for p in positions.tolist()})
    return out


def knn_es(
    client: Any,
    index: str,
    vector: np.ndarray,
    k: int,
    nc: int,
    oversample: float | None = None,
    filters: Filters | None = None,
) -> tuple[list[str], float, int]:
    """One kNN request as the store builds it, num_candidates patched (and, given
    `oversample`, a `rescore_vector` with it); return the hit ids, the client-side
    milliseconds and Elasticsearch's own `took`."""
    body = build_knn_search(vector, filters or Filters(), k)
    body["knn"]["num_candidates"] = nc
    if oversample is not None:
        body["knn"]["rescore_vector"] = {"oversample": oversample}
    body["_source"] = False
    t = time.perf_counter()
    resp = client.search(index=index, body=body)
    ms = (time.perf_counter() - t) * 1000
    return [h["_id"] for h in resp["hits"]["hits"]], ms, int(resp["took"])


def option_body(option: str, m: int, ef: int) -> dict[str, Any]:
    """The production chunks index body with the embedding's index_options replaced."""
    body = build_index_body("chunks")
    emb = body["mappings"]["properties"]["embedding"]
    emb["index_options"] = {"type": option, "m": m, "ef_construction": ef}
    body["settings"] = {**body["settings"], "refresh_interval": "-1"}
    return body


def load_vectors_only(
    client: Any, index: str, body: dict[str, Any], cols: Any, embedded: EmbeddedStore
) -> float:
    """Create `index` and bulk-load every chunk's vector with its facet fields; return s."""
    from elasticsearch.helpers import streaming_bulk

    client.options(ignore_status=404).indices.delete(index=index)
    client.indices.create(index=index, body=body)
    facets = [f for f in facet_names() if f in body["mappings"]["properties"]]
    db = embedded._db

    def actions() -> Iterator[dict[str, Any]]:
        for chunk_id, letter_id, doc, emb in db.execute(
            "SELECT chunk_id, letter_id, doc, embedding FROM chunks ORDER BY row"
        ):
            d = orjson.loads(doc)
            source = {f: d.get(f) for f in facets if d.get(f) is not None}
            source["letter_id"] = letter_id
            source["embedding"] = np.frombuffer(emb, dtype=np.float32).tolist()
            yield {"_index": index, "_id": chunk_id, "_source": source}

    t = time.perf_counter()
    for _ok, _info in streaming_bulk(
        client.options(request_timeout=300), actions(), chunk_size=500, raise_on_error=True
    ):
        pass
    client.indices.put_settings(index=index, settings={"index": {"refresh_interval": None}})
    client.options(request_timeout=600).indices.refresh(index=index)
    return time.perf_counter() - t


def knn_grid(
    client: Any,
    index: str,
    queries: np.ndarray,
    exact: dict[int, list[set[str]]],
    grid: list[tuple[int, int, float | None]],
    repeat: int,
) -> list[tuple[int, int, float | None, float, float, float, float]]:
    """(k, nc, oversample, recall@10, recall@k, p50 ms, p50 took) per (k, num_candidates,
    oversample) of the grid."""
    rows = []
    for k, nc, oversample in grid:
        found10 = foundk = 0
        ms_samples, took = [], []
        for _ in range(repeat):
            for qi, v in enumerate(queries):
                ids, ms, t = knn_es(client, index, v, k, nc, oversample)
                ms_samples.append(ms)
                took.append(t)
                if _ == 0:
                    found10 += len(set(ids[:10]) & exact[10][qi])
                    foundk += len(set(ids) & exact[k][qi])
        n = len(queries)
        rows.append(
            (
                k,
                nc,
                oversample,
                found10 / (10 * n),
                foundk / (k * n),
                statistics.median(ms_samples),
                statistics.median(took),
            )
        )
    return rows


# ---------------------------------------------------------------------------------------------
# 4. Memory


def es_memory(client: Any) -> dict[str, float]:
    """The (single) node's resident memory, heap used / max, and its pid."""
    info = client.nodes.info(metric="process")
    node_id, node = next(iter(info["nodes"].items()))
    pid = node["process"]["id"]
    jvm = client.nodes.stats(node_id=node_id, metric="jvm")["nodes"][node_id]["jvm"]["mem"]
    try:
        rss = rss_mb(pid)
    except OSError:
        rss = float("nan")
    return {
        "pid": pid,
        "rss_mb": rss,
        "heap_used_mb": jvm["heap_used_in_bytes"] / 2**20,
        "heap_max_mb": jvm["heap_max_in_bytes"] / 2**20,
        "non_heap_mb": jvm["non_heap_used_in_bytes"] / 2**20,
    }


def index_sizes(client: Any, pattern: str) -> list[tuple[str, int, float]]:
    """(index, docs, MB on disk) of the indices matching `pattern`."""
    rows = client.cat.indices(index=pattern, format="json", bytes="b")
    return sorted(
        (r["index"], int(r["docs.count"] or 0), int(r["store.size"] or 0) / 1e6) for r in rows
    )


def probe_embedded_memory(data_dir: Path) -> None:
    """(Run in a child process.) Open the store, run every operation once, print RSS MB."""
    from indexer.embedder import Embedder

    store = EmbeddedStore(data_dir)
    store.prepare()
    embedder = Embedder()
    side = Side("embedded", store, embedder)
    before = rss_mb()
    side_by_side([side], store, 1, 20)
    print(json.dumps({"rss_mb": rss_mb(), "rss_before_queries_mb": before}))


# ---------------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        epilog="See the module docstring and BENCHMARKS.md for what each figure means.",
    )
    parser.add_argument("data_dir", type=Path, help="embedded index (bench/build_index.py)")
    parser.add_argument("--es-url", default=os.environ.get("ELASTICSEARCH_URL"), required=False)
    parser.add_argument("--alias", default="bench-sbs", help="alias of the loaded index")
    parser.add_argument("--repeat", type=int, default=3, help="repeats of the query set")
    parser.add_argument(
        "--load-modes",
        default="off,default,each",
        help="refresh policies to load with, in order (default, off, each); the last of "
        "default/off loaded stays for the queries. Empty: reuse what --alias holds",
    )
    parser.add_argument("--load-only", action="store_true", help="stop after loading")
    parser.add_argument("--batch", type=int, default=16, help="letters per upsert (CLI: 16)")
    parser.add_argument(
        "--each-chunks", type=int, default=10000, help="chunks loaded in the 'each' mode"
    )
    parser.add_argument("--similar-letters", type=int, default=20)
    parser.add_argument("--phrases", type=int, default=180, help="passage phrases for recall")
    parser.add_argument(
        "--options",
        default="hnsw,int8_hnsw,bbq_hnsw",
        help="index_options types for the vector-only indices (empty: none)",
    )
    parser.add_argument("--m", type=int, default=16)
    parser.add_argument("--ef-construction", type=int, default=100)
    parser.add_argument(
        "--nc10", default="10,20,50,100,200,500", help="num_candidates tried with k=10"
    )
    parser.add_argument(
        "--nc200", default="200,400,800", help=f"num_candidates tried with k={CANDIDATES}"
    )
    parser.add_argument(
        "--oversample",
        default="",
        help="also query the quantised indices with rescore_vector oversample of each of these "
        "(e.g. 2,3); the rows without are the index's own default",
    )
    parser.add_argument("--knn-repeat", type=int, default=2)
    parser.add_argument(
        "--skip-queries",
        action="store_true",
        help="skip the side-by-side queries and the embedded memory probe (kNN and loading only)",
    )
    parser.add_argument("--keep", action="store_true", help="keep the indices at the end")
    parser.add_argument("--probe-embedded-memory", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")

    if args.probe_embedded_memory:
        probe_embedded_memory(args.data_dir)
        return
    if not args.es_url:
        parser.error("--es-url (or ELASTICSEARCH_URL) is required")

    from indexer.embedder import Embedder

    say(f"machine: {machine_line()}")
    embedded = EmbeddedStore(args.data_dir)
    t = time.perf_counter()
    embedded.prepare()
    letters, chunks = embedded.counts()
    say(
        f"embedded index {args.data_dir}: {letters} letters, {chunks} chunks; opened and "
        f"prepared in {time.perf_counter() - t:.1f} s; {disk_mb(args.data_dir):.0f} MB on disk"
    )
    es = ElasticsearchStore(args.es_url, args.alias, request_timeout=60)
    client = es.client
    say(f"Elasticsearch {'.'.join(map(str, es.server_version()))} at {args.es_url}")

    # 1. bulk loading
    modes = [m for m in args.load_modes.split(",") if m]
    stays = [m for m in modes if m != "each"]
    # the 'each' mode writes into a scratch alias so the rebuilt index stays for the queries
    for mode in sorted(modes, key=lambda m: m != "each"):
        target = es if mode != "each" else ElasticsearchStore(args.es_url, args.alias + "-each")
        limit = args.each_chunks if mode == "each" else None
        say(f"\nloading ({mode}) ...")
        fig = load_es(target, embedded, mode, args.batch, limit)
        say(
            f"bulk load, refresh {mode:8s}: {fig['chunks']:.0f} chunks of {fig['letters']:.0f} "
            f"letters in {fig['store_s']:.1f} s in the store ({fig['final_s']:.1f} s of it the "
            f"final refresh and alias swap), {fig['wall_s']:.1f} s wall, this process's CPU "
            f"{fig['client_cpu_s']:.1f} s (reading, analysing, JSON): "
            f"**{fig['chunks_per_s']:.0f} chunks/s** (load average "
            f"{os.getloadavg()[0]:.1f})"
        )
        if mode == "each":
            target.drop_all()
    if args.load_only:
        return
    if not stays and not es._alias_targets(es.alias):
        raise SystemExit(f"nothing loaded under {args.alias}")
    (chunks_index,) = es._alias_targets(es.alias)
    es_letters, es_chunks = es.counts()
    say(
        f"{chunks_index}: {es_letters} letters, {es_chunks} chunks, "
        f"{segments(client, chunks_index)} segments"
    )
    if es_chunks != chunks:
        say(f"WARNING: Elasticsearch holds {es_chunks} chunks, the embedded store {chunks}")

    # 2. side by side
    embedder = Embedder()
    sides = [Side("embedded", embedded, embedder), Side("elasticsearch", es, embedder)]
    if not args.skip_queries:
        say(f"\nqueries: {len(QUERIES)} x {args.repeat} repeats, back ends alternating ...")
        t = time.perf_counter()
        overlap, filter_text = side_by_side(sides, embedded, args.repeat, args.similar_letters)
        say(f"({time.perf_counter() - t:.0f} s; filtered semantic: {filter_text})")
        say(
            "\n| operation | embedded p50 / p90 ms | Elasticsearch p50 / p90 ms | ES / embedded "
            "(p50) | top-10 letters in common |"
        )
        say("|---|---|---|---|---|")
        for op in OPERATIONS:
            e50, e90 = p50_p90(sides[0].samples[op])
            s50, s90 = p50_p90(sides[1].samples[op])
            common = f"{statistics.mean(overlap[op]):.2f}" if overlap.get(op) else ""
            say(
                f"| {op} | {e50:.1f} / {e90:.1f} | {s50:.1f} / {s90:.1f} | {s50 / e50:.2f}x | "
                f"{common} | (n={len(sides[0].samples[op])})"
            )
        say(
            "\nwhere the time goes: median ms inside each store method per operation "
            "(calls per operation), embedded | Elasticsearch; methods under 0.5 ms on both "
            "left out"
        )
        for op in OPERATIONS:
            cells = []
            for method in STORE_METHODS:
                e = sides[0].parts[op].get(method) or [0.0]
                x = sides[1].parts[op].get(method) or [0.0]
                if max(statistics.median(e), statistics.median(x)) < 0.5:
                    continue
                ec = statistics.median(sides[0].calls[op].get(method) or [0])
                xc = statistics.median(sides[1].calls[op].get(method) or [0])
                cells.append(
                    f"{method} {statistics.median(e):.1f} ({ec:g}) | "
                    f"{statistics.median(x):.1f} ({xc:g})"
                )
            say(f"  {op}: " + "; ".join(cells))
    es_mem_after_queries = es_memory(client)

    # 3. kNN recall and latency
    cols = embedded._cols()
    queries = recall_queries(embedded, embedder, args.phrases)
    exact = {10: exact_neighbours(cols, queries, 10)}
    exact[CANDIDATES] = exact_neighbours(cols, queries, CANDIDATES)
    say(f"\nkNN recall against exact numpy search, {len(queries)} query vectors")
    found = 0
    ms_samples = []
    for qi, v in enumerate(queries):
        t = time.perf_counter()
        hits = embedded.knn(v, Filters(), 10)
        ms_samples.append((time.perf_counter() - t) * 1000)
        found += len({h.chunk_id for h in hits} & exact[10][qi])
    say(
        f"embedded store (its HNSW), k=10: recall@10 {found / (10 * len(queries)):.3f}, "
        f"p50 {statistics.median(ms_samples):.2f} ms"
    )
    say(
        "\n| index | index_options | k | num_candidates | recall@10 | recall@k | p50 ms "
        "(client) | p50 took ms |"
    )
    say("|---|---|---|---|---|---|---|---|")
    prod_opts = build_index_body("chunks")["mappings"]["properties"]["embedding"]["index_options"]
    for k, nc, _, r10, rk, ms, took in knn_grid(
        client,
        es.alias,
        queries,
        exact,
        [(10, num_candidates(10), None), (CANDIDATES, num_candidates(CANDIDATES), None)],
        args.knn_repeat,
    ):
        say(
            f"| loaded ({chunks_index}) | {prod_opts['type']} | {k} | {nc} (service) | "
            f"{r10:.3f} | {rk:.3f} | {ms:.1f} | {took:.0f} |"
        )
    options = [o for o in args.options.split(",") if o]
    nc10 = [int(x) for x in args.nc10.split(",") if x]
    nc200 = [int(x) for x in args.nc200.split(",") if x]
    oversamples: list[float | None] = [None] + [float(x) for x in args.oversample.split(",") if x]
    opt_rows = []
    for option in options:
        index = f"{args.alias}-opt-{option.replace('_', '-')}"
        secs = load_vectors_only(
            client, index, option_body(option, args.m, args.ef_construction), cols, embedded
        )
        n_seg = segments(client, index)
        mapping = client.indices.get_mapping(index=index)[index]["mappings"]
        effective = mapping["properties"]["embedding"].get("index_options")
        say(f"| {index} | {json.dumps(effective)} (as Elasticsearch reports it) | | | | | | |")
        quantised = option != "hnsw" and option != "flat"
        grid = [
            (k, n, o)
            for o in (oversamples if quantised else [None])
            for k, n in [(10, n) for n in nc10] + [(CANDIDATES, n) for n in nc200]
        ]
        for row in knn_grid(client, index, queries, exact, grid, args.knn_repeat):
            k, nc, o, r10, rk, ms, took = row
            extra = "" if o is None else f", rescore oversample {o:g}"
            say(
                f"| {index} ({n_seg} seg.) | {option}{extra} | {k} | {nc} | {r10:.3f} | "
                f"{rk:.3f} | {ms:.1f} | {took:.0f} |"
            )
        opt_rows.append((option, index, secs, n_seg))
    if opt_rows:
        say("\nvector-only indices (embedding and facet fields only), loaded and refreshed:")
        sizes = {name: (docs, mb) for name, docs, mb in index_sizes(client, f"{args.alias}-opt-*")}
        for option, index, secs, n_seg in opt_rows:
            docs, mb = sizes.get(index, (0, float("nan")))
            say(
                f"  {option:10s} {docs} docs in {secs:.1f} s ({docs / secs:.0f} chunks/s), "
                f"{n_seg} segments, {mb:.0f} MB on disk"
            )

    # 4. memory
    say("\nmemory")
    for name, docs, mb in index_sizes(client, f"{args.alias}*"):
        say(f"  Elasticsearch index {name}: {docs} docs, {mb:.0f} MB on disk")
    m = es_mem_after_queries
    say(
        f"  Elasticsearch node (pid {m['pid']}), after the side-by-side queries: resident "
        f"{m['rss_mb']:.0f} MB, heap used {m['heap_used_mb']:.0f} of {m['heap_max_mb']:.0f} MB, "
        f"non-heap {m['non_heap_mb']:.0f} MB"
    )
    m = es_memory(client)
    say(
        f"  Elasticsearch node at the end (vector-only indices loaded and queried too): "
        f"resident {m['rss_mb']:.0f} MB, heap used {m['heap_used_mb']:.0f} MB"
    )
    if not args.keep:
        for _, index, _, _ in opt_rows:
            client.options(ignore_status=404).indices.delete(index=index)
    if args.skip_queries:
        say(f"\nmachine at the end: {machine_line()}")
        return
    probe = subprocess.run(
        [sys.executable, __file__, str(args.data_dir), "--probe-embedded-memory"],
        capture_output=True,
        text=True,
        check=True,
    )
    got = json.loads(probe.stdout.strip().splitlines()[-1])
    say(
        f"  embedded store: a process that opened it, loaded the model and ran every operation "
        f"once: resident {got['rss_mb']:.0f} MB ({got['rss_before_queries_mb']:.0f} MB before "
        f"the queries); {disk_mb(args.data_dir):.0f} MB on disk"
    )
    say(f"  this process (both back ends' clients, exact vectors): {rss_mb():.0f} MB")
    say(f"\nmachine at the end: {machine_line()}")


if __name__ == "__main__":
    main()
