"""The Elasticsearch store.

No Elasticsearch server can run where these tests run, so:
1. every request body is built by a pure function, compared here with literal bodies;
2. every body the store can send is validated strictly against Elastic's OpenAPI document
   (`es_openapi`), including the bulk lines built from real sample letters;
3. the code that talks to the cluster runs against a recording fake at the HTTP boundary
   (`es_fake`), which answers only what each test routes;
4. a live contract test runs when ELASTICSEARCH_URL names a real cluster.
"""

from __future__ import annotations

import copy
import os
import re
import socket
import time
import uuid

import numpy as np
import pytest
from elasticsearch.helpers import expand_action
from hypothesis import given, settings
from hypothesis import strategies as st

from indexer.documents import LetterDocs, letter_docs
from indexer.query_text import Clause, ParsedQuery, parse_query
from indexer.schema import DATE_FIELDS, facet_names, fields, index_definition
from indexer.stores.base import ChunkHit, Filters, IndexReport, StoreConfigError
from indexer.stores.elasticsearch import (
    ElasticsearchStore,
    Generation,
    StoreError,
    StoreUnavailable,
    build_alias_actions,
    build_count_letters,
    build_delete_letters_query,
    build_exclusion_clauses,
    build_facet_aggs,
    build_filter_clauses,
    build_fingerprints_search,
    build_highlight_search,
    build_index_body,
    build_keyword_search,
    build_knn_search,
    build_letter_chunks_search,
    build_query,
    build_stale_chunks_query,
    build_stats_aggs,
    build_text_query,
    chunk_actions,
    cosine_from_score,
    generation_names,
    letter_actions,
    num_candidates,
    redact_url,
)

from . import es_openapi
from .conftest import SAMPLES
from .es_fake import FakeElasticsearch, Request, bulk_answer

SEED_002 = SAMPLES / "seeds" / "002_d3b73cfd4dd990bb.txt"
DEV_PDF = SAMPLES / "dev" / "CM16-0219557.pdf"
DIMS = 384

needs_spec = pytest.mark.skipif(
    not es_openapi.spec_available(),
    reason=f"Elasticsearch OpenAPI spec not found at {es_openapi.SPEC_PATH}",
)

HIGHLIGHT = {
    "pre_tags": ["<mark>"],
    "post_tags": ["</mark>"],
    "encoder": "html",
    "fragment_size": 180,
    "number_of_fragments": 2,
    "fields": {"text": {}, "request": {}},
}
FIELDS = ["text^1.0", "request^2.0", "treatment_terms^1.5"]


def sqs(text: str) -> dict:
    """The simple_query_string every text clause becomes (written out in the first tests)."""
    return {
        "simple_query_string": {
            "query": text,
            "fields": FIELDS,
            "default_operator": "or",
            "flags": "PHRASE|WHITESPACE",
        }
    }


# ---------------------------------------------------------------------------------------------
# 1. Pure builders: literal bodies


def test_keyword_search_with_facets_dates_exclusion_phrase_newest():
    query = parse_query('klonopin "urine drug screen" -tramadol')
    filters = Filters(
        terms=(("decision", ("upheld",)), ("treatment_class", ("benzodiazepine", "opioid"))),
        date_ranges=(("decision_date", "2015-01-01", "2016-12-31"),),
        exclude_letter_ids=("CM16-0219557",),
    )
    assert build_keyword_search(query, filters, 20, "newest") == {
        "query": {
            "bool": {
                "must": [
                    {
                        "bool": {
                            "should": [
                                {
                                    "simple_query_string": {
                                        "query": 'klonopin "urine drug screen"',
                                        "fields": [
                                            "text^1.0",
                                            "request^2.0",
                                            "treatment_terms^1.5",
                                        ],
                                        "default_operator": "or",
                                        "flags": "PHRASE|WHITESPACE",
                                    }
                                }
                            ],
                            "must_not": [
                                {
                                    "simple_query_string": {
                                        "query": "tramadol",
                                        "fields": [
                                            "text^1.0",
                                            "request^2.0",
                                            "treatment_terms^1.5",
                                        ],
                                        "default_operator": "or",
                                        "flags": "PHRASE|WHITESPACE",
                                    }
                                }
                            ],
                        }
                    }
                ],
                "filter": [
                    {"terms": {"decision": ["upheld"]}},
                    {"terms": {"treatment_class": ["benzodiazepine", "opioid"]}},
                    {
                        "range": {
                            "decision_date": {
                                "gte": "2015-01-01",
                                "lte": "2016-12-31",
                                "format": "strict_date",
                            }
                        }
                    },
                ],
                "must_not": [{"terms": {"letter_id": ["CM16-0219557"]}}],
            }
        },
        "size": 20,
        "_source": {"excludes": ["embedding"]},
        "track_total_hits": True,
        "sort": [{"decision_date": {"order": "desc", "missing": "_last"}}, "_score"],
        "highlight": {
            "pre_tags": ["<mark>"],
            "post_tags": ["</mark>"],
            "encoder": "html",
            "fragment_size": 180,
            "number_of_fragments": 2,
            "fields": {"text": {}, "request": {}},
        },
    }


def test_keyword_search_without_words_matches_all_and_skips_highlight():
    assert build_keyword_search(None, Filters(), 10) == {
        "query": {"bool": {"must": [{"match_all": {}}]}},
        "size": 10,
        "_source": {"excludes": ["embedding"]},
        "track_total_hits": True,
        "sort": ["_score"],
    }


def test_text_query_required_optional_and_excluded_clauses():
    query = ParsedQuery(
        (
            Clause("mri", False, "must"),
            Clause("lumbar spine", True, "must"),
            Clause("klonopin"),
            Clause("urine drug screen", True),
            Clause("tramadol", False, "must_not"),
            Clause("physical therapy", True, "must_not"),
        )
    )
    assert build_text_query(query) == {
        "bool": {
            "must": [sqs("mri"), sqs('"lumbar spine"')],
            "should": [sqs('klonopin "urine drug screen"')],
            "must_not": [sqs('tramadol "physical therapy"')],
        }
    }


def test_text_query_of_exclusions_only_matches_everything_else():
    assert build_text_query(parse_query("-tramadol")) == {
        "bool": {"must": [{"match_all": {}}], "must_not": [sqs("tramadol")]}
    }
    assert build_text_query(None) == {"match_all": {}}
    assert build_text_query(ParsedQuery()) == {"match_all": {}}


def test_text_query_never_puts_an_exclusion_in_the_positive_string():
    """`-foo bar` in one simple_query_string with default_operator or is "bar OR NOT foo"."""
    body = build_text_query(parse_query("bar -foo"))
    assert body["bool"]["should"] == [sqs("bar")]
    assert body["bool"]["must_not"] == [sqs("foo")]


