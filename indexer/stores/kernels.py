"""Compiled loops (numba) for counting letters, over a whole index or over a few positions, and
for scanning 8-bit vectors (`int8_dots`, see vectors.scan_top).

A broad query matches most of a million chunks. Counting its letters per facet value with numpy
takes a chain of whole-array passes per facet (a gather, a running sum, a compaction and a
bincount, each allocating a temporary), and about twenty of them per search. Each loop here
does one facet in one pass, stops looking at a (letter, value) pair at its first matching unit,
allocates nothing but the counts, and releases the interpreter lock, so the facets of one search
are counted on all cores at once.
"""

from __future__ import annotations

import numpy as np
from numba import njit


def compiled(func):
    """Compile `func` with numba, its machine code cached on disk where there is room for it."""
    try:
        # Beside this file, or else in the user's cache folder.
        return njit(cache=True, nogil=True)(func)
    except RuntimeError:
        # Neither is writable (a read-only install and home): compile in memory, about a
        # second per loop once per process.
        return njit(nogil=True)(func)


@compiled
def segments_hit(flags: np.ndarray, starts: np.ndarray) -> np.ndarray:  # pragma: no cover
    """Per segment (from each start to the next), whether any of its flags is set."""
    n = len(starts)
    out = np.zeros(n, dtype=np.bool_)
    end_all = len(flags)
    for i in range(n):
        end = starts[i + 1] if i + 1 < n else end_all
        for j in range(starts[i], end):
            if flags[j]:
                out[i] = True
                break
    return out


@compiled
def count_pairs(
    hits: np.ndarray, starts: np.ndarray, members: np.ndarray, value_of: np.ndarray, width: int
) -> np.ndarray:  # pragma: no cover
    """Per value, the pairs with any member hit; pair i owns members[starts[i]:starts[i + 1]]."""
    counts = np.zeros(width, dtype=np.int64)
    n = len(starts)
    end_all = len(members)
    for i in range(n):
        end = starts[i + 1] if i + 1 < n else end_all
        for j in range(starts[i], end):
            if hits[members[j]]:
                counts[value_of[i]] += 1
                break
    return counts


@compiled
def count_positions(
    positions: np.ndarray,
    letter_index: np.ndarray,
    codes: np.ndarray,
    multi: np.ndarray,
    multi_positions: np.ndarray,
    offsets: np.ndarray,
    multi_codes: np.ndarray,
    width: int,
) -> np.ndarray:  # pragma: no cover
    """Per value, the letters among ascending `positions` (each letter's chunks side by side).

    A position has one value (`codes`, -1 for none) or, where `multi` is set, the run of
    `multi_codes` that `offsets` gives for its place in `multi_positions`. A value counts a
    letter once: the last letter counted per value is remembered.
    """
    counts = np.zeros(width, dtype=np.int64)
    last = np.full(width, -1, dtype=np.int64)
    j = 0
    for p in positions:
        letter = letter_index[p]
        if multi[p]:
            while multi_positions[j] < p:
                j += 1
            for t in range(offsets[j], offsets[j + 1]):
                c = multi_codes[t]
                if last[c] != letter:
                    last[c] = letter
                    counts[c] += 1
        else:
            c = codes[p]
            if c >= 0 and last[c] != letter:
                last[c] = letter
                counts[c] += 1
    return counts


@compiled
def int8_dots(vectors: np.ndarray, query: np.ndarray, positions: np.ndarray) -> np.ndarray:
    """Dot products of 8-bit rows at `positions` with an 8-bit query, as 32-bit integers."""
    out = np.empty(len(positions), dtype=np.int32)
    for i in range(len(positions)):
        row = vectors[positions[i]]
        total = 0
        for j in range(row.shape[0]):
            total += np.int32(row[j]) * np.int32(query[j])
        out[i] = total
    return out


def warm_up() -> None:
    """Compile (or load the cached compiled) loops now, not in the first search."""
    flags = np.zeros(2, dtype=np.bool_)
    starts = np.zeros(1, dtype=np.int64)
    segments_hit(flags, starts)
    count_pairs(flags, starts, np.zeros(1, dtype=np.int32), np.zeros(1, dtype=np.int32), 1)
    none = np.zeros(0, dtype=np.int64)
    count_positions(
        none,
        np.zeros(1, dtype=np.int32),
        np.zeros(1, dtype=np.int32),
        np.zeros(1, dtype=np.bool_),
        none,
        np.zeros(1, dtype=np.int64),
        np.zeros(0, dtype=np.int32),
        1,
    )
    int8_dots(np.zeros((1, 2), dtype=np.int8), np.zeros(2, dtype=np.int8), none)
