"""The web app through Flask's test client: every route, with exact expected values.

The app runs over the `app` fixture: the 55 bundled sample letters plus the XSS letter
(`tests/fixtures/xss/xss_letter.txt`, id L-7968c6e61a7c319a, the only letter with the word
"zanzibarite"; its one item, "Tramadol <script>...</script> 50mg #60", is an upheld opioid item).
Expected numbers were worked out from the letters and checked against `web_service`, e.g. the two
seed letters with a Klonopin item, the 6 benzodiazepine items (all upheld) and the 6 opioid items
(5 upheld, 1 overturned: the samples' 4 + 1 and the XSS letter's tramadol).
"""

from __future__ import annotations

import csv
import io
import json
import re
from dataclasses import replace
from html.parser import HTMLParser
from urllib.parse import parse_qs, urlencode, urlparse

import pytest

from indexer.schema import facet_names
from indexer.search import SearchRequest, wilson_interval
from webapp.presenters import FACETS_SHOWN

from .conftest import SAMPLES

XSS_ID = "L-7968c6e61a7c319a"
KLONOPIN = ["L-8bfe781363af6ef1", "L-96b58c07c53b0b00"]  # seed 001 first, then seed 000
SEED_IDS = {
    "L-96b58c07c53b0b00",  # 000
    "L-8bfe781363af6ef1",  # 001
    "L-f79e6a4b89368566",  # 002
    "L-bbc98e8f584ae533",  # 003
    "CM15-0022402",  # 004 (has a case number)
}
ALL_IDS = {p.stem for p in (SAMPLES / "dev").glob("*.pdf")} | SEED_IDS | {XSS_ID}
HTMX_TAG = '<script src="/static/vendor/htmx-2.0.11.min.js" defer></script>'
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "frame-ancestors 'none'; base-uri 'self'; form-action 'self'"
)
HX = {"HX-Request": "true"}


# -- a small DOM over the standard library's HTML parser ---------------------------------------

VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "wbr"}


class Element:
    """One element: tag, attributes (in order, as parsed), children (elements and text)."""

    def __init__(self, tag: str, attrs: list[tuple[str, str | None]], parent: Element | None):
        self.tag, self.attr_list, self.parent = tag, attrs, parent
        self.attrs = dict(attrs)
        self.children: list[Element | str] = []

    @property
    def classes(self) -> list[str]:
        return (self.attrs.get("class") or "").split()

    def iter(self):
        yield self
        for child in self.children:
            if isinstance(child, Element):
                yield from child.iter()

    def find_all(self, tag: str | None = None, cls: str | None = None, **attrs: str):
        attrs = {k.replace("_", "-"): v for k, v in attrs.items()}
        return [
            el
            for el in self.iter()
            if (tag is None or el.tag == tag)
            and (cls is None or cls in el.classes)
            and all(el.attrs.get(k) == v for k, v in attrs.items())
        ]

    def find(self, tag: str | None = None, cls: str | None = None, **attrs: str) -> Element:
        found = self.find_all(tag, cls, **attrs)
        assert found, f"no <{tag} class={cls} {attrs}>"
        return found[0]

    @property
    def text(self) -> str:
        return "".join(c if isinstance(c, str) else c.text for c in self.children)

    @property
    def clean_text(self) -> str:
        return " ".join(self.text.split())

    def child_tags(self) -> set[str]:
        return {el.tag for el in self.iter() if el is not self}


