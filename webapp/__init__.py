"""The imr-search web app: faceted, full-text and similarity search over IMR letters."""

from __future__ import annotations

from typing import Any

from flask import Flask

from .errors import register_error_handlers
from .service import build_service


def create_app(test_config: dict[str, Any] | None = None) -> Flask:
    """Create the app: defaults, then IMR_SEARCH_* environment variables, then `test_config`."""
    app = Flask(__name__)
    app.config.from_mapping(
        BACKEND=None,  # embedded, or elasticsearch (the default when ELASTICSEARCH_URL is set)
        DATA_DIR=None,  # the embedded index; default ~/.local/share/imr-search
        MAX_CONTENT_LENGTH=64 * 1024,  # nothing here takes uploads; refuse large bodies
        EXPORT_LIMIT=5000,  # items in one CSV/JSON export
        SEND_FILE_MAX_AGE_DEFAULT=3600,
    )
    app.config.from_prefixed_env("IMR_SEARCH")
    app.json.sort_keys = False  # facets and fields keep their display order
    if test_config:
        app.config.update(test_config)
    app.extensions["imr_search"] = app.config.get("SERVICE") or build_service(app.config)

    from .blueprints import api, export, health, letters, search, stats

    for blueprint in (search.bp, letters.bp, stats.bp, export.bp, api.bp, health.bp):
        app.register_blueprint(blueprint)
    register_error_handlers(app)

    @app.after_request
    def security_headers(response):
        # Scripts come only from our own files (htmx is vendored); no inline script anywhere.
        response.headers.setdefault(
            "Content-Security-Policy",
            "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
            "frame-ancestors 'none'; base-uri 'self'; form-action 'self'",
        )
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        response.headers.setdefault("X-Frame-Options", "DENY")
        return response

    return app
