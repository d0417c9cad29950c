"""The Elasticsearch store.

1. every request body is built by a pure function, compared here with literal bodies, and so is
   the text analysis done for Elasticsearch (`elasticsearch/text.py`) and the highlighting (`snippets`);
2. every body the store can send is validated strictly against Elastic's OpenAPI document
   (`es_openapi`), including the bulk lines built from real sample letters;
3. faults a real server cannot produce on demand (a refusal through every retry, a failed alias
   swap, an error status, an old version, a host that is down or never answers) are injected
   by a recording fake at the HTTP boundary (`es_fake`), or by no server at all;
4. what a working server does runs against the real Elasticsearch at ELASTICSEARCH_URL (the
   `test_live_cluster_contract*` tests; tests/test_es_live.py has more): skipped without it,
   failing instead when IMR_SEARCH_REQUIRE_ES is set.
"""

from __future__ import annotations

import copy
import os
import re
import socket
import time

import numpy as np
import pytest
from elasticsearch.helpers import expand_action
from hypothesis import given, settings
from hypothesis import strategies as st

from indexer.documents import LetterDocs, letter_docs
from indexer.query_text import Clause, ParsedQuery, parse_query
from indexer.schema import DATE_FIELDS, facet_names, fields, index_definition
from indexer.stores.base import (
    RANKING_FIELDS,
    ChunkHit,
    Filters,
    IndexReport,
    PartialDoc,
    StoreConfigError,
)
from indexer.stores.elasticsearch import (
    ElasticsearchStore,
    Generation,
    StoreError,
    StoreUnavailable,
    _version_tuple,
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
from indexer.stores.elasticsearch.text import analysed_fields, clause_syntax, simple_query
from indexer.stores.snippets import highlight_texts

from . import es_openapi
from .conftest import ES_URL, SAMPLES, elasticsearch_store
from .es_fake import FakeElasticsearch, Request, bulk_answer, mget_answer, route_scroll

SEED_002 = SAMPLES / "seeds" / "002_d3b73cfd4dd990bb.txt"
DEV_PDF = SAMPLES / "dev" / "CM16-0219557.pdf"
DIMS = 384

needs_spec = pytest.mark.skipif(
    not es_openapi.spec_available(),
    reason=f"Elasticsearch OpenAPI file not found at {es_openapi.SPEC_PATH}",
)

FIELDS = ["analysed.text^1.0", "analysed.request^2.0", "analysed.treatment_terms^1.5"]
RANKING = [
    "chunk_id", "letter_id", "item_id", "item_index", "section", "decision", "decision_date",
    "treatment_name", "treatment_class", "body_region",
]  # fmt: skip
# The synonym groups of mappings/drug-synonyms.txt, each word analysed (stemmed):
# "clonazepam, antelepsin, clonazepamum, klonopin, rivotril" and "diazepam, apaurin, diastat,
# diazemuls, faustan, relanium, seduxen, sibazon, stesolid, valium, valrelease, valtoco".
KLONOPIN = "(clonazepam | antelepsin | clonazepamum | klonopin | rivotril)"
DIAZEPAM = (
    "(diazepam | apaurin | diastat | diazemul | faustan | relanium | seduxen | sibazon | stesolid"
    " | valium | valreleas | valtoco)"
)


def sqs(text: str) -> dict:
    """The simple_query_string every text clause becomes (written out in the first tests)."""
    return {
        "simple_query_string": {
            "query": text,
            "fields": FIELDS,
            "analyzer": "whitespace",
            "default_operator": "or",
            "flags": "OR|PHRASE|PRECEDENCE|WHITESPACE",
        }
    }


# ---------------------------------------------------------------------------------------------
# 1. Pure builders: literal bodies


def test_keyword_search_with_facets_dates_exclusion_phrase_newest():
    query = parse_query('klonopin "urine drug screen" -valium')
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
                                        "query": "(clonazepam | antelepsin | clonazepamum | "
                                        'klonopin | rivotril) "urin drug screen"',
                                        "fields": [
                                            "analysed.text^1.0",
                                            "analysed.request^2.0",
                                            "analysed.treatment_terms^1.5",
                                        ],
                                        "analyzer": "whitespace",
                                        "default_operator": "or",
                                        "flags": "OR|PHRASE|PRECEDENCE|WHITESPACE",
                                    }
                                }
                            ],
                            "must_not": [
                                {
                                    "simple_query_string": {
                                        "query": "(diazepam | apaurin | diastat | diazemul | "
                                        "faustan | relanium | seduxen | sibazon | stesolid | "
                                        "valium | valreleas | valtoco)",
                                        "fields": [
                                            "analysed.text^1.0",
                                            "analysed.request^2.0",
                                            "analysed.treatment_terms^1.5",
                                        ],
                                        "analyzer": "whitespace",
                                        "default_operator": "or",
                                        "flags": "OR|PHRASE|PRECEDENCE|WHITESPACE",
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
        "_source": {
            "includes": [
                "chunk_id",
                "letter_id",
                "item_id",
                "item_index",
                "section",
                "decision",
                "decision_date",
                "treatment_name",
                "treatment_class",
                "body_region",
            ]
        },
        "sort": [{"decision_date": {"order": "desc", "missing": "_last"}}, "_score"],
    }


def test_keyword_search_without_words_matches_all():
    assert build_keyword_search(None, Filters(), 10) == {
        "query": {"bool": {"must": [{"match_all": {}}]}},
        "size": 10,
        "_source": {"includes": RANKING},
        "sort": ["_score"],
    }
    assert list(RANKING_FIELDS) == RANKING


def test_keyword_search_size_stays_within_the_result_window():
    assert build_keyword_search(None, Filters(), 0)["size"] == 0
    assert build_keyword_search(None, Filters(), 10000)["size"] == 10000
    with pytest.raises(ValueError, match="^size must be between 0 and 10000, not 10001$"):
        build_keyword_search(None, Filters(), 10001)
    with pytest.raises(ValueError, match="^size must be between 0 and 10000, not -1$"):
        build_keyword_search(None, Filters(), -1)


def test_text_query_required_optional_and_excluded_clauses():
    query = ParsedQuery(
        (
            Clause("mri", False, "must"),
            Clause("lumbar spine", True, "must"),
            Clause("klonopin"),
            Clause("urine drug screen", True),
            Clause("valium", False, "must_not"),
            Clause("physical therapy", True, "must_not"),
        )
    )
    assert build_text_query(query) == {
        "bool": {
            "must": [sqs("mri"), sqs('"lumbar spine"')],
            "should": [sqs(KLONOPIN + ' "urin drug screen"')],
            "must_not": [sqs(DIAZEPAM + ' "physic therapi"')],
        }
    }


def test_text_query_of_exclusions_only_matches_everything_else():
    assert build_text_query(parse_query("-mri")) == {
        "bool": {"must": [{"match_all": {}}], "must_not": [sqs("mri")]}
    }
    assert build_text_query(None) == {"match_all": {}}
    assert build_text_query(ParsedQuery()) == {"match_all": {}}


def test_text_query_never_puts_an_exclusion_in_the_positive_string():
    """`-foo bar` in one simple_query_string with default_operator or is "bar OR NOT foo"."""
    body = build_text_query(parse_query("bar -foo"))
    assert body["bool"]["should"] == [sqs("bar")]
    assert body["bool"]["must_not"] == [sqs("foo")]


def test_text_query_of_stop_words_as_on_the_embedded_store():
    # Optional words that are all stop words match nothing ...
    assert build_text_query(parse_query("the of")) == {"match_none": {}}
    assert build_text_query(parse_query("the -valium")) == {"match_none": {}}
    # ... a required stop word is held by no chunk, so nothing matches ...
    assert build_text_query(parse_query("+the mri")) == {"match_none": {}}
    assert build_text_query(parse_query("+the")) == {"match_none": {}}
    # ... and an excluded stop word excludes nothing.
    assert build_text_query(parse_query("-the")) == {"bool": {"must": [{"match_all": {}}]}}
    assert build_text_query(parse_query('mri -"to be"')) == {"bool": {"should": [sqs("mri")]}}


def test_a_drug_name_becomes_its_synonym_group_of_analysed_terms():
    assert clause_syntax(Clause("Valium")) == (
        "(diazepam | apaurin | diastat | diazemul | faustan | relanium | seduxen | sibazon | "
        "stesolid | valium | valreleas | valtoco)"
    )
    assert clause_syntax(Clause("valtoco")) == DIAZEPAM  # any word of the group
    assert clause_syntax(Clause("Klonopin", False, "must")) == KLONOPIN
    assert clause_syntax(Clause("MRI")) == "mri"
    assert clause_syntax(Clause("prescribed")) == "prescrib"
    assert clause_syntax(Clause("L4-5")) == '"l4 5"'  # one word of two terms: a phrase


def test_a_phrase_is_its_analysed_terms_in_quotes():
    assert clause_syntax(Clause("urine drug screen", True)) == '"urin drug screen"'
    assert clause_syntax(Clause("history of the injury", True)) == '"histori injuri"'
    # No synonyms inside a phrase: the words are the user's.
    assert clause_syntax(Clause("Valium tablets", True)) == '"valium tablet"'


def test_a_clause_of_stop_words_only_is_none():
    assert clause_syntax(Clause("the")) is None
    assert clause_syntax(Clause("to be", True)) is None
    assert simple_query([Clause("the"), Clause("of", True)]) is None
    assert simple_query([]) is None
    assert simple_query([Clause("the"), Clause("Klonopin"), Clause("lumbar spine", True)]) == {
        "simple_query_string": {
            "query": '(clonazepam | antelepsin | clonazepamum | klonopin | rivotril) "lumbar spine"',
            "fields": ["analysed.text^1.0", "analysed.request^2.0", "analysed.treatment_terms^1.5"],
            "analyzer": "whitespace",
            "default_operator": "or",
            "flags": "OR|PHRASE|PRECEDENCE|WHITESPACE",
        }
    }


def test_analysed_fields_are_the_terms_of_each_text_field():
    doc = {
        "chunk_id": "L-1:item-1:0",
        "text": "The patient's lumbar MRI was reviewed; Valium 10mg prescribed.",
        "request": "Valium 10mg #30",
        "treatment_terms": "diazepam Valium benzodiazepines",
        "decision": ["upheld"],
    }
    # Lower case, stop words out, English stems; the apostrophe splits "patient's" in two, on
    # both sides (a phrase "patient's lumbar" is "patient s lumbar" too); no synonyms added.
    assert analysed_fields(doc) == {
        "text": "patient s lumbar mri review valium 10mg prescrib",
        "request": "valium 10mg 30",
        "treatment_terms": "diazepam valium benzodiazepin",
    }
    assert analysed_fields({"text": "", "request": None, "chunk_id": "x"}) == {}


def test_chunk_actions_add_the_analysed_copy():
    doc = {"chunk_id": "L-1:item-1:0", "letter_id": "L-1", "text": "Urine drug screens"}
    (action,) = chunk_actions(
        [LetterDocs("L-1", "a.txt", "f", {}, "", "", [doc], np.eye(1, DIMS, 0, np.float32))],
        "imr-chunks",
    )
    assert action == {
        "_op_type": "index",
        "_index": "imr-chunks",
        "_id": "L-1:item-1:0",
        "_source": {
            "chunk_id": "L-1:item-1:0",
            "letter_id": "L-1",
            "text": "Urine drug screens",
            "analysed": {"text": "urin drug screen"},
            "embedding": [1.0] + [0.0] * (DIMS - 1),
        },
    }


def test_highlighted_fragments_mark_the_words_and_escape_the_rest():
    text = (
        'The patient takes Valium 10mg <script>alert(1)</script> & diazepam was "not" '
        "medically necessary."
    )
    assert highlight_texts(parse_query("valium -necessary"), [("a", text), ("b", "no drug")]) == {
        "a": [
            "The patient takes <mark>Valium</mark> 10mg &lt;script&gt;alert(1)&lt;/script&gt; "
            "&amp; <mark>diazepam</mark> was &quot;not&quot; medically necessary."
        ]
    }
    assert highlight_texts(parse_query('"medically necessary" script'), [("a", text)]) == {
        "a": [
            "The patient takes Valium 10mg &lt;<mark>script</mark>&gt;alert(1)&lt;/"
            "<mark>script</mark>&gt; &amp; diazepam was &quot;not&quot; <mark>medically</mark> "
            "<mark>necessary</mark>."
        ]
    }
    assert highlight_texts(parse_query("-valium"), [("a", text)]) == {}
    assert highlight_texts(parse_query("the"), [("a", text)]) == {}


def test_a_long_text_gives_two_fragments_cut_at_spaces():
    fall = (
        "The injured worker reports neck pain radiating to both shoulders after the fall at work. "
    )
    text = (
        "Klonopin 1 mg was requested for anxiety. "
        + fall * 3
        + "Guidelines do not support long-term use of clonazepam beyond four weeks."
    )
    assert highlight_texts(parse_query("klonopin"), [("x", text)]) == {
        "x": [
            "<mark>Klonopin</mark> 1 mg was requested for anxiety. The injured worker reports "
            "neck pain radiating to both shoulders after the fall at work. The injured worker "
            "reports neck pain radiating to",
            "both shoulders after the fall at work. Guidelines do not support long-term use of "
            "<mark>clonazepam</mark> beyond four weeks.",
        ]
    }


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
            "num_candidates": 200,
            "filter": [
                {"terms": {"decision": ["overturned"]}},
                {"range": {"decision_date": {"gte": "2016-01-01", "format": "strict_date"}}},
                {"bool": {"must_not": [{"terms": {"letter_id": ["CM16-0219557"]}}]}},
            ],
        },
        "size": 10,
        "_source": {"includes": RANKING},
    }
    assert "filter" not in build_knn_search(vector, Filters(), 5)["knn"]
    assert "post_filter" not in build_knn_search(vector, filters, 5)