class _Builder(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.root = self.current = Element("#root", [], None)

    def handle_starttag(self, tag, attrs):
        element = Element(tag, attrs, self.current)
        self.current.children.append(element)
        if tag not in VOID:
            self.current = element

    def handle_startendtag(self, tag, attrs):
        self.current.children.append(Element(tag, attrs, self.current))

    def handle_endtag(self, tag):
        node = self.current
        while node is not self.root and node.tag != tag:
            node = node.parent
        if node is not self.root:
            self.current = node.parent

    def handle_data(self, data):
        self.current.children.append(data)


def dom(html: str) -> Element:
    builder = _Builder()
    builder.feed(html)
    builder.close()
    return builder.root


# -- helpers -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def client(app):
    return app.test_client()


def get(client, url: str, status: int = 200, headers: dict | None = None):
    response = client.get(url, headers=headers or {})
    assert response.status_code == status, (url, response.status_code, response.text[-500:])
    return response


def state(url: str) -> tuple[str, SearchRequest]:
    """The path of a URL the page emits and the search state its query string encodes."""
    parsed = urlparse(url)
    return parsed.path, SearchRequest.from_params(parse_qs(parsed.query))


def url_of(path: str, params: dict) -> str:
    return f"{path}?{urlencode(params, doseq=True)}" if params else path


def with_filters(request: SearchRequest, filters: dict[str, list[str]], **changes):
    """`request` with these filters (in the schema's facet order, as from_params orders them)."""
    ordered = tuple((f, tuple(filters[f])) for f in facet_names() if filters.get(f))
    return replace(request, filters=ordered, **changes)


def toggled(request: SearchRequest, facet: str, value: str) -> SearchRequest:
    filters = {f: list(v) for f, v in request.filters}
    values = filters.setdefault(facet, [])
    if value in values:
        values.remove(value)
    else:
        values.append(value)
    return with_filters(request, filters, page=1)


def card_ids(page: Element) -> list[str]:
    return [
        urlparse(li.find("h3").find("a").attrs["href"]).path.removeprefix("/letters/")
        for li in page.find_all("li", cls="card")
    ]


def facet_links(page: Element) -> dict[str, list[tuple[str, int, bool, str]]]:
    """facet -> [(value, count, selected, href)] for every value link, shown or under "more"."""
    out = {}
    for section in page.find_all("section", cls="facet"):
        if "data-facet" not in section.attrs:
            continue
        out[section.attrs["data-facet"]] = [
            (
                a.find("span", cls="value").text,
                int(a.find("span", cls="count").text),
                a.attrs.get("aria-pressed") == "true",
                a.attrs["href"],
            )
            for a in section.find_all("a")
            if "all" not in a.parent.attrs.get("class", "").split()
        ]
    return out


def facet_all_links(page: Element) -> dict[str, str]:
    """facet -> the href of its "All N values" link, for facets with too many values to list."""
    return {
        section.attrs["data-facet"]: section.find("li", cls="all").find("a").attrs["href"]
        for section in page.find_all("section", cls="facet")
        if "data-facet" in section.attrs and section.find_all("li", cls="all")
    }


def assert_no_active_content(html: str) -> None:
    """No element the letter text could have smuggled in: the only script is htmx, with a src;
    no iframe, no img other than charts, no event-handler attribute, no javascript: URL."""
    page = dom(html)
    scripts = page.find_all("script")
    for script in scripts:
        assert script.attrs.get("src") and script.text.strip() == "", script.attr_list
    assert html.count("<script") == len(scripts) <= 1
    assert not page.find_all("iframe") and not page.find_all("object")
    for el in page.iter():
        for name, value in el.attr_list:
            assert not name.startswith("on"), (el.tag, name, value)
            assert not (value or "").strip().lower().startswith("javascript:"), (el.tag, value)
        if el.tag == "img":
            assert el.attrs["src"].startswith("/stats/"), el.attr_list
    for raw in ("<img src=x", "<iframe", "<b onmouseover", 'onerror="alert', "<script>"):
        assert raw not in html


def assert_security_headers(response) -> None:
    headers = response.headers
    assert "script-src 'self'" in headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in headers["Content-Security-Policy"]
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Referrer-Policy"] == "same-origin"
    assert headers["X-Frame-Options"] == "DENY"


# -- 1. one URL, two renders -------------------------------------------------------------------


def test_one_url_renders_the_full_page_or_the_results_partial(client):
    url = "/?q=klonopin&mode=keyword"
    full = get(client, url)
    partial = get(client, url, headers=HX)
    restore = get(client, url, headers={**HX, "HX-History-Restore-Request": "true"})

    page = dom(full.text)
    assert full.text.startswith("<!doctype html>") and "<html" in full.text
    form = page.find(id="search")
    assert form.tag == "form" and form.attrs["action"] == "/" and form.attrs["method"] == "get"
    assert form.attrs["hx-get"] == "/" and form.attrs["hx-target"] == "#results"
    assert page.find("input", id="q").attrs["value"] == "klonopin"
    assert [
        i.attrs["value"] for i in page.find_all("input", type="radio") if "checked" in i.attrs
    ] == ["keyword"]
    assert "selected" in page.find("option", value="relevance").attrs
    # The full page includes the results.
    results = page.find("div", id="results")
    assert card_ids(results) == KLONOPIN
    assert results.find("strong", cls="total").text == "2"

    assert "<html" not in partial.text and "<form" not in partial.text
    assert "<head" not in partial.text and "<body" not in partial.text
    assert card_ids(dom(partial.text)) == KLONOPIN
    # The partial is exactly what the page puts in #results (timing aside).
    took = re.compile(r'<span class="took">\(\d+ ms\)</span>')
    assert took.sub("", partial.text).strip() in took.sub("", full.text)

    # htmx restoring history after a cache miss needs the whole page.
    assert "<html" in restore.text and '<form id="search"' in restore.text
    assert card_ids(dom(restore.text)) == KLONOPIN

    for response in (full, partial, restore):
        assert response.headers["Vary"] == "HX-Request"
        assert response.mimetype == "text/html"
    for url in ("/", "/?q=mri&mode=semantic", "/?page=2", "/?q=valium"):
        assert get(client, url).headers["Vary"] == "HX-Request"
        assert get(client, url, headers=HX).headers["Vary"] == "HX-Request"


def test_boosted_links_in_the_results_lead_only_to_searches(client):
    # htmx swaps a boosted link's answer into #results: only the search URL answers with the
    # results partial; any other page would be nested whole inside the search page.
    for url in ("/?q=valium+low+back+pain&decision=upheld&page=2", "/?q=zzzqqq&decision=upheld"):
        partial = dom(get(client, url, headers=HX).text)
        links = partial.find_all("a")
        boosted = [
            a.attrs["href"]
            for a in links
            if a.attrs.get("hx-boost") != "false" and "hx-get" not in a.attrs
        ]
        assert boosted and all(urlparse(h).path == "/" for h in boosted), boosted
    tools = dom(get(client, "/?q=valium", headers=HX).text).find("p", cls="tools")
    assert [(a.text, a.attrs["href"], a.attrs.get("hx-boost")) for a in tools.find_all("a")] == [
        ("Statistics", "/stats?q=valium", "false"),
        ("CSV", "/export.csv?q=valium", "false"),
        ("JSON", "/export.json?q=valium", "false"),
    ]


def test_htmx_errors_are_partials_too(client):
    full = get(client, "/?page=0", 400)
    partial = get(client, "/?page=0", 400, headers=HX)
    assert "<html" in full.text
    assert "<html" not in partial.text
    assert dom(partial.text).find("section", cls="error").find("p").text == (
        "page must be between 1 and 10000"
    )


# -- 2. the URL holds the whole state ------------------------------------------------------------

STATES = {
    "keyword, two facets of two values, dates, newest, page 2": {
        "q": "mri",
        "mode": "keyword",
        "decision": ["upheld", "overturned"],
        "treatment_category": ["imaging", "therapy"],
        "decision_from": "2017-01-01",
        "decision_to": "2017-01-31",
        "sort": "newest",
        "per_page": "5",
        "page": "2",
    },
    "browse with an OR of two classes and a sex": {
        "treatment_class": ["benzodiazepine", "opioid"],
        "patient_sex": ["female"],
    },
    "hybrid phrase and exclusion, injury and decision dates, last page": {
        "q": '"physical therapy" -chiropractic',
        "reviewer_specialty": ["Physical Medicine and Rehabilitation", "Pain Management"],
        "injury_from": "2016-01-01",
        "decision_to": "2017-02-28",
        "page": "2",
    },
    "semantic, awkward characters, no results": {
        "q": 'Café & "x+y" #1 100%',
        "mode": "semantic",
        "guideline_source": ["MTUS"],
        "licensure": ["New York", "California"],
        "decision_from": "2016-12-01",
    },
}
STATE_TOTALS = {
    "keyword, two facets of two values, dates, newest, page 2": 21,
    "browse with an OR of two classes and a sex": 4,
    # 11: the semantic passages that name chiropractic are excluded too, and only passages
    # close in meaning count.
    "hybrid phrase and exclusion, injury and decision dates, last page": 11,
    "semantic, awkward characters, no results": 0,
}

# Facets with more values than the page lists (8 + 12), and how many values they have.
STATE_LONG_FACETS = {
    "keyword, two facets of two values, dates, newest, page 2": {"guideline_section": 21},
    "browse with an OR of two classes and a sex": {},
    # Its 11 letters name fewer than 20 values of any facet.
    "hybrid phrase and exclusion, injury and decision dates, last page": {},
    "semantic, awkward characters, no results": {},
}


@pytest.mark.parametrize("name", list(STATES))
def test_every_link_on_the_page_round_trips_through_the_url(client, web_service, name):
    params = STATES[name]
    req = SearchRequest.from_params(params)
    url = url_of("/", params)
    assert state(url) == ("/", req)
    assert state("/?" + urlencode(req.to_params())) == ("/", req)
    result = web_service.search(req)
    assert result.total == STATE_TOTALS[name]

    response = get(client, url, headers=HX)
    page = dom(response.text)
    assert page.find("strong", cls="total").text == str(result.total)
    assert card_ids(page) == [h.letter_id for h in result.hits]

    # The hidden inputs carry the active filters and dates (q, mode and sort are form fields).
    hidden = [(i.attrs["name"], i.attrs["value"]) for i in page.find_all("input", type="hidden")]
    expected_hidden = [(f, v) for f, values in req.filters for v in values] + [
        (n, getattr(req, n))
        for n in ("decision_from", "decision_to", "injury_from", "injury_to")
        if getattr(req, n)
    ]
    assert hidden == expected_hidden

    # Facet toggles: each adds or removes exactly its value, back to page 1.
    links = facet_links(page)
    all_links = facet_all_links(page)
    assert set(links) == {f for f, values in result.facets.items() if values}
    assert {f: len(result.facets[f]) for f in all_links} == STATE_LONG_FACETS[name]
    for facet, values in links.items():
        expected = [(v.value, v.count, v.selected) for v in result.facets[facet]]
        if facet in all_links:
            # The first values, any selected ones, then a dozen more; the rest a link away.
            head, tail = expected[:FACETS_SHOWN], expected[FACETS_SHOWN:]
            expected = head + [x for x in tail if x[2]] + [x for x in tail if not x[2]][:12]
            assert state(all_links[facet]) == (f"/facets/{facet}", replace(req, page=1))
            everything = dom(get(client, all_links[facet]).text).find("ul", cls="facet-values")
            assert [
                (a.find("span", cls="value").text, state(a.attrs["href"]))
                for a in everything.find_all("a")
            ] == [(v.value, ("/", toggled(req, facet, v.value))) for v in result.facets[facet]]
        assert [(v, n, s) for v, n, s, _ in values] == expected
        for value, _, selected, href in values:
            assert state(href) == ("/", toggled(req, facet, value)), (facet, value)
            assert selected == (value in dict(req.filters).get(facet, ()))

    # Chips: one per filter value and per date, each removes just that one.
    chips = page.find_all("a", cls="chip")
    expected_chips = [(toggled(req, f, v), v) for f, values in req.filters for v in values] + [
        (replace(req, **{n: None, "page": 1}), getattr(req, n))
        for n in ("decision_from", "decision_to", "injury_from", "injury_to")
        if getattr(req, n)
    ]
    assert len(chips) == len(expected_chips)
    for chip, (expected, value) in zip(chips, expected_chips, strict=True):
        assert value in chip.text
        assert state(chip.attrs["href"]) == ("/", expected)
    clear = page.find("a", cls="clear")
    assert state(clear.attrs["href"]) == (
        "/",
        SearchRequest(q=req.q, mode=req.mode, sort=req.sort),
    )

    # Histogram bars narrow the decision date to their month.
    bars = page.find_all("a", cls="bar")
    assert [b.find("span").text for b in bars] == [f"{m}: {n}" for m, n in result.histogram.items()]
    for bar, month in zip(bars, result.histogram, strict=True):
        path, narrowed = state(bar.attrs["href"])
        assert narrowed.decision_from == f"{month}-01"
        assert narrowed.decision_to[:7] == month and int(narrowed.decision_to[8:]) >= 28
        assert (path, narrowed) == (
            "/",
            replace(req, decision_from=f"{month}-01", decision_to=narrowed.decision_to, page=1),
        )
        assert ("selected" in bar.classes) == (req.decision_from == f"{month}-01")

    # Pagination: every number link is this state at that page.
    nav = page.find_all("nav", cls="pages")
    if result.pages > 1:
        numbers = nav[0].find_all("a")
        assert [int(a.text) for a in numbers] == list(range(1, result.pages + 1))
        for a in numbers:
            assert state(a.attrs["href"]) == ("/", replace(req, page=int(a.text)))
            assert (a.attrs.get("aria-current") == "page") == (int(a.text) == req.page)
    else:
        assert nav == []

    # Statistics and exports: the same state from page 1.
    tools = {a.text: a.attrs["href"] for a in page.find("p", cls="tools").find_all("a")}
    assert state(tools["Statistics"]) == ("/stats", replace(req, page=1))
    assert state(tools["CSV"]) == ("/export.csv", replace(req, page=1))
    assert state(tools["JSON"]) == ("/export.json", replace(req, page=1))

    # Result cards link to the letter with the query, for highlighting.
    for card in page.find_all("li", cls="card"):
        href = card.find("h3").find("a").attrs["href"]
        assert parse_qs(urlparse(href).query) == ({"q": [req.q]} if req.q else {})

    # The empty state offers the other modes with everything else kept.
    if not result.hits:
        empty = page.find("div", cls="empty")
        assert "No letters match" in empty.text
        offered = {a.text: a.attrs["href"] for a in empty.find_all("a")}
        others = [m for m in ("hybrid", "keyword", "semantic") if m != req.mode]
        label = {"hybrid": "Try hybrid search", "keyword": "Try keyword search"}
        label["semantic"] = "Try semantic search"
        assert set(offered) == {"Remove the filters", *(label[m] for m in others)}
        for m in others:
            assert state(offered[label[m]]) == ("/", replace(req, mode=m, page=1))
        assert offered["Remove the filters"] == clear.attrs["href"]


def test_the_form_shows_the_state(client):
    params = STATES["keyword, two facets of two values, dates, newest, page 2"]
    page = dom(get(client, url_of("/", params)).text)
    assert page.find("input", id="q").attrs["value"] == "mri"
    checked = [
        i.attrs["value"] for i in page.find_all("input", type="radio") if "checked" in i.attrs
    ]
    assert checked == ["keyword"]
    assert "selected" in page.find("option", value="newest").attrs
    assert "selected" not in page.find("option", value="relevance").attrs
    assert page.find("title").text == "mri · IMR search"


# -- 3. facet toggles --------------------------------------------------------------------------

BROWSE_FIRST_VALUES = {
    "decision": ("upheld", 49),
    "treatment_category": ("imaging", 25),
    "treatment_class": ("advanced imaging", 23),
    "treatment_name": ("mri", 22),
    "body_region": ("lumbar spine", 31),
    "guideline_source": ("MTUS", 49),
    "guideline_section": ("Special Studies", 18),
    "reviewer_specialty": ("Preventive Medicine", 18),
    "licensure": ("California", 34),
    "priority": ("Standard", 51),
    "patient_sex": ("male", 31),
    "age_band": ("30-39", 17),
    "decision_year": ("2017", 47),
}


def test_each_facets_first_value_filters_to_the_count_it_shows(client):
    page = dom(get(client, "/").text)
    assert page.find("strong", cls="total").text == "56"
    links = facet_links(page)
    assert {f: (v[0][0], v[0][1]) for f, v in links.items()} == BROWSE_FIRST_VALUES
    assert [s.attrs["data-facet"] for s in page.find_all("section", cls="facet")[1:]] == list(
        facet_names()
    )
    for facet, values in links.items():
        value, count, selected, href = values[0]
        assert not selected
        assert href == url_of("/", {facet: value})
        assert state(href) == ("/", with_filters(SearchRequest(), {facet: [value]}))
        followed = dom(get(client, href, headers=HX).text)
        assert followed.find("strong", cls="total").text == str(count), facet
        # Now selected, and its link takes the filter off again.
        again = {v: (s, h) for v, _, s, h in facet_links(followed)[facet]}
        assert again[value] == (True, "/")
        chip = followed.find("a", cls="chip")
        assert chip.attrs["href"] == "/"


def test_selected_values_remove_themselves_and_others_add_to_them(client):
    page = dom(get(client, "/?q=MRI&mode=keyword&decision=overturned", headers=HX).text)
    decision = facet_links(page)["decision"]
    # Disjunctive: the decision facet ignores its own filter.
    assert decision == [
        ("upheld", 24, False, "/?q=MRI&mode=keyword&decision=overturned&decision=upheld"),
        ("overturned", 6, True, "/?q=MRI&mode=keyword"),
    ]
    assert page.find("strong", cls="total").text == "6"
    assert {t[0]: t[1] for t in facet_links(page)["treatment_category"]} == {
        "imaging": 5,
        "medication": 1,
        "other": 1,
        "procedure": 1,
        "therapy": 1,
    }
    both = dom(get(client, decision[0][3], headers=HX).text)
    assert both.find("strong", cls="total").text == "27"


def test_clear_all_and_chips(client):
    url = "/?q=MRI&mode=keyword&decision=overturned&treatment_category=imaging&decision_from=2017-01-01"
    page = dom(get(client, url, headers=HX).text)
    assert page.find("strong", cls="total").text == "5"
    clear = page.find("a", cls="clear")
    assert clear.text == "Clear all" and clear.attrs["href"] == "/?q=MRI&mode=keyword"
    cleared = dom(get(client, clear.attrs["href"], headers=HX).text)
    assert cleared.find("strong", cls="total").text == "27"
    assert cleared.find_all("a", cls="chip") == [] and cleared.find_all(cls="clear") == []
    chips = {" ".join(a.text.split()[:-1]): a.attrs["href"] for a in page.find_all("a", cls="chip")}
    assert chips == {
        "Decision: overturned": "/?q=MRI&mode=keyword&treatment_category=imaging&decision_from=2017-01-01",
        "Treatment type: imaging": "/?q=MRI&mode=keyword&decision=overturned&decision_from=2017-01-01",
        "Decided from 2017-01-01": "/?q=MRI&mode=keyword&decision=overturned&treatment_category=imaging",
    }


# -- 4. pagination -----------------------------------------------------------------------------


def test_pagination_links_of_the_first_page(client):
    nav = dom(get(client, "/").text).find("nav", cls="pages")
    items = [(el.text, el.attrs.get("href")) for el in nav.children if isinstance(el, Element)]
    assert items == [
        ("1", "/"),
        ("2", "/?page=2"),
        ("3", "/?page=3"),
        ("…", None),
        ("6", "/?page=6"),
    ]


def test_browsing_page_by_page_shows_every_letter_once(client):
    pages = []
    for n in range(1, 7):
        page = dom(get(client, f"/?page={n}", headers=HX).text)
        assert page.find("strong", cls="total").text == "56"
        pages.append(card_ids(page))
    assert [len(p) for p in pages] == [10, 10, 10, 10, 10, 6]
    every = [i for p in pages for i in p]
    assert len(every) == len(set(every)) == 56
    assert set(every) == ALL_IDS


def test_first_and_last_pages_of_the_browse(client):
    first = card_ids(dom(get(client, "/", headers=HX).text))
    assert first == [
        "CM16-0248655",
        "CM16-0249536",
        "CM16-0249724",
        "CM16-0246635",
        "CM16-0245466",
        "CM16-0248233",
        "CM16-0248471",
        "CM16-0247802",
        "CM16-0246487",
        "CM16-0249735",
    ]
    # Newest first; the letters without a decision date come last.
    last = card_ids(dom(get(client, "/?page=6", headers=HX).text))
    assert last == ["CM15-0022402", XSS_ID, *sorted(SEED_IDS - {"CM15-0022402"})]


def test_out_of_range_and_invalid_pages(client):
    page = dom(get(client, "/?page=99").text)
    assert card_ids(page) == []
    assert page.find("div", cls="empty").clean_text.startswith("No letters match.")
    assert page.find("strong", cls="total").text == "56"
    for bad, message in [
        ("page=0", "page must be between 1 and 10000"),
        ("page=abc", "page must be a whole number, not &#39;abc&#39;"),
        ("page=10001", "page must be between 1 and 10000"),
        ("per_page=101", "per_page must be between 1 and 100"),
    ]:
        response = get(client, f"/?{bad}", 400)
        assert message in response.text and "Traceback" not in response.text


# -- 5. export ---------------------------------------------------------------------------------

KLONOPIN_ROWS = [
    {
        "case_number": "",
        "decision_date": "",
        "request": "Klonopin 1 mg#30 with 1 refill",
        "treatment": "clonazepam",
        "treatment_class": "benzodiazepine",
        "decision": "upheld",
        "guideline": "Decision based on MTUS Chronic Pain Treatment Guidelines Benzodiazepines Page(s): 24.",
        "letter_url": "/letters/L-8bfe781363af6ef1#item-1",
    },
    {
        "case_number": "",
        "decision_date": "",
        "request": "Klonopin 1 mg every night #30 plus one refill (prescribed 8/20/14)",
        "treatment": "clonazepam",
        "treatment_class": "benzodiazepine",
        "decision": "upheld",
        "guideline": "Decision based on MTUS Chronic Pain Treatment Guidelines Benzodiazepines Page(s): 24.",
        "letter_url": "/letters/L-96b58c07c53b0b00#item-2",
    },
]
HEADER = "case_number,decision_date,request,treatment,treatment_class,decision,guideline,letter_url"


def test_export_csv_of_a_known_query(client):
    response = get(client, "/export.csv?q=klonopin&mode=keyword")
    assert response.mimetype == "text/csv"
    assert response.headers["Content-Disposition"] == 'attachment; filename="imr-search.csv"'
    assert response.text == (
        f"{HEADER}\n"
        ",,Klonopin 1 mg#30 with 1 refill,clonazepam,benzodiazepine,upheld,"
        "Decision based on MTUS Chronic Pain Treatment Guidelines Benzodiazepines Page(s): 24.,"
        "/letters/L-8bfe781363af6ef1#item-1\n"
        ",,Klonopin 1 mg every night #30 plus one refill (prescribed 8/20/14),clonazepam,"
        "benzodiazepine,upheld,"
        "Decision based on MTUS Chronic Pain Treatment Guidelines Benzodiazepines Page(s): 24.,"
        "/letters/L-96b58c07c53b0b00#item-2\n"
    )
    assert list(csv.DictReader(io.StringIO(response.text))) == KLONOPIN_ROWS
    # Each row's link leads to the letter page, which has that item.
    for row in KLONOPIN_ROWS:
        link = urlparse(row["letter_url"])
        assert f'id="{link.fragment}"' in get(client, link.path).text


def test_export_json_has_the_same_rows(client):
    response = get(client, "/export.json?q=klonopin&mode=keyword")
    assert response.mimetype == "application/json"
    assert response.headers["Content-Disposition"] == 'attachment; filename="imr-search.json"'
    assert response.get_json() == {"items": KLONOPIN_ROWS}


def test_export_follows_filters_and_quotes_commas(client):
    response = get(client, "/export.csv?treatment_class=benzodiazepine")
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert [(r["case_number"], r["decision_date"], r["request"], r["treatment"]) for r in rows] == [
        ("CM15-0022402", "2015-03-31", "Valium 10 mg #50", "diazepam"),
        ("", "", "Klonopin 1 mg#30 with 1 refill", "clonazepam"),
        ("", "", "Valium 5mg every night # 30 plus refill (prescribed 8-20-14)", "diazepam"),
        (
            "",
            "",
            "Klonopin 1 mg every night #30 plus one refill (prescribed 8/20/14)",
            "clonazepam",
        ),
        ("", "", "Valium 10mg #45", "diazepam"),
        ("", "", "60 Tablets of Diazepam 5mg", "diazepam"),
    ]
    assert {(r["treatment_class"], r["decision"]) for r in rows} == {("benzodiazepine", "upheld")}
    # A guideline with commas is quoted, and reads back whole.
    assert '"Decision based on MTUS Chronic Pain Treatment Guidelines Part 2 Page(s): 24, 66."' in (
        response.text
    )
    assert (
        rows[0]["guideline"]
        == "Decision based on MTUS Chronic Pain Treatment Guidelines Part 2 Page(s): 24, 66."
    )
    assert rows[0]["letter_url"] == "/letters/CM15-0022402#item-1"


def test_export_errors(client):
    bad = get(client, "/export.json?mode=fuzzy", 400)
    assert bad.get_json()["error"]["status"] == 400
    assert "unknown mode" in get(client, "/export.csv?mode=fuzzy", 400).text
    empty = get(client, "/export.csv?q=zzzzqqqq&mode=keyword")
    assert empty.text == HEADER + "\n"


# -- 6. the JSON API ---------------------------------------------------------------------------


def test_api_search_of_a_known_query(client):
    data = get(client, "/api/search?q=klonopin&mode=keyword").get_json()
    assert data["request"] == {"q": "klonopin", "mode": "keyword"}
    assert data["total"] == 2 and data["notes"] == [] and data["histogram"] == {}
    assert [h["letter_id"] for h in data["hits"]] == KLONOPIN
    assert [(h["case_number"], h["decision_date"]) for h in data["hits"]] == [(None, None)] * 2
    chunk_fields = [
        {k: v for k, v in c.items() if k not in ("score", "highlights")}
        for h in data["hits"]
        for c in h["chunks"]
    ]
    benzo = {
        "decision": ["upheld"],
        "guideline_section": ["Benzodiazepines"],
        "guideline_source": ["MTUS"],
    }
    assert chunk_fields == [
        {
            "chunk_id": "L-8bfe781363af6ef1:item-1:0",
            "section": "item",
            "item_id": "L-8bfe781363af6ef1:item-1",
            "request": "Klonopin 1 mg#30 with 1 refill",
            "treatment_name": ["clonazepam"],
            **benzo,
        },
        {
            "chunk_id": "L-8bfe781363af6ef1:summary:3",
            "section": "clinical_case_summary",
            "item_id": None,
            "request": None,
            "treatment_name": ["clonazepam"],
            **benzo,
        },
        {
            "chunk_id": "L-96b58c07c53b0b00:item-2:0",
            "section": "item",
            "item_id": "L-96b58c07c53b0b00:item-2",
            "request": "Klonopin 1 mg every night #30 plus one refill (prescribed 8/20/14)",
            "treatment_name": ["clonazepam"],
            **benzo,
        },
        {
            "chunk_id": "L-96b58c07c53b0b00:summary:1",
            "section": "clinical_case_summary",
            "item_id": None,
            "request": None,
            "treatment_name": ["diazepam", "clonazepam"],
            **benzo,
        },
    ]
    for hit in data["hits"]:
        assert hit["score"] == hit["chunks"][0]["score"] > 0
        for chunk in hit["chunks"]:
            assert any("<mark>Klonopin</mark>" in h for h in chunk["highlights"])
            assert all(re.sub(r"</?mark>", "", h).count("<") == 0 for h in chunk["highlights"])
    assert data["facets"]["treatment_name"] == [
        {"value": "clonazepam", "count": 2, "selected": False},
        {"value": "diazepam", "count": 1, "selected": False},
    ]
    assert data["facets"]["decision_year"] == [] and data["facets"]["priority"] == []
    assert set(data["facets"]) == set(facet_names())


def test_api_facets(client, web_service):
    data = get(client, "/api/facets").get_json()
    assert set(data) == {"total", "facets", "histogram"}
    assert data["total"] == 56
    assert data["histogram"] == {"2015-03": 1, "2016-12": 3, "2017-01": 39, "2017-02": 8}
    assert {f: (v[0]["value"], v[0]["count"]) for f, v in data["facets"].items()} == (
        BROWSE_FIRST_VALUES
    )
    expected = web_service.search(SearchRequest())
    assert data["facets"] == {
        f: [{"value": v.value, "count": v.count, "selected": v.selected} for v in values]
        for f, values in expected.facets.items()
    }
    filtered = get(client, "/api/facets?decision=overturned&decision_from=2017-02-01").get_json()
    assert filtered["total"] == 1
    assert filtered["facets"]["decision"] == [
        {"value": "upheld", "count": 8, "selected": False},
        {"value": "overturned", "count": 1, "selected": True},
    ]
    # The histogram ignores the date range it would otherwise be cut to.
    assert filtered["histogram"] == {"2016-12": 1, "2017-01": 10, "2017-02": 1}


def test_api_stats(client):
    data = get(client, "/api/stats?by=treatment_class").get_json()
    assert data["by"] == "treatment_class"
    rows = {r["value"]: r for r in data["rows"]}
    assert rows["benzodiazepine"] == {
        "value": "benzodiazepine",
        "upheld": 6,
        "overturned": 0,
        "total": 6,
        "overturn_rate": 0.0,
        "ci95": list(wilson_interval(0, 6)),
    }
    assert rows["opioid"] == {
        "value": "opioid",
        "upheld": 5,
        "overturned": 1,
        "total": 6,
        "overturn_rate": 1 / 6,
        "ci95": list(wilson_interval(1, 6)),
    }
    assert [round(x, 3) for x in rows["opioid"]["ci95"]] == [0.030, 0.564]
    totals = [r["total"] for r in data["rows"]]
    assert totals == sorted(totals, reverse=True) and sum(totals) == 123
    decision = get(client, "/api/stats?by=decision").get_json()["rows"]
    assert [(r["value"], r["upheld"], r["overturned"]) for r in decision] == [
        ("upheld", 108, 0),
        ("overturned", 0, 15),
    ]
    # Statistics follow the query and filters.
    klonopin = get(client, "/api/stats?by=treatment_name&q=klonopin&mode=keyword").get_json()
    assert [(r["value"], r["upheld"], r["overturned"]) for r in klonopin["rows"]] == [
        ("clonazepam", 2, 0)
    ]


def test_api_letter(client):
    data = get(client, "/api/letters/CM16-0230651").get_json()
    assert set(data) == {"letter_id", "record", "text"}
    assert data["letter_id"] == data["record"]["case_number"] == "CM16-0230651"
    record = data["record"]
    assert len(record["items"]) == 10
    assert [i["request"] for i in record["items"]] == LETTER_ITEMS
    assert (record["decision_date"], record["date_of_injury"]) == ("2017-01-09", "2016-10-13")
    assert record["items"][7]["treatment"] == {
        "category": "medication",
        "class": "opioid",
        "name": "tramadol",
    }
    assert "MRI of the lumbar spine" in data["text"]


def test_api_similar(client):
    data = get(client, "/api/similar/CM16-0232543:item-1").get_json()
    assert data["source"] == "CM16-0232543:item-1"
    assert len(data["hits"]) == 10
    first = data["hits"][0]
    assert (first["item_id"], first["letter_id"], first["case_number"], first["request"]) == (
        "CM16-0247802:item-2",
        "CM16-0247802",
        "CM16-0247802",
        "Orphenadrine Citrate ER 100mg tabs #30",
    )
    assert first["shared"] == {
        "decision": ["upheld"],
        "guideline_section": ["Muscle relaxants (for pain)"],
        "reviewer_specialty": ["Physical Medicine and Rehabilitation"],
        "treatment_class": ["muscle relaxant"],
        "treatment_name": ["orphenadrine"],
    }
    assert first["explanation"] == ORPHENADRINE_WHY
    assert all(h["letter_id"] != "CM16-0232543" for h in data["hits"])
    scores = [h["score"] for h in data["hits"]]
    assert scores == sorted(scores, reverse=True)
    assert len(get(client, "/api/similar/CM16-0232543:item-1?k=3").get_json()["hits"]) == 3
    letters = get(client, "/api/similar/L-8bfe781363af6ef1?k=5").get_json()["hits"]
    assert len(letters) == 5 and all(h["item_id"] is None for h in letters)
    assert "L-8bfe781363af6ef1" not in {h["letter_id"] for h in letters}


@pytest.mark.parametrize(
    ("url", "status", "title", "message"),
    [
        (
            "/api/search?mode=fuzzy",
            400,
            "Bad request",
            "unknown mode 'fuzzy' (expected one of hybrid, keyword, semantic)",
        ),
        (
            "/api/search?decision_from=2017-13-01",
            400,
            "Bad request",
            "decision_from must be a date as YYYY-MM-DD, not '2017-13-01'",
        ),
        (
            "/api/search?sort=oldest",
            400,
            "Bad request",
            "unknown sort 'oldest' (expected one of relevance, newest)",
        ),
        ("/api/facets?page=0", 400, "Bad request", "page must be between 1 and 10000"),
        ("/api/stats", 400, "Bad request", "by must be one of " + ", ".join(facet_names())),
        ("/api/stats?by=nope", 400, "Bad request", "by must be one of " + ", ".join(facet_names())),
        ("/api/letters/NOPE", 404, "Not Found", "There is no letter 'NOPE' in the index."),
        ("/api/similar/NOPE", 400, "Bad request", "no letter 'NOPE' in the index"),
        (
            "/api/similar/CM16-0232543:item-99",
            400,
            "Bad request",
            "letter CM16-0232543 has no item 99",
        ),
        (
            "/api/similar/CM16-0232543?k=0",
            400,
            "Bad request",
            "k must be a whole number from 1 to 50",
        ),
        (
            "/api/similar/CM16-0232543?k=abc",
            400,
            "Bad request",
            "k must be a whole number from 1 to 50",
        ),
        ("/api/nope", 404, "Not Found", None),
    ],
)
def test_api_errors_are_json_with_a_status(client, url, status, title, message):
    response = get(client, url, status)
    assert response.mimetype == "application/json"
    error = response.get_json()
    assert set(error) == {"error"} and set(error["error"]) == {"status", "title", "message"}
    assert (error["error"]["status"], error["error"]["title"]) == (status, title)
    if message is not None:
        assert error["error"]["message"] == message


def test_api_rejects_other_methods(client):
    response = client.post("/api/search")
    assert response.status_code == 405
    assert response.get_json()["error"]["status"] == 405


# -- 7. the letter page ------------------------------------------------------------------------

LETTER_ITEMS = [
    "EMG/NCV of the lower extremities",
    "EMG/NCV of the upper extremities",
    "Electro acupuncture to the low back two times a week times six weeks",
    "Infrared heat to the low back two times a week times six weeks",
    "Myofascial release to the low back two times a week times six weeks",
    "MRI of the lumbar spine",
    "Chiropractic care to the low back two times a week for four weeks",
    "Ultram 50mg #30",
    "Flexeril 10mg #60",
    "Physical therapy to the low back two sessions",
]


def test_letter_page(client):
    response = get(client, "/letters/CM16-0230651?q=mri")
    html = response.text
    page = dom(html)
    assert page.find("title").text == "CM16-0230651 · IMR search"
    assert page.find("h1").text == "CM16-0230651"
    items = page.find_all("section", cls="item")
    assert [s.attrs["id"] for s in items] == [f"item-{n}" for n in range(1, 11)]
    assert [" ".join(s.find("h3").clean_text.split()[1:]) for s in items] == LETTER_ITEMS
    assert all(s.find("span", cls="badge").text == "Upheld" for s in items)
    assert [s.find("p", cls="more").find("a").attrs["href"] for s in items] == [
        f"/similar/CM16-0230651:item-{n}" for n in range(1, 11)
    ]
    ultram = items[7].find("dl", cls="item-meta")
    assert ultram.find("dd").text == "tramadol (opioid)"
    meta = page.find("aside", cls="letter-meta").find("dl")
    terms = [el.text for el in meta.children if isinstance(el, Element) and el.tag == "dt"]
    values = [el.text for el in meta.children if isinstance(el, Element) and el.tag == "dd"]
    assert dict(zip(terms, values, strict=True)) == {
        "Decision date": "2017-01-09",
        "Date assigned": "2016-12-07",
        "Application received": "2016-11-29",
        "UR denial": "2016-11-22",
        "Date of injury": "2016-10-13",
        "Priority": "Standard",
        "Patient": "36 years, female",
        "Reviewer": "Physical Medicine and Rehabilitation, Pain Management",
        "Licensed in": "California, Washington",
        "Diagnoses": "other intervertebral disc displacement, lumbosacral region",
    }
    # The query's words are marked (case kept), and only <mark> is markup inside the text.
    assert "<mark>MRI</mark>" in html
    assert {m.text.lower() for m in page.find_all("mark")} == {"mri"}
    for block in page.find_all("div", cls="rationale") + page.find_all("section", cls="section"):
        assert block.child_tags() <= {"p", "h2", "mark"}
    download = page.find("a", cls="download")
    assert download.attrs["href"] == "/letters/CM16-0230651/original"
    assert download.text == "Download the original (CM16-0230651.pdf)"
    assert page.find("p", cls="back").find("a").attrs["href"] == "/?q=mri"
    # Similar cases come after the page (htmx); without JavaScript, a link to them.
    placeholder = page.find("div", cls="similar-cases")
    assert placeholder.attrs["hx-get"] == "/letters/CM16-0230651/similar-cases"
    assert placeholder.attrs["hx-trigger"] == "load"
    assert placeholder.find("a").attrs["href"] == "/similar/CM16-0230651"
    loaded = get(client, "/letters/CM16-0230651/similar-cases", headers=HX)
    assert loaded.headers["Vary"] == "HX-Request"
    similar = dom(loaded.text).find("ol", cls="similar").find_all("li")
    assert len(similar) == 5
    assert "CM16-0230651" not in [li.find("a").text for li in similar]
    assert similar[0].find("a").attrs["href"] == "/letters/CM16-0236134"
    plain = get(client, "/letters/CM16-0230651/similar-cases", 302)
    assert plain.headers["Location"] == "/similar/CM16-0230651"
    get(client, "/letters/NOPE/similar-cases", 404, headers=HX)
    # Without a query nothing is marked.
    assert "<mark>" not in get(client, "/letters/CM16-0230651").text


def test_letter_original_is_the_indexed_file(client):
    response = get(client, "/letters/CM16-0230651/original")
    assert response.data == (SAMPLES / "dev" / "CM16-0230651.pdf").read_bytes()
    assert response.mimetype == "application/pdf"
    assert response.headers["Content-Disposition"] == "attachment; filename=CM16-0230651.pdf"
    seed = get(client, "/letters/L-8bfe781363af6ef1/original")
    assert seed.data == (SAMPLES / "seeds" / "001_0f8fd79b2ff79f8d.txt").read_bytes()
    assert seed.mimetype == "text/plain"
    assert seed.headers["Content-Disposition"].startswith("attachment;")
    assert seed.headers["X-Content-Type-Options"] == "nosniff"


def test_unknown_letter_is_a_404_page(client):
    for url in ("/letters/NOPE", "/letters/NOPE/original", "/similar/NOPE", "/similar/NOPE:item-1"):
        response = get(client, url, 404)
        assert response.mimetype == "text/html"
        page = dom(response.text)
        assert page.find("h1").text == "Not Found"
        assert (
            page.find("section", cls="error").find("p").text
            == "There is no letter 'NOPE' in the index."
        )
        assert "Traceback" not in response.text and 'File "' not in response.text


# -- 8. path traversal and id games --------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "status"),
    [
        ("/letters/..%2F..%2Fetc%2Fpasswd/original", 404),
        ("/letters/../../etc/passwd/original", 404),
        ("/letters/%2e%2e%2f%2e%2e%2fetc%2fpasswd/original", 404),
        ("/letters/%2e%2e/original", 404),
        ("/letters/..%5C..%5Cetc%5Cpasswd/original", 404),
        ("/letters/CM16-0230651%2F..%2F..%2Fstore.sqlite/original", 404),
        ("/letters/CM16-0230651/original/../../../etc/passwd", 404),
        ("/letters/%2Fetc%2Fpasswd/original", 404),
        ("/similar/..%2F..", 404),
        ("/similar/..", 404),
        ("/similar/CM16-0232543:item-..%2F..", 404),
        ("/similar/CM16-0232543:item-x", 400),
        ("/api/letters/..%2Fstore.sqlite", 404),
        ("/api/letters/..", 404),
        ("/api/similar/..", 400),
        ("/static/..%2F..%2Fpyproject.toml", 404),
        # encoded, lower-case, mixed and double-encoded dots and slashes
        ("/letters/..%2f..%2fetc%2fpasswd/original", 404),
        ("/letters/%2e%2e%2f%2e%2e%2fpyproject.toml/original", 404),
        ("/letters/.%2e/.%2e/pyproject.toml", 404),
        ("/letters/%252e%252e%252f%252e%252e%252fetc%252fpasswd/original", 404),
        ("/letters/..%252f..%252fpyproject.toml/original", 404),
        ("/api/letters/%252e%252e%252fstore.sqlite", 404),
        ("/similar/%252e%252e%252f..", 404),
        # backslashes
        ("/letters/..\\..\\pyproject.toml/original", 404),
        ("/letters/%5C..%5C..%5Cpyproject.toml/original", 404),
        ("/static/..%5C..%5Cpyproject.toml", 404),
        # absolute paths
        ("/letters//etc/passwd/original", 404),
        ("/letters/%2Fetc%2Fpasswd", 404),
        ("/letters/C:%5CWindows%5Cwin.ini/original", 404),
        ("/api/letters/%2Fetc%2Fpasswd", 404),
        ("/static//etc/passwd", 404),
        ("/static/%2Fetc%2Fpasswd", 404),
        # NUL bytes
        ("/letters/%00/original", 404),
        ("/letters/CM16-0230651%00/original", 404),
        ("/letters/CM16-0230651%00.pdf/original", 404),
        ("/letters/..%00/original", 404),
        ("/api/letters/CM16-0230651%00", 404),
        ("/similar/CM16-0230651%00", 404),
        ("/static/app.css%00", 404),
        ("/static/%00../../pyproject.toml", 404),
    ],
)
def test_paths_outside_the_index_are_refused(client, url, status):
    response = client.get(url)
    assert response.status_code == status, (url, response.status_code)
    body = response.data
    for secret in (b"root:", b"SQLite format", b"[build-system]", b"%PDF", b"Traceback"):
        assert secret not in body


