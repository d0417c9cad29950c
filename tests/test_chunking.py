"""Chunks: one for the case summary and one per item, windows that fit the model, stable ids."""

from __future__ import annotations

from indexer.chunking import age_band, chunk_letter
from indexer.letters.parser import parse_letter, parse_text
from indexer.sentences import split_sentences

from .conftest import DEV, SAMPLES, SEEDS


def test_every_sample_chunk_fits_the_model_window(tokenizer):
    for path in [*SEEDS, *DEV]:
        for chunk in chunk_letter(parse_letter(str(path)), tokenizer):
            # Counted again here, independently of the chunker's own count.
            assert tokenizer.count(chunk.text) + 2 <= 256, chunk.chunk_id
            assert chunk.token_count == tokenizer.count(chunk.text) + 2


def test_chunk_ids_sections_and_windows_of_a_long_letter(tokenizer):
    letter = parse_letter(str(SAMPLES / "dev" / "CM16-0249735.pdf"))
    chunks = chunk_letter(letter, tokenizer)
    assert [(c.chunk_id, c.section, c.item_index, c.window, c.windows) for c in chunks] == [
        ("CM16-0249735:summary:0", "clinical_case_summary", None, 0, 1),
        *[(f"CM16-0249735:item-1:{w}", "item", 1, w, 8) for w in range(8)],
    ]
    headline = (
        "Home aide 6 hours per day, 5 times a week for 4 weeks to assist with mobility, transfer, "
        "ADL's and safety in the home when wife is working: Upheld\n"
    )
    assert all(c.text.startswith(headline) for c in chunks[1:])
    assert not chunks[0].text.startswith("The expert reviewer developed")
    # Windows overlap: each begins with the sentence that closed the window before it, unless
    # that sentence alone takes more than half a window.
    half = (256 - 2 - tokenizer.count(headline)) // 2
    overlaps = 0
    for before, after in zip(chunks[1:], chunks[2:], strict=False):
        last = split_sentences(before.text[len(headline) :])[-1]
        if tokenizer.count(last) <= half:
            assert last in after.text
            overlaps += 1
        else:
            assert last not in after.text
    assert overlaps == 6
    # No sentence of the rationale is lost between windows.
    joined = " ".join(c.text for c in chunks[1:])
    for sentence in letter.items[0].rationale.replace("\n\n", " ").split(". "):
        assert sentence.strip() in joined


def test_reparsing_gives_the_same_ids_so_reindexing_replaces(tokenizer):
    first = [c.chunk_id for c in chunk_letter(parse_letter(str(SEEDS[0])), tokenizer)]
    second = [c.chunk_id for c in chunk_letter(parse_letter(str(SEEDS[0])), tokenizer)]
    assert (
        first
        == second
        == [
            "L-96b58c07c53b0b00:summary:0",
            "L-96b58c07c53b0b00:summary:1",
            "L-96b58c07c53b0b00:summary:2",
            "L-96b58c07c53b0b00:item-1:0",
            "L-96b58c07c53b0b00:item-2:0",
        ]
    )


def test_a_sentence_longer_than_the_window_is_cut_between_words(tokenizer):
    words = " ".join(f"word{n}" for n in range(600))  # no sentence end at all
    text = (
        "HOW THE IMR FINAL DETERMINATION WAS MADE\n\nThe expert reviewer is Board Certified in "
        "Neurology.\n\nCLINICAL CASE SUMMARY\n\n" + words + "\n\nIMR ISSUES, DECISIONS AND "
        "RATIONALES\n\nMRI of the brain: Overturned\n\nDecision rationale: It is needed."
    )
    chunks = chunk_letter(parse_text([text], source="long.txt"), tokenizer)
    summary = [c for c in chunks if c.section == "clinical_case_summary"]
    assert len(summary) > 1
    assert all(c.token_count <= 256 for c in summary)
    covered = set()
    for c in summary:
        covered.update(c.text.split())
    assert covered == set(words.split())  # every word kept, none cut in two


