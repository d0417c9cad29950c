"""Serving the web app: the app as a server runs it (`web_app`), and the production server,
granian, with one or more worker processes serving one port.

granian parses requests and writes responses in Rust, outside the interpreter lock, and runs the
WSGI app on a few Python threads per process. On the 100k-chunk load test, run alternately with
waitress (the server before it), it used 10.9-13.5 ms of CPU per request against 13.3-14.7
(BENCHMARKS.md).

One Python process runs one request's Python at a time (the interpreter lock), so on a machine
with several cores `serve --production --workers N` runs N worker processes. Each is a fresh
interpreter (spawned, not forked) that builds the app itself (`worker_app`) from the options
`serve` was given: the index's libraries hold threads and locks that a forked child must not
inherit. granian replaces a worker that dies (and stops if one keeps dying as it starts), and
stops them all on SIGTERM or Ctrl-C.
"""

from __future__ import annotations

import contextlib
import json
import multiprocessing
import os
import shutil
import socket
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

#: The environment variable that hands `serve`'s options to the worker processes.
_OPTIONS = "IMR_SEARCH_SERVER_OPTIONS"


def check_port(host: str, port: int) -> None:
    """Raise OSError (say, address in use) if host:port cannot be listened on."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(1)


def run_server(
    host: str, port: int, workers: int, threads: int, backend: str | None, data_dir: str | None
) -> None:
    """Serve the web app with granian until SIGTERM or Ctrl-C: `workers` processes of
    `threads` threads, each opening the store of `backend` and `data_dir` itself."""
    # Several workers balance their connections through counts in a shared directory.
    balance_dir = tempfile.mkdtemp(prefix="imr-search-workers-") if workers > 1 else None
    os.environ[_OPTIONS] = json.dumps(
        {"backend": backend, "data_dir": data_dir, "balance_dir": balance_dir, "port": port}
    )
    multiprocessing.set_start_method("spawn", force=True)
    try:
        _granian(host, port, workers, threads).serve()
    finally:
        if balance_dir is not None:
            shutil.rmtree(balance_dir, ignore_errors=True)


#: Seconds a client may take to send a request's headers (granian's default is 30: a flood of
#: clients sending theirs a byte at a time held every connection slot for that long).
HEADER_TIMEOUT = 5
#: Connections each worker process serves at once; beyond, new ones wait in the backlog.
MAX_CONNECTIONS = 16_384
#: Connections the kernel queues before a worker accepts them.
BACKLOG = 4096


def _raise_open_files_limit() -> int:
    """Let the server hold as many connections as the system allows (the soft limit on open
    files is often 1,024); return the limit now in force."""
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = hard if hard != resource.RLIM_INFINITY else 1 << 20
    if soft < wanted:
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def _granian(host: str, port: int, workers: int, threads: int) -> Any:
    from granian import Granian
    from granian.constants import Interfaces
    from granian.http import HTTP1Settings

    limit = _raise_open_files_limit()
    return Granian(
        "indexer.serving:worker_app",
        factory=True,
        address=host,
        port=port,
        interface=Interfaces.WSGI,
        workers=workers,
        blocking_threads=threads,
        respawn_failed_workers=True,
        # HTTP/1.1 only, as browsers and proxies speak to an app server; no websockets here.
        http="1",
        websockets=False,
        backlog=BACKLOG,
        # A slow client holds a slot until its headers time out, so slots must outnumber any
        # flood the open-files limit lets in (each connection is a file).
        backpressure=max(256, min(MAX_CONNECTIONS, limit // max(workers, 1))),
        http1_settings=HTTP1Settings(header_read_timeout=HEADER_TIMEOUT * 1000),
    )


def worker_app() -> Any:
    """Build the web app in a worker process, with the store `run_server` was given."""
    options = json.loads(os.environ[_OPTIONS])
    app = web_app(options["backend"], options["data_dir"])
    if options.get("balance_dir"):
        app.wsgi_app = Shedding(app.wsgi_app, options["balance_dir"], options["port"])
    return app


def web_app(backend: str | None, data_dir: str | None, store: Any = None) -> Any:
    """Return the web app over `store` (or the store of `backend` and `data_dir`), set up for
    serving: libraries' thread pools kept to the calling thread, the collector tuned, and the
    model and the index loading in the background."""
    from webapp import create_app

    from .embedder import open_embedder
    from .memory import collect_rarely
    from .search import SearchService
    from .stores import open_store
    from .threads import one_thread_per_call

    one_thread_per_call()
    collect_rarely()
    if store is None:
        store = open_store(backend, data_dir, damaged_ok=True)  # 503 pages until rebuilt
    service = SearchService(store, lambda: open_embedder(store, data_dir))
    app = create_app({"SERVICE": service})
    threading.Thread(target=warm_up, args=(service,), daemon=True).start()
    return app


def warm_up(service: Any) -> None:
    """Load the model and the index's columns now, not on the first searches."""
    service.embedder  # noqa: B018 - loads the model
    prepare = getattr(service.store, "prepare", None)
    if prepare is not None:
        with contextlib.suppress(Exception):  # a store that is down is reported by its pages
            prepare()


