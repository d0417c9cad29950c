"""Serving the web app: back end outages, request limits, headers, read-only routes, granian.

- Elasticsearch down (a loopback port nothing listens on) or stalled (a loopback server that
  accepts connections and never answers): every page and API endpoint answers 503 with the
  readable error page or the JSON error, within the configured IMR_SEARCH_ES_TIMEOUT (1 s here:
  one time-out, never multiplied by retries); /healthz says the back end is unreachable; and once
  an Elasticsearch stand-in answers on that same port the next request succeeds, without a new
  app. The app is built by `create_app` from the environment, as `imr-search serve` does.
- Request limits (URL, body, per_page), 405 for every method but GET/HEAD/OPTIONS on every
  route, no route that can write to the index.
- Security headers, literally, on every kind of response, including 500 and 503 pages.
- `imr-search serve --production` starts granian (in a subprocess) and serves the app, in one
  worker process or several, replacing a worker that dies.
"""

from __future__ import annotations

import ast
import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from indexer.search import SearchService
from indexer.stores.base import StoreUnavailable
from indexer.stores.elasticsearch import ElasticsearchStore

from . import es_fake
from .conftest import ROOT, SAMPLES
from .es_fake import FakeElasticsearch, Request

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "frame-ancestors 'none'; base-uri 'self'; form-action 'self'"
)
SVG_CSP = "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'"
HX = {"HX-Request": "true"}
UNAVAILABLE_TITLE = "Search is unavailable"
UNAVAILABLE_MESSAGE = (
    "The search back end is not answering right now. Please try again in a moment."
)
UNAVAILABLE_JSON = {
    "error": {"status": 503, "title": UNAVAILABLE_TITLE, "message": UNAVAILABLE_MESSAGE}
}
UNAVAILABLE_HTML = (
    '<section class="error" role="alert">\n'
    f"  <h1>{UNAVAILABLE_TITLE}</h1>\n"
    f"  <p>{UNAVAILABLE_MESSAGE}</p>\n"
    '  <p><a href="/">Start a new search</a></p>\n'
    "</section>"
)
ES_TIMEOUT = 1.0

# Every page and endpoint that reads the index (the model is never needed: no query is
# embedded, keyword mode or browsing only).
HTML_URLS = [
    "/",
    "/?q=klonopin&mode=keyword",
    "/letters/CM16-0230651",
    "/letters/CM16-0230651/original",
    "/similar/CM16-0230651",
    "/similar/CM16-0232543:item-1",
    "/stats",
    "/stats?by=decision&q=MRI&mode=keyword",
    "/stats/by.svg?by=treatment_class",
    "/stats/timeline.svg",
    "/export.csv",
]
JSON_URLS = [
    "/api/search?q=klonopin&mode=keyword",
    "/api/search",
    "/api/facets",
    "/api/letters/CM16-0230651",
    "/api/similar/CM16-0230651",
    "/api/similar/CM16-0232543:item-1?k=3",
    "/api/stats?by=decision",
    "/export.json",
]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def assert_security_headers(response, csp: str = CSP) -> None:
    headers = response.headers
    assert headers["Content-Security-Policy"] == csp
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Referrer-Policy"] == "same-origin"
    assert headers["X-Frame-Options"] == "DENY"
    directives = dict(
        (d.split(" ", 1) + [""])[:2] for d in (p.strip() for p in csp.split(";")) if d
    )
    # No inline script: script-src (or its fallback default-src) never allows it.
    assert "'unsafe-inline'" not in directives.get("script-src", directives["default-src"])
    assert "'unsafe-eval'" not in csp
    assert directives["frame-ancestors"] == "'none'"


class StallingServer:
    """A TCP server on `port` that accepts every connection and never sends a byte."""

    def __init__(self, port: int) -> None:
        self.sock = socket.create_server(("127.0.0.1", port), reuse_port=False)
        self.held: list[socket.socket] = []
        self._stop = False
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        self.sock.settimeout(0.1)
        while not self._stop:
            try:
                conn, _ = self.sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self.held.append(conn)

    def close(self) -> None:
        self._stop = True
        self._thread.join(timeout=5)
        for conn in self.held:
            conn.close()
        self.sock.close()


