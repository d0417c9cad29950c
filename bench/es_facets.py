"""Facet counting on Elasticsearch: which request shape counts letters per facet value fastest.

    python bench/es_facets.py load DATA_DIR --es-url URL      # load like side_by_side.py
    python bench/es_facets.py run DATA_DIR --es-url URL [--runs 25]

`load` loads DATA_DIR (an embedded index) into alias `facets` (refresh off while loading, like
bench/side_by_side.py) and makes a copy `facets-eager` whose mapping has
eager_global_ordinals on letter_id and the facet fields (reindex + force-merge both to one
segment... no: both are left with the segments loading made, then force-merged to the same
count, so they compare). `run` times request shapes; see the report in the session notes.
"""

from __future__ import annotations

import argparse
import copy
import os
import statistics
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.side_by_side import load_es  # noqa: E402
from indexer.query_text import parse_query  # noqa: E402
from indexer.schema import facet_names  # noqa: E402
from indexer.stores.base import Filters  # noqa: E402
from indexer.stores.elasticsearch import (  # noqa: E402
    COMPOSITE_PAGE,
    PRECISION_THRESHOLD,
    ElasticsearchStore,
    build_index_body,
    build_query,
)
from indexer.stores.embedded import EmbeddedStore  # noqa: E402

ALIAS = "facets"
EAGER = "facets-eager"


def eager_body() -> dict[str, Any]:
    body = copy.deepcopy(build_index_body("chunks"))
    props = body["mappings"]["properties"]
    for name in ("letter_id", *facet_names(), "decision_month"):
        props[name]["eager_global_ordinals"] = True
    return body


def cmd_load(args: argparse.Namespace) -> None:
    """Load DATA_DIR into alias `facets` as bench/side_by_side.py does (refresh off)."""
    embedded = EmbeddedStore(args.data_dir)
    es = ElasticsearchStore(args.es_url, ALIAS, request_timeout=600)
    t = time.perf_counter()
    fig = load_es(es, embedded, "off", 16)
    print(
        f"loaded {fig['chunks']} chunks of {fig['letters']} letters in "
        f"{time.perf_counter() - t:.0f} s",
        flush=True,
    )


class EagerStore(ElasticsearchStore):
    """The store with eager_global_ordinals on letter_id, the facets and decision_month."""

    def index_body(self, kind: str) -> dict[str, Any]:
        return eager_body() if kind == "chunks" else super().index_body(kind)


def cmd_eager(args: argparse.Namespace) -> None:
    """Load DATA_DIR a second time, into alias `facets-eager` whose chunks mapping has
    eager_global_ordinals on letter_id, the facet fields and decision_month (the rest as
    build_index_body("chunks")). The test distribution has no reindex module, and the
    `analysed` fields are not in _source: the copy is loaded from DATA_DIR as `load` does."""
    embedded = EmbeddedStore(args.data_dir)
    es = EagerStore(args.es_url, EAGER, request_timeout=600)
    t = time.perf_counter()
    fig = load_es(es, embedded, "off", 16)
    print(
        f"loaded {fig['chunks']} chunks into {EAGER} in {time.perf_counter() - t:.0f} s", flush=True
    )


def cmd_merge(args: argparse.Namespace) -> None:
    """Force-merge both chunk indices to at most --segments segments (the same count)."""
    es = ElasticsearchStore(args.es_url, ALIAS, request_timeout=3600)
    for alias in (ALIAS, EAGER):
        (index,) = es._alias_targets(alias)
        es.client.indices.forcemerge(index=index, max_num_segments=args.segments)
        es.client.indices.refresh(index=index)
    print(f"force-merged both to at most {args.segments} segments", flush=True)


# ---------------------------------------------------------------------------------------------
# Counting shapes

#: What a keyword search counts: the 13 facets in one facet_counts call, decision_month in a
#: second (indexer/search.py `_counts`, no facet selected).
FACETS = [*facet_names(), "decision_month"]
QUERIES = {
    "pain": "pain",
    "medically necessary": "medically necessary",
    "zolpidem": "zolpidem",
    "match_all": None,
}
TERMS_SIZE = 10000


