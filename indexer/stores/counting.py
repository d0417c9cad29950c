"""Exact letter counts for the embedded store in milliseconds, however many chunks match.

tantivy ranks; it cannot hand Python the set of a million matching chunks quickly (about a
microsecond per hit). So the store keeps, in numpy, what counting needs:

- `TermIndex`: every analysed term (the text index's own analyzer, over all text fields) with
  the sorted positions of the chunks holding it. A query of words, required words, exclusions
  and drug-name synonyms becomes a boolean mask over the chunks by unions and intersections of
  these lists: exactly tantivy's match set. A query it cannot express (a phrase, or a word the
  analyzer splits in two, which tantivy treats as a phrase) falls back to asking tantivy.
- `Groups`: chunks form units (the case summary, or one item, with all their windows), units
  form letters. For each facet, the (letter, value) pairs with the units that carry the value.
  A value's count is the number of its pairs with any matching unit: one compiled pass per
  facet (`kernels.py`), linear in the units, not in the hits.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from ..query_text import ParsedQuery
from ..synonyms import expansions
from .kernels import count_pairs, segments_hit


@dataclass
class TermIndex:
    """Analysed term -> sorted chunk positions, as one CSR array."""

    vocab: dict[str, int]
    offsets: np.ndarray  # int64, len(vocab) + 1
    postings: np.ndarray  # int32 positions

    @classmethod
    def build(cls, texts: Iterable[str], analyze) -> TermIndex:
        """Index the texts, one per position, with `analyze(text) -> list[str]`."""
        vocab: dict[str, int] = {}
        ids: list[np.ndarray] = []
        counts: list[int] = []
        for text in texts:
            terms = {vocab.setdefault(t, len(vocab)) for t in analyze(text)} if text else ()
            ids.append(np.fromiter(terms, dtype=np.int32, count=len(terms)))
            counts.append(len(terms))
        if not ids:
            return cls(vocab, np.zeros(1, np.int64), np.zeros(0, np.int32))
        pair_term = np.concatenate(ids)
        pair_pos = np.repeat(np.arange(len(counts), dtype=np.int32), counts)
        order = np.argsort(pair_term, kind="stable")  # stable: positions stay ascending
        offsets = np.zeros(len(vocab) + 1, np.int64)
        np.cumsum(np.bincount(pair_term, minlength=len(vocab)), out=offsets[1:])
        return cls(vocab, offsets, pair_pos[order])

    def positions(self, term: str) -> np.ndarray:
        """Return the sorted positions of the chunks holding `term` (analysed form)."""
        i = self.vocab.get(term)
        if i is None:
            return np.zeros(0, np.int32)
        return self.postings[self.offsets[i] : self.offsets[i + 1]]


def query_mask(query: ParsedQuery, terms: TermIndex, n: int, analyze) -> np.ndarray | None:
    """Return the chunks a query matches as a mask, or None when only tantivy can tell."""

    def clause_mask(text: str) -> np.ndarray | None:
        words = expansions().get(text.lower()) or [text]
        m = np.zeros(n, dtype=bool)
        for word in words:
            analysed = analyze(word)
            if len(analysed) > 1:
                return None  # tantivy makes a phrase of it
            if analysed:
                m[terms.positions(analysed[0])] = True
        return m

    must, should, must_not = [], [], []
    for clause in query.clauses:
        if clause.phrase:
            return None
        words = expansions().get(clause.text.lower()) or [clause.text]
        if not any(analyze(w) for w in words):
            if clause.occur == "must":
                return None  # a required stop word: leave tantivy's rules to tantivy
            continue  # a stop word alone matches nothing and requires nothing
        m = clause_mask(clause.text)
        if m is None:
            return None
        {"must": must, "should": should, "must_not": must_not}[clause.occur].append(m)
    if query.is_empty:
        mask = np.ones(n, dtype=bool)  # only exclusions: everything else matches
    elif must:
        mask = np.logical_and.reduce(must)
    elif should:
        mask = np.logical_or.reduce(should)
    else:
        return np.zeros(n, dtype=bool)  # every word a stop word: tantivy matches nothing
    for m in must_not:
        mask &= ~m
    return mask


def _any_by(flags: np.ndarray, starts: np.ndarray, owner: np.ndarray) -> np.ndarray:
    """Per segment, whether any flag in it is set; `owner` maps each flag to its segment."""
    set_count = np.count_nonzero(flags)
    if set_count * 16 < len(flags):  # few: mark their segments directly
        out = np.zeros(len(starts), dtype=bool)
        out[owner[np.flatnonzero(flags)]] = True
        return out
    return segments_hit(flags, starts)


def name_ranks(values: list[str]) -> np.ndarray:
    """Each value's rank in alphabetical order, for `ranked_counts`."""
    ranks = np.empty(len(values), dtype=np.int64)
    ranks[sorted(range(len(values)), key=values.__getitem__)] = np.arange(len(values))
    return ranks


