"""Turn extracted letter text into clean paragraphs: re-join wrapped lines, drop page furniture."""

from __future__ import annotations

import re
from collections import Counter

# Lines that start a new paragraph even when the previous line looks wrapped: the letters'
# headings and labelled fields.
_LABEL_START = re.compile(
    r"^(?:Case Number|IMR Case Number|Date Assigned|Date of Injury|Decision Date|UR Denial Date|"
    r"Priority|Application Received|Dated|Date of UR Decision|Claims? Administrator guideline|"
    r"MAXIMUS guideline|Decision rationale|Rationale for the Decision|State\(s\) of Licensure|"
    r"Certification\(s\)/Specialty|The Expert Reviewer has the following credentials|"
    r"The Final Determination was based on|The Claims Administrator based its decision|"
    r"The (?:Expert|Physician|Professional) Reviewer based (?:his/her|his|her|their) decision)\b",
    re.IGNORECASE,
)
_VERDICT_END = re.compile(r":\s*(?:Upheld|Overturned)\s*\.?$", re.IGNORECASE)
_PAGE_FURNITURE = re.compile(
    r"^\s*(?:page\s*\d+\s*(?:of\s*\d+)?|-\s*\d+\s*-|\d{1,3})\s*$", re.IGNORECASE
)
_SPACES = re.compile(r"[ \t\u00a0\u2000-\u200b\u202f\u3000]+")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0e-\x1f\x7f]")
# Width at which a text counts as hard-wrapped; unwrapped letters have paragraph-long lines.
_MAX_WRAP_WIDTH = 160


def normalize_pages(pages: list[str]) -> str:
    """Return the letter's text as paragraphs separated by blank lines, wrapped lines re-joined."""
    pages = _drop_page_furniture([_clean_chars(p) for p in pages])
    lines: list[str] = []
    for page in pages:
        page_lines = page.split("\n")
        # A page break is not a paragraph break: strip the blank edges so wrapping decides.
        # (Indices, not pop(0): a page of a million blank lines must not take quadratic time.)
        start, end = 0, len(page_lines)
        while start < end and not page_lines[start].strip():
            start += 1
        while end > start and not page_lines[end - 1].strip():
            end -= 1
        lines.extend(page_lines[start:end])
    # One wrap width for the whole letter: a short block alone would suggest a narrow one.
    width = _wrap_width([ln.strip() for ln in lines if ln.strip()])
    paragraphs = [_join_block(block, width) for block in _blocks(lines)]
    return "\n\n".join(p for p in paragraphs if p)


def is_heading(line: str) -> bool:
    """Tell whether a line is an upper-case section heading such as 'CLINICAL CASE SUMMARY'."""
    if len(line) > 120:  # checked first: most lines are long, and this is called per line
        return False
    letters = [c for c in line if c.isalpha()]
    return len(letters) >= 6 and all(c.isupper() for c in letters)


def _clean_chars(text: str) -> str:
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\f", "\n")
    text = _CONTROL.sub("", text)
    # A line of only spaces is kept as one space: double-spaced extractions mark real
    # paragraph breaks that way, apart from the empty lines that follow every line.
    return "\n".join(line.rstrip() or line[:1] for line in text.split("\n"))


def _drop_page_furniture(pages: list[str]) -> list[str]:
    """Drop page numbers and header/footer lines that repeat at the edges of most pages."""
    edge_counts: Counter[str] = Counter()
    split = []
    for page in pages:
        lines = [ln for ln in page.split("\n") if not _PAGE_FURNITURE.match(ln)]
        split.append(lines)
        nonblank = [ln.strip() for ln in lines if ln.strip()]
        for edge in set(nonblank[:1] + nonblank[-1:]):
            if len(edge) <= 80:
                edge_counts[_furniture_key(edge)] += 1
    repeated = set()
    if len(pages) >= 3:
        repeated = {k for k, n in edge_counts.items() if n >= max(3, len(pages) * 0.6)}
    out = []
    for lines in split:
        nonblank_idx = [i for i, ln in enumerate(lines) if ln.strip()]
        edges = set(nonblank_idx[:1] + nonblank_idx[-1:])
        kept = [
            ln
            for i, ln in enumerate(lines)
            if not (i in edges and _furniture_key(ln.strip()) in repeated)
        ]
        out.append("\n".join(kept))
    return out