def test_filter_clauses_cover_every_kind_of_filter():
    filters = Filters(
        terms=(("age_band", ("40-49", "50-59")), ("priority", ())),
        date_ranges=(("date_of_injury", None, "2014-06-30"), ("decision_date", None, None)),
        chunk_ids=("CM16-0219557:item-1:0", "CM16-0219557:item-1:1"),
        exclude_letter_ids=("L-1", "L-2"),
        section="item",
        first_window_only=True,
    )
    assert build_filter_clauses(filters) == [
        {"terms": {"age_band": ["40-49", "50-59"]}},
        {"range": {"date_of_injury": {"lte": "2014-06-30", "format": "strict_date"}}},
        {"terms": {"chunk_id": ["CM16-0219557:item-1:0", "CM16-0219557:item-1:1"]}},
        {"term": {"section": "item"}},
        {"term": {"window": 0}},
    ]
    assert build_exclusion_clauses(filters) == [{"terms": {"letter_id": ["L-1", "L-2"]}}]
    # An empty result set of a semantic search restricts to nothing at all.
    assert build_filter_clauses(Filters(chunk_ids=())) == [{"terms": {"chunk_id": []}}]
    assert build_filter_clauses(Filters()) == []


@pytest.mark.parametrize(
    "filters",
    [
        Filters(terms=(("text", ("x",)),)),
        Filters(terms=(("no_such_field", ("x",)),)),
        Filters(date_ranges=(("indexed_at", "2016-01-01", None),)),
    ],
)
def test_filters_on_unknown_fields_are_refused(filters):
    with pytest.raises(ValueError):
        build_filter_clauses(filters)


def test_knn_search_filters_inside_knn():
    vector = np.zeros(DIMS, np.float32)
    vector[3] = 1.0
    filters = Filters(
        terms=(("decision", ("overturned",)),),
        date_ranges=(("decision_date", "2016-01-01", None),),
        exclude_letter_ids=("CM16-0219557",),
    )
    expected_vector = [0.0] * DIMS
    expected_vector[3] = 1.0
    assert build_knn_search(vector, filters, 10) == {
        "knn": {
            "field": "embedding",
            "query_vector": expected_vector,
            "k": 10,
            "num_candidates": 100,
            "filter": [
                {"terms": {"decision": ["overturned"]}},
                {"range": {"decision_date": {"gte": "2016-01-01", "format": "strict_date"}}},
                {"bool": {"must_not": [{"terms": {"letter_id": ["CM16-0219557"]}}]}},
            ],
        },
        "size": 10,
        "_source": {"excludes": ["embedding"]},
    }
    assert "filter" not in build_knn_search(vector, Filters(), 5)["knn"]
    assert "post_filter" not in build_knn_search(vector, filters, 5)


def test_knn_candidates_and_bad_input():
    assert [num_candidates(k) for k in (1, 25, 26, 1000, 2500, 10000)] == [
        100, 100, 104, 4000, 10000, 10000,
    ]  # fmt: skip
    with pytest.raises(ValueError):
        build_knn_search(np.zeros(12, np.float32), Filters(), 10)
    with pytest.raises(ValueError):
        build_knn_search(np.full(DIMS, np.nan, np.float32), Filters(), 10)
    with pytest.raises(ValueError):
        build_knn_search(np.zeros(DIMS, np.float32), Filters(), 0)


def test_facet_aggs_count_letters_not_chunks():
    filters = Filters(terms=(("decision", ("upheld",)),))
    assert build_facet_aggs(parse_query("diazepam"), filters, ["treatment_name", "licensure"]) == {
        "size": 0,
        "query": {
            "bool": {"must": [{"bool": {"should": [sqs("diazepam")]}}],
                     "filter": [{"terms": {"decision": ["upheld"]}}]}
        },
        "aggregations": {
            "treatment_name": {
                "terms": {
                    "field": "treatment_name",
                    "size": 200,
                    "order": [{"letters": "desc"}, {"_key": "asc"}],
                },
                "aggregations": {
                    "letters": {
                        "cardinality": {"field": "letter_id", "precision_threshold": 40000}
                    }
                },
            },
            "licensure": {
                "terms": {
                    "field": "licensure",
                    "size": 200,
                    "order": [{"letters": "desc"}, {"_key": "asc"}],
                },
                "aggregations": {
                    "letters": {
                        "cardinality": {"field": "letter_id", "precision_threshold": 40000}
                    }
                },
            },
        },
    }  # fmt: skip


def test_count_letters_body():
    assert build_count_letters(None, Filters(section="item")) == {
        "size": 0,
        "query": {"bool": {"must": [{"match_all": {}}], "filter": [{"term": {"section": "item"}}]}},
        "aggregations": {
            "letters": {"cardinality": {"field": "letter_id", "precision_threshold": 40000}}
        },
    }


def test_stats_aggs_count_each_item_once():
    # Whatever the filters say about sections, stats count item chunks, first window only.
    filters = Filters(terms=(("priority", ("Standard",)),), section="clinical_case_summary")
    assert build_stats_aggs(parse_query("mri"), filters, "treatment_category") == {
        "size": 0,
        "query": {
            "bool": {
                "must": [{"bool": {"should": [sqs("mri")]}}],
                "filter": [
                    {"terms": {"priority": ["Standard"]}},
                    {"term": {"section": "item"}},
                    {"term": {"window": 0}},
                ],
            }
        },
        "aggregations": {
            "by": {
                "terms": {"field": "treatment_category", "size": 500},
                "aggregations": {"decision": {"terms": {"field": "decision", "size": 10}}},
            }
        },
    }
    with pytest.raises(ValueError):
        build_stats_aggs(None, Filters(), "patient_age")


def test_highlight_search_body():
    query = parse_query('"urine drug screen" klonopin -tramadol')
    assert build_highlight_search(query, ["a:item-1:0", "b:summary:0", "a:item-1:0"]) == {
        "query": {"terms": {"chunk_id": ["a:item-1:0", "b:summary:0"]}},
        "size": 2,
        "_source": False,
        "highlight": {
            **HIGHLIGHT,
            "highlight_query": {"bool": {"should": [sqs('"urine drug screen" klonopin')]}},
        },
    }


def test_letter_chunks_and_fingerprints_bodies():
    assert build_letter_chunks_search("CM16-0219557") == {
        "query": {"term": {"letter_id": "CM16-0219557"}},
        "size": 10000,
        "sort": [
            {"item_index": {"order": "asc", "missing": "_first"}},
            {"window": {"order": "asc"}},
            {"chunk_id": {"order": "asc"}},
        ],
        "_source": {"exclude_vectors": False},
    }
    # similar() reads the facets of the letters it found, not their vectors.
    assert build_letter_chunks_search("CM16-0219557", embeddings=False)["_source"] == {
        "excludes": ["embedding"]
    }
    assert build_fingerprints_search() == {
        "query": {"match_all": {}},
        "_source": {"includes": ["letter_id", "source", "fingerprint"]},
    }