def test_knn_candidates_and_bad_input():
    assert [num_candidates(k) for k in (1, 10, 100, 101, 1000, 5000, 10000)] == [
        200, 200, 200, 202, 2000, 10000, 10000,
    ]  # fmt: skip
    with pytest.raises(ValueError):
        build_knn_search(np.zeros(12, np.float32), Filters(), 10)
    with pytest.raises(ValueError):
        build_knn_search(np.full(DIMS, np.nan, np.float32), Filters(), 10)
    with pytest.raises(ValueError):
        build_knn_search(np.zeros(DIMS, np.float32), Filters(), 0)


LETTERS = {"letters": {"cardinality": {"field": "letter_id", "precision_threshold": 40000}}}


def test_facet_aggs_count_letters_of_every_value_in_one_terms_aggregation():
    filters = Filters(terms=(("decision", ("upheld",)),))
    assert build_facet_aggs(parse_query("diazepam"), filters, ["treatment_name", "licensure"]) == {
        "size": 0,
        "query": {
            "bool": {"must": [{"bool": {"should": [sqs(DIAZEPAM)]}}],
                     "filter": [{"terms": {"decision": ["upheld"]}}]}
        },
        "aggregations": {
            "treatment_name": {
                "terms": {"field": "treatment_name", "size": 5000, "order": {"_key": "asc"}},
                "aggregations": LETTERS,
            },
            "licensure": {
                "terms": {"field": "licensure", "size": 5000, "order": {"_key": "asc"}},
                "aggregations": LETTERS,
            },
        },
    }  # fmt: skip
    with pytest.raises(ValueError):
        build_facet_aggs(None, Filters(), ["text"])


