"""The search contract, run on every back end over the bundled sample letters.

Expected values were worked out from the letters themselves: e.g. the two seed letters with a
Klonopin item, the six benzodiazepine items (seeds 000 x2, 001, 002, 003, 004), the five opioid
items of the dev letters (Ultram, Norco #35, Oxycodone ER, Post-op Percocet, Norco 5/325: one
overturned). Embedded always; Elasticsearch when ELASTICSEARCH_URL is set.
"""

from __future__ import annotations

import re

import pytest

from indexer.search import SearchError, SearchRequest, SearchService, wilson_interval

from .conftest import elasticsearch_store, index_samples

SEED_KLONOPIN = {"L-96b58c07c53b0b00", "L-8bfe781363af6ef1"}  # seeds 000 and 001
BENZODIAZEPINE_LETTERS = {
    "L-96b58c07c53b0b00",
    "L-8bfe781363af6ef1",
    "L-f79e6a4b89368566",
    "L-bbc98e8f584ae533",
    "CM15-0022402",
}


@pytest.fixture(scope="module", params=["embedded", "elasticsearch"])
def service(request, tmp_path_factory, embedder):
    if request.param == "embedded":
        from indexer.stores.embedded import EmbeddedStore

        store = EmbeddedStore(tmp_path_factory.mktemp("contract"))
    else:
        store = elasticsearch_store()
    index_samples(store, embedder)
    yield SearchService(store, lambda: embedder)
    if request.param == "elasticsearch":
        store.drop_all()
    store.close()


def search(service, **params):
    return service.search(SearchRequest.from_params(params))


def letter_ids(result):
    return [h.letter_id for h in result.hits]


def facet(result, name):
    return {v.value: v.count for v in result.facets[name]}


def test_counts_of_the_samples(service):
    assert service.store.counts() == (55, 271)


def test_keyword_exact_hits_and_order(service):
    result = search(service, q="Klonopin", mode="keyword")
    assert result.total == 2
    # Seed 001 is all about Klonopin; seed 000 has a Klonopin item beside a Valium one.
    assert letter_ids(result) == ["L-8bfe781363af6ef1", "L-96b58c07c53b0b00"]
    assert [c.doc["item_id"] for c in result.hits[0].chunks] == ["L-8bfe781363af6ef1:item-1", None]


def test_brand_and_generic_names_match_each_other_in_keyword_mode(service):
    valium = search(service, q="valium", mode="keyword", per_page="20")
    diazepam = search(service, q="diazepam", mode="keyword", per_page="20")
    expected = {*BENZODIAZEPINE_LETTERS - {"L-8bfe781363af6ef1"}, "CM16-0235991"}
    assert set(letter_ids(valium)) == set(letter_ids(diazepam)) == expected
    # Seed 002 says only "Diazepam" in its item, seed 003 only "Valium".
    assert "L-f79e6a4b89368566" in letter_ids(valium)[:2]
    assert "L-bbc98e8f584ae533" in letter_ids(diazepam)[:2]


def test_facet_counts_are_letters_and_exact(service):
    result = search(service, q="MRI", mode="keyword", per_page="30")
    assert result.total == 27
    assert facet(result, "decision") == {"upheld": 24, "overturned": 6}
    assert facet(result, "treatment_category") == {
        "imaging": 23,
        "medication": 6,
        "therapy": 5,
        "procedure": 3,
        "equipment": 2,
        "other": 2,
    }
    assert facet(result, "decision_year") == {"2017": 26}