def test_index_body_of_letters():
    assert build_index_body("letters", ["ignored, here"]) == {
        "settings": {"number_of_shards": 1, "number_of_replicas": 0},
        "mappings": {
            "dynamic": "strict",
            "properties": {
                "letter_id": {"type": "keyword"},
                "source": {"type": "keyword"},
                "fingerprint": {"type": "keyword"},
                "chunk_count": {"type": "integer"},
                "indexed_at": {"type": "date"},
                "record": {"type": "object", "enabled": False},
                "text": {"type": "text", "index": False},
                "original_text": {"type": "text", "index": False},
                "file_sha256": {"type": "keyword"},
                "file_size": {"type": "long"},
                "file_mtime_ns": {"type": "long"},
                "parser": {"type": "keyword"},
            },
        },
    }


def test_index_body_of_chunks_fills_the_synonyms():
    body = build_index_body("chunks", ["diazepam, valium", "clonazepam, klonopin"], 2, 1)
    assert body["settings"] == {
        "number_of_shards": 2,
        "number_of_replicas": 1,
        "analysis": {
            "filter": {
                "imr_possessive": {"type": "stemmer", "language": "possessive_english"},
                "imr_stop": {"type": "stop", "stopwords": "_english_"},
                "imr_stemmer": {"type": "stemmer", "language": "english"},
                "imr_drug_synonyms": {
                    "type": "synonym_graph",
                    "lenient": True,
                    "synonyms": ["diazepam, valium", "clonazepam, klonopin"],
                },
            },
            "analyzer": {
                "imr_text": {
                    "type": "custom",
                    "tokenizer": "standard",
                    "filter": ["imr_possessive", "lowercase", "imr_stop", "imr_stemmer"],
                },
                "imr_search": {
                    "type": "custom",
                    "tokenizer": "standard",
                    "filter": [
                        "imr_possessive",
                        "lowercase",
                        "imr_drug_synonyms",
                        "imr_stop",
                        "imr_stemmer",
                    ],
                },
            },
        },
    }
    assert body["mappings"] == index_definition("chunks")["mappings"]
    # The mapping file itself is left alone (it is cached and shared).
    assert (
        index_definition("chunks")["settings"]["analysis"]["filter"]["imr_drug_synonyms"][
            "synonyms"
        ]
        == []
    )


def test_store_index_body_uses_the_project_synonyms():
    from indexer.synonyms import synonym_rules

    store = ElasticsearchStore("http://127.0.0.1:9", "imr-test", replicas=1)
    body = store.index_body("chunks")
    rules = body["settings"]["analysis"]["filter"]["imr_drug_synonyms"]["synonyms"]
    assert rules == list(synonym_rules())
    assert body["settings"]["number_of_replicas"] == 1
    assert "imr_drug_synonyms" not in str(store.index_body("letters"))


def test_alias_swap_body():
    gen = generation_names("imr-chunks", "20261123t154300000000z")
    assert gen == Generation(
        "20261123t154300000000z",
        "imr-chunks-20261123t154300000000z",
        "imr-chunks-letters-20261123t154300000000z",
    )
    removes = [("imr-chunks-old", "imr-chunks"), ("imr-chunks-letters-old", "imr-chunks-letters")]
    adds = [(gen.chunks_index, "imr-chunks"), (gen.letters_index, "imr-chunks-letters")]
    assert build_alias_actions(removes, adds) == {
        "actions": [
            {"remove": {"index": "imr-chunks-old", "alias": "imr-chunks", "must_exist": True}},
            {
                "remove": {
                    "index": "imr-chunks-letters-old",
                    "alias": "imr-chunks-letters",
                    "must_exist": True,
                }
            },
            {
                "add": {
                    "index": "imr-chunks-20261123t154300000000z",
                    "alias": "imr-chunks",
                    "is_write_index": True,
                }
            },
            {
                "add": {
                    "index": "imr-chunks-letters-20261123t154300000000z",
                    "alias": "imr-chunks-letters",
                    "is_write_index": True,
                }
            },
        ]
    }


def test_delete_by_query_bodies():
    assert build_stale_chunks_query({"L-1": ["L-1:summary:0", "L-1:item-1:0"], "L-2": []}) == {
        "query": {
            "bool": {
                "filter": [{"terms": {"letter_id": ["L-1", "L-2"]}}],
                "must_not": [{"terms": {"chunk_id": ["L-1:summary:0", "L-1:item-1:0"]}}],
            }
        }
    }
    assert build_stale_chunks_query({"L-2": []}) == {
        "query": {"bool": {"filter": [{"terms": {"letter_id": ["L-2"]}}]}}
    }
    assert build_delete_letters_query(["L-1", "L-2"]) == {
        "query": {"terms": {"letter_id": ["L-1", "L-2"]}}
    }


def test_cosine_from_dot_product_score():
    # Elasticsearch scores dot_product kNN hits (1 + dot) / 2; both stores report the cosine.
    assert cosine_from_score(1.0) == 1.0
    assert cosine_from_score(0.5) == 0.0
    assert cosine_from_score(0.0) == -1.0
    assert cosine_from_score(0.9) == pytest.approx(0.8)


def test_unknown_sort_and_index_kind_are_refused():
    with pytest.raises(ValueError):
        build_keyword_search(None, Filters(), 10, "oldest")
    with pytest.raises(ValueError):
        build_index_body("vectors", [])
    with pytest.raises(StoreConfigError, match="'Imr Chunks' is not an index name"):
        ElasticsearchStore("http://127.0.0.1:9", "Imr Chunks")


def test_redact_url():
    assert redact_url("https://elastic:s3cret@es.example:9243/x") == "https://es.example:9243/x"
    assert redact_url("http://127.0.0.1:9200") == "http://127.0.0.1:9200"


@pytest.mark.filterwarnings("ignore:Connecting to 'https:")
def test_from_env():
    store = ElasticsearchStore.from_env(
        {
            "ELASTICSEARCH_URL": "https://es.example:9243",
            "ELASTICSEARCH_USERNAME": "elastic",
            "ELASTICSEARCH_PASSWORD": "s3cret",
            "ELASTICSEARCH_VERIFY_CERTS": "false",
            "IMR_SEARCH_ES_INDEX": "imr-prod",
            "IMR_SEARCH_ES_REPLICAS": "1",
        }
    )
    assert (store.alias, store.letters_alias) == ("imr-prod", "imr-prod-letters")
    assert store.url == "https://es.example:9243"
    assert store.replicas == 1 and store.shards == 1
    assert store.name == "elasticsearch"
    store.close()
    default = ElasticsearchStore.from_env({})
    assert (default.url, default.alias) == ("http://localhost:9200", "imr-chunks")
    default.close()


# ---------------------------------------------------------------------------------------------
# Sample letters


@pytest.fixture(scope="module")
def sample_docs(tokenizer) -> list[LetterDocs]:
    """Seed 002 and one dev PDF, parsed, chunked and given zero vectors with a 1.0 each."""
    from indexer.chunking import chunk_letter
    from indexer.letters.parser import parse_letter

    docs = []
    for path in (SEED_002, DEV_PDF):
        letter = parse_letter(str(path))
        ld = letter_docs(letter, chunk_letter(letter, tokenizer))
        vectors = np.zeros((len(ld.chunks), DIMS), np.float32)
        vectors[:, len(docs)] = 1.0
        ld.vectors = vectors
        docs.append(ld)
    return docs


