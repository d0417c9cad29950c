"""Query understanding: what a query says about the decision and the treatment, as filters a user
can apply with one click (the words are still searched as typed)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache

from .letters.body_region import body_regions
from .letters.treatment import CLASS_TERMS
from .synonyms import expansions

# Words about the IMR outcome. "Approved" in a query means the reviewer approved the treatment,
# that is, overturned the denial; "denied" means the denial stood.
_OVERTURNED = re.compile(
    r"\b(?:overturn(?:ed|s|ing)?|approved?|approval|granted|reversed|certified|"
    r"found (?:medically )?necessary|was necessary)\b",
    re.IGNORECASE,
)
_UPHELD = re.compile(
    r"\b(?:upheld|uphold(?:s|ing)?|affirmed|denied|denials?|not (?:medically )?necessary|"
    r"non-?certified|rejected)\b",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Suggestion:
    """A filter the query implies: its facet, value, and the words that implied it."""

    facet: str
    value: str
    words: str


def implied_decision(q: str) -> str | None:
    """Return "overturned" or "upheld" when the query speaks of one outcome only."""
    overturned, upheld = bool(_OVERTURNED.search(q)), bool(_UPHELD.search(q))
    if overturned == upheld:
        return None
    return "overturned" if overturned else "upheld"


@cache
def _class_words() -> dict[str, tuple[str, ...]]:
    """Everyday word or class name -> the treatment classes it names."""
    table: dict[str, list[str]] = {}
    for cls, terms in CLASS_TERMS.items():
        for word in dict.fromkeys([cls, *(t for t in terms.split() if len(t) > 4)]):
            table.setdefault(word, []).append(cls)
    # Words shared by many classes ("imaging", "topical") name no class in particular.
    return {w: tuple(c) for w, c in table.items() if len(c) <= 2}


@cache
def _class_patterns() -> list[tuple[str, re.Pattern[str], tuple[str, ...]]]:
    """Each class word with its compiled pattern (singular or plural), compiled once."""
    return [(w, re.compile(rf"\b{re.escape(w)}s?\b"), c) for w, c in _class_words().items()]


def suggestions(q: str, known_values: dict[str, set[str]]) -> list[Suggestion]:
    """Return the filters the query implies, among the values the index holds."""
    found: list[Suggestion] = []
    decision = implied_decision(q)
    if decision:
        words = (_OVERTURNED if decision == "overturned" else _UPHELD).search(q).group(0)
        found.append(Suggestion("decision", decision, words))
    lowered = " ".join(re.findall(r"[a-z0-9-]+", q.lower()))
    named: list[tuple[int, Suggestion]] = []  # by where the words stand in the query
    for phrase, pattern, classes in _class_patterns():
        m = pattern.search(lowered)
        if m:
            named += [(m.start(), Suggestion("treatment_class", c, phrase)) for c in classes]
    for m in re.finditer(r"[a-z0-9-]+", lowered):
        group = expansions().get(m.group(0))
        if group:
            named.append((m.start(), Suggestion("treatment_name", group[0], m.group(0))))
    for region in body_regions(q):
        named.append((len(q), Suggestion("body_region", region, region)))
    found += [s for _, s in sorted(named, key=lambda pair: pair[0])]
    out, seen = [], set()
    for s in found:
        if (s.facet, s.value) not in seen and s.value in known_values.get(s.facet, set()):
            seen.add((s.facet, s.value))
            out.append(s)
    return out
