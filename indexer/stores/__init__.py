"""Search back ends: `embedded` (in-process, the default) and `elasticsearch`."""

from __future__ import annotations

import os
from pathlib import Path

from .base import Store

BACKENDS = ("embedded", "elasticsearch")


def default_backend() -> str:
    """Elasticsearch when ELASTICSEARCH_URL is set, otherwise the embedded store."""
    return "elasticsearch" if os.environ.get("ELASTICSEARCH_URL") else "embedded"


def data_dir(configured: str | Path | None = None) -> Path:
    """Return the embedded store's directory: given, IMR_SEARCH_DATA_DIR, or the user data dir."""
    from .embedded import default_data_dir

    chosen = configured or os.environ.get("IMR_SEARCH_DATA_DIR")
    return Path(chosen) if chosen else default_data_dir()


def open_store(
    backend: str | None = None, data: str | Path | None = None, *, damaged_ok: bool = False
) -> Store:
    """Open the named back end (default: see `default_backend`). A damaged embedded index
    raises `IndexDamaged`, unless `damaged_ok`: then each read raises it (a server answers
    503 until the index is rebuilt, and picks up the rebuilt one)."""
    backend = backend or default_backend()
    if backend == "embedded":
        from .embedded import EmbeddedStore

        return EmbeddedStore(data_dir(data), damaged_ok=damaged_ok)
    if backend == "elasticsearch":
        from .elasticsearch import ElasticsearchStore

        return ElasticsearchStore.from_env()
    raise ValueError(f"unknown backend {backend!r} (expected one of {', '.join(BACKENDS)})")