def _fresh(docs: list[LetterDocs]) -> list[LetterDocs]:
    return [copy.deepcopy(d) for d in docs]


def _bulk_lines(actions) -> list[dict]:
    """The NDJSON lines streaming_bulk sends for helper-style actions."""
    lines = []
    for action in actions:
        header, source = expand_action(action)
        lines.append(header)
        if source is not None:
            lines.append(source)
    return lines


def _mapping_accepts(props: dict, doc: dict) -> list[str]:
    """What a `dynamic: strict` mapping would reject in `doc` (a shallow type check)."""
    problems = [f"unmapped field {k}" for k in doc if k not in props]
    for name, value in doc.items():
        kind = props.get(name, {}).get("type")
        values = value if isinstance(value, list) and kind != "dense_vector" else [value]
        for v in values:
            if v is None:
                continue
            ok = {
                "keyword": lambda x: isinstance(x, str),
                "text": lambda x: isinstance(x, str),
                "integer": lambda x: isinstance(x, int) and not isinstance(x, bool),
                "date": lambda x: isinstance(x, str),
                "object": lambda x: isinstance(x, dict),
                "dense_vector": lambda x: (
                    isinstance(x, list) and len(x) == DIMS and all(isinstance(f, float) for f in x)
                ),
            }.get(kind, lambda x: False)(v)
            if not ok:
                problems.append(f"{name}: {type(v).__name__} does not fit a {kind} field")
    return problems


def test_chunk_and_letter_documents_fit_the_strict_mappings(sample_docs):
    chunk_props = index_definition("chunks")["mappings"]["properties"]
    letter_props = index_definition("letters")["mappings"]["properties"]
    chunk_fields = set(chunk_props) - {"embedding"}
    actions = list(chunk_actions(sample_docs, "imr-chunks"))
    assert len(actions) == sum(len(d.chunks) for d in sample_docs)
    for action, doc in zip(actions, [c for d in sample_docs for c in d.chunks], strict=True):
        assert set(doc) == chunk_fields  # exactly the mapped fields but the embedding
        assert action["_id"] == doc["chunk_id"] and action["_index"] == "imr-chunks"
        assert set(action["_source"]) == set(chunk_props)
        assert _mapping_accepts(chunk_props, action["_source"]) == []
        if doc["decision_date"]:
            assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", doc["decision_date"])
    assert actions[0]["_source"]["embedding"][0] == 1.0
    assert sum(actions[0]["_source"]["embedding"]) == 1.0

    records = list(letter_actions(sample_docs, "imr-chunks-letters", "2026-11-23T15:43:00+00:00"))
    assert [r["_id"] for r in records] == [d.letter_id for d in sample_docs]
    for record in records:
        assert set(record["_source"]) == set(letter_props)
        assert _mapping_accepts(letter_props, record["_source"]) == []


@needs_spec
def test_bulk_lines_of_real_letters_validate(sample_docs):
    actions = [
        *chunk_actions(sample_docs, "imr-chunks"),
        *letter_actions(sample_docs, "imr-chunks-letters", "2026-11-23T15:43:00+00:00"),
    ]
    lines = _bulk_lines(actions)
    assert len(lines) == 2 * len(actions)
    es_openapi.validate_bulk(lines)


# ---------------------------------------------------------------------------------------------
# 2. Strict OpenAPI validation of every body the store can send

QUERIES = [
    None,
    ParsedQuery(),
    parse_query("klonopin"),
    parse_query('"urine drug screen" +mri -tramadol -"physical therapy"'),
    parse_query("-tramadol"),
    parse_query("L4-5 EMG/NCV OR x AND y"),
    parse_query('+"lumbar spine" +mri'),
]


def _filter_variants() -> list[Filters]:
    variants = [Filters()]
    variants += [Filters(terms=((name, ("x", "y")),)) for name in facet_names()]
    variants.append(Filters(terms=tuple((name, ("v",)) for name in facet_names())))
    for name in DATE_FIELDS:
        variants += [
            Filters(date_ranges=((name, "2015-01-01", None),)),
            Filters(date_ranges=((name, None, "2016-12-31"),)),
            Filters(date_ranges=((name, "2015-01-01", "2016-12-31"),)),
        ]
    variants += [
        Filters(chunk_ids=()),
        Filters(chunk_ids=("a:item-1:0", "b:summary:0")),
        Filters(exclude_letter_ids=("L-1",)),
        Filters(section="item"),
        Filters(section="clinical_case_summary"),
        Filters(first_window_only=True),
        Filters(
            terms=(("decision", ("upheld",)), ("treatment_class", ("opioid",))),
            date_ranges=(("decision_date", "2015-01-01", "2016-12-31"),),
            chunk_ids=("a:item-1:0",),
            exclude_letter_ids=("L-1", "L-2"),
            section="item",
            first_window_only=True,
        ),
    ]
    return variants


FILTERS = _filter_variants()
SEARCH = ("post", "/{index}/_search")


@needs_spec
@pytest.mark.parametrize("sort", ["relevance", "newest"])
@pytest.mark.parametrize("query", QUERIES, ids=repr)
def test_keyword_bodies_validate(query, sort):
    for filters in FILTERS:
        es_openapi.validate_body(*SEARCH, build_keyword_search(query, filters, 20, sort))
    es_openapi.validate_body(*SEARCH, build_keyword_search(query, Filters(), 0, sort))


@needs_spec
@pytest.mark.parametrize("k", [1, 10, 100, 5000])
def test_knn_bodies_validate(k):
    vector = np.random.default_rng(k).standard_normal(DIMS).astype(np.float32)
    for filters in FILTERS:
        es_openapi.validate_body(*SEARCH, build_knn_search(vector, filters, k))


@needs_spec
@pytest.mark.parametrize("query", QUERIES, ids=repr)
def test_aggregation_bodies_validate(query):
    for filters in FILTERS:
        es_openapi.validate_body(*SEARCH, build_facet_aggs(query, filters, facet_names()))
        es_openapi.validate_body(*SEARCH, build_count_letters(query, filters))
        for facet in facet_names():
            es_openapi.validate_body(
                *SEARCH, build_facet_aggs(query, filters.without(facet), [facet])
            )
    for by in facet_names():
        es_openapi.validate_body(*SEARCH, build_stats_aggs(query, FILTERS[-1], by))
    es_openapi.validate_body("post", "/{index}/_count", {"query": build_query(query, FILTERS[-1])})


@needs_spec
@pytest.mark.parametrize("query", QUERIES, ids=repr)
def test_highlight_bodies_validate(query):
    es_openapi.validate_body(*SEARCH, build_highlight_search(query, ["a:item-1:0"]))