def _search_answer(request: Request) -> tuple[int, dict[str, Any]]:
    """An empty but well-formed answer to any search body the store sends."""
    aggs = (request.body or {}).get("aggregations") or {}
    return 200, {
        "took": 1,
        "timed_out": False,
        "hits": {"total": {"value": 0, "relation": "eq"}, "hits": []},
        "aggregations": {
            name: {"value": 0} if name == "letters" else {"buckets": []} for name in aggs
        },
    }


def _running_elasticsearch(monkeypatch, port: int) -> FakeElasticsearch:
    """The recording Elasticsearch stand-in, on `port` (not a free one), answering what the web
    app asks: counts, searches, and no letter. It closes each connection after its answer, so
    that once it stops nothing of it answers (as when a real server goes away)."""

    def server(_address, handler):
        class Closing(handler):
            def end_headers(self) -> None:
                self.send_header("Connection", "close")
                super().end_headers()

        return ThreadingHTTPServer(("127.0.0.1", port), Closing)

    monkeypatch.setattr(es_fake, "ThreadingHTTPServer", server)
    es = FakeElasticsearch()
    es.route("POST", r"/imr-chunks-letters/_count", (200, {"count": 2}))
    es.route("POST", r"/imr-chunks/_count", (200, {"count": 7}))
    es.route("POST", r"/imr-chunks/_search", _search_answer)
    # /healthz asks how whole the cluster is: the indices behind the aliases, then their health.
    for alias in ("imr-chunks", "imr-chunks-letters"):
        es.route("GET", rf"/_alias/{alias}", (200, {f"{alias}-1": {"aliases": {alias: {}}}}))
    es.route(
        "GET",
        r"/_cluster/health/imr-chunks-1,imr-chunks-letters-1",
        (200, {"cluster_name": "fake", "status": "green", "timed_out": False}),
    )
    es.route(
        "GET",
        r"/imr-chunks-letters/_doc/.*",
        lambda r: (404, {"_index": "imr-chunks-letters", "_id": r.path.rpartition("/")[2],
                         "found": False}),
    )  # fmt: skip
    return es


