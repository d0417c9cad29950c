"""The embedded store's in-memory columns: row ids, letters, embeddings and facet postings.

Loaded from SQLite once per generation. SQLite extracts the needed fields from each chunk's JSON
(facets, dates, the searchable text for the term postings of `counting.py`), and orjson parses
them.
"""

from __future__ import annotations

import functools
import sqlite3
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
import orjson

from ..schema import DATE_FIELDS, TEXT_BOOSTS, facet_names
from .analysis import analyze
from .base import TOPIC_FIELDS, ChunkHit, Filters, PartialDoc
from .counting import Groups, TermIndex, name_ranks, ranked_counts
from .kernels import count_positions

#: Filter masks kept per columns (a mask is one byte per chunk: 1 MB at a million chunks).
_MASK_CACHE_SIZE = 32


@functools.lru_cache(maxsize=16384)
def _iso_date(yyyymmdd: int) -> str | None:
    if not yyyymmdd:
        return None
    return f"{yyyymmdd // 10000:04d}-{yyyymmdd // 100 % 100:02d}-{yyyymmdd % 100:02d}"


def _wanted_fields() -> tuple[str, ...]:
    # decision_month is no facet of its own but feeds the decision-date histogram.
    return (
        *facet_names(),
        "decision_month",
        *DATE_FIELDS,
        "section",
        "window",
        "item_index",
        *TEXT_BOOSTS,
    )


