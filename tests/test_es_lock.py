"""One writer at a time on Elasticsearch: a lock document created with op_type=create, on a
live server (ELASTICSEARCH_URL); the lock index needs no analysis module, so any 9.x serves."""

from __future__ import annotations

import os
import threading
import time

import pytest

from indexer.stores.elasticsearch.lock import ElasticsearchWriterBusy, lock_index

from .conftest import ES_URL, elasticsearch_store


@pytest.fixture
def stores():
    first = elasticsearch_store("imr-lock")
    # Another process's store, on the same alias.
    second = type(first).from_env({"ELASTICSEARCH_URL": ES_URL}, index=first.alias)
    yield first, second
    first.client.options(ignore_status=404).indices.delete(index=lock_index(first.alias))
    first.close()
    second.close()


def test_a_second_writer_waits_then_names_the_first(stores):
    first, second = stores
    with first.writer_lock(timeout=5):
        start = time.monotonic()
        with pytest.raises(ElasticsearchWriterBusy) as caught, second.writer_lock(timeout=1.0):
            pass
        assert 1.0 <= time.monotonic() - start < 5
    message = str(caught.value)
    assert message.startswith("another imr-search process (pid ")
    assert message.endswith(
        f"is writing to the Elasticsearch index '{first.alias}'; try again when it has finished"
    )
    # Released: the second writer gets it at once.
    with second.writer_lock(timeout=1.0):
        pass


def test_a_waiting_writer_gets_the_lock_when_the_first_finishes(stores):
    first, second = stores
    got = []

    def wait_and_write():
        with second.writer_lock(timeout=20):
            got.append(1)

    with first.writer_lock(timeout=5):
        waiter = threading.Thread(target=wait_and_write)
        waiter.start()
        time.sleep(1.5)
        assert got == []
    waiter.join(timeout=20)
    assert got == [1]


def test_the_lock_of_a_writer_that_died_is_taken_over_when_its_lease_ran_out(stores):
    first, second = stores
    # What a writer killed mid-run leaves: its lock document, its lease no longer renewed.
    first.client.index(
        index=lock_index(first.alias),
        id="writer",
        document={"pid": 1, "host": "gone", "since": "2026-01-01T00:00:00+00:00", "expires": 0},
        op_type="create",
    )
    with second.writer_lock(timeout=2.0):
        holder = second.client.get(index=lock_index(first.alias), id="writer")["_source"]
        assert holder["pid"] == os.getpid()
        assert holder["expires"] > time.time()
