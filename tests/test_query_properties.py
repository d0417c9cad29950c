"""Any query string and any parameter value get a result or a clear 400, never a 500 (issue #7):
property tests with hypothesis against the search service in each mode and against the JSON API
and the search page, with literal examples of query syntax from other engines."""

from __future__ import annotations

import re
from urllib.parse import urlencode

import pytest
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st
from markupsafe import escape

from indexer.query_text import MAX_QUERY_CHARS
from indexer.schema import facet_names
from indexer.search import MODES, SearchError, SearchRequest

#: Query syntax of Lucene, Elasticsearch and tantivy, operators, and text that is hard to handle.
SYNTAX = [
    '"',
    "'",
    "`",
    "*:*",
    '{"query":{"match_all":{}}}',
    '{"query": {"bool": {"must": [{"match_all": {}}]}}}',
    "AND",
    "OR",
    "NOT",
    "IN",
    "TO",
    "(",
    ")",
    "[",
    "]",
    "{",
    "}",
    "~",
    "^",
    "\\",
    "/",
    ":",
    "+",
    "-",
    "!",
    "?",
    "*",
    "&&",
    "||",
    "<",
    ">",
    "=",
    "text:valium",
    "letter_id:*",
    "valium~2",
    "request:(a OR b)",
    "[1 TO 5]",
    "{* TO *}",
    "/regex.*/",
    "valium^10",
    "%00",
    "%",
    "#",
    "&",
    ";",
    "...",
    "\x00",
    "\x1b[31m",
    "\x7f",
    "\t",
    "\n",
    "\r\n",
    "\u0085",
    "\u00a0",
    "\u200b",
    "\u202e",
    "\u2028",
    "\ufeff",
    "\ufffd",
    "\U0001f600",
    "\U0001f469\u200d\u2695\ufe0f",
    "\u05e9\u05dc\u05d5\u05dd",
    "\u0645\u0631\u062d\u0628\u0627",
    "\u65e5\u672c\u8a9e",
    "\u0130",
    "\u00df",
    "\ufb01",
    "e\u0301",
    "Valium",
    "MRI",
    "overturned",
    "approved on review",
    "L4-5",
    "EMG/NCV",
    "narcotic painkillers",
]

pieces = st.one_of(st.sampled_from(SYNTAX), st.text(max_size=8))
#: Arbitrary text (every code point but surrogates, control characters included), text made of
#: query syntax, and long text up to 10,000 characters.
queries = st.one_of(
    st.text(max_size=60),
    st.lists(pieces, max_size=12).map(" ".join),
    st.lists(pieces, max_size=12).map("".join),
    st.builds(
        lambda s, n: (s * n)[:10_000], st.text(min_size=1, max_size=12), st.integers(1, 2000)
    ),
)
#: The same with lone surrogates, which a Python caller (not a URL) can pass.
surrogate = st.characters(categories=["Cs"])
# (One example in four has one: each is refused before any search.)
raw_queries = st.one_of(
    queries, queries, queries, st.tuples(queries, surrogate, queries).map("".join)
)

LITERALS = [
    "",
    " ",
    '"',
    '"""',
    '"unbalanced phrase',
    "*:*",
    '{"query":{"match_all":{}}}',
    "AND OR NOT ( ) [ ] ~ ^ \\ / :",
    "NOT",
    "-",
    "--valium",
    "+-+",
    "-valium",
    "-valium -diazepam",
    "'",
    "don't",
    "`rm -rf /`",
    "\x00",
    "\x00\x01\x02\x1b[2J",
    "\u202etxt.exe",
    "\U0001f600 \U0001f600",
    ". .",
    "$ %",
    "\u05e9\u05dc\u05d5\u05dd \u0645\u0631\u062d\u0628\u0627",
    "x" * 10_000,
    "valium " * 1_400,
    "<script>alert(1)</script>",
    "%s%s%n",
    "' OR 1=1; --",
]


def check_service(service, params: dict, consistent: bool = True) -> None:
    """A search either answers or refuses the request with a SearchError; the answer's page
    holds as many letters as its total leaves for the page (`consistent`), at most per_page."""
    try:
        request = SearchRequest.from_params(params)
    except SearchError as exc:
        assert str(exc).strip()
        return
    result = service.search(request)
    assert isinstance(result.total, int) and result.total >= 0
    assert len(result.hits) <= request.per_page
    if consistent:
        start = (request.page - 1) * request.per_page
        assert len(result.hits) == max(0, min(request.per_page, result.total - start))
    assert len({h.letter_id for h in result.hits}) == len(result.hits)
    assert all(1 <= len(h.chunks) <= 3 for h in result.hits)


def check_query(service, q: str, mode: str) -> bool:
    """Check a search for `q` in `mode`."""
    check_service(service, {"q": q, "mode": mode})
    return True


