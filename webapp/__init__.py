"""The imr-search web app: faceted, full-text and similarity search over IMR letters."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from flask import Flask, request
from werkzeug.exceptions import RequestEntityTooLarge, RequestURITooLarge
from werkzeug.routing import Map

from .errors import register_error_handlers
from .json import OrjsonProvider
from .presenters import facet_items
from .service import build_service


class _Map(Map):
    """URL rules that keep `//` as it is: `/static//etc/passwd` is a 404, not a redirect."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("merge_slashes", False)
        super().__init__(*args, **kwargs)


class _Flask(Flask):
    url_map_class = _Map
    json_provider_class = OrjsonProvider


def _base_url(value: Any) -> str:
    """The configured base URL without its trailing slash; an address that is not http(s)
    with a host (and nothing after the path) stops the app from starting, with the reason."""
    text = str(value or "").strip()
    if not text:
        return ""
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.query or parts.fragment:
        raise ValueError(
            f"IMR_SEARCH_BASE_URL must be an http or https address such as "
            f"https://imr.example.org, not {text!r}"
        )
    return text.rstrip("/")


def create_app(test_config: dict[str, Any] | None = None) -> Flask:
    """Create the app: defaults, then IMR_SEARCH_* environment variables, then `test_config`."""
    app = _Flask(__name__)
    app.config.from_mapping(
        BACKEND=None,  # embedded, or elasticsearch (the default when ELASTICSEARCH_URL is set)
        DATA_DIR=None,  # the embedded index; default ~/.local/share/imr-search
        MAX_CONTENT_LENGTH=64 * 1024,  # nothing here takes uploads; refuse large bodies
        # Path plus query string, in bytes: room for a pasted page of text as the query, and
        # under the 64 KiB request line of the development server, so the answer is our page.
        MAX_URL_LENGTH=32 * 1024,
        EXPORT_LIMIT=5000,  # items in one CSV/JSON export
        # Where the app is served (https://imr.example.org): exports link letters under it;
        # unset, their links are relative. Never taken from the request's Host header.
        BASE_URL="",
        SEND_FILE_MAX_AGE_DEFAULT=3600,
    )
    app.config.from_prefixed_env("IMR_SEARCH")
    app.json.sort_keys = False  # facets and fields keep their display order
    if test_config:
        app.config.update(test_config)
    app.config["BASE_URL"] = _base_url(app.config["BASE_URL"])
    app.extensions["imr_search"] = app.config.get("SERVICE") or build_service(app.config)

    from .blueprints import api, export, health, letters, search, stats

    for blueprint in (search.bp, letters.bp, stats.bp, export.bp, api.bp, health.bp):
        app.register_blueprint(blueprint)
    register_error_handlers(app)
    app.add_template_filter(facet_items)

    @app.before_request
    def limit_request_size():
        # WSGI strings hold bytes as latin-1 characters, so len() counts bytes.
        size = len(request.environ.get("PATH_INFO", "")) + len(
            request.environ.get("QUERY_STRING", "")
        )
        limit = app.config["MAX_URL_LENGTH"]
        if size > limit:
            raise RequestURITooLarge(
                f"The address is {size} bytes long; the limit is {limit}. "
                "Shorten the query or remove some filters."
            )
        if (request.content_length or 0) > app.config["MAX_CONTENT_LENGTH"]:
            raise RequestEntityTooLarge("No page or API endpoint here accepts a request body.")

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
