"""The parser on real letters of each layout we have, and on constructed letters of the others.

The expected records in tests/fixtures/expected/ were checked field by field against the letters
(seeds 001-004; dev CM16-0219557, -0229336, -0230651 with 10 items, -0238035 with items whose
names contain colons, -0249536 with compounded creams; the two constructed layouts).
"""

from __future__ import annotations

import json

import pytest

from indexer.letters.errors import LetterError
from indexer.letters.parser import parse_letter, parse_text

from .conftest import CONSTRUCTED, DEV, ROOT, SAMPLES, SEEDS

EXPECTED = sorted((ROOT / "tests" / "fixtures" / "expected").glob("*.json"))


@pytest.mark.parametrize("expected_file", EXPECTED, ids=lambda p: p.stem)
def test_records_match_the_checked_expectations(expected_file):
    expected = json.loads(expected_file.read_text(encoding="utf-8"))
    record = parse_letter(str(ROOT / expected["source"])).to_dict()
    assert record == {**expected, "source": str(ROOT / expected["source"])}


def test_every_seed_and_dev_letter_parses():
    layouts = {}
    items = 0
    for path in [*SEEDS, *DEV]:
        letter = parse_letter(str(path))
        layouts[path.name] = letter.layout
        items += len(letter.items)
        assert letter.items, path
        assert letter.patient.age is not None, path
        assert letter.reviewer.licensure, path
        for item in letter.items:
            assert item.rationale and item.maximus_guideline and item.treatment["category"], path
        if path.suffix == ".pdf":
            assert letter.case_number == path.stem
            assert letter.decision_date and letter.date_assigned and letter.application_received
    assert list(layouts.values()).count("legacy") == 4
    assert list(layouts.values()).count("case_number_header") == 51
    assert items == 122


def test_all_ten_items_of_a_long_letter_in_order():
    letter = parse_letter(str(SAMPLES / "dev" / "CM16-0230651.pdf"))
    assert [
        (i.request, i.decision, i.partial_authorization, i.treatment["name"]) for i in letter.items
    ] == [
        ("EMG/NCV of the lower extremities", "upheld", False, "emg/ncv"),
        ("EMG/NCV of the upper extremities", "upheld", False, "emg/ncv"),
        (
            "Electro acupuncture to the low back two times a week times six weeks",
            "upheld",
            False,
            "acupuncture",
        ),
        (
            "Infrared heat to the low back two times a week times six weeks",
            "upheld",
            False,
            "infrared therapy",
        ),
        (
            "Myofascial release to the low back two times a week times six weeks",
            "upheld",
            False,
            "myofascial release",
        ),
        ("MRI of the lumbar spine", "upheld", False, "mri"),
        (
            "Chiropractic care to the low back two times a week for four weeks",
            "upheld",
            False,
            "chiropractic care",
        ),
        ("Ultram 50mg #30", "upheld", False, "tramadol"),
        ("Flexeril 10mg #60", "upheld", False, "cyclobenzaprine"),
        # "... The remaining IMR eligible portion of the original request, Physical therapy to the
        # low back two sessions is:" with "Upheld" wrapped onto its own line.
        ("Physical therapy to the low back two sessions", "upheld", True, "physical therapy"),
    ]


def test_wrapped_verdicts_partial_authorisations_and_colons_in_item_names():
    by_file = {
        "CM16-0233904.pdf": [("Baclofen 100mg #3", "upheld", True)],
        "CM16-0234202.pdf": [("Norco 10/325mg #35", "upheld", True)],
        "CM16-0229336.pdf": [
            (
                "Acute inpatient rehabilitation physical therapy and occupational therapy 7-10 days "
                "for left foot fracture",
                "overturned",
                True,
            ),
        ],
        "CM16-0239110.pdf": [("Oxycodone HCL ER 20mg #60 day supply: 30", "overturned", False)],
        "CM16-0246487.pdf": [
            (
                "Left shoulder arthroscopy with Bankart repair, possible biceps tenodesis",
                "overturned",
                False,
            ),
            ("Associated surgical service: Physical therapy, times 12", "overturned", False),
            ("Associated surgical service: Cold therapy for one week", "overturned", False),
            ("Associated surgical service: Slingshot sling", "overturned", False),
            ("Post-op Percocet 5/325mg", "upheld", False),
            ("Post-op Zofran", "upheld", False),
        ],
    }
    for name, expected in by_file.items():
        letter = parse_letter(str(SAMPLES / "dev" / name))
        assert [(i.request, i.decision, i.partial_authorization) for i in letter.items] == expected


def test_verdict_alone_on_its_own_paragraph_in_a_text_letter():
    text = (
        SEEDS[2]
        .read_text(encoding="utf-8")
        .replace(
            "60 Tablets of Diazepam 5mg: Upheld", "60 Tablets of Diazepam 5mg: \n\n \n\nUpheld"
        )
    )
    letter = parse_text([text], source="wrapped.txt")
    assert [(i.request, i.decision) for i in letter.items] == [
        ("60 Tablets of Diazepam 5mg", "upheld")
    ]


def test_constructed_professional_review_that_overturns_and_lists_two_issues():
    text = (CONSTRUCTED / "professional_review_one_item.txt").read_text(encoding="utf-8")
    text = text.replace(
        "Is the request for Norco 10/325mg #120 medically necessary?",
        "1. Norco 10/325mg #120\n2. Urine drug screen",
    ).replace(
        "Therefore, Norco 10/325mg #120 is not medically necessary.",
        "Continued treatment with monitoring is reasonable; the request is medically necessary.",
    )
    letter = parse_text([text], source="pr.txt")
    assert letter.layout == "professional_review"
    assert [(i.request, i.decision, i.treatment["name"]) for i in letter.items] == [
        ("Norco 10/325mg #120", "overturned", "hydrocodone/acetaminophen"),
        ("Urine drug screen", "overturned", "urine drug screen"),
    ]


def test_layout_without_items_or_unknown_layout_is_an_error_not_an_empty_record():
    text = SEEDS[2].read_text(encoding="utf-8")
    no_items = (
        text.split("IMR ISSUES, DECISIONS AND RATIONALES")[0]
        + "IMR ISSUES, DECISIONS AND RATIONALES\n"
    )
    with pytest.raises(LetterError) as exc:
        parse_text([no_items], source="no_items.txt")
    assert exc.value.reason == "legacy letter with no disputed items and decisions found"
    with pytest.raises(LetterError) as exc:
        parse_text(["Dear Sir,\n\nPlease find enclosed the invoice.\n"], source="invoice.txt")
    assert exc.value.reason.startswith("not an IMR determination letter of a known layout")


def test_letter_id_is_stable_across_pdf_and_text_copies_of_the_same_content():
    seed = SEEDS[1].read_text(encoding="utf-8")
    first = parse_text([seed], source="a.txt")
    # The same letter saved with Windows line ends and its trailing spaces trimmed.
    second = parse_text([seed.replace(" \n", "\n").replace("\n", "\r\n")], source="b.txt")
    assert first.letter_id == second.letter_id == "L-8bfe781363af6ef1"