@needs_spec
def test_index_alias_and_delete_bodies_validate():
    from indexer.synonyms import synonym_rules

    for kind in ("chunks", "letters"):
        es_openapi.validate_body("put", "/{index}", build_index_body(kind, synonym_rules()))
        es_openapi.validate_body("put", "/{index}", build_index_body(kind, [], 3, 2))
        # ensure_index creates the first generation with its alias in the same request.
        body = {**build_index_body(kind, []), "aliases": {"imr-chunks": {"is_write_index": True}}}
        es_openapi.validate_body("put", "/{index}", body)
    gen = generation_names("imr-chunks", "20261123t154300000000z")
    adds = [(gen.chunks_index, "imr-chunks"), (gen.letters_index, "imr-chunks-letters")]
    es_openapi.validate_body("post", "/_aliases", build_alias_actions([], adds))
    es_openapi.validate_body(
        "post", "/_aliases", build_alias_actions([("imr-chunks-old", "imr-chunks")], adds)
    )
    dbq = ("post", "/{index}/_delete_by_query")
    es_openapi.validate_body(*dbq, build_stale_chunks_query({"L-1": ["L-1:summary:0"]}))
    es_openapi.validate_body(*dbq, build_stale_chunks_query({"L-1": []}))
    es_openapi.validate_body(*dbq, build_delete_letters_query(["L-1", "L-2"]))
    es_openapi.validate_body(*SEARCH, build_letter_chunks_search("L-1"))
    es_openapi.validate_body(*SEARCH, build_letter_chunks_search("L-1", embeddings=False))
    es_openapi.validate_body(*SEARCH, build_fingerprints_search())


@needs_spec
@settings(max_examples=60, deadline=None)
@given(st.text(alphabet=st.sampled_from('ab "-+|()*~^:\\/OR'), max_size=30))
def test_any_typed_query_builds_a_valid_body_with_exclusions_apart(text):
    query = parse_query(text)
    body = build_keyword_search(query, Filters(exclude_letter_ids=("L-1",)), 10)
    es_openapi.validate_body(*SEARCH, body)
    text_query = body["query"]["bool"]["must"][0]
    if query.negative:
        (excluded,) = text_query["bool"]["must_not"]
        assert excluded == sqs(
            " ".join(f'"{c.text}"' if c.phrase else c.text for c in query.negative)
        )
    positive = [c for part in ("must", "should") for c in text_query.get("bool", {}).get(part, [])]
    for clause in positive:
        if "simple_query_string" in clause:
            words = clause["simple_query_string"]["query"]
            assert "-" not in words and words.count('"') % 2 == 0


@needs_spec
def test_a_misspelt_body_fails_validation():
    """The validator really is strict: the store's bodies pass because they are right."""
    body = build_knn_search(np.ones(DIMS, np.float32), Filters(), 10)
    body["knn"]["num_candidate"] = body["knn"].pop("num_candidates")
    with pytest.raises(AssertionError, match="num_candidate"):
        es_openapi.validate_body(*SEARCH, body)


def _spec_endpoint(request: Request) -> tuple[str, str] | None:
    """The OpenAPI endpoint of a recorded request that has a body."""
    path, method = request.path, request.method.lower()
    if path == "/_bulk":
        return ("post", "/_bulk")
    if path in ("/_aliases", "/_search/scroll"):
        return (method, path)
    m = re.fullmatch(r"/[^/_][^/]*(/_search|/_count|/_delete_by_query)?", path)
    if m and m.group(1):
        return ("post", "/{index}" + m.group(1))
    if m and method == "put":
        return ("put", "/{index}")
    return None


def validate_recorded(fake: FakeElasticsearch) -> int:
    """Validate the body of every request the store sent; return how many had one."""
    checked = 0
    for request in fake.requests:
        if request.body is None:
            continue
        endpoint = _spec_endpoint(request)
        assert endpoint is not None, f"no spec endpoint for {request.method} {request.path}"
        if es_openapi.spec_available():
            es_openapi.validate_body(*endpoint, request.body)
        checked += 1
    return checked


# ---------------------------------------------------------------------------------------------
# 3. Client paths, against the recording fake

ACK = (200, {"acknowledged": True})
REFRESHED = (200, {"_shards": {"total": 1, "successful": 1, "failed": 0}})
MAPPER_ERROR = {
    "type": "mapper_parsing_exception",
    "reason": "failed to parse field [embedding] of type [dense_vector]",
}


def _ids_sent(request: Request) -> list[str]:
    return [next(iter(line.values()))["_id"] for line in request.lines[::2]]


def test_upsert_reports_the_letter_whose_chunk_failed(sample_docs):
    good, bad = _fresh(sample_docs)
    failing = bad.chunks[2]["chunk_id"]
    with FakeElasticsearch() as es:
        es.route("HEAD", r"/_alias/imr-test(-letters)?", (200, None))
        es.route("PUT", r"/_bulk", bulk_answer({failing: (400, MAPPER_ERROR)}))
        es.route("POST", r"/imr-test/_delete_by_query", (200, {"deleted": 1, "failures": []}))
        es.route("POST", r"/imr-test,imr-test-letters/_refresh", REFRESHED)
        store = ElasticsearchStore(es.url, "imr-test")
        report = store.upsert([good, bad])
        store.close()

        assert report == IndexReport(
            indexed=1,
            failed=[
                (
                    bad.letter_id,
                    f"chunk {failing}: mapper_parsing_exception: "
                    "failed to parse field [embedding] of type [dense_vector]",
                )
            ],
        )
        assert es.unrouted == []
        chunk_bulk, letter_bulk = es.find("PUT", r"/_bulk")
        # Every chunk of both letters was sent, id = chunk_id, with its 384 floats.
        assert _ids_sent(chunk_bulk) == [c["chunk_id"] for d in (good, bad) for c in d.chunks]
        sources = chunk_bulk.lines[1::2]
        assert all(len(s["embedding"]) == DIMS for s in sources)
        assert {next(iter(h.values()))["_index"] for h in chunk_bulk.lines[::2]} == {"imr-test"}
        # Only the whole letter gets its record (its fingerprint) ...
        assert _ids_sent(letter_bulk) == [good.letter_id]
        assert letter_bulk.lines[0] == {
            "index": {"_index": "imr-test-letters", "_id": good.letter_id}
        }
        assert letter_bulk.lines[1]["fingerprint"] == good.fingerprint
        assert letter_bulk.lines[1]["chunk_count"] == len(good.chunks)
        # ... and its stale chunks are deleted only after its new chunks were written.
        (dbq,) = es.find("POST", r"/imr-test/_delete_by_query")
        assert dbq.body == build_stale_chunks_query(
            {good.letter_id: [c["chunk_id"] for c in good.chunks]}
        )
        order = [(r.method, r.path) for r in es.requests]
        assert order == [
            ("HEAD", "/_alias/imr-test"),
            ("HEAD", "/_alias/imr-test-letters"),
            ("PUT", "/_bulk"),
            ("PUT", "/_bulk"),
            ("POST", "/imr-test/_delete_by_query"),
            ("POST", "/imr-test,imr-test-letters/_refresh"),
        ]
        assert validate_recorded(es) == 3


