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
    "body_region": {"lumbar spine", "cervical spine", "right upper extremity"},
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
        Suggestion("body_region", "lumbar spine", "lumbar spine"),
    ]
    # Both are brand names; only cyclobenzaprine (Flexeril) is among this index's treatments.
    assert suggestions("Flexeril or Ultram", KNOWN) == [
        Suggestion("treatment_name", "cyclobenzaprine", "flexeril"),
    ]
    assert suggestions("cervical spine MRI", KNOWN) == [
        Suggestion("body_region", "cervical spine", "cervical spine"),
    ]
    assert suggestions("therapy for the RUE", KNOWN) == [
        Suggestion("body_region", "right upper extremity", "right upper extremity"),
    ]
    assert suggestions("knee surgery", KNOWN) == []  # no knee in this index


def test_body_regions():
    from indexer.letters.body_region import body_regions

    assert body_regions("Facet joint injections L4-5, L5-S1") == ["lumbar spine"]
    assert body_regions("Physical therapy to the RUE") == ["right upper extremity"]
    assert body_regions("EMG/NCV of the bilateral upper extremities") == ["upper extremities"]
    assert body_regions("lumbosacral strain radiating to the left leg") == [
        "lumbar spine",
        "left lower extremity",
    ]
    assert body_regions("X-ray of the pelvis") == ["hip and pelvis"]
    assert body_regions("Valium 10mg #45") == []


def test_treatment_names_the_index_holds_are_suggested_as_written():
    known = {**KNOWN, "treatment_name": {"tens unit", "chiropractic care", "mri"}}
    found = suggestions("chiropractic treatment and TENS units", known)
    assert [(s.facet, s.value) for s in found] == [
        ("treatment_name", "chiropractic care"),
        ("treatment_name", "tens unit"),
    ]