# -- 9. statistics -----------------------------------------------------------------------------


def stats_table(page: Element, index: int = 0) -> dict[str, list[str]]:
    table = page.find_all("table", cls="numbers")[index]
    return {
        tr.find("th").text: [td.text for td in tr.find_all("td")]
        for tr in table.find("tbody").find_all("tr")
    }


def test_stats_page(client, web_service):
    page = dom(get(client, "/stats?by=treatment_class").text)
    assert page.find("h1").text == "Decisions by treatment class"
    rows = stats_table(page)
    assert rows["benzodiazepine"] == ["6", "0", "6", "0.0%", "0.0–39.0%"]
    assert rows["opioid"] == ["5", "1", "6", "16.7%", "3.0–56.4%"]
    expected = web_service.stats(SearchRequest(), "treatment_class")
    assert list(rows) == [r.value for r in expected]
    assert [v[:3] for v in rows.values()] == [
        [str(r.upheld), str(r.overturned), str(r.total)] for r in expected
    ]
    assert stats_table(page, 1) == {
        "2015-03": ["1", "0", "0.0%"],
        "2016-12": ["2", "1", "33.3%"],
        "2017-01": ["68", "13", "16.0%"],
        "2017-02": ["30", "1", "3.2%"],
    }
    imgs = [img.attrs["src"] for img in page.find_all("img", cls="chart")]
    assert imgs == ["/stats/by.svg?by=treatment_class", "/stats/timeline.svg?"]
    by = {a.text: a.attrs["href"] for a in page.find("nav", cls="by").find_all("a")}
    assert by["Treatment class"] == "/stats?by=treatment_class" and len(by) == len(facet_names())
    assert get(client, "/stats").text == get(client, "/stats?by=treatment_class").text


