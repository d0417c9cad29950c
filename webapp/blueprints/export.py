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

#: What makes a spreadsheet read a cell as a formula (OWASP, "CSV Injection").
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value: str | None) -> str | None:
    """A cell a spreadsheet shows as text: one that would start a formula gets a leading `'`.

    A carriage return becomes a line feed: with a line feed ending each row, the csv module
    quotes a cell that holds a line feed but not one that holds only a carriage return, which
    readers take for the end of the row."""
    if not isinstance(value, str):
        return value
    if value.startswith(FORMULA_STARTS):
        value = f"'{value}"
    return value.replace("\r\n", "\n").replace("\r", "\n") if "\r" in value else value


def write_csv(rows: list[dict[str, str]]) -> str:
    """The rows as CSV, a header first, each cell made safe to open in a spreadsheet."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows({name: csv_cell(value) for name, value in row.items()} for row in rows)
    return buffer.getvalue()


def letter_url(letter_id: str, item_index: int) -> str:
    """The link to an item of a letter: relative, or under the configured BASE_URL; never
    built from the request's Host header, which the client chooses."""
    path = url_for("letters.letter", letter_id=letter_id, _anchor=f"item-{item_index}")
    base = current_app.config.get("BASE_URL") or ""
    return base + path.removeprefix(request.script_root) if base else path


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
            "letter_url": letter_url(item["letter_id"], item["item_index"]),
        }
        for item in items
    ]


@bp.get("/export.csv")
def export_csv():
    """Download the matching items as CSV."""
    return Response(
        write_csv(_rows()),
        mimetype="text/csv",
        headers={"Content-Disposition": 'attachment; filename="imr-search.csv"'},
    )


@bp.get("/export.json")
def export_json():
    """Download the matching items as JSON (the values as they are: no spreadsheet quoting)."""
    response = jsonify({"items": _rows()})
    response.headers["Content-Disposition"] = 'attachment; filename="imr-search.json"'
    return response
