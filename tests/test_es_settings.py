"""Elasticsearch settings and a stalled cluster: one clear line, never a traceback or a hang."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time

import pytest

from indexer.stores.base import StoreConfigError, StoreUnavailable
from indexer.stores.elasticsearch import ElasticsearchStore, parse_urls

from .es_fake import FakeElasticsearch


@pytest.mark.parametrize(
    ("value", "urls"),
    [
        ("http://localhost", ["http://localhost:9200"]),
        ("https://es.example:443", ["https://es.example:443"]),
        ("http://a:9200, http://b", ["http://a:9200", "http://b:9200"]),
        ("http://[::1]", ["http://[::1]:9200"]),
    ],
)
def test_urls_get_their_port_and_several_nodes_are_several_urls(value, urls):
    assert parse_urls(value) == urls


@pytest.mark.parametrize(
    ("env", "message"),
    [
        (
            {"ELASTICSEARCH_URL": "not a url"},
            "ELASTICSEARCH_URL: 'not a url' is not an http:// or https:// URL with a host name",
        ),
        (
            {"ELASTICSEARCH_URL": "http://localhost:99999"},
            "ELASTICSEARCH_URL: 'http://localhost:99999' is not a URL with a port from 1 to 65535",
        ),
        (
            {"ELASTICSEARCH_URL": "http://elastic:s3cret@localhost:99999"},
            "ELASTICSEARCH_URL: 'http://localhost:99999' is not a URL with a port from 1 to 65535",
        ),
        ({"ELASTICSEARCH_URL": " , "}, "ELASTICSEARCH_URL is empty"),
        (
            {"ELASTICSEARCH_URL": "http://x:9200", "IMR_SEARCH_ES_TIMEOUT": "two"},
            "IMR_SEARCH_ES_TIMEOUT must be a number, not 'two'",
        ),
        (
            {"ELASTICSEARCH_URL": "http://x:9200", "IMR_SEARCH_ES_SHARDS": "1.5"},
            "IMR_SEARCH_ES_SHARDS must be a whole number, not '1.5'",
        ),
        (
            {"ELASTICSEARCH_URL": "http://x:9200", "IMR_SEARCH_ES_TIMEOUT": "0"},
            "IMR_SEARCH_ES_TIMEOUT must be more than 0, not '0'",
        ),
        (
            {"IMR_SEARCH_ES_INDEX": "BAD"},
            "IMR_SEARCH_ES_INDEX: 'BAD' is not an index name (lower-case letters, digits, '-', "
            "'_' and '.', at most 200)",
        ),
        (
            {"ELASTICSEARCH_API_KEY": "k", "ELASTICSEARCH_USERNAME": "elastic"},
            "set ELASTICSEARCH_API_KEY or ELASTICSEARCH_USERNAME and ELASTICSEARCH_PASSWORD, "
            "not both",
        ),
    ],
)
def test_a_wrong_setting_is_named_with_what_is_wrong(env, message):
    with pytest.raises(StoreConfigError) as caught:
        ElasticsearchStore.from_env(env)
    assert str(caught.value) == message
    assert "s3cret" not in str(caught.value)


def test_the_cli_says_a_wrong_url_in_one_line():
    env = {**os.environ, "ELASTICSEARCH_URL": "http://localhost:99999"}
    done = subprocess.run(
        [sys.executable, "-m", "indexer.cli", "search", "valium"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert done.returncode == 1
    assert done.stderr == (
        "Error: ELASTICSEARCH_URL: 'http://localhost:99999' is not a URL with a port from 1 "
        "to 65535\n"
    )


def test_reading_every_letter_times_out_on_a_stalled_cluster():
    released = threading.Event()

    def stall(request):
        released.wait(30)  # the cluster accepted the scroll search and never answers
        return 200, {}

    with FakeElasticsearch() as es:
        es.route("POST", r"/imr-test-letters/_search", stall)
        es.route("GET", r"/imr-test-letters/_search", stall)
        store = ElasticsearchStore(es.url, "imr-test", request_timeout=1.0, max_retries=0)
        start = time.monotonic()
        try:
            with pytest.raises(StoreUnavailable, match="is not reachable: ConnectionTimeout"):
                store.indexed_letters()
            assert time.monotonic() - start < 5
        finally:
            released.set()
            store.close()