def test_stats_page_keeps_the_search_state(client, web_service):
    url = "/stats?q=MRI&mode=keyword&decision=overturned&by=treatment_category"
    page = dom(get(client, url).text)
    assert page.find("p", cls="scope").clean_text == "Items matching MRI, filtered."
    req = SearchRequest(q="MRI", mode="keyword", filters=(("decision", ("overturned",)),))
    expected = web_service.stats(req, "treatment_category")
    assert {k: v[:2] for k, v in stats_table(page).items()} == {
        r.value: [str(r.upheld), str(r.overturned)] for r in expected
    }
    assert sum(r.overturned for r in expected) > 0 and all(r.upheld == 0 for r in expected)
    chart, timeline = (img.attrs["src"] for img in page.find_all("img", cls="chart"))
    assert chart == "/stats/by.svg?q=MRI&mode=keyword&decision=overturned&by=treatment_category"
    assert timeline == "/stats/timeline.svg?q=MRI&mode=keyword&decision=overturned"
    assert state(timeline) == ("/stats/timeline.svg", req)
    assert (
        page.find("p", cls="back").find("a").attrs["href"]
        == "/?q=MRI&mode=keyword&decision=overturned"
    )
    for a in page.find("nav", cls="by").find_all("a"):
        path, query = urlparse(a.attrs["href"]).path, parse_qs(urlparse(a.attrs["href"]).query)
        assert path == "/stats" and query.pop("by")[0] in facet_names()
        assert SearchRequest.from_params(query) == req
    for src in (chart, timeline):
        svg = get(client, src)
        assert svg.mimetype == "image/svg+xml"
        assert (
            svg.headers["Content-Security-Policy"]
            == "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'"
        )