SERVICE_SETTINGS = {
    "deadline": None,
    "suppress_health_check": [HealthCheck.too_slow, HealthCheck.data_too_large],
}


@settings(max_examples=60, **SERVICE_SETTINGS)
@given(q=raw_queries)
def test_keyword_search_answers_any_query(web_service, q):
    assume(check_query(web_service, q, "keyword"))


@settings(max_examples=25, **SERVICE_SETTINGS)
@given(q=raw_queries)
def test_semantic_search_answers_any_query(web_service, q):
    assume(check_query(web_service, q, "semantic"))


@settings(max_examples=25, **SERVICE_SETTINGS)
@given(q=raw_queries)
def test_hybrid_search_answers_any_query(web_service, q):
    assume(check_query(web_service, q, "hybrid"))


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("q", LITERALS, ids=lambda q: repr(q[:20]))
def test_literal_queries(web_service, mode, q):
    check_query(web_service, q, mode)


def test_a_lone_surrogate_is_refused_with_the_parameter_named():
    with pytest.raises(
        SearchError, match=r"^q is not valid text \(it holds a lone surrogate, U\+D800\)$"
    ):
        SearchRequest.from_params({"q": "valium \ud800"})
    with pytest.raises(SearchError, match=r"^decision is not valid text .*U\+DCFF\)$"):
        SearchRequest.from_params({"decision": ["upheld", "\udcff"]})


def test_a_query_too_long_is_refused():
    limit = MAX_QUERY_CHARS * 25
    assert SearchRequest.from_params({"q": "x" * limit}).q == "x" * limit
    with pytest.raises(SearchError) as caught:
        SearchRequest.from_params({"q": "x" * (limit + 1)})
    assert str(caught.value) == f"query too long ({limit + 1} characters; the limit is {limit})"


@pytest.mark.parametrize("mode", ["keyword", "hybrid"])
def test_stop_words_only(web_service, mode):
    # Every word a stop word: nothing to search for in keyword mode, and no error.
    result = web_service.search(
        SearchRequest.from_params({"q": "to be or not to be", "mode": mode})
    )
    if mode == "keyword":
        assert (result.total, result.hits) == (0, [])
    check_service(web_service, {"q": "to be or not to be", "mode": mode})


@pytest.mark.parametrize("q", ["*:*", "0 " * 400])
def test_a_keyword_query_of_syntax_only(web_service, q):
    # No words to search: no letter matches (it used to count every letter and list none).
    result = web_service.search(SearchRequest.from_params({"q": q, "mode": "keyword"}))
    assert (result.total, result.hits) == (0, [])
    check_service(web_service, {"q": q, "mode": "keyword"})


def test_a_hybrid_query_of_exclusions_only(web_service):
    # Exclusions work per passage, in the semantic hits too: of the 56 letters, the 3 whose every
    # passage names Valium (or diazepam) drop out; it used to count the semantic matches only.
    result = web_service.search(SearchRequest.from_params({"q": "-valium", "mode": "hybrid"}))
    assert result.total == 53
    assert len(result.hits) == 10
    check_service(web_service, {"q": "-valium", "mode": "hybrid"})


# -- HTTP -------------------------------------------------------------------------------------


def check_http(app, path: str, params: dict) -> int:
    """GET the page or API: 200 with a consistent answer, or 400 naming the problem (or 414
    when the address is over the app's limit); never a 500."""
    query = urlencode(params, doseq=True)
    response = app.test_client().get(f"{path}?{query}")
    limit = app.config.get("MAX_URL_LENGTH")
    if limit and len(path) + len(query) > limit:
        assert response.status_code == 414, query[:200]
        return 414
    assert response.status_code in (200, 400), (query[:200], response.status_code)
    if path.startswith("/api/"):
        body = response.get_json()
        if response.status_code == 400:
            error = body["error"]
            assert set(body) == {"error"} and set(error) == {"status", "title", "message"}
            assert error["status"] == 400 and error["title"] == "Bad request"
            assert isinstance(error["message"], str) and error["message"].strip()
        else:
            per_page = int(params.get("per_page", 10))
            assert isinstance(body["total"], int) and body["total"] >= 0
            assert len(body["hits"]) <= per_page
    else:
        assert response.mimetype == "text/html"
        assert "Traceback" not in response.text
    return response.status_code


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(q=queries, path=st.sampled_from(["/api/search", "/"]))
@example(q="*:*", path="/api/search")
@example(q='{"query":{"match_all":{}}}', path="/")
@example(q="\x00\x1b[31m\u202e", path="/api/search")
@example(q="x" * 10_000, path="/api/search")
@example(q="\u65e5" * 10_000, path="/api/search")
def test_keyword_http_answers_any_query(app, q, path):
    check_http(app, path, {"q": q, "mode": "keyword"})


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(q=queries, mode=st.sampled_from(["semantic", "hybrid"]))
def test_semantic_and_hybrid_http_answer_any_query(app, q, mode):
    check_http(app, "/api/search", {"q": q, "mode": mode})


