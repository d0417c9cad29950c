"""One writer at a time on an Elasticsearch alias, across processes and machines.

A writer holds a lock document, `<alias>-lock/_doc/writer`, created with `op_type=create`, which
Elasticsearch refuses (409) while another exists. The holder renews its lease every third of
`LEASE_SECONDS` from a background thread; a writer that died leaves a document whose lease runs
out, which the next writer replaces (conditionally on its sequence number, so two waiting
writers cannot both take it). The lock index needs no analysis: it works on any Elasticsearch 9.
"""

from __future__ import annotations

import contextlib
import os
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

#: Seconds a lock stays valid without renewal: a writer killed mid-run blocks others this long.
LEASE_SECONDS = 60.0
_POLL_SECONDS = 0.5
LOCK_ID = "writer"


class ElasticsearchWriterBusy(Exception):
    """Another writer held the lock for longer than we were willing to wait."""


def lock_index(alias: str) -> str:
    """Return the name of the lock index of `alias`."""
    return f"{alias}-lock"


@contextmanager
def es_writer_lock(client: Any, alias: str, timeout: float) -> Iterator[None]:
    """Hold the writer lock of `alias` on the cluster `client` talks to, waiting up to
    `timeout` seconds for another writer (ElasticsearchWriterBusy after that)."""
    from elasticsearch import ConflictError, NotFoundError

    index = lock_index(alias)
    me = {"pid": os.getpid(), "host": socket.gethostname()}
    deadline = time.monotonic() + timeout
    while True:
        now = time.time()
        body = {**me, "since": _iso(now), "expires": now + LEASE_SECONDS}
        try:
            resp = client.index(index=index, id=LOCK_ID, document=body, op_type="create")
            break
        except ConflictError:
            pass
        try:
            held = client.get(index=index, id=LOCK_ID)
        except NotFoundError:
            continue  # released between the two requests: try again at once
        holder = held["_source"]
        if holder.get("expires", 0) < time.time():
            # Its writer died: take the lock over, unless another waiter already did.
            try:
                resp = client.index(
                    index=index,
                    id=LOCK_ID,
                    document=body,
                    if_seq_no=held["_seq_no"],
                    if_primary_term=held["_primary_term"],
                )
                break
            except ConflictError:
                continue
        if time.monotonic() >= deadline:
            raise ElasticsearchWriterBusy(
                f"another imr-search process (pid {holder.get('pid')} on "
                f"{holder.get('host')}, since {holder.get('since')}) is writing to the "
                f"Elasticsearch index '{alias}'; try again when it has finished"
            )
        time.sleep(_POLL_SECONDS)
    lease = _Lease(client, index, body, resp["_seq_no"], resp["_primary_term"])
    lease.start()
    try:
        yield
    finally:
        lease.stop()


class _Lease(threading.Thread):
    """Renews the lock document's lease until stopped, then deletes it if it is still ours."""

    def __init__(self, client: Any, index: str, body: dict, seq_no: int, term: int) -> None:
        super().__init__(name="imr-es-lock", daemon=True)
        self.client, self.index, self.body = client, index, body
        self.seq_no, self.term = seq_no, term
        self._stopped = threading.Event()
        self._lock = threading.Lock()

    def run(self) -> None:
        while not self._stopped.wait(LEASE_SECONDS / 3):
            with self._lock:
                try:
                    resp = self.client.index(
                        index=self.index,
                        id=LOCK_ID,
                        document={**self.body, "expires": time.time() + LEASE_SECONDS},
                        if_seq_no=self.seq_no,
                        if_primary_term=self.term,
                    )
                    self.seq_no, self.term = resp["_seq_no"], resp["_primary_term"]
                except Exception:  # noqa: BLE001 - a failed renewal is retried; the lease outlives it
                    pass

    def stop(self) -> None:
        self._stopped.set()
        self.join(timeout=10)
        # Taken over or gone: then nothing of ours is left to release.
        with self._lock, contextlib.suppress(Exception):
            self.client.delete(
                index=self.index, id=LOCK_ID, if_seq_no=self.seq_no, if_primary_term=self.term
            )


def _iso(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).isoformat(timespec="seconds")
