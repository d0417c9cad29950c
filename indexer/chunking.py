"""Cut a parsed letter into search chunks: the case summary and each disputed item, in windows
that fit the embedding model, each carrying the facet fields of its letter and item."""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from typing import Any

from .letters.body_region import body_regions
from .letters.errors import LetterError
from .letters.record import Item, Letter
from .model import Tokenizer, load_tokenizer
from .sentences import split_sentences

#: Word-pieces a window repeats from the end of the one before, so no sentence loses its context.
OVERLAP_TOKENS = 48
#: Longest request restated at the top of every window of its item (a request can be a list).
HEADLINE_CHARS = 300
#: Most chunks one letter may make: the longest real letters make about 15 (13 in the samples),
#: a letter of 100 disputed items (the most a letter may have) about 200. Beyond it a file is
#: not a letter but a way to make every similar-cases request of it cost seconds.
MAX_CHUNKS = 300
#: Longest case summary or item (request, guideline and rationale), in characters; the longest
#: whole letter of the samples has 16,500.
MAX_UNIT_CHARS = 100_000
_SUMMARY_LEAD_IN = re.compile(
    r"^The expert reviewer developed the following clinical case summary based on a review of "
    r"the case file, including all medical records:\s*",
    re.IGNORECASE,
)


@dataclass
class Chunk:
    """One unit of search: a window of a letter's case summary or of one disputed item."""

    chunk_id: str
    letter_id: str
    section: str  # "clinical_case_summary" or "item"
    item_index: int | None  # 1-based position of the item in the letter
    window: int
    windows: int
    text: str
    token_count: int
    case_number: str | None
    source: str
    layout: str
    request: str | None
    decision: list[str] = field(default_factory=list)
    treatment_name: list[str] = field(default_factory=list)
    treatment_class: list[str] = field(default_factory=list)
    treatment_category: list[str] = field(default_factory=list)
    body_region: list[str] = field(default_factory=list)
    guideline_source: list[str] = field(default_factory=list)
    guideline_section: list[str] = field(default_factory=list)
    reviewer_specialty: list[str] = field(default_factory=list)
    licensure: list[str] = field(default_factory=list)
    priority: str | None = None
    patient_sex: str | None = None
    patient_age: int | None = None
    age_band: str | None = None
    decision_date: str | None = None
    decision_year: int | None = None
    date_of_injury: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """Return the chunk as plain JSON-ready data."""
        return asdict(self)


def age_band(age: int | None) -> str | None:
    """Return the ten-year band of an age ("40-49"), open at both ends ("under 30", "70+")."""
    if age is None:
        return None
    if age < 30:
        return "under 30"
    if age >= 70:
        return "70+"
    low = age // 10 * 10
    return f"{low}-{low + 9}"


def chunk_letter(letter: Letter, tokenizer: Tokenizer | None = None) -> list[Chunk]:
    """Return the letter's chunks: its case summary, then each disputed item, in windows."""
    _check_size(letter)
    tokenizer = tokenizer or load_tokenizer()
    letter_facets = _letter_facets(letter)
    chunks: list[Chunk] = []
    summary = _SUMMARY_LEAD_IN.sub("", letter.sections.get("clinical_case_summary", "")).strip()
    if summary:
        # The summary belongs to all the letter's items, so it carries all their facet values.
        facets = _merge_item_facets(letter.items)
        facets["body_region"] = body_regions(summary)
        chunks += _windows(
            letter,
            "clinical_case_summary",
            None,
            "",
            summary,
            None,
            {**letter_facets, **facets},
            tokenizer,
        )
    for index, item in enumerate(letter.items, start=1):
        if len(chunks) > MAX_CHUNKS:
            break
        headline = f"{_shortened(item.request)}: {item.decision.capitalize()}"
        body = "\n\n".join(p for p in (item.maximus_guideline, item.rationale) if p)
        chunks += _windows(
            letter,
            "item",
            index,
            headline,
            body or headline,
            item.request,
            {**letter_facets, **_item_facets(item)},
            tokenizer,
        )
    if len(chunks) > MAX_CHUNKS:
        raise LetterError(
            letter.source,
            f"too long: more than {MAX_CHUNKS} search chunks (the longest real letters make "
            "about 15)",
        )
    return chunks


def _check_size(letter: Letter) -> None:
    """Refuse a letter whose summary or an item is far longer than any real letter's, before
    the tokenizer and the sentence splitter spend seconds on it."""
    parts = [letter.sections.get("clinical_case_summary", "")]
    parts += [f"{i.request} {i.maximus_guideline or ''} {i.rationale or ''}" for i in letter.items]
    longest = max((len(p) for p in parts), default=0)
    if longest > MAX_UNIT_CHARS:
        raise LetterError(
            letter.source,
            f"too long: a section of {longest:,} characters (at most {MAX_UNIT_CHARS:,}; a "
            "whole real letter has about 3,000 to 17,000)",
        )


def _shortened(text: str, limit: int = HEADLINE_CHARS) -> str:
    """Cut a very long request at a word before `limit` characters (every window repeats it)."""
    if len(text) <= limit:
        return text
    return text[:limit].rsplit(" ", 1)[0] + " …"


