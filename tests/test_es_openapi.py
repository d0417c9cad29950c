"""The strict validator of Elasticsearch request bodies (tests/es_openapi.py) on literal bodies.

Every body that must pass is one the Elasticsearch store builds (or the shape of one; the
analysis settings and highlighting in the bodies below are shapes the store sent before it
analysed text itself, kept because they exercise the validator's discriminators and free
maps); every body that must fail differs from a passing one by a single mistake, and the message
must name the JSON path of that mistake.
"""

from __future__ import annotations

import copy
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from . import es_openapi
from .conftest import ROOT

if not es_openapi.spec_available():
    pytest.skip(
        f"Elasticsearch OpenAPI file is absent (expected at {es_openapi.SPEC_PATH})",
        allow_module_level=True,
    )

from .es_openapi import request_schema, validate_body, validate_bulk  # noqa: E402

SEARCH = ("post", "/{index}/_search")
CREATE_INDEX = ("put", "/{index}")

SEARCH_BODY = {
    "query": {
        "bool": {
            "must": [
                {
                    "simple_query_string": {
                        "query": "lumbar fusion",
                        "fields": ["text^2", "request"],
                        "default_operator": "or",
                    }
                }
            ],
            "filter": [
                {"terms": {"decision": ["upheld"]}},
                {"range": {"decision_date": {"gte": "2016-01-01", "lte": "2017-12-31"}}},
            ],
        }
    },
    "knn": {
        "field": "embedding",
        "query_vector": [0.1] * 384,
        "k": 10,
        "num_candidates": 100,
        "filter": [{"term": {"decision": "upheld"}}],
    },
    "aggs": {
        "decision": {
            "terms": {"field": "decision", "size": 50},
            "aggs": {"letters": {"cardinality": {"field": "letter_id"}}},
        }
    },
    "highlight": {
        "pre_tags": ["<mark>"],
        "post_tags": ["</mark>"],
        "encoder": "html",
        "fields": {"text": {"number_of_fragments": 2, "fragment_size": 160}},
    },
    "size": 10,
    "from": 20,
    "_source": {"excludes": ["embedding"]},
    "sort": [{"decision_date": {"order": "desc"}}],
    "track_total_hits": True,
    "collapse": {"field": "letter_id"},
}

INDEX_BODY = {
    "settings": {
        "number_of_shards": 1,
        "number_of_replicas": 0,
        "analysis": {
            "filter": {
                "drug_synonyms": {
                    "type": "synonym_graph",
                    "synonyms": ["acetaminophen, apap, paracetamol, tylenol"],
                    "lenient": True,
                },
                "english_stop": {"type": "stop", "stopwords": "_english_"},
            },
            "analyzer": {
                "imr_text": {
                    "type": "custom",
                    "tokenizer": "standard",
                    "filter": ["lowercase", "english_stop"],
                },
                "imr_search": {
                    "type": "custom",
                    "tokenizer": "standard",
                    "filter": ["lowercase", "drug_synonyms", "english_stop"],
                },
            },
        },
    },
    "mappings": {
        "dynamic": "strict",
        "properties": {
            "letter_id": {"type": "keyword"},
            "decision": {"type": "keyword", "meta": {"facet": "Decision"}},
            "text": {"type": "text", "analyzer": "imr_text", "search_analyzer": "imr_search"},
            "item_index": {"type": "integer"},
            "decision_date": {"type": "date", "format": "strict_date"},
            "record": {"type": "object", "enabled": False},
            "embedding": {
                "type": "dense_vector",
                "dims": 384,
                "element_type": "float",
                "index": True,
                "similarity": "dot_product",
                "index_options": {"type": "hnsw", "m": 16, "ef_construction": 100},
            },
        },
    },
}

ALIASES_BODY = {
    "actions": [
        {"add": {"index": "imr-chunks-2", "alias": "imr-chunks", "is_write_index": True}},
        {"remove": {"index": "imr-chunks-1", "alias": "imr-chunks"}},
    ]
}

BULK_LINES = [
    {"index": {"_index": "x", "_id": "a"}},
    {"letter_id": "a", "text": "The request is upheld.", "embedding": [0.0] * 4},
    {"delete": {"_index": "x", "_id": "b"}},
]


