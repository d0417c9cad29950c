"""Mark a query's words in a letter's text, for the letter page."""

from __future__ import annotations

import re
from html import escape

from markupsafe import Markup

from .query_text import parse_query
from .synonyms import expansions

_STOP = frozenset(
    "a an and are as at be but by for if in into is it no not of on or such that the "
    "their then there these they this to was will with".split()
)


def query_terms(q: str) -> list[str]:
    """Return the words and phrases of a query worth marking, with drug synonyms added."""
    terms: list[str] = []
    for clause in parse_query(q[:500]).positive:
        text = clause.text.lower()
        if clause.phrase:
            terms.append(text)
        elif text not in _STOP and len(text) > 1:
            terms += list(expansions().get(text, (text,)))
    return list(dict.fromkeys(terms))


def highlight_terms(text: str, q: str) -> Markup:
    """Return `text` escaped, with the query's words (and their inflections) in <mark>."""
    terms = query_terms(q) if q else []
    if not terms:
        return Markup(escape(text))
    # A word matches with any ending ("benzodiazepine" marks "benzodiazepines"), as the
    # stemmed search matched it.
    stems = sorted(
        (re.escape(t[:-1] if len(t) > 4 and t.endswith("s") else t) for t in terms),
        key=len,
        reverse=True,
    )
    pattern = re.compile(r"\b(?:" + "|".join(stems) + r")\w*", re.IGNORECASE)
    out, last = [], 0
    for m in pattern.finditer(text):
        out.append(escape(text[last : m.start()]))
        out.append(f"<mark>{escape(m.group(0))}</mark>")
        last = m.end()
    out.append(escape(text[last:]))
    return Markup("".join(out))