def _windows(
    letter: Letter,
    section: str,
    index: int | None,
    headline: str,
    body: str,
    request: str | None,
    facets: dict[str, Any],
    tokenizer: Tokenizer,
) -> list[Chunk]:
    """Split one unit into windows of whole sentences that fit the model, overlapping a little."""
    budget = tokenizer.max_tokens - tokenizer.special_tokens
    if headline:
        # Every window restates which item it is about; the body gets the rest of the budget.
        budget -= tokenizer.count(headline + "\n")
    budget = max(budget, 16)
    pieces = _fitting_pieces(split_sentences(body), budget, tokenizer)
    groups = _pack(pieces, budget)
    name = "summary" if index is None else f"item-{index}"
    chunks = []
    for window, group in enumerate(groups):
        text = " ".join(text for text, _ in group)
        if headline and body != headline:
            text = f"{headline}\n{text}"
        chunks.append(
            Chunk(
                chunk_id=f"{letter.letter_id}:{name}:{window}",
                letter_id=letter.letter_id,
                section=section,
                item_index=index,
                window=window,
                windows=len(groups),
                text=text,
                token_count=tokenizer.count(text) + tokenizer.special_tokens,
                case_number=letter.case_number,
                source=letter.source,
                layout=letter.layout,
                request=request,
                **facets,
            )
        )
    return chunks


def _fitting_pieces(
    sentences: list[str], budget: int, tokenizer: Tokenizer
) -> list[tuple[str, int]]:
    """Pair each sentence with its token count, cutting any sentence longer than the budget."""
    pieces = []
    for sentence, count in zip(sentences, tokenizer.count_many(sentences), strict=True):
        if count <= budget:
            pieces.append((sentence, count))
            continue
        offsets = tokenizer.offsets(sentence)
        start_tok = 0
        while start_tok < len(offsets):
            end_tok = min(start_tok + budget, len(offsets))
            start_char = offsets[start_tok][0]
            end_char = offsets[end_tok - 1][1]
            if end_tok < len(offsets):
                # Back up to a space so that no word is cut in two.
                space = sentence.rfind(" ", start_char, offsets[end_tok][0] + 1)
                if space > start_char:
                    end_char = space
                    while end_tok > start_tok + 1 and offsets[end_tok - 1][0] >= end_char:
                        end_tok -= 1
            piece = sentence[start_char:end_char].strip()
            if piece:
                pieces.append((piece, tokenizer.count(piece)))
            start_tok = end_tok
    return pieces


def _pack(pieces: list[tuple[str, int]], budget: int) -> list[list[tuple[str, int]]]:
    """Pack pieces greedily into windows, each opening with the tail of the window before."""
    groups: list[list[tuple[str, int]]] = []
    current: list[tuple[str, int]] = []
    used = 0
    fresh = 0  # pieces in `current` that no earlier window holds
    for piece in pieces:
        if current and used + piece[1] > budget:
            groups.append(current)
            overlap: list[tuple[str, int]] = []
            size = 0
            for prev in reversed(current):
                # Carry about OVERLAP_TOKENS back, and at least one sentence unless it is long.
                small_enough = size + prev[1] <= OVERLAP_TOKENS or (
                    not overlap and prev[1] <= budget // 2
                )
                if not small_enough or size + prev[1] + piece[1] > budget:
                    break
                overlap.insert(0, prev)
                size += prev[1]
            current, used, fresh = overlap, size, 0
        current.append(piece)
        used += piece[1]
        fresh += 1
    if current and (fresh or not groups):
        groups.append(current)
    return groups


def _letter_facets(letter: Letter) -> dict[str, Any]:
    year = int(letter.decision_date[:4]) if letter.decision_date else None
    return {
        "reviewer_specialty": list(letter.reviewer.specialties),
        "licensure": list(letter.reviewer.licensure),
        "priority": letter.priority,
        "patient_sex": letter.patient.sex,
        "patient_age": letter.patient.age,
        "age_band": age_band(letter.patient.age),
        "decision_date": letter.decision_date,
        "decision_year": year,
        "date_of_injury": letter.date_of_injury,
    }


def _item_facets(item: Item) -> dict[str, list[str]]:
    treatment = item.treatment or {}
    # The request names the body part ("MRI of the lumbar spine"); when it does not ("Physical
    # therapy 2 times 6"), the rationale's opening usually does.
    regions = body_regions(item.request) or body_regions((item.rationale or "")[:400])[:2]
    return {
        "decision": [item.decision],
        "body_region": regions,
        "treatment_name": [treatment["name"]] if treatment.get("name") else [],
        "treatment_class": [treatment["class"]] if treatment.get("class") else [],
        "treatment_category": [treatment["category"]] if treatment.get("category") else [],
        "guideline_source": _unique(g["source"] for g in item.guidelines),
        "guideline_section": _unique(s for g in item.guidelines for s in g["sections"]),
    }


def _merge_item_facets(items: list[Item]) -> dict[str, list[str]]:
    merged: dict[str, list[str]] = {}
    for item in items:
        for key, values in _item_facets(item).items():
            if key != "body_region":  # the summary names its own regions
                merged[key] = _unique([*merged.get(key, []), *values])
    return merged


def _unique(values) -> list[str]:
    return list(dict.fromkeys(v for v in values if v))
