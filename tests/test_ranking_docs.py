"""The embedded store ranks from in-memory columns and reads only the documents it shows.

`keyword` and `knn` return each hit's ranking fields from the columns (`PartialDoc`);
`complete` reads the whole documents. These tests hold the columns' fields to the stored
documents for every chunk of the samples, and check the filter masks that kNN and counting share.
"""

from __future__ import annotations

import numpy as np
import orjson
import pytest

from indexer.query_text import parse_query
from indexer.stores.base import RANKING_FIELDS, TOPIC_FIELDS, Filters, PartialDoc


@pytest.fixture(scope="module")
def store(web_service):
    return web_service.store


def _stored_docs(store) -> dict[str, dict]:
    rows = store._db.execute("SELECT chunk_id, doc FROM chunks")
    return {chunk_id: orjson.loads(doc) for chunk_id, doc in rows}


def test_every_chunks_ranking_fields_equal_its_stored_document(store):
    cols = store._cols()
    stored = _stored_docs(store)
    assert len(stored) == len(cols.rows) == 273
    lights = cols.ranking_docs(list(range(len(cols.rows))))
    assert [d["chunk_id"] for d in lights] == cols.chunk_ids
    for light in lights:
        doc = stored[light["chunk_id"]]
        expected = {f: doc[f] for f in RANKING_FIELDS}
        # A summary's decisions, treatments and regions are the sets of its letter's items'
        # values; their order is not kept.
        unordered = ("decision", *TOPIC_FIELDS)
        assert {**light, **{f: sorted(light[f]) for f in unordered}} == {
            **expected,
            **{f: sorted(expected[f]) for f in unordered},
        }


def test_chunks_with_several_decisions_have_them_all(store):
    cols = store._cols()
    several = {
        cols.chunk_ids[p]: sorted(cols.values_at("decision", p))
        for p in range(len(cols.rows))
        if len(cols.values_at("decision", p)) > 1
    }
    assert len(several) == 10
    assert several["CM16-0235991:summary:0"] == ["overturned", "upheld"]
    assert all(v == ["overturned", "upheld"] for v in several.values())


def test_hits_hold_ranking_fields_until_completed(store):
    hits, total = store.keyword(parse_query("valium"), Filters(), 40)
    assert total == 14  # tantivy lists 14 chunks for "valium" (with its synonym diazepam)
    assert len(hits) == 14
    # None is read or highlighted yet: the search completes and highlights those it shows.
    assert {type(h.doc) for h in hits} == {PartialDoc}
    assert [h.highlights for h in hits] == [[]] * 14
    assert set(hits[0].doc) == set(RANKING_FIELDS)
    with pytest.raises(KeyError, match="'text' is not loaded"):
        hits[0].doc.get("text")
    shown = hits[:3]
    fragments = store.highlight(parse_query("valium"), shown)
    assert sorted(fragments) == sorted(h.chunk_id for h in shown)
    assert all("<mark>" in f[0] for f in fragments.values())
    stored = _stored_docs(store)
    assert [h.doc for h in shown] == [stored[h.chunk_id] for h in shown]
    assert {type(h.doc) for h in hits[3:]} == {PartialDoc}
    store.complete(hits)
    assert [h.doc for h in hits] == [stored[h.chunk_id] for h in hits]


def test_knn_hits_complete_to_the_stored_documents(store):
    probe = store.letter_chunks("CM15-0022402")[0]
    hits = store.knn(np.asarray(probe["embedding"], np.float32), Filters(), 3)
    assert hits[0].chunk_id == probe["chunk_id"]
    assert hits[0].doc == {f: probe[f] for f in RANKING_FIELDS}
    assert cols_doc(store, probe["chunk_id"]) == hits[0].doc
    store.complete(hits)
    assert hits[0].doc == {k: v for k, v in probe.items() if k != "embedding"}


def cols_doc(store, chunk_id: str):
    cols = store._cols()
    (doc,) = cols.ranking_docs([cols.chunk_position[chunk_id]])
    return doc


def test_letter_chunks_without_embeddings(store):
    with_vectors = store.letter_chunks("CM15-0022402")
    without = store.letter_chunks("CM15-0022402", embeddings=False)
    assert [c["chunk_id"] for c in without] == [c["chunk_id"] for c in with_vectors]
    assert without == [{k: v for k, v in c.items() if k != "embedding"} for c in with_vectors]


def test_filter_masks_are_shared_and_read_only(store):
    cols = store._cols()
    filters = Filters(exclude_letter_ids=("CM15-0022402",), section="item")
    mask = cols.select_mask(filters)
    assert cols.select_mask(filters) is mask
    assert not mask.flags.writeable
    own = np.flatnonzero(np.asarray(cols.letter_ids)[cols.letter_index] == "CM15-0022402")
    assert len(own) == 2
    assert not mask[own].any()
    assert int(mask.sum()) == int(cols.section_item.sum()) - int(cols.section_item[own].sum())
