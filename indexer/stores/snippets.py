"""Highlighted fragments of a chunk's text, found by the same analysis the search matched with.

Elasticsearch indexes text analysed here (see `elasticsearch/text.py`), so its own
highlighter, which works on the indexed field, would mark the analysed terms instead of the
letter's words; this module marks the original words whose analysed form is one of the query's
terms.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from html import escape

from ..query_text import ParsedQuery
from ..synonyms import expansions
from .analysis import analyze

#: Characters per fragment and fragments per chunk, as the result list shows them.
FRAGMENT_CHARS = 180
FRAGMENTS = 2
_WORD = re.compile(r"\w+")


def query_terms(query: ParsedQuery) -> frozenset[str]:
    """Return the analysed terms of a query's positive words and phrases, synonyms included."""
    terms: set[str] = set()
    for clause in query.positive:
        words = (
            [clause.text]
            if clause.phrase
            else list(expansions().get(clause.text.lower()) or [clause.text])
        )
        for word in words:
            terms.update(analyze(word))
    return frozenset(terms)


def _marked_spans(text: str, terms: frozenset[str]) -> list[tuple[int, int]]:
    spans = []
    for m in _WORD.finditer(text):
        analysed = analyze(m.group(0))
        if analysed and analysed[0] in terms:
            spans.append((m.start(), m.end()))
    return spans


def _window(text: str, spans: list[tuple[int, int]], size: int) -> tuple[int, int, int]:
    """The `size`-character window holding most marked words: (start, end, count)."""
    best = (0, min(len(text), size), 0)
    j = 0
    for i, (start, _) in enumerate(spans):
        j = max(j, i)
        while j + 1 < len(spans) and spans[j + 1][1] - start <= size:
            j += 1
        if j - i + 1 > best[2]:
            # Centre the marked words in the window, then widen it to word boundaries.
            slack = max(0, size - (spans[j][1] - start))
            left = max(0, start - slack // 2)
            right = min(len(text), left + size)
            best = (left, right, j - i + 1)
    return best


def _snap(text: str, left: int, right: int) -> tuple[int, int]:
    if left > 0:
        space = text.find(" ", left)
        left = space + 1 if 0 <= space < left + 20 else left
    if right < len(text):
        space = text.rfind(" ", left, right)
        right = space if space > left + 20 else right
    return left, right


def fragments(text: str, terms: frozenset[str], size: int = FRAGMENT_CHARS) -> list[str]:
    """Return up to two HTML fragments of `text` with the words of `terms` in <mark>."""
    spans = _marked_spans(text, terms) if terms else []
    out = []
    while spans and len(out) < FRAGMENTS:
        left, right, _ = _window(text, spans, size)
        left, right = _snap(text, left, right)
        inside = [s for s in spans if s[0] >= left and s[1] <= right]
        if not inside:
            break
        html, last = [], left
        for start, end in inside:
            html.append(escape(text[last:start]))
            html.append(f"<mark>{escape(text[start:end])}</mark>")
            last = end
        html.append(escape(text[last:right]))
        out.append("".join(html).strip())
        spans = [s for s in spans if s not in inside]
    return out


def highlight_texts(query: ParsedQuery, texts: Iterable[tuple[str, str]]) -> dict[str, list[str]]:
    """Return chunk_id -> fragments for each (chunk_id, text) holding one of the query's words."""
    terms = query_terms(query)
    if not terms:
        return {}
    out = {}
    for chunk_id, text in texts:
        found = fragments(text, terms)
        if found:
            out[chunk_id] = found
    return out