# The shapes the store sends since it analyses text itself and pages its aggregations: a
# composite aggregation (with the previous page's key), a simple_query_string over analysed
# copies with the whitespace analyzer and its operators, ranking fields only.
PAGED_SEARCH_BODY = {
    "query": {
        "bool": {
            "should": [
                {
                    "simple_query_string": {
                        "query": '(diazepam | valium) "urin drug screen"',
                        "fields": ["analysed.text^1.0", "analysed.request^2.0"],
                        "analyzer": "whitespace",
                        "default_operator": "or",
                        "flags": "OR|PHRASE|PRECEDENCE|WHITESPACE",
                    }
                }
            ],
            "must_not": [{"match_none": {}}],
        }
    },
    "size": 0,
    "_source": {"includes": ["chunk_id", "letter_id"]},
    "aggregations": {
        "treatment_name": {
            "composite": {
                "size": 1000,
                "sources": [{"treatment_name": {"terms": {"field": "treatment_name"}}}],
                "after": {"treatment_name": "zolpidem"},
            },
            "aggregations": {"letters": {"cardinality": {"field": "letter_id"}}},
        }
    },
}

# The statistics: items per value and per decision, one page after another.
STATS_PAGE = {
    "composite": {
        "size": 1000,
        "sources": [
            {"by": {"terms": {"field": "treatment_class"}}},
            {"decision": {"terms": {"field": "decision"}}},
        ],
        "after": {"by": "opioid", "decision": "upheld"},
    }
}

# The chunks mapping without analysis settings: the original text stored, not indexed; its
# analysed copy indexed with the built-in whitespace analyzer and left out of `_source`.
ANALYSED_INDEX_BODY = {
    "settings": {"number_of_shards": 1, "number_of_replicas": 0},
    "mappings": {
        "dynamic": "strict",
        "_source": {"excludes": ["analysed"]},
        "properties": {
            "text": {"type": "text", "index": False},
            "analysed": {
                "type": "object",
                "properties": {"text": {"type": "text", "analyzer": "whitespace"}},
            },
        },
    },
}

# What deleting by id needs without `_delete_by_query` (no reindex module): a scroll's next
# page and its clearing, and the look-up of which records exist.
SCROLL_BODY = {"scroll_id": "FGluY2x1ZGVfY29udGV4dF91dWlk", "scroll": "2m"}
CLEAR_SCROLL_BODY = {"scroll_id": "FGluY2x1ZGVfY29udGV4dF91dWlk"}
MGET_BODY = {"ids": ["CM16-0219557", "L-1"]}


def rejection(method: str, path: str, body) -> str:
    """The message validate_body raises for `body`; fails the test when it passes."""
    with pytest.raises(AssertionError) as excinfo:
        validate_body(method, path, body)
    return str(excinfo.value)


def _steps(dotted: str) -> list:
    return [int(step) if step.isdigit() else step for step in dotted.split(".")]


def _parent(body, dotted: str):
    node = body
    for step in _steps(dotted)[:-1]:
        node = node[step]
    return node, _steps(dotted)[-1]


def ren(dotted: str, new: str):
    """An edit renaming the key at `dotted` (e.g. "knn.num_candidates") to `new`."""

    def edit(body):
        parent, key = _parent(body, dotted)
        parent[new] = parent.pop(key)

    return edit


def put(dotted: str, value):
    """An edit setting the value at `dotted` (a new or existing key) to `value`."""

    def edit(body):
        parent, key = _parent(body, dotted)
        parent[key] = value

    return edit


def case(edit, bad_path: str):
    """A parameter set (edit, bad_path) named after the path the message must name."""
    return pytest.param(edit, bad_path, id=bad_path)


def changed(body, edit):
    """A deep copy of `body` with `edit` applied to it."""
    body = copy.deepcopy(body)
    edit(body)
    return body


# ---------------------------------------------------------------------------------------------
# Request schemas


@pytest.mark.parametrize(
    ("method", "path"),
    [
        SEARCH,
        CREATE_INDEX,
        ("post", "/_bulk"),
        ("post", "/_aliases"),
        ("post", "/{index}/_count"),
        ("post", "/{index}/_delete_by_query"),
        ("post", "/_msearch"),
        ("post", "/_search/scroll"),
        ("delete", "/_search/scroll"),
        ("post", "/{index}/_mget"),
    ],
)
def test_request_schema_found(method, path):
    schema = request_schema(method, path)
    assert isinstance(schema, dict) and schema


