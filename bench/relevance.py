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


def build_service(letters_dir: Path, data_dir: Path, embedder, backend: str = "embedded"):
    """Index the letters (incrementally, into a store keyed by code and letters) and return the
    search service with the indexing summary and the files that failed.

    On Elasticsearch (ELASTICSEARCH_URL) the store is an alias named after the same key."""
    from indexer.pipeline import index_letters, read_letters
    from indexer.stores.embedded import EmbeddedStore

    key = _index_key(letters_dir)
    if backend == "elasticsearch":
        from indexer.stores.elasticsearch import ElasticsearchStore

        store = ElasticsearchStore.from_env(index=f"imr-bench-{key}")
    else:
        store_dir = data_dir / f"store-{key}"
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


#: The judged query sets: name -> (queries, the letters they were judged over).
SETS = {
    "dev": (DEFAULT_QUERIES, DEFAULT_LETTERS),
    "tune": (ROOT / "bench" / "judged" / "tune.json", ROOT / "samples" / "letters"),
    "heldout": (ROOT / "bench" / "judged" / "heldout.json", ROOT / "samples" / "letters"),
    "heldout2": (ROOT / "bench" / "judged" / "heldout2.json", ROOT / "samples" / "letters"),
}


def on_topic_share(ranked: list[str], grades: Mapping[str, int]) -> float:
    """Share of the first ten letters that are on the topic (judged relevant at any grade)."""
    top = list(dict.fromkeys(ranked))[:10]
    return sum(1 for d in top if grades.get(d, 0) > 0) / len(top) if top else 0.0


def outcome_shares(service: SearchService, queries: list[dict], mode: str) -> list[tuple]:
    """For each query with outcome words: (id, share with them, share of the bare topic)."""
    from indexer.understand import implied_decision, topic_of

    out = []
    for q in queries:
        if implied_decision(q["query"]) is None or topic_of(q["query"]) == q["query"]:
            continue
        grades = q["relevant"]
        asked = on_topic_share(ranked_letters(service, q["query"], mode), grades)
        bare = on_topic_share(ranked_letters(service, topic_of(q["query"]), mode), grades)
        out.append((q["id"], asked, bare))
    return out


def unclassified_items(service: SearchService) -> tuple[int, int, list[str]]:
    """Items without a treatment class, all items, and the requests of the unclassified."""
    missing, total, requests = 0, 0, []
    for letter_id in sorted(service.store.fingerprints()):
        for item in (service.letter(letter_id) or {}).get("record", {}).get("items", []):
            total += 1
            if not (item.get("treatment") or {}).get("class"):
                missing += 1
                requests.append(f"{letter_id}: {item.get('request')}")
    return missing, total, requests


def _kind_table(queries: list[dict], columns: dict[str, dict[str, float]]) -> None:
    kinds = sorted({q.get("kind", "-") for q in queries})
    names = list(columns)
    width = max(len(n) for n in names) + 1
    print(f"{'kind':<12}{'n':>4}" + "".join(f"{n:>{width}}" for n in names))
    for kind in kinds:
        ids = [q["id"] for q in queries if q.get("kind", "-") == kind]
        row = f"{kind:<12}{len(ids):>4}"
        row += "".join(f"{_mean(columns[n][i] for i in ids):>{width}.3f}" for n in names)
        print(row)
    ids = [q["id"] for q in queries]
    print(
        f"{'all':<12}{len(ids):>4}"
        + "".join(f"{_mean(columns[n][i] for i in ids):>{width}.3f}" for n in names)
    )
    worse = [
        kind
        for kind in [*kinds, None]
        if _mean(columns["hybrid"][q["id"]] for q in queries if kind in (None, q.get("kind", "-")))
        < _mean(columns["keyword"][q["id"]] for q in queries if kind in (None, q.get("kind", "-")))
    ]
    verdict = (
        "hybrid >= keyword overall and on every kind"
        if not worse
        else ("hybrid < keyword on: " + ", ".join(k or "all" for k in worse))
    )
    print(verdict)