def test_filters_and_disjunctive_counts(service):
    result = search(service, q="MRI", mode="keyword", decision="overturned", per_page="30")
    assert set(letter_ids(result)) == {
        "CM16-0246624",
        "CM16-0240434",
        "CM16-0235724",
        "CM16-0235991",
        "CM16-0242419",
        "CM16-0247802",
    }
    # The decision facet ignores its own filter: the user sees what "upheld" would give.
    assert [(v.value, v.count, v.selected) for v in result.facets["decision"]] == [
        ("upheld", 24, False),
        ("overturned", 6, True),
    ]
    assert facet(result, "treatment_category") == {
        "imaging": 5,
        "medication": 1,
        "other": 1,
        "procedure": 1,
        "therapy": 1,
    }
    both = search(
        service, q="MRI", mode="keyword", decision="overturned", treatment_category="imaging"
    )
    assert set(letter_ids(both)) == {
        "CM16-0246624",
        "CM16-0240434",
        "CM16-0235724",
        "CM16-0235991",
        "CM16-0242419",
    }


def test_values_of_one_facet_are_ored(service):
    result = search(service, q="", treatment_class=["benzodiazepine", "opioid"], per_page="50")
    # 5 seed letters with a benzodiazepine item; 5 dev letters with an opioid item (CM16-0230651,
    # -0234202, -0239110, -0246487, -0247802).
    assert result.total == 10


def test_date_range_and_histogram(service):
    result = search(service, q="", decision_from="2017-02-01", per_page="30")
    assert result.total == 8
    assert all(h.doc["decision_date"] >= "2017-02-01" for h in result.hits)
    # The histogram ignores the date range it would otherwise be cut to.
    assert result.histogram == {"2015-03": 1, "2016-12": 3, "2017-01": 39, "2017-02": 8}
    assert search(service, q="", decision_from="2015-01-01", decision_to="2015-12-31").total == 1
    # Injured on or after 1 Nov 2016: CM16-0240434, -0245466, -0246624, -0247802, -0248655, -0249320.
    assert search(service, q="", injury_from="2016-11-01").total == 6


def test_results_are_grouped_by_letter(service):
    result = search(service, q="physical therapy", mode="hybrid", per_page="30")
    ids = letter_ids(result)
    assert len(ids) == len(set(ids)) == 30
    for hit in result.hits:
        units = [c.doc["item_id"] or c.doc["section"] for c in hit.chunks]
        assert 1 <= len(hit.chunks) <= 3 and len(units) == len(set(units))
        assert all(c.letter_id == hit.letter_id for c in hit.chunks)


def test_highlights_mark_query_words_and_escape_letter_text(service):
    result = search(service, q="manipulation", mode="keyword")
    fragments = [f for h in result.hits for c in h.chunks for f in c.highlights]
    assert any("<mark>manipulation</mark>" in f.lower() for f in fragments)
    # "Manual therapy & manipulation" is letter text: its & must come escaped.
    assert any("&amp;" in f for f in fragments)
    for f in fragments:
        assert re.sub(r"</?mark>", "", f).count("<") == 0


def test_semantic_finds_benzodiazepines_without_shared_words(service):
    result = search(service, q="anti-anxiety pills", mode="semantic")
    top = letter_ids(result)[:10]
    assert set(top) >= BENZODIAZEPINE_LETTERS
    assert "benzodiazepine" not in "anti-anxiety pills"


def test_hybrid_puts_items_that_match_both_ways_first(service):
    result = search(service, q="Klonopin for anxiety", mode="hybrid")
    assert set(letter_ids(result)[:2]) == SEED_KLONOPIN


def test_query_by_pasted_document(service):
    text = (
        "Utilization review determination. The request for Klonopin 1 mg #60 is non-certified. "
        "Benzodiazepines are not recommended for long-term use because long-term efficacy is "
        "unproven and there is a risk of dependence. Most guidelines limit use to 4 weeks. "
    ) * 12
    result = search(service, q=text, mode="hybrid")
    assert set(letter_ids(result)[:2]) == SEED_KLONOPIN


def test_similar_items_with_explanations(service):
    hits = service.similar("CM16-0232543:item-1", k=3)  # Norflex 100mg #60, upheld
    assert [h.item_id for h in hits][0] == "CM16-0247802:item-2"  # Orphenadrine ER 100mg #30
    assert hits[0].shared["treatment_name"] == ["orphenadrine"]
    assert hits[0].shared["decision"] == ["upheld"]
    assert all(h.letter_id != "CM16-0232543" for h in hits)
    assert hits[0].explanation.startswith(
        "same treatment: orphenadrine; same treatment class: muscle relaxant"
    )


