"""The production server: waitress, in one process or in several sharing one listening socket.

One Python process serves one request's Python at a time (the interpreter lock), so on a machine
with several cores `serve --production --workers N` starts N server processes. The parent binds
one listening socket per worker on the same address (SO_REUSEPORT), and the kernel spreads new
connections across them by a hash of the client's address. One shared socket would not: waitress
accepts eagerly, and whichever worker wakes first takes most of a burst of connections (measured:
26 of 32 keep-alive connections on one worker, the other idle at half the load). Each worker is a
fresh interpreter (not a fork) that opens the index itself: the index's libraries hold threads and
locks that a forked child must not inherit. The parent keeps the sockets, so connections queued
for a worker that dies wait for its replacement; it restarts a worker that dies and stops them
all on SIGTERM or Ctrl-C.
"""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time
from typing import Any

#: A worker that dies sooner than this after its start is not restarted (it would die again).
_MIN_LIFETIME = 10.0


def serve_app(app: Any, threads: int, host: str = "", port: int = 0, fd: int | None = None) -> None:
    """Serve `app` with waitress on host:port, or on the listening socket `fd` given by a parent."""
    import waitress

    where: dict[str, Any] = {"host": host, "port": port}
    if fd is not None:
        where = {"sockets": [socket.socket(fileno=fd)]}
    waitress.serve(
        app,
        threads=threads,
        # Bodies and headers are refused by the server before they reach the app; the header
        # limit leaves room for the app's own, readable, 414 on a long address.
        max_request_body_size=app.config["MAX_CONTENT_LENGTH"],
        max_request_header_size=app.config["MAX_URL_LENGTH"] + 32 * 1024,
        **where,
    )


def listen(host: str, port: int, count: int = 1) -> list[socket.socket]:
    """Bind and listen on host:port with `count` sockets child processes inherit, one each."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    socks: list[socket.socket] = []
    try:
        for _ in range(count):
            sock = socket.socket(family, socket.SOCK_STREAM)
            socks.append(sock)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if count > 1:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
            sock.bind((host, port))
            if port == 0:  # the others join the port the kernel chose for the first
                port = sock.getsockname()[1]
            sock.listen(1024)
            sock.set_inheritable(True)
    except OSError:
        for sock in socks:
            sock.close()
        raise
    return socks


def run_workers(command: list[str], socks: list[socket.socket]) -> int:
    """Run a copy of `command` (given `--listen-fd`) on each of `socks` until told to stop."""
    stopping = False

    def start(i: int) -> tuple[subprocess.Popen, float]:
        fd = socks[i].fileno()
        argv = [*command, "--listen-fd", str(fd)]
        return subprocess.Popen(argv, pass_fds=(fd,)), time.monotonic()

    def stop(*_: Any) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    procs = [start(i) for i in range(len(socks))]
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
        for sock in socks:
            sock.close()
    return code
