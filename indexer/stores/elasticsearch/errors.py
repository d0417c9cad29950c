"""The store's exceptions, and the reading of Elasticsearch's error answers.

What raises which (`StoreUnavailable` for a cluster that cannot serve now, `StoreError` for any
other error answer) is told in the package docstring, "Errors"; `ElasticsearchStore._calls`
turns the client's exceptions into them.
"""

from __future__ import annotations

from typing import Any

from ..base import StoreUnavailable as BaseStoreUnavailable


class StoreError(Exception):
    """Elasticsearch answered a request with an error."""


class StoreUnavailable(StoreError, BaseStoreUnavailable):
    """Elasticsearch cannot be reached or cannot serve now (the service answers HTTP 503)."""


def _api_reason(exc: Any) -> str:
    body = getattr(exc, "body", None)
    if isinstance(body, dict):
        error = body.get("error")
        if isinstance(error, dict):
            root = (error.get("root_cause") or [error])[0]
            return f"{root.get('type', error.get('type', ''))}: {root.get('reason', '')}".strip()
        if error:
            return str(error)
    return str(getattr(exc, "message", exc))


def _is_missing_index(exc: Any) -> bool:
    body = getattr(exc, "body", None)
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        return body["error"].get("type") == "index_not_found_exception"
    return False