def card(pt: int = PRECISION_THRESHOLD, hint: str | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"field": "letter_id", "precision_threshold": pt}
    if hint:
        body["execution_hint"] = hint
    return {"cardinality": body}


class Shape:
    """A way to count: the aggregation of one facet and how its answer reads."""

    name = ""
    paged = False

    def agg(self, facet: str) -> dict[str, Any]:
        raise NotImplementedError

    def read(self, facet: str, agg: dict[str, Any]) -> dict[str, int]:
        raise NotImplementedError

    filter_path: str | None = None


class Composite(Shape):
    paged = True

    def __init__(self, pt: int = PRECISION_THRESHOLD, hint: str | None = None) -> None:
        self.pt, self.hint = pt, hint
        self.name = f"composite+cardinality(pt {pt}{', ' + hint if hint else ''})"

    def agg(self, facet: str, after: dict | None = None) -> dict[str, Any]:
        comp: dict[str, Any] = {
            "size": COMPOSITE_PAGE,
            "sources": [{facet: {"terms": {"field": facet}}}],
        }
        if after:
            comp["after"] = after
        return {"composite": comp, "aggregations": {"letters": card(self.pt, self.hint)}}

    def read(self, facet: str, agg: dict[str, Any]) -> dict[str, int]:
        return {str(b["key"][facet]): int(b["letters"]["value"]) for b in agg["buckets"]}


class Terms(Shape):
    def __init__(
        self,
        pt: int = PRECISION_THRESHOLD,
        hint: str | None = None,
        terms_hint: str | None = None,
        order_key: bool = True,
    ) -> None:
        self.pt, self.hint, self.terms_hint, self.order_key = pt, hint, terms_hint, order_key
        extra = [
            x
            for x in (
                hint and f"card {hint}",
                terms_hint and f"terms {terms_hint}",
                not order_key and "by count",
            )
            if x
        ]
        self.name = f"terms+cardinality(pt {pt}{', ' if extra else ''}{', '.join(extra)})"

    def agg(self, facet: str) -> dict[str, Any]:
        terms: dict[str, Any] = {"field": facet, "size": TERMS_SIZE}
        if self.order_key:
            terms["order"] = {"_key": "asc"}
        if self.terms_hint:
            terms["execution_hint"] = self.terms_hint
        return {"terms": terms, "aggregations": {"letters": card(self.pt, self.hint)}}

    def read(self, facet: str, agg: dict[str, Any]) -> dict[str, int]:
        if agg.get("sum_other_doc_count"):
            raise RuntimeError(f"{facet}: values left out")
        return {str(b["key"]): int(b["letters"]["value"]) for b in agg["buckets"]}


class TermsLetters(Shape):
    """Exact: letter_id terms under each facet value; the letters are the sub-buckets, counted
    by a `bucket_count`-like stats_bucket (the letter ids are filtered out of the answer)."""

    def __init__(self, ship_ids: bool = False) -> None:
        self.ship_ids = ship_ids
        self.name = "terms > terms(letter_id) " + (
            "(ids shipped, counted here)" if ship_ids else "+ stats_bucket count"
        )
        if not ship_ids:
            self.filter_path = (
                "aggregations.*.buckets.key,aggregations.*.buckets.n.count,"
                "aggregations.*.sum_other_doc_count"
            )

    def agg(self, facet: str) -> dict[str, Any]:
        sub: dict[str, Any] = {"ids": {"terms": {"field": "letter_id", "size": 65000}}}
        if not self.ship_ids:
            sub["n"] = {"stats_bucket": {"buckets_path": "ids>_count"}}
        return {
            "terms": {"field": facet, "size": TERMS_SIZE, "order": {"_key": "asc"}},
            "aggregations": sub,
        }

    def read(self, facet: str, agg: dict[str, Any]) -> dict[str, int]:
        if agg.get("sum_other_doc_count"):
            raise RuntimeError(f"{facet}: values left out")
        if self.ship_ids:
            return {str(b["key"]): len(b["ids"]["buckets"]) for b in agg["buckets"]}
        return {str(b["key"]): int(b["n"]["count"]) for b in agg["buckets"]}