def test_request_schema_unknown_endpoint():
    with pytest.raises(KeyError):
        request_schema("post", "/{index}/_serch")


# ---------------------------------------------------------------------------------------------
# Bodies that must pass


def test_search_body_passes():
    validate_body(*SEARCH, SEARCH_BODY)


@pytest.mark.parametrize(
    "edit",
    [
        # shortcut and long forms that Elasticsearch accepts
        pytest.param(
            put("sort", ["decision_date", {"_score": {"order": "desc"}}]), id="sort-forms"
        ),
        pytest.param(put("sort", {"decision_date": "asc"}), id="sort-single"),
        pytest.param(put("_source", False), id="source-false"),
        pytest.param(put("_source", ["text", "letter_id"]), id="source-list"),
        pytest.param(
            put("knn.filter", {"term": {"decision": {"value": "upheld"}}}), id="term-long"
        ),
        pytest.param(put("query.bool.must", {"match": {"text": "fusion"}}), id="must-single"),
        pytest.param(put("track_total_hits", 10000), id="track-total-hits-int"),
        pytest.param(put("highlight.fields", {"text": {}, "request": {}}), id="highlight-fields"),
        pytest.param(ren("aggs", "aggregations"), id="aggregations-spelling"),
        pytest.param(lambda b: b.update(knn=[b["knn"]]), id="knn-array"),
    ],
)
def test_search_body_variants_pass(edit):
    validate_body(*SEARCH, changed(SEARCH_BODY, edit))


@pytest.mark.parametrize(
    "edit",
    [
        pytest.param(lambda b: None, id="as-built"),
        pytest.param(put("_source", True), id="source-true"),
        pytest.param(put("_source", {"exclude_vectors": False}), id="source-exclude-vectors"),
        pytest.param(put("_source", {"excludes": ["embedding"]}), id="source-excludes"),
        pytest.param(
            lambda b: b["aggregations"]["treatment_name"]["composite"].pop("after"),
            id="composite-first-page",
        ),
        pytest.param(put("aggregations.by", STATS_PAGE), id="composite-two-sources"),
    ],
)
def test_paged_search_body_passes(edit):
    validate_body(*SEARCH, changed(PAGED_SEARCH_BODY, edit))


def test_analysed_index_body_and_deletion_bodies_pass():
    validate_body(*CREATE_INDEX, ANALYSED_INDEX_BODY)
    validate_body("post", "/_search/scroll", SCROLL_BODY)
    validate_body("delete", "/_search/scroll", CLEAR_SCROLL_BODY)
    validate_body("delete", "/_search/scroll", {"scroll_id": ["a", "b"]})
    validate_body("post", "/{index}/_mget", MGET_BODY)


def test_index_creation_body_passes():
    validate_body(*CREATE_INDEX, INDEX_BODY)
    # the `index` level is the same settings schema, shard counts included
    nested = changed(INDEX_BODY, lambda b: b.update(settings={"index": b["settings"]}))
    validate_body(*CREATE_INDEX, nested)


@pytest.mark.parametrize(
    "edit",
    [
        pytest.param(put("mappings.dynamic", False), id="dynamic-boolean"),
        pytest.param(put("settings.number_of_shards", "1"), id="shards-string"),
        pytest.param(
            put("settings.analysis.filter.stem", {"type": "stemmer", "language": "english"}),
            id="stemmer-filter",
        ),
        pytest.param(
            put("mappings.properties.text.fields", {"raw": {"type": "keyword"}}), id="multi-field"
        ),
    ],
)
def test_index_creation_variants_pass(edit):
    validate_body(*CREATE_INDEX, changed(INDEX_BODY, edit))


@pytest.mark.parametrize("path", sorted((ROOT / "mappings").glob("*.json")), ids=lambda p: p.name)
def test_project_index_definitions_pass(path):
    validate_body(*CREATE_INDEX, json.loads(path.read_text(encoding="utf-8")))


def test_aliases_body_passes():
    validate_body("post", "/_aliases", ALIASES_BODY)