def test_similar_letters_exclude_the_source(service):
    hits = service.similar("L-8bfe781363af6ef1", k=5)
    assert "L-8bfe781363af6ef1" not in [h.letter_id for h in hits]
    assert hits[0].letter_id in BENZODIAZEPINE_LETTERS
    assert "benzodiazepine" in hits[0].shared["treatment_class"]
    with pytest.raises(SearchError, match="no letter 'NOPE'"):
        service.similar("NOPE")


def test_stats_checked_by_hand(service):
    rows = {r.value: r for r in service.stats(SearchRequest(), "treatment_class")}
    assert (rows["benzodiazepine"].upheld, rows["benzodiazepine"].overturned) == (6, 0)
    opioid = rows["opioid"]
    assert (opioid.upheld, opioid.overturned, opioid.total) == (4, 1, 5)
    assert opioid.overturn_rate == 0.2
    low, high = opioid.interval
    assert (round(low, 4), round(high, 4)) == (0.0362, 0.6245)
    decisions = {
        r.value: (r.upheld, r.overturned) for r in service.stats(SearchRequest(), "decision")
    }
    assert decisions == {"upheld": (107, 0), "overturned": (0, 15)}


def test_stats_follow_the_query_and_filters(service):
    rows = service.stats(
        SearchRequest.from_params({"q": "", "treatment_category": "imaging"}), "treatment_name"
    )
    assert {r.value: (r.upheld, r.overturned) for r in rows} == {
        # 24 MRI items (3 overturned: CM16-0246624, -0240434, -0235724), 4 x-rays (3 in
        # CM16-0232543, the chest x-ray of CM16-0238035) and 2 CT scans (CM16-0236380).
        "mri": (21, 3),
        "x-ray": (4, 0),
        "ct scan": (2, 0),
    }


def test_stop_words_match_the_same_chunks_on_both_back_ends(service):
    # Required stop words: no chunk holds them; optional ones alone: nothing to match; excluded
    # ones exclude nothing (the same chunks as the query without them).
    from indexer.query_text import parse_query
    from indexer.stores.base import Filters

    def chunks(q):
        hits, _ = service.store.keyword(parse_query(q), Filters(), 500)
        return sorted(h.chunk_id for h in hits)

    assert chunks("+the") == []
    assert chunks('+"to be"') == []
    assert chunks("+the -valium") == []
    assert chunks("the of") == []
    assert chunks("klonopin -the") == chunks("klonopin")
    assert len(chunks("klonopin")) == 9  # the two seed letters: 2 items, 7 summary windows


def test_bad_requests_are_search_errors():
    for params, message in [
        ({"mode": "fuzzy"}, "unknown mode 'fuzzy'"),
        ({"sort": "oldest"}, "unknown sort 'oldest'"),
        ({"decision_from": "2017-13-01"}, "decision_from must be a date as YYYY-MM-DD"),
        ({"page": "0"}, "page must be between 1 and 10000"),
        ({"per_page": "abc"}, "per_page must be a whole number, not 'abc'"),
    ]:
        with pytest.raises(SearchError, match=re.escape(message)):
            SearchRequest.from_params(params)


def test_wilson_interval_reference_values():
    assert wilson_interval(0, 0) == (0.0, 0.0)
    # 15 of 122 overturned: p = 0.1230; centre 0.1345, half-width 0.0585 (worked by hand).
    low, high = wilson_interval(15, 122)
    assert (round(low, 4), round(high, 4)) == (0.0759, 0.193)


def test_everyday_words_for_drug_classes_work_in_keyword_mode(service):
    opioids = {"CM16-0230651", "CM16-0234202", "CM16-0239110", "CM16-0246487", "CM16-0247802"}
    narcotics = search(service, q="narcotic painkillers", mode="keyword")
    assert set(letter_ids(narcotics)[:5]) == opioids
    heartburn = search(service, q="heartburn", mode="keyword")
    # Pepcid (an H2 blocker) and omeprazole (a proton pump inhibitor): no letter says "heartburn".
    assert set(letter_ids(heartburn)) == {"CM16-0232543", "CM16-0245466"}


