"""The Elasticsearch back end.

Every request body is built by a pure, module-level function (``build_*``, ``chunk_actions``,
``letter_actions``) that the tests compare with literal bodies and validate strictly against
Elastic's OpenAPI document; `ElasticsearchStore` only sends them and reads the answers.

Indices and aliases
-------------------
Two aliases are the store's names: ``<alias>`` (chunk documents, one per chunk, ``_id`` =
chunk_id) and ``<alias>-letters`` (one record per letter, ``_id`` = letter_id). Each points at
one concrete index of a *generation*: ``<alias>-<stamp>`` and ``<alias>-letters-<stamp>``, where
``<stamp>`` is the UTC creation time (``20261123t154300123456z``). Searches and reads always go
through the aliases; writes go through them too, except during a rebuild.

Rebuilding the index (the ``imr-search reindex`` command)::

    gen = store.begin_reindex()      # creates a new, empty generation; writes now go to it
    try:
        for batch in batches:
            store.upsert(batch)      # indexes into the new generation; searches still
                                     # see the old one through the aliases
    except BaseException:
        store.abort_reindex(gen)     # deletes the new generation; aliases untouched
        raise
    store.finish_reindex(gen)        # ONE atomic _aliases request moves both aliases, then
                                     # (only if it succeeded) the old indices are deleted

The building blocks are public too: `create_generation`, `use_generation`, `swap_aliases`,
`drop_indices`.

Upsert order
------------
`upsert` never leaves a letter absent from the index, nor a record naming chunks that are not
exactly the letter's: it (1) indexes the new chunk documents under their stable ids (a chunk
that still exists is overwritten in place), (2) finds the letter's chunks whose ids are not
among the new ones (left-overs of a longer earlier version) and deletes them by id, then (3)
indexes the records of the letters for which both succeeded (the record carries the
fingerprint, so it is the "commit" of a letter), and (4) refreshes (not during a rebuild, which
is refreshed once at its end). A letter with any rejected chunk or stale chunk not removed is
reported in `IndexReport.failed`; its record is not written, so an earlier version's
fingerprint (or none) stays and the next run tries it again; a new letter's chunks are removed
again, so none is searchable without its record. `delete` removes chunks first, then records.
Neither uses `_delete_by_query`: the distribution on Maven Central has no reindex module.

Text analysis
-------------
Text is analysed in Python (`es_text`: the embedded store's analyzer, drug synonyms expanded
in the query), because that distribution has no analysis-common module either (no stemmer, no
synonym filter); both back ends therefore match the same words in the same chunks. Highlights
are made in Python too (`snippets`).

Scores
------
Keyword hits carry Elasticsearch's BM25 score, with term statistics from every shard
(`dfs_query_then_fetch`) and one set of shard copies per query (`preference`). The embedding
field uses ``dot_product`` similarity over unit vectors, for which Elasticsearch scores a kNN
hit ``(1 + dot) / 2``; `knn` converts that back to the cosine similarity ``2 * score - 1`` so
that both stores report the same number.

Errors
------
A connection failure, time-out, TLS failure, rejected credentials or an unavailable or
overloaded cluster (HTTP 429/502/503/504) raises `StoreUnavailable` (the service answers 503);
any other error answer raises `StoreError` (its base class). Messages name the URL without
credentials. Every request has a time-out (`request_timeout`, IMR_SEARCH_ES_TIMEOUT, default
5 s). The client retries a refused connection or an HTTP 429/502/503/504 answer `max_retries`
times (default 1) but never a timed-out request, so a cluster that does not answer costs one
`request_timeout` per request, not a multiple of it; bulk, delete-by-query and index creation
requests get the longer `bulk_timeout`. Reads of a store never written (no
index behind the alias) answer empty results rather than failing.

Requirements
------------
Elasticsearch 9.1 or newer (`MIN_VERSION`, checked on the first request; the 9.x client sends
its compatibility headers; tested on 9.1.0, 9.1.5 and 9.2.4), with no module beyond the
server's own: no analysis-common, no reindex, no x-pack. `letter_chunks` asks for
``_source.exclude_vectors: false`` from 9.2 on (those releases leave dense vectors out of
`_source` unless asked); 9.1 returns them anyway and would refuse the key, so it is not sent.
"""

from __future__ import annotations

import copy
import hashlib
import json
import logging
import os
import re
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import numpy as np

from ..documents import LetterDocs
from ..query_text import Clause, ParsedQuery
from ..schema import DATE_FIELDS, EMBEDDING_DIMS, fields, index_definition
from .base import (
    RANKING_FIELDS,
    ChunkHit,
    FileStamp,
    Filters,
    IndexedLetter,
    IndexReport,
    PartialDoc,
    StoreConfigError,
    file_stamp,
)
from .base import StoreUnavailable as BaseStoreUnavailable
from .es_text import ANALYSED, analysed_fields, simple_query
from .snippets import highlight_texts

log = logging.getLogger(__name__)

DEFAULT_URL = "http://localhost:9200"
#: Seconds a request may take (IMR_SEARCH_ES_TIMEOUT); a timed-out request is not retried.
DEFAULT_TIMEOUT = 5.0
DEFAULT_ALIAS = "imr-chunks"
#: Suffix of the letters alias and of its concrete indices.
LETTERS_SUFFIX = "-letters"

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
#: The oldest Elasticsearch this store is tested on (checked on the first request): 9.0 cannot
#: start on the JDK (25) of the machines that test it; its API would serve.
MIN_VERSION = (9, 1, 0)
#: Pooled connections per node: more than the threads that can search at once.
CONNECTIONS_PER_NODE = 32
#: Most chunk ids a single `terms` clause carries (Elasticsearch's index.max_terms_count is
#: 65536 by default).
MAX_TERMS = 50000
LETTER_CHUNKS_SIZE = 10000
SORTS = ("relevance", "newest")
LETTER_FIELDS = ("letter_id", "source", "fingerprint", "chunk_count", "indexed_at", "record",
                 "text", "original_text", "file_sha256")  # fmt: skip

_INDEX_NAME = re.compile(r"^[a-z0-9][a-z0-9_.-]*$")


class StoreError(Exception):
    """Elasticsearch answered a request with an error."""


