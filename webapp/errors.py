"""Errors as readable pages (or JSON under /api/), with the right status and no stack trace."""

from __future__ import annotations

from flask import Flask, jsonify, make_response, render_template, request
from werkzeug.exceptions import BadHost, HTTPException

from indexer.search import SearchError
from indexer.stores.base import IndexDamaged, StoreUnavailable

HOST_ERROR = (
    "The Host header is not a valid host name: each part between dots must be 1 to 63 "
    "letters, digits or hyphens."
)


def wants_json() -> bool:
    """Tell whether the client should get errors as JSON (the API, or an export as JSON)."""
    return request.path.startswith("/api/") or request.path.endswith(".json")


def error_response(status: int, title: str, message: str):
    """Render an error as JSON or as a page with the given status."""
    if wants_json():
        return jsonify({"error": {"status": status, "title": title, "message": message}}), status
    template = "_error.html" if request.headers.get("HX-Request") else "error.html"
    return render_template(template, status=status, title=title, message=message), status


def register_error_handlers(app: Flask) -> None:
    """Map our errors and HTTP errors to readable responses."""

    @app.errorhandler(SearchError)
    def bad_search(exc: SearchError):
        return error_response(400, "Bad request", str(exc))

    @app.errorhandler(StoreUnavailable)
    def store_down(exc: StoreUnavailable):
        if isinstance(exc, IndexDamaged):
            app.logger.error("index damaged: %s", exc)
            return error_response(503, "The index is damaged", exc.public)
        app.logger.warning("search back end unavailable: %s", exc)
        return error_response(
            503,
            "Search is unavailable",
            "The search back end is not answering right now. Please try again in a moment.",
        )

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException):
        description = exc.description or exc.name
        if isinstance(exc, BadHost):
            # Raised before routing, when the Host header cannot be encoded as a host name.
            description = HOST_ERROR
        response = make_response(error_response(exc.code or 500, exc.name, description))
        # The exception's own headers, such as the Allow header a 405 must carry.
        for name, value in exc.get_headers():
            if name.lower() != "content-type":
                response.headers[name] = value
        return response

    @app.errorhandler(Exception)
    def unexpected(exc: Exception):
        app.logger.exception("unexpected error on %s", request.path)
        return error_response(
            500, "Something went wrong", "An unexpected error occurred; it has been logged."
        )