def test_a_query_about_the_outcome_ranks_that_outcome_first_and_suggests_it(service):
    result = search(service, q="MRI approved on independent review")
    # The three overturned MRI items of the samples (CM16-0246624, -0240434, -0235724).
    assert set(letter_ids(result)[:3]) == {"CM16-0246624", "CM16-0240434", "CM16-0235724"}
    assert [(s.facet, s.value) for s in result.suggestions] == [
        ("decision", "overturned"),
        ("treatment_name", "mri"),
    ]
    # Once the user filters by decision, the query no longer re-ranks by or suggests the outcome.
    filtered = search(service, q="MRI approved on independent review", decision="upheld")
    assert [(s.facet, s.value) for s in filtered.suggestions] == [("treatment_name", "mri")]
    assert all("upheld" in c.doc["decision"] for h in filtered.hits for c in h.chunks)


def test_an_outcome_no_on_topic_item_has_is_said_and_the_topic_still_shown(service):
    result = search(service, q="TENS unit overturned")
    assert result.notes == ["No overturned decisions about TENS unit; showing upheld ones."]
    # The one TENS unit item of the samples (upheld) first, though other letters have
    # overturned items; the outcome stays a suggested filter.
    assert letter_ids(result)[0] == "CM16-0248471"
    assert [(s.facet, s.value) for s in result.suggestions][0] == ("decision", "overturned")


def test_a_topic_with_a_region_and_an_outcome_lists_that_regions_items_first(service):
    result = search(service, q="lumbar MRI approved")
    assert result.notes == ["No overturned decisions about lumbar MRI; showing upheld ones."]
    # The nine lumbar MRI items of the samples, all upheld, above the overturned cervical and
    # knee MRIs (judged in bench/judged/tune.json, j14).
    assert set(letter_ids(result)[:9]) == {
        "CM16-0230651",
        "CM16-0234464",
        "CM16-0236134",
        "CM16-0239479",
        "CM16-0240900",
        "CM16-0242419",
        "CM16-0245295",
        "CM16-0246635",
        "CM16-0247255",
    }


def test_a_named_drug_ranks_the_items_about_it_first(service):
    result = search(service, q="hydrocodone")
    # The two Norco (hydrocodone/acetaminophen) items of the samples.
    assert set(letter_ids(result)[:2]) == {"CM16-0234202", "CM16-0247802"}


def test_letter_shares_count_letters_holding_a_word_with_its_synonyms(service):
    from indexer.query_text import Clause

    shares = service.store.letter_shares(
        [Clause("pain"), Clause("valium"), Clause("physical therapy", phrase=True), Clause("zzzz")]
    )
    # 53 letters say "pain"; 5 name Valium or diazepam; 35 the phrase "physical therapy".
    assert [round(s * 55, 6) for s in shares] == [53, 5, 35, 0]


def test_totals_leave_out_words_most_letters_hold(service):
    # "pain" is in nearly every letter: the total counts letters that say Lyrica, pregabalin or
    # neuropathic, or whose passages are close in meaning.
    assert search(service, q="Lyrica for neuropathic pain").total == 14
    assert search(service, q="Lyrica for neuropathic pain", mode="keyword").total == 5


def test_body_region_facet_and_suggestion(service):
    result = search(service, q="MRI", mode="keyword", body_region="cervical spine", per_page="30")
    with_item = {
        h.letter_id for h in result.hits if any(c.doc["section"] == "item" for c in h.chunks)
    }
    # The seven letters judged relevant to "cervical spine MRI" in the eval set, by their items;
    # two more letters mention an MRI and the neck in their case summaries only.
    assert with_item == {
        "CM16-0224814",
        "CM16-0234464",
        "CM16-0235724",
        "CM16-0235991",
        "CM16-0239607",
        "CM16-0245128",
        "CM16-0246624",
    }
    assert result.total == 9
    for hit in result.hits:
        assert all("cervical spine" in c.doc["body_region"] for c in hit.chunks)
    suggested = search(service, q="cervical spine MRI").suggestions
    assert [(s.facet, s.value) for s in suggested] == [
        ("treatment_name", "mri"),
        ("body_region", "cervical spine"),
    ]


