"""The page's link URLs, built from pre-encoded parts for speed, equal the URLs of the states
they stand for, built the plain way (`search_url` of the toggled or narrowed request)."""

from __future__ import annotations

from dataclasses import replace

from hypothesis import given, settings
from hypothesis import strategies as st

from indexer.schema import facet_names
from indexer.search import FacetValue, SearchRequest, SearchResult
from webapp import presenters

FACETS = facet_names()
VALUES = st.sampled_from(["upheld", "overturned", "Norco", "a&b=c", "café", "x y", "100%"])
DATES = st.none() | st.sampled_from(["2019-01-01", "2020-06-30"])

requests = st.builds(
    SearchRequest,
    q=st.sampled_from(["", "valium back", "MRI & CT", "déjà vu +x"]),
    mode=st.sampled_from(["hybrid", "keyword", "semantic"]),
    filters=st.lists(
        st.tuples(st.sampled_from(FACETS), st.lists(VALUES, min_size=1, max_size=3, unique=True)),
        max_size=3,
        unique_by=lambda p: p[0],
    ).map(lambda fs: tuple((f, tuple(v)) for f, v in fs)),
    decision_from=DATES,
    injury_to=DATES,
    sort=st.sampled_from(["relevance", "newest"]),
    page=st.integers(1, 3),
    per_page=st.sampled_from([10, 25]),
)


@settings(max_examples=300, deadline=None)
@given(requests, st.sampled_from(FACETS), VALUES)
def test_facet_toggle_urls_equal_the_toggled_requests_urls(request, facet, value):
    toggles = presenters._Toggles(request)
    assert toggles.url(facet, value) == presenters.search_url(
        presenters.toggled(request, facet, value)
    )


@settings(max_examples=100, deadline=None)
@given(requests)
def test_histogram_bar_urls_equal_the_narrowed_requests_urls(request):
    histogram = {"2019-02": 3, "2020-12": 7}
    result = SearchResult(request, [], 10, {}, histogram, 1.0)
    bars = presenters.histogram(result)
    assert [b.url for b in bars] == [
        presenters.search_url(
            request, decision_from="2019-02-01", decision_to="2019-02-28", page=1
        ),
        presenters.search_url(
            request, decision_from="2020-12-01", decision_to="2020-12-31", page=1
        ),
    ]
    assert [(b.label, b.count, b.css) for b in bars] == [
        ("2019-02", 3, "h4"),
        ("2020-12", 7, "h10"),
    ]


def test_a_long_span_of_months_is_shown_by_quarter_and_a_longer_by_year():
    request = SearchRequest(q="mri")
    # 2019-02 .. 2022-11: 46 months, more than 40 bars: by quarter.
    months = {"2019-02": 3, "2019-03": 2, "2019-04": 1, "2022-11": 12}
    bars = presenters.histogram(SearchResult(request, [], 18, {}, months, 1.0))
    assert [(b.label, b.count, b.css, b.url) for b in bars] == [
        ("2019 Q1", 5, "h4", "/?q=mri&decision_from=2019-01-01&decision_to=2019-03-31"),
        ("2019 Q2", 1, "h1", "/?q=mri&decision_from=2019-04-01&decision_to=2019-06-30"),
        ("2022 Q4", 12, "h10", "/?q=mri&decision_from=2022-10-01&decision_to=2022-12-31"),
    ]
    # 2012-02 .. 2024-02: 145 months, more than 40 quarters: by year.
    months = {"2012-02": 1, "2012-12": 1, "2016-02": 4, "2024-02": 8}
    narrowed = replace(request, decision_from="2016-01-01", decision_to="2016-12-31")
    bars = presenters.histogram(SearchResult(narrowed, [], 14, {}, months, 1.0))
    assert [(b.label, b.count, b.selected, b.url) for b in bars] == [
        ("2012", 2, False, "/?q=mri&decision_from=2012-01-01&decision_to=2012-12-31"),
        ("2016", 4, True, "/?q=mri&decision_from=2016-01-01&decision_to=2016-12-31"),
        ("2024", 8, False, "/?q=mri&decision_from=2024-01-01&decision_to=2024-12-31"),
    ]
    # 40 months fit as months.
    months = {"2019-01": 1, "2022-04": 1}
    bars = presenters.histogram(SearchResult(request, [], 2, {}, months, 1.0))
    assert [b.label for b in bars] == ["2019-01", "2022-04"]


def test_a_literal_toggle_url():
    request = SearchRequest(q="valium", filters=(("decision", ("upheld",)),), page=3)
    toggles = presenters._Toggles(request)
    assert toggles.url("decision", "overturned") == "/?q=valium&decision=upheld&decision=overturned"
    assert toggles.url("decision", "upheld") == "/?q=valium"
    assert toggles.url("treatment_class", "opioid") == (
        "/?q=valium&decision=upheld&treatment_class=opioid"
    )
    facet = {"decision": [FacetValue("upheld", 4, True)]}
    result = SearchResult(request, [], 4, facet, {}, 1.0)
    assert [(v.label, v.url, v.selected) for v in presenters.facet_blocks(result)[0].values] == [
        ("upheld", "/?q=valium", True)
    ]


def test_facet_items_are_toggle_links_with_counts_and_escaped_text():
    from webapp.presenters import Link, facet_items

    html = facet_items(
        [
            Link("upheld", "/?q=a&decision=upheld", True, 12),
            Link('<b>"x" & y</b>', "/?q=a&v=%3Cb%3E", False, 3),
        ]
    )
    assert html == (
        '<li><a href="/?q=a&amp;decision=upheld" class="selected" aria-pressed="true">'
        '<span class="value">upheld</span> <span class="count">12</span></a></li>'
        '<li><a href="/?q=a&amp;v=%3Cb%3E" aria-pressed="false">'
        '<span class="value">&lt;b&gt;&#34;x&#34; &amp; y&lt;/b&gt;</span> '
        '<span class="count">3</span></a></li>'
    )
    assert facet_items([]) == ""


def test_toggle_urls_need_only_their_ampersands_escaped_in_an_attribute():
    from markupsafe import escape

    from webapp.presenters import _Toggles, _url_attribute

    request = SearchRequest(
        q='say "no" <b> & it\'s 50% off',
        mode="semantic",
        filters=(("treatment_name", ("a&b", '"q"')),),
        decision_from="2020-01-01",
        page=3,
    )
    toggles = _Toggles(request)
    for value in ("a&b", "<x> 'y'", "upheld", "é & ü"):
        url = toggles.url("treatment_name", value)
        assert _url_attribute(url) == str(escape(url))
    assert toggles.url("decision", "<x> 'y'") == (
        "/?q=say+%22no%22+%3Cb%3E+%26+it%27s+50%25+off&mode=semantic&treatment_name=a%26b"
        "&treatment_name=%22q%22&decision=%3Cx%3E+%27y%27&decision_from=2020-01-01"
    )
