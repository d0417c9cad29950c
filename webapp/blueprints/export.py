"""The current results as CSV or JSON, one row per matching item."""

from __future__ import annotations

import csv
import io

from flask import Blueprint, Response, current_app, jsonify, request, url_for

from indexer.search import SearchRequest

from ..service import service

bp = Blueprint("export", __name__)
COLUMNS = (
    "case_number",
    "decision_date",
    "request",
    "treatment",
    "treatment_class",
    "decision",
    "guideline",
    "letter_url",
)


def _rows() -> list[dict[str, str]]:
    search_request = SearchRequest.from_params(request.args.to_dict(flat=False))
    items = service().export_items(search_request, current_app.config["EXPORT_LIMIT"])
    return [
        {
            "case_number": item["case_number"] or "",
            "decision_date": item["decision_date"] or "",
            "request": item["request"],
            "treatment": item["treatment"] or "",
            "treatment_class": item["treatment_class"] or "",
            "decision": item["decision"],
            "guideline": item["guideline"] or "",
            "letter_url": url_for(
                "letters.letter",
                letter_id=item["letter_id"],
                _external=True,
                _anchor=f"item-{item['item_index']}",
            ),
        }
        for item in items
    ]


@bp.get("/export.csv")
def export_csv():
    """Download the matching items as CSV."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(_rows())
    return Response(
        buffer.getvalue(),
        mimetype="text/csv",
        headers={"Content-Disposition": 'attachment; filename="imr-search.csv"'},
    )


@bp.get("/export.json")
def export_json():
    """Download the matching items as JSON."""
    response = jsonify({"items": _rows()})
    response.headers["Content-Disposition"] = 'attachment; filename="imr-search.json"'
    return response