@dataclass
class Columns:
    """In-memory columns of every chunk, by position (chunks in ascending SQLite row order)."""

    rows: np.ndarray  # SQLite row ids, ascending
    letter_index: np.ndarray  # position -> index into letter_ids
    letter_ids: list[str]
    vectors: np.ndarray
    postings: dict[str, dict[str, np.ndarray]]  # field -> value -> sorted positions
    dates: dict[str, np.ndarray]  # field -> yyyymmdd int (0 when unknown)
    section_item: np.ndarray  # bool
    first_window: np.ndarray  # bool
    chunk_position: dict[str, int]
    chunk_ids: list[str]  # by position
    item_index: np.ndarray  # 1-based item number, 0 outside items
    section_code: np.ndarray  # index into section_names
    section_names: list[str]
    terms: TermIndex | None = None  # None: the match set comes from tantivy
    groups: Groups | None = None  # None: letters are counted from positions
    _code_cache: dict = field(default_factory=dict, repr=False)
    _mask_cache: OrderedDict = field(default_factory=OrderedDict, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @cached_property
    def letter_position(self) -> dict[str, int]:
        """Map each letter id to its index in `letter_ids`."""
        return {letter_id: i for i, letter_id in enumerate(self.letter_ids)}

    @classmethod
    def load(cls, db: sqlite3.Connection, dims: int) -> Columns:
        """Read every chunk's facets and embedding from SQLite."""
        names = _wanted_fields()
        extract = ", ".join(f"'{n}', json_extract(doc, '$.{n}')" for n in names)
        total = db.execute("SELECT count(*) FROM chunks").fetchone()[0]
        cursor = db.execute(
            f"SELECT row, chunk_id, letter_id, json_object({extract}), embedding "
            "FROM chunks ORDER BY row"
        )
        rows = np.empty(total, dtype=np.int64)
        letters = np.empty(total, dtype=np.int32)
        vectors = np.empty((total, dims), dtype=np.float32)
        chunk_position: dict[str, int] = {}
        letter_ids: dict[str, int] = {}
        facet_lists: dict[str, dict[str, list[int]]] = {
            f: {} for f in (*facet_names(), "decision_month")
        }
        dates = {f: np.zeros(total, dtype=np.int32) for f in DATE_FIELDS}
        section_item = np.zeros(total, dtype=bool)
        first_window = np.zeros(total, dtype=bool)
        item_index = np.zeros(total, dtype=np.int32)
        section_code = np.zeros(total, dtype=np.int16)
        section_names: dict[str, int] = {}
        chunk_ids: list[str] = []
        count = 0
        texts: list[str] = []
        signatures = np.zeros(total, dtype=np.int64)
        for position, (row, chunk_id, letter_id, small_json, emb) in enumerate(cursor):
            if position >= total:  # written after the count: the next generation loads it
                break
            doc = orjson.loads(small_json)
            rows[position] = row
            chunk_position[chunk_id] = position
            chunk_ids.append(chunk_id)
            letters[position] = letter_ids.setdefault(letter_id, len(letter_ids))
            vectors[position] = np.frombuffer(emb, dtype=np.float32)
            for facet, postings in facet_lists.items():
                value = doc.get(facet)
                for v in value if isinstance(value, list) else [value]:
                    if v is not None:
                        postings.setdefault(str(v), []).append(position)
            for f in DATE_FIELDS:
                if doc.get(f):
                    dates[f][position] = int(doc[f].replace("-", ""))
            texts.append(
                " ".join(
                    " ".join(v) if isinstance(v, list) else v
                    for v in (doc.pop(f, None) for f in TEXT_BOOSTS)
                    if v
                )
            )
            # Chunks of one letter with the same facet values form a unit (see counting.py).
            signatures[position] = hash(
                tuple(str(doc.get(f)) for f in (*facet_names(), "decision_month", "section"))
            )
            section_item[position] = doc.get("section") == "item"
            section = doc.get("section")
            section_code[position] = section_names.setdefault(section, len(section_names))
            item_index[position] = doc.get("item_index") or 0
            first_window[position] = doc.get("window") == 0
            count = position + 1
        postings = {
            f: {v: np.asarray(p, dtype=np.int64) for v, p in d.items()}
            for f, d in facet_lists.items()
        }
        letters = letters[:count]
        grouped = len(np.flatnonzero(np.diff(letters))) + 1 == len(letter_ids) or not count
        return cls(
            rows=rows[:count],
            letter_index=letters,
            letter_ids=list(letter_ids),
            vectors=vectors[:count],
            postings=postings,
            dates={f: v[:count] for f, v in dates.items()},
            section_item=section_item[:count],
            first_window=first_window[:count],
            chunk_position=chunk_position,
            chunk_ids=chunk_ids[:count],
            item_index=item_index[:count],
            section_code=section_code[:count],
            section_names=list(section_names),
            terms=TermIndex.build(texts, analyze),
            # Counting by units needs each letter's chunks side by side, as upsert writes them.
            groups=Groups.build(letters, signatures[:count], postings) if grouped else None,
        )

    def ranking_docs(self, positions: list[int]) -> list[PartialDoc]:
        """Return chunks' ranking fields (`RANKING_FIELDS`) from the columns, in order."""
        return [h.doc for h in self.ranking_hits(positions, [0.0] * len(positions))]

    def ranking_hits(self, positions: list[int], scores: list[float]) -> list[ChunkHit]:
        """Return hits of the chunks at `positions` with `scores`, holding their ranking fields."""
        if not len(positions):
            return []
        at = np.asarray(positions, dtype=np.int64)
        codes, multi = self._codes("decision")
        decisions = self._value_names("decision")
        letter_ids, chunk_ids, sections = self.letter_ids, self.chunk_ids, self.section_names
        dates = self._date_names()
        topics = [self._values_of(facet, at) for facet in TOPIC_FIELDS]
        out = []
        # A search builds hundreds of these: one pass over plain lists, dates named once.
        for (
            position,
            score,
            letter,
            item,
            section,
            date,
            code,
            several,
            names,
            classes,
            regions,
        ) in zip(
            at.tolist(),
            scores,
            self.letter_index[at].tolist(),
            self.item_index[at].tolist(),
            self.section_code[at].tolist(),
            self.dates["decision_date"][at].tolist(),
            codes[at].tolist(),
            multi[at].tolist(),
            *topics,
            strict=True,
        ):
            letter_id = letter_ids[letter]
            chunk_id = chunk_ids[position]
            if several:
                decision = self.values_at("decision", position)
            else:
                decision = [decisions[code]] if code >= 0 else []
            date_name = dates.get(date)
            if date_name is None and date:
                date_name = dates[date] = _iso_date(date)
            doc = PartialDoc(
                chunk_id=chunk_id,
                letter_id=letter_id,
                item_id=f"{letter_id}:item-{item}" if item else None,
                item_index=item or None,
                section=sections[section],
                decision=decision,
                decision_date=date_name,
                treatment_name=names,
                treatment_class=classes,
                body_region=regions,
            )
            out.append(ChunkHit(chunk_id, letter_id, score, [], doc))
        return out

    def _values_of(self, facet: str, at: np.ndarray) -> list[list[str]]:
        """Each chunk's values of a facet, for the chunks at positions `at`."""
        codes, multi = self._codes(facet)
        values = self._value_names(facet)
        return [
            self.values_at(facet, p) if several else [values[c]] if c >= 0 else []
            for p, c, several in zip(
                at.tolist(), codes[at].tolist(), multi[at].tolist(), strict=True
            )
        ]

    def _date_names(self) -> dict[int, str]:
        """ISO dates by their yyyymmdd number, filled as they are met."""
        return self._code_cache.setdefault(("decision_date", "names"), {})

    def quantized(self) -> tuple[np.ndarray, float]:
        """Return the vectors in 8 bits (a quarter of the bytes to scan) and their scale."""
        cached = self._code_cache.get("quantized")
        if cached is None:
            v = self.vectors
            top = max(float(v.max()), -float(v.min())) if v.size else 1.0
            scale = 127 / (top or 1.0)
            small = np.empty(v.shape, dtype=np.int8)
            for start in range(0, len(v), 65_536):  # no float copy of a million rows
                small[start : start + 65_536] = np.round(v[start : start + 65_536] * scale)
            cached = self._code_cache["quantized"] = (small, scale)
        return cached

    def values_at(self, facet: str, position: int) -> list[str]:
        """Return the values of `facet` that a chunk has, in the order of the postings."""
        codes, multi = self._codes(facet)
        values = self._value_names(facet)
        if multi[position]:
            multi_positions, offsets, multi_codes = self._multi_codes(facet)
            at = int(np.searchsorted(multi_positions, position))
            return [values[c] for c in multi_codes[offsets[at] : offsets[at + 1]]]
        code = int(codes[position])
        return [values[code]] if code >= 0 else []

    def _value_ranks(self, facet: str) -> np.ndarray:
        cached = self._code_cache.get((facet, "ranks"))
        if cached is None:
            cached = self._code_cache[(facet, "ranks")] = name_ranks(self._value_names(facet))
        return cached

    def _value_names(self, facet: str) -> list[str]:
        cached = self._code_cache.get((facet, "names"))
        if cached is None:
            cached = self._code_cache[(facet, "names")] = list(self.postings.get(facet, {}))
        return cached

    def positions_of(self, rows: list[int]) -> np.ndarray:
        """Map SQLite row ids to positions, dropping ids not loaded (written since)."""
        wanted = np.unique(np.asarray(rows, dtype=np.int64))
        pos = np.searchsorted(self.rows, wanted)
        inside = pos < len(self.rows)
        pos, wanted = pos[inside], wanted[inside]
        return pos[self.rows[pos] == wanted]

    def select(self, filters: Filters) -> np.ndarray | None:
        """Return the sorted positions the filters allow, or None when they allow every chunk."""
        mask = self.select_mask(filters)
        return None if mask is None else np.flatnonzero(mask)

    def select_mask(self, filters: Filters) -> np.ndarray | None:
        """Return the chunks the filters allow as a read-only mask, or None when they allow all.

        Memoised per filters: one search or one similar() asks for the same mask several times,
        and each costs passes over every chunk.
        """
        with self._lock:
            if filters in self._mask_cache:
                self._mask_cache.move_to_end(filters)
                return self._mask_cache[filters]
        mask = self._select_mask(filters)
        if mask is not None:
            mask.flags.writeable = False
        with self._lock:
            self._mask_cache[filters] = mask
            while len(self._mask_cache) > _MASK_CACHE_SIZE:
                self._mask_cache.popitem(last=False)
        return mask

    def _select_mask(self, filters: Filters) -> np.ndarray | None:
        mask: np.ndarray | None = None

        def narrow(m: np.ndarray) -> None:
            nonlocal mask
            mask = m if mask is None else mask & m

        n = len(self.rows)
        for facet, values in filters.terms:
            m = np.zeros(n, dtype=bool)
            for value in values:
                posting = self.postings.get(facet, {}).get(value)
                if posting is not None:
                    m[posting] = True
            narrow(m)
        for name, low, high in filters.date_ranges:
            column = self.dates[name]
            m = column > 0
            if low:
                m &= column >= int(low.replace("-", ""))
            if high:
                m &= column <= int(high.replace("-", ""))
            narrow(m)
        if filters.chunk_ids is not None:
            m = np.zeros(n, dtype=bool)
            m[[self.chunk_position[c] for c in filters.chunk_ids if c in self.chunk_position]] = (
                True
            )
            narrow(m)
        if filters.exclude_letter_ids:
            excluded = [
                self.letter_position[x]
                for x in filters.exclude_letter_ids
                if x in self.letter_position
            ]
            narrow(~np.isin(self.letter_index, excluded))
        if filters.section is not None:
            narrow(self.section_item if filters.section == "item" else ~self.section_item)
        if filters.first_window_only:
            narrow(self.first_window)
        return mask

    def count_letters_by(self, facet: str, positions: np.ndarray) -> dict[str, int]:
        """Count distinct letters per value of `facet` among the given positions."""
        counts = {}
        for value, posting in self.postings.get(facet, {}).items():
            common = np.intersect1d(posting, positions, assume_unique=True)
            if len(common):
                counts[value] = int(len(np.unique(self.letter_index[common])))
        return dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))

    def count_sparse(self, facet: str, positions: np.ndarray) -> dict[str, int]:
        """Count distinct letters per value of `facet` among few positions.

        The cost grows with the positions, not with the index: a semantic search's scope of a
        few hundred passages is counted in microseconds where a pass over every unit of a
        million-chunk index takes milliseconds per facet.
        """
        values = self._value_names(facet)
        if not values or not len(positions):
            return {}
        codes, multi = self._codes(facet)
        width = len(values)
        if self.groups is not None:  # each letter's chunks side by side: one compiled pass
            counts = count_positions(
                np.asarray(positions, dtype=np.int64),
                self.letter_index,
                codes,
                multi,
                *self._multi_codes(facet),
                width,
            )
            return ranked_counts(values, self._value_ranks(facet), counts)
        single = positions[~multi[positions]]
        single = single[codes[single] >= 0]
        keys = [self.letter_index[single].astype(np.int64) * width + codes[single]]
        several = positions[multi[positions]]
        if len(several):
            multi_positions, offsets, multi_codes = self._multi_codes(facet)
            at = np.searchsorted(multi_positions, several)
            starts, lengths = offsets[at], offsets[at + 1] - offsets[at]
            # Each position's run of codes, laid end to end.
            take = np.repeat(starts - np.cumsum(lengths) + lengths, lengths) + np.arange(
                lengths.sum()
            )
            owners = np.repeat(self.letter_index[several].astype(np.int64), lengths)
            keys.append(owners * width + multi_codes[take])
        pairs = np.unique(np.concatenate(keys))
        counts = np.bincount(pairs % width, minlength=width)
        return ranked_counts(values, self._value_ranks(facet), counts)

    def _multi_codes(self, facet: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The positions with several values of `facet`, ascending, and each one's codes (CSR)."""
        cached = self._code_cache.get((facet, "multi"))
        if cached is None:
            _, multi = self._codes(facet)
            owned, codes = [], []
            for i, posting in enumerate(self.postings.get(facet, {}).values()):
                chosen = posting[multi[posting]]
                owned.append(chosen)
                codes.append(np.full(len(chosen), i, dtype=np.int32))
            owner = np.concatenate(owned) if owned else np.zeros(0, np.int64)
            code = np.concatenate(codes) if codes else np.zeros(0, np.int32)
            order = np.argsort(owner, kind="stable")
            owner, code = owner[order], code[order]
            unique, counts = np.unique(owner, return_counts=True)
            offsets = np.zeros(len(unique) + 1, dtype=np.int64)
            np.cumsum(counts, out=offsets[1:])
            cached = self._code_cache[(facet, "multi")] = (unique, offsets, code)
        return cached

    def cross_count(self, by: str, other: str, positions: np.ndarray) -> dict[str, dict[str, int]]:
        """Count chunks per (value of `by`, value of `other`) among the given positions."""
        selected = np.zeros(len(self.rows), dtype=bool)
        selected[positions] = True
        other_values = list(self.postings.get(other, {}))
        codes, multi = self._codes(other)
        out: dict[str, dict[str, int]] = {}
        for value, posting in self.postings.get(by, {}).items():
            mine = posting[selected[posting]]
            if not len(mine):
                continue
            single = mine[~multi[mine]]
            counts = np.bincount(codes[single][codes[single] >= 0], minlength=len(other_values))
            row = {o: int(counts[i]) for i, o in enumerate(other_values)}
            for p in mine[multi[mine]]:  # chunks with several values (summaries) count in each
                for o, op in self.postings[other].items():
                    i = np.searchsorted(op, p)
                    row[o] += int(i < len(op) and op[i] == p)
            out[value] = row
        return out

    def _codes(self, facet: str) -> tuple[np.ndarray, np.ndarray]:
        """Per position, the index of its one value of `facet` (-1: none), and where it has more."""
        cached = self._code_cache.get(facet)
        if cached is None:
            codes = np.full(len(self.rows), -1, dtype=np.int32)
            seen = np.zeros(len(self.rows), dtype=np.int32)
            for i, posting in enumerate(self.postings.get(facet, {}).values()):
                codes[posting] = i
                seen[posting] += 1
            cached = self._code_cache[facet] = (codes, seen > 1)
        return cached
