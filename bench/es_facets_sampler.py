"""Follow-up to bench/es_facets.py: letter-level facets counted exactly by a diversified_sampler
(one chunk per letter_id) instead of cardinality. Needs `es_facets.py load` on :9700 first.

    python bench/es_facets_sampler.py
"""

import statistics
import sys
import time

sys.path.insert(0, "/work/main")
from elasticsearch import Elasticsearch

from bench.es_facets import TERMS_SIZE, card
from indexer.query_text import parse_query
from indexer.stores.base import Filters
from indexer.stores.elasticsearch import build_query

c = Elasticsearch("http://127.0.0.1:9700", request_timeout=120)
LETTER = [
    "reviewer_specialty",
    "licensure",
    "priority",
    "patient_sex",
    "age_band",
    "decision_year",
    "decision_month",
]
ITEM = [
    "decision",
    "treatment_category",
    "treatment_class",
    "treatment_name",
    "body_region",
    "guideline_source",
    "guideline_section",
]


def terms_card(f):
    return {
        "terms": {"field": f, "size": TERMS_SIZE, "order": {"_key": "asc"}},
        "aggs": {"letters": card()},
    }


def exact(q, f):
    r = c.search(
        index="facets",
        size=0,
        query=q,
        aggs={
            f: {
                "terms": {"field": f, "size": TERMS_SIZE},
                "aggs": {"ids": {"terms": {"field": "letter_id", "size": 65000}}},
            }
        },
        request_cache=False,
    ).body
    return {b["key"]: len(b["ids"]["buckets"]) for b in r["aggregations"][f]["buckets"]}


for qs in ("pain", "medically necessary", "zolpidem", None):
    q = build_query(parse_query(qs) if qs else None, Filters())
    body = {
        "size": 0,
        "query": q,
        "aggs": {
            "one": {
                "diversified_sampler": {
                    "field": "letter_id",
                    "max_docs_per_value": 1,
                    "shard_size": 200000,
                },
                "aggs": {
                    f: {"terms": {"field": f, "size": TERMS_SIZE, "order": {"_key": "asc"}}}
                    for f in LETTER
                },
            },
            **{f: terms_card(f) for f in ITEM},
        },
    }
    only_letter = {"size": 0, "query": q, "aggs": {"one": body["aggs"]["one"]}}
    allcard = {"size": 0, "query": q, "aggs": {f: terms_card(f) for f in LETTER + ITEM}}
    r = c.search(index="facets", body=body, request_cache=False).body
    err = 0
    for f in LETTER:
        got = {b["key"]: b["doc_count"] for b in r["aggregations"]["one"][f]["buckets"]}
        ex = exact(q, f)
        err = max([err] + [abs(got.get(k, 0) - ex.get(k, 0)) for k in set(got) | set(ex)])
    t = {
        "sampler(7 letter-level) + terms+card(7 item-level)": body,
        "sampler only (7 letter-level)": only_letter,
        "terms+card all 14": allcard,
    }
    res = {k: [] for k in t}
    for _ in range(15):
        for k, b in t.items():
            s = time.perf_counter()
            c.search(index="facets", body=b, request_cache=False)
            res[k].append((time.perf_counter() - s) * 1000)
    print(
        qs,
        "letter-level max err",
        err,
        {k: round(statistics.median(v), 1) for k, v in res.items()},
        flush=True,
    )
