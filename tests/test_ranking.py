"""Relevance properties of the ranking, on constructed chunks with literal expected orderings:
topic first and outcome second, the disputed item as the unit, named treatments as evidence,
weak neighbours kept from pushing out exact matches, letter-level similar cases."""

from __future__ import annotations

import pytest

from indexer.ranking import letter_pair_score, rank_chunks, semantic_weight
from indexer.stores.base import ChunkHit
from indexer.understand import Intent, read_intent, topic_of

KNOWN = {
    "decision": {"upheld", "overturned"},
    "treatment_class": {"durable medical equipment", "opioid", "advanced imaging"},
    "treatment_name": {"tens unit", "mri", "hydrocodone/acetaminophen", "chiropractic care"},
    "body_region": {"lumbar spine", "knee"},
}


def chunk(cid, section="item", decision="upheld", name=(), cls=(), region=(), score=0.0):
    letter = cid.split(":")[0]
    doc = {
        "chunk_id": cid,
        "letter_id": letter,
        "section": section,
        "item_id": f"{letter}:item-1" if section == "item" else None,
        "decision": [decision] if isinstance(decision, str) else list(decision),
        "treatment_name": list(name),
        "treatment_class": list(cls),
        "body_region": list(region),
    }
    return ChunkHit(cid, letter, score, [], doc)


def order(ranked):
    return [h.chunk_id for h in ranked.hits]


@pytest.mark.parametrize(
    ("query", "topic"),
    [
        ("Norco overturned", "Norco"),
        (
            "chiropractic treatment for low back approved on review",
            "chiropractic treatment for low back",
        ),
        ("MRI approved on independent review", "MRI"),
        ("TENS unit not medically necessary", "TENS unit"),
        ("MRI denial upheld", "MRI"),
        ("overturned decisions about acupuncture", "about acupuncture"),
        ("Valium for anxiety", "Valium for anxiety"),
        ("overturned", "overturned"),  # nothing else to search for: the words stay
    ],
)
def test_the_topic_is_the_query_without_its_outcome_words(query, topic):
    assert topic_of(query) == topic


def test_intent_names_the_treatment_region_and_outcome():
    intent = read_intent("lumbar MRI approved", KNOWN)
    assert intent == Intent(
        "lumbar MRI",
        "overturned",
        frozenset({"mri"}),
        frozenset(),
        frozenset({"lumbar spine"}),
    )
    # "care" adds nothing to the name: "chiropractic treatment" names chiropractic care.
    assert read_intent("chiropractic treatment", KNOWN).names == frozenset({"chiropractic care"})
    assert read_intent("TENS units", KNOWN).names == frozenset({"tens unit"})
    # With a decision filter the outcome orders nothing, but its words are still not the topic.
    filtered = read_intent("TENS unit overturned", KNOWN, prefer_outcome=False)
    assert (filtered.topic, filtered.decision) == ("TENS unit", None)


def test_an_on_topic_upheld_item_ranks_above_an_off_topic_overturned_one():
    intent = read_intent("TENS unit approved", KNOWN)
    tens = chunk("A:item-1", "item", "upheld", ["tens unit"], ["durable medical equipment"])
    knee = chunk("B:item-1", "item", "overturned", ["mri"], ["advanced imaging"], ["knee"])
    # The knee MRI is first by words (its rationale happens to match better).
    ranked = rank_chunks([knee, tens], [], intent)
    assert order(ranked) == ["A:item-1", "B:item-1"]
    assert ranked.outcome_missing is True


def test_on_topic_items_with_the_asked_outcome_come_first_then_the_others_then_the_rest():
    intent = read_intent("TENS unit approved", KNOWN)
    upheld = chunk("A:item-1", "item", "upheld", ["tens unit"], ["durable medical equipment"])
    overturned = chunk("C:item-1", "item", "overturned", ["tens unit"])
    summary = chunk("D:summary:0", "clinical_case_summary", ["upheld", "overturned"], ["tens unit"])
    off = chunk("B:item-1", "item", "overturned", ["mri"], ["advanced imaging"])
    ranked = rank_chunks([off, upheld, summary, overturned], [], intent)
    # A summary holds all its letter's outcomes, so it never counts as the asked one.
    assert order(ranked) == ["C:item-1", "A:item-1", "D:summary:0", "B:item-1"]
    assert ranked.outcome_missing is False