def search(client: Any, index: str, body: dict[str, Any], filter_path: str | None = None) -> dict:
    opts: dict[str, Any] = {"request_cache": False}
    if filter_path:
        opts["filter_path"] = filter_path
    return client.search(index=index, body=body, **opts).body


def count_group(
    client: Any, index: str, shape: Shape, query: dict[str, Any], facets: list[str]
) -> dict[str, dict[str, int]]:
    """One request for all of `facets` (more pages for a paged shape that needs them)."""
    out: dict[str, dict[str, int]] = {f: {} for f in facets}
    pending, after = list(facets), {}
    while pending:
        aggs = {f: (shape.agg(f, after.get(f)) if shape.paged else shape.agg(f)) for f in pending}
        resp = search(
            client, index, {"size": 0, "query": query, "aggregations": aggs}, shape.filter_path
        )
        got = resp.get("aggregations") or {}
        for f in list(pending):
            agg = got.get(f) or {"buckets": []}
            out[f].update(shape.read(f, agg))
            if shape.paged and len(agg["buckets"]) >= COMPOSITE_PAGE and agg.get("after_key"):
                after[f] = agg["after_key"]
            else:
                pending.remove(f)
    return {f: {v: n for v, n in c.items() if n} for f, c in out.items()}


POOL = ThreadPoolExecutor(16)


def count(
    client: Any, index: str, shape: Shape, query: dict[str, Any], mode: str
) -> dict[str, dict[str, int]]:
    """`mode`: service (13 facets, then decision_month), one (all 14 in one request),
    per-facet (14 requests one after the other), parallel-N (14 requests, N at a time)."""
    if mode == "service":
        groups = [FACETS[:-1], FACETS[-1:]]
    elif mode == "one":
        groups = [FACETS]
    else:
        groups = [[f] for f in FACETS]
    if mode.startswith("parallel"):
        width = int(mode.split("-")[1])
        out: dict[str, dict[str, int]] = {}
        for start in range(0, len(groups), width):
            for part in POOL.map(
                lambda g: count_group(client, index, shape, query, g), groups[start : start + width]
            ):
                out.update(part)
        return out
    out = {}
    for g in groups:
        out.update(count_group(client, index, shape, query, g))
    return out


def esql_count(
    client: Any, index: str, query: dict[str, Any], mode: str, exact: bool = True
) -> dict[str, dict[str, int]]:
    """ES|QL, the chunk query given as the request's Query DSL `filter`; exact: distinct
    (value, letter) pairs, then pairs per value. One request per facet."""

    def one(f: str) -> dict[str, int]:
        if exact:
            q = (
                f"FROM {index} | STATS BY {f}, letter_id | STATS n = COUNT(*) BY {f} "
                f"| WHERE {f} IS NOT NULL | LIMIT {TERMS_SIZE}"
            )
        else:
            q = (
                f"FROM {index} | STATS n = COUNT_DISTINCT(letter_id, {PRECISION_THRESHOLD}) "
                f"BY {f} | WHERE {f} IS NOT NULL | LIMIT {TERMS_SIZE}"
            )
        resp = client.esql.query(query=q, filter=query).body
        cols = [c["name"] for c in resp["columns"]]
        i, j = cols.index(f), cols.index("n")
        return {str(r[i]): int(r[j]) for r in resp["values"] if r[j]}

    if mode.startswith("parallel"):
        return dict(zip(FACETS, POOL.map(one, FACETS), strict=True))
    return {f: one(f) for f in FACETS}


def max_error(a: dict[str, dict[str, int]], b: dict[str, dict[str, int]]) -> tuple[int, float]:
    """Largest absolute difference over every facet value, and the largest relative one."""
    worst, rel = 0, 0.0
    for f in FACETS:
        x, y = a.get(f, {}), b.get(f, {})
        for v in set(x) | set(y):
            d = abs(x.get(v, 0) - y.get(v, 0))
            worst = max(worst, d)
            if d:
                rel = max(rel, d / max(x.get(v, 0), 1))
    return worst, rel


