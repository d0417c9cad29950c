"""The compiled counting loops: exact results, and they compile where no cache can be written."""

from __future__ import annotations

import numpy as np

from indexer.stores import kernels


def test_segments_hit_and_count_pairs_on_literal_inputs():
    flags = np.array([0, 0, 1, 0, 0, 0, 1, 1], dtype=bool)
    starts = np.array([0, 2, 3, 6], dtype=np.int64)  # segments [0,2) [2,3) [3,6) [6,8)
    assert kernels.segments_hit(flags, starts).tolist() == [False, True, False, True]
    hits = np.array([True, False, True, False])
    # Pairs: 0 owns units 1, 3; 1 owns 0; 2 owns 1, 2; values 0, 1, 0.
    pair_starts = np.array([0, 2, 3], dtype=np.int64)
    members = np.array([1, 3, 0, 1, 2], dtype=np.int32)
    value_of = np.array([0, 1, 0], dtype=np.int32)
    assert kernels.count_pairs(hits, pair_starts, members, value_of, 2).tolist() == [1, 1]


def test_count_positions_counts_each_letter_once_per_value():
    # Six chunks of letters 0, 0, 1, 1, 1, 2; values a=0, b=1, c=2; chunk 1 has a and b,
    # chunk 4 has b and c, chunk 5 none.
    letter_index = np.array([0, 0, 1, 1, 1, 2], dtype=np.int32)
    codes = np.array([0, -1, 0, 1, -1, -1], dtype=np.int32)
    multi = np.array([False, True, False, False, True, False])
    multi_positions = np.array([1, 4], dtype=np.int64)
    offsets = np.array([0, 2, 4], dtype=np.int64)
    multi_codes = np.array([0, 1, 1, 2], dtype=np.int32)

    def count(positions):
        return kernels.count_positions(
            np.array(positions, dtype=np.int64),
            letter_index,
            codes,
            multi,
            multi_positions,
            offsets,
            multi_codes,
            3,
        ).tolist()

    assert count([0, 1, 2, 3, 4, 5]) == [2, 2, 1]
    assert count([1, 4]) == [1, 2, 1]
    assert count([0, 2]) == [2, 0, 0]
    assert count([3, 4, 5]) == [0, 1, 1]
    assert count([]) == [0, 0, 0]


def test_a_function_with_nowhere_to_cache_still_compiles():
    # Code from exec has no file: numba can cache it nowhere, as on a read-only install with a
    # read-only home, where `njit(cache=True)` raises at decoration.
    namespace: dict = {}
    exec("def double(x):\n    return 2 * x\n", namespace)
    assert kernels.compiled(namespace["double"])(21) == 42