def test_a_query_naming_a_region_keeps_the_outcome_to_that_region():
    intent = read_intent("lumbar MRI approved", KNOWN)
    lumbar = chunk("A:item-1", "item", "upheld", ["mri"], ["advanced imaging"], ["lumbar spine"])
    knee = chunk("B:item-1", "item", "overturned", ["mri"], ["advanced imaging"], ["knee"])
    ranked = rank_chunks([knee, lumbar], [], intent)
    assert order(ranked) == ["A:item-1", "B:item-1"]
    assert ranked.outcome_missing is True


def test_a_treatment_named_only_in_the_history_ranks_below_the_item_about_it():
    intent = read_intent("hydrocodone", {**KNOWN, "treatment_name": {"hydrocodone"}})
    history = chunk("A:summary:0", "clinical_case_summary", "upheld", ["mri"])
    item = chunk("B:item-1", "item", "upheld", ["hydrocodone/acetaminophen"], ["opioid"])
    other = chunk("C:item-1", "item", "upheld", ["mri"])
    # By words the summary ranks first (it says "hydrocodone" three times).
    ranked = rank_chunks([history, other, item], [], intent)
    # The summary counts half an item: below the item that ranked second by words too.
    assert order(ranked) == ["B:item-1", "C:item-1", "A:summary:0"]


def test_weak_neighbours_do_not_push_out_exact_keyword_matches():
    intent = Intent("terocin")
    exact = chunk("A:item-1", score=12.0)
    weak = [chunk(f"N{i}:item-1", score=0.28 - i * 0.01) for i in range(5)]
    ranked = rank_chunks([exact], weak, intent)
    assert order(ranked)[0] == "A:item-1"


def test_close_neighbours_outweigh_stray_words():
    intent = Intent("numbing medicine applied to the skin")
    stray = chunk("S:item-1", score=4.0)
    close = chunk("L:item-1", score=0.61)
    ranked = rank_chunks([stray], [close], intent)
    assert order(ranked) == ["L:item-1", "S:item-1"]


def test_semantic_weight_is_zero_below_the_low_bound_and_full_from_the_high_one():
    assert semantic_weight(0.2) == 0.0
    assert semantic_weight(0.3) == 0.0
    assert semantic_weight(0.4) == pytest.approx(0.75)
    assert semantic_weight(0.5) == pytest.approx(1.5)
    assert semantic_weight(0.9) == pytest.approx(1.5)


def test_letter_level_similarity_weighs_shared_items_over_summaries():
    source = chunk("S:item-1", "item", "upheld", ["hospital bed"], ["durable medical equipment"])
    equipment = chunk(
        "E:item-1", "item", "upheld", ["knee scooter"], ["durable medical equipment"], score=0.50
    )
    summary = chunk("H:summary:0", "clinical_case_summary", "upheld", score=0.55)
    assert letter_pair_score(source.doc, equipment) == pytest.approx(0.54)
    assert letter_pair_score(source.doc, summary) == pytest.approx(0.44)


def test_the_most_precisely_named_treatment_is_the_topic():
    # The query names chiropractic care and, by a class word, all of physical medicine.
    intent = Intent(
        "chiropractic rehab",
        "overturned",
        frozenset({"chiropractic care"}),
        frozenset({"physical medicine"}),
        class_words=(("physical medicine", 1),),
    )
    chiro = chunk("A:item-1", "item", "upheld", ["chiropractic care"], ["physical medicine"])
    acupuncture = chunk("B:item-1", "item", "overturned", ["acupuncture"], ["physical medicine"])
    ranked = rank_chunks([acupuncture, chiro], [], intent)
    assert order(ranked) == ["A:item-1", "B:item-1"]
    assert ranked.outcome_missing is True