def run_set(
    name: str, queries_path: Path, letters: Path, args, embedder, details: bool
) -> dict[str, float]:
    """Index a set's letters, run its queries in every mode and print its report."""
    from bench.reference import SYSTEMS as REFERENCE_SYSTEMS
    from bench.reference import ReferenceIndex

    queries = json.loads(queries_path.read_text())
    t0 = time.perf_counter()
    service, summary, failures = build_service(letters, args.data_dir, embedder, args.backend)
    letters_indexed, chunks_indexed = service.store.counts()
    t_index = time.perf_counter() - t0
    reference = ReferenceIndex(letters, embedder, idf=args.bm25_idf)
    for q in queries:
        embedder.embed_query(q["query"])
    rankings: dict[str, dict[str, list[str]]] = {f"ref-{s}": {} for s in REFERENCE_SYSTEMS}
    for q in queries:
        for system, ranking in reference.rank(q["query"]).items():
            rankings[f"ref-{system}"][q["id"]] = ranking
    t0 = time.perf_counter()
    for mode in MODES:
        rankings[mode] = {q["id"]: ranked_letters(service, q["query"], mode) for q in queries}
    t_query = time.perf_counter() - t0
    columns = {
        system: {q["id"]: ndcg_at_10(by_query[q["id"]], q["relevant"]) for q in queries}
        for system, by_query in rankings.items()
    }
    print(f"\n=== {name}: {queries_path} ({len(queries)} queries) over {letters}")
    print(
        f"project index: {letters_indexed} letters, {chunks_indexed} chunks "
        f"({summary.indexed} indexed, {summary.embedded} texts embedded) in {t_index:.1f} s; "
        f"{len(MODES)} modes x {len(queries)} queries in {t_query:.2f} s"
    )
    for source, reason in failures:
        print(f"  FAILED {source}: {reason}")
    judged = {d for q in queries for d in q["relevant"]}
    unknown = judged - set(service.store.fingerprints())
    if unknown:
        print(f"  WARNING judged letters not in the index: {sorted(unknown)}")
    if details:
        print()
        _print_table(queries, columns)
    print("\nnDCG@10 by kind of query")
    _kind_table(queries, columns)
    print(
        "\non-topic share of the top 10 for queries with outcome words: with them / the bare topic"
    )
    for mode in MODES:
        shares = outcome_shares(service, queries, mode)
        if not shares:
            continue
        asked = _mean(a for _, a, _ in shares)
        bare = _mean(b for _, _, b in shares)
        kept = asked / bare if bare else 0.0
        print(f"  {mode:<9} {len(shares)} queries: {asked:.3f} / {bare:.3f} = {kept:.0%} kept")
        if details:
            for qid, a, b in shares:
                print(f"    {qid}: {a:.1f} / {b:.1f}")
    missing, total, requests = unclassified_items(service)
    print(f"\nitems without a treatment class: {missing} of {total} ({missing / total:.1%})")
    for line in requests:
        print(f"  {line}")
    if details:
        _print_details(queries, columns, rankings, service)
    return {mode: _mean(columns[mode].values()) for mode in columns}


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print the report."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--set",
        dest="sets",
        action="append",
        choices=sorted(SETS),
        help="a judged query set (repeatable; default: every set whose file exists)",
    )
    parser.add_argument("--letters", type=Path, help="with --queries: the letters judged")
    parser.add_argument("--queries", type=Path, help="a judged query file of your own")
    parser.add_argument("--details", action="store_true", help="per-query tables and losses")
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
    parser.add_argument(
        "--backend",
        choices=("embedded", "elasticsearch"),
        default="embedded",
        help="the store to search (elasticsearch: the server at ELASTICSEARCH_URL)",
    )
    args = parser.parse_args(argv)

    from indexer.embedder import Embedder

    started = time.perf_counter()
    if args.queries:
        chosen = {"custom": (args.queries, args.letters or DEFAULT_LETTERS)}
    else:
        names = args.sets or [n for n, (q, _) in SETS.items() if q.is_file()]
        chosen = {n: SETS[n] for n in names}
    args.data_dir.mkdir(parents=True, exist_ok=True)
    embedder = Embedder(cache_path=args.data_dir / "embeddings.sqlite")
    print(
        f"machine: {os.cpu_count()} CPUs, {platform.platform()}, Python {platform.python_version()}"
    )
    means = {}
    for name, (queries, letters) in chosen.items():
        means[name] = run_set(name, queries, letters, args, embedder, args.details)
    print("\n=== summary: mean nDCG@10")
    systems = list(next(iter(means.values())))
    print(f"{'set':<10}" + "".join(f"{s:>11}" for s in systems))
    for name, row in means.items():
        print(f"{name:<10}" + "".join(f"{row[s]:>11.3f}" for s in systems))
    print(f"total {time.perf_counter() - started:.1f} s")
    embedder.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
