"""Decision statistics for the current query and filters: a chart, and the numbers as a table."""

from __future__ import annotations

from flask import Blueprint, Response, render_template, request

from indexer.schema import facet_names
from indexer.search import SearchError, SearchRequest

from .. import charts, presenters
from ..service import service

bp = Blueprint("stats", __name__)


def _by_and_request() -> tuple[str, SearchRequest]:
    """The facet to group by (default: treatment class) and the search it applies to."""
    params = request.args.to_dict(flat=False)
    by = (params.pop("by", None) or ["treatment_class"])[0]
    if by not in facet_names():
        raise SearchError(f"cannot group by {by!r}")
    return by, SearchRequest.from_params(params)


@bp.get("/stats")
def stats():
    """Upheld vs overturned per value of a facet, and decisions over time."""
    by, search_request = _by_and_request()
    # One ranking of the search for both tables (each `stats` call would rank it again).
    tables = service().stats_by(search_request, [by, "decision_month"])
    rows, timeline = tables[by], tables["decision_month"]
    query = presenters.search_url(search_request, "").lstrip("?")
    by_links = [
        presenters.Link(
            presenters.FACET_LABELS[f],
            presenters.search_url(search_request, "/stats")
            + ("&" if search_request.to_params() else "?")
            + f"by={f}",
            f == by,
        )
        for f in facet_names()
    ]
    return render_template(
        "stats.html",
        req=search_request,
        by=by,
        by_label=presenters.FACET_LABELS[by],
        rows=rows,
        timeline=sorted(timeline, key=lambda r: r.value),
        by_links=by_links,
        chart_url=f"/stats/by.svg?{query}{'&' if query else ''}by={by}",
        timeline_url=f"/stats/timeline.svg?{query}",
        search_url=presenters.search_url(search_request),
    )


def _svg(svg: str) -> Response:
    response = Response(svg, mimetype="image/svg+xml")
    # The SVG carries its own stylesheet; nothing else may load or run in it.
    response.headers["Content-Security-Policy"] = (
        "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'"
    )
    return response


@bp.get("/stats/by.svg")
def by_chart():
    """The upheld/overturned chart by a facet, as an SVG image."""
    by, search_request = _by_and_request()
    rows = service().stats(search_request, by)
    return _svg(charts.decisions_by_value(rows[:20], presenters.FACET_LABELS[by]))


@bp.get("/stats/timeline.svg")
def timeline_chart():
    """Decisions per month, as an SVG image."""
    rows = service().stats(
        SearchRequest.from_params(request.args.to_dict(flat=False)), "decision_month"
    )
    return _svg(charts.decisions_over_time(sorted(rows, key=lambda r: r.value)))