def test_bulk_passes():
    validate_bulk(BULK_LINES)
    validate_body("post", "/_bulk", BULK_LINES)
    validate_bulk(
        [
            {"create": {"_index": "x", "_id": "c"}},
            {"letter_id": "c"},
            {"update": {"_index": "x", "_id": "c", "retry_on_conflict": 3}},
            {"doc": {"letter_id": "c"}, "doc_as_upsert": True},
        ]
    )


def test_delete_by_query_body_passes():
    validate_body(
        "post", "/{index}/_delete_by_query", {"query": {"terms": {"letter_id": ["a", "b"]}}}
    )


def test_count_body_passes():
    validate_body("post", "/{index}/_count", {"query": SEARCH_BODY["query"]})


def test_msearch_lines_pass():
    lines = [{"index": "imr-chunks"}, SEARCH_BODY, {}, {"query": {"match_all": {}}, "size": 0}]
    validate_body("post", "/_msearch", lines)


# ---------------------------------------------------------------------------------------------
# Bodies that must fail, naming the bad path


@pytest.mark.parametrize(
    ("edit", "bad_path"),
    [
        case(ren("knn.num_candidates", "num_candidate"), "$.knn.num_candidate"),
        case(ren("knn", "knnn"), "$.knnn"),
        case(
            ren("query.bool.must.0.simple_query_string", "simple_query_strin"),
            "$.query.bool.must[0].simple_query_strin",
        ),
        case(ren("aggs.decision.terms.field", "feild"), "$.aggs.decision.terms.feild"),
        case(
            ren("highlight.fields.text.number_of_fragments", "number_of_fragment"),
            "$.highlight.fields.text.number_of_fragment",
        ),
        case(put("size", "ten"), "$.size"),
        case(put("knn.k", "10"), "$.knn.k"),
        case(put("sort.0.decision_date.order", "descending"), "$.sort[0].decision_date.order"),
        case(put("query.bool.filter.0.terms.x", ["y"]), "$.query.bool.filter[0].terms"),
        case(put("track_total_hits", "yes"), "$.track_total_hits"),
        case(put("knn.filter.0.term.decision", ["upheld"]), "$.knn.filter[0].term.decision"),
        case(
            put("query.bool.filter.1.range.decision_date.gtee", "x"),
            "$.query.bool.filter[1].range.decision_date.gtee",
        ),
        case(put("collapse", "letter_id"), "$.collapse"),
    ],
)
def test_search_body_mistakes_fail(edit, bad_path):
    message = rejection(*SEARCH, changed(SEARCH_BODY, edit))
    assert bad_path in message, message


@pytest.mark.parametrize(
    ("edit", "bad_path"),
    [
        case(
            ren("aggregations.treatment_name.composite.after", "after_key"),
            "$.aggregations.treatment_name.composite.after_key",
        ),
        case(
            ren(
                "aggregations.treatment_name.composite.sources.0.treatment_name.terms.field",
                "feild",
            ),
            "$.aggregations.treatment_name.composite.sources[0].treatment_name.terms.feild",
        ),
        case(
            put("aggregations.treatment_name.composite.size", "all"),
            "$.aggregations.treatment_name.composite.size",
        ),
        case(
            ren("query.bool.should.0.simple_query_string.analyzer", "analyser"),
            "$.query.bool.should[0].simple_query_string.analyser",
        ),
        case(
            put("query.bool.must_not.0.match_none", {"x": 1}),
            "$.query.bool.must_not[0].match_none.x",
        ),
        # (`include` is Elasticsearch's other spelling, accepted: see es_openapi._PATCHES)
        case(ren("_source.includes", "includs"), "$._source.includs"),
    ],
)
def test_paged_search_body_mistakes_fail(edit, bad_path):
    message = rejection(*SEARCH, changed(PAGED_SEARCH_BODY, edit))
    assert bad_path in message, message


def endpoint_case(method: str, path: str, body, edit, bad_path: str):
    """A parameter set (method, path, edited body, bad_path) named after the path."""
    return pytest.param(method, path, changed(body, edit), bad_path, id=bad_path)


