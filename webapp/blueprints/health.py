"""/healthz: which back end, and how many letters and chunks it holds."""

from __future__ import annotations

from flask import Blueprint, jsonify

from indexer.stores.base import IndexDamaged, StoreUnavailable

from ..service import service

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz():
    """Report the back end and its counts; 503 when it cannot be reached, or when the index is
    damaged (the embedded store checks its files: see indexer/stores/integrity.py)."""
    store = service().store
    try:
        letters, chunks = getattr(store, "health", store.counts)()
    except IndexDamaged as exc:
        return jsonify({"status": "damaged", "backend": store.name, "error": exc.public}), 503
    except StoreUnavailable as exc:
        return jsonify({"status": "unavailable", "backend": store.name, "error": str(exc)}), 503
    return jsonify({"status": "ok", "backend": store.name, "letters": letters, "chunks": chunks})