@pytest.mark.parametrize(
    "params",
    [
        {},
        {"decision": "upheld"},
        {"q": "klonopin", "mode": "keyword"},
        {"q": "klonopin -seizure", "mode": "keyword", "sort": "newest"},
        {"q": "-klonopin", "mode": "keyword"},
        {"q": "the of", "mode": "keyword"},
        {"q": "klonopin", "mode": "hybrid"},
        {"q": "klonopin", "mode": "semantic"},
    ],
)
def test_the_scope_counted_during_ranking_is_the_ranked_scope(service, params):
    # Keyword and browsing searches count their scope while ranking; it must be the same scope.
    request = SearchRequest.from_params(params)
    filters = request.store_filters()
    intent, parsed, long_text = service._understand(request)
    ranking = service._rank(request, intent, parsed, long_text, filters)
    query, scope_filters = ranking.query, ranking.filters
    known = service._scope_before_ranking(request, parsed, long_text, filters)
    if request.q and request.mode != "keyword":
        assert known is None
    else:
        assert known == (query, scope_filters)


@pytest.mark.parametrize(
    "params",
    [
        {},
        {"q": "klonopin", "mode": "keyword", "decision": "upheld"},
        {"q": "lumbar MRI", "mode": "hybrid"},
    ],
)
def test_a_busy_machine_counts_in_the_searchs_own_thread_with_the_same_result(
    service, params, monkeypatch
):
    import indexer.search
    import indexer.stores.embedded

    def summary(result):
        return (
            result.total,
            {
                name: [(v.value, v.count, v.selected) for v in vs]
                for name, vs in result.facets.items()
            },
            result.histogram,
            [(h.letter_id, [c.chunk_id for c in h.chunks]) for h in result.hits],
        )

    monkeypatch.setattr(indexer.search, "spare_core", lambda: True)
    monkeypatch.setattr(indexer.stores.embedded, "spare_core", lambda: True)
    on_pools = summary(search(service, **params))
    monkeypatch.setattr(indexer.search, "spare_core", lambda: False)
    monkeypatch.setattr(indexer.stores.embedded, "spare_core", lambda: False)
    in_thread = summary(search(service, **params))
    assert in_thread == on_pools
    assert in_thread[0] > 0


def test_stats_for_several_groupings_rank_the_search_once(service, monkeypatch):
    request = SearchRequest.from_params({"q": "lumbar mri"})
    rankings = []
    keyword = service.store.keyword
    monkeypatch.setattr(
        service.store, "keyword", lambda *a, **kw: rankings.append(a) or keyword(*a, **kw)
    )
    tables = service.stats_by(request, ["decision", "treatment_category"])
    assert len(rankings) == 1
    # Items of the letters that say "lumbar" or "MRI", or are close in meaning to it.
    assert {r.value: (r.upheld, r.overturned) for r in tables["decision"]} == {
        "upheld": (35, 0),
        "overturned": (0, 5),
    }
    assert {r.value: (r.upheld, r.overturned) for r in tables["treatment_category"]} == {
        "imaging": (22, 3),
        "therapy": (5, 1),
        "procedure": (3, 0),
        "equipment": (2, 0),
        "medication": (2, 0),
        "other": (1, 1),
    }
    monkeypatch.undo()
    assert tables == {
        "decision": service.stats(request, "decision"),
        "treatment_category": service.stats(request, "treatment_category"),
    }
    with pytest.raises(SearchError, match="cannot group by 'colour'"):
        service.stats_by(request, ["decision", "colour"])