@pytest.mark.parametrize(
    ("method", "path", "body", "bad_path"),
    [
        endpoint_case(
            *CREATE_INDEX,
            ANALYSED_INDEX_BODY,
            ren("mappings._source.excludes", "exclude"),
            "$.mappings._source.exclude",
        ),
        endpoint_case(
            *CREATE_INDEX,
            ANALYSED_INDEX_BODY,
            ren("mappings.properties.analysed.properties.text.analyzer", "analyser"),
            "$.mappings.properties.analysed.properties.text.analyser",
        ),
        endpoint_case(
            *CREATE_INDEX,
            ANALYSED_INDEX_BODY,
            put("mappings.properties.text.index", "no"),
            "$.mappings.properties.text.index",
        ),
        endpoint_case("post", "/_search/scroll", SCROLL_BODY, ren("scroll", "scrol"), "$.scrol"),
        endpoint_case(
            "delete",
            "/_search/scroll",
            CLEAR_SCROLL_BODY,
            ren("scroll_id", "scroll_ids"),
            "$.scroll_ids",
        ),
        endpoint_case("post", "/{index}/_mget", MGET_BODY, ren("ids", "id"), "$.id"),
        endpoint_case("post", "/{index}/_mget", MGET_BODY, put("ids", [1]), "$.ids[0]"),
    ],
)
def test_analysed_index_and_deletion_mistakes_fail(method, path, body, bad_path):
    message = rejection(method, path, body)
    assert bad_path in message, message


def test_unknown_key_message_lists_allowed_keys():
    message = rejection(*SEARCH, changed(SEARCH_BODY, ren("knn.num_candidates", "num_candidate")))
    assert "$.knn.num_candidate: unknown key (allowed: field, query_vector" in message
    assert "num_candidates" in message


def test_every_violation_is_listed():
    def two_mistakes(body):
        ren("knn.num_candidates", "num_candidate")(body)
        put("size", "ten")(body)

    message = rejection(*SEARCH, changed(SEARCH_BODY, two_mistakes))
    assert "2 violation(s)" in message
    assert "$.knn.num_candidate" in message and "$.size" in message


@pytest.mark.parametrize(
    ("edit", "bad_path"),
    [
        case(
            ren("mappings.properties.embedding.index_options", "index_option"),
            "$.mappings.properties.embedding.index_option",
        ),
        # token filters are a oneOf of closed objects told apart by their `type` (discriminator)
        case(
            ren("settings.analysis.filter.drug_synonyms.synonyms", "synonym"),
            "$.settings.analysis.filter.drug_synonyms.synonym",
        ),
        case(
            put("settings.analysis.filter.drug_synonyms.type", "synonym_grph"),
            "$.settings.analysis.filter.drug_synonyms.type",
        ),
        case(
            ren("settings.analysis.analyzer.imr_text.tokenizer", "tokeniser"),
            "$.settings.analysis.analyzer.imr_text.tokeniser",
        ),
        case(
            put("mappings.properties.embedding.similarity", "dot"),
            "$.mappings.properties.embedding.similarity",
        ),
        case(
            put("mappings.properties.embedding.index_options.efconstruction", 1),
            "$.mappings.properties.embedding.index_options.efconstruction",
        ),
        case(
            put("mappings.properties.embedding.dims", "384"),
            "$.mappings.properties.embedding.dims",
        ),
        case(
            put("mappings.properties.decision.meta.facet", 1),
            "$.mappings.properties.decision.meta.facet",
        ),
        case(put("mappings.properties.x", {"type": "keywrd"}), "$.mappings.properties.x.type"),
        case(put("mappings.dynamic", "strikt"), "$.mappings.dynamic"),
        case(put("settings.number_of_shards", 1.5), "$.settings.number_of_shards"),
        case(put("settings.number_of_replicas", "one"), "$.settings.number_of_replicas"),
        case(put("settings.number_of_shard", 1), "$.settings.number_of_shard"),
        case(ren("mappings", "mapping"), "$.mapping"),
    ],
)
def test_index_creation_mistakes_fail(edit, bad_path):
    message = rejection(*CREATE_INDEX, changed(INDEX_BODY, edit))
    assert bad_path in message, message