def test_facet_pages_count_letters_of_every_value_page_by_page():
    filters = Filters(terms=(("decision", ("upheld",)),))
    assert build_facet_pages(parse_query("diazepam"), filters, ["treatment_name", "licensure"]) == {
        "size": 0,
        "query": {
            "bool": {"must": [{"bool": {"should": [sqs(DIAZEPAM)]}}],
                     "filter": [{"terms": {"decision": ["upheld"]}}]}
        },
        "aggregations": {
            "treatment_name": {
                "composite": {
                    "size": 1000,
                    "sources": [{"treatment_name": {"terms": {"field": "treatment_name"}}}],
                },
                "aggregations": {
                    "letters": {
                        "cardinality": {"field": "letter_id", "precision_threshold": 40000}
                    }
                },
            },
            "licensure": {
                "composite": {
                    "size": 1000,
                    "sources": [{"licensure": {"terms": {"field": "licensure"}}}],
                },
                "aggregations": {
                    "letters": {
                        "cardinality": {"field": "letter_id", "precision_threshold": 40000}
                    }
                },
            },
        },
    }  # fmt: skip


def test_facet_aggs_of_a_next_page_start_after_the_last_key():
    after = {"treatment_name": {"treatment_name": "zolpidem"}, "licensure": {}}
    assert build_facet_pages(None, Filters(), ["treatment_name", "licensure"], after) == {
        "size": 0,
        "query": {"bool": {"must": [{"match_all": {}}]}},
        "aggregations": {
            "treatment_name": {
                "composite": {
                    "size": 1000,
                    "sources": [{"treatment_name": {"terms": {"field": "treatment_name"}}}],
                    "after": {"treatment_name": "zolpidem"},
                },
                "aggregations": LETTERS,
            },
            "licensure": {
                "composite": {
                    "size": 1000,
                    "sources": [{"licensure": {"terms": {"field": "licensure"}}}],
                },
                "aggregations": LETTERS,
            },
        },
    }
    with pytest.raises(ValueError):
        build_facet_pages(None, Filters(), ["text"])


def test_count_letters_body():
    assert build_count_letters(None, Filters(section="item")) == {
        "size": 0,
        "query": {"bool": {"must": [{"match_all": {}}], "filter": [{"term": {"section": "item"}}]}},
        "aggregations": {
            "letters": {"cardinality": {"field": "letter_id", "precision_threshold": 40000}}
        },
    }


def test_stats_aggs_count_each_item_once_page_by_page():
    # Whatever the filters say about sections, stats count item chunks, first window only.
    filters = Filters(terms=(("priority", ("Standard",)),), section="clinical_case_summary")
    query = {
        "bool": {
            "must": [{"bool": {"should": [sqs("mri")]}}],
            "filter": [
                {"terms": {"priority": ["Standard"]}},
                {"term": {"section": "item"}},
                {"term": {"window": 0}},
            ],
        }
    }
    assert build_stats_aggs(parse_query("mri"), filters, "treatment_category") == {
        "size": 0,
        "query": query,
        "aggregations": {
            "by": {
                "composite": {
                    "size": 1000,
                    "sources": [
                        {"by": {"terms": {"field": "treatment_category"}}},
                        {"decision": {"terms": {"field": "decision"}}},
                    ],
                }
            }
        },
    }
    after = {"by": "imaging", "decision": "upheld"}
    assert build_stats_aggs(parse_query("mri"), filters, "treatment_category", after) == {
        "size": 0,
        "query": query,
        "aggregations": {
            "by": {
                "composite": {
                    "size": 1000,
                    "sources": [
                        {"by": {"terms": {"field": "treatment_category"}}},
                        {"decision": {"terms": {"field": "decision"}}},
                    ],
                    "after": {"by": "imaging", "decision": "upheld"},
                }
            }
        },
    }
    with pytest.raises(ValueError):
        build_stats_aggs(None, Filters(), "patient_age")


