"""The bodies of Elasticsearch requests, each built by a pure function.

Every request body is built by a pure, module-level function (``build_*`` here,
``chunk_actions`` and ``letter_actions`` in `bulk`) that the tests compare with literal bodies
and validate strictly against Elastic's OpenAPI document; `ElasticsearchStore` only sends them
and reads the answers.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import replace
from typing import Any

import numpy as np

from ...query_text import ParsedQuery
from ...schema import DATE_FIELDS, EMBEDDING_DIMS, fields, index_definition
from ..base import RANKING_FIELDS, Filters
from .text import simple_query

#: The user's words are already free of query syntax (`parse_query` strips it); only phrases
#: and whitespace keep a meaning, so a stray operator can never change what a query means.
#: Buckets per page of a `composite` aggregation (facets and statistics read every value).
COMPOSITE_PAGE = 1000
#: Values one facet's `terms` aggregation holds; a facet with more is counted page by page.
FACET_VALUES = 5000
#: Cardinality is exact in practice below this many letters (Elasticsearch's maximum).
PRECISION_THRESHOLD = 40000
MAX_KNN_CANDIDATES = 10000
#: Elasticsearch's `index.max_result_window`: no search may ask for more hits.
MAX_WINDOW = 10000
#: Most chunk ids a single `terms` clause carries (Elasticsearch's index.max_terms_count is
#: 65536 by default).
MAX_TERMS = 50000
LETTER_CHUNKS_SIZE = 10000
SORTS = ("relevance", "newest")


# ---------------------------------------------------------------------------------------------
# Field checks


def _field_types() -> dict[str, str]:
    return {f.name: f.type for f in fields()}


def _keyword_field(name: str, what: str) -> str:
    if _field_types().get(name) != "keyword":
        raise ValueError(f"{what}: {name!r} is not a keyword field of mappings/chunks.json")
    return name


# ---------------------------------------------------------------------------------------------
# Query bodies (pure)


def build_filter_clauses(filters: Filters) -> list[dict[str, Any]]:
    """Return the `filter` clauses of `filters` (not the letter exclusions: see
    `build_exclusion_clauses`).

    One `terms` per facet (its values OR'ed; facets AND'ed as separate clauses; a facet given no
    values restricts nothing), a `range` per date field (`gte`/`lte`, strict_date), a `terms`
    on chunk_id for `chunk_ids` (an empty tuple matches nothing), `term` on `section` and
    `term` `window: 0` for `first_window_only`.
    """
    clauses: list[dict[str, Any]] = []
    for name, values in filters.terms:
        _keyword_field(name, "facet filter")
        if values:
            clauses.append({"terms": {name: list(values)}})
    for name, start, end in filters.date_ranges:
        if name not in DATE_FIELDS:
            raise ValueError(f"date filter: {name!r} is not one of {DATE_FIELDS}")
        bounds: dict[str, Any] = {}
        if start:
            bounds["gte"] = start
        if end:
            bounds["lte"] = end
        if bounds:
            clauses.append({"range": {name: {**bounds, "format": "strict_date"}}})
    if filters.chunk_ids is not None:
        clauses.append({"terms": {"chunk_id": list(filters.chunk_ids)}})
    if filters.section is not None:
        clauses.append({"term": {"section": filters.section}})
    if filters.first_window_only:
        clauses.append({"term": {"window": 0}})
    return clauses


def build_exclusion_clauses(filters: Filters) -> list[dict[str, Any]]:
    """Return the `must_not` clauses of `filters`: the excluded letters."""
    if not filters.exclude_letter_ids:
        return []
    return [{"terms": {"letter_id": list(filters.exclude_letter_ids)}}]


def build_text_query(query: ParsedQuery | None) -> dict[str, Any]:
    """Return the BM25 query of the user's words.

    `match_all` for None (or a query without clauses). Otherwise a `bool`: each required
    (+) clause is a `must` of its own, the optional clauses one `should` (at least one must
    match when nothing is required), and the excluded clauses one `must_not` (any of them
    excludes). Each is a `simple_query_string` over the analysed text fields with their boosts
    (`text`), phrases in quotes, drug names with their synonyms. Exclusions are never put in
    the positive query string: with `default_operator: or`, `-foo bar` means "bar OR NOT foo",
    which matches nearly everything. A query of exclusions only matches everything else. As on
    the embedded store, a required clause of stop words only matches nothing (no chunk holds
    it), optional words that are all stop words match nothing, and excluded stop words exclude
    nothing.
    """
    if query is None or not query.clauses:
        return {"match_all": {}}
    required = [simple_query([c]) for c in query.clauses if c.occur == "must"]
    if None in required:  # a required word that is a stop word: nothing holds it
        return {"match_none": {}}
    optional = [c for c in query.clauses if c.occur == "should"]
    excluded = simple_query(query.negative)
    body: dict[str, Any] = {}
    if required:
        body["must"] = required
    if optional:
        offered = simple_query(optional)
        if offered is None and not required:
            return {"match_none": {}}
        if offered is not None:
            body["should"] = [offered]
    if not body:
        body["must"] = [{"match_all": {}}]
    if excluded:
        body["must_not"] = [excluded]
    return {"bool": body}


def build_query(query: ParsedQuery | None, filters: Filters) -> dict[str, Any]:
    """Return the search query: the text query as `must` (or, for `also_chunk_ids`, the text
    query or those chunks), the filters, the exclusions."""
    text = build_text_query(query)
    if filters.also_chunk_ids:
        text = {
            "bool": {
                "should": [text, {"terms": {"chunk_id": list(filters.also_chunk_ids)}}],
                "minimum_should_match": 1,
            }
        }
    body: dict[str, Any] = {"must": [text]}
    clauses = build_filter_clauses(filters)
    if clauses:
        body["filter"] = clauses
    excluded = build_exclusion_clauses(filters)
    if excluded:
        body["must_not"] = excluded
    return {"bool": body}


def build_sort(sort: str) -> list[Any]:
    """Return the sort of `sort` ("relevance" or "newest")."""
    if sort == "relevance":
        return ["_score"]
    if sort == "newest":
        return [{"decision_date": {"order": "desc", "missing": "_last"}}, "_score"]
    raise ValueError(f"unknown sort {sort!r} (expected one of {SORTS})")


def build_keyword_search(
    query: ParsedQuery | None, filters: Filters, size: int, sort: str = "relevance"
) -> dict[str, Any]:
    """Return the body of a keyword search: the best `size` chunks with their ranking fields
    only (`Store.complete` reads the rest of the few shown) and the total, exact up to 10,000
    (Elasticsearch's default: the search counts letters with `build_count_letters`)."""
    if not 0 <= size <= MAX_WINDOW:
        raise ValueError(f"size must be between 0 and {MAX_WINDOW}, not {size}")
    return {
        "query": build_query(query, filters),
        "size": size,
        "_source": {"includes": list(RANKING_FIELDS)},
        "sort": build_sort(sort),
    }


def num_candidates(k: int) -> int:
    """Return the kNN candidates per shard for `k` results: max(200, 2k), at most 10000.

    Chosen with the mapping's int8 HNSW and its 3x float rescoring (BENCHMARKS.md, "side by
    side"): recall@10 0.985 at k=10, recall@200 0.992 at k=200.
    """
    return min(MAX_KNN_CANDIDATES, max(200, 2 * k))


def query_vector(vector: Any) -> list[float]:
    """Return `vector` as a list of floats, checking its length."""
    values = np.asarray(vector, dtype=np.float32).reshape(-1)
    if values.shape[0] != EMBEDDING_DIMS:
        raise ValueError(f"expected a vector of {EMBEDDING_DIMS} numbers, got {values.shape[0]}")
    if not np.isfinite(values).all():
        raise ValueError("the vector holds NaN or infinite values")
    return values.tolist()


def build_knn_search(vector: Any, filters: Filters, k: int) -> dict[str, Any]:
    """Return the body of a kNN search: the `k` nearest chunks among those the filters allow.

    The filters go inside `knn.filter`, so they restrict the candidates (a post-filter would
    return fewer than `k` hits).
    """
    if not 1 <= k <= MAX_KNN_CANDIDATES:
        raise ValueError(f"k must be between 1 and {MAX_KNN_CANDIDATES}, not {k}")
    knn: dict[str, Any] = {
        "field": "embedding",
        "query_vector": query_vector(vector),
        "k": k,
        "num_candidates": num_candidates(k),
    }
    clauses = build_filter_clauses(filters)
    excluded = build_exclusion_clauses(filters)
    if excluded:
        clauses.append({"bool": {"must_not": excluded}})
    if clauses:
        knn["filter"] = clauses
    return {"knn": knn, "size": k, "_source": {"includes": list(RANKING_FIELDS)}}


def _letters_cardinality() -> dict[str, Any]:
    return {"cardinality": {"field": "letter_id", "precision_threshold": PRECISION_THRESHOLD}}


def build_facet_aggs(
    query: ParsedQuery | None, filters: Filters, facets: Iterable[str]
) -> dict[str, Any]:
    """Return the body counting, per value of each facet, the LETTERS with a matching chunk.

    One `terms` aggregation per facet, large enough for every value (`FACET_VALUES`; a facet
    with more is counted again by `build_facet_pages`), with a `cardinality` of letters under
    each value. Faster than `composite` with the same numbers (BENCHMARKS.md). Disjunctive
    counting is the caller's job.
    """
    aggs = {}
    for name in facets:
        _keyword_field(name, "facet")
        aggs[name] = {
            "terms": {"field": name, "size": FACET_VALUES, "order": {"_key": "asc"}},
            "aggregations": {"letters": _letters_cardinality()},
        }
    return {"size": 0, "query": build_query(query, filters), "aggregations": aggs}


def build_facet_pages(
    query: ParsedQuery | None,
    filters: Filters,
    facets: Iterable[str],
    after: Mapping[str, dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """Return `build_facet_aggs`'s counts as one page of a `composite` aggregation per facet
    (`after`: facet -> the previous page's `after_key`), for facets with more values than one
    `terms` aggregation holds: every value is counted, as on the embedded store."""
    aggs = {}
    for name in facets:
        _keyword_field(name, "facet")
        composite: dict[str, Any] = {
            "size": COMPOSITE_PAGE,
            "sources": [{name: {"terms": {"field": name}}}],
        }
        if after and after.get(name):
            composite["after"] = after[name]
        aggs[name] = {"composite": composite, "aggregations": {"letters": _letters_cardinality()}}
    return {"size": 0, "query": build_query(query, filters), "aggregations": aggs}


def build_count_letters(query: ParsedQuery | None, filters: Filters) -> dict[str, Any]:
    """Return the body counting the letters with at least one matching chunk."""
    return {
        "size": 0,
        "query": build_query(query, filters),
        "aggregations": {"letters": _letters_cardinality()},
    }


def build_stats_aggs(
    query: ParsedQuery | None,
    filters: Filters,
    by: str,
    after: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Return the body counting items per value of `by` and per decision, one `composite`
    page (`after`: the previous page's `after_key`).

    Only item chunks, first window (each item counted once), whatever `filters` says about
    sections and windows.
    """
    _keyword_field(by, "stats")
    items = replace(filters, section="item", first_window_only=True)
    composite: dict[str, Any] = {
        "size": COMPOSITE_PAGE,
        "sources": [
            {"by": {"terms": {"field": by}}},
            {"decision": {"terms": {"field": "decision"}}},
        ],
    }
    if after:
        composite["after"] = after
    return {
        "size": 0,
        "query": build_query(query, items),
        "aggregations": {"by": {"composite": composite}},
    }


def build_docs_search(chunk_ids: Iterable[str]) -> dict[str, Any]:
    """Return the body fetching the whole documents (without embedding) of the given chunks."""
    ids = list(dict.fromkeys(chunk_ids))
    return {
        "query": {"terms": {"chunk_id": ids}},
        "size": len(ids),
        "_source": {"excludes": ["embedding"]},
    }


def build_letter_chunks_search(
    letter_id: str, embeddings: bool = True, exclude_vectors: bool = True
) -> dict[str, Any]:
    """Return the body fetching a letter's chunks in order, embeddings included if asked.

    Elasticsearch 9.2 and later leave vectors out of `_source` unless `exclude_vectors` is
    false; 9.1 knows no such key (`exclude_vectors=False` leaves it out) and returns them.
    """
    if embeddings:
        source: Any = {"exclude_vectors": False} if exclude_vectors else True
    else:
        source = {"excludes": ["embedding"]}
    return {
        "query": {"term": {"letter_id": letter_id}},
        "size": LETTER_CHUNKS_SIZE,
        "sort": [
            {"item_index": {"order": "asc", "missing": "_first"}},
            {"window": {"order": "asc"}},
            {"chunk_id": {"order": "asc"}},
        ],
        "_source": source,
    }


def build_fingerprints_search() -> dict[str, Any]:
    """Return the search body `fingerprints` scans the letters alias with."""
    return {
        "query": {"match_all": {}},
        "_source": {"includes": ["letter_id", "source", "fingerprint"]},
    }


#: The letter-record fields `indexed_letters` reads.
INDEXED_LETTER_FIELDS = ("letter_id", "source", "fingerprint", "chunk_count", "file_sha256",
                         "file_size", "file_mtime_ns", "parser")  # fmt: skip


def build_indexed_letters_search() -> dict[str, Any]:
    """Return the search body `indexed_letters` scans the letters alias with."""
    return {"query": {"match_all": {}}, "_source": {"includes": list(INDEXED_LETTER_FIELDS)}}


# ---------------------------------------------------------------------------------------------
# Index, alias and delete bodies (pure)


def build_index_body(kind: str, shards: int = 1, replicas: int = 0) -> dict[str, Any]:
    """Return the create-index body of `kind` ("chunks" or "letters") from mappings/, with the
    shard and replica counts."""
    if kind not in ("chunks", "letters"):
        raise ValueError(f"unknown index kind {kind!r} (expected 'chunks' or 'letters')")
    body = copy.deepcopy(index_definition(kind))
    settings = {
        "number_of_shards": shards,
        "number_of_replicas": replicas,
        **body.get("settings", {}),
    }
    return {"settings": settings, "mappings": body["mappings"]}


def build_alias_actions(
    removes: Iterable[tuple[str, str]], adds: Iterable[tuple[str, str]]
) -> dict[str, Any]:
    """Return one `_aliases` body: remove each (index, alias), then add each (index, alias) as
    the alias's write index. Elasticsearch applies all actions atomically. `must_exist` makes
    the request fail (changing nothing) when another process moved an alias meanwhile."""
    actions: list[dict[str, Any]] = [
        {"remove": {"index": index, "alias": alias, "must_exist": True}} for index, alias in removes
    ]
    actions += [
        {"add": {"index": index, "alias": alias, "is_write_index": True}} for index, alias in adds
    ]
    return {"actions": actions}


def build_stale_chunks_query(new_chunk_ids: dict[str, list[str]]) -> dict[str, Any]:
    """Return the search body finding chunks of the given letters (letter_id ->
    its new chunk ids) that are not among their new chunks."""
    body: dict[str, Any] = {"filter": [{"terms": {"letter_id": list(new_chunk_ids)}}]}
    keep = [cid for ids in new_chunk_ids.values() for cid in ids]
    if keep:
        body["must_not"] = [{"terms": {"chunk_id": keep}}]
    return {"query": {"bool": body}}


def build_delete_letters_query(letter_ids: Iterable[str]) -> dict[str, Any]:
    """Return the search body finding every document of the given letters."""
    return {"query": {"terms": {"letter_id": list(letter_ids)}}}


def _batches_by_terms(new_chunk_ids: dict[str, list[str]]) -> Iterator[dict[str, list[str]]]:
    """Split letter_id -> chunk ids into groups whose `terms` lists stay under MAX_TERMS."""
    group: dict[str, list[str]] = {}
    size = 0
    for letter_id, ids in new_chunk_ids.items():
        if group and size + len(ids) + 1 > MAX_TERMS:
            yield group
            group, size = {}, 0
        group[letter_id] = ids
        size += len(ids) + 1
    if group:
        yield group