def test_facets_of_item_and_summary_chunks(tokenizer):
    letter = parse_letter(str(SAMPLES / "dev" / "CM16-0247287.pdf"))
    chunks = chunk_letter(letter, tokenizer)
    facets = [
        {k: v for k, v in c.to_dict().items() if k not in ("text", "token_count", "source")}
        for c in chunks
    ]
    common = {
        "letter_id": "CM16-0247287",
        "case_number": "CM16-0247287",
        "layout": "case_number_header",
        "reviewer_specialty": ["Preventive Medicine", "Occupational Medicine"],
        "licensure": ["Texas", "New York", "California"],
        "priority": "Standard",
        "patient_sex": "male",
        "patient_age": 61,
        "age_band": "60-69",
        "decision_date": "2017-01-25",
        "decision_year": 2017,
        "date_of_injury": "2016-10-13",
        "guideline_source": ["MTUS"],
        "treatment_class": ["electrodiagnostic testing"],
        "treatment_category": ["procedure"],
    }
    summary = {
        **common,
        "section": "clinical_case_summary",
        "item_index": None,
        "windows": 2,
        "request": None,
        "decision": ["upheld", "overturned"],
        "treatment_name": ["emg", "ncv"],
        # The summary's own regions: a shoulder claim, symptoms in the left arm and hand.
        "body_region": ["shoulder", "left upper extremity", "wrist and hand"],
        "guideline_section": ["Diagnostic Criteria", "Special Studies"],
    }
    emg = {
        **common,
        "section": "item",
        "item_index": 1,
        "windows": 1,
        "request": "EMG of the left upper extremity",
        "decision": ["upheld"],
        "treatment_name": ["emg"],
        "body_region": ["left upper extremity"],
        "guideline_section": ["Diagnostic Criteria"],
    }
    ncs = {
        **common,
        "section": "item",
        "item_index": 2,
        "windows": 2,
        "request": "NCS of the left upper extremity",
        "decision": ["overturned"],
        "treatment_name": ["ncv"],
        "body_region": ["left upper extremity"],
        "guideline_section": ["Diagnostic Criteria", "Special Studies"],
    }
    assert facets == [
        {**summary, "chunk_id": "CM16-0247287:summary:0", "window": 0},
        {**summary, "chunk_id": "CM16-0247287:summary:1", "window": 1},
        {**emg, "chunk_id": "CM16-0247287:item-1:0", "window": 0},
        {**ncs, "chunk_id": "CM16-0247287:item-2:0", "window": 0},
        {**ncs, "chunk_id": "CM16-0247287:item-2:1", "window": 1},
    ]


def test_age_bands():
    assert [age_band(a) for a in (None, 19, 29, 30, 45, 69, 70, 95)] == [
        None,
        "under 30",
        "under 30",
        "30-39",
        "40-49",
        "60-69",
        "70+",
        "70+",
    ]


def test_a_very_long_request_is_shortened_where_windows_restate_it(tokenizer):
    request = " ".join(f"Drug{n} 10mg #30" for n in range(400))  # a list, 6,000+ characters
    text = (
        "HOW THE IMR FINAL DETERMINATION WAS MADE\n\nThe expert reviewer is Board Certified in "
        "Neurology.\n\nCLINICAL CASE SUMMARY\n\nThe patient hurt his back.\n\nIMR ISSUES, "
        f"DECISIONS AND RATIONALES\n\n{request}: Upheld\n\nDecision rationale: "
        + "Not indicated for this patient. "
        * 80
    )
    chunks = chunk_letter(parse_text([text], source="list.txt"), tokenizer)
    items = [c for c in chunks if c.section == "item"]
    assert len(items) == 6  # the rationale, in the room the shortened headline leaves
    assert all(c.token_count <= 256 for c in items)
    first_line = items[0].text.split("\n")[0]
    assert first_line.startswith("Drug0 10mg #30 Drug1 10mg #30")
    assert first_line.endswith(" …: Upheld")
    assert len(first_line) <= 300 + len(" …: Upheld")
