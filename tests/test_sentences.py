"""Sentence splitting must not break at the abbreviations letters use."""

from indexer.sentences import split_sentences


def test_splits_at_sentence_ends_but_not_at_abbreviations():
    text = (
        "As noted on pg. 607 of the ACOEM Guidelines, 3rd ed., facet injections are not "
        "recommended. Dr. Smith saw the patient on 11/8/16, e.g. for follow-up.  The request "
        'was denied. "Not recommended," the guideline says. 2) Klonopin is a benzodiazepine.'
    )
    assert split_sentences(text) == [
        "As noted on pg. 607 of the ACOEM Guidelines, 3rd ed., facet injections are not "
        "recommended.",
        "Dr. Smith saw the patient on 11/8/16, e.g. for follow-up.",
        "The request was denied.",
        '"Not recommended," the guideline says.',
        "2) Klonopin is a benzodiazepine.",
    ]


def test_decimals_and_text_without_a_final_stop():
    assert split_sentences("Lidocaine 5% patch 1.3 mg daily. Then review") == [
        "Lidocaine 5% patch 1.3 mg daily.",
        "Then review",
    ]
    assert split_sentences("   ") == []