class StoreUnavailable(StoreError, BaseStoreUnavailable):
    """Elasticsearch cannot be reached or cannot serve now (the service answers HTTP 503)."""


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
    (`es_text`), phrases in quotes, drug names with their synonyms. Exclusions are never put in
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


# ---------------------------------------------------------------------------------------------
# Bulk actions (pure generators)


def vectors_problem(letter: LetterDocs) -> str | None:
    """Return why a letter's vectors cannot be indexed, or None when they can."""
    if letter.vectors is None:
        return "no embedding vectors"
    shape = getattr(letter.vectors, "shape", None)
    if shape != (len(letter.chunks), EMBEDDING_DIMS):
        return (
            f"embedding vectors of shape {shape}, expected {(len(letter.chunks), EMBEDDING_DIMS)}"
        )
    if not np.isfinite(letter.vectors).all():
        return "embedding vectors hold NaN or infinite values"
    return None


def chunk_actions(letters: Iterable[LetterDocs], index: str) -> Iterator[dict[str, Any]]:
    """Yield the bulk `index` action of every chunk of `letters`: `_id` = chunk_id, the chunk
    document, its analysed text (`es_text`) and its `embedding` as a list of floats."""
    for letter in letters:
        vectors = np.asarray(letter.vectors, dtype=np.float32)
        for doc, vector in zip(letter.chunks, vectors, strict=True):
            yield {
                "_op_type": "index",
                "_index": index,
                "_id": doc["chunk_id"],
                "_source": {**doc, ANALYSED: analysed_fields(doc), "embedding": vector.tolist()},
            }


def letter_document(letter: LetterDocs, indexed_at: str) -> dict[str, Any]:
    """Return the letters-index record of a letter."""
    stamp = file_stamp(letter)
    return {
        "letter_id": letter.letter_id,
        "source": letter.source,
        "fingerprint": letter.fingerprint,
        "chunk_count": len(letter.chunks),
        "indexed_at": indexed_at,
        "record": letter.record,
        "text": letter.text,
        "original_text": letter.original_text,
        # The file it was read from, so an unchanged file is skipped unparsed next time.
        "file_sha256": stamp.sha256 if stamp else None,
        "file_size": stamp.size if stamp else None,
        "file_mtime_ns": stamp.mtime_ns if stamp else None,
        "parser": stamp.parser if stamp else None,
    }


def letter_actions(
    letters: Iterable[LetterDocs], index: str, indexed_at: str
) -> Iterator[dict[str, Any]]:
    """Yield the bulk `index` action of each letter's record: `_id` = letter_id."""
    for letter in letters:
        yield {
            "_op_type": "index",
            "_index": index,
            "_id": letter.letter_id,
            "_source": letter_document(letter, indexed_at),
        }


def _bulk_error(item: dict[str, Any]) -> str:
    exception = item.get("exception")
    if exception is not None:  # the whole bulk request failed (streaming_bulk's own item)
        return f"HTTP {item.get('status', '?')} {_api_reason(exception)}"
    error = item.get("error")
    if isinstance(error, dict):
        text = f"{error.get('type', 'error')}: {error.get('reason', '')}".strip()
        cause = error.get("caused_by")
        if isinstance(cause, dict) and cause.get("reason"):
            text += f" ({cause.get('type', 'caused_by')}: {cause['reason']})"
        return text
    if error:
        return str(error)
    return f"HTTP {item.get('status', '?')}"


# ---------------------------------------------------------------------------------------------
# Hits


def _hit(raw: dict[str, Any], score: float | None = None) -> ChunkHit:
    """A hit holding its ranking fields (absent ones None) until `complete` reads the rest."""
    src = raw.get("_source") or {}
    doc = PartialDoc({name: src.get(name) for name in RANKING_FIELDS})
    return ChunkHit(
        chunk_id=doc["chunk_id"] or raw.get("_id", ""),
        letter_id=doc["letter_id"] or "",
        score=float(raw.get("_score") or 0.0) if score is None else score,
        doc=doc,
    )


def cosine_from_score(score: float) -> float:
    """Return the cosine similarity of a kNN hit from its `dot_product` score `(1 + dot) / 2`."""
    return 2.0 * float(score) - 1.0


def parse_urls(value: str, setting: str = "ELASTICSEARCH_URL") -> list[str]:
    """Return the node URLs of a setting (several separated by commas), each with its port
    (9200 when left out); StoreConfigError names the setting and the URL that is wrong."""
    urls = []
    for raw in (part.strip() for part in value.split(",")):
        if not raw:
            continue
        shown = redact_url(raw)
        try:
            parts = urlsplit(raw)
            port = parts.port
        except ValueError:
            raise StoreConfigError(
                f"{setting}: {shown!r} is not a URL with a port from 1 to 65535"
            ) from None
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise StoreConfigError(
                f"{setting}: {shown!r} is not an http:// or https:// URL with a host name"
            )
        if port == 0:
            raise StoreConfigError(f"{setting}: {shown!r} has port 0")
        if port is None:
            netloc = parts.netloc + ":9200"
            raw = urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))
        urls.append(raw)
    if not urls:
        raise StoreConfigError(f"{setting} is empty")
    return urls


def _number(env: Mapping[str, str], name: str, default: float, kind: type = float) -> Any:
    """A numeric setting, or StoreConfigError naming it."""
    value = (env.get(name) or "").strip()
    if not value:
        return kind(default)
    try:
        number = kind(value)
    except ValueError:
        raise StoreConfigError(
            f"{name} must be a {'whole ' if kind is int else ''}number, not {value!r}"
        ) from None
    if not number > 0 and not (kind is int and number == 0 and name.endswith("REPLICAS")):
        raise StoreConfigError(f"{name} must be more than 0, not {value!r}")
    return number


