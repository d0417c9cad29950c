"""A letter, organised by section, with its metadata, the query highlighted, similar cases."""

from __future__ import annotations

import io

from flask import (
    Blueprint,
    abort,
    make_response,
    redirect,
    render_template,
    request,
    send_file,
    url_for,
)

from indexer.highlight import highlight_terms
from indexer.search import SearchError

from .. import originals
from ..service import service

bp = Blueprint("letters", __name__)

SECTION_TITLES = {
    "header": "Header",
    "preamble": "Preamble",
    "how_determination_was_made": "How the IMR final determination was made",
    "documents_reviewed": "Documents reviewed",
    "clinical_case_summary": "Clinical case summary",
    "issue_at_dispute": "Issue at dispute",
    "issues_decisions_rationales": "IMR issues, decisions and rationales",
    "guidelines_relied_upon": "Guidelines relied upon",
    "rationale": "Rationale",
    "reviewer_qualifications": "Reviewer qualifications",
}


def _letter_or_404(letter_id: str) -> dict:
    stored = service().letter(letter_id)
    if stored is None:
        abort(404, description=f"There is no letter {letter_id!r} in the index.")
    return stored


@bp.get("/letters/<letter_id>")
def letter(letter_id: str):
    """Show one letter."""
    stored = _letter_or_404(letter_id)
    record = stored["record"]
    q = request.args.get("q", "")[:500]
    sections = [
        (
            name,
            SECTION_TITLES.get(name, name.replace("_", " ").capitalize()),
            [highlight_terms(p, q) for p in text.split("\n\n")],
        )
        for name, text in record["sections"].items()
        if name
        not in (
            "issues_decisions_rationales",
            "rationale",
            "issue_at_dispute",
            "guidelines_relied_upon",
        )
    ]
    items = [
        {
            **item,
            "number": n,
            "rationale_html": [
                highlight_terms(p, q) for p in (item.get("rationale") or "").split("\n\n")
            ],
        }
        for n, item in enumerate(record["items"], start=1)
    ]
    return render_template(
        "letter.html",
        letter_id=letter_id,
        record=record,
        sections=sections,
        items=items,
        q=q,
        source_name=originals.download_name(stored["source"], letter_id),
    )


@bp.get("/letters/<letter_id>/similar-cases")
def similar_cases(letter_id: str):
    """The letter page's five similar cases, which htmx loads after the page; else the page of
    similar letters."""
    if not request.headers.get("HX-Request"):
        return redirect(url_for("letters.similar", source_id=letter_id))
    _letter_or_404(letter_id)
    response = make_response(
        render_template(
            "_similar_cases.html", letter_id=letter_id, similar=service().similar(letter_id, k=5)
        )
    )
    response.headers["Vary"] = "HX-Request"
    return response


@bp.get("/letters/<letter_id>/original")
def original(letter_id: str):
    """Download the letter's original file: only the file the index recorded for this letter,
    and only while its bytes are those the letter was indexed from."""
    stored = _letter_or_404(letter_id)
    try:
        sha256 = originals.recorded_sha256(stored)
        found = originals.read_original(stored["source"], sha256)
    except originals.OriginalUnavailable as exc:
        abort(404, description=str(exc))
    return send_file(
        io.BytesIO(found.data),
        mimetype=found.mimetype,
        as_attachment=True,
        download_name=originals.download_name(stored["source"], letter_id),
        etag=found.sha256,
        last_modified=found.modified,
    )


def item_number(source_id: str) -> int | None:
    """The item number of an item id (`LETTER:item-N`), None for a letter id; a 400 for
    anything else after `:item-` (nothing, a sign, non-ASCII digits such as "²")."""
    if ":item-" not in source_id:
        return None
    item = source_id.partition(":item-")[2]
    # At most 100 items a letter: six digits are plenty, and int() of thousands refuses.
    if not (item.isascii() and item.isdigit() and len(item) <= 6):
        raise SearchError(f"{source_id!r} is not an item id (expected LETTER:item-N)")
    return int(item)


@bp.get("/similar/<source_id>")
def similar(source_id: str):
    """Letters like a letter, or items like an item (LETTER:item-N)."""
    letter_id = source_id.partition(":item-")[0]
    stored = _letter_or_404(letter_id)
    number = item_number(source_id)
    hits = service().similar(source_id, k=10)
    item = None
    if number is not None:
        items = stored["record"]["items"]
        if not 1 <= number <= len(items):
            raise SearchError(f"letter {letter_id} has no item {number}")
        item = items[number - 1]
    template = "_similar.html" if request.headers.get("HX-Request") else "similar.html"
    response = make_response(
        render_template(
            template,
            source_id=source_id,
            letter_id=letter_id,
            record=stored["record"],
            item=item,
            hits=hits,
        )
    )
    response.headers["Vary"] = "HX-Request"
    return response