def test_stats_svgs(client):
    chart = get(client, "/stats/by.svg?by=treatment_class")
    timeline = get(client, "/stats/timeline.svg")
    for svg in (chart, timeline):
        assert svg.mimetype == "image/svg+xml"
        assert "<svg" in svg.text and "<script" not in svg.text.lower()
        assert "javascript:" not in svg.text.lower() and not re.search(r"\son\w+=", svg.text)
        assert svg.headers["X-Content-Type-Options"] == "nosniff"
    assert "Items by treatment class" in chart.text
    assert ">benzodiazepine<" in chart.text and ">opioid<" in chart.text
    assert "Decisions over time" in timeline.text and ">2017-01<" in timeline.text


@pytest.mark.parametrize(
    "url",
    ["/stats?by=nope", "/stats/by.svg?by=nope", "/stats?mode=fuzzy", "/stats/timeline.svg?page=0"],
)
def test_stats_bad_requests(client, url):
    response = get(client, url, 400)
    assert response.mimetype == "text/html" and "Bad request" in response.text


# -- 10. similar cases -------------------------------------------------------------------------

ORPHENADRINE_WHY = (
    "same treatment: orphenadrine; same treatment class: muscle relaxant; same guideline section: "
    "Muscle relaxants (for pain); same decision: upheld; same reviewer specialty: "
    "Physical Medicine and Rehabilitation"
)


