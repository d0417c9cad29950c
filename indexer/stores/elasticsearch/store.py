"""`ElasticsearchStore`: the client, its settings, the translation of its errors, the version
check and the writer lock. What it does lives in its mixins: `generations` (indices and
aliases), `writes` (upsert and delete), `reads` (searches and reads)."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from ..base import StoreConfigError
from .errors import StoreError, StoreUnavailable, _api_reason
from .generations import LETTERS_SUFFIX, Generation, GenerationsMixin
from .reads import ReadsMixin
from .settings import (
    DEFAULT_ALIAS,
    DEFAULT_TIMEOUT,
    DEFAULT_URL,
    options_from_env,
    parse_urls,
    redact_url,
)
from .writes import WritesMixin

#: The oldest Elasticsearch this store is tested on (checked on the first request): 9.0 cannot
#: start on the JDK (25) of the machines that test it; its API would serve.
MIN_VERSION = (9, 1, 0)
#: Pooled connections per node: more than the threads that can search at once.
CONNECTIONS_PER_NODE = 32

_INDEX_NAME = re.compile(r"^[a-z0-9][a-z0-9_.-]*$")


class ElasticsearchStore(GenerationsMixin, WritesMixin, ReadsMixin):
    """The search store on an Elasticsearch 9 cluster (see the package docstring)."""

    name = "elasticsearch"
    #: Each `upsert` ends with a refresh (new letters searchable as they arrive): larger
    #: batches index 1.6-3.5x faster than 16 letters (BENCHMARKS.md, side by side).
    letters_per_write = 128

    def __init__(
        self,
        url: str | None = None,
        index: str = DEFAULT_ALIAS,
        *,
        api_key: str | None = None,
        username: str | None = None,
        password: str | None = None,
        verify_certs: bool = True,
        ca_certs: str | None = None,
        request_timeout: float = DEFAULT_TIMEOUT,
        client: Any = None,
        shards: int = 1,
        replicas: int = 0,
        max_retries: int = 1,
        bulk_timeout: float = 120.0,
    ) -> None:
        if not _INDEX_NAME.match(index) or len(index) > 200:
            raise StoreConfigError(
                f"IMR_SEARCH_ES_INDEX: {index!r} is not an index name (lower-case letters, digits, "
                "'-', '_' and '.', at most 200)"
            )
        self.alias = index
        self.letters_alias = index + LETTERS_SUFFIX
        urls = parse_urls(url or DEFAULT_URL)
        self.url = ", ".join(redact_url(u) for u in urls)
        self.shards = shards
        self.replicas = replicas
        self.request_timeout = request_timeout
        self.bulk_timeout = max(bulk_timeout, request_timeout)
        self._target: Generation | None = None
        self._version: tuple[int, ...] | None = None
        self._ensured = False
        self._secrets = [s for s in (api_key, password) if s]
        if client is None:
            from elasticsearch import Elasticsearch

            kwargs: dict[str, Any] = {
                "request_timeout": request_timeout,
                # A retried time-out would multiply the wait of every request on a stalled
                # cluster; refused connections and 429/502/503/504 answers are still retried.
                "retry_on_timeout": False,
                "max_retries": max_retries,
                # The web server's threads and the search's counting pool share the client:
                # with the default 10 connections a node, requests queued for a free one.
                "connections_per_node": CONNECTIONS_PER_NODE,
            }
            if api_key:
                kwargs["api_key"] = api_key
            if username or password:
                kwargs["basic_auth"] = (username or "", password or "")
            if any(u.lower().startswith("https:") for u in urls):
                kwargs["verify_certs"] = verify_certs
                if ca_certs:
                    kwargs["ca_certs"] = ca_certs
            client = Elasticsearch(urls, **kwargs)
        self.client = client

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None, **kwargs: Any) -> ElasticsearchStore:
        """Build a store from ELASTICSEARCH_URL (default http://localhost:9200),
        ELASTICSEARCH_API_KEY, ELASTICSEARCH_USERNAME, ELASTICSEARCH_PASSWORD,
        ELASTICSEARCH_CA_CERTS, ELASTICSEARCH_VERIFY_CERTS ("false" disables),
        IMR_SEARCH_ES_INDEX (the alias, default imr-chunks), IMR_SEARCH_ES_SHARDS and
        IMR_SEARCH_ES_REPLICAS (for new indices, default 1 and 0) and IMR_SEARCH_ES_TIMEOUT
        (seconds per request, default 5)."""
        env = os.environ if environ is None else environ
        url, index, options = options_from_env(env, kwargs)
        return cls(url, index, **options)

    # -- plumbing ---------------------------------------------------------------------------

    def _clean(self, text: str) -> str:
        text = re.sub(r"//[^/@\s]*@", "//", text)
        for secret in self._secrets:
            text = text.replace(secret, "***")
        return text

    @contextmanager
    def _calls(self, action: str) -> Iterator[None]:
        """Turn the client's exceptions into StoreUnavailable / StoreError."""
        from elastic_transport import ConnectionError as TransportConnectionError
        from elastic_transport import ConnectionTimeout, SerializationError, TransportError
        from elasticsearch import (
            ApiError,
            AuthenticationException,
            AuthorizationException,
            UnsupportedProductError,
        )
        from elasticsearch.helpers import ScanError

        where = f"Elasticsearch at {self.url}"
        try:
            yield
        except StoreError:
            raise
        except (TransportConnectionError, ConnectionTimeout) as exc:
            reason = self._clean(f"{type(exc).__name__}: {exc}")
            raise StoreUnavailable(f"{where} is not reachable: {reason}") from None
        except UnsupportedProductError:
            raise StoreUnavailable(f"{where} is not Elasticsearch") from None
        except SerializationError:
            raise StoreUnavailable(
                f"{where} answered {action} with something that is not Elasticsearch's JSON"
            ) from None
        except (AuthenticationException, AuthorizationException) as exc:
            raise StoreUnavailable(
                f"{where} refused the credentials while {action} (HTTP {exc.status_code})"
            ) from None
        except ApiError as exc:
            reason = self._clean(_api_reason(exc))
            message = f"{where} failed {action}: HTTP {exc.status_code} {reason}"
            if exc.status_code in (429, 502, 503, 504):
                raise StoreUnavailable(message) from None
            raise StoreError(message) from exc
        except ScanError as exc:  # a scroll that lost shards on the way
            raise StoreUnavailable(f"{where} failed {action}: {self._clean(str(exc))}") from None
        except TransportError as exc:  # any other failure of the transport: one line
            reason = self._clean(f"{type(exc).__name__}: {exc}")
            raise StoreUnavailable(f"{where} failed {action}: {reason}") from None

    def _slow(self) -> Any:
        """The client with the longer time-out of bulk, refresh and index-creation requests."""
        return self.client.options(request_timeout=self.bulk_timeout)

    def _alias_targets(self, alias: str) -> list[str]:
        """Return the concrete indices `alias` points at ([] when it does not exist)."""
        with self._calls(f"reading alias {alias}"):
            resp = self.client.options(ignore_status=404).indices.get_alias(name=alias)
        body = resp.body if hasattr(resp, "body") else resp
        if resp.meta.status == 404:
            return []
        return sorted(name for name, info in body.items() if alias in (info.get("aliases") or {}))

    def _write_targets(self) -> tuple[str, str]:
        if self._target is not None:
            return self._target.indices
        if not self._ensured:
            self.ensure_index()
        return (self.alias, self.letters_alias)

    def server_version(self) -> tuple[int, ...]:
        """Return the oldest version among the cluster's nodes (asked once)."""
        if self._version is None:
            with self._calls("reading the node versions"):
                info = self.client.nodes.info(
                    node_id="_all", metric="_none", filter_path="nodes.*.version"
                )
            versions = [
                _version_tuple(node.get("version", ""))
                for node in (
                    (info.body if hasattr(info, "body") else info).get("nodes") or {}
                ).values()
            ]
            self._version = min(versions) if versions else (0,)
        return self._version

    def _check_version(self) -> None:
        """Refuse, in one line, a cluster older than MIN_VERSION (asked once per store)."""
        version = self.server_version()
        if version < MIN_VERSION:
            shown = ".".join(map(str, version))
            need = ".".join(map(str, MIN_VERSION))
            raise StoreConfigError(
                f"Elasticsearch at {self.url} is version {shown}; imr-search needs {need} or newer"
            )

    @contextmanager
    def writer_lock(self, timeout: float) -> Iterator[None]:
        """Hold the alias's writer lock (see `lock.py`), waiting up to `timeout` seconds;
        ElasticsearchWriterBusy names the holder when another writer keeps it."""
        from .lock import es_writer_lock

        lock = es_writer_lock(self.client, self.alias, timeout)
        with self._calls(f"taking the writer lock of {self.alias}"):
            lock.__enter__()
        try:
            yield
        finally:
            lock.__exit__(None, None, None)

    def close(self) -> None:
        """Close the client's connections."""
        self.client.close()


def _version_tuple(text: str) -> tuple[int, ...]:
    """(9, 2, 4) from "9.2.4" or "9.2.4-SNAPSHOT"; (0,) when unreadable."""
    numbers = re.findall(r"\d+", text.split("-")[0])
    return tuple(int(n) for n in numbers[:3]) or (0,)