def ranked_counts(values: list[str], ranks: np.ndarray, counts: np.ndarray) -> dict[str, int]:
    """The values with a count, most counted first, then by name (`ranks`: `name_ranks`)."""
    # In numpy: sorting a guideline facet's hundred-odd values in Python took 70 us a search.
    found = np.flatnonzero(counts)
    order = found[np.lexsort((ranks[found], -counts[found]))]
    return dict(zip([values[i] for i in order.tolist()], counts[order].tolist(), strict=True))


@dataclass
class FacetGroups:
    """One facet's (letter, value) pairs and the units carrying each, for counting by mask."""

    values: list[str]
    starts: np.ndarray  # int64: first entry of each pair in `units`
    value_of: np.ndarray  # int32: the value of each pair
    units: np.ndarray  # int32: unit ids, grouped by pair (letter ids for a letter-level facet)
    # Every unit of a letter has the same values (reviewer, dates...): one entry per pair.
    letter_level: bool = False

    @cached_property
    def ranks(self) -> np.ndarray:
        """The values' alphabetical ranks (`name_ranks`)."""
        return name_ranks(self.values)


@dataclass
class Groups:
    """Chunks grouped into units and letters, and every facet's pairs."""

    unit_starts: np.ndarray  # int64: first position of each unit
    letter_unit_starts: np.ndarray  # int64: first unit of each letter (letters in order)
    facets: dict[str, FacetGroups]
    unit_of: np.ndarray  # int32: the unit of each position
    unit_letter: np.ndarray  # int32: the letter (its rank in order) of each unit

    @classmethod
    def build(
        cls,
        letter_index: np.ndarray,
        unit_key: np.ndarray,
        postings: dict[str, dict[str, np.ndarray]],
    ) -> Groups:
        """Group positions whose letter and unit key (section and item) stay the same."""
        n = len(letter_index)
        if n == 0:
            empty = np.zeros(0, np.int64)
            return cls(empty, empty, {}, empty.astype(np.int32), empty.astype(np.int32))
        change = np.ones(n, dtype=bool)
        change[1:] = (letter_index[1:] != letter_index[:-1]) | (unit_key[1:] != unit_key[:-1])
        unit_starts = np.flatnonzero(change)
        unit_of = np.cumsum(change) - 1
        unit_letter = letter_index[unit_starts]
        new_letter = np.ones(len(unit_starts), dtype=bool)
        new_letter[1:] = unit_letter[1:] != unit_letter[:-1]
        letter_unit_starts = np.flatnonzero(new_letter)
        letter_rank = np.cumsum(new_letter) - 1  # letters numbered in order of position
        units_per_letter = np.diff(np.append(letter_unit_starts, len(unit_starts)))
        facets = {}
        for facet, by_value in postings.items():
            values, starts, value_of, units, letters_of = [], [], [], [], []
            total, letter_level = 0, True
            for v, positions in by_value.items():
                u = np.unique(unit_of[positions])
                letters = letter_rank[u]
                first = np.ones(len(u), dtype=bool)
                first[1:] = letters[1:] != letters[:-1]
                s = np.flatnonzero(first)
                whole = np.diff(np.append(s, len(u))) == units_per_letter[letters[s]]
                letter_level = letter_level and bool(whole.all())
                starts.append(s + total)
                value_of.append(np.full(len(s), len(values), np.int32))
                units.append(u.astype(np.int32))
                letters_of.append(letters[s].astype(np.int32))
                values.append(v)
                total += len(u)
            if not values:
                continue
            if letter_level:
                value_of_all = np.concatenate(value_of)
                facets[facet] = FacetGroups(
                    values,
                    np.arange(len(value_of_all), dtype=np.int64),
                    value_of_all,
                    np.concatenate(letters_of),
                    letter_level=True,
                )
            else:
                facets[facet] = FacetGroups(
                    values, np.concatenate(starts), np.concatenate(value_of), np.concatenate(units)
                )
        return cls(
            unit_starts,
            letter_unit_starts,
            facets,
            unit_of.astype(np.int32),
            letter_rank.astype(np.int32),
        )

    def unit_hits(self, mask: np.ndarray) -> np.ndarray:
        """Return, per unit, whether any of its chunks is in the mask."""
        return _any_by(mask, self.unit_starts, self.unit_of)

    def letter_hits(self, units: np.ndarray) -> np.ndarray:
        """Return, per letter (in order of position), whether any of its units hits."""
        return _any_by(units, self.letter_unit_starts, self.unit_letter)

    def count(self, facet: str, units: np.ndarray, letters: np.ndarray) -> dict[str, int]:
        """Count, per value of `facet`, the letters with a unit hit that carries the value."""
        groups = self.facets.get(facet)
        if groups is None or not len(groups.starts):
            return {}
        hits = letters if groups.letter_level else units
        counts = count_pairs(hits, groups.starts, groups.units, groups.value_of, len(groups.values))
        return ranked_counts(groups.values, groups.ranks, counts)
