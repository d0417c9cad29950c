"""Statistics list the items a facet has no value for, instead of leaving them out."""

from __future__ import annotations

from indexer.search import NO_VALUE, SearchRequest, SearchService
from indexer.stores.embedded import EmbeddedStore

from .conftest import SEEDS, index_samples


def test_items_without_a_treatment_class_are_a_row_of_their_own(tmp_path, embedder):
    # Seed 000 with its Klonopin item renamed to a request that names no drug.
    text = (
        SEEDS[0]
        .read_text(encoding="utf-8")
        .replace("Klonopin 1 mg every night #30 plus one refill", "Pain medications")
    )
    letter = tmp_path / "letters" / "unnamed.txt"
    letter.parent.mkdir()
    letter.write_text(text, encoding="utf-8")
    store = EmbeddedStore(tmp_path / "index")
    index_samples(store, embedder, [letter])
    service = SearchService(store, lambda: embedder)
    tables = service.stats_by(SearchRequest(), ["treatment_class", "treatment_category"])
    rows = {by: [(r.value, r.upheld, r.overturned) for r in t] for by, t in tables.items()}
    assert rows == {
        "treatment_class": [("benzodiazepine", 1, 0), (NO_VALUE, 1, 0)],
        # Both items are medications: no row of items without a type.
        "treatment_category": [("medication", 2, 0)],
    }
    store.close()
