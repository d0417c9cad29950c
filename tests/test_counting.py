"""The embedded store's own match sets and letter counts agree exactly with tantivy's answers.

`counting.py` answers "which chunks match" from numpy postings and counts letters per facet value
by units; these tests compare both with the slow, obviously right way: tantivy listing every
matching chunk, then distinct letters per value among those chunks.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from indexer.query_text import parse_query
from indexer.schema import facet_names
from indexer.stores import embedded
from indexer.stores.analysis import analyze
from indexer.stores.base import Filters
from indexer.stores.counting import query_mask

WORDS = [
    "valium", "diazepam", "norco", "mri", "lumbar", "spine", "therapy", "physical", "the",
    "chiropractic", "tramadol", "knee", "shoulder", "injection", "epidural", "guidelines",
    "odg", "mtus", "upheld", "cream", "topical", "sleep", "zzzunknown", "back", "pain",
    "soma", "acupuncture", "12", "opioids", "weaning",
]  # fmt: skip


@pytest.fixture(scope="module")
def store(web_service):
    return web_service.store


def _tantivy_positions(store, query) -> np.ndarray:
    cols = store._cols()
    return cols.positions_of(store._text.all_rows(query))


def _slow_counts(cols, positions, facet):
    return cols.count_letters_by(facet, positions)


@pytest.mark.parametrize(
    "q",
    [
        "valium",
        "valium low back pain",
        "+mri +lumbar",
        "therapy -chiropractic",
        "-mri",
        "norco OR percocet",
        "the",
        "+the mri",
        "zzzunknown",
        "Soma",
        "to be",
        "-the",
        "to be -valium",
        "valium -the",
    ],
)
def test_mask_equals_tantivy_match_set(store, q):
    cols = store._cols()
    query = parse_query(q)
    mask = query_mask(query, cols.terms, len(cols.rows), analyze)
    if q == "+the mri":
        assert mask is None  # a required stop word is left to tantivy
        return
    assert mask is not None
    assert np.flatnonzero(mask).tolist() == _tantivy_positions(store, query).tolist()


def test_phrases_and_split_words_are_left_to_tantivy(store):
    cols = store._cols()
    for q in ['"low back pain"', "x.ray", "+mri x.ray"]:
        assert query_mask(parse_query(q), cols.terms, len(cols.rows), analyze) is None, q


def test_known_counts_on_the_samples(store):
    # Literal figures for the 55 samples plus the XSS letter: 56 letters in all.
    assert store.count_letters(None, Filters()) == 56
    # Five letters mention Valium (or diazepam); one of them also has an overturned item, and
    # its summary chunk, which matches, carries every item's decision.
    assert store.count_letters(parse_query("valium"), Filters()) == 5
    counts = store.facet_counts(parse_query("valium"), Filters(), ["decision"])["decision"]
    assert counts == {"upheld": 5, "overturned": 1}


@settings(
    max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    words=st.lists(
        st.tuples(st.sampled_from(["", "+", "-"]), st.sampled_from(WORDS)), min_size=1, max_size=4
    ),
    facet_filter=st.sampled_from([None, ("decision", ("overturned",)), ("section", None)]),
)
@pytest.mark.parametrize("path", ["dense", "sparse"])
def test_counts_equal_the_slow_way(store, words, facet_filter, path, monkeypatch):
    # The samples are small enough for every match set to count as few: force each path.
    monkeypatch.setattr(embedded, "SPARSE_MAX", 0 if path == "dense" else 10**9)
    monkeypatch.setattr(embedded, "SPARSE_SHARE", 10**9 if path == "dense" else 1)
    q = " ".join(sign + word for sign, word in words)
    query = parse_query(q)
    filters = Filters()
    if facet_filter and facet_filter[0] == "section":
        filters = Filters(section="item")
    elif facet_filter:
        filters = Filters(terms=(facet_filter,))
    cols = store._cols()
    allowed = cols.select(filters)
    positions = _tantivy_positions(store, query)
    if allowed is not None:
        positions = np.intersect1d(positions, allowed)
    store._matches.clear()
    assert store.count_letters(query, filters) == len(np.unique(cols.letter_index[positions]))
    got = store.facet_counts(query, filters, [*facet_names(), "decision_month"])
    for facet in (*facet_names(), "decision_month"):
        assert got[facet] == _slow_counts(cols, positions, facet), (q, facet)
