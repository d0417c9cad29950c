"""Python's cycle collector in a server process: run it rarely, and never over the loaded index.

Measured on the load test's request mix at 100k chunks (bench/page_costs.py): with CPython's
default thresholds the collector ran about twice a request and took 7% of the CPU, and each full
collection walked the index's columns (lists of every chunk and letter id, the term index) for
70-110 ms, stalling every request of its process. A request frees nearly all it allocates by
reference counting, so a young-generation threshold of 10,000 objects collects about once in 400
requests, and freezing what is alive once the index is loaded keeps the full collections short.
"""

from __future__ import annotations

import gc

#: Net new container objects between young collections (CPython's default is 700).
YOUNG_THRESHOLD = 10_000


def collect_rarely() -> None:
    """Raise the collector's young-generation threshold, for a long-running server process."""
    _, middle, old = gc.get_threshold()
    gc.set_threshold(YOUNG_THRESHOLD, middle, old)


def keep_loaded() -> None:
    """Leave what is alive now (a just-loaded index) out of later collections.

    Frozen objects are still freed by reference counting when the index is replaced; only cyclic
    garbage among them would stay, and loaded columns hold no cycles.
    """
    gc.freeze()
