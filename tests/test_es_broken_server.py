"""Every command against an Elasticsearch that accepts connections and never answers, or that
answers garbage: one line on stderr, exit code 1, within a few time-outs, never a traceback."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time

import pytest

from .conftest import SEEDS

COMMANDS = [
    ("index", str(SEEDS[0])),
    ("reindex", str(SEEDS[0])),
    ("verify", str(SEEDS[0])),
    ("search", "valium"),
    ("similar", "L-96b58c07c53b0b00"),
    ("stats", "--by", "decision"),
    ("delete", "L-96b58c07c53b0b00"),
]


class _Server:
    """A TCP server on loopback that never answers (`stall`) or answers with garbage."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.held: list[socket.socket] = []
        self.stopped = threading.Event()
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        self.sock.settimeout(0.2)
        while not self.stopped.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            if self.kind == "stall":
                self.held.append(conn)  # read nothing, answer nothing
                continue
            try:
                conn.settimeout(2)
                conn.recv(65536)
                conn.sendall(
                    b"HTTP/1.1 200 OK\r\nContent-Length: 17\r\n\r\n\x00\xffnot json at all"
                )
            except OSError:
                pass
            conn.close()

    def close(self) -> None:
        self.stopped.set()
        for conn in self.held:
            conn.close()
        self.sock.close()


@pytest.fixture(params=["stall", "garbage"])
def server(request):
    s = _Server(request.param)
    yield s
    s.close()


@pytest.mark.parametrize("args", COMMANDS, ids=[c[0] for c in COMMANDS])
def test_a_broken_cluster_is_one_line_for_every_command(server, args, tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("IMR_SEARCH_", "ELASTIC"))}
    env.update(
        HF_HUB_OFFLINE="1",
        ELASTICSEARCH_URL=f"http://127.0.0.1:{server.port}",
        IMR_SEARCH_ES_TIMEOUT="1",
        IMR_SEARCH_LOCK_TIMEOUT="1",
    )
    start = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "indexer.cli", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        cwd=tmp_path,
    )
    took = time.monotonic() - start
    assert done.returncode == 1, (done.stdout, done.stderr)
    assert "Traceback" not in done.stderr, done.stderr
    errors = [line for line in done.stderr.splitlines() if line.startswith("Error: ")]
    assert len(errors) == 1, done.stderr
    where = f"Elasticsearch at http://127.0.0.1:{server.port}"
    if server.kind == "stall":
        assert errors[0].startswith(f"Error: {where} is not reachable: ConnectionTimeout"), errors
    else:
        assert errors[0].startswith(f"Error: {where} "), errors
    assert took < 60, took
