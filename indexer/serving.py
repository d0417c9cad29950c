"""The production server: waitress, in one process or in several sharing one listening socket.

One Python process serves one request's Python at a time (the interpreter lock), so on a machine
with several cores `serve --production --workers N` starts N server processes. They share one
listening socket that the parent binds, so the kernel hands each connection to whichever worker
accepts it first. Each worker is a fresh interpreter (not a fork) that opens the index itself:
the index's libraries hold threads and locks that a forked child must not inherit. The parent
restarts a worker that dies and stops them all on SIGTERM or Ctrl-C.
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


def listen(host: str, port: int) -> socket.socket:
    """Bind and listen on host:port, as waitress would, in a socket child processes inherit."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(1024)
    sock.set_inheritable(True)
    return sock


def run_workers(command: list[str], sock: socket.socket, workers: int) -> int:
    """Run `workers` copies of `command` (given `--listen-fd`) on `sock` until told to stop."""
    argv = [*command, "--listen-fd", str(sock.fileno())]
    stopping = False

    def start() -> tuple[subprocess.Popen, float]:
        return subprocess.Popen(argv, pass_fds=(sock.fileno(),)), time.monotonic()

    def stop(*_: Any) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    procs = [start() for _ in range(workers)]
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
                procs[i] = start()
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
    return code
