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


def test_a_function_with_nowhere_to_cache_still_compiles():
    # Code from exec has no file: numba can cache it nowhere, as on a read-only install with a
    # read-only home, where `njit(cache=True)` raises at decoration.
    namespace: dict = {}
    exec("def double(x):\n    return 2 * x\n", namespace)
    assert kernels.compiled(namespace["double"])(21) == 42