def test_similar_items_page(client, web_service):
    page = dom(get(client, "/similar/CM16-0232543:item-1").text)
    assert page.find("h1").text == "Items like “Norflex 100mg #60”"
    cards = page.find("ol", cls="similar-list").find_all("li", cls="card")
    expected = web_service.similar("CM16-0232543:item-1", k=10)
    assert len(cards) == len(expected) == 10
    first = cards[0]
    assert first.find("h3").find("a").attrs["href"] == "/letters/CM16-0247802#item-2"
    assert (
        first.find("p", cls="label").clean_text == "Upheld Orphenadrine Citrate ER 100mg tabs #30"
    )
    # The explanation keeps the facet values as they are (only its first letter is capitalised).
    why = first.find("p", cls="why").text
    assert why == "S" + ORPHENADRINE_WHY[1:]
    assert [c.find("p", cls="why").text for c in cards] == [
        h.explanation[:1].upper() + h.explanation[1:] for h in expected
    ]
    assert [c.find("h3").find("a").attrs["href"] for c in cards] == [
        f"/letters/{h.letter_id}#item-{h.chunk.doc['item_index']}" for h in expected
    ]
    assert first.find("span", cls="score").text == f"similarity {expected[0].score:.2f}"
    assert page.find("p", cls="back").find("a").attrs["href"] == "/letters/CM16-0232543"


