"""Property tests: the normaliser and parser never raise on arbitrary text, except LetterError."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from indexer.letters.errors import LetterError
from indexer.letters.normalize import normalize_pages
from indexer.letters.parser import parse_text

from .conftest import SEEDS

SEED_TEXT = SEEDS[2].read_text(encoding="utf-8")
HEADINGS = [
    "HOW THE IMR FINAL DETERMINATION WAS MADE",
    "CLINICAL CASE SUMMARY",
    "IMR ISSUES, DECISIONS AND RATIONALES",
    "Case Number: CM16-0000001",
    "MAXIMUS FEDERAL SERVICES, INC.",
    "Independent Medical Review",
    "IMR DECISION(S) AND RATIONALE(S)",
    "MEDICAL PROFESSIONAL REVIEW",
    "ISSUE AT DISPUTE:",
    "CASE SUMMARY:",
    "1. ",
    "Valium 10mg #50: Upheld",
    ": Overturned",
    "Upheld",
    "Claims Administrator guideline:",
    "MAXIMUS guideline:",
    "Decision rationale:",
    "\n",
    "\n\n",
    " \n",
    "\f",
    "-\n",
    "Date of Injury: 13/45/2016",
    "State(s) of Licensure:",
    "year old",
]
letterish = st.lists(st.one_of(st.sampled_from(HEADINGS), st.text(max_size=80)), max_size=40).map(
    "\n".join
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.text(), max_size=4))
def test_normaliser_never_raises(pages):
    out = normalize_pages(pages)
    assert isinstance(out, str)
    assert "\n\n\n" not in out


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(letterish, min_size=1, max_size=3))
def test_parser_returns_a_letter_or_raises_letter_error(pages):
    try:
        letter = parse_text(pages, source="generated.txt")
    except LetterError as exc:
        assert exc.source == "generated.txt"
        assert exc.reason
        return
    assert letter.items
    assert all(item.decision in ("upheld", "overturned") for item in letter.items)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(0, len(SEED_TEXT)), st.integers(0, len(SEED_TEXT)), st.text(max_size=30))
def test_parser_survives_cut_and_spliced_real_letters(start, end, junk):
    start, end = sorted((start, end))
    text = SEED_TEXT[:start] + junk + SEED_TEXT[end:]
    try:
        letter = parse_text([text], source="spliced.txt")
    except LetterError as exc:
        assert exc.reason
        return
    assert letter.layout == "legacy"