@pytest.fixture
def es_app(monkeypatch, tmp_path):
    """The app on the Elasticsearch back end at a loopback port where nothing listens (yet),
    configured only through the environment, with a 1 s request time-out."""
    port = _free_port()
    for name in ("ELASTICSEARCH_API_KEY", "ELASTICSEARCH_USERNAME", "ELASTICSEARCH_PASSWORD"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("ELASTICSEARCH_URL", f"http://127.0.0.1:{port}")
    monkeypatch.setenv("IMR_SEARCH_ES_TIMEOUT", str(ES_TIMEOUT))
    monkeypatch.setenv("IMR_SEARCH_ES_INDEX", "imr-chunks")
    monkeypatch.setenv("IMR_SEARCH_BACKEND", "elasticsearch")
    monkeypatch.setenv("IMR_SEARCH_DATA_DIR", str(tmp_path))
    from webapp import create_app

    app = create_app()  # starts although nothing answers on the port
    store = app.extensions["imr_search"].store
    assert (store.name, store.url, store.request_timeout) == (
        "elasticsearch",
        f"http://127.0.0.1:{port}",
        ES_TIMEOUT,
    )
    yield app, port
    store.close()


def _timed_get(client, url: str, headers: dict | None = None):
    start = time.monotonic()
    response = client.get(url, headers=headers or {})
    return response, time.monotonic() - start


def _assert_unavailable(client, url: str, headers: dict | None = None) -> float:
    """GET `url`, check the 503 answer (page, partial or JSON), return how long it took."""
    response, seconds = _timed_get(client, url, headers)
    assert response.status_code == 503, (url, response.status_code)
    if url.startswith("/api/") or url.split("?")[0].endswith(".json"):
        assert response.mimetype == "application/json"
        assert response.get_json() == UNAVAILABLE_JSON
        assert_security_headers(response)
    elif headers == HX:
        assert response.text == UNAVAILABLE_HTML
    else:
        assert response.mimetype == "text/html"
        assert f"<title>{UNAVAILABLE_TITLE} · IMR search</title>" in response.text
        assert UNAVAILABLE_HTML in response.text
        assert_security_headers(response)
    assert "Traceback" not in response.text and "127.0.0.1" not in response.text
    return seconds


def _assert_healthz_unavailable(client, port: int, reason: str) -> float:
    response, seconds = _timed_get(client, "/healthz")
    assert response.status_code == 503
    body = response.get_json()
    assert set(body) == {"status", "backend", "error"}
    assert (body["status"], body["backend"]) == ("unavailable", "elasticsearch")
    assert body["error"].startswith(
        f"Elasticsearch at http://127.0.0.1:{port} is not reachable: {reason}"
    ), body["error"]
    return seconds


ALL_URLS = [(url, None) for url in HTML_URLS + JSON_URLS] + [("/", HX), ("/similar/X", HX)]
TIMINGS: dict[str, float] = {}


def test_elasticsearch_down_stalled_then_back(es_app, monkeypatch):
    app, port = es_app
    client = app.test_client()

    # 1. Nothing listens: the connection is refused, 503 at once.
    refused = [_assert_unavailable(client, url, headers) for url, headers in ALL_URLS]
    refused.append(_assert_healthz_unavailable(client, port, "ConnectionError"))
    # Well inside one time-out (1 s) plus scheduling slack: on a loaded CI machine one of these
    # took 1.34 s, so the bound is the stalled case's.
    assert max(refused) < 1.8, refused

    # 2. A server accepts and never answers: 503 after one time-out (1 s), not two.
    stall = StallingServer(port)
    try:
        stalled = [_assert_unavailable(client, url, headers) for url, headers in ALL_URLS]
        stalled.append(_assert_healthz_unavailable(client, port, "ConnectionTimeout"))
    finally:
        stall.close()
    assert stall.held, "the requests reached the stalling server"
    assert min(stalled) >= 0.9 * ES_TIMEOUT, stalled
    assert max(stalled) < 1.8 * ES_TIMEOUT, stalled

    # 3. Elasticsearch answers on the same port again: the same app serves at once.
    with _running_elasticsearch(monkeypatch, port) as es:
        healthz = client.get("/healthz")
        assert healthz.status_code == 200
        assert healthz.get_json() == {
            "status": "ok",
            "backend": "elasticsearch",
            "letters": 2,
            "chunks": 7,
        }
        for url in ("/", "/?q=klonopin&mode=keyword", "/stats", "/stats/timeline.svg"):
            assert client.get(url).status_code == 200, url
        assert client.get("/", headers=HX).status_code == 200
        api = client.get("/api/search?q=klonopin&mode=keyword")
        assert api.status_code == 200
        assert (api.get_json()["total"], api.get_json()["hits"]) == (0, [])
        assert client.get("/export.csv").text == (
            "case_number,decision_date,request,treatment,treatment_class,decision,guideline,"
            "letter_url\n"
        )
        assert client.get("/export.json").get_json() == {"items": []}
        # Elasticsearch says there is no such letter: a 404 now, not a 503.
        assert client.get("/letters/CM16-0230651").status_code == 404
        assert client.get("/api/letters/CM16-0230651").status_code == 404
        assert es.unrouted == []
        assert es.find("POST", r"/imr-chunks/_search")

    # 4. And down again: 503 again, nothing cached from the good times.
    assert _assert_healthz_unavailable(client, port, "ConnectionError") < 1.8
    assert _assert_unavailable(client, "/") < 1.8
    TIMINGS.update(refused_max=max(refused), stalled_min=min(stalled), stalled_max=max(stalled))
    print(f"\nElasticsearch outage timings (s): {TIMINGS}")


def test_the_elasticsearch_timeout_comes_from_the_environment():
    assert ElasticsearchStore.from_env({}).request_timeout == 5.0
    store = ElasticsearchStore.from_env({"IMR_SEARCH_ES_TIMEOUT": "2.5"})
    assert store.request_timeout == 2.5
    client = store.client  # the client passes these with every request
    assert (client._request_timeout, client._retry_on_timeout, client._max_retries) == (
        2.5,
        False,
        1,
    )
    store.close()


# -- 500 and 503 from a failing service: readable, headers, no details leak --------------------


class _FailingStore:
    name = "failing"
    root = "/nonexistent"

    def __init__(self, error: Exception) -> None:
        self.error = error

    def __getattr__(self, name: str):
        def fail(*args: Any, **kwargs: Any):
            raise self.error

        return fail


def _failing_app(error: Exception):
    from webapp import create_app

    service = SearchService(_FailingStore(error), lambda: None)
    return create_app({"SERVICE": service})


def test_unexpected_errors_are_a_readable_500_with_the_headers():
    client = _failing_app(RuntimeError("secret detail /etc/passwd")).test_client()
    for url, headers in [("/", None), ("/", HX), ("/letters/X", None), ("/api/search", None)]:
        response = client.get(url, headers=headers or {})
        assert response.status_code == 500
        assert_security_headers(response)
        assert "secret detail" not in response.text and "Traceback" not in response.text
        if url.startswith("/api/"):
            assert response.get_json() == {
                "error": {
                    "status": 500,
                    "title": "Something went wrong",
                    "message": "An unexpected error occurred; it has been logged.",
                }
            }
        else:
            assert "<h1>Something went wrong</h1>" in response.text


def test_store_unavailable_is_a_503_everywhere_with_the_headers():
    client = _failing_app(StoreUnavailable("down")).test_client()
    for url, headers in ALL_URLS:
        _assert_unavailable(client, url, headers)
    healthz = client.get("/healthz")
    assert healthz.status_code == 503
    assert healthz.get_json() == {"status": "unavailable", "backend": "failing", "error": "down"}
    assert_security_headers(healthz)


# -- headers on every kind of response -----------------------------------------------------------


@pytest.fixture(scope="module")
def client(app):
    return app.test_client()


@pytest.mark.parametrize(
    ("url", "headers", "status", "mimetype", "csp"),
    [
        ("/?q=klonopin&mode=keyword", None, 200, "text/html", CSP),
        ("/?q=klonopin&mode=keyword", HX, 200, "text/html", CSP),
        ("/letters/CM16-0230651", None, 200, "text/html", CSP),
        ("/similar/CM16-0230651", HX, 200, "text/html", CSP),
        ("/stats", None, 200, "text/html", CSP),
        ("/api/search?q=klonopin&mode=keyword", None, 200, "application/json", CSP),
        ("/api/letters/CM16-0230651", None, 200, "application/json", CSP),
        ("/stats/by.svg?by=decision", None, 200, "image/svg+xml", SVG_CSP),
        ("/stats/timeline.svg", None, 200, "image/svg+xml", SVG_CSP),
        ("/export.csv?q=klonopin&mode=keyword", None, 200, "text/csv", CSP),
        ("/export.json", None, 200, "application/json", CSP),
        ("/healthz", None, 200, "application/json", CSP),
        ("/letters/CM16-0230651/original", None, 200, "application/pdf", CSP),
        ("/static/app.css", None, 200, "text/css", CSP),
        ("/static/vendor/htmx-2.0.11.min.js", None, 200, "text/javascript", CSP),
        ("/static/favicon.svg", None, 200, "image/svg+xml", CSP),
        ("/nope", None, 404, "text/html", CSP),
        ("/nope", HX, 404, "text/html", CSP),
        ("/api/nope", None, 404, "application/json", CSP),
        ("/?mode=fuzzy", None, 400, "text/html", CSP),
        ("/api/search?mode=fuzzy", None, 400, "application/json", CSP),
        ("/?q=" + "a" * 40000, None, 414, "text/html", CSP),
    ],
)
def test_every_kind_of_response_has_the_security_headers(
    client, url, headers, status, mimetype, csp
):
    response = client.get(url, headers=headers or {})
    assert response.status_code == status
    assert response.mimetype == mimetype
    assert_security_headers(response, csp)


def test_error_responses_to_other_methods_have_the_headers(client):
    response = client.post("/")
    assert response.status_code == 405
    assert_security_headers(response)


# -- request limits -------------------------------------------------------------------------------

URL_LIMIT = 32 * 1024


def test_an_address_over_the_limit_is_414_with_a_readable_message(client):
    # Exactly at the limit is served (healthz ignores its query string); one byte more is not.
    at_limit = "/healthz?x=" + "a" * (URL_LIMIT - len("/healthz") - len("x="))
    assert client.get(at_limit).status_code == 200
    over = at_limit + "a"
    response = client.get(over)
    assert response.status_code == 414
    assert "<h1>Request URI Too Long</h1>" in response.text
    assert (
        f"<p>The address is {URL_LIMIT + 1} bytes long; the limit is {URL_LIMIT}. "
        "Shorten the query or remove some filters.</p>"
    ) in response.text
    api = client.get("/api/search?q=" + "a" * URL_LIMIT)
    assert api.status_code == 414
    assert api.get_json() == {
        "error": {
            "status": 414,
            "title": "Request URI Too Long",
            "message": f"The address is {URL_LIMIT + len('/api/search') + 2} bytes long; the "
            f"limit is {URL_LIMIT}. Shorten the query or remove some filters.",
        }
    }


def test_request_bodies_are_refused(client):
    too_big = b"x" * (64 * 1024 + 1)
    for method in (client.get, client.post):
        response = method("/api/search", data=too_big)
        assert response.status_code == 413
        assert response.get_json() == {
            "error": {
                "status": 413,
                "title": "Request Entity Too Large",
                "message": "No page or API endpoint here accepts a request body.",
            }
        }
    # A small body on a GET is ignored; on any other method it is a 405.
    assert client.get("/healthz", data=b"x" * 100).status_code == 200
    assert client.post("/healthz", data=b"x" * 100).status_code == 405


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("/api/search?per_page=101", "per_page must be between 1 and 100"),
        ("/api/search?per_page=0", "per_page must be between 1 and 100"),
        ("/api/search?page=10001", "page must be between 1 and 10000"),
        (
            "/api/search?q=" + "a" * 30000 + "&per_page=x",
            "per_page must be a whole number, not 'x'",
        ),
        ("/api/similar/CM16-0230651?k=51", "k must be a whole number from 1 to 50"),
    ],
)
def test_page_sizes_are_capped(client, url, message):
    response = client.get(url)
    assert response.status_code == 400
    assert response.get_json()["error"]["message"] == message


