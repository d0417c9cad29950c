"""The search page: full page normally, the results partial for htmx requests."""

from __future__ import annotations

from flask import Blueprint, abort, make_response, render_template, request

from indexer.schema import facet_names
from indexer.search import SearchRequest

from .. import presenters
from ..service import service
from .api import search_params

bp = Blueprint("search", __name__)


def is_partial_request() -> bool:
    """An htmx request wants the results partial, except when htmx restores history."""
    return bool(request.headers.get("HX-Request")) and not request.headers.get(
        "HX-History-Restore-Request"
    )


@bp.get("/")
def index():
    """Search letters; the query string holds the whole state."""
    search_request = SearchRequest.from_params(search_params())
    result = service().search(search_request)
    context = {
        "req": search_request,
        "result": result,
        "cards": presenters.cards(result),
        "facets": presenters.facet_blocks(result),
        "chips": presenters.chips(search_request),
        "suggested": presenters.suggested(result),
        "clear_url": presenters.clear_url(search_request),
        "modes": presenters.mode_links(search_request),
        "bars": presenters.histogram(result),
        "pages": presenters.pages(result),
        "export_csv": presenters.search_url(search_request, "/export.csv", page=1),
        "export_json": presenters.search_url(search_request, "/export.json", page=1),
        "stats_url": presenters.search_url(search_request, "/stats", page=1),
    }
    template = "_results.html" if is_partial_request() else "search.html"
    response = make_response(render_template(template, **context))
    response.headers["Vary"] = "HX-Request"
    return response


@bp.get("/facets/<name>")
def facet(name: str):
    """Every value of one facet for a search; htmx gets the values beyond the first few."""
    if name not in facet_names():
        abort(404, description=f"There is no facet {name!r}.")
    search_request = SearchRequest.from_params(search_params())
    block = presenters.facet_block(service().search(search_request), name)
    if is_partial_request():
        response = make_response(render_template("_facet_values.html", block=block))
    else:
        back_url = presenters.search_url(search_request)
        response = make_response(
            render_template("facet.html", block=block, req=search_request, back_url=back_url)
        )
    response.headers["Vary"] = "HX-Request"
    return response