def test_upsert_reports_letters_without_vectors_and_failed_bulk_requests(sample_docs):
    good, bad = _fresh(sample_docs)
    bad.vectors = None
    with FakeElasticsearch() as es:
        es.route("HEAD", r"/_alias/.*", (200, None))
        es.route("PUT", r"/_bulk", (413, {"error": {"type": "too_large", "reason": "big"}}))
        es.route("POST", r"/.*/_refresh", REFRESHED)
        store = ElasticsearchStore(es.url, "imr-test")
        report = store.upsert([good, bad])
        store.close()
    assert report.indexed == 0
    assert dict(report.failed) == {
        good.letter_id: f"chunk {good.chunks[0]['chunk_id']}: HTTP 413 too_large: big",
        bad.letter_id: "no embedding vectors",
    }
    assert es.find("POST", r".*/_delete_by_query") == []


def test_ensure_index_creates_the_first_generation_with_its_aliases():
    with FakeElasticsearch() as es:
        es.route("HEAD", r"/_alias/imr-test", (200, None))
        es.route("HEAD", r"/_alias/imr-test-letters", (404, None))
        es.route("PUT", r"/imr-test-letters-\d{8}t\d{12}z", ACK)
        store = ElasticsearchStore(es.url, "imr-test")
        store.ensure_index()
        store.close()
        assert es.unrouted == []
        (create,) = es.find("PUT", r"/.*")
        assert create.body == {
            **store.index_body("letters"),
            "aliases": {"imr-test-letters": {"is_write_index": True}},
        }
        validate_recorded(es)


def _route_reindex(es: FakeElasticsearch, aliases_answer) -> None:
    es.route("PUT", r"/imr-test-(letters-)?\d{8}t\d{12}z", ACK)
    es.route("PUT", r"/_bulk", bulk_answer())
    es.route("POST", r"/imr-test-\d{8}t\d{12}z/_delete_by_query", (200, {"deleted": 0}))
    es.route("POST", r"/imr-test-\d{8}t\d{12}z,imr-test-letters-\d{8}t\d{12}z/_refresh", REFRESHED)
    es.route("POST", r"/imr-test/_search", (200, {"hits": {"total": {"value": 0}, "hits": []}}))
    es.route(
        "GET",
        r"/_alias/imr-test",
        (200, {"imr-test-old": {"aliases": {"imr-test": {"is_write_index": True}}}}),
    )
    es.route(
        "GET",
        r"/_alias/imr-test-letters",
        (200, {"imr-test-letters-old": {"aliases": {"imr-test-letters": {}}}}),
    )
    es.route("POST", r"/_aliases", aliases_answer)
    es.route("DELETE", r"/[^_].*", ACK)  # fmt: skip


def test_reindex_writes_to_a_new_generation_then_swaps_both_aliases_at_once(sample_docs):
    with FakeElasticsearch() as es:
        _route_reindex(es, ACK)
        store = ElasticsearchStore(es.url, "imr-test")
        gen = store.begin_reindex()
        assert re.fullmatch(r"imr-test-\d{8}t\d{12}z", gen.chunks_index)
        assert gen.letters_index == gen.chunks_index.replace("imr-test-", "imr-test-letters-")
        created = es.find("PUT", r"/imr-test-.*")
        assert [r.path for r in created] == [f"/{gen.chunks_index}", f"/{gen.letters_index}"]
        assert [r.body for r in created] == [
            store.index_body("chunks"),
            store.index_body("letters"),
        ]

        report = store.upsert(_fresh(sample_docs))
        assert report == IndexReport(indexed=2)
        # Writes went to the new generation ...
        headers = [line for bulk in es.find("PUT", r"/_bulk") for line in bulk.lines[::2]]
        assert {h["index"]["_index"] for h in headers} == set(gen.indices)
        assert es.find("POST", rf"/{gen.chunks_index}/_delete_by_query")
        # ... while searches still go through the alias, to the old one.
        store.keyword(parse_query("klonopin"), Filters(), 10)
        assert es.find("POST", r"/imr-test/_search")
        assert es.find("POST", r"/_aliases") == []

        dropped = store.finish_reindex(gen)
        store.close()
        assert es.unrouted == []
        assert dropped == ["imr-test-letters-old", "imr-test-old"]
        (swap,) = es.find("POST", r"/_aliases")
        assert swap.body == {
            "actions": [
                {"remove": {"index": "imr-test-old", "alias": "imr-test", "must_exist": True}},
                {"remove": {"index": "imr-test-letters-old", "alias": "imr-test-letters",
                            "must_exist": True}},
                {"add": {"index": gen.chunks_index, "alias": "imr-test", "is_write_index": True}},
                {"add": {"index": gen.letters_index, "alias": "imr-test-letters",
                         "is_write_index": True}},
            ]
        }  # fmt: skip
        (delete,) = es.find("DELETE", r"/.*")
        assert delete.path == "/imr-test-letters-old,imr-test-old"
        assert es.requests.index(delete) > es.requests.index(swap)
        # After the swap, writes go through the aliases again.
        assert store._write_targets() == ("imr-test", "imr-test-letters")
        validate_recorded(es)


def test_a_failed_alias_swap_keeps_the_old_indices(sample_docs):
    failure = (500, {"error": {"type": "illegal_state_exception", "reason": "boom"}, "status": 500})
    with FakeElasticsearch() as es:
        _route_reindex(es, failure)
        store = ElasticsearchStore(es.url, "imr-test")
        gen = store.begin_reindex()
        store.upsert(_fresh(sample_docs))
        with pytest.raises(StoreError, match="illegal_state_exception: boom") as caught:
            store.finish_reindex(gen)
        assert not isinstance(caught.value, StoreUnavailable)
        assert len(es.find("POST", r"/_aliases")) == 1
        assert es.find("DELETE", r"/.*") == []
        # Giving up deletes the new generation only, never the indices the aliases still use.
        store.abort_reindex(gen)
        store.close()
        (delete,) = es.find("DELETE", r"/.*")
        assert delete.path == f"/{gen.chunks_index},{gen.letters_index}"
        assert es.unrouted == []
        validate_recorded(es)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.parametrize("secret_kind", ["basic", "api_key"])
def test_an_unreachable_cluster_raises_store_unavailable(secret_kind):
    port = _free_port()  # closed again: nothing listens there
    if secret_kind == "basic":
        store = ElasticsearchStore(
            f"http://elastic:s3cret@127.0.0.1:{port}", "imr-test", request_timeout=2.0
        )
    else:
        store = ElasticsearchStore(
            f"http://127.0.0.1:{port}", "imr-test", api_key="s3cret", request_timeout=2.0
        )
    start = time.monotonic()
    with pytest.raises(StoreUnavailable) as caught:
        store.counts()
    assert time.monotonic() - start < 10
    message = str(caught.value)
    assert message.startswith(f"Elasticsearch at http://127.0.0.1:{port} is not reachable: ")
    assert "s3cret" not in message and "elastic:" not in message
    with pytest.raises(StoreUnavailable):
        store.keyword(parse_query("klonopin"), Filters(), 10)
    store.close()