# -- nothing writes ------------------------------------------------------------------------------

ROUTES = [
    ("/", "search.index"),
    ("/api/facets", "api.facets"),
    ("/api/letters/<letter_id>", "api.letter"),
    ("/api/search", "api.search"),
    ("/api/similar/<source_id>", "api.similar"),
    ("/api/stats", "api.stats"),
    ("/export.csv", "export.export_csv"),
    ("/export.json", "export.export_json"),
    ("/facets/<name>", "search.facet"),
    ("/healthz", "health.healthz"),
    ("/letters/<letter_id>", "letters.letter"),
    ("/letters/<letter_id>/original", "letters.original"),
    ("/letters/<letter_id>/similar-cases", "letters.similar_cases"),
    ("/similar/<source_id>", "letters.similar"),
    ("/static/<path:filename>", "static"),
    ("/stats", "stats.stats"),
    ("/stats/by.svg", "stats.by_chart"),
    ("/stats/timeline.svg", "stats.timeline_chart"),
]
EXAMPLES = {
    "/api/letters/<letter_id>": "/api/letters/CM16-0230651",
    "/api/similar/<source_id>": "/api/similar/CM16-0230651",
    "/letters/<letter_id>": "/letters/CM16-0230651",
    "/letters/<letter_id>/original": "/letters/CM16-0230651/original",
    "/letters/<letter_id>/similar-cases": "/letters/CM16-0230651/similar-cases",
    "/similar/<source_id>": "/similar/CM16-0230651",
    "/static/<path:filename>": "/static/app.css",
    "/api/stats": "/api/stats?by=decision",
    "/facets/<name>": "/facets/decision",
}
WRITES = {
    "upsert",
    "delete",
    "begin_reindex",
    "finish_reindex",
    "abort_reindex",
    "reindex_target",
    "ensure_index",
    "create_generation",
    "use_generation",
    "swap_aliases",
    "drop_indices",
    "index_letters",
}