def test_aliases_mistakes_fail():
    message = rejection("post", "/_aliases", changed(ALIASES_BODY, put("actions.0.remove", {})))
    assert "$.actions[0]: expected at most 1" in message, message
    message = rejection(
        "post",
        "/_aliases",
        changed(ALIASES_BODY, ren("actions.0.add.is_write_index", "write")),
    )
    assert "$.actions[0].add.write" in message, message


def test_bulk_mistakes_fail():
    lines = changed(BULK_LINES, ren("0.index", "indx"))
    with pytest.raises(AssertionError, match=r"\$\[0\]\.indx: unknown key"):
        validate_bulk(lines)
    with pytest.raises(AssertionError, match=r"\$\[2\]\.delete\._idx: unknown key"):
        validate_bulk([*BULK_LINES[:2], {"delete": {"_index": "x", "_idx": "b"}}])
    with pytest.raises(AssertionError, match=r"without its source line"):
        validate_bulk(BULK_LINES[:1])
    with pytest.raises(AssertionError, match=r"\$\[1\]\.dco: unknown key"):
        validate_bulk([{"update": {"_id": "a"}}, {"dco": {}}])


def test_count_and_delete_by_query_mistakes_fail():
    message = rejection("post", "/{index}/_count", {"query": {"term": {}}})
    assert "$.query.term: expected at least 1" in message, message
    message = rejection("post", "/{index}/_delete_by_query", {"qeury": {"match_all": {}}})
    assert "$.qeury: unknown key" in message, message


def test_msearch_mistakes_fail():
    message = rejection("post", "/_msearch", [{"indx": "imr-chunks"}, SEARCH_BODY])
    assert "$[0].indx: unknown key" in message, message
    message = rejection("post", "/_msearch", [{}, {"sise": 1}])
    assert "$[1].sise: unknown key" in message, message


# ---------------------------------------------------------------------------------------------
# Mutation coverage: renaming any key we chose from the schema's vocabulary must fail

# Keys under these paths are names we choose, not schema keywords: aggregation names (`aggs`),
# highlighted field names (`highlight.fields`), and field names under field-keyed clauses
# (`terms`, `range`, `term` queries and field sorts). Renaming one of them is legal (it only
# names another field or aggregation), so they are not mutated. Every other key in
# SEARCH_BODY is a named property of its schema.
FREE_MAPS = {
    ("aggs",),
    ("aggs", "decision", "aggs"),
    ("highlight", "fields"),
    ("sort", 0),
    ("query", "bool", "filter", 0, "terms"),
    ("query", "bool", "filter", 1, "range"),
    ("knn", "filter", 0, "term"),
}


def key_paths(node, prefix=()):
    """Paths (tuples of keys and indices) of every object key in `node`, outside FREE_MAPS."""
    if isinstance(node, dict):
        for key, value in node.items():
            if prefix not in FREE_MAPS:
                yield (*prefix, key)
            yield from key_paths(value, (*prefix, key))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from key_paths(value, (*prefix, i))


MUTABLE = sorted(key_paths(SEARCH_BODY), key=repr)


def renamed(path: tuple) -> dict:
    """SEARCH_BODY with the key at `path` renamed to key + "x"."""
    return changed(SEARCH_BODY, ren(".".join(map(str, path)), f"{path[-1]}x"))


def test_mutation_candidates_cover_the_body():
    assert len(MUTABLE) >= 40
    assert ("knn", "num_candidates") in MUTABLE
    assert ("aggs", "decision") not in MUTABLE
    assert ("aggs", "decision", "terms") in MUTABLE


@settings(max_examples=60, deadline=None)
@given(st.sampled_from(MUTABLE))
def test_renaming_any_schema_key_fails(path):
    message = rejection(*SEARCH, renamed(path))
    assert path[-1] + "x" in message, message


def test_renaming_each_schema_key_fails():
    """The exhaustive version of the property above (42 renamings; cheap)."""
    for path in MUTABLE:
        message = rejection(*SEARCH, renamed(path))
        assert path[-1] + "x" in message, (path, message)


def test_renaming_a_free_map_key_passes():
    for parent in FREE_MAPS:
        body = copy.deepcopy(SEARCH_BODY)
        node = body
        for step in parent:
            node = node[step]
        for key in list(node):
            node[key + "x"] = node.pop(key)
        validate_body(*SEARCH, body)
