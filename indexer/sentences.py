"""Split letter prose into sentences without breaking at abbreviations such as 'Dr.' or 'pg.'."""

from __future__ import annotations

import re

_ABBREVIATIONS = {
    "dr",
    "mr",
    "mrs",
    "ms",
    "no",
    "nos",
    "vs",
    "e.g",
    "i.e",
    "pg",
    "p",
    "pp",
    "ed",
    "al",
    "approx",
    "inc",
    "jr",
    "sr",
    "st",
    "etc",
    "fig",
    "vol",
    "ch",
    "sec",
    "dept",
    "u.s",
    "cf",
    "b.i.d",
    "t.i.d",
    "q.i.d",
    "p.o",
    "h.s",
    "q.d",
    "prn",
    "jan",
    "feb",
    "mar",
    "apr",
    "jun",
    "jul",
    "aug",
    "sep",
    "sept",
    "oct",
    "nov",
    "dec",
    "rev",
    "est",
    "ca",
}
_BOUNDARY = re.compile(r"[.!?][\"')\]]*\s+(?=[\"'(\[]?[A-Z0-9])")


def split_sentences(text: str) -> list[str]:
    """Return the sentences of `text`, whitespace collapsed."""
    text = " ".join(text.split())
    sentences, start = [], 0
    for m in _BOUNDARY.finditer(text):
        before = text[start : m.start() + 1]
        last_word = before.rsplit(" ", 1)[-1].rstrip(".!?").lower()
        # An abbreviation or an initial ("J.") does not end a sentence.
        if text[m.start()] == "." and (
            last_word in _ABBREVIATIONS or re.fullmatch(r"[a-z]", last_word)
        ):
            continue
        sentences.append(text[start : m.end()].strip())
        start = m.end()
    tail = text[start:].strip()
    if tail:
        sentences.append(tail)
    return sentences
