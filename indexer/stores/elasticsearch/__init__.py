"""The Elasticsearch back end.

Every request body is built by a pure function (`requests`, `bulk`) and `ElasticsearchStore`
(`store`) only sends them and reads the answers. Where things are:

- `store`: `ElasticsearchStore`, its client and settings, the translation of its errors;
  its methods are grouped in `generations` (indices, aliases and rebuilds: "Indices and
  aliases"), `writes` (`upsert` and `delete`: "Upsert order") and `reads` (searches and
  reads: "Scores");
- `requests`: the pure ``build_*`` functions of every request body, and their constants;
- `bulk`: the bulk actions of chunks and letter records, and the text of a failed bulk item;
- `settings`: node URLs, numeric settings, the options `ElasticsearchStore.from_env` reads;
- `errors`: `StoreError`, `StoreUnavailable`;
- `text`: the text analysis done in Python for Elasticsearch ("Text analysis");
- `lock`: one writer at a time on an alias.

Every name this module held before it became a package is importable from it still.

Errors
------
A connection failure, time-out, TLS failure, rejected credentials or an unavailable or
overloaded cluster (HTTP 429/502/503/504) raises `StoreUnavailable` (the service answers 503);
any other error answer raises `StoreError` (its base class). Messages name the URL without
credentials. Every request has a time-out (`request_timeout`, IMR_SEARCH_ES_TIMEOUT, default
5 s). The client retries a refused connection or an HTTP 429/502/503/504 answer `max_retries`
times (default 1) but never a timed-out request, so a cluster that does not answer costs one
`request_timeout` per request, not a multiple of it; bulk, refresh and index creation
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

from .bulk import _bulk_error, chunk_actions, letter_actions, letter_document, vectors_problem
from .errors import StoreError, StoreUnavailable, _api_reason, _is_missing_index
from .generations import LETTERS_SUFFIX, Generation, generation_names, new_stamp
from .reads import LETTER_FIELDS, _hit, _preference, cosine_from_score
from .requests import (
    COMPOSITE_PAGE,
    FACET_VALUES,
    INDEXED_LETTER_FIELDS,
    LETTER_CHUNKS_SIZE,
    MAX_KNN_CANDIDATES,
    MAX_TERMS,
    MAX_WINDOW,
    PRECISION_THRESHOLD,
    SORTS,
    _batches_by_terms,
    _field_types,
    _keyword_field,
    _letters_cardinality,
    build_alias_actions,
    build_count_letters,
    build_delete_letters_query,
    build_docs_search,
    build_exclusion_clauses,
    build_facet_aggs,
    build_facet_pages,
    build_filter_clauses,
    build_fingerprints_search,
    build_index_body,
    build_indexed_letters_search,
    build_keyword_search,
    build_knn_search,
    build_letter_chunks_search,
    build_query,
    build_sort,
    build_stale_chunks_query,
    build_stats_aggs,
    build_text_query,
    num_candidates,
    query_vector,
)
from .settings import DEFAULT_ALIAS, DEFAULT_TIMEOUT, DEFAULT_URL, _number, parse_urls, redact_url
from .store import (
    _INDEX_NAME,
    CONNECTIONS_PER_NODE,
    MIN_VERSION,
    ElasticsearchStore,
    _version_tuple,
)

__all__ = [
    "COMPOSITE_PAGE",
    "CONNECTIONS_PER_NODE",
    "DEFAULT_ALIAS",
    "DEFAULT_TIMEOUT",
    "DEFAULT_URL",
    "FACET_VALUES",
    "INDEXED_LETTER_FIELDS",
    "LETTERS_SUFFIX",
    "LETTER_CHUNKS_SIZE",
    "LETTER_FIELDS",
    "MAX_KNN_CANDIDATES",
    "MAX_TERMS",
    "MAX_WINDOW",
    "MIN_VERSION",
    "PRECISION_THRESHOLD",
    "SORTS",
    "_INDEX_NAME",
    "ElasticsearchStore",
    "Generation",
    "StoreError",
    "StoreUnavailable",
    "_api_reason",
    "_batches_by_terms",
    "_bulk_error",
    "_field_types",
    "_hit",
    "_is_missing_index",
    "_keyword_field",
    "_letters_cardinality",
    "_number",
    "_preference",
    "_version_tuple",
    "build_alias_actions",
    "build_count_letters",
    "build_delete_letters_query",
    "build_docs_search",
    "build_exclusion_clauses",
    "build_facet_aggs",
    "build_facet_pages",
    "build_filter_clauses",
    "build_fingerprints_search",
    "build_index_body",
    "build_indexed_letters_search",
    "build_keyword_search",
    "build_knn_search",
    "build_letter_chunks_search",
    "build_query",
    "build_sort",
    "build_stale_chunks_query",
    "build_stats_aggs",
    "build_text_query",
    "chunk_actions",
    "cosine_from_score",
    "generation_names",
    "letter_actions",
    "letter_document",
    "new_stamp",
    "num_candidates",
    "parse_urls",
    "query_vector",
    "redact_url",
    "vectors_problem",
]
