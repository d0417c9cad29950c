"""The Elasticsearch back end against a real server: each defect a review found, as it shows.

Runs on the Elasticsearch at ELASTICSEARCH_URL (CI starts one with scripts/elasticsearch.sh and
sets IMR_SEARCH_REQUIRE_ES, so these fail rather than skip there). Letters are made up here,
with random unit vectors, so that hundreds of values or thousands of chunks cost seconds.
"""

from __future__ import annotations

import uuid

import numpy as np
import pytest

from indexer.documents import LetterDocs
from indexer.query_text import parse_query
from indexer.search import SearchRequest, SearchService
from indexer.stores.base import Filters, StoreConfigError, StoreUnavailable
from indexer.stores.elasticsearch import (
    MAX_WINDOW,
    MIN_VERSION,
    ElasticsearchStore,
    StoreError,
)

from .conftest import ES_URL, elasticsearch_store

DIMS = 384


@pytest.fixture
def store():
    s = elasticsearch_store("imr-live")
    yield s
    s.drop_all()
    s.close()


def letter(letter_id: str, chunks: int = 1, name: str = "zolpidem", **fields) -> LetterDocs:
    """A made-up letter of `chunks` item passages about `name`."""
    docs = []
    for i in range(chunks):
        docs.append(
            {
                "chunk_id": f"{letter_id}:item-1:{i}",
                "letter_id": letter_id,
                "item_id": f"{letter_id}:item-1",
                "item_index": 1,
                "section": "item",
                "window": i,
                "windows": chunks,
                "text": f"The request for {name} is not medically necessary. Passage {i}.",
                "request": f"{name} 10mg",
                "treatment_name": [name],
                "decision": "upheld",
                "decision_date": "2016-05-04",
                "decision_month": "2016-05",
                "decision_year": "2016",
                **fields,
            }
        )
    rng = np.random.default_rng(abs(hash(letter_id)) % 2**32)
    vectors = rng.normal(size=(chunks, DIMS)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    return LetterDocs(letter_id, f"{letter_id}.txt", "f-" + letter_id, {}, "", "", docs, vectors)


def chunk_ids_of(store: ElasticsearchStore, letter_id: str) -> list[str]:
    return sorted(d["chunk_id"] for d in store.letter_chunks(letter_id, embeddings=False))


def test_the_server_version_is_read_and_checked(store):
    version = store.server_version()
    assert version >= MIN_VERSION
    assert len(version) == 3
    store._version = (8, 17, 0)  # as an 8.17 cluster would answer
    with pytest.raises(StoreConfigError) as caught:
        store.keyword(parse_query("zolpidem"), Filters(), 10)
    assert str(caught.value) == (
        f"Elasticsearch at {store.url} is version 8.17.0; imr-search needs 9.1.0 or newer"
    )


def test_deep_pages_stay_within_the_result_window(store, embedder):
    # 60 letters of 100 matching chunks each: the search deepens 800 -> 3,200 -> 10,000 chunks
    # (it asked for 12,800 before, which Elasticsearch refuses) to fill a page of 100 letters.
    report = store.upsert([letter(f"DEEP-{i:03d}", chunks=100) for i in range(60)])
    assert (report.indexed, report.failed) == (60, [])
    service = SearchService(store, lambda: embedder)
    result = service.search(
        SearchRequest.from_params(
            {"q": "zolpidem", "mode": "keyword", "page": "2", "per_page": "100"}
        )
    )
    assert result.total == 60
    assert result.hits == []
    first = service.search(
        SearchRequest.from_params({"q": "zolpidem", "mode": "keyword", "per_page": "100"})
    )
    assert len(first.hits) == 60
    hits, total = store.keyword(parse_query("zolpidem"), Filters(), MAX_WINDOW)
    assert (len(hits), total) == (6000, 6000)
    with pytest.raises(ValueError, match="size must be between 0 and 10000, not 10001"):
        store.keyword(parse_query("zolpidem"), Filters(), MAX_WINDOW + 1)


def test_facets_and_statistics_count_every_value(store):
    # 600 distinct treatments in 600 letters over 25 months: beyond the 200 facet values and
    # 500 statistics rows the terms aggregations used to stop at.
    letters = [
        letter(
            f"MANY-{i:03d}",
            name=f"drug{i:03d}",
            decision="overturned" if i % 3 == 0 else "upheld",
            decision_month=f"{2014 + (i % 25) // 12}-{(i % 25) % 12 + 1:02d}",
        )
        for i in range(600)
    ]
    assert store.upsert(letters).indexed == 600
    facets = store.facet_counts(None, Filters(), ["treatment_name", "decision_month"])
    assert len(facets["treatment_name"]) == 600
    assert set(facets["treatment_name"].values()) == {1}
    assert len(facets["decision_month"]) == 25
    assert sum(facets["decision_month"].values()) == 600
    stats = store.stats(None, Filters(), "treatment_name")
    assert len(stats) == 600
    assert stats["drug000"] == {"upheld": 0, "overturned": 1}
    assert stats["drug599"] == {"upheld": 1, "overturned": 0}
    # A facet with more values than one terms aggregation holds is counted page by page, to
    # the same numbers.
    import indexer.stores.elasticsearch.requests as es_requests

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(es_requests, "FACET_VALUES", 100)
        patch.setattr(es_requests, "COMPOSITE_PAGE", 250)
        assert store.facet_counts(None, Filters(), ["treatment_name", "decision_month"]) == facets
    # A value outside any top 200 still counts when it is the one selected.
    only = Filters(terms=(("treatment_name", ("drug598",)),))
    assert store.facet_counts(None, only, ["treatment_name"]) == {"treatment_name": {"drug598": 1}}


def test_a_shard_that_does_not_answer_is_an_error_not_a_smaller_answer(store):
    assert store.upsert([letter("SHARD-1")]).indexed == 1
    # An index whose only shard can never be allocated, behind the same alias: searches over
    # the alias get an answer from one shard of two.
    lost = f"{store.alias}-lost"
    store.client.indices.create(
        index=lost,
        settings={
            "number_of_shards": 1,
            "number_of_replicas": 0,
            "index.routing.allocation.require._name": "no-such-node",
        },
        mappings={"dynamic": False},
        wait_for_active_shards="0",
    )
    store.client.indices.put_alias(index=lost, name=store.alias)
    store.shard_retry_wait = 0.01
    try:
        with pytest.raises(StoreUnavailable) as caught:
            store.keyword(parse_query("zolpidem"), Filters(), 10)
        assert str(caught.value) == (
            f"Elasticsearch at {store.url} answered searching from only 1 of 2 shards "
            "(after 2 retries): no_shard_available_action_exception"
        )
        with pytest.raises(StoreUnavailable, match="from only 1 of 2 shards"):
            store.count_letters(parse_query("zolpidem"), Filters())
    finally:
        store.client.indices.delete(index=lost)
    assert store.count_letters(parse_query("zolpidem"), Filters()) == 1


def test_a_new_letter_with_a_rejected_chunk_leaves_nothing_searchable(store):
    good = letter("GOOD-1", chunks=3)
    bad = letter("BAD-1", chunks=3)
    bad.chunks[1]["decision_date"] = "not a date"  # the server refuses this one chunk
    report = store.upsert([good, bad])
    assert report.indexed == 1
    assert [lid for lid, _ in report.failed] == ["BAD-1"]
    assert "chunk BAD-1:item-1:1: document_parsing_exception" in report.failed[0][1]
    assert chunk_ids_of(store, "BAD-1") == []
    assert store.letter("BAD-1") is None
    assert chunk_ids_of(store, "GOOD-1") == [f"GOOD-1:item-1:{i}" for i in range(3)]
    assert store.count_letters(parse_query("zolpidem"), Filters()) == 1


def test_a_changed_letter_keeps_its_old_record_until_its_stale_chunks_are_gone(store, monkeypatch):
    assert store.upsert([letter("STALE-1", chunks=5)]).indexed == 1
    shorter = letter("STALE-1", chunks=2)
    shorter.fingerprint = "f-STALE-1-v2"
    # The server refuses the deletion of the stale chunks (an injected answer: a real server
    # refuses a delete only when the whole index is blocked, which would refuse the new chunks
    # too).
    client_class = type(store.client)
    real_bulk = client_class.bulk

    def refuse_deletes(self, *args, **kwargs):
        resp = real_bulk(self, *args, **kwargs)
        for item in resp["items"]:
            if "delete" in item:
                item["delete"].update(
                    status=500, error={"type": "injected", "reason": "disk broke"}
                )
        resp.body["errors"] = True
        return resp

    with monkeypatch.context() as patch:
        patch.setattr(client_class, "bulk", refuse_deletes)
        report = store.upsert([shorter])
    assert report.indexed == 0
    assert report.failed == [
        ("STALE-1", "stale chunk STALE-1:item-1:2 not removed: injected: disk broke")
    ]
    # The old fingerprint stays, so the next run tries the letter again...
    assert store.fingerprints()["STALE-1"][1] == "f-STALE-1"
    # ... and then it succeeds and the stale chunks go.
    assert store.upsert([shorter]).indexed == 1
    assert store.fingerprints()["STALE-1"][1] == "f-STALE-1-v2"
    assert chunk_ids_of(store, "STALE-1") == ["STALE-1:item-1:0", "STALE-1:item-1:1"]


def test_delete_removes_chunks_then_records_and_counts_what_existed(store):
    assert store.upsert([letter("DEL-1", chunks=3), letter("DEL-2", chunks=2)]).indexed == 2
    assert store.delete(["DEL-1", "NOT-THERE"]) == 1
    assert chunk_ids_of(store, "DEL-1") == []
    assert store.letter("DEL-1") is None
    assert store.counts() == (1, 2)


def test_a_delete_whose_chunks_cannot_go_keeps_the_letter_and_says_why(store):
    assert store.upsert([letter("KEEP-1", chunks=2)]).indexed == 1
    chunks_index = store._alias_targets(store.alias)[0]
    store.client.indices.put_settings(index=chunks_index, settings={"index.blocks.write": True})
    try:
        with pytest.raises(StoreError) as caught:
            store.delete(["KEEP-1"])
    finally:
        store.client.indices.put_settings(
            index=chunks_index, settings={"index.blocks.write": False}
        )
    message = str(caught.value)
    assert message.startswith(
        f"Elasticsearch at {store.url} failed deleting 2 chunks from {store.alias} (first: "
    )
    assert "cluster_block_exception" in message
    assert message.endswith("; their letters are kept")
    assert store.letter("KEEP-1") is not None
    assert store.delete(["KEEP-1"]) == 1


def test_dropping_indices_with_one_already_gone_drops_the_others(store):
    store.ensure_index()
    gen = store.create_generation()
    gone = f"{store.alias}-20000101t000000000000z"
    assert store.drop_indices([gen.chunks_index, gone, gen.letters_index]) == [
        gen.chunks_index,
        gone,
        gen.letters_index,
    ]
    assert not store.client.indices.exists(index=gen.chunks_index)
    assert not store.client.indices.exists(index=gen.letters_index)


def test_several_urls_with_one_dead_still_answer():
    url = ES_URL
    if not url:
        elasticsearch_store()  # skips, or fails when IMR_SEARCH_REQUIRE_ES is set
    env = {"ELASTICSEARCH_URL": f"http://127.0.0.1:9,{url}", "IMR_SEARCH_ES_INDEX": "imr-live-x"}
    store = ElasticsearchStore.from_env(env, index=f"imr-live-{uuid.uuid4().hex[:12]}")
    try:
        assert store.counts() == (0, 0)
        assert store.server_version() >= MIN_VERSION
    finally:
        store.close()


def test_synonyms_match_without_reindexing(store):
    assert store.upsert([letter("SYN-1", name="diazepam")]).indexed == 1
    hits, _ = store.keyword(parse_query("Valium"), Filters(), 10)
    assert [h.letter_id for h in hits] == ["SYN-1"]
    store.complete(hits)
    assert store.highlight(parse_query("Valium"), hits) == {
        "SYN-1:item-1:0": [
            "The request for <mark>diazepam</mark> is not medically necessary. Passage 0."
        ]
    }