def redact_url(url: str) -> str:
    """Return `url` without user name and password."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<invalid URL>"
    if parts.username is None and parts.password is None:
        return url
    netloc = parts.netloc.rpartition("@")[2]  # host and port as written, valid or not
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


@dataclass(frozen=True)
class Generation:
    """A pair of concrete indices built together: the chunks index and the letters index."""

    stamp: str
    chunks_index: str
    letters_index: str

    @property
    def indices(self) -> tuple[str, str]:
        """Both index names."""
        return (self.chunks_index, self.letters_index)


def generation_names(alias: str, stamp: str) -> Generation:
    """Return the generation of `alias` with the given stamp."""
    return Generation(stamp, f"{alias}-{stamp}", f"{alias}{LETTERS_SUFFIX}-{stamp}")


def new_stamp(now: datetime | None = None) -> str:
    """Return a generation stamp: the UTC time, down to microseconds, lower case."""
    now = now or datetime.now(UTC)
    return now.astimezone(UTC).strftime("%Y%m%dt%H%M%S%fz")


# ---------------------------------------------------------------------------------------------
# The store


class ElasticsearchStore:
    """The search store on an Elasticsearch 9 cluster (see the module docstring)."""

    name = "elasticsearch"

    def __init__(
        self,
        url: str | None = None,
        index: str = DEFAULT_ALIAS,
        *,
        api_key: str | None = None,
        username: str | None = None,
        password: str | None = None,
        verify_certs: bool = True,
        ca_certs: str | None = None,
        request_timeout: float = DEFAULT_TIMEOUT,
        client: Any = None,
        shards: int = 1,
        replicas: int = 0,
        max_retries: int = 1,
        bulk_timeout: float = 120.0,
    ) -> None:
        if not _INDEX_NAME.match(index) or len(index) > 200:
            raise StoreConfigError(
                f"IMR_SEARCH_ES_INDEX: {index!r} is not an index name (lower-case letters, digits, "
                "'-', '_' and '.', at most 200)"
            )
        self.alias = index
        self.letters_alias = index + LETTERS_SUFFIX
        urls = parse_urls(url or DEFAULT_URL)
        self.url = ", ".join(redact_url(u) for u in urls)
        self.shards = shards
        self.replicas = replicas
        self.request_timeout = request_timeout
        self.bulk_timeout = max(bulk_timeout, request_timeout)
        self._target: Generation | None = None
        self._version: tuple[int, ...] | None = None
        self._ensured = False
        self._secrets = [s for s in (api_key, password) if s]
        if client is None:
            from elasticsearch import Elasticsearch

            kwargs: dict[str, Any] = {
                "request_timeout": request_timeout,
                # A retried time-out would multiply the wait of every request on a stalled
                # cluster; refused connections and 429/502/503/504 answers are still retried.
                "retry_on_timeout": False,
                "max_retries": max_retries,
                # The web server's threads and the search's counting pool share the client:
                # with the default 10 connections a node, requests queued for a free one.
                "connections_per_node": CONNECTIONS_PER_NODE,
            }
            if api_key:
                kwargs["api_key"] = api_key
            if username or password:
                kwargs["basic_auth"] = (username or "", password or "")
            if any(u.lower().startswith("https:") for u in urls):
                kwargs["verify_certs"] = verify_certs
                if ca_certs:
                    kwargs["ca_certs"] = ca_certs
            client = Elasticsearch(urls, **kwargs)
        self.client = client

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None, **kwargs: Any) -> ElasticsearchStore:
        """Build a store from ELASTICSEARCH_URL (default http://localhost:9200),
        ELASTICSEARCH_API_KEY, ELASTICSEARCH_USERNAME, ELASTICSEARCH_PASSWORD,
        ELASTICSEARCH_CA_CERTS, ELASTICSEARCH_VERIFY_CERTS ("false" disables),
        IMR_SEARCH_ES_INDEX (the alias, default imr-chunks), IMR_SEARCH_ES_SHARDS and
        IMR_SEARCH_ES_REPLICAS (for new indices, default 1 and 0) and IMR_SEARCH_ES_TIMEOUT
        (seconds per request, default 5)."""
        env = os.environ if environ is None else environ
        verify = env.get("ELASTICSEARCH_VERIFY_CERTS", "true").strip().lower()
        options: dict[str, Any] = {
            "api_key": env.get("ELASTICSEARCH_API_KEY") or None,
            "username": env.get("ELASTICSEARCH_USERNAME") or None,
            "password": env.get("ELASTICSEARCH_PASSWORD") or None,
            "ca_certs": env.get("ELASTICSEARCH_CA_CERTS") or None,
            "verify_certs": verify not in ("false", "0", "no", "off"),
            "shards": _number(env, "IMR_SEARCH_ES_SHARDS", 1, int),
            "replicas": _number(env, "IMR_SEARCH_ES_REPLICAS", 0, int),
            "request_timeout": _number(env, "IMR_SEARCH_ES_TIMEOUT", DEFAULT_TIMEOUT),
        }
        if options["api_key"] and (options["username"] or options["password"]):
            raise StoreConfigError(
                "set ELASTICSEARCH_API_KEY or ELASTICSEARCH_USERNAME and ELASTICSEARCH_PASSWORD, "
                "not both"
            )
        index = kwargs.pop("index", None) or env.get("IMR_SEARCH_ES_INDEX") or DEFAULT_ALIAS
        options.update(kwargs)
        return cls(env.get("ELASTICSEARCH_URL") or None, index, **options)

    # -- plumbing ---------------------------------------------------------------------------

    def _clean(self, text: str) -> str:
        text = re.sub(r"//[^/@\s]*@", "//", text)
        for secret in self._secrets:
            text = text.replace(secret, "***")
        return text

    @contextmanager
    def _calls(self, action: str) -> Iterator[None]:
        """Turn the client's exceptions into StoreUnavailable / StoreError."""
        from elastic_transport import ConnectionError as TransportConnectionError
        from elastic_transport import ConnectionTimeout, SerializationError, TransportError
        from elasticsearch import (
            ApiError,
            AuthenticationException,
            AuthorizationException,
            UnsupportedProductError,
        )
        from elasticsearch.helpers import ScanError

        where = f"Elasticsearch at {self.url}"
        try:
            yield
        except StoreError:
            raise
        except (TransportConnectionError, ConnectionTimeout) as exc:
            reason = self._clean(f"{type(exc).__name__}: {exc}")
            raise StoreUnavailable(f"{where} is not reachable: {reason}") from None
        except UnsupportedProductError:
            raise StoreUnavailable(f"{where} is not Elasticsearch") from None
        except SerializationError:
            raise StoreUnavailable(
                f"{where} answered {action} with something that is not Elasticsearch's JSON"
            ) from None
        except (AuthenticationException, AuthorizationException) as exc:
            raise StoreUnavailable(
                f"{where} refused the credentials while {action} (HTTP {exc.status_code})"
            ) from None
        except ApiError as exc:
            reason = self._clean(_api_reason(exc))
            message = f"{where} failed {action}: HTTP {exc.status_code} {reason}"
            if exc.status_code in (429, 502, 503, 504):
                raise StoreUnavailable(message) from None
            raise StoreError(message) from exc
        except ScanError as exc:  # a scroll that lost shards on the way
            raise StoreUnavailable(f"{where} failed {action}: {self._clean(str(exc))}") from None
        except TransportError as exc:  # any other failure of the transport: one line
            reason = self._clean(f"{type(exc).__name__}: {exc}")
            raise StoreUnavailable(f"{where} failed {action}: {reason}") from None

    def _slow(self) -> Any:
        """The client with the longer time-out of bulk and delete-by-query requests."""
        return self.client.options(request_timeout=self.bulk_timeout)

    def _alias_targets(self, alias: str) -> list[str]:
        """Return the concrete indices `alias` points at ([] when it does not exist)."""
        with self._calls(f"reading alias {alias}"):
            resp = self.client.options(ignore_status=404).indices.get_alias(name=alias)
        body = resp.body if hasattr(resp, "body") else resp
        if resp.meta.status == 404:
            return []
        return sorted(name for name, info in body.items() if alias in (info.get("aliases") or {}))

    def _write_targets(self) -> tuple[str, str]:
        if self._target is not None:
            return self._target.indices
        if not self._ensured:
            self.ensure_index()
        return (self.alias, self.letters_alias)

    # -- indices and generations ----------------------------------------------------------

    def index_body(self, kind: str) -> dict[str, Any]:
        """Return the create-index body of `kind` with this store's shard counts."""
        return build_index_body(kind, self.shards, self.replicas)

    def ensure_index(self) -> None:
        """Create the indices behind each alias that does not exist yet, alias included."""
        self._check_version()
        stamp = new_stamp()
        gen = generation_names(self.alias, stamp)
        for kind, alias, index in (
            ("chunks", self.alias, gen.chunks_index),
            ("letters", self.letters_alias, gen.letters_index),
        ):
            with self._calls(f"checking alias {alias}"):
                exists = bool(self.client.indices.exists_alias(name=alias))
            if exists:
                continue
            body = {**self.index_body(kind), "aliases": {alias: {"is_write_index": True}}}
            with self._calls(f"creating index {index}"):
                self._slow().indices.create(index=index, body=body)
            log.info("created index %s behind alias %s", index, alias)
        self._ensured = True

    def create_generation(self) -> Generation:
        """Create a new, empty pair of concrete indices (no alias points at them yet)."""
        self._check_version()
        gen = generation_names(self.alias, new_stamp())
        created: list[str] = []
        try:
            for kind, index in (("chunks", gen.chunks_index), ("letters", gen.letters_index)):
                with self._calls(f"creating index {index}"):
                    self._slow().indices.create(index=index, body=self.index_body(kind))
                created.append(index)
        except BaseException:
            if created:
                self.drop_indices(created, quiet=True)
            raise
        return gen

    def use_generation(self, gen: Generation | None) -> None:
        """Direct writes (`upsert`, `delete`) to `gen`'s indices, or back to the aliases."""
        self._target = gen

    def swap_aliases(self, gen: Generation) -> list[str]:
        """Point both aliases at `gen` in ONE atomic `_aliases` request; return the indices they
        pointed at before (now unused, not deleted). Raises and changes nothing on failure."""
        removes: list[tuple[str, str]] = []
        for alias, new in ((self.alias, gen.chunks_index), (self.letters_alias, gen.letters_index)):
            removes += [(old, alias) for old in self._alias_targets(alias) if old != new]
        adds = [(gen.chunks_index, self.alias), (gen.letters_index, self.letters_alias)]
        body = build_alias_actions(removes, adds)
        with self._calls(f"moving aliases {self.alias}, {self.letters_alias}"):
            self.client.indices.update_aliases(body=body)
        self._ensured = True
        return sorted({old for old, _ in removes} - set(gen.indices))

    def drop_indices(
        self, names: Iterable[str], *, quiet: bool = False, check_aliases: bool = True
    ) -> list[str]:
        """Delete the given concrete indices of this store in one request; return their names.

        Only names of this store's generations (`<alias>-...`, no wildcards) are deleted and,
        with `check_aliases`, never one that an alias points at. With `quiet`, a failure is
        logged instead of raised.
        """
        try:
            mine = [
                n for n in dict.fromkeys(names) if n.startswith(self.alias + "-") and "*" not in n
            ]
            if mine and check_aliases:
                live = set(self._alias_targets(self.alias))
                live |= set(self._alias_targets(self.letters_alias))
                mine = [n for n in mine if n not in live]
            if mine:
                with self._calls(f"deleting indices {', '.join(mine)}"):
                    # One missing name must not make the whole request fail (404).
                    self._slow().indices.delete(index=mine, ignore_unavailable=True)
            return mine
        except StoreError as exc:
            if not quiet:
                raise
            log.warning("%s", exc)
            return []

    def begin_reindex(self) -> Generation:
        """Create a new generation and send this store's writes to it (see the module doc)."""
        gen = self.create_generation()
        self.use_generation(gen)
        return gen

    def finish_reindex(self, gen: Generation) -> list[str]:
        """Refresh `gen`, switch both aliases to it atomically, then delete the old indices.

        If the switch fails, the old indices are kept, the aliases are unchanged, writes still
        go to `gen`, and the error is raised (call `abort_reindex`). A failure to delete the
        old indices after a successful switch is only logged. Returns the indices deleted.
        """
        with self._calls(f"refreshing {', '.join(gen.indices)}"):
            self._slow().indices.refresh(index=list(gen.indices))
        old = self.swap_aliases(gen)
        self.use_generation(None)
        # The swap just moved the aliases off `old`, atomically: no need to look again.
        return self.drop_indices(old, quiet=True, check_aliases=False)

    def reindex_target(self, gen: Generation) -> ElasticsearchStore:
        """Return the store that writes into the rebuild: this one, since `begin_reindex`."""
        self.use_generation(gen)
        return self

    def drop_all(self) -> list[str]:
        """Delete every index of this store's aliases (for tests and `imr-search` teardown)."""
        names = self._alias_targets(self.alias) + self._alias_targets(self.letters_alias)
        return self.drop_indices(names, quiet=False, check_aliases=False)

    def abort_reindex(self, gen: Generation) -> None:
        """Give up a rebuild: writes go back to the aliases and `gen`'s indices are deleted
        (unless an alias already points at them)."""
        self.use_generation(None)
        self.drop_indices(gen.indices, quiet=True)

    # -- writes --------------------------------------------------------------------------

    #: A bulk item (or a whole bulk request) refused with one of these statuses (an overloaded
    #: node: es_rejected_execution_exception is 429; an unavailable shard 503) is sent again,
    #: up to `bulk_retries` times, after 1, 2, 4 ... seconds (at most `bulk_max_backoff`);
    #: indexing under an explicit id makes a repeat harmless. What is still refused then is
    #: reported per letter, never dropped.
    BULK_RETRY_STATUSES = (429, 503)
    #: A search answered by only some shards is asked again this many times, after 0.5 s,
    #: then 1 s (time for a replica to be promoted when a node is lost).
    shard_retries = 2
    shard_retry_wait = 0.5
    bulk_retries = 3
    bulk_initial_backoff = 1.0
    bulk_max_backoff = 30.0

    def _bulk(self, actions: Iterator[dict[str, Any]]) -> Iterator[tuple[bool, dict[str, Any]]]:
        from elasticsearch.helpers import streaming_bulk

        return streaming_bulk(
            self._slow(),
            actions,
            chunk_size=500,
            max_chunk_bytes=20 * 1024 * 1024,
            raise_on_error=False,
            raise_on_exception=False,
            max_retries=self.bulk_retries,
            initial_backoff=self.bulk_initial_backoff,
            max_backoff=self.bulk_max_backoff,
            retry_on_status=self.BULK_RETRY_STATUSES,
        )

    def _bulk_failure(self, item: dict[str, Any]) -> str:
        """Why a bulk item failed, saying so when it was refused through every retry."""
        reason = _bulk_error(item)
        if item.get("status") in self.BULK_RETRY_STATUSES and self.bulk_retries:
            reason += f" (still refused after {self.bulk_retries} retries)"
        return reason

    def _write_records(
        self, letters: list[LetterDocs], index: str, indexed_at: str, failures: dict[str, str]
    ) -> None:
        """Index the letters' records; a letters index created before a field was added to
        mappings/letters.json gets the field (`_mapping`) and the refused records again."""
        unmapped: list[LetterDocs] = []
        by_id = {ld.letter_id: ld for ld in letters}
        for attempt in range(2):
            with self._calls(f"indexing letters into {index}"):
                for ok, info in self._bulk(letter_actions(letters, index, indexed_at)):
                    if ok:
                        continue
                    item = next(iter(info.values()))
                    letter_id = str(item.get("_id"))
                    error = item.get("error")
                    kind = error.get("type") if isinstance(error, dict) else None
                    if attempt == 0 and kind == "strict_dynamic_mapping_exception":
                        unmapped.append(by_id[letter_id])
                        continue
                    failures.setdefault(letter_id, f"record: {self._bulk_failure(item)}")
            if not unmapped:
                return
            properties = index_definition("letters")["mappings"]["properties"]
            with self._calls(f"adding the new fields of mappings/letters.json to {index}"):
                self._slow().indices.put_mapping(index=index, properties=properties)
            log.info("added the new letter fields to the mapping of %s", index)
            letters, unmapped = unmapped, []

    def upsert(self, letters: list[LetterDocs]) -> IndexReport:
        """Write whole letters, replacing earlier versions (order: see the module docstring)."""
        report = IndexReport()
        if not letters:
            return report
        chunks_index, letters_index = self._write_targets()
        latest = {ld.letter_id: ld for ld in letters}  # the last version of a repeated letter
        failures: dict[str, str] = {}
        for letter in latest.values():
            problem = vectors_problem(letter)
            if problem:
                failures[letter.letter_id] = problem
        ready = [ld for ld in latest.values() if ld.letter_id not in failures]
        owner = {doc["chunk_id"]: ld.letter_id for ld in ready for doc in ld.chunks}

        with self._calls(f"indexing chunks into {chunks_index}"):
            for ok, info in self._bulk(chunk_actions(ready, chunks_index)):
                if not ok:
                    item = next(iter(info.values()))
                    letter_id = owner.get(str(item.get("_id")), str(item.get("_id")))
                    reason = f"chunk {item.get('_id')}: {self._bulk_failure(item)}"
                    failures.setdefault(letter_id, reason)

        # Stale chunks go before the record is written: a record names a letter whose chunks
        # are exactly its new ones, so a failure here leaves the earlier record (or none) and
        # the next run tries the letter again.
        whole = {ld.letter_id: [d["chunk_id"] for d in ld.chunks] for ld in ready}
        whole = {k: v for k, v in whole.items() if k not in failures}
        for group in _batches_by_terms(whole):
            stale = self._ids_of(chunks_index, build_stale_chunks_query(group)["query"])
            for chunk_id, reason in self._delete_ids(chunks_index, stale).items():
                letter_id = chunk_id.partition(":")[0]
                failures.setdefault(
                    letter_id if letter_id in group else next(iter(group)),
                    f"stale chunk {chunk_id} not removed: {reason}",
                )

        indexed_at = datetime.now(UTC).isoformat(timespec="seconds")
        done = [ld for ld in ready if ld.letter_id not in failures]
        self._write_records(done, letters_index, indexed_at, failures)
        self._withdraw_new_letters(
            [ld for ld in ready if ld.letter_id in failures], chunks_index, letters_index
        )

        if self._target is None:  # a rebuild is refreshed once, when it is finished
            with self._calls(f"refreshing {chunks_index}, {letters_index}"):
                self._slow().indices.refresh(index=[chunks_index, letters_index])
        order = list(latest)
        report.failed = [(lid, failures[lid]) for lid in order if lid in failures]
        report.indexed = len(order) - len(report.failed)
        return report

    def _withdraw_new_letters(
        self, letters: list[LetterDocs], chunks_index: str, letters_index: str
    ) -> None:
        """Remove the chunks written for failed letters that have no record (new letters), so
        no chunk is searchable without its letter; a letter with an earlier record keeps it,
        and its fingerprint makes the next run try the letter again."""
        if not letters:
            return
        ids = [ld.letter_id for ld in letters]
        with self._calls(f"reading letter records from {letters_index}"):
            found = self.client.mget(index=letters_index, ids=ids, source=False)
        recorded = {d["_id"] for d in found.get("docs", []) if d.get("found")}
        # By id: the chunks just written are not yet visible to a search.
        written = [
            d["chunk_id"] for ld in letters if ld.letter_id not in recorded for d in ld.chunks
        ]
        if written:
            for chunk_id, reason in self._delete_ids(chunks_index, written).items():
                log.warning("chunk %s of a failed letter not removed: %s", chunk_id, reason)

    def _ids_of(self, index: str, query: dict[str, Any]) -> list[str]:
        """Every document id in `index` that `query` matches (a scroll: any number)."""
        from elasticsearch.helpers import scan

        with self._calls(f"listing documents of {index}"):
            return [
                hit["_id"]
                for hit in scan(
                    self.client,
                    query={"query": query, "_source": False},
                    index=index,
                    size=1000,
                    scroll="2m",
                    request_timeout=self.request_timeout,
                )
            ]

    def _delete_ids(self, index: str, ids: list[str]) -> dict[str, str]:
        """Delete documents by id in bulk; return id -> why, for each one not deleted (a
        document already gone counts as deleted)."""
        actions = ({"_op_type": "delete", "_index": index, "_id": i} for i in ids)
        failed: dict[str, str] = {}
        with self._calls(f"deleting documents from {index}"):
            for ok, info in self._bulk(actions):
                item = next(iter(info.values()))
                if not ok and item.get("status") != 404:
                    failed[str(item.get("_id"))] = self._bulk_failure(item)
        return failed

    def delete(self, letter_ids: list[str]) -> int:
        """Remove letters and all their chunks; return how many letter records existed.

        Chunks go first: a letter whose chunks could not all be removed keeps its record (and
        StoreError says why), so it is still listed and can be deleted again.
        """
        ids = list(dict.fromkeys(letter_ids))
        if not ids:
            return 0
        chunks_index, letters_index = self._write_targets()
        for start in range(0, len(ids), MAX_TERMS):
            part = ids[start : start + MAX_TERMS]
            chunk_ids = self._ids_of(chunks_index, build_delete_letters_query(part)["query"])
            failed = self._delete_ids(chunks_index, chunk_ids)
            if failed:
                chunk_id, reason = next(iter(failed.items()))
                raise StoreError(
                    f"Elasticsearch at {self.url} failed deleting {len(failed)} chunks from "
                    f"{chunks_index} (first: {chunk_id}: {reason}); their letters are kept"
                )
        with self._calls(f"reading letter records from {letters_index}"):
            found = self.client.mget(index=letters_index, ids=ids, source=False)
        existing = [d["_id"] for d in found.get("docs", []) if d.get("found")]
        failed = self._delete_ids(letters_index, existing)
        if failed:
            letter_id, reason = next(iter(failed.items()))
            raise StoreError(
                f"Elasticsearch at {self.url} failed deleting the records of {len(failed)} "
                f"letters from {letters_index} (first: {letter_id}: {reason})"
            )
        with self._calls(f"refreshing {chunks_index}, {letters_index}"):
            self._slow().indices.refresh(index=[chunks_index, letters_index])
        return len(existing)

    # -- reads ---------------------------------------------------------------------------

    def _search(
        self, index: str, body: dict[str, Any], action: str, scored: bool = False
    ) -> dict[str, Any] | None:
        """Run a search; None when the index does not exist (nothing indexed yet).

        An answer missing some shards (a node lost, a copy relocating) is asked again, up to
        `shard_retries` times, then raises StoreUnavailable: incomplete counts and hits never
        pass as complete. A `scored` search gathers term statistics from every shard first
        (`dfs_query_then_fetch`: BM25 scores do not depend on how documents fall into shards;
        Elasticsearch skips that step on a one-shard index) and asks the same shard copies
        for the same query (`preference`), so page 2 follows page 1's order.
        """
        from elasticsearch import NotFoundError

        self._check_version()
        options: dict[str, Any] = {}
        if scored:
            options["search_type"] = "dfs_query_then_fetch"
            options["preference"] = _preference(body)
        for attempt in range(self.shard_retries + 1):
            try:
                with self._calls(action):
                    resp = self.client.search(index=index, body=body, **options).body
            except StoreError as exc:
                cause = exc.__cause__
                if isinstance(cause, NotFoundError) and _is_missing_index(cause):
                    return None
                raise
            shards = resp.get("_shards") or {}
            if not shards.get("failed"):
                return resp
            if attempt < self.shard_retries:
                time.sleep(self.shard_retry_wait * (attempt + 1))
        cause = (shards.get("failures") or [{}])[0].get("reason") or {}
        reason = ": ".join(str(cause[k]) for k in ("type", "reason") if cause.get(k)) or "?"
        raise StoreUnavailable(
            f"Elasticsearch at {self.url} answered {action} from only "
            f"{shards.get('successful', 0)} of {shards.get('total', '?')} shards "
            f"(after {self.shard_retries} retries): {reason}"
        )

    def server_version(self) -> tuple[int, ...]:
        """Return the oldest version among the cluster's nodes (asked once)."""
        if self._version is None:
            with self._calls("reading the node versions"):
                info = self.client.nodes.info(
                    node_id="_all", metric="_none", filter_path="nodes.*.version"
                )
            versions = [
                _version_tuple(node.get("version", ""))
                for node in (
                    (info.body if hasattr(info, "body") else info).get("nodes") or {}
                ).values()
            ]
            self._version = min(versions) if versions else (0,)
        return self._version

    def _check_version(self) -> None:
        """Refuse, in one line, a cluster older than MIN_VERSION (asked once per store)."""
        version = self.server_version()
        if version < MIN_VERSION:
            shown = ".".join(map(str, version))
            need = ".".join(map(str, MIN_VERSION))
            raise StoreConfigError(
                f"Elasticsearch at {self.url} is version {shown}; imr-search needs {need} or newer"
            )

    def fingerprints(self) -> dict[str, tuple[str, str]]:
        """Return letter_id -> (source, fingerprint) for every indexed letter."""
        out: dict[str, tuple[str, str]] = {}
        for letter_id, src in self._scan_letters(
            build_fingerprints_search(), f"reading fingerprints from {self.letters_alias}"
        ):
            out[letter_id] = (src.get("source", ""), src.get("fingerprint", ""))
        return out

    def indexed_letters(self) -> dict[str, IndexedLetter]:
        """Return letter_id -> source, fingerprint and file stamp of every indexed letter."""
        out: dict[str, IndexedLetter] = {}
        for letter_id, src in self._scan_letters(
            build_indexed_letters_search(),
            f"reading the indexed letters from {self.letters_alias}",
        ):
            sha = src.get("file_sha256")
            stamp = None
            if sha:
                size, mtime = src.get("file_size"), src.get("file_mtime_ns")
                stamp = FileStamp(
                    sha,
                    int(size or 0),
                    None if mtime is None else int(mtime),
                    src.get("parser") or "",
                )
            count = src.get("chunk_count")
            out[letter_id] = IndexedLetter(
                letter_id,
                src.get("source", ""),
                src.get("fingerprint", ""),
                stamp,
                None if count is None else int(count),
            )
        return out

    def _scan_letters(self, query: dict, action: str) -> list[tuple[str, dict]]:
        """Every letter record's id and source fields; none when the letters index is missing."""
        from elasticsearch import NotFoundError
        from elasticsearch.helpers import scan

        out = []
        try:
            with self._calls(action):
                # scan's own default is no time-out at all: a stalled node would hang us.
                for hit in scan(
                    self.client,
                    query=query,
                    index=self.letters_alias,
                    size=1000,
                    scroll="2m",
                    request_timeout=self.request_timeout,
                ):
                    src = hit.get("_source") or {}
                    out.append((src.get("letter_id", hit["_id"]), src))
        except StoreError as exc:
            cause = exc.__cause__
            if isinstance(cause, NotFoundError) and _is_missing_index(cause):
                return []
            raise
        return out

    def _count(self, index: str) -> int:
        from elasticsearch import NotFoundError

        try:
            with self._calls(f"counting {index}"):
                return int(self.client.count(index=index)["count"])
        except StoreError as exc:
            cause = exc.__cause__
            if isinstance(cause, NotFoundError) and _is_missing_index(cause):
                return 0
            raise

    def cluster_status(self) -> str:
        """Return the health of this store's indices: "green", "yellow" (a replica missing) or
        "red" (a shard with no copy); "green" before anything is indexed."""
        indices = self._alias_targets(self.alias) + self._alias_targets(self.letters_alias)
        if not indices:
            return "green"
        with self._calls("reading the cluster health"):
            resp = self.client.options(ignore_status=408).cluster.health(index=indices)
        return str(resp.get("status", "red"))

    def counts(self) -> tuple[int, int]:
        """Return the number of letters and of chunks indexed."""
        return self._count(self.letters_alias), self._count(self.alias)

    def keyword(
        self, query: ParsedQuery | None, filters: Filters, size: int, sort: str = "relevance"
    ) -> tuple[list[ChunkHit], int]:
        """Return the best `size` chunks by BM25 (or newest first) and the number matching
        (exact up to 10,000, a lower bound beyond)."""
        body = build_keyword_search(query, filters, size, sort)
        resp = self._search(self.alias, body, "searching", scored=True)
        if resp is None:
            return [], 0
        total = resp["hits"].get("total") or {}
        count = int(total.get("value", 0)) if isinstance(total, dict) else int(total)
        return [_hit(h) for h in resp["hits"]["hits"]], count

    def knn(
        self, vector: np.ndarray, filters: Filters, k: int, stored: bool = False
    ) -> list[ChunkHit]:
        """Return the `k` chunks nearest to `vector` the filters allow, scored by cosine
        (`stored` changes nothing here: the request's num_candidates is kept)."""
        if k <= 0:
            return []
        resp = self._search(self.alias, build_knn_search(vector, filters, k), "searching")
        if resp is None:
            return []
        return [_hit(h, cosine_from_score(h.get("_score") or 0.0)) for h in resp["hits"]["hits"]]

    def knn_many(
        self, vectors: np.ndarray, filters: Filters, k: int, stored: bool = False
    ) -> list[list[ChunkHit]]:
        """Return `knn` of each row of `vectors`, in order."""
        return [self.knn(vector, filters, k, stored) for vector in vectors]

    def highlight(self, query: ParsedQuery, hits: list[ChunkHit]) -> dict[str, list[str]]:
        """Return chunk_id -> highlighted fragments (HTML) of the query's words (`snippets`)."""
        if not hits or not query.positive:
            return {}
        self.complete(hits)
        return highlight_texts(
            query, [(h.chunk_id, h.doc.get("text") or "") for h in hits if "text" in h.doc]
        )

    def facet_counts(
        self, query: ParsedQuery | None, filters: Filters, facets: list[str]
    ) -> dict[str, dict[str, int]]:
        """Count, for each value of each facet, the letters with a matching chunk that has it."""
        out: dict[str, dict[str, int]] = {name: {} for name in facets}
        if not facets:
            return out
        try:
            resp = self._search(self.alias, build_facet_aggs(query, filters, facets), "counting")
        except StoreError as exc:
            if "too_many_buckets" not in str(exc):
                raise
            resp, more = {}, list(facets)  # more values in all than one answer may hold
        else:
            if resp is None:
                return out
            more = []
            for name in facets:
                agg = (resp.get("aggregations") or {}).get(name) or {}
                if agg.get("sum_other_doc_count"):
                    more.append(name)
                    continue
                for bucket in agg.get("buckets", []):
                    count = int(bucket["letters"]["value"])
                    if count:
                        out[name][str(bucket["key"])] = count
        if more:
            out.update(self._facet_pages(query, filters, more))
        # Most letters first, then by value, as the embedded store orders them.
        return {
            name: dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))
            for name, counts in out.items()
        }

    def _facet_pages(
        self, query: ParsedQuery | None, filters: Filters, facets: list[str]
    ) -> dict[str, dict[str, int]]:
        """Count facets with more values than one `terms` aggregation holds, page by page."""
        out: dict[str, dict[str, int]] = {name: {} for name in facets}
        after: dict[str, dict[str, Any]] = {}
        pending = list(facets)
        while pending:
            body = build_facet_pages(query, filters, pending, after)
            resp = self._search(self.alias, body, "counting")
            if resp is None:
                return out
            aggs = resp.get("aggregations") or {}
            for name in list(pending):
                agg = aggs.get(name) or {}
                buckets = agg.get("buckets", [])
                for bucket in buckets:
                    count = int(bucket["letters"]["value"])
                    if count:
                        out[name][str(bucket["key"][name])] = count
                if len(buckets) < COMPOSITE_PAGE or not agg.get("after_key"):
                    pending.remove(name)
                else:
                    after[name] = agg["after_key"]
        return out

    def count_letters(self, query: ParsedQuery | None, filters: Filters) -> int:
        """Return the number of letters with at least one matching chunk."""
        resp = self._search(self.alias, build_count_letters(query, filters), "counting")
        if resp is None:
            return 0
        return int(resp["aggregations"]["letters"]["value"])

    def stats(
        self, query: ParsedQuery | None, filters: Filters, by: str
    ) -> dict[str, dict[str, int]]:
        """Count items per value of `by` and per decision ("upheld"/"overturned")."""
        out: dict[str, dict[str, int]] = {}
        after = None
        while True:
            resp = self._search(self.alias, build_stats_aggs(query, filters, by, after), "counting")
            if resp is None:
                return out
            agg = resp["aggregations"]["by"]
            for bucket in agg["buckets"]:
                counts = out.setdefault(str(bucket["key"]["by"]), {"upheld": 0, "overturned": 0})
                counts[str(bucket["key"]["decision"])] = int(bucket["doc_count"])
            after = agg.get("after_key")
            if len(agg["buckets"]) < COMPOSITE_PAGE or not after:
                return out

    def letter(self, letter_id: str) -> dict[str, Any] | None:
        """Return a letter's record, texts, source, fingerprint and file hash, or None."""
        from elasticsearch import NotFoundError

        try:
            with self._calls(f"reading letter {letter_id}"):
                resp = self.client.get(index=self.letters_alias, id=letter_id)
        except StoreError as exc:
            if isinstance(exc.__cause__, NotFoundError):
                return None
            raise
        if not resp.get("found", True):
            return None
        src = resp.get("_source") or {}
        return {name: src.get(name) for name in LETTER_FIELDS}

    def complete(self, hits: list[ChunkHit]) -> None:
        """Read the whole documents of hits that hold only their ranking fields."""
        partial = [h for h in hits if isinstance(h.doc, PartialDoc)]
        if not partial:
            return
        ids = list(dict.fromkeys(h.chunk_id for h in partial))
        docs: dict[str, dict[str, Any]] = {}
        for start in range(0, len(ids), MAX_WINDOW):
            body = build_docs_search(ids[start : start + MAX_WINDOW])
            resp = self._search(self.alias, body, "reading the chunks shown")
            for raw in (resp or {}).get("hits", {}).get("hits", []):
                docs[raw["_id"]] = dict(raw.get("_source") or {})
        for h in partial:
            # Deleted since it was ranked: what is known, with no other field, beats an error.
            h.doc = docs.get(h.chunk_id) or dict(h.doc)

    def letter_chunks(self, letter_id: str, embeddings: bool = True) -> list[dict[str, Any]]:
        """Return a letter's chunk documents in order, each with its `embedding` list if asked."""
        # `exclude_vectors` came in 9.2; 9.1 returns vectors in `_source` anyway.
        body = build_letter_chunks_search(
            letter_id, embeddings, exclude_vectors=self.server_version() >= (9, 2)
        )
        resp = self._search(self.alias, body, f"reading chunks of {letter_id}")
        if resp is None:
            return []
        return [dict(h["_source"]) for h in resp["hits"]["hits"]]

    def letter_shares(self, clauses: Sequence[Clause]) -> list[float]:
        """Return, for each word or phrase, the share of the index's letters that hold it."""
        letters = self.counts()[0]
        if not letters:
            return [0.0] * len(clauses)
        return [
            self.count_letters(ParsedQuery((replace(c, occur="should"),)), Filters()) / letters
            for c in clauses
        ]

    @contextmanager
    def writer_lock(self, timeout: float) -> Iterator[None]:
        """Hold the alias's writer lock (see `es_lock.py`), waiting up to `timeout` seconds;
        ElasticsearchWriterBusy names the holder when another writer keeps it."""
        from .es_lock import es_writer_lock

        lock = es_writer_lock(self.client, self.alias, timeout)
        with self._calls(f"taking the writer lock of {self.alias}"):
            lock.__enter__()
        try:
            yield
        finally:
            lock.__exit__(None, None, None)

    def close(self) -> None:
        """Close the client's connections."""
        self.client.close()


def _api_reason(exc: Any) -> str:
    body = getattr(exc, "body", None)
    if isinstance(body, dict):
        error = body.get("error")
        if isinstance(error, dict):
            root = (error.get("root_cause") or [error])[0]
            return f"{root.get('type', error.get('type', ''))}: {root.get('reason', '')}".strip()
        if error:
            return str(error)
    return str(getattr(exc, "message", exc))


def _preference(body: dict[str, Any]) -> str:
    """A preference string of the query: the same query goes to the same shard copies."""
    text = json.dumps(body.get("query"), sort_keys=True, default=str)
    return "q" + hashlib.blake2b(text.encode("utf-8"), digest_size=8).hexdigest()


def _version_tuple(text: str) -> tuple[int, ...]:
    """(9, 2, 4) from "9.2.4" or "9.2.4-SNAPSHOT"; (0,) when unreadable."""
    numbers = re.findall(r"\d+", text.split("-")[0])
    return tuple(int(n) for n in numbers[:3]) or (0,)


def _is_missing_index(exc: Any) -> bool:
    body = getattr(exc, "body", None)
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        return body["error"].get("type") == "index_not_found_exception"
    return False