def test_every_route_only_reads(app):
    rules = sorted(app.url_map.iter_rules(), key=lambda r: r.rule)
    assert [(r.rule, r.endpoint) for r in rules] == ROUTES
    for rule in rules:
        assert rule.methods == {"GET", "HEAD", "OPTIONS"}, rule


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "PATCH"])
def test_other_methods_are_405_on_every_route(client, method):
    for rule, _ in ROUTES:
        url = EXAMPLES.get(rule, rule)
        response = client.open(url, method=method, data=b"{}")
        assert response.status_code == 405, (method, url)
        assert set(response.headers["Allow"].split(", ")) == {"GET", "HEAD", "OPTIONS"}


class _ReadOnlyStore:
    """Passes reads to the real store; any other call fails the test."""

    READS = {"name", "root", "counts", "health", "keyword", "knn", "knn_many", "highlight",
             "facet_counts", "count_letters", "letter_shares", "stats", "letter", "letter_chunks",
             "complete", "cluster_status"}  # fmt: skip

    def __init__(self, store) -> None:
        self._store = store
        self.called: set[str] = set()

    def __getattr__(self, name: str):
        if name not in self.READS:
            raise AssertionError(f"the web app used store.{name}")
        self.called.add(name)
        return getattr(self._store, name)


def test_the_web_app_never_calls_a_store_write(web_service):
    from webapp import create_app

    store = _ReadOnlyStore(web_service.store)
    service = SearchService(store, lambda: web_service.embedder)
    client = create_app({"SERVICE": service}).test_client()
    for rule, _ in ROUTES:
        url = EXAMPLES.get(rule, rule)
        # The letter page's similar cases are a fragment htmx asks for (else a redirect).
        headers = {"HX-Request": "true"} if rule.endswith("/similar-cases") else {}
        for method in ("GET", "HEAD"):
            response = client.open(url, method=method, headers=headers)
            assert response.status_code == 200, (method, url)
    assert client.get("/?q=klonopin").status_code == 200  # hybrid: the model too
    assert client.get("/?q=klonopin+pain").status_code == 200  # two words: their shares
    assert client.get("/similar/CM16-0232543:item-1").status_code == 200
    assert store.called == store.READS - {"root"}
    # And no module of the web app names a write.
    for path in sorted((ROOT / "webapp").rglob("*.py")):
        tree = ast.parse(path.read_text())
        names = {n.attr for n in ast.walk(tree) if isinstance(n, ast.Attribute)}
        names |= {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}
        assert not names & WRITES, (path, names & WRITES)


