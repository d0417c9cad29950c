"""A recording stand-in for Elasticsearch at the HTTP boundary, for the store's client-path tests.

The store's own tests use it only where a fault must be injected that a real server cannot
produce on demand (a refusal through every retry, a failed alias swap, an error status, an old
version); what a working server does is tested against a real one (ELASTICSEARCH_URL). It
records what the official client sends (method, path, query string, JSON or NDJSON body) and
answers with the canned responses each test routes. Its one answer of its own is to the
store's first request, `GET /_nodes/_all/_none` (the nodes' version: 9.2.4, or `version`; none
with `version=None`); any other request no test routed is answered 500 and listed in
`unrouted`, so a test cannot pass on an answer the fake made up.

Every answer carries `X-Elastic-Product: Elasticsearch`, which the 9.x client checks on each
successful response before it accepts the server as Elasticsearch.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit


@dataclass
class Request:
    """One request the client sent."""

    method: str
    path: str  # percent-decoded, e.g. "/imr-chunks/_search"
    query: dict[str, str]
    headers: dict[str, str]
    body: Any = None  # parsed JSON; a list of parsed lines for NDJSON; None when empty

    @property
    def lines(self) -> list[Any]:
        """The NDJSON lines of a bulk body."""
        return self.body if isinstance(self.body, list) else []


Answer = tuple[int, Any]
Responder = Answer | Callable[[Request], Answer]


@dataclass
class _Route:
    method: str
    pattern: re.Pattern[str]
    responder: Responder
    times: int | None  # answers left; None = unlimited


@dataclass
class FakeElasticsearch:
    """`with FakeElasticsearch() as es:` serves on `es.url` (127.0.0.1, a free port)."""

    version: str | None = "9.2.4"
    requests: list[Request] = field(default_factory=list)
    unrouted: list[Request] = field(default_factory=list)
    _routes: list[_Route] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _server: ThreadingHTTPServer | None = None
    _thread: threading.Thread | None = None

    def __post_init__(self) -> None:
        if self.version is not None:
            nodes = {"nodes": {"fake-node-1": {"version": self.version}}}
            self.route("GET", r"/_nodes/_all/_none", (200, nodes))

    def route(
        self, method: str, path: str, responder: Responder, *, times: int | None = None
    ) -> None:
        """Answer `method` requests whose path fully matches the regex `path` with `responder`:
        `(status, json_body)` or a function of the Request returning one. The first route
        that matches (and has answers left) answers."""
        self._routes.append(_Route(method.upper(), re.compile(path), responder, times))

    @property
    def url(self) -> str:
        assert self._server is not None, "the fake is not started"
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def find(self, method: str, path: str) -> list[Request]:
        """Return the recorded requests of `method` whose path fully matches regex `path`."""
        rx = re.compile(path)
        return [r for r in self.requests if r.method == method.upper() and rx.fullmatch(r.path)]

    def _answer(self, request: Request) -> Answer:
        with self._lock:
            self.requests.append(request)
            for route in self._routes:
                if route.method == request.method and route.pattern.fullmatch(request.path):
                    if route.times is not None:
                        if route.times <= 0:
                            continue
                        route.times -= 1
                    responder = route.responder
                    break
            else:
                self.unrouted.append(request)
                return 500, {
                    "error": {"type": "fake_unrouted", "reason": "no canned answer"},
                    "status": 500,
                }
        return responder(request) if callable(responder) else responder

    def __enter__(self) -> FakeElasticsearch:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _handle(self) -> None:
                split = urlsplit(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                body: Any = None
                if raw.strip():
                    text = raw.decode("utf-8")
                    if "ndjson" in (self.headers.get("Content-Type") or ""):
                        body = [json.loads(line) for line in text.splitlines() if line.strip()]
                    else:
                        body = json.loads(text)
                request = Request(
                    method=self.command,
                    path=unquote(split.path),
                    query={k: v[-1] for k, v in parse_qs(split.query).items()},
                    headers={k.lower(): v for k, v in self.headers.items()},
                    body=body,
                )
                status, answer = fake._answer(request)
                payload = b"" if answer is None else json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("X-Elastic-Product", "Elasticsearch")
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(payload)

            do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = _handle

            def log_message(self, *args: Any) -> None:  # keep test output clean
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._server is not None and self._thread is not None
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


def bulk_answer(
    failures: dict[str, tuple[int, dict[str, Any]]] | None = None,
    missing: set[str] | frozenset[str] = frozenset(),
) -> Callable:
    """A `_bulk` responder: every action succeeds (`index` 201, `delete` 200) except the
    `_id`s in `failures` (`_id` -> (status, error object)); a `delete` of an `_id` in
    `missing` finds nothing (404 `not_found`, not an error, as Elasticsearch answers it)."""
    failures = failures or {}

    def answer(request: Request) -> Answer:
        items = []
        lines = request.lines
        i = 0
        while i < len(lines):
            ((op, meta),) = lines[i].items()
            i += 1 if op == "delete" else 2
            item: dict[str, Any] = {"_index": meta.get("_index"), "_id": meta.get("_id")}
            if meta.get("_id") in failures:
                status, error = failures[meta["_id"]]
                item.update(status=status, error=error)
            elif op == "delete" and meta.get("_id") in missing:
                item.update(status=404, result="not_found", _version=1)
            elif op == "delete":
                item.update(status=200, result="deleted", _version=2)
            else:
                item.update(status=201, result="created", _version=1)
            items.append({op: item})
        errors = any("error" in next(iter(it.values())) for it in items)
        return 200, {"took": 1, "errors": errors, "items": items}

    return answer


SHARDS = {"total": 1, "successful": 1, "skipped": 0, "failed": 0}


def route_scroll(es: FakeElasticsearch, index: str, ids: list[str]) -> None:
    """Answer the scroll (`helpers.scan`) over the regex `index` with the hits `ids` in one
    page: the first search, the next (empty) page and the clearing of the scroll."""
    hits = [{"_index": index, "_id": i, "_score": None} for i in ids]
    first = {"_scroll_id": "fake-scroll", "_shards": SHARDS, "hits": {"hits": hits}}
    es.route("POST", rf"/{index}/_search", (200, first), times=1)
    es.route(
        "POST",
        r"/_search/scroll",
        (200, {"_scroll_id": "fake-scroll", "_shards": SHARDS, "hits": {"hits": []}}),
        times=1 if hits else 0,
    )
    es.route("DELETE", r"/_search/scroll", (200, {"succeeded": True, "num_freed": 1}), times=1)


def mget_answer(found: set[str] | frozenset[str] = frozenset()) -> Callable:
    """A `_mget` responder (ids in the body, `_source=false`): the `_id`s in `found` exist."""

    def answer(request: Request) -> Answer:
        index = request.path.split("/")[1]
        docs = [
            {"_index": index, "_id": i, "found": True, "_version": 1, "_seq_no": 0,
             "_primary_term": 1} if i in found else {"_index": index, "_id": i, "found": False}
            for i in request.body["ids"]
        ]  # fmt: skip
        return 200, {"docs": docs}

    return answer