def test_a_cluster_that_never_answers_times_out_as_store_unavailable():
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(8)  # accepts connections, never answers
        port = server.getsockname()[1]
        store = ElasticsearchStore(
            f"http://127.0.0.1:{port}", "imr-test", request_timeout=0.5, max_retries=1
        )
        start = time.monotonic()
        with pytest.raises(StoreUnavailable, match="is not reachable: ConnectionTimeout"):
            store.count_letters(None, Filters())
        assert time.monotonic() - start < 5
        store.close()


def _hit_doc(chunk_id: str, letter_id: str) -> dict:
    return {"chunk_id": chunk_id, "letter_id": letter_id, "section": "item", "text": "t"}


def test_read_paths_parse_the_answers():
    search_answers = {
        "keyword": {
            "hits": {
                "total": {"value": 7, "relation": "eq"},
                "hits": [
                    {
                        "_id": "L-1:item-1:0",
                        "_score": 3.5,
                        "_source": _hit_doc("L-1:item-1:0", "L-1"),
                        "highlight": {
                            "text": ["the <mark>Klonopin</mark> 1 mg"],
                            "request": ["<mark>Klonopin</mark> 1 mg"],
                        },
                    }
                ],
            }
        },
        "knn": {"hits": {"hits": [{"_id": "L-2:summary:0", "_score": 0.9,
                                   "_source": _hit_doc("L-2:summary:0", "L-2")}]}},
        "facets": {"aggregations": {"decision": {"buckets": [
            {"key": "upheld", "doc_count": 9, "letters": {"value": 4}},
            {"key": "overturned", "doc_count": 2, "letters": {"value": 1}},
        ]}}},
        "count": {"aggregations": {"letters": {"value": 5}}},
        "stats": {"aggregations": {"by": {"buckets": [
            {"key": "benzodiazepine", "doc_count": 3,
             "decision": {"buckets": [{"key": "upheld", "doc_count": 3}]}},
        ]}}},
        "chunks": {"hits": {"hits": [{"_id": "L-1:summary:0",
                                      "_source": {**_hit_doc("L-1:summary:0", "L-1"),
                                                  "embedding": [0.5] * 4}}]}},
    }  # fmt: skip

    def search(request: Request):
        body = request.body
        if "knn" in body:
            return 200, search_answers["knn"]
        if body.get("_source") == {"exclude_vectors": False}:
            return 200, search_answers["chunks"]
        aggs = body.get("aggregations") or {}
        if "by" in aggs:
            return 200, search_answers["stats"]
        if "letters" in aggs:
            return 200, search_answers["count"]
        if aggs:
            return 200, search_answers["facets"]
        return 200, search_answers["keyword"]

    shards = {"total": 1, "successful": 1, "skipped": 0, "failed": 0}
    with FakeElasticsearch() as es:
        es.route("POST", r"/imr-test/_search", search)
        es.route(
            "POST",
            r"/imr-test-letters/_search",
            (
                200,
                {
                    "_scroll_id": "s1",
                    "_shards": shards,
                    "hits": {
                        "hits": [
                            {
                                "_id": "L-1",
                                "_source": {
                                    "letter_id": "L-1",
                                    "source": "a.txt",
                                    "fingerprint": "f1",
                                },
                            }
                        ]
                    },
                },
            ),
        )
        es.route(
            "POST",
            r"/_search/scroll",
            (200, {"_scroll_id": "s1", "_shards": shards, "hits": {"hits": []}}),
        )
        es.route("DELETE", r"/_search/scroll", (200, {"succeeded": True, "num_freed": 1}))
        es.route(
            "POST",
            r"/imr-test(-letters)?/_count",
            lambda r: (200, {"count": 3 if "letters" in r.path else 11}),
        )
        es.route(
            "GET",
            r"/imr-test-letters/_doc/L-1",
            (
                200,
                {
                    "_id": "L-1",
                    "found": True,
                    "_source": {
                        "letter_id": "L-1",
                        "source": "a.txt",
                        "fingerprint": "f1",
                        "chunk_count": 2,
                        "indexed_at": "2026-11-23T15:43:00+00:00",
                        "record": {"letter_id": "L-1"},
                        "text": "T",
                        "original_text": "O",
                    },
                },
            ),
        )
        es.route("GET", r"/imr-test-letters/_doc/L-404", (404, {"_id": "L-404", "found": False}))
        store = ElasticsearchStore(es.url, "imr-test")

        hits, total = store.keyword(parse_query("klonopin"), Filters(), 10)
        assert total == 7
        assert [(h.chunk_id, h.letter_id, h.score) for h in hits] == [("L-1:item-1:0", "L-1", 3.5)]
        assert hits[0].highlights == [
            "the <mark>Klonopin</mark> 1 mg",
            "<mark>Klonopin</mark> 1 mg",
        ]
        assert hits[0].doc == _hit_doc("L-1:item-1:0", "L-1")

        (near,) = store.knn(np.ones(DIMS, np.float32) / np.sqrt(DIMS), Filters(), 5)
        assert near.score == pytest.approx(0.8)  # 2 * 0.9 - 1

        assert store.facet_counts(None, Filters(), ["decision"]) == {
            "decision": {"upheld": 4, "overturned": 1}
        }
        assert store.count_letters(None, Filters()) == 5
        assert store.stats(None, Filters(), "treatment_class") == {
            "benzodiazepine": {"upheld": 3, "overturned": 0}
        }
        chunk = [ChunkHit("L-1:item-1:0", "L-1", 1.0)]
        assert store.highlight(parse_query("klonopin"), chunk) == {
            "L-1:item-1:0": ["the <mark>Klonopin</mark> 1 mg", "<mark>Klonopin</mark> 1 mg"]
        }
        assert store.highlight(parse_query("-klonopin"), chunk) == {}
        assert store.letter_chunks("L-1")[0]["embedding"] == [0.5] * 4
        assert store.fingerprints() == {"L-1": ("a.txt", "f1")}
        assert store.counts() == (3, 11)
        assert store.letter("L-1") == {
            "letter_id": "L-1", "source": "a.txt", "fingerprint": "f1", "chunk_count": 2,
            "indexed_at": "2026-11-23T15:43:00+00:00", "record": {"letter_id": "L-1"},
            "text": "T", "original_text": "O", "file_sha256": None,
        }  # fmt: skip
        assert store.letter("L-404") is None
        store.close()
        assert es.unrouted == []
        validate_recorded(es)


def test_reads_of_a_store_never_written_are_empty():
    missing = (404, {"error": {"type": "index_not_found_exception", "reason": "no such index"},
                     "status": 404})  # fmt: skip
    with FakeElasticsearch() as es:
        es.route("POST", r"/.*", missing)
        es.route("GET", r"/.*", missing)
        store = ElasticsearchStore(es.url, "imr-test")
        assert store.keyword(parse_query("x"), Filters(), 10) == ([], 0)
        assert store.knn(np.ones(DIMS, np.float32), Filters(), 3) == []
        assert store.counts() == (0, 0)
        assert store.fingerprints() == {}
        assert store.letter("L-1") is None
        assert store.facet_counts(None, Filters(), ["decision"]) == {"decision": {}}
        store.close()


