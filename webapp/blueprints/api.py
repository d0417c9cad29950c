"""The JSON API: the same parameters as the pages, errors as JSON with a status code."""

from __future__ import annotations

from pathlib import PurePath

from flask import Blueprint, abort, jsonify, request

from indexer.schema import facet_names
from indexer.search import SearchError, SearchRequest
from indexer.serialize import result_json, similar_json, stats_json

from ..service import service
from .letters import item_number

bp = Blueprint("api", __name__, url_prefix="/api")

#: What a search takes besides one parameter per facet.
SEARCH_PARAMS = (
    "q",
    "mode",
    "sort",
    "page",
    "per_page",
    "decision_from",
    "decision_to",
    "injury_from",
    "injury_to",
)


#: What mail, social and advertising tools append to the links they pass on.
TRACKING_PARAMS = ("fbclid", "gclid", "msclkid", "mc_cid", "mc_eid", "_ga", "_gl")


def is_tracking(name: str) -> bool:
    """Whether a query parameter is a link tracker's (`utm_source`, `fbclid`...), not ours."""
    return name.startswith("utm_") or name in TRACKING_PARAMS


def search_params(extra: tuple[str, ...] = ()) -> dict[str, list[str]]:
    """The request's query string for `SearchRequest.from_params`; a parameter it does not
    know (a misspelt facet, say) is a 400 that names it, not a filter silently dropped.
    Link trackers' parameters are dropped: a shared link must not break on them."""
    params = {
        name: values
        for name, values in request.args.to_dict(flat=False).items()
        if not is_tracking(name)
    }
    known = {*SEARCH_PARAMS, *facet_names(), *extra}
    for name in params:
        if name not in known:
            raise SearchError(
                f"unknown parameter {name!r}: a search takes {', '.join(SEARCH_PARAMS)} and "
                f"one per facet ({', '.join(facet_names())})"
            )
    for name in extra:
        params.pop(name, None)
    return params


def _request(extra: tuple[str, ...] = ()) -> SearchRequest:
    return SearchRequest.from_params(search_params(extra))


@bp.get("/search")
def search():
    """Search: one page of letters with facets and the histogram."""
    return jsonify(result_json(service().search(_request())))


@bp.get("/facets")
def facets():
    """Facet counts (and the histogram) for a query and filters."""
    data = result_json(service().search(_request()))
    return jsonify(
        {"total": data["total"], "facets": data["facets"], "histogram": data["histogram"]}
    )


@bp.get("/letters/<letter_id>")
def letter(letter_id: str):
    """A letter's record (every parsed field and section) and its normalised text."""
    stored = service().letter(letter_id)
    if stored is None:
        abort(404, description=f"There is no letter {letter_id!r} in the index.")
    record = stored["record"]
    if record.get("source"):
        # Web users see the file's name, not where it is on the server (the CLI shows the path).
        record = {**record, "source": PurePath(record["source"]).name}
    return jsonify({"letter_id": letter_id, "record": record, "text": stored["text"]})


@bp.get("/similar/<source_id>")
def similar(source_id: str):
    """Letters like a letter, or items like an item (LETTER:item-N)."""
    k = request.args.get("k", "10")
    # isdigit() alone takes "²", which int() refuses; int() refuses thousands of digits too.
    digits = k.lstrip("0")
    if not (k.isascii() and k.isdigit() and len(digits) <= 2 and 1 <= int(digits or 0) <= 50):
        raise SearchError("k must be a whole number from 1 to 50")
    item_number(source_id)
    return jsonify(
        {
            "source": source_id,
            "hits": [similar_json(h) for h in service().similar(source_id, int(digits))],
        }
    )


@bp.get("/stats")
def stats():
    """Upheld and overturned items per value of `by`, with overturn rates and 95% intervals."""
    by = request.args.get("by", "")
    if by not in facet_names():
        raise SearchError(f"by must be one of {', '.join(facet_names())}")
    rows = service().stats(_request(extra=("by",)), by)
    return jsonify({"by": by, "rows": [stats_json(r) for r in rows]})
