"""The search service the app uses, built from the app's configuration."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from flask import current_app

from indexer.search import SearchService


def build_service(config: dict[str, Any]) -> SearchService:
    """Open the configured store and wrap it in a search service (the model loads on first use)."""
    from indexer.stores import data_dir, open_store

    # A damaged index does not stop the app: its pages and /healthz answer 503 saying what is
    # damaged, until `imr-search reindex` switches to a rebuilt index (opened then).
    store = open_store(config.get("BACKEND"), config.get("DATA_DIR"), damaged_ok=True)
    root = Path(getattr(store, "root", None) or data_dir(config.get("DATA_DIR")))
    lock = threading.Lock()
    loaded: list[Any] = []

    def embedder():
        # One model per process, loaded by whichever request needs it first.
        with lock:
            if not loaded:
                from indexer.embedder import Embedder

                root.mkdir(parents=True, exist_ok=True)
                loaded.append(Embedder(cache_path=root / "embeddings.sqlite"))
            return loaded[0]

    return SearchService(store, embedder)


def service() -> SearchService:
    """Return the current app's search service."""
    return current_app.extensions["imr_search"]
