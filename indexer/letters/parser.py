"""Parse one letter file into a `Letter` record: the entry point of `indexer.letters`."""

from __future__ import annotations

import hashlib
import re

from .dates import DATE, iso_date
from .errors import LetterError
from .items import (
    items_from_issues_section,
    items_from_numbered_section,
    items_from_professional_review,
)
from .layouts import PROFESSIONAL_REVIEW, detect_layout, split_sections
from .normalize import normalize_pages
from .people import parse_diagnoses, parse_patient, parse_reviewer
from .reader import read_pages
from .record import Letter

#: Most disputed items one letter may hold. Real letters decide 1 to about 20; a file with more
#: is not a letter (or is many letters run together) and would take minutes to embed.
MAX_ITEMS = 100

# Header labels of every layout, mapped to record fields; the first that matches wins.
_HEADER_FIELDS = {
    "date_assigned": [r"Date Assigned"],
    "date_of_injury": [r"Date of Injury", r"DOI"],
    "decision_date": [r"Decision Date", r"Date of (?:Final )?Determination", r"Dated"],
    "ur_denial_date": [r"UR Denial Date", r"Date of UR Decision", r"UR Decision Date"],
    "application_received": [
        r"(?:IMR )?Application Received",
        r"Date (?:IMR )?Application Received",
    ],
}
_CASE_NUMBER = re.compile(
    r"\b(?:IMR\s+)?Case\s+(?:Number|No\.?|#)\s*:?\s*(?P<v>[A-Z]{2}\d{2}-\d{4,})", re.I
)
_PRIORITY = re.compile(r"\bPriority\s*:?\s*(?P<v>Standard|Expedited|Urgent)\b", re.I)
_INJURY_IN_PROSE = re.compile(
    rf"(?:injury date of|date of injury(?: of| on)?|injured on|industrial injury (?:on|of)|"
    rf"injury (?:on|of))\s+(?P<d>{DATE})|(?P<d2>{DATE})\s+date of injury",
    re.I,
)
_UR_IN_PROSE = re.compile(
    rf"(?:utilization (?:review|determination)[^.]{{0,60}}?dated|adverse determination was "
    rf"received on|(?:initially |was )?(?:denied|non-certified) on|utilization review (?:report )?"
    rf"(?:dated|of))\s+(?P<d>{DATE})",
    re.I,
)


def parse_letter(path: str) -> Letter:
    """Read and parse the letter at `path`; raise LetterError naming the file if it is not one."""
    pages = read_pages(path)
    return parse_text(pages, source=path)


def parse_text(pages: list[str], source: str) -> Letter:
    """Parse a letter from the extracted text of its pages."""
    original = "\n\f\n".join(pages)
    text = normalize_pages(pages)
    layout = detect_layout(text)
    if layout is None:
        raise LetterError(
            source,
            "not an IMR determination letter of a known layout (none of the headings "
            "'HOW THE IMR FINAL DETERMINATION WAS MADE', 'MAXIMUS FEDERAL SERVICES, INC.' or "
            "'MEDICAL PROFESSIONAL REVIEW' found)",
        )
    sections = split_sections(text, layout)
    header = " ".join(sections.get("header", "").split())
    summary = sections.get("clinical_case_summary", "")
    letter = Letter(
        source=source,
        layout=layout,
        letter_id="",
        sections=sections,
        text=text,
        original_text=original,
    )

    m = _CASE_NUMBER.search(header) or _CASE_NUMBER.search(text[:2000])
    letter.case_number = m.group("v").upper() if m else None
    for field, labels in _HEADER_FIELDS.items():
        setattr(letter, field, _labelled_date(header, labels))
    m = _PRIORITY.search(header)
    letter.priority = m.group("v").capitalize().replace("Urgent", "Expedited") if m else None
    if letter.date_of_injury is None:
        m = _INJURY_IN_PROSE.search(summary)
        letter.date_of_injury = iso_date(m.group("d") or m.group("d2")) if m else None
    if letter.ur_denial_date is None:
        m = _UR_IN_PROSE.search(summary)
        letter.ur_denial_date = iso_date(m.group("d")) if m else None

    credentials = sections.get("reviewer_qualifications") or sections.get(
        "how_determination_was_made", ""
    )
    letter.reviewer = parse_reviewer(credentials)
    letter.patient = parse_patient(summary)
    letter.diagnoses = parse_diagnoses(summary)

    if layout == PROFESSIONAL_REVIEW:
        letter.items = items_from_professional_review(sections)
    elif "issues_decisions_rationales" in sections and re.match(
        r"\s*\d{1,2}\s*[.)]", sections["issues_decisions_rationales"]
    ):
        letter.items = items_from_numbered_section(sections["issues_decisions_rationales"])
    else:
        letter.items = items_from_issues_section(sections.get("issues_decisions_rationales", ""))
    if not letter.items:
        raise LetterError(source, f"{layout} letter with no disputed items and decisions found")
    if len(letter.items) > MAX_ITEMS:
        raise LetterError(
            source,
            f"too many disputed items ({len(letter.items)}; an IMR letter decides at most "
            f"{MAX_ITEMS})",
        )

    letter.letter_id = letter.case_number or _content_id(text)
    return letter


def _labelled_date(header: str, labels: list[str]) -> str | None:
    for label in labels:
        m = re.search(rf"\b{label}\s*:\s*(?P<d>{DATE})", header, re.I)
        if m:
            return iso_date(m.group("d"))
    return None


def _content_id(text: str) -> str:
    # Whitespace-insensitive, so the PDF and a text copy of one letter get the same id.
    digest = hashlib.sha256(" ".join(text.split()).encode()).hexdigest()
    return f"L-{digest[:16]}"