def test_search_errors_are_store_errors():
    bad = (400, {"error": {"type": "search_phase_execution_exception", "reason": "all shards",
                           "root_cause": [{"type": "query_shard_exception", "reason": "bad"}]},
                 "status": 400})  # fmt: skip
    busy = (503, {"error": {"type": "cluster_block_exception", "reason": "blocked"},
                  "status": 503})  # fmt: skip
    with FakeElasticsearch() as es:
        es.route("POST", r"/imr-test/_search", bad, times=1)
        es.route("POST", r"/imr-test/_search", busy)
        store = ElasticsearchStore(es.url, "imr-test", max_retries=0)
        with pytest.raises(StoreError, match="HTTP 400 query_shard_exception: bad") as caught:
            store.keyword(parse_query("x"), Filters(), 10)
        assert not isinstance(caught.value, StoreUnavailable)
        with pytest.raises(StoreUnavailable, match="HTTP 503"):
            store.keyword(parse_query("x"), Filters(), 10)
        store.close()


def test_delete_removes_records_and_chunks():
    with FakeElasticsearch() as es:
        es.route("HEAD", r"/_alias/.*", (200, None))
        es.route("POST", r"/imr-test-letters/_delete_by_query", (200, {"deleted": 1}))
        es.route("POST", r"/imr-test/_delete_by_query", (200, {"deleted": 4}))
        store = ElasticsearchStore(es.url, "imr-test")
        assert store.delete(["L-1", "L-9", "L-1"]) == 1
        assert store.delete([]) == 0
        store.close()
        body = build_delete_letters_query(["L-1", "L-9"])
        assert [r.body for r in es.find("POST", r".*/_delete_by_query")] == [body, body]
        validate_recorded(es)


# ---------------------------------------------------------------------------------------------
# 4. Live contract test against a real cluster


@pytest.mark.skipif(
    not os.environ.get("ELASTICSEARCH_URL"),
    reason="ELASTICSEARCH_URL is not set (no live Elasticsearch to test against)",
)
def test_live_cluster_contract(tokenizer):
    from indexer.chunking import chunk_letter
    from indexer.embedder import Embedder
    from indexer.letters.parser import parse_letter

    from .conftest import SEEDS

    alias = f"imr-test-{uuid.uuid4().hex[:12]}"
    store = ElasticsearchStore.from_env({**os.environ, "IMR_SEARCH_ES_INDEX": alias})
    embedder = Embedder()
    docs = []
    for path in SEEDS:
        letter = parse_letter(str(path))
        ld = letter_docs(letter, chunk_letter(letter, tokenizer))
        ld.vectors = embedder.embed_documents([c["text"] for c in ld.chunks])
        docs.append(ld)
    klonopin = {
        d.letter_id
        for d in docs
        if any("clonazepam" in c["treatment_name"] for c in d.chunks if c["section"] == "item")
    }
    assert len(klonopin) == 2
    try:
        store.ensure_index()
        report = store.upsert(docs)
        assert report == IndexReport(indexed=len(docs))
        assert store.counts() == (len(docs), sum(len(d.chunks) for d in docs))
        assert {k: v[1] for k, v in store.fingerprints().items()} == {
            d.letter_id: d.fingerprint for d in docs
        }

        hits, total = store.keyword(parse_query("Klonopin"), Filters(), 50)
        assert total == len(hits) > 0
        assert {h.letter_id for h in hits} == klonopin
        items = {h.letter_id for h in hits if h.doc["section"] == "item"}
        assert items == klonopin
        assert any("<mark>" in frag for h in hits for frag in h.highlights)
        assert store.count_letters(parse_query("Klonopin"), Filters(section="item")) == 2

        first = docs[0]
        near = store.knn(first.vectors[0], Filters(), 3)
        assert near[0].score == pytest.approx(1.0, abs=1e-3)  # cosine, not (1 + dot) / 2
        assert first.chunks[0]["chunk_id"] in {h.chunk_id for h in near if h.score > 0.999}
        chunks = store.letter_chunks(first.letter_id)
        assert [c["chunk_id"] for c in chunks] == [c["chunk_id"] for c in first.chunks]
        assert len(chunks[0]["embedding"]) == DIMS
        assert store.letter(first.letter_id)["fingerprint"] == first.fingerprint
        facets = store.facet_counts(None, Filters(), ["treatment_name"])["treatment_name"]
        assert facets["clonazepam"] == 2

        gen = store.begin_reindex()
        assert store.upsert(docs).indexed == len(docs)
        store.finish_reindex(gen)
        assert store.counts() == (len(docs), sum(len(d.chunks) for d in docs))

        assert store.delete([first.letter_id]) == 1
        assert store.counts()[0] == len(docs) - 1
    finally:
        leftovers = [
            name for a in (store.alias, store.letters_alias) for name in store._alias_targets(a)
        ]
        store.drop_indices(leftovers, check_aliases=False)
        store.close()
        embedder.close()


def test_every_mapped_field_is_known_to_the_builders():
    """Facets, dates and text fields the builders use all exist in the mapping."""
    types = {f.name: f.type for f in fields()}
    assert all(types[name] == "keyword" for name in facet_names())
    assert all(types[name] == "date" for name in DATE_FIELDS)
    assert [f.split("^")[0] for f in FIELDS] == [n for n, t in types.items() if t == "text"]
    (should,) = build_text_query(parse_query("x"))["bool"]["should"]
    assert should["simple_query_string"]["fields"] == FIELDS


def test_hybrid_scope_matches_the_words_or_the_semantic_chunks():
    filters = Filters(
        terms=(("decision", ("upheld",)),), also_chunk_ids=("A:item-1:0", "B:summary:0")
    )
    body = build_facet_aggs(parse_query("klonopin"), filters, ["decision"])
    assert body["query"] == {
        "bool": {
            "must": [
                {
                    "bool": {
                        "should": [
                            {"bool": {"should": [sqs("klonopin")]}},
                            {"terms": {"chunk_id": ["A:item-1:0", "B:summary:0"]}},
                        ],
                        "minimum_should_match": 1,
                    }
                }
            ],
            "filter": [{"terms": {"decision": ["upheld"]}}],
        }
    }


@needs_spec
def test_hybrid_scope_bodies_pass_the_spec():
    filters = Filters(
        also_chunk_ids=("A:item-1:0",), date_ranges=(("decision_date", "2017-01-01", None),)
    )
    for body in (
        build_facet_aggs(parse_query("klonopin -valium"), filters, list(facet_names())),
        build_count_letters(parse_query("klonopin"), filters),
        build_stats_aggs(parse_query("klonopin"), filters, "treatment_class"),
    ):
        es_openapi.validate_body("post", "/{index}/_search", body)