def test_docs_search_body():
    assert build_docs_search(["a:item-1:0", "b:summary:0", "a:item-1:0"]) == {
        "query": {"terms": {"chunk_id": ["a:item-1:0", "b:summary:0"]}},
        "size": 2,
        "_source": {"excludes": ["embedding"]},
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
    # Elasticsearch 9.0 and 9.1 know no `exclude_vectors` and return the vectors anyway.
    assert build_letter_chunks_search("CM16-0219557", exclude_vectors=False) == {
        "query": {"term": {"letter_id": "CM16-0219557"}},
        "size": 10000,
        "sort": [
            {"item_index": {"order": "asc", "missing": "_first"}},
            {"window": {"order": "asc"}},
            {"chunk_id": {"order": "asc"}},
        ],
        "_source": True,
    }
    # similar() reads the facets of the letters it found, not their vectors.
    for exclude_vectors in (True, False):
        body = build_letter_chunks_search("CM16-0219557", False, exclude_vectors)
        assert body["_source"] == {"excludes": ["embedding"]}
    assert build_fingerprints_search() == {
        "query": {"match_all": {}},
        "_source": {"includes": ["letter_id", "source", "fingerprint"]},
    }


def test_version_tuple():
    assert _version_tuple("9.2.4") == (9, 2, 4)
    assert _version_tuple("9.2.4-SNAPSHOT") == (9, 2, 4)
    assert _version_tuple("8.17.0") == (8, 17, 0)
    assert _version_tuple("10.0") == (10, 0)
    assert _version_tuple("9.1.0.1") == (9, 1, 0)
    assert _version_tuple("") == (0,)
    assert _version_tuple("unknown") == (0,)
    assert _version_tuple("8.19.3") < (9, 0, 0) <= _version_tuple("9.0.0")


def test_index_body_of_letters():
    assert build_index_body("letters") == {
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


def test_index_body_of_chunks_needs_no_analysis_module():
    body = build_index_body("chunks", 2, 1)
    # No analysis settings: the distribution on Maven Central has no analysis-common module.
    assert body["settings"] == {"number_of_shards": 2, "number_of_replicas": 1}
    assert body["mappings"] == index_definition("chunks")["mappings"]
    mappings = body["mappings"]
    assert mappings["dynamic"] == "strict"
    assert mappings["_source"] == {"excludes": ["analysed"]}
    text_fields = ("text", "request", "treatment_terms", "analysed")
    assert {name: mappings["properties"][name] for name in text_fields} == {
        "text": {"type": "text", "index": False},
        "request": {"type": "text", "index": False},
        "treatment_terms": {"type": "text", "index": False},
        "analysed": {
            "type": "object",
            "properties": {
                "text": {"type": "text", "analyzer": "whitespace"},
                "request": {"type": "text", "analyzer": "whitespace"},
                "treatment_terms": {"type": "text", "analyzer": "whitespace"},
            },
        },
    }
    # The mapping file itself is left alone (it is cached and shared).
    body["mappings"]["properties"].clear()
    assert index_definition("chunks")["mappings"]["properties"]["analysed"]


def test_store_index_body_has_the_store_shard_counts():
    store = ElasticsearchStore("http://127.0.0.1:9", "imr-test", shards=3, replicas=1)
    assert store.index_body("chunks") == build_index_body("chunks", 3, 1)
    assert store.index_body("letters") == build_index_body("letters", 3, 1)
    assert "synonym" not in str(store.index_body("chunks"))
    store.close()


def test_highlight_and_complete_ask_nothing_they_do_not_need():
    # Nothing listens on port 9: any request would raise StoreUnavailable.
    store = ElasticsearchStore("http://127.0.0.1:9", "imr-test")
    whole = ChunkHit("L-1:item-1:0", "L-1", 1.0, doc={"chunk_id": "L-1:item-1:0", "text": "t"})
    store.complete([whole])  # already whole
    assert store.highlight(parse_query("-klonopin"), [whole]) == {}  # no word to mark
    assert store.highlight(parse_query("klonopin"), []) == {}
    assert store.highlight(parse_query("t"), [whole]) == {"L-1:item-1:0": ["<mark>t</mark>"]}
    store.close()


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


def test_stale_chunks_and_letter_documents_queries():
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
        build_index_body("vectors")
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
    chunk_fields = set(chunk_props) - {"embedding", "analysed"}
    analysed_props = chunk_props["analysed"]["properties"]
    actions = list(chunk_actions(sample_docs, "imr-chunks"))
    assert len(actions) == sum(len(d.chunks) for d in sample_docs)
    for action, doc in zip(actions, [c for d in sample_docs for c in d.chunks], strict=True):
        assert set(doc) == chunk_fields  # exactly the mapped fields but the added two
        assert action["_id"] == doc["chunk_id"] and action["_index"] == "imr-chunks"
        assert set(action["_source"]) == set(chunk_props)
        assert _mapping_accepts(chunk_props, action["_source"]) == []
        analysed = action["_source"]["analysed"]
        assert analysed == analysed_fields(doc) and "text" in analysed
        assert _mapping_accepts(analysed_props, analysed) == []
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
    # The deletions of stale chunks and of letters are bulk lines too.
    deletes = [{"_op_type": "delete", "_index": a["_index"], "_id": a["_id"]} for a in actions]
    es_openapi.validate_bulk(_bulk_lines(deletes))


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
    parse_query('Valium +the -"to be"'),
    parse_query("the of"),
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
    es_openapi.validate_body(*SEARCH, build_keyword_search(query, Filters(), 10000, sort))


@needs_spec
@pytest.mark.parametrize("k", [1, 10, 100, 5000])
def test_knn_bodies_validate(k):
    vector = np.random.default_rng(k).standard_normal(DIMS).astype(np.float32)
    for filters in FILTERS:
        es_openapi.validate_body(*SEARCH, build_knn_search(vector, filters, k))


@needs_spec
@pytest.mark.parametrize("query", QUERIES, ids=repr)
def test_aggregation_bodies_validate(query):
    names = list(facet_names())
    after = {name: {name: "x"} for name in names}
    for filters in FILTERS:
        es_openapi.validate_body(*SEARCH, build_facet_aggs(query, filters, names))
        es_openapi.validate_body(*SEARCH, build_facet_pages(query, filters, names, after))
        es_openapi.validate_body(*SEARCH, build_count_letters(query, filters))
        for facet in names:
            es_openapi.validate_body(
                *SEARCH, build_facet_aggs(query, filters.without(facet), [facet])
            )
    for by in names:
        es_openapi.validate_body(*SEARCH, build_stats_aggs(query, FILTERS[-1], by))
        page = {"by": "x", "decision": "upheld"}
        es_openapi.validate_body(*SEARCH, build_stats_aggs(query, FILTERS[-1], by, page))
    es_openapi.validate_body("post", "/{index}/_count", {"query": build_query(query, FILTERS[-1])})


@needs_spec
def test_document_reading_bodies_validate():
    es_openapi.validate_body(*SEARCH, build_docs_search(["a:item-1:0", "b:summary:0"]))
    for embeddings in (True, False):
        for exclude_vectors in (True, False):
            body = build_letter_chunks_search("L-1", embeddings, exclude_vectors)
            es_openapi.validate_body(*SEARCH, body)
    es_openapi.validate_body(*SEARCH, build_fingerprints_search())
    # The records looked up before deleting (`_mget`, ids only).
    es_openapi.validate_body("post", "/{index}/_mget", {"ids": ["L-1", "L-2"]})


@needs_spec
def test_index_alias_and_listing_bodies_validate():
    for kind in ("chunks", "letters"):
        es_openapi.validate_body("put", "/{index}", build_index_body(kind))
        es_openapi.validate_body("put", "/{index}", build_index_body(kind, 3, 2))
        # ensure_index creates the first generation with its alias in the same request.
        body = {**build_index_body(kind), "aliases": {"imr-chunks": {"is_write_index": True}}}
        es_openapi.validate_body("put", "/{index}", body)
    gen = generation_names("imr-chunks", "20261123t154300000000z")
    adds = [(gen.chunks_index, "imr-chunks"), (gen.letters_index, "imr-chunks-letters")]
    es_openapi.validate_body("post", "/_aliases", build_alias_actions([], adds))
    es_openapi.validate_body(
        "post", "/_aliases", build_alias_actions([("imr-chunks-old", "imr-chunks")], adds)
    )
    # Stale chunks and a letter's documents are listed by a scroll (`helpers.scan`), then
    # deleted in bulk by id: the first search, the next pages, the clearing.
    for query in (
        build_stale_chunks_query({"L-1": ["L-1:summary:0"]}),
        build_stale_chunks_query({"L-1": []}),
        build_delete_letters_query(["L-1", "L-2"]),
    ):
        scroll = {"query": query["query"], "size": 1000, "sort": "_doc", "_source": False}
        es_openapi.validate_body(*SEARCH, scroll)
    es_openapi.validate_body("post", "/_search/scroll", {"scroll_id": "abc", "scroll": "2m"})
    es_openapi.validate_body("delete", "/_search/scroll", {"scroll_id": "abc"})


@needs_spec
@settings(max_examples=60, deadline=None)
@given(st.text(alphabet=st.sampled_from('ab "-+|()*~^:\\/OR'), max_size=30))
def test_any_typed_query_builds_a_valid_body_with_exclusions_apart(text):
    query = parse_query(text)
    body = build_keyword_search(query, Filters(exclude_letter_ids=("L-1",)), 10)
    es_openapi.validate_body(*SEARCH, body)
    text_query = body["query"]["bool"]["must"][0]
    if text_query == {"match_none": {}}:
        # A required stop word (no chunk holds it), or optional words that are all stop words
        # and nothing required: nothing can match.
        required = [c for c in query.positive if c.occur == "must"]
        if not any(clause_syntax(c) is None for c in required):
            assert not required and any(c.occur == "should" for c in query.positive)
            assert all(clause_syntax(c) is None for c in query.positive)
        return
    excluded = [part for part in map(clause_syntax, query.negative) if part]
    if excluded:
        assert text_query["bool"]["must_not"] == [sqs(" ".join(excluded))]
    else:
        assert "must_not" not in text_query.get("bool", {})
    positive = [c for part in ("must", "should") for c in text_query.get("bool", {}).get(part, [])]
    for clause in positive:
        if "simple_query_string" in clause:
            words = clause["simple_query_string"]["query"]
            # Analysed terms only (no operator of the user's), phrases closed.
            assert re.fullmatch(r'[a-z0-9 "|()]+', words), words
            assert "-" not in words and words.count('"') % 2 == 0


@needs_spec
def test_a_misspelt_body_fails_validation():
    """The validator really is strict: the store's bodies pass because they are right."""
    body = build_knn_search(np.ones(DIMS, np.float32), Filters(), 10)
    body["knn"]["num_candidate"] = body["knn"].pop("num_candidates")
    with pytest.raises(AssertionError, match="num_candidate"):
        es_openapi.validate_body(*SEARCH, body)
    body = build_facet_pages(None, Filters(), ["decision"], {"decision": {"decision": "x"}})
    body["aggregations"]["decision"]["composite"]["afterkey"] = {"decision": "x"}
    with pytest.raises(AssertionError, match="afterkey"):
        es_openapi.validate_body(*SEARCH, body)


def _spec_endpoint(request: Request) -> tuple[str, str] | None:
    """The OpenAPI endpoint of a recorded request that has a body."""
    path, method = request.path, request.method.lower()
    if path == "/_bulk":
        return ("post", "/_bulk")
    if path in ("/_aliases", "/_search/scroll"):
        return (method, path)
    m = re.fullmatch(r"/[^/_][^/]*(/_search|/_count|/_mget|/_mapping)?", path)
    if m and m.group(1):
        return (method if m.group(1) == "/_mapping" else "post", "/{index}" + m.group(1))
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
# 3. Faults, injected by the recording fake (or no server at all)

ACK = (200, {"acknowledged": True})
REFRESHED = (200, {"_shards": {"total": 1, "successful": 1, "failed": 0}})
MAPPER_ERROR = {
    "type": "mapper_parsing_exception",
    "reason": "failed to parse field [embedding] of type [dense_vector]",
}
REJECTED = {
    "type": "es_rejected_execution_exception",
    "reason": "rejected execution of coordinating operation",
}
NODES = ("GET", "/_nodes/_all/_none")


def _ids_sent(request: Request) -> list[str]:
    """The `_id` of each action of a bulk request (index actions have a source line)."""
    ids, lines, i = [], request.lines, 0
    while i < len(lines):
        ((op, meta),) = lines[i].items()
        ids.append(meta["_id"])
        i += 1 if op == "delete" else 2
    return ids


def _ops_sent(request: Request) -> set[str]:
    return {next(iter(line)) for line in request.lines if set(line) <= {"index", "delete"}}


def test_upsert_reports_the_letter_whose_chunk_failed(sample_docs):
    good, bad = _fresh(sample_docs)
    failing = bad.chunks[2]["chunk_id"]
    stale = f"{good.letter_id}:item-9:0"  # of an earlier version of the good letter
    with FakeElasticsearch() as es:
        es.route("HEAD", r"/_alias/imr-test(-letters)?", (200, None))
        es.route("PUT", r"/_bulk", bulk_answer({failing: (400, MAPPER_ERROR)}), times=1)
        es.route("PUT", r"/_bulk", bulk_answer(missing={failing}))
        route_scroll(es, "imr-test", [stale])
        es.route("POST", r"/imr-test-letters/_mget", mget_answer())  # the bad letter is new
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
        chunk_bulk, stale_bulk, letter_bulk, withdraw_bulk = es.find("PUT", r"/_bulk")
        # Every chunk of both letters was sent, id = chunk_id, with its 384 floats and its
        # analysed text.
        assert _ids_sent(chunk_bulk) == [c["chunk_id"] for d in (good, bad) for c in d.chunks]
        sources = chunk_bulk.lines[1::2]
        assert all(len(s["embedding"]) == DIMS for s in sources)
        assert all(s["analysed"] == analysed_fields(s) for s in sources)
        assert {next(iter(h.values()))["_index"] for h in chunk_bulk.lines[::2]} == {"imr-test"}
        # The good letter's stale chunks are listed (a scroll) and deleted by id ...
        (listing,) = es.find("POST", r"/imr-test/_search")
        assert listing.query == {"scroll": "2m"}
        assert listing.body == {
            "query": {
                "bool": {
                    "filter": [{"terms": {"letter_id": [good.letter_id]}}],
                    "must_not": [{"terms": {"chunk_id": [c["chunk_id"] for c in good.chunks]}}],
                }
            },
            "size": 1000,
            "sort": "_doc",
            "_source": False,
        }
        assert stale_bulk.lines == [{"delete": {"_id": stale, "_index": "imr-test"}}]
        # ... before only the whole letter gets its record (its fingerprint) ...
        assert _ids_sent(letter_bulk) == [good.letter_id]
        assert letter_bulk.lines[0] == {
            "index": {"_index": "imr-test-letters", "_id": good.letter_id}
        }
        assert letter_bulk.lines[1]["fingerprint"] == good.fingerprint
        assert letter_bulk.lines[1]["chunk_count"] == len(good.chunks)
        # ... and the failed letter, which has no record, loses the chunks written for it (by
        # id: they are not searchable before a refresh), so none is found without its letter.
        (mget,) = es.find("POST", r"/imr-test-letters/_mget")
        assert (mget.query, mget.body) == ({"_source": "false"}, {"ids": [bad.letter_id]})
        assert withdraw_bulk.lines == [
            {"delete": {"_id": c["chunk_id"], "_index": "imr-test"}} for c in bad.chunks
        ]
        order = [(r.method, r.path) for r in es.requests]
        assert order == [
            NODES,
            ("HEAD", "/_alias/imr-test"),
            ("HEAD", "/_alias/imr-test-letters"),
            ("PUT", "/_bulk"),
            ("POST", "/imr-test/_search"),
            ("POST", "/_search/scroll"),
            ("DELETE", "/_search/scroll"),
            ("PUT", "/_bulk"),
            ("PUT", "/_bulk"),
            ("POST", "/imr-test-letters/_mget"),
            ("PUT", "/_bulk"),
            ("POST", "/imr-test,imr-test-letters/_refresh"),
        ]
        assert validate_recorded(es) == 8


def test_upsert_keeps_the_record_of_a_failed_letter_indexed_before(sample_docs):
    good, bad = _fresh(sample_docs)
    failing = bad.chunks[0]["chunk_id"]
    with FakeElasticsearch() as es:
        es.route("HEAD", r"/_alias/imr-test(-letters)?", (200, None))
        es.route("PUT", r"/_bulk", bulk_answer({failing: (400, MAPPER_ERROR)}))
        route_scroll(es, "imr-test", [])
        es.route("POST", r"/imr-test-letters/_mget", mget_answer({bad.letter_id}))
        es.route("POST", r"/imr-test,imr-test-letters/_refresh", REFRESHED)
        store = ElasticsearchStore(es.url, "imr-test")
        report = store.upsert([good, bad])
        store.close()
        assert es.unrouted == []
    assert [lid for lid, _ in report.failed] == [bad.letter_id]
    # Its earlier record stays (its fingerprint makes the next run try again), and so do its
    # chunks: no deletion follows the look-up.
    chunk_bulk, letter_bulk = es.find("PUT", r"/_bulk")
    assert _ops_sent(chunk_bulk) == {"index"} and _ids_sent(letter_bulk) == [good.letter_id]
    assert [r.path for r in es.requests][-2:] == [
        "/imr-test-letters/_mget",
        "/imr-test,imr-test-letters/_refresh",
    ]
    assert es.find("POST", r"/_search/scroll") == []  # an empty first page ends the scroll


def test_upsert_reports_letters_without_vectors_and_failed_bulk_requests(sample_docs):
    good, bad = _fresh(sample_docs)
    bad.vectors = None
    with FakeElasticsearch() as es:
        es.route("HEAD", r"/_alias/.*", (200, None))
        es.route("PUT", r"/_bulk", (413, {"error": {"type": "too_large", "reason": "big"}}))
        es.route("POST", r"/imr-test-letters/_mget", mget_answer())
        es.route("POST", r"/.*/_refresh", REFRESHED)
        store = ElasticsearchStore(es.url, "imr-test")
        report = store.upsert([good, bad])
        store.close()
        assert es.unrouted == []
    assert report.indexed == 0
    assert dict(report.failed) == {
        good.letter_id: f"chunk {good.chunks[0]['chunk_id']}: HTTP 413 too_large: big",
        bad.letter_id: "no embedding vectors",
    }
    # Nothing is listed as stale and no record written; the chunks of the new letter that
    # failed are withdrawn (refused again, which is only logged).
    assert es.find("POST", r"/imr-test/_search") == []
    chunk_bulk, withdraw_bulk = es.find("PUT", r"/_bulk")
    assert _ops_sent(chunk_bulk) == {"index"}
    assert _ids_sent(withdraw_bulk) == [c["chunk_id"] for c in good.chunks]
    assert _ops_sent(withdraw_bulk) == {"delete"}


def test_a_delete_refused_through_every_retry_keeps_the_letters():
    chunk_ids = ["L-1:summary:0", "L-1:item-1:0"]
    with FakeElasticsearch() as es:
        es.route("HEAD", r"/_alias/imr-test(-letters)?", (200, None))
        route_scroll(es, "imr-test", chunk_ids)
        es.route("PUT", r"/_bulk", bulk_answer({"L-1:item-1:0": (429, REJECTED)}), times=4)
        store = ElasticsearchStore(es.url, "imr-test")
        store.bulk_initial_backoff = 0.01  # the real 1, 2, 4 s would only slow the test down
        with pytest.raises(StoreError) as caught:
            store.delete(["L-1", "L-9", "L-1"])
        assert not isinstance(caught.value, StoreUnavailable)
        assert str(caught.value) == (
            f"Elasticsearch at {es.url} failed deleting 1 chunks from imr-test (first: "
            "L-1:item-1:0: es_rejected_execution_exception: rejected execution of coordinating "
            "operation (still refused after 3 retries)); their letters are kept"
        )
        (listing,) = es.find("POST", r"/imr-test/_search")
        assert listing.body["query"] == {"terms": {"letter_id": ["L-1", "L-9"]}}
        assert [_ids_sent(r) for r in es.find("PUT", r"/_bulk")] == [
            chunk_ids,
            ["L-1:item-1:0"],
            ["L-1:item-1:0"],
            ["L-1:item-1:0"],
        ]
        # The records were not touched: the letters are still listed and can be deleted again.
        assert es.find("POST", r".*/_mget") == [] and es.find("POST", r".*/_refresh") == []

        route_scroll(es, "imr-test", ["L-1:item-1:0"])
        es.route("PUT", r"/_bulk", bulk_answer())
        es.route("POST", r"/imr-test-letters/_mget", mget_answer({"L-1"}))
        es.route("POST", r"/imr-test,imr-test-letters/_refresh", REFRESHED)
        assert store.delete(["L-1", "L-9"]) == 1  # the records that existed
        assert store.delete([]) == 0
        store.close()
        assert es.unrouted == []
        (mget,) = es.find("POST", r"/imr-test-letters/_mget")
        assert mget.body == {"ids": ["L-1", "L-9"]}
        *_, chunks_bulk, records_bulk = es.find("PUT", r"/_bulk")
        assert chunks_bulk.lines == [{"delete": {"_id": "L-1:item-1:0", "_index": "imr-test"}}]
        assert records_bulk.lines == [{"delete": {"_id": "L-1", "_index": "imr-test-letters"}}]
        assert es.requests[-1].path == "/imr-test,imr-test-letters/_refresh"
        validate_recorded(es)


def _route_reindex(es: FakeElasticsearch, aliases_answer) -> None:
    es.route("PUT", r"/imr-test-(letters-)?\d{8}t\d{12}z", ACK)
    es.route("PUT", r"/_bulk", bulk_answer())
    route_scroll(es, r"imr-test-\d{8}t\d{12}z", [])
    es.route("POST", r"/imr-test-\d{8}t\d{12}z,imr-test-letters-\d{8}t\d{12}z/_refresh", REFRESHED)
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


def test_a_failed_alias_swap_keeps_the_old_indices(sample_docs):
    failure = (500, {"error": {"type": "illegal_state_exception", "reason": "boom"}, "status": 500})
    with FakeElasticsearch() as es:
        _route_reindex(es, failure)
        store = ElasticsearchStore(es.url, "imr-test")
        gen = store.begin_reindex()
        assert store.upsert(_fresh(sample_docs)) == IndexReport(indexed=2)
        # Writes went to the new generation, not refreshed until the rebuild is finished.
        headers = [line for bulk in es.find("PUT", r"/_bulk") for line in bulk.lines[::2]]
        assert {h["index"]["_index"] for h in headers} == set(gen.indices)
        assert es.find("POST", rf"/{gen.chunks_index}/_search")  # its stale chunks, listed
        assert es.find("POST", r".*/_refresh") == []
        with pytest.raises(StoreError, match="illegal_state_exception: boom") as caught:
            store.finish_reindex(gen)
        assert not isinstance(caught.value, StoreUnavailable)
        (refresh,) = es.find("POST", r".*/_refresh")
        assert refresh.path == f"/{gen.chunks_index},{gen.letters_index}/_refresh"
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
        assert es.find("DELETE", r"/[^_].*") == []
        # Giving up deletes the new generation only, never the indices the aliases still use.
        store.abort_reindex(gen)
        store.close()
        (delete,) = es.find("DELETE", r"/[^_].*")
        assert delete.path == f"/{gen.chunks_index},{gen.letters_index}"
        assert delete.query == {"ignore_unavailable": "true"}
        assert es.unrouted == []
        validate_recorded(es)


@pytest.mark.parametrize("version", ["8.17.0", "9.0.2"])
def test_a_cluster_older_than_9_1_is_refused_in_one_line(version):
    with FakeElasticsearch(version=version) as es:
        store = ElasticsearchStore(es.url, "imr-test")
        message = f"Elasticsearch at {es.url} is version {version}; imr-search needs 9.1.0 or newer"
        for call in (
            lambda: store.keyword(parse_query("klonopin"), Filters(), 10),
            lambda: store.facet_counts(None, Filters(), ["decision"]),
            store.ensure_index,
            store.begin_reindex,
        ):
            with pytest.raises(StoreConfigError) as caught:
                call()
            assert str(caught.value) == message
        store.close()
        # Asked once, before anything else.
        assert [(r.method, r.path) for r in es.requests] == [NODES]
        assert es.requests[0].query == {"filter_path": "nodes.*.version"}


def test_the_oldest_node_decides_and_9_1_is_not_asked_for_exclude_vectors():
    nodes = {"nodes": {"a": {"version": "9.2.4"}, "b": {"version": "9.1.0"}}}
    chunk = {"chunk_id": "L-1:summary:0", "letter_id": "L-1", "embedding": [0.5] * 4}
    with FakeElasticsearch(version=None) as es:
        es.route("GET", r"/_nodes/_all/_none", (200, nodes))
        es.route(
            "POST",
            r"/imr-test/_search",
            (200, {"_shards": {"total": 1, "successful": 1, "failed": 0},
                   "hits": {"hits": [{"_id": "L-1:summary:0", "_source": chunk}]}}),
        )  # fmt: skip
        store = ElasticsearchStore(es.url, "imr-test")
        assert store.server_version() == (9, 1, 0)
        assert store.letter_chunks("L-1") == [chunk]
        store.close()
        assert es.unrouted == []
    (search,) = es.find("POST", r"/imr-test/_search")
    assert search.body["_source"] is True
    assert len(es.find(*NODES)) == 1


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
            store.keyword(parse_query("x"), Filters(), 40)
        with pytest.raises(StoreUnavailable, match="HTTP 503"):
            store.keyword(parse_query("y"), Filters(), 10)
        store.close()
        assert es.unrouted == []
    # A keyword search gathers the term statistics of every shard first, and the same query
    # (a deeper page too) goes to the same shard copies; another query may go elsewhere.
    first, deeper, other = es.find("POST", r"/imr-test/_search")
    assert first.query["search_type"] == "dfs_query_then_fetch"
    assert re.fullmatch(r"q[0-9a-f]{16}", first.query["preference"])
    assert deeper.query == first.query
    assert other.query["preference"] != first.query["preference"]


# ---------------------------------------------------------------------------------------------
# 4. What a working cluster does: against the real Elasticsearch at ELASTICSEARCH_URL


@pytest.fixture
def live_store():
    """A store on the real Elasticsearch with a fresh alias (skipped without ELASTICSEARCH_URL,
    failing instead when IMR_SEARCH_REQUIRE_ES is set); every index of it dropped after."""
    store = elasticsearch_store("imr-test")
    yield store
    rows = store.client.cat.indices(index=f"{store.alias}-*", format="json", h="index")
    store.drop_indices([row["index"] for row in rows], check_aliases=False)
    store.close()


def _aliases_of(store: ElasticsearchStore) -> dict[str, dict]:
    """alias -> {index: alias properties} of the store's two aliases."""
    out = {}
    for alias in (store.alias, store.letters_alias):
        resp = store.client.options(ignore_status=404).indices.get_alias(name=alias)
        out[alias] = {
            index: info["aliases"][alias]
            for index, info in resp.body.items()
            if alias in info.get("aliases", {})
        }
    return out


def test_live_cluster_contract(live_store, tokenizer, embedder):
    from indexer.chunking import chunk_letter
    from indexer.letters.parser import parse_letter

    from .conftest import SEEDS

    store = live_store
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
    assert store.server_version() >= (9, 0, 0)
    store.ensure_index()
    report = store.upsert(docs)
    assert report == IndexReport(indexed=len(docs))
    assert store.counts() == (len(docs), sum(len(d.chunks) for d in docs))
    assert {k: v[1] for k, v in store.fingerprints().items()} == {
        d.letter_id: d.fingerprint for d in docs
    }

    # "Klonopin" finds the letters about clonazepam (its synonym group, at query time).
    hits, total = store.keyword(parse_query("Klonopin"), Filters(), 50)
    assert total == len(hits) > 0
    assert {h.letter_id for h in hits} == klonopin
    items = {h.letter_id for h in hits if h.doc["section"] == "item"}
    assert items == klonopin
    assert all(isinstance(h.doc, PartialDoc) for h in hits)
    marked = store.highlight(parse_query("Klonopin"), hits)
    assert marked and all("<mark>" in frag for frags in marked.values() for frag in frags)
    assert not any(isinstance(h.doc, PartialDoc) for h in hits)  # completed on the way
    assert store.count_letters(parse_query("Klonopin"), Filters(section="item")) == 2

    first = docs[0]
    near = store.knn(first.vectors[0], Filters(), 3)
    assert near[0].score == pytest.approx(1.0, abs=1e-3)  # cosine, not (1 + dot) / 2
    assert first.chunks[0]["chunk_id"] in {h.chunk_id for h in near if h.score > 0.999}
    chunks = store.letter_chunks(first.letter_id)
    assert [c["chunk_id"] for c in chunks] == [c["chunk_id"] for c in first.chunks]
    assert len(chunks[0]["embedding"]) == DIMS
    assert "analysed" not in chunks[0]  # left out of _source by the mapping
    assert store.letter(first.letter_id)["fingerprint"] == first.fingerprint
    facets = store.facet_counts(None, Filters(), ["treatment_name"])["treatment_name"]
    assert facets["clonazepam"] == 2

    gen = store.begin_reindex()
    assert store.upsert(docs).indexed == len(docs)
    store.finish_reindex(gen)
    assert store.counts() == (len(docs), sum(len(d.chunks) for d in docs))

    assert store.delete([first.letter_id]) == 1
    assert store.counts()[0] == len(docs) - 1


def test_live_cluster_contract_reads(live_store, sample_docs):
    store = live_store
    # Before anything is written, every read is empty (no index yet: not an error).
    assert store.keyword(parse_query("valium"), Filters(), 10) == ([], 0)
    assert store.knn(np.eye(1, DIMS, 0, np.float32)[0], Filters(), 3) == []
    assert store.counts() == (0, 0)
    assert store.fingerprints() == {}
    assert store.letter("L-1") is None
    assert store.letter_chunks("L-1") == []
    assert store.facet_counts(None, Filters(), ["decision"]) == {"decision": {}}
    assert store.count_letters(None, Filters()) == 0
    assert store.stats(None, Filters(), "decision") == {}

    diazepam, facet = _fresh(sample_docs)
    assert store.upsert([diazepam, facet]) == IndexReport(indexed=2)
    chunks = {c["chunk_id"]: c for d in (diazepam, facet) for c in d.chunks}

    # A keyword hit holds its ranking fields until `complete` reads the whole chunk.
    hits, total = store.keyword(parse_query("Valium"), Filters(), 10)
    assert {h.letter_id for h in hits} == {diazepam.letter_id}
    assert total == len(hits) == len(diazepam.chunks)
    for hit in hits:
        assert hit.doc == {name: chunks[hit.chunk_id].get(name) for name in RANKING}
        assert isinstance(hit.doc, PartialDoc)
    store.complete(hits)
    for hit in hits:
        assert hit.doc == chunks[hit.chunk_id]  # every field, neither embedding nor analysed
        assert not isinstance(hit.doc, PartialDoc)
    newest, _ = store.keyword(None, Filters(), 10, "newest")
    assert [h.letter_id for h in newest][:1] == [facet.letter_id]  # the only one with a date

    marked = store.highlight(parse_query("Valium"), hits)
    assert set(marked) <= {h.chunk_id for h in hits} and marked
    words = {w.lower() for frags in marked.values() for f in frags for w in _marks(f)}
    assert words == {"diazepam", "valium"}  # the letter's own words of the synonym group

    # The first letter's vectors are e0, the second's e1: a cosine of 1 and of 0.
    near = store.knn(np.eye(1, DIMS, 0, np.float32)[0], Filters(), len(chunks))
    assert {h.chunk_id: round(h.score, 3) for h in near} == {
        **{cid: 1.0 for cid in chunks if cid.startswith(diazepam.letter_id)},
        **{cid: 0.0 for cid in chunks if cid.startswith(facet.letter_id)},
    }
    assert store.knn(np.eye(1, DIMS, 1, np.float32)[0], Filters(), 1)[0].letter_id == (
        facet.letter_id
    )

    assert store.facet_counts(None, Filters(), ["decision", "treatment_name"]) == {
        "decision": {"upheld": 2},
        "treatment_name": {"diazepam": 1, "facet joint injection": 1},
    }
    assert store.count_letters(None, Filters()) == 2
    assert store.count_letters(parse_query("Valium"), Filters()) == 1
    assert store.stats(None, Filters(), "treatment_class") == {
        "benzodiazepine": {"upheld": 1, "overturned": 0},
        "injection": {"upheld": 1, "overturned": 0},
    }

    read = store.letter_chunks(facet.letter_id)
    assert [c["chunk_id"] for c in read] == [c["chunk_id"] for c in facet.chunks]
    assert [c["embedding"][:2] for c in read] == [[0.0, 1.0]] * len(facet.chunks)
    assert store.letter_chunks(facet.letter_id, embeddings=False) == facet.chunks
    assert store.fingerprints() == {
        d.letter_id: (d.source, d.fingerprint) for d in (diazepam, facet)
    }
    assert store.counts() == (2, len(chunks))
    record = store.letter(facet.letter_id)
    assert (record["letter_id"], record["fingerprint"], record["chunk_count"]) == (
        facet.letter_id,
        facet.fingerprint,
        len(facet.chunks),
    )
    assert store.letter("L-404") is None


def _marks(fragment: str) -> list[str]:
    return re.findall(r"<mark>(.*?)</mark>", fragment)


def test_live_cluster_contract_first_generation(live_store):
    store = live_store
    store.ensure_index()
    aliases = _aliases_of(store)
    ((chunks_index, chunks_alias),) = aliases[store.alias].items()
    ((letters_index, letters_alias),) = aliases[store.letters_alias].items()
    stamp = chunks_index.removeprefix(store.alias + "-")
    assert re.fullmatch(r"\d{8}t\d{12}z", stamp)
    assert letters_index == f"{store.letters_alias}-{stamp}"
    assert chunks_alias == letters_alias == {"is_write_index": True}
    mapping = store.client.indices.get_mapping(index=chunks_index)[chunks_index]["mappings"]
    assert mapping["_source"] == {"excludes": ["analysed"]}
    analysed = index_definition("chunks")["mappings"]["properties"]["analysed"]["properties"]
    assert mapping["properties"]["analysed"] == {"properties": analysed}  # "object" is implied

    # A missing letters index is made again; the chunks index is left as it is.
    store.client.indices.delete(index=letters_index)
    env = {**os.environ, "ELASTICSEARCH_URL": ES_URL}
    again = ElasticsearchStore.from_env(env, index=store.alias)
    again.ensure_index()
    again.close()
    aliases = _aliases_of(store)
    assert list(aliases[store.alias]) == [chunks_index]
    ((new_letters, _),) = aliases[store.letters_alias].items()
    assert new_letters != letters_index and new_letters.startswith(store.letters_alias + "-")


def test_live_cluster_contract_reindex(live_store, sample_docs):
    store = live_store
    diazepam, facet = _fresh(sample_docs)
    assert store.upsert([diazepam]).indexed == 1
    (old_chunks,) = _aliases_of(store)[store.alias]
    (old_letters,) = _aliases_of(store)[store.letters_alias]

    gen = store.begin_reindex()
    assert re.fullmatch(re.escape(store.alias) + r"-\d{8}t\d{12}z", gen.chunks_index)
    assert gen.letters_index == gen.chunks_index.replace(store.alias, store.letters_alias, 1)
    assert store.upsert([diazepam, facet]).indexed == 2
    # Searches still go through the aliases, to the old generation, while it is built.
    assert store.counts() == (1, len(diazepam.chunks))
    assert store.count_letters(None, Filters()) == 1

    assert store.finish_reindex(gen) == sorted([old_chunks, old_letters])
    assert _aliases_of(store) == {
        store.alias: {gen.chunks_index: {"is_write_index": True}},
        store.letters_alias: {gen.letters_index: {"is_write_index": True}},
    }
    assert not store.client.indices.exists(index=old_chunks)
    assert store.counts() == (2, len(diazepam.chunks) + len(facet.chunks))
    assert store._write_targets() == (store.alias, store.letters_alias)


def test_every_mapped_field_is_known_to_the_builders():
    """Facets, dates and text fields the builders use all exist in the mapping."""
    types = {f.name: f.type for f in fields()}
    assert all(types[name] == "keyword" for name in facet_names())
    assert all(types[name] == "date" for name in DATE_FIELDS)
    text = [n for n, t in types.items() if t == "text"]
    assert [f.split("^")[0] for f in FIELDS] == [f"analysed.{name}" for name in text]
    analysed = index_definition("chunks")["mappings"]["properties"]["analysed"]["properties"]
    assert list(analysed) == text
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
                            {"bool": {"should": [sqs(KLONOPIN)]}},
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
