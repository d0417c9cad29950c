"""Relevance benchmark: nDCG@10 of the project's search against the eval README's reference.

    python bench/relevance.py [--letters DIR] [--queries FILE] [--data-dir DIR]

Indexes the letters into an EmbeddedStore with the real Embedder (vectors cached on disk), runs
every judged query through `SearchService.search` in each mode, builds the reference system
(bench/reference.py: BM25 + MiniLM cosine over 180-word chunks, RRF k = 60, best chunk per
letter) from the same letters, and prints per-query and mean nDCG@10 with the queries where the
project's default (hybrid) mode loses to the reference.

`evaluate` and `ndcg_at_10` are importable for regression tests.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import platform
import shutil
import sys
import time
from collections.abc import Iterable, Mapping
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from indexer.search import MODES, SearchRequest, SearchService  # noqa: E402

DEFAULT_LETTERS = ROOT.parent / "shared" / "letters" / "dev"
DEFAULT_QUERIES = ROOT.parent / "shared" / "eval" / "dev-queries.json"
DEFAULT_DATA = ROOT / "bench" / ".data"
#: How much worse than the reference hybrid may be on a query before it is listed.
LOSS_MARGIN = 0.01
_STORE_MARKER = "bench-store"
_STORES_KEPT = 3


def ndcg_at_10(ranked_ids: Iterable[str], grades: Mapping[str, int]) -> float:
    """nDCG@10 of a ranking of ids against graded judgments.

    Gain is `2**grade - 1` (unjudged ids have grade 0), discount `1 / log2(rank + 1)` for ranks
    1..10; the ideal DCG sorts the judged grades. A repeated id counts only at its first rank.
    A query with no relevant ids scores 0.

    >>> ndcg_at_10(["a", "b"], {"a": 1, "b": 1})
    1.0
    >>> round(ndcg_at_10(["x", "a"], {"a": 1}), 6) == round(1 / math.log2(3), 6)
    True
    """
    ranked = list(dict.fromkeys(ranked_ids))[:10]
    dcg = sum((2 ** grades.get(d, 0) - 1) / math.log2(i + 2) for i, d in enumerate(ranked))
    ideal = sorted((g for g in grades.values() if g > 0), reverse=True)[:10]
    idcg = sum((2**g - 1) / math.log2(i + 2) for i, g in enumerate(ideal))
    return dcg / idcg if idcg else 0.0


# Checked at import: a broken metric must not silently skew every number below it.
assert ndcg_at_10(["a", "b", "c"], {"a": 2, "b": 1}) == 1.0
assert abs(ndcg_at_10(["x", "a"], {"a": 1}) - 1 / math.log2(3)) < 1e-12
assert ndcg_at_10(["x", "y"], {"a": 1}) == 0.0
assert ndcg_at_10(["a", "a", "b"], {"a": 1, "b": 1}) == 1.0
assert (
    abs(ndcg_at_10(["b", "a"], {"a": 2, "b": 1}) - (1 + 3 / math.log2(3)) / (3 + 1 / math.log2(3)))
    < 1e-12
)


def ranked_letters(service: SearchService, query: str, mode: str, k: int = 10) -> list[str]:
    """The letter ids of the first page (`k` letters) of a search, in rank order."""
    result = service.search(SearchRequest(q=query, mode=mode, per_page=k))
    return [hit.letter_id for hit in result.hits]


def evaluate(service: SearchService, queries: list[dict], mode: str) -> dict[str, float]:
    """nDCG@10 per query id of the service's search in `mode` ("hybrid", "keyword", "semantic").

    `queries` are the entries of an eval file such as dev-queries.json: dicts with "id", "query"
    and "relevant" (letter id -> grade).
    """
    return {
        q["id"]: ndcg_at_10(ranked_letters(service, q["query"], mode), q["relevant"])
        for q in queries
    }


# -- indexing ------------------------------------------------------------------------------


def _index_key(letters_dir: Path) -> str:
    """A digest of the indexer's code and the letter files: a change to either means a new store.

    The store only re-indexes letters whose parsed record changed, so edits to chunking, the
    document fields or the text index would otherwise be measured on stale chunks.
    """
    import indexer

    digest = hashlib.sha256()
    package = Path(indexer.__file__).parent
    for path in sorted(package.rglob("*")):
        if path.is_file() and path.suffix in (".py", ".json", ".txt"):
            digest.update(str(path.relative_to(package)).encode())
            digest.update(path.read_bytes())
    digest.update(str(letters_dir.resolve()).encode())
    for path in sorted(letters_dir.rglob("*")):
        if path.is_file():
            stat = path.stat()
            digest.update(
                f"{path.relative_to(letters_dir)}:{stat.st_size}:{stat.st_mtime_ns}".encode()
            )
    return digest.hexdigest()[:16]


def _prune_stores(data_dir: Path, keep: Path) -> None:
    """Delete all but the newest few bench stores (only directories this script made)."""
    stores = sorted(
        (p for p in data_dir.glob("store-*") if (p / _STORE_MARKER).is_file() and p != keep),
        key=lambda p: p.stat().st_mtime,
        reverse=True,
    )
    for old in stores[_STORES_KEPT - 1 :]:
        shutil.rmtree(old, ignore_errors=True)


def build_service(letters_dir: Path, data_dir: Path, embedder):
    """Index the letters (incrementally, into a store keyed by code and letters) and return the
    search service with the indexing summary and the files that failed."""
    from indexer.pipeline import index_letters, read_letters
    from indexer.stores.embedded import EmbeddedStore

    store_dir = data_dir / f"store-{_index_key(letters_dir)}"
    store_dir.mkdir(parents=True, exist_ok=True)
    (store_dir / _STORE_MARKER).write_text("made by bench/relevance.py; safe to delete\n")
    _prune_stores(data_dir, store_dir)
    store = EmbeddedStore(store_dir, dims=embedder.dims)
    failures: list[tuple[str, str]] = []
    letters = read_letters([str(letters_dir)], lambda src, why: failures.append((src, why)))
    summary = index_letters(letters, store, embedder)
    failures += summary.failed
    return SearchService(store, lambda: embedder), summary, failures


# -- report --------------------------------------------------------------------------------


def _mean(values: Iterable[float]) -> float:
    values = list(values)
    return sum(values) / len(values) if values else 0.0


def _print_table(queries: list[dict], columns: dict[str, dict[str, float]]) -> None:
    names = list(columns)
    width = max(len(n) for n in names) + 1
    head = f"{'id':<4} {'query':<44}" + "".join(f"{n:>{width}}" for n in names)
    print(head)
    print("-" * len(head))
    for q in queries:
        row = f"{q['id']:<4} {q['query'][:44]:<44}"
        row += "".join(f"{columns[n][q['id']]:>{width}.3f}" for n in names)
        print(row)
    print("-" * len(head))
    print(f"{'mean':<49}" + "".join(f"{_mean(columns[n].values()):>{width}.3f}" for n in names))


def _print_details(
    queries: list[dict],
    columns: dict[str, dict[str, float]],
    rankings: dict[str, dict[str, list[str]]],
    service: SearchService,
) -> None:
    """Top-10 letters of hybrid beside the reference RRF for every query hybrid loses on, then
    beside the best other system for queries where hybrid trails one of those."""
    hybrid = columns["hybrid"]
    losses = [q for q in queries if hybrid[q["id"]] < columns["ref-rrf"][q["id"]] - LOSS_MARGIN]
    print(
        f"\nQueries where hybrid loses to reference RRF by more than {LOSS_MARGIN}: "
        f"{len(losses)} of {len(queries)}"
    )
    for q in losses:
        _print_pair(q, "ref-rrf", columns, rankings, service)
    others = []
    for q in queries:
        if q in losses:
            continue
        best = max((n for n in columns if n != "hybrid"), key=lambda n: columns[n][q["id"]])
        if hybrid[q["id"]] < columns[best][q["id"]] - LOSS_MARGIN:
            others.append((q, best))
    print(
        f"\nOther queries where hybrid trails another system (reference or project mode) by "
        f"more than {LOSS_MARGIN}: {len(others)}"
    )
    for q, best in others:
        _print_pair(q, best, columns, rankings, service)


def _print_pair(
    q: dict,
    other: str,
    columns: dict[str, dict[str, float]],
    rankings: dict[str, dict[str, list[str]]],
    service: SearchService,
) -> None:
    grades = q["relevant"]
    qid = q["id"]
    print(
        f"\n{qid} {q['query']!r}: hybrid {columns['hybrid'][qid]:.3f} vs {other} "
        f"{columns[other][qid]:.3f}; relevant (grade): "
        + ", ".join(f"{d}({g})" for d, g in sorted(grades.items()))
    )
    result = service.search(SearchRequest(q=q["query"], mode="hybrid", per_page=10))
    theirs = rankings[other][qid][:10]
    print(f"  {'rank':<5}{other:<18}{'hybrid':<18}hybrid's best chunk (*N = relevant, grade N)")
    for i in range(10):
        their_id = theirs[i] if i < len(theirs) else ""
        hit = result.hits[i] if i < len(result.hits) else None
        best = ""
        if hit:
            doc = hit.doc
            where = f"item {doc.get('item_index')}" if doc.get("item_index") else "summary"
            text = " ".join((doc.get("request") or doc.get("text") or "").split())
            best = f"{where} [{', '.join(doc.get('decision') or [])}]: {text[:60]}"
        row = f"  {i + 1:<5}{_mark(their_id, grades):<18}"
        row += f"{_mark(hit.letter_id if hit else '', grades):<18}{best}"
        print(row)
    found = {h.letter_id for h in result.hits}
    missed = sorted(d for d in grades if d not in found)
    if missed:
        print(f"  relevant letters missing from hybrid's top 10: {', '.join(missed)}")


def _mark(letter_id: str, grades: Mapping[str, int]) -> str:
    grade = grades.get(letter_id, 0)
    return f"{letter_id}*{grade}" if grade else letter_id


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print the report."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--letters", type=Path, default=DEFAULT_LETTERS)
    parser.add_argument("--queries", type=Path, default=DEFAULT_QUERIES)
    parser.add_argument(
        "--data-dir",
        type=Path,
        default=DEFAULT_DATA,
        help="where the index and the embedding cache live between runs (default bench/.data)",
    )
    parser.add_argument(
        "--bm25-idf",
        choices=("lucene", "okapi"),
        default="lucene",
        help="the reference BM25's idf: Lucene's log(1+...) or rank_bm25's BM25Okapi",
    )
    args = parser.parse_args(argv)

    from bench.reference import SYSTEMS as REFERENCE_SYSTEMS
    from bench.reference import ReferenceIndex
    from indexer.embedder import Embedder

    started = time.perf_counter()
    queries = json.loads(args.queries.read_text())
    args.data_dir.mkdir(parents=True, exist_ok=True)
    embedder = Embedder(cache_path=args.data_dir / "embeddings.sqlite")

    t0 = time.perf_counter()
    service, summary, failures = build_service(args.letters, args.data_dir, embedder)
    letters_indexed, chunks_indexed = service.store.counts()
    t_index = time.perf_counter() - t0

    t0 = time.perf_counter()
    reference = ReferenceIndex(args.letters, embedder, idf=args.bm25_idf)
    t_ref_build = time.perf_counter() - t0

    # Embedding the queries up front keeps the model's first-call warm-up out of the search
    # timings below; both systems then get the query vectors from the Embedder's LRU cache.
    t0 = time.perf_counter()
    for q in queries:
        embedder.embed_query(q["query"])
    t_embed_queries = time.perf_counter() - t0

    t0 = time.perf_counter()
    rankings: dict[str, dict[str, list[str]]] = {f"ref-{s}": {} for s in REFERENCE_SYSTEMS}
    for q in queries:
        for system, ranking in reference.rank(q["query"]).items():
            rankings[f"ref-{system}"][q["id"]] = ranking
    columns: dict[str, dict[str, float]] = {
        name: {q["id"]: ndcg_at_10(by_query[q["id"]], q["relevant"]) for q in queries}
        for name, by_query in rankings.items()
    }
    t_ref_query = time.perf_counter() - t0

    t0 = time.perf_counter()
    for mode in MODES:
        columns[mode] = evaluate(service, queries, mode)
    t_project_query = time.perf_counter() - t0
    for mode in MODES:
        rankings[mode] = {q["id"]: ranked_letters(service, q["query"], mode) for q in queries}

    project_ids = set(service.store.fingerprints())
    print(f"letters: {args.letters.resolve()}  queries: {args.queries.resolve()} ({len(queries)})")
    print(
        f"project index: {letters_indexed} letters, {chunks_indexed} chunks "
        f"({summary.indexed} indexed, {summary.skipped} unchanged, {summary.embedded} texts "
        f"embedded this run) in {service.store.root}"
    )
    print(
        f"reference: {len(reference.letters)} letters, {len(reference.chunk_texts)} chunks of "
        f"180 words, BM25 idf={args.bm25_idf}"
    )
    for source, reason in failures:
        print(f"  FAILED {source}: {reason}")
    if project_ids != set(reference.letters):
        print(
            "  WARNING letter ids differ: only in project "
            f"{sorted(project_ids - set(reference.letters))}, only in reference "
            f"{sorted(set(reference.letters) - project_ids)}"
        )
    judged = {d for q in queries for d in q["relevant"]}
    if judged - project_ids:
        print(f"  WARNING judged letters not in the project index: {sorted(judged - project_ids)}")
    print()
    _print_table(queries, columns)
    print(
        f"\nmachine: {os.cpu_count()} CPUs, {platform.platform()}, "
        f"Python {platform.python_version()}"
    )
    print(
        f"time: project index {t_index:.1f} s, reference build {t_ref_build:.1f} s, "
        f"query embedding {t_embed_queries:.1f} s, reference queries {t_ref_query:.2f} s, "
        f"project queries ({len(MODES)} modes x {len(queries)}) {t_project_query:.2f} s; "
        f"total {time.perf_counter() - started:.1f} s"
    )
    _print_details(queries, columns, rankings, service)
    embedder.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
