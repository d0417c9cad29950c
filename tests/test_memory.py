"""The cycle collector in a server process (indexer/memory.py)."""

from __future__ import annotations

import gc

import pytest

from indexer.memory import YOUNG_THRESHOLD, collect_rarely
from indexer.stores.embedded import EmbeddedStore

from .conftest import SEEDS, index_samples


@pytest.fixture
def thresholds():
    saved = gc.get_threshold()
    yield
    gc.set_threshold(*saved)


def test_a_server_collects_young_objects_rarely_and_keeps_the_older_thresholds(thresholds):
    gc.set_threshold(700, 10, 10)
    collect_rarely()
    assert YOUNG_THRESHOLD == 10_000
    assert gc.get_threshold() == (10_000, 10, 10)


def test_loaded_columns_are_left_out_of_the_collectors_walks(tmp_path, embedder):
    store = EmbeddedStore(tmp_path / "data")
    index_samples(store, embedder, SEEDS[:2])
    gc.unfreeze()
    cols = store._cols()
    # Still containers the collector knows, but in no generation it walks.
    assert gc.is_tracked(cols.chunk_ids)
    assert gc.get_freeze_count() > 0
    assert not any(o is cols.chunk_ids for o in gc.get_objects())
    # A new generation of the index is loaded and frozen the same way.
    index_samples(store, embedder, SEEDS[2:3])
    gc.unfreeze()
    newer = store._cols()
    assert newer is not cols
    assert len(newer.chunk_ids) > len(cols.chunk_ids)
    assert not any(o is newer.chunk_ids for o in gc.get_objects())
    gc.unfreeze()
