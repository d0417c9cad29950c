"""/healthz: which back end, and how many letters and chunks it holds."""

from __future__ import annotations

from flask import Blueprint, jsonify

from indexer.stores.base import IndexDamaged, StoreUnavailable

from ..service import service

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz():
    """Report the back end and its counts; 503 when it cannot be reached, or when the index is
    damaged (the embedded store checks its files: see indexer/stores/integrity.py); an
    Elasticsearch cluster missing replicas is "degraded" (200), one missing a shard 503."""
    store = service().store
    try:
        letters, chunks = getattr(store, "health", store.counts)()
        # A cluster tells how whole it is: yellow (a replica missing, every shard answering)
        # is degraded but serving; red (a shard with no copy) cannot answer completely.
        cluster = store.cluster_status() if hasattr(store, "cluster_status") else "green"
    except IndexDamaged as exc:
        return jsonify({"status": "damaged", "backend": store.name, "error": exc.public}), 503
    except StoreUnavailable as exc:
        return jsonify({"status": "unavailable", "backend": store.name, "error": str(exc)}), 503
    body = {"backend": store.name, "letters": letters, "chunks": chunks}
    if cluster == "red":
        return jsonify({"status": "unavailable", "cluster": cluster, **body}), 503
    if cluster == "yellow":
        return jsonify({"status": "degraded", "cluster": cluster, **body})
    return jsonify({"status": "ok", **body})
