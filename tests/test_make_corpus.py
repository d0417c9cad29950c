"""The synthetic corpus generator (bench/make_corpus.py): letters our parser reads to their truth.

Every generated letter must parse with `parse_letter` to exactly what the generator recorded in
its manifest (layout, case number, dates, reviewer, patient, diagnoses, and each item's request,
decision, partial authorisation and guideline citations), the corpus must be the same bytes for
a seed and differ for another, and the statistics must follow the real letters'.
"""

from __future__ import annotations

import collections
import datetime as dt
import json
import re
import subprocess
import sys

from bench.make_corpus import (
    CASE_NUMBER_HEADER,
    LEGACY,
    MAX_ITEMS,
    case_number,
    generate_letter,
    write_corpus,
)
from indexer.letters.parser import parse_letter

from .conftest import ROOT

SCRIPT = ROOT / "bench" / "make_corpus.py"
CASE_NUMBER = re.compile(r"^CM(1[3-9]|2[0-4])-\d{7}$")
# Header fields a legacy letter does not state (the parser reads injury and UR dates from prose).
HEADER_ONLY = ("case_number", "date_assigned", "decision_date", "application_received", "priority")


def _manifest(folder) -> list[dict]:
    lines = (folder / "manifest.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines]


def _files(folder) -> dict[str, bytes]:
    return {
        str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()
    }


def _assert_parses_to_truth(folder, truth: dict) -> tuple[int, int]:
    """Parse one letter of a written corpus and compare it with its manifest line."""
    letter = parse_letter(str(folder / truth["file"]))
    where = truth["file"]
    assert letter.layout == truth["layout"], where
    legacy = truth["layout"] == LEGACY
    for field in HEADER_ONLY:
        assert getattr(letter, field) == (None if legacy else truth[field]), (where, field)
    assert letter.letter_id == (letter.letter_id if legacy else truth["case_number"])
    assert letter.date_of_injury == truth["date_of_injury"], where
    assert letter.ur_denial_date == truth["ur_denial_date"], where
    assert vars(letter.reviewer) == truth["reviewer"], where
    assert vars(letter.patient) == truth["patient"], where
    assert letter.diagnoses == truth["diagnoses"], where
    assert len(letter.items) == len(truth["items"]), where
    same_class = 0
    for n, (got, want) in enumerate(zip(letter.items, truth["items"], strict=True), 1):
        assert got.request == want["request"], (where, n)
        assert got.decision == want["decision"], (where, n)
        assert got.partial_authorization == want["partial_authorization"], (where, n)
        assert got.guidelines == want["guidelines"], (where, n)
        assert got.rationale and got.maximus_guideline, (where, n)
        same_class += got.treatment.get("class") == want["treatment"]["class"]
    return same_class, len(letter.items)


def test_generated_letters_parse_to_their_truth(tmp_path):
    summary = write_corpus(200, tmp_path, seed=1234)
    truths = _manifest(tmp_path)
    assert summary.letters == len(truths) == 200
    assert [t["index"] for t in truths] == list(range(200))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["000", "manifest.jsonl"]
    assert len(list((tmp_path / "000").glob("CM*.txt"))) == 200
    same_class = items = 0
    for truth in truths:
        assert truth["file"] == f"000/{truth['case_number']}.txt"
        ok, n = _assert_parses_to_truth(tmp_path, truth)
        same_class += ok
        items += n
    assert items == summary.items
    # The treatment rules name the class of nearly every generated request (a one-ingredient
    # "Compounded Ketoprofen 20% cream" is read as a plain topical analgesic).
    assert same_class / items >= 0.97
    layouts = collections.Counter(t["layout"] for t in truths)
    assert set(layouts) == {CASE_NUMBER_HEADER, LEGACY}
    assert {t["style"] for t in truths} == {"plain", "wrapped", "double"}
    assert any(i["partial_authorization"] for t in truths for i in t["items"])
    assert {i["decision"] for t in truths for i in t["items"]} == {"upheld", "overturned"}


def test_the_command_line_writes_the_same_corpus_as_the_function(tmp_path):
    out = tmp_path / "cli"
    run = subprocess.run(
        [sys.executable, str(SCRIPT), "20", str(out), "--seed", "3"],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )
    assert run.returncode == 0, run.stderr
    assert "letters:   20" in run.stdout
    assert re.search(r"\d+ letters/s", run.stdout)
    assert re.search(r"decisions: upheld \d+ \(", run.stdout)
    truths = _manifest(out)
    assert len(truths) == 20
    for truth in truths:
        _assert_parses_to_truth(out, truth)
    # Same seed, same bytes, whether written by the command or the function.
    again = tmp_path / "again"
    write_corpus(20, again, seed=3)
    assert _files(out) == _files(again)
    # Another seed gives other letters.
    other = tmp_path / "other"
    write_corpus(20, other, seed=4)
    assert _files(other)["manifest.jsonl"] != _files(out)["manifest.jsonl"]


def test_letters_are_deterministic_per_seed_and_index():
    assert generate_letter(5, 7).text == generate_letter(5, 7).text
    assert generate_letter(5, 7).truth == generate_letter(5, 7).truth
    for index in range(20):
        assert generate_letter(1, index).text != generate_letter(2, index).text
    # A letter does not depend on how many were generated before it, and shards hold 1000.
    assert generate_letter(1, 1000).path.startswith("001/")
    assert generate_letter(1, 999).path.startswith("000/")


def test_seed_1_letter_0():
    letter = generate_letter(1, 0)
    assert letter.case_number == "CM24-0104729"
    assert letter.path == "000/CM24-0104729.txt"
    assert letter.truth["layout"] == CASE_NUMBER_HEADER
    assert [(i["request"], i["decision"]) for i in letter.truth["items"]] == [
        ("Interferential current stimulator purchase", "upheld"),
        ("Occupational therapy 3 times per week for 4 weeks for the right shoulder", "upheld"),
    ]
    assert letter.text.startswith("\n\nCase Number:\tCM24-0104729\t\t\n")


def test_case_numbers_are_unique_and_well_formed():
    numbers = {case_number(9, index, 2016) for index in range(300_000)}
    assert len(numbers) == 300_000
    assert {case_number(9, index, 2016) for index in range(1_000_000, 1_050_000)}.isdisjoint(
        numbers
    )
    assert case_number(9, 1_000_000, 2016) != case_number(9, 0, 2016)


def test_statistics_follow_the_real_letters():
    truths = [generate_letter(77, index).truth for index in range(2000)]
    counts = collections.Counter(len(t["items"]) for t in truths)
    # About 60% of letters dispute one item (62% of the dev sample), a long tail to 20.
    assert 0.55 <= counts[1] / 2000 <= 0.65
    assert 0.15 <= counts[2] / 2000 <= 0.25
    assert min(counts) == 1 and max(counts) <= MAX_ITEMS
    assert sum(n for k, n in counts.items() if k >= 6) >= 40
    decisions = collections.Counter(i["decision"] for t in truths for i in t["items"])
    assert 0.85 <= decisions["upheld"] / sum(decisions.values()) <= 0.95
    legacy = sum(t["layout"] == LEGACY for t in truths) / 2000
    assert 0.07 <= legacy <= 0.13
    numbers = [t["case_number"] for t in truths]
    assert len(set(numbers)) == 2000
    assert all(CASE_NUMBER.match(n) for n in numbers)
    classes = collections.Counter(i["treatment"]["class"] for t in truths for i in t["items"])
    for cls in ("opioid", "benzodiazepine", "muscle relaxant", "advanced imaging", "injection"):
        assert classes[cls] >= 50, cls
    categories = {i["treatment"]["category"] for t in truths for i in t["items"]}
    assert categories == {"medication", "imaging", "therapy", "procedure", "equipment", "other"}
    for t in truths:
        dates = [
            dt.date.fromisoformat(t[k])
            for k in (
                "date_of_injury",
                "ur_denial_date",
                "application_received",
                "date_assigned",
                "decision_date",
            )
        ]
        assert dates == sorted(dates) and len(set(dates)) == 5, t["case_number"]
        assert 2013 <= dates[-1].year <= 2024
        assert t["case_number"][2:4] == t["application_received"][2:4]
        if t["layout"] == LEGACY:
            assert dates[-1].year <= 2014
        assert 18 <= t["patient"]["age"] <= 80
        assert t["priority"] in ("Standard", "Expedited")
        assert t["reviewer"]["specialties"] and t["reviewer"]["licensure"]
