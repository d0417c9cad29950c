"""Recognise a letter's layout and cut its text into named sections."""

from __future__ import annotations

import re
from dataclasses import dataclass

CASE_NUMBER_HEADER = "case_number_header"
LEGACY = "legacy"
MAXIMUS_HEADER = "maximus_header"
PROFESSIONAL_REVIEW = "professional_review"
LAYOUTS = (CASE_NUMBER_HEADER, LEGACY, MAXIMUS_HEADER, PROFESSIONAL_REVIEW)


@dataclass(frozen=True)
class Layout:
    """A letter layout: its name and the headings that open each of its sections."""

    name: str
    headings: tuple[tuple[str, str], ...]  # (regex matching a heading paragraph, section name)
    first_section: str  # name of the text before the first heading


_MAXIMUS_HEADINGS = (
    (r"HOW THE IMR FINAL DETERMINATION WAS MADE", "how_determination_was_made"),
    (r"CLINICAL CASE SUMMARY", "clinical_case_summary"),
    (r"IMR ISSUES,? DECISIONS,? AND RATIONALES", "issues_decisions_rationales"),
)
_LAYOUTS = {
    CASE_NUMBER_HEADER: Layout(CASE_NUMBER_HEADER, _MAXIMUS_HEADINGS, "header"),
    LEGACY: Layout(LEGACY, _MAXIMUS_HEADINGS, "preamble"),
    MAXIMUS_HEADER: Layout(
        MAXIMUS_HEADER,
        (
            (r"HOW THE IMR FINAL DETERMINATION WAS MADE", "how_determination_was_made"),
            (r"DOCUMENTS REVIEWED", "documents_reviewed"),
            (r"CLINICAL CASE SUMMARY", "clinical_case_summary"),
            (
                r"IMR DECISIONS?\s*(?:\(S\))? AND RATIONALES?\s*(?:\(S\))?",
                "issues_decisions_rationales",
            ),
        ),
        "header",
    ),
    PROFESSIONAL_REVIEW: Layout(
        PROFESSIONAL_REVIEW,
        (
            (r"ISSUES? AT DISPUTE:?", "issue_at_dispute"),
            (r"CASE SUMMARY:?", "clinical_case_summary"),
            (r"DOCUMENTS REVIEWED FOR DETERMINATION:?", "documents_reviewed"),
            (
                r"MEDICAL TREATMENT GUIDELINE\(?S?\)? RELIED UPON BY PROFESSIONAL REVIEWER"
                r"(?: AND WHY)?:?",
                "guidelines_relied_upon",
            ),
            (
                r"RATIONALE FOR WHY THE REQUESTED TREATMENT/SERVICE IS/WAS NOT MEDICALLY "
                r"NECESSARY:?",
                "rationale",
            ),
            (r"MEDICAL REVIEWER QUALIFICATIONS:?", "reviewer_qualifications"),
        ),
        "header",
    ),
}


def detect_layout(text: str) -> str | None:
    """Return the layout name of a normalised letter text, or None if it is no known layout."""
    start = text.lstrip()[:400].upper()
    if start.startswith("MAXIMUS FEDERAL SERVICES, INC") and "INDEPENDENT MEDICAL REVIEW" in start:
        return MAXIMUS_HEADER
    if start.startswith("MEDICAL PROFESSIONAL REVIEW"):
        return PROFESSIONAL_REVIEW
    has_body = bool(re.search(r"^HOW THE IMR FINAL DETERMINATION WAS MADE$", text, re.M)) and bool(
        re.search(r"^IMR ISSUES,? DECISIONS,? AND RATIONALES$", text, re.M)
    )
    if not has_body:
        return None
    head = text.split("HOW THE IMR FINAL DETERMINATION WAS MADE", 1)[0]
    if re.search(r"\bCase Number:", head, re.IGNORECASE):
        return CASE_NUMBER_HEADER
    return LEGACY


def split_sections(text: str, layout: str) -> dict[str, str]:
    """Cut a normalised letter into its sections, keyed by section name, headings removed."""
    spec = _LAYOUTS[layout]
    patterns = [(re.compile(rf"{rx}\s*", re.IGNORECASE), name) for rx, name in spec.headings]
    sections: dict[str, list[str]] = {spec.first_section: []}
    current = spec.first_section
    for para in text.split("\n\n"):
        name, rest = _heading(para, patterns, sections)
        if name:
            current = name
            sections.setdefault(current, [])
            if rest:
                sections[current].append(rest)
        else:
            sections[current].append(para)
    return {k: "\n\n".join(v).strip() for k, v in sections.items() if "".join(v).strip()}


def _heading(para, patterns, seen) -> tuple[str | None, str]:
    """Match a paragraph that opens a section; the professional-review layout puts text after it."""
    for rx, name in patterns:
        m = rx.match(para)
        if not m or name in seen:
            continue
        rest = para[m.end() :].strip()
        heading_text = para[: m.end()].strip()
        # A heading stands alone in upper case, or (professional review) ends with a colon and
        # carries the section's first words on the same line.
        if heading_text.isupper() and (not rest or heading_text.endswith(":")):
            return name, rest
    return None, ""
