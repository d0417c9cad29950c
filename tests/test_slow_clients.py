"""The production server holds against a slow-header flood: 2,000 connections that send their
headers a byte at a time do not keep other clients waiting more than a few seconds."""

from __future__ import annotations

import resource
import selectors
import socket
import time
import urllib.request

import pytest

from .conftest import SAMPLES
from .test_serving import _cli, _env, _free_port, _stop, _wait_for

FLOOD = 2000


def _slow_flood(port: int, count: int) -> list[socket.socket]:
    socks = []
    for _ in range(count):
        s = socket.socket()
        s.setblocking(False)
        s.connect_ex(("127.0.0.1", port))
        socks.append(s)
    return socks


@pytest.mark.slow
def test_a_slow_header_flood_does_not_stop_other_clients(tmp_path):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < FLOOD + 200:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 65536), hard))
    port = _free_port()
    env = _env(IMR_SEARCH_SAMPLES=str(SAMPLES / "seeds"))
    proc = _cli("--data-dir", str(tmp_path), "serve", "--production", "--port", str(port), env=env)
    socks: list[socket.socket] = []
    try:
        base = f"http://127.0.0.1:{port}"
        assert _wait_for(base + "/healthz", proc, 300)[0] == 200
        socks = _slow_flood(port, FLOOD)
        selector = selectors.DefaultSelector()
        request = b"GET / HTTP/1.1\r\nHost: x\r\nUser-Agent: slow\r\n"
        sent = {id(s): 0 for s in socks}
        waits = []
        started = time.monotonic()
        while time.monotonic() - started < 20:
            # Every slow client sends one more byte of its headers, never the blank line.
            for s in socks:
                n = sent[id(s)]
                if n < len(request):
                    try:
                        s.send(request[n : n + 1])
                        sent[id(s)] = n + 1
                    except (BlockingIOError, OSError):
                        pass
            t0 = time.monotonic()
            with urllib.request.urlopen(base + "/healthz", timeout=30) as response:
                assert response.status == 200
            waits.append(time.monotonic() - t0)
            time.sleep(0.5)
        selector.close()
        assert len(waits) >= 10
        # No ordinary request waited more than a few seconds, during 20 s of the flood.
        assert max(waits) < 3, [round(w, 2) for w in waits]
    finally:
        for s in socks:
            s.close()
        _stop(proc)
