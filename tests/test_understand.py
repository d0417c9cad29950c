"""Query understanding: the decision and treatment a query speaks of, as suggested filters."""

from __future__ import annotations

from indexer.understand import Suggestion, implied_decision, suggestions

KNOWN = {
    "decision": {"upheld", "overturned"},
    "treatment_class": {
        "opioid",
        "muscle relaxant",
        "proton pump inhibitor",
        "h2 blocker",
        "benzodiazepine",
    },
    "treatment_name": {"diazepam", "cyclobenzaprine"},
}


def test_decision_words():
    assert implied_decision("MRI approved on independent review") == "overturned"
    assert implied_decision("overturned acupuncture") == "overturned"
    assert implied_decision("denials of Norco upheld") == "upheld"
    assert implied_decision("not medically necessary") == "upheld"
    assert implied_decision("Valium for anxiety") is None
    assert implied_decision("approved or denied") is None  # both outcomes: no preference


def test_suggested_filters_are_values_the_index_holds():
    assert suggestions("MRI approved on independent review", KNOWN) == [
        Suggestion("decision", "overturned", "approved"),
    ]
    assert suggestions("narcotic painkillers", KNOWN) == [
        Suggestion("treatment_class", "opioid", "narcotic"),
    ]
    assert suggestions("heartburn medication", KNOWN) == [
        Suggestion("treatment_class", "proton pump inhibitor", "heartburn"),
        Suggestion("treatment_class", "h2 blocker", "heartburn"),
    ]
    assert suggestions("Valium for chronic low back pain", KNOWN) == [
        Suggestion("treatment_name", "diazepam", "valium"),
    ]
    # Both are brand names; only cyclobenzaprine (Flexeril) is among this index's treatments.
    assert suggestions("Flexeril or Ultram", KNOWN) == [
        Suggestion("treatment_name", "cyclobenzaprine", "flexeril"),
    ]
    assert suggestions("cervical spine MRI", KNOWN) == []
