"""The store's settings: node URLs (parsed, and shown without credentials), numeric settings,
and the options `ElasticsearchStore.from_env` reads from the environment."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from ..base import StoreConfigError

DEFAULT_URL = "http://localhost:9200"
#: Seconds a request may take (IMR_SEARCH_ES_TIMEOUT); a timed-out request is not retried.
DEFAULT_TIMEOUT = 5.0
DEFAULT_ALIAS = "imr-chunks"


def parse_urls(value: str, setting: str = "ELASTICSEARCH_URL") -> list[str]:
    """Return the node URLs of a setting (several separated by commas), each with its port
    (9200 when left out); StoreConfigError names the setting and the URL that is wrong."""
    urls = []
    for raw in (part.strip() for part in value.split(",")):
        if not raw:
            continue
        shown = redact_url(raw)
        try:
            parts = urlsplit(raw)
            port = parts.port
        except ValueError:
            raise StoreConfigError(
                f"{setting}: {shown!r} is not a URL with a port from 1 to 65535"
            ) from None
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise StoreConfigError(
                f"{setting}: {shown!r} is not an http:// or https:// URL with a host name"
            )
        if port == 0:
            raise StoreConfigError(f"{setting}: {shown!r} has port 0")
        if port is None:
            netloc = parts.netloc + ":9200"
            raw = urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))
        urls.append(raw)
    if not urls:
        raise StoreConfigError(f"{setting} is empty")
    return urls


def _number(env: Mapping[str, str], name: str, default: float, kind: type = float) -> Any:
    """A numeric setting, or StoreConfigError naming it."""
    value = (env.get(name) or "").strip()
    if not value:
        return kind(default)
    try:
        number = kind(value)
    except ValueError:
        raise StoreConfigError(
            f"{name} must be a {'whole ' if kind is int else ''}number, not {value!r}"
        ) from None
    if not number > 0 and not (kind is int and number == 0 and name.endswith("REPLICAS")):
        raise StoreConfigError(f"{name} must be more than 0, not {value!r}")
    return number


def redact_url(url: str) -> str:
    """Return `url` without user name and password."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<invalid URL>"
    if parts.username is None and parts.password is None:
        return url
    netloc = parts.netloc.rpartition("@")[2]  # host and port as written, valid or not
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def options_from_env(
    env: Mapping[str, str], kwargs: dict[str, Any]
) -> tuple[str | None, str, dict[str, Any]]:
    """Return the URL, the alias and the other options of `ElasticsearchStore.from_env` (its
    docstring names the settings); `kwargs` override the environment."""
    verify = env.get("ELASTICSEARCH_VERIFY_CERTS", "true").strip().lower()
    options: dict[str, Any] = {
        "api_key": env.get("ELASTICSEARCH_API_KEY") or None,
        "username": env.get("ELASTICSEARCH_USERNAME") or None,
        "password": env.get("ELASTICSEARCH_PASSWORD") or None,
        "ca_certs": env.get("ELASTICSEARCH_CA_CERTS") or None,
        "verify_certs": verify not in ("false", "0", "no", "off"),
        "shards": _number(env, "IMR_SEARCH_ES_SHARDS", 1, int),
        "replicas": _number(env, "IMR_SEARCH_ES_REPLICAS", 0, int),
        "request_timeout": _number(env, "IMR_SEARCH_ES_TIMEOUT", DEFAULT_TIMEOUT),
    }
    if options["api_key"] and (options["username"] or options["password"]):
        raise StoreConfigError(
            "set ELASTICSEARCH_API_KEY or ELASTICSEARCH_USERNAME and ELASTICSEARCH_PASSWORD, "
            "not both"
        )
    index = kwargs.pop("index", None) or env.get("IMR_SEARCH_ES_INDEX") or DEFAULT_ALIAS
    options.update(kwargs)
    return env.get("ELASTICSEARCH_URL") or None, index, options