def test_similar_letters_page_and_partial(client):
    page = dom(get(client, "/similar/CM16-0230651").text)
    assert page.find("h1").text == "Letters like CM16-0230651"
    hrefs = [li.find("a").attrs["href"] for li in page.find_all("li", cls="card")]
    # Similarity 0.934 and 0.930 with the int8 model (the next two tie at 0.897).
    assert hrefs[:2] == ["/letters/CM16-0236134", "/letters/CM16-0234464"]
    assert len(hrefs) == 10 and "/letters/CM16-0230651" not in hrefs
    partial = get(client, "/similar/CM16-0230651", headers=HX).text
    assert "<html" not in partial and partial.lstrip().startswith('<ol class="similar-list">')


def test_similar_bad_item(client):
    response = get(client, "/similar/CM16-0232543:item-99", 400)
    assert dom(response.text).find("section", cls="error").find("p").text == (
        "letter CM16-0232543 has no item 99"
    )


# -- 11. escaping ------------------------------------------------------------------------------


def test_the_xss_letter_is_found_and_its_text_stays_text(client):
    for mode in ("keyword", "hybrid"):
        data = get(client, f"/api/search?q=zanzibarite&mode={mode}").get_json()
        assert [h["letter_id"] for h in data["hits"]] == [XSS_ID]
    pages = {
        "results": get(client, "/?q=zanzibarite&mode=keyword").text,
        "results partial": get(client, "/?q=zanzibarite", headers=HX).text,
        "results for script": get(client, "/?q=script&mode=keyword").text,
        "results for onerror": get(client, "/?q=onerror+iframe&mode=keyword").text,
        "letter": get(client, f"/letters/{XSS_ID}?q=zanzibarite").text,
        "letter marking script": get(client, f"/letters/{XSS_ID}?q=script+img+iframe").text,
        "similar item": get(client, f"/similar/{XSS_ID}:item-1").text,
        "similar letters": get(client, f"/similar/{XSS_ID}").text,
        "stats": get(client, "/stats?q=zanzibarite&mode=keyword&by=treatment_name").text,
    }
    for name, html in pages.items():
        assert_no_active_content(html)
        assert "&lt;script&gt;" in html or name.startswith(("similar letters", "stats")), name
    results = dom(pages["results"])
    assert card_ids(results) == [XSS_ID]
    labels = [a.text for a in results.find_all("p", cls="label") for a in a.find_all("a")]
    # The item first: a disputed item outranks the case summary that names the same words.
    assert labels == ["Tramadol <script>alert('xss-item')</script> 50mg #60", "Case summary"]
    assert results.find("p", cls="guideline").text == (
        "MTUS; Opioids <b onmouseover=\"alert('xss-guideline')\">criteria</b>"
    )
    # Inside snippets the only markup is <mark>.
    for name in ("results", "results for script", "results for onerror", "letter marking script"):
        snippets = dom(pages[name]).find_all("p", cls="snippet") + dom(pages[name]).find_all(
            "div", cls="rationale"
        )
        assert snippets
        for snippet in snippets:
            assert snippet.child_tags() <= {"mark", "p"}, name
    assert "&lt;<mark>script</mark>&gt;" in pages["letter marking script"]
    letter = dom(pages["letter"])
    assert letter.find("section", id="item-1").find("h3").clean_text == (
        "Upheld Tramadol <script>alert('xss-item')</script> 50mg #60"
    )
    summary = letter.find("section", id="summary").find("p").text
    assert "<img src=x onerror=\"alert('xss-img')\">" in summary
    assert letter.find("a", cls="download").attrs["href"] == f"/letters/{XSS_ID}/original"
    assert dom(pages["similar item"]).find("h1").text == (
        "Items like “Tramadol <script>alert('xss-item')</script> 50mg #60”"
    )
    # The original is handed over as a plain-text download, never rendered.
    original = get(client, f"/letters/{XSS_ID}/original")
    assert original.mimetype == "text/plain"
    assert original.headers["Content-Disposition"] == "attachment; filename=xss_letter.txt"


