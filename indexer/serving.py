"""The production server: waitress, in one process or in several sharing one listening socket.

One Python process serves one request's Python at a time (the interpreter lock), so on a machine
with several cores `serve --production --workers N` starts N server processes on one listening
socket that the parent binds. Each worker is a fresh interpreter (not a fork) that opens the index
itself: the index's libraries hold threads and locks that a forked child must not inherit. The
parent restarts a worker that dies and stops them all on SIGTERM or Ctrl-C.

The workers take connections least-loaded first. Waitress accepts eagerly, so on a shared socket
whichever worker woke first took most of a burst (measured: 26 of 32 keep-alive connections on
one worker, 6 on the other); one socket per worker (SO_REUSEPORT) spread them by a hash of the
client's address, still unevenly (8/24, 14/18, 12/20). So each worker publishes its open
connections in a table the parent shares with all of them (`Balance`), and listens for new ones
only while no live worker has fewer.
"""

from __future__ import annotations

import mmap
import os
import signal
import socket
import subprocess
import sys
import time
from typing import Any

import numpy as np

#: A worker that dies sooner than this after its start is not restarted (it would die again).
_MIN_LIFETIME = 10.0


def serve_app(
    app: Any,
    threads: int,
    host: str = "",
    port: int = 0,
    fd: int | None = None,
    balance: Balance | None = None,
) -> None:
    """Serve `app` with waitress on host:port, or on the listening socket `fd` given by a parent
    (taking connections in turn with the other workers of `balance`)."""
    import logging

    import waitress
    from waitress.server import BaseWSGIServer

    logging.basicConfig()  # waitress logs its warnings, as `waitress.serve` would set up

    where: dict[str, Any] = {"host": host, "port": port}
    if fd is not None:
        where = {"sockets": [socket.socket(fileno=fd)]}
    server = waitress.create_server(
        app,
        threads=threads,
        # Bodies and headers are refused by the server before they reach the app; the header
        # limit leaves room for the app's own, readable, 414 on a long address.
        max_request_body_size=app.config["MAX_CONTENT_LENGTH"],
        max_request_header_size=app.config["MAX_URL_LENGTH"] + 32 * 1024,
        **where,
    )
    if balance is not None:
        for listener in list(server._map.values()):
            if isinstance(listener, BaseWSGIServer):
                balance.gate(listener)
    server.print_listen("Serving on http://{}:{}")
    server.run()


#: A worker that has not published its connections for this long (starting, or dead) is left out.
_STALE = 3.0


class Balance:
    """Least-connections accepting among worker processes: a table, in memory the parent shares
    with its workers, of each worker's open connections and when it last published them."""

    def __init__(self, fd: int, slot: int) -> None:
        """Map the table in file `fd` (made by `Balance.create`); this worker writes row `slot`."""
        self.slot = slot
        self._mmap = mmap.mmap(fd, os.fstat(fd).st_size)
        # (connections, time.monotonic() when published) per worker. Aligned 8-byte stores are
        # whole on the machines we run on; a stale read only misplaces one connection.
        self.table = np.frombuffer(self._mmap, dtype=np.float64).reshape(-1, 2)

    @staticmethod
    def create(workers: int) -> int:
        """Return the descriptor of a zeroed table for `workers` workers, for them to inherit."""
        fd = os.memfd_create("imr-search-workers", 0)
        os.ftruncate(fd, workers * 16)
        return fd

    def should_accept(self, mine: int, now: float) -> bool:
        """Publish this worker's `mine` open connections at `now`; return whether no live worker
        has fewer, so that this one should take the next."""
        self.table[self.slot] = (mine, now)
        live = now - self.table[:, 1] < _STALE
        live[self.slot] = False
        return bool(not live.any() or mine <= self.table[live, 0].min())

    def gate(self, listener: Any) -> None:
        """Make waitress's `listener` listen only while `should_accept` says so."""
        from waitress.channel import HTTPChannel

        readable = listener.readable  # waitress's own check: maintenance, connection limit

        def balanced() -> bool:
            # Asked on every turn of waitress's loop, at least once a second.
            ready = readable()
            mine = sum(isinstance(c, HTTPChannel) for c in listener._map.values())
            return self.should_accept(mine, time.monotonic()) and ready

        listener.readable = balanced


def listen(host: str, port: int) -> socket.socket:
    """Bind and listen on host:port, as waitress would, in a socket child processes inherit."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
        sock.listen(1024)
    except OSError:
        sock.close()
        raise
    sock.set_inheritable(True)
    return sock


def run_workers(command: list[str], sock: socket.socket, workers: int) -> int:
    """Run `workers` copies of `command` on `sock` (given `--listen-fd`, `--balance-fd` and
    `--worker-slot`) until told to stop."""
    table = Balance.create(workers)
    stopping = False

    def start(slot: int) -> tuple[subprocess.Popen, float]:
        argv = [*command, "--listen-fd", str(sock.fileno())]
        argv += ["--balance-fd", str(table), "--worker-slot", str(slot)]
        proc = subprocess.Popen(argv, pass_fds=(sock.fileno(), table))
        return proc, time.monotonic()

    def stop(*_: Any) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    procs = [start(i) for i in range(workers)]
    code = 0
    try:
        while not stopping:
            time.sleep(0.2)
            for i, (proc, started) in enumerate(procs):
                if proc.poll() is None:
                    continue
                if time.monotonic() - started < _MIN_LIFETIME:
                    print(
                        f"error: server process {proc.pid} exited with code {proc.returncode} "
                        "right after it started; stopping",
                        file=sys.stderr,
                    )
                    stopping, code = True, 1
                    break
                print(
                    f"warning: server process {proc.pid} exited with code {proc.returncode}; "
                    "starting another",
                    file=sys.stderr,
                )
                # Its row is left out at once, not after going stale: a dead worker's count
                # could hold the others back from accepting.
                os.pwrite(table, bytes(16), i * 16)
                procs[i] = start(i)
    finally:
        for proc, _ in procs:
            if proc.poll() is None:
                proc.terminate()
        for proc, _ in procs:
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
        sock.close()
        os.close(table)
    return code