# -- the production server --------------------------------------------------------------------


def _cli(*args: str, env: dict[str, str]) -> subprocess.Popen:
    exe = Path(sys.executable).parent / "imr-search"
    cmd = [str(exe)] if exe.exists() else [sys.executable, "-m", "indexer.cli"]
    return subprocess.Popen(
        [*cmd, *args],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )


def _wait_for(url: str, proc: subprocess.Popen, seconds: float):
    """Poll `url` until it answers (any status); return (status, headers, body)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.communicate()
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                return response.status, response.headers, response.read()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.headers, exc.read()
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            time.sleep(0.5)
    raise AssertionError(f"{url} did not answer in {seconds} s")


def _raw(port: int, method: str, target: str, body: bytes | None = None):
    """Send a request line exactly as given (no client-side path clean-up)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    conn.putrequest(method, target, skip_accept_encoding=True)
    if body is not None:
        conn.putheader("Content-Length", str(len(body)))
    conn.endheaders(body)
    response = conn.getresponse()
    result = response.status, response.headers, response.read()
    conn.close()
    return result


def _stop(proc: subprocess.Popen) -> tuple[int, str, str]:
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=20)
    return proc.returncode, out, err


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("IMR_SEARCH_", "ELASTIC"))}
    env.update(HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", **extra)
    return env


SEED_CHUNKS = 19  # `imr-search chunks samples/letters/seeds` lists 19


def test_serve_production_runs_granian_on_the_embedded_back_end(tmp_path):
    port = _free_port()
    # No --threads: the embedded store's default is 2 (its searches hold the interpreter lock).
    env = _env(IMR_SEARCH_SAMPLES=str(SAMPLES / "seeds"))
    proc = _cli("--data-dir", str(tmp_path), "serve", "--production", "--port", str(port), env=env)
    try:
        base = f"http://127.0.0.1:{port}"
        status, headers, body = _wait_for(base + "/healthz", proc, 300)
        assert status == 200
        assert headers["Server"] == "granian"
        assert json.loads(body) == {
            "status": "ok",
            "backend": "embedded",
            "letters": 5,
            "chunks": SEED_CHUNKS,
        }
        assert_security_headers(_Headers(headers))

        status, headers, body = _raw(port, "GET", "/?q=klonopin&mode=keyword")
        assert status == 200 and b"L-8bfe781363af6ef1" in body
        assert_security_headers(_Headers(headers))
        status, _, body = _raw(port, "GET", "/letters/L-8bfe781363af6ef1/original")
        assert (status, body) == (
            200,
            (SAMPLES / "seeds" / "001_0f8fd79b2ff79f8d.txt").read_bytes(),
        )
        # Traversal attempts, sent as raw request lines, reach nothing outside the index.
        for target in (
            "/letters/../../../../etc/passwd",
            "/letters/..%2f..%2f..%2fetc%2fpasswd/original",
            "/letters/%2e%2e%2f%2e%2e%2fpyproject.toml/original",
            "/static/../../pyproject.toml",
            "/static/..%2f..%2fpyproject.toml",
            "/static/%2e%2e/%2e%2e/pyproject.toml",
        ):
            status, _, body = _raw(port, "GET", target)
            assert status == 404, (target, status)
            assert b"root:" not in body and b"[build-system]" not in body
        # Methods, bodies and addresses over the limits.
        assert _raw(port, "POST", "/", b"q=1")[0] == 405
        assert _raw(port, "DELETE", "/letters/L-8bfe781363af6ef1")[0] == 405
        assert _raw(port, "POST", "/api/search", b"x" * (64 * 1024 + 1))[0] == 413
        status, _, body = _raw(port, "GET", "/?q=" + "a" * 40000)
        assert status == 414 and b"<h1>Request URI Too Long</h1>" in body
    finally:
        code, out, err = _stop(proc)
    assert code == 0, err
    assert f"Serving on http://127.0.0.1:{port}/ (embedded back end, granian, 2 threads)" in out


def test_serve_production_starts_while_elasticsearch_is_down_and_recovers(tmp_path, monkeypatch):
    port, es_port = _free_port(), _free_port()
    env = _env(
        ELASTICSEARCH_URL=f"http://127.0.0.1:{es_port}",
        IMR_SEARCH_ES_TIMEOUT="1",
        IMR_SEARCH_DATA_DIR=str(tmp_path),
    )
    args = ("serve", "--production", "--port", str(port), "--no-samples")  # 8 threads: I/O
    proc = _cli(*args, env=env)
    try:
        base = f"http://127.0.0.1:{port}"
        status, headers, body = _wait_for(base + "/healthz", proc, 120)
        assert (status, headers["Server"]) == (503, "granian")
        assert json.loads(body)["status"] == "unavailable"
        status, headers, body = _raw(port, "GET", "/api/search")
        assert (status, json.loads(body)) == (503, UNAVAILABLE_JSON)
        with _running_elasticsearch(monkeypatch, es_port):
            status, _, body = _raw(port, "GET", "/healthz")
            assert (status, json.loads(body)) == (
                200,
                {"status": "ok", "backend": "elasticsearch", "letters": 2, "chunks": 7},
            )
            assert _raw(port, "GET", "/api/search")[0] == 200
    finally:
        code, out, err = _stop(proc)
    assert code == 0, err
    assert f"Elasticsearch at http://127.0.0.1:{es_port} is not reachable" in err
    assert "serving anyway (503 until it answers)" in err
    assert "(elasticsearch back end, granian, 8 threads)" in out


class _Headers:
    """http.client headers in the shape assert_security_headers reads."""

    def __init__(self, headers) -> None:
        self.headers = headers


def _workers(pid: int) -> set[int]:
    """The server's worker processes: its children started by multiprocessing's spawn (its
    other child is multiprocessing's resource tracker)."""
    path = Path(f"/proc/{pid}/task/{pid}/children")
    children = {int(p) for p in path.read_text().split()} if path.exists() else set()
    workers = set()
    for child in children:
        try:
            if b"spawn_main" in Path(f"/proc/{child}/cmdline").read_bytes():
                workers.add(child)
        except FileNotFoundError:
            pass  # exited meanwhile
    return workers


def test_serve_production_with_two_worker_processes(tmp_path):
    """Two server processes share the port; one that dies is replaced; SIGTERM stops all."""
    port = _free_port()
    env = _env(IMR_SEARCH_SAMPLES=str(SAMPLES / "seeds"))
    args = ("--data-dir", str(tmp_path), "serve", "--production", "--workers", "2")
    proc = _cli(*args, "--threads", "2", "--port", str(port), env=env)
    try:
        base = f"http://127.0.0.1:{port}"
        status, headers, body = _wait_for(base + "/healthz", proc, 300)
        assert (status, headers["Server"]) == (200, "granian")
        workers = _workers(proc.pid)
        assert len(workers) == 2
        for _ in range(10):
            status, _, body = _raw(port, "GET", "/?q=klonopin&mode=keyword")
            assert status == 200 and b"L-8bfe781363af6ef1" in body
        victim = min(workers)
        os.kill(victim, signal.SIGKILL)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and (
            victim in _workers(proc.pid) or len(_workers(proc.pid)) < 2
        ):
            time.sleep(0.2)
        replaced = _workers(proc.pid)
        assert len(replaced) == 2 and victim not in replaced
        status, _, body = _wait_for(base + "/api/search?q=klonopin&mode=keyword", proc, 120)
        assert status == 200 and json.loads(body)["total"] == 2  # seeds 000 and 001
    finally:
        code, out, err = _stop(proc)
    assert code == 0, err
    assert "(embedded back end, granian, 2 processes of 2 threads)" in out
    assert "[ERROR] Unexpected exit from worker-" in out
    assert "[INFO] Respawning worker-" in out
    assert all(not Path(f"/proc/{pid}").exists() for pid in replaced)


def test_a_worker_sheds_a_connection_while_a_live_worker_has_two_fewer():
    from indexer.serving import should_shed

    now = 1000.0
    assert should_shed(18, [(14, now - 0.1)], now) is True
    assert should_shed(17, [(15, now - 0.1)], now) is True
    assert should_shed(17, [(16, now - 0.1)], now) is False  # one apart: as even as 33 allows
    assert should_shed(16, [(16, now - 0.1)], now) is False
    assert should_shed(3, [(9, now - 0.1)], now) is False  # the other has more
    assert should_shed(9, [], now) is False  # alone
    # A worker that has not counted for over 3 s (starting, stuck or dead) is left out.
    assert should_shed(9, [(0, now - 3.5)], now) is False
    assert should_shed(9, [(0, now - 3.5), (7, now)], now) is True


def test_a_process_counts_the_connections_accepted_on_its_port():
    from indexer.serving import open_connections

    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        clients = [socket.create_connection(("127.0.0.1", port)) for _ in range(6)]
        accepted = [listener.accept()[0] for _ in range(5)]
        try:
            # Five accepted; the clients' own sockets and the listener are not connections on it.
            assert open_connections(port) == 5
            accepted.pop().close()
            assert open_connections(port) == 4
        finally:
            for sock in clients + accepted:
                sock.close()


def _connections_per_process(port: int, pids: set[int]) -> dict[int, int]:
    """Established TCP connections on local `port`, by the process holding them."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            local, state, inode = fields[1], fields[3], fields[9]
            if int(local.rsplit(":", 1)[1], 16) == port and state == "01":
                inodes.add(f"socket:[{inode}]")
    counts = {}
    for pid in pids:
        fds = Path(f"/proc/{pid}/fd")
        counts[pid] = sum(
            1 for fd in fds.iterdir() if os.path.exists(fd) and os.readlink(fd) in inodes
        )
    return counts


def test_workers_even_out_keep_alive_connections(tmp_path):
    """32 clients that keep their connections open, as wrk and browsers do, end up 16 and 16
    (or 15 and 17) on two workers, however the kernel first spread them; no request fails."""
    port = _free_port()
    env = _env(IMR_SEARCH_SAMPLES=str(SAMPLES / "seeds"))
    args = ("--data-dir", str(tmp_path), "serve", "--production", "--workers", "2")
    proc = _cli(*args, "--port", str(port), env=env)
    clients = []
    try:
        _wait_for(f"http://127.0.0.1:{port}/healthz", proc, 300)
        for _ in range(32):
            client = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            client.connect()
            clients.append(client)
        closed, counts = 0, {}
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            for client in clients:
                # A connection the server closed is opened again by http.client, as wrk does.
                client.request("GET", "/healthz")
                response = client.getresponse()
                assert response.status == 200 and response.read().startswith(b'{"status":"ok"')
                closed += response.will_close
            counts = _connections_per_process(port, _workers(proc.pid))
            if sorted(counts.values()) in ([16, 16], [15, 17]):
                break
            time.sleep(0.05)
        assert sorted(counts.values()) in ([16, 16], [15, 17]), (counts, closed)
    finally:
        for client in clients:
            client.close()
        code, out, err = _stop(proc)
    assert code == 0, err


def test_serve_with_workers_on_a_port_in_use_says_so(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        args = ("--data-dir", str(tmp_path), "serve", "--production", "--workers", "2")
        proc = _cli(*args, "--no-samples", "--port", str(port), env=_env())
        out, err = proc.communicate(timeout=120)
    assert proc.returncode == 1
    assert f"Error: cannot listen on 127.0.0.1:{port}: Address already in use" in err
    assert "Traceback" not in err


def test_workers_need_the_production_server(tmp_path):
    proc = _cli("--data-dir", str(tmp_path), "serve", "--workers", "2", env=_env())
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 2
    assert "Error: --workers needs --production" in err