def test_a_query_with_markup_is_echoed_escaped(client):
    q = "<script>alert(1)</script>"
    for url, status in (
        (url_of("/", {"q": q, "mode": "keyword"}), 200),
        (url_of("/", {"q": q}), 200),
        (url_of("/", {"q": q, "mode": "semantic"}), 200),
        (url_of("/stats", {"q": q, "mode": "keyword"}), 200),
        ("/letters/%3Cscript%3Ealert(1)", 404),
        ("/similar/%3Cscript%3Ealert(1)", 404),
        (url_of("/", {"q": "x", "mode": q}), 400),
    ):
        html = get(client, url, status).text
        assert "<script>alert(1)" not in html, url
        assert "&lt;script&gt;alert(1)" in html, url
        assert_no_active_content(html)
    # The letter page puts the query only in its back link, URL-encoded; marking the query's
    # words in the letter's own "<script>" keeps the rest escaped.
    html = get(client, url_of(f"/letters/{XSS_ID}", {"q": q})).text
    assert_no_active_content(html)
    letter = dom(html)
    back = urlparse(letter.find("p", cls="back").find("a").attrs["href"])
    assert (back.path, parse_qs(back.query)) == ("/", {"q": [q]})
    assert (
        "Her notes contain &lt;<mark>script</mark>&gt;document.title=&#x27;pwned&#x27;; "
        "<mark>alert</mark>(&#x27;xss-summary&#x27;)&lt;/<mark>script</mark>&gt;"
    ) in html
    page = dom(get(client, url_of("/", {"q": q, "mode": "keyword"})).text)
    assert page.find("input", id="q").attrs["value"] == q
    assert page.find("title").text == f"{q} · IMR search"


# -- 12. security headers ----------------------------------------------------------------------

HTML_PAGES = [
    ("/", 200),
    ("/?q=klonopin&mode=keyword", 200),
    ("/letters/CM16-0230651", 200),
    ("/similar/CM16-0232543:item-1", 200),
    ("/stats", 200),
    ("/letters/NOPE", 404),
    ("/nope", 404),
    ("/?mode=fuzzy", 400),
]


@pytest.mark.parametrize(("url", "status"), HTML_PAGES)
def test_html_pages_have_security_headers_and_no_inline_script(client, url, status):
    for headers in ({}, HX):
        response = get(client, url, status, headers=headers)
        assert response.mimetype == "text/html"
        assert response.headers["Content-Security-Policy"] == CSP
        assert_security_headers(response)
        scripts = dom(response.text).find_all("script")
        assert all(s.attrs.get("src") and not s.text.strip() for s in scripts)
        if "<html" in response.text:
            assert [s.attrs["src"] for s in scripts] == ["/static/vendor/htmx-2.0.11.min.js"]
            assert HTMX_TAG in response.text
        assert not re.search(r"\sstyle=", response.text)  # style-src 'self' allows no inline style


@pytest.mark.parametrize(
    "url",
    [
        "/api/search?q=klonopin&mode=keyword",
        "/api/letters/NOPE",
        "/export.csv?q=klonopin&mode=keyword",
        "/export.json",
        "/healthz",
        "/letters/CM16-0230651/original",
        "/static/vendor/htmx-2.0.11.min.js",
        "/static/app.css",
    ],
)
def test_other_responses_have_security_headers(client, url):
    response = client.get(url)
    assert response.status_code in (200, 404)
    assert_security_headers(response)


# -- 13. health and the rest -------------------------------------------------------------------


def test_healthz(client):
    response = get(client, "/healthz")
    assert response.mimetype == "application/json"
    assert json.loads(response.data) == {
        "status": "ok",
        "backend": "embedded",
        "letters": 56,
        "chunks": 273,  # the samples' 271 plus the XSS letter's summary and item
    }


def test_unknown_route_method_and_debug(client, app):
    missing = get(client, "/no/such/page", 404)
    assert missing.mimetype == "text/html" and "<html" in missing.text
    assert dom(missing.text).find("h1").text == "Not Found"
    for method in (client.post, client.put, client.delete):
        response = method("/")
        assert response.status_code == 405
        assert dom(response.text).find("h1").text == "Method Not Allowed"
    assert app.debug is False
    assert get(client, "/static/app.css").mimetype == "text/css"


def test_the_all_values_link_loads_the_rest_of_a_facet_into_its_list(client, web_service):
    page = dom(get(client, "/?q=mri&mode=hybrid").text)
    href = facet_all_links(page)["guideline_section"]
    assert href == "/facets/guideline_section?q=mri"
    section = page.find("section", cls="facet", **{"data-facet": "guideline_section"})
    link = section.find("li", cls="all").find("a")
    assert link.text == "All 34 values…"
    assert (link.attrs["hx-get"], link.attrs["hx-target"]) == (href, "closest ul")
    values = web_service.search(SearchRequest(q="mri")).facets["guideline_section"]
    assert len(values) == 34
    # htmx swaps the list under "more" for one of every value after the first eight.
    partial = get(client, href, headers=HX)
    assert partial.headers["Vary"] == "HX-Request"
    rest = dom(partial.text).find("ul", cls="more-values")
    assert [a.find("span", cls="value").text for a in rest.find_all("a")] == [
        v.value for v in values[8:]
    ]
    assert get(client, "/facets/patient_age?q=mri", status=404).status_code == 404


def test_json_is_encoded_by_orjson_as_flask_would_write_it(app):
    import datetime as dt
    from dataclasses import dataclass

    @dataclass
    class Point:
        x: int

    with app.app_context():
        from flask import json

        # Keys in the order given (not sorted), compact, UTF-8 rather than \u escapes; dates and
        # dataclasses as Flask's own provider writes them; integer keys as strings.
        assert (
            json.dumps({"b": 1, "a": [1.5, None, True], "é": "naïve", 3: "x"})
            == '{"b":1,"a":[1.5,null,true],"é":"naïve","3":"x"}'
        )
        assert json.dumps({"d": dt.date(2020, 1, 2), "p": Point(2)}) == (
            '{"d":"Thu, 02 Jan 2020 00:00:00 GMT","p":{"x":2}}'
        )
        assert json.dumps({"b": 1, "a": 2}, indent=2) == '{\n  "b": 1,\n  "a": 2\n}'