# -- balancing keep-alive connections between worker processes ------------------------------

#: How often a worker counts its connections and reads the others' counts (seconds).
_RECOUNT = 0.2
#: A worker whose count has not been written for this long (starting, or dead) is left out.
_STALE = 3.0


def should_shed(mine: int, others: list[tuple[int, float]], now: float) -> bool:
    """Whether a worker with `mine` open connections should close one, given the other
    workers' (connections, when counted): yes while a live one has two or more fewer."""
    live = [count for count, when in others if now - when < _STALE]
    return bool(live) and mine >= min(live) + 2


def open_connections(port: int) -> int:
    """Count this process's TCP connections accepted on local `port`."""
    # By its descriptors, not /proc/net/tcp: reading that walks the kernel's whole connection
    # table, 5.6 ms here however few connections there are.
    count = 0
    for fd in os.scandir("/proc/self/fd"):
        with contextlib.suppress(OSError):
            if not os.readlink(fd.path).startswith("socket:"):
                continue
            with socket.socket(fileno=os.dup(int(fd.name))) as sock:
                count += (
                    sock.family in (socket.AF_INET, socket.AF_INET6)
                    and sock.type == socket.SOCK_STREAM
                    and not sock.getsockopt(socket.SOL_SOCKET, socket.SO_ACCEPTCONN)
                    and sock.getsockname()[1] == port
                )
    return count


class Shedding:
    """WSGI middleware that keeps worker processes' keep-alive connections even.

    The kernel hands each new connection to a worker by a hash of its addresses, so 32 clients
    that keep their connections open land unevenly (11 and 21 in a run), and the busier worker's
    clients wait twice as long. Each worker counts its connections every `_RECOUNT` seconds and
    writes the count to a file in a directory all workers share; while another live worker has
    two or more fewer, it answers one request a count with `Connection: close`. The client
    reconnects, and the kernel places the new connection afresh.
    """

    def __init__(self, app: Any, directory: str, port: int) -> None:
        """Wrap `app`; counts go to `directory`, one file per worker process."""
        self.app, self.directory, self.port = app, Path(directory), port
        self._mine = self.directory / str(os.getpid())
        self._due = False
        threading.Thread(target=self._recount_forever, daemon=True).start()

    def __call__(self, environ: dict, start_response: Any) -> Any:
        """Serve a request; close its connection after it if this worker has too many."""
        if not self._due:
            return self.app(environ, start_response)
        self._due = False  # one a count: the next count sees where the client went

        def closing(status: str, headers: list, exc_info: Any = None) -> Any:
            return start_response(status, [*headers, ("Connection", "close")], exc_info)

        return self.app(environ, closing)

    def _recount_forever(self) -> None:
        while True:
            time.sleep(_RECOUNT)
            try:
                self._recount()
            except OSError:
                self._due = False  # the directory is gone (shutting down): stop balancing

    def _recount(self) -> None:
        mine, now = open_connections(self.port), time.time()
        tmp = self._mine.with_suffix(".tmp")
        tmp.write_text(f"{mine} {now}")
        os.replace(tmp, self._mine)
        others = []
        for entry in os.scandir(self.directory):
            if entry.name.isdigit() and entry.path != str(self._mine):
                with contextlib.suppress(OSError, ValueError):
                    count, when = Path(entry.path).read_text().split()
                    others.append((int(count), float(when)))
        self._due = should_shed(mine, others, now)
