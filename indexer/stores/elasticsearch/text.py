"""The text Elasticsearch indexes and is asked for, analysed here by the embedded store's analyzer.

Why not Elasticsearch's own English analysis: the distribution Elastic publishes on Maven
Central (the one `scripts/elasticsearch.sh` runs, in CI too) has no `analysis-common` module,
so no stemmer and no synonym filter; and analysing in one place gives both back ends the same
terms, so the same words match the same chunks on either. Each text field is indexed a second
time, as its analysed terms separated by spaces, under `analysed.<field>` with Elasticsearch's
built-in `whitespace` analyzer (the original stays in `_source` for display and highlighting,
the copy is left out of it). Query words are analysed the same way and a drug name is expanded
to its synonym group (`synonyms.expansions`) when the query is built, so editing the synonyms
needs no reindex.

Text analysis
-------------
Text is analysed in Python (this module: the embedded store's analyzer, drug synonyms expanded
in the query), because that distribution has no analysis-common module either (no stemmer, no
synonym filter); both back ends therefore match the same words in the same chunks. Highlights
are made in Python too (`snippets`).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from ...query_text import Clause
from ...schema import TEXT_BOOSTS
from ...synonyms import expansions
from ..analysis import analyze

#: Where the analysed copy of each text field lives in a chunk document.
ANALYSED = "analysed"
#: simple_query_string fields, with the boosts both back ends share.
QUERY_FIELDS = [f"{ANALYSED}.{name}^{boost:.1f}" for name, boost in TEXT_BOOSTS.items()]
#: `|` and parentheses join a word's synonyms; quotes make a phrase; nothing else is syntax.
QUERY_FLAGS = "OR|PHRASE|PRECEDENCE|WHITESPACE"


def analysed_fields(doc: dict[str, Any]) -> dict[str, str]:
    """Return the analysed copy of a chunk document's text fields (those with text)."""
    out = {}
    for name in TEXT_BOOSTS:
        value = doc.get(name)
        if value:
            out[name] = " ".join(analyze(value if isinstance(value, str) else " ".join(value)))
    return out


def _terms(text: str) -> str | None:
    """A word or phrase as query syntax over analysed text: a term, or a quoted phrase."""
    terms = analyze(text)
    if not terms:
        return None
    return terms[0] if len(terms) == 1 else '"' + " ".join(terms) + '"'


def clause_syntax(clause: Clause) -> str | None:
    """Return a clause in simple_query_string syntax over analysed text, synonyms expanded;
    None when it has no term left (a stop word)."""
    if clause.phrase:
        return _terms(clause.text)
    words = expansions().get(clause.text.lower()) or (clause.text,)
    variants = list(dict.fromkeys(t for t in map(_terms, words) if t))
    if not variants:
        return None
    return variants[0] if len(variants) == 1 else "(" + " | ".join(variants) + ")"


def simple_query(clauses: Iterable[Clause]) -> dict[str, Any] | None:
    """Return the `simple_query_string` matching any of the clauses, or None if none can match."""
    parts = [p for p in map(clause_syntax, clauses) if p]
    if not parts:
        return None
    return {
        "simple_query_string": {
            "query": " ".join(parts),
            "fields": list(QUERY_FIELDS),
            "analyzer": "whitespace",
            "default_operator": "or",
            "flags": QUERY_FLAGS,
        }
    }