def _furniture_key(line: str) -> str:
    # Running headers differ only in their page number.
    return re.sub(r"\d+", "#", _SPACES.sub(" ", line)).strip().lower()


def _blocks(lines: list[str]) -> list[list[str]]:
    """Split lines into paragraph blocks, telling wrap artefacts from real blank lines."""
    double_spaced = _is_double_spaced(lines)
    blocks: list[list[str]] = [[]]
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.strip():
            blocks[-1].append(line)
            i += 1
            continue
        run_start = i
        while i < len(lines) and not lines[i].strip():
            i += 1
        run = lines[run_start:i]
        # Double-spaced extraction puts empty lines after every line (two at a page break); only
        # a line holding spaces marks a paragraph there.
        soft = double_spaced and all(r == "" for r in run)
        if not soft and blocks[-1]:
            blocks.append([])
    return [b for b in blocks if b]


def _is_double_spaced(lines: list[str]) -> bool:
    nonblank = [i for i, ln in enumerate(lines) if ln.strip()]
    if len(nonblank) < 6:
        return False
    followed_by_one_blank = sum(
        1 for i in nonblank if i + 2 < len(lines) and lines[i + 1] == "" and lines[i + 2].strip()
    )
    return followed_by_one_blank >= 0.5 * len(nonblank)


def _join_block(block: list[str], width: int | None) -> str:
    """Join a block's lines into paragraphs, re-joining lines that were wrapped."""
    lines = [_SPACES.sub(" ", ln).strip() for ln in block]
    lines = [ln for ln in lines if ln]
    if not lines:
        return ""
    # Each paragraph is a list of pieces joined at the end: adding a line to a growing string
    # would take quadratic time on a block of many thousands of lines.
    paragraphs = [[lines[0]]]
    for prev_line, line in zip(lines, lines[1:], strict=False):
        if _continues(prev_line, line, width):
            pieces = paragraphs[-1]
            end = "".join(pieces[-2:])[-2:]  # the paragraph's last two characters
            if end.endswith("-") and len(end) > 1 and end[-2].isalnum() and line[0].isalnum():
                pieces.append(line)  # a word hyphenated across the wrap
            else:
                pieces += (" ", line)
        else:
            paragraphs.append([line])
    return "\n\n".join("".join(pieces) for pieces in paragraphs)


def _wrap_width(lines: list[str]) -> int | None:
    lengths = sorted(len(ln) for ln in lines)
    if len(lengths) < 2:
        return None
    p90 = lengths[min(len(lengths) - 1, int(len(lengths) * 0.9))]
    return p90 if p90 <= _MAX_WRAP_WIDTH else None


def _continues(prev_line: str, line: str, width: int | None) -> bool:
    """Tell whether `line` continues the paragraph whose last physical line is `prev_line`."""
    if _LABEL_START.match(line) or is_heading(line) or is_heading(prev_line):
        return False
    if _VERDICT_END.search(prev_line) or re.search(r"\bbelow:$", prev_line):
        return False  # an item's verdict, or the lead-in to the list of items, ends its line
    if re.fullmatch(r"(?:Upheld|Overturned)\.?", line, re.IGNORECASE):
        return True  # a verdict wrapped onto its own line
    if re.search(r"[A-Za-z0-9]-$", prev_line) and line[0].isalnum():
        return True  # a word or date hyphenated across the wrap
    if _VERDICT_END.search(line) and prev_line.endswith((".", '"', "!", "?")):
        return False
    if width is None:
        return False
    # The break was a wrap if the next word would not have fitted on the previous line; 0.8
    # allows for proportional fonts, where a full line holds fewer characters.
    first_word = line.split(" ", 1)[0]
    return len(prev_line) + 1 + len(first_word) > 0.8 * width