PARAMS = ["page", "per_page", "mode", "sort", "decision_from", "decision_to", "injury_from"]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    name=st.sampled_from([*PARAMS, "injury_to", *facet_names()]),
    value=st.one_of(st.text(max_size=20), st.integers(-(10**20), 10**20).map(str)),
)
@example(name="page", value="\uff11")  # a full-width digit one: int() takes it
@example(name="decision_from", value="\uff12\uff10\uff12\uff13-01-01")
@example(name="per_page", value="1_0")
@example(name="decision", value="\x00")
def test_any_parameter_value_gives_a_result_or_a_400_naming_it(app, name, value):
    params = {name: value} if name == "mode" else {name: value, "mode": "keyword"}
    query = urlencode(params)
    client = app.test_client()
    api, page = client.get(f"/api/search?{query}"), client.get(f"/?{query}")
    assert api.status_code in (200, 400) and page.status_code == api.status_code, query
    if api.status_code == 400:
        message = api.get_json()["error"]["message"]
        assert re.match(rf"(unknown )?{name}\b", message), message
        assert escape(message) in page.text


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("page=-1", "page must be between 1 and 10000"),
        ("page=abc", "page must be a whole number, not 'abc'"),
        ("page=1.5", "page must be a whole number, not '1.5'"),
        ("page=99999999999999999999", "page must be between 1 and 10000"),
        ("per_page=10000", "per_page must be between 1 and 100"),
        (
            "page=101",
            "page 101 of 10 results goes beyond the first 1,000 letters a search lists; "
            "narrow the search with words or filters",
        ),
        ("per_page=0", "per_page must be between 1 and 100"),
        ("mode=xyz", "unknown mode 'xyz' (expected one of hybrid, keyword, semantic)"),
        ("sort=xyz", "unknown sort 'xyz' (expected one of relevance, newest)"),
        (
            "decision_from=2023-02-30",
            "decision_from must be a date as YYYY-MM-DD, not '2023-02-30'",
        ),
        ("decision_to=99999-01-01", "decision_to must be a date as YYYY-MM-DD, not '99999-01-01'"),
        ("injury_from=0000-01-01", "injury_from must be a date as YYYY-MM-DD, not '0000-01-01'"),
        ("injury_to=yesterday", "injury_to must be a date as YYYY-MM-DD, not 'yesterday'"),
        ("q=valium&treatmnt=diazepam", "unknown parameter 'treatmnt'"),
        ("q=valium&facet=decision", "unknown parameter 'facet'"),
        ("q=valium&by=decision", "unknown parameter 'by'"),
    ],
)
def test_bad_parameters_are_400s_that_name_them(app, query, message):
    client = app.test_client()
    api = client.get(f"/api/search?{query}")
    assert api.status_code == 400
    error = api.get_json()["error"]
    assert error["status"] == 400 and error["title"] == "Bad request"
    assert error["message"].startswith(message), error["message"]
    page = client.get(f"/?{query}")
    assert page.status_code == 400 and page.mimetype == "text/html"
    assert message.replace("'", "&#39;") in page.text


def test_unknown_parameter_message_lists_what_a_search_takes(app):
    error = app.test_client().get("/api/search?treatmnt=x").get_json()["error"]
    assert error["message"] == (
        "unknown parameter 'treatmnt': a search takes q, mode, sort, page, per_page, "
        "decision_from, decision_to, injury_from, injury_to and one per facet ("
        + ", ".join(facet_names())
        + ")"
    )


def test_link_trackers_parameters_are_ignored_not_400s(app):
    client = app.test_client()
    plain = client.get("/api/search?q=valium&decision=upheld").get_json()
    tracked = client.get(
        "/api/search?q=valium&decision=upheld&utm_source=newsletter&utm_medium=email"
        "&fbclid=IwAR0x&gclid=Cj0K"
    ).get_json()
    assert tracked["total"] == plain["total"] == 5
    assert [h["letter_id"] for h in tracked["hits"]] == [h["letter_id"] for h in plain["hits"]]
    page = client.get("/?q=valium&decision=upheld&utm_campaign=dec&mc_eid=abc")
    assert page.status_code == 200
    # The page's own links (facet toggles, pages) do not carry the trackers on.
    assert "utm_campaign" not in page.text and "mc_eid" not in page.text
    # A parameter that merely resembles one is still a 400 that names it.
    assert client.get("/api/search?q=valium&utmsource=x").status_code == 400


def test_stats_takes_by_and_facets_take_none(app):
    client = app.test_client()
    assert client.get("/api/stats?by=decision&q=valium").status_code == 200
    assert client.get("/api/facets?q=valium&by=decision").status_code == 400
    assert client.get("/api/facets?q=valium&decision=upheld").status_code == 200