def run(args: argparse.Namespace) -> None:
    es = ElasticsearchStore(args.es_url, ALIAS, request_timeout=120)
    client = es.client
    (main_index,) = es._alias_targets(ALIAS)
    (eager_index,) = es._alias_targets(EAGER)
    indices = {"loaded": main_index, "eager": eager_index}
    segs = {k: len(client.cat.segments(index=v, format="json").body) for k, v in indices.items()}
    print(f"indices (segments): {segs}", flush=True)
    for idx in indices.values():
        client.indices.put_settings(index=idx, settings={"index.requests.cache.enable": False})
    dsl = {
        name: build_query(parse_query(q) if q else None, Filters()) for name, q in QUERIES.items()
    }
    parsed = {name: (parse_query(q) if q else None) for name, q in QUERIES.items()}

    # Reference: ES's exact counts (terms > terms(letter_id), ids shipped and counted here).
    exact_shape = TermsLetters(ship_ids=True)
    exact = {qn: count(client, main_index, exact_shape, dsl[qn], "per-facet") for qn in QUERIES}
    for qn in QUERIES:
        n_values = {f: len(exact[qn][f]) for f in FACETS}
        letters = es.count_letters(parsed[qn], Filters())
        chunks = client.count(index=main_index, query=dsl[qn]).body["count"]
        print(
            f"{qn}: {chunks} chunks of {letters} letters; values per facet {n_values}", flush=True
        )

    stores = {}

    def store_for(index: str) -> ElasticsearchStore:
        if index not in stores:
            stores[index] = ElasticsearchStore(args.es_url, index, request_timeout=120)
        return stores[index]

    def service_a(index: str):
        def fn(qn: str) -> dict[str, dict[str, int]]:
            store = store_for(index)
            out = store.facet_counts(parsed[qn], Filters(), FACETS[:-1])
            out.update(store.facet_counts(parsed[qn], Filters(), FACETS[-1:]))
            return out

        return fn

    embedded = EmbeddedStore(args.data_dir)
    embedded.prepare()

    def emb(qn: str) -> dict[str, dict[str, int]]:
        out = embedded.facet_counts(parsed[qn], Filters(), FACETS[:-1])
        out.update(embedded.facet_counts(parsed[qn], Filters(), FACETS[-1:]))
        return out

    def es_shape(shape: Shape, mode: str, index: str = main_index):
        return lambda qn: count(client, index, shape, dsl[qn], mode)

    def esql(mode: str, exact_: bool = True):
        return lambda qn: esql_count(client, main_index, dsl[qn], mode, exact_)

    # name -> fn(query name) -> counts
    def query_only(qn: str) -> dict[str, dict[str, int]]:
        search(client, main_index, {"size": 0, "query": dsl[qn]})
        return {}

    # name -> fn(query name) -> counts
    cases: dict[str, Callable[[str], dict]] = {
        "(a) current: store.facet_counts x2 (composite, pt 40000)": service_a(main_index),
        "(a') composite pt 40000, all 14 in one request": es_shape(Composite(), "one"),
        "(b) composite pt 3000, service split": es_shape(Composite(3000), "service"),
        "(b) composite pt 100, service split": es_shape(Composite(100), "service"),
        "(c) terms+card pt 40000, one request": es_shape(Terms(), "one"),
        "(c) terms+card pt 3000, one request": es_shape(Terms(3000), "one"),
        "(c) terms+card pt 100, one request": es_shape(Terms(100), "one"),
        "(d) composite pt 40000, per facet parallel 4": es_shape(Composite(), "parallel-4"),
        "(d) terms+card pt 40000, per facet sequential": es_shape(Terms(), "per-facet"),
        "(d) terms+card pt 40000, per facet parallel 4": es_shape(Terms(), "parallel-4"),
        "(e) composite pt 40000, card global_ordinals, one": es_shape(
            Composite(hint="global_ordinals"), "one"
        ),
    }
    for hint in ("direct", "global_ordinals", "segment_ordinals", "save_time_heuristic"):
        cases[f"(e) terms+card pt 40000, card {hint}, one"] = es_shape(Terms(hint=hint), "one")
    cases["(e) terms map + card pt 40000, one"] = es_shape(Terms(terms_hint="map"), "one")
    cases["(e) eager_global_ordinals copy: current x2"] = service_a(EAGER)
    cases["(e) eager_global_ordinals copy: terms+card pt 40000, one"] = es_shape(
        Terms(), "one", EAGER
    )
    cases.update(
        {
            "(f) terms>terms(letter_id)+stats_bucket, parallel 4": es_shape(
                TermsLetters(), "parallel-4"
            ),
            "(f) terms>terms(letter_id), ids shipped, parallel 4": es_shape(
                TermsLetters(True), "parallel-4"
            ),
            "floor: the query alone (size 0, no aggregations)": query_only,
            "embedded store facet_counts x2": emb,
        }
    )
    if args.esql:  # not in the test distribution (no x-pack): 405 on /_query
        cases["(f) ES|QL exact (STATS BY f, letter_id | STATS COUNT BY f), parallel"] = esql(
            "parallel"
        )
        cases["(f) ES|QL COUNT_DISTINCT(letter_id, 40000), per facet"] = esql("per-facet", False)
    if args.only:
        cases = {k: v for k, v in cases.items() if any(o in k for o in args.only.split("|"))}

    # answers and errors (first run doubles as a warm-up)
    ref_a = (
        {qn: cases[next(iter(cases))](qn) for qn in QUERIES}
        if not args.only
        else {qn: service_a(main_index)(qn) for qn in QUERIES}
    )
    errors: dict[str, tuple] = {}
    for name, fn in cases.items():
        try:
            got = {qn: fn(qn) for qn in QUERIES}
        except Exception as exc:  # noqa: BLE001
            print(f"{name}: FAILED {str(exc)[:300]}", flush=True)
            errors[name] = None
            continue
        if name.startswith("floor"):
            errors[name] = ("-", "-", 0.0)
            continue
        ea = max(max_error(ref_a[qn], got[qn])[0] for qn in QUERIES)
        ex = [max_error(exact[qn], got[qn]) for qn in QUERIES]
        errors[name] = (ea, max(e[0] for e in ex), max(e[1] for e in ex))
    ok = [n for n in cases if errors.get(n) is not None]
    times: dict[tuple[str, str], list[float]] = {}
    for _ in range(args.runs):
        for qn in QUERIES:
            for name in ok:
                t = time.perf_counter()
                cases[name](qn)
                times.setdefault((name, qn), []).append((time.perf_counter() - t) * 1000)
    head = (
        "| shape | "
        + " | ".join(f"{q} p50 ms" for q in QUERIES)
        + " | max abs err vs (a) | max abs err vs exact | max rel err vs exact |"
    )
    print("\n" + head)
    print("|" + "---|" * (head.count("|") - 1))
    for name in ok:
        ea, ex, rel = errors[name]
        cells = " | ".join(f"{statistics.median(times[(name, q)]):.1f}" for q in QUERIES)
        print(f"| {name} | {cells} | {ea} | {ex} | {rel:.2%} |", flush=True)
    print(
        f"\n(median of {args.runs} runs, shapes interleaved; request cache off; wall time "
        "in this process: HTTP, JSON and reading the answer included)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("step", choices=("load", "eager", "merge", "run"))
    parser.add_argument("data_dir", type=Path)
    parser.add_argument("--es-url", default=os.environ.get("ELASTICSEARCH_URL"))
    parser.add_argument("--runs", type=int, default=25)
    parser.add_argument("--segments", type=int, default=5)
    parser.add_argument("--esql", action="store_true", help="also time ES|QL (needs x-pack)")
    parser.add_argument(
        "--only", default="", help="cases whose name holds one of these (|-separated)"
    )
    args = parser.parse_args()
    {"load": cmd_load, "eager": cmd_eager, "merge": cmd_merge, "run": run}[args.step](args)


if __name__ == "__main__":
    main()
