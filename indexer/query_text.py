"""The query language users type, as Elasticsearch's simple_query_string knows it: words,
"quoted phrases", -excluded words or phrases, +required ones; OR is the default."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

#: Longest query we accept, in characters; longer text is a pasted document (see `search`).
MAX_QUERY_CHARS = 4000
_TOKEN = re.compile(r'([+-]?)"([^"]*)"|([+-]?)([^\s"]+)')
# Characters with a meaning in Lucene or tantivy query syntax; inside a word they are noise.
# (Tantivy rejects a query with a ' or ` anywhere; both back ends' analyzers split words there.)
_SPECIAL = re.compile(r"[+\-=&|!(){}\[\]^\"'`~*?:\\/<>]")
#: Words that are operators in tantivy's query language: searched as the plain words they are.
_OPERATOR_WORDS = frozenset({"AND", "OR", "NOT", "IN", "TO"})


@dataclass(frozen=True)
class Clause:
    """One word or phrase of a query and whether it is required, excluded or optional."""

    text: str
    phrase: bool = False
    occur: str = "should"  # "should", "must" (+) or "must_not" (-)


@dataclass(frozen=True)
class ParsedQuery:
    """A user's query broken into clauses."""

    clauses: tuple[Clause, ...] = field(default_factory=tuple)

    @property
    def positive(self) -> tuple[Clause, ...]:
        """The clauses that can match (optional or required)."""
        return tuple(c for c in self.clauses if c.occur != "must_not")

    @property
    def negative(self) -> tuple[Clause, ...]:
        """The excluded clauses."""
        return tuple(c for c in self.clauses if c.occur == "must_not")

    @property
    def is_empty(self) -> bool:
        """True when nothing in the query can match, e.g. only exclusions or operators."""
        return not self.positive


def parse_query(text: str) -> ParsedQuery:
    """Parse a user's query; never fails: an unbalanced quote just ends the phrase at the end."""
    text = text.replace("\x00", " ")
    if text.count('"') % 2:
        text += '"'
    clauses: list[Clause] = []
    for m in _TOKEN.finditer(text):
        if m.group(2) is not None:
            sign, body, phrase = m.group(1), m.group(2), True
        else:
            sign, body, phrase = m.group(3), m.group(4), False
        if not phrase and body.upper() in ("OR", "AND", "|", "&&", "||"):
            continue  # OR is the default; AND-lists are written with +
        words = _clean(body)
        if not words:
            continue
        occur = {"-": "must_not", "+": "must"}.get(sign, "should")
        if phrase and len(words.split()) > 1:
            clauses.append(Clause(words, True, occur))
        else:
            # A "word" like L4-5 or EMG/NCV becomes its parts, each a clause of its own.
            for word in words.split():
                word = word.lower() if word in _OPERATOR_WORDS else word
                clauses.append(Clause(word, False, occur))
    return ParsedQuery(tuple(clauses))


def _clean(text: str) -> str:
    # A word without a letter or digit ("...", "#", an emoji) is no word to either back end's
    # analyzer; and tantivy refuses a query of two or more such words.
    words = _SPECIAL.sub(" ", text).split()
    return " ".join(w for w in words if any(ch.isalnum() for ch in w))
