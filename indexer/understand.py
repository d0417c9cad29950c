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
_OVERTURNED_WORDS = (
    r"overturn(?:ed|s|ing)?|approved?|approval|granted|reversed|certified|"
    r"found (?:medically )?necessary|was necessary"
)
_UPHELD_WORDS = (
    r"upheld|uphold(?:s|ing)?|affirmed|denied|denials?|not (?:medically )?necessary|"
    r"non-?certified|rejected"
)
_OVERTURNED = re.compile(rf"\b(?:{_OVERTURNED_WORDS})\b", re.IGNORECASE)
_UPHELD = re.compile(rf"\b(?:{_UPHELD_WORDS})\b", re.IGNORECASE)
# An outcome phrase with the words that frame it ("was ... found medically necessary on review",
# "overturned decisions"): what is left of the query once these go is its topic.
_OUTCOME_PHRASE = re.compile(
    r"\b(?:(?:was|were|is|are|been|being|gets?|got)\s+)?"
    rf"(?:{_UPHELD_WORDS}|{_OVERTURNED_WORDS})"
    r"(?:\s+(?:on|by|at|in|after|upon|through|via)\s+(?:the\s+)?(?:independent\s+)?"
    r"(?:medical\s+)?(?:review|reviewer|imr|appeal)s?)?"
    r"(?:\s+(?:decisions?|determinations?|cases?))?\b",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Intent:
    """What a query asks about: its topic words, the outcome it prefers, and the treatments,
    treatment classes and body regions it names (values the index holds)."""

    topic: str
    decision: str | None = None
    names: frozenset[str] = frozenset()
    classes: frozenset[str] = frozenset()
    regions: frozenset[str] = frozenset()
    #: (class, how many of the query's words name it), for the classes above.
    class_words: tuple[tuple[str, int], ...] = ()

    @property
    def treatments(self) -> bool:
        """Tell whether the query names a treatment or a treatment class."""
        return bool(self.names or self.classes)


def topic_of(q: str) -> str:
    """Return the query without its words about the outcome ("Norco overturned" -> "Norco")."""
    topic = " ".join(_OUTCOME_PHRASE.sub(" ", q).split())
    # A query of outcome words only ("overturned") keeps them: they are all it asks for.
    return topic if re.search(r"\w", topic) else q


def read_intent(q: str, known_values: dict[str, set[str]], prefer_outcome: bool = True) -> Intent:
    """Return what the query asks about, its outcome only when `prefer_outcome`."""
    decision = implied_decision(q) if prefer_outcome else None
    topic = topic_of(q)
    found = suggestions(topic, known_values)
    names = {s.value for s in found if s.facet == "treatment_name"}
    names |= named_treatments(topic, frozenset(known_values.get("treatment_name", ())))
    classes = {s.value for s in found if s.facet == "treatment_class"}
    # How many of the query's words name each class: "compounded topical creams" names the
    # compounded topicals by three words, plain topical analgesics by two.
    lowered = " ".join(re.findall(r"[a-z0-9-]+", topic.lower()))
    counts = {c: 0 for c in classes}
    for _, pattern, named in _class_patterns():
        if pattern.search(lowered):
            for c in classes.intersection(named):
                counts[c] += 1
    return Intent(
        topic,
        decision,
        frozenset(names),
        frozenset(classes),
        frozenset(s.value for s in found if s.facet == "body_region"),
        tuple(sorted(counts.items())),
    )


def _singular(word: str) -> str:
    return word[:-1] if len(word) > 3 and word.endswith("s") and not word.endswith("ss") else word


def _words(text: str) -> tuple[str, ...]:
    return tuple(_singular(w) for w in re.findall(r"[a-z0-9]+", text.lower()))


# Words that add nothing to what a treatment name names: "chiropractic care" is "chiropractic".
_GENERIC_NAME_WORDS = frozenset({"care", "treatment", "service", "session", "visit", "unit"})


@cache
def _name_table(names: frozenset[str]) -> dict[str, list[tuple[tuple[str, ...], str]]]:
    """Treatment names by their first word, each as its words ("emg/ncv" -> ("emg", "ncv"))."""
    table: dict[str, list[tuple[tuple[str, ...], str]]] = {}
    for name in names:
        words = tuple(w for w in _words(name) if w not in _GENERIC_NAME_WORDS) or _words(name)
        if words and not (len(words) == 1 and len(words[0]) < 3):
            table.setdefault(words[0], []).append((words, name))
    return table


def named_treatments(q: str, names: frozenset[str]) -> set[str]:
    """Return the treatment names of the index that the query writes out ("TENS units")."""
    table = _name_table(names)
    words = _words(q)
    found = set()
    for i, word in enumerate(words):
        for name_words, name in table.get(word, ()):
            if words[i : i + len(name_words)] == name_words:
                found.add(name)
    return found


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
    for name in sorted(named_treatments(q, frozenset(known_values.get("treatment_name", ())))):
        first = _words(name)[0]
        at = lowered.find(first)
        named.append((at if at >= 0 else len(q), Suggestion("treatment_name", name, name)))
    for region in body_regions(q):
        named.append((len(q), Suggestion("body_region", region, region)))
    found += [s for _, s in sorted(named, key=lambda pair: pair[0])]
    out, seen = [], set()
    for s in found:
        if (s.facet, s.value) not in seen and s.value in known_values.get(s.facet, set()):
            seen.add((s.facet, s.value))
            out.append(s)
    return out
