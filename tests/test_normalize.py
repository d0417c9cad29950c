"""The normaliser: wrapped lines re-joined, paragraphs and headings kept, page furniture dropped."""

from __future__ import annotations

from indexer.letters.normalize import normalize_pages

WRAPPED = (
    "CLINICAL CASE SUMMARY \n"
    "The injured worker is a 39 year old male who sustained an industrial injury on 01-03-2003. \n"
    "Current diagnoses include sciatic nerve lesion, lumbar radiculopathy, chronic back pain, spasm \n"
    "of muscle, and knee pain. Physical examination performed on 08- \n"
    "19-2015 revealed restricted range of motion in the lumbar spine with pain and post-\n"
    "laminectomy changes. \n"
    " \n"
    "Physical therapy to the low back eight sessions was the original request. Physical therapy to \n"
    "the low back six sessions was authorized by the Claims Administrator. The remaining IMR \n"
    "eligible portion of the original request, Physical therapy to the low back two sessions is: \n"
    "Upheld \n"
)


def test_wrapped_lines_are_rejoined_and_a_wrapped_verdict_rejoins_its_item():
    assert normalize_pages([WRAPPED]).split("\n\n") == [
        "CLINICAL CASE SUMMARY",
        "The injured worker is a 39 year old male who sustained an industrial injury on "
        "01-03-2003. Current diagnoses include sciatic nerve lesion, lumbar radiculopathy, chronic "
        "back pain, spasm of muscle, and knee pain. Physical examination performed on 08-19-2015 "
        "revealed restricted range of motion in the lumbar spine with pain and post-laminectomy "
        "changes.",
        "Physical therapy to the low back eight sessions was the original request. Physical "
        "therapy to the low back six sessions was authorized by the Claims Administrator. The "
        "remaining IMR eligible portion of the original request, Physical therapy to the low back "
        "two sessions is: Upheld",
    ]


def test_double_spaced_extraction_keeps_only_real_paragraph_breaks():
    text = (
        " HOW THE IMR FINAL DETERMINATION WAS MADE \n\n"
        "MAXIMUS Federal Services sent the complete case file to an expert reviewer. He/she has no \n\n"
        "affiliation with the employer, employee, providers or the claims administrator. The expert \n\n"
        "reviewer is Board Certified in Anesthesiology. \n\n"
        " \n\n"
        "CLINICAL CASE SUMMARY \n\n"
        "Based on the 08/20/14 progress report provided by  the patient complains of low back pain \n\n"
        "with radiation. The request for 60 tablets of diazepam 5mg was denied. Diazepam helps with \n\n\n\n"
        " is the requesting provider. \n\n"
    )
    assert normalize_pages([text]).split("\n\n") == [
        "HOW THE IMR FINAL DETERMINATION WAS MADE",
        "MAXIMUS Federal Services sent the complete case file to an expert reviewer. He/she has no "
        "affiliation with the employer, employee, providers or the claims administrator. The expert "
        "reviewer is Board Certified in Anesthesiology.",
        "CLINICAL CASE SUMMARY",
        # The redaction gaps ("by  the", a line starting with a space) do not glue words together.
        "Based on the 08/20/14 progress report provided by the patient complains of low back pain "
        "with radiation. The request for 60 tablets of diazepam 5mg was denied. Diazepam helps "
        "with is the requesting provider.",
    ]


def test_unwrapped_text_keeps_each_line_as_a_paragraph():
    long_para = "The injured worker is a 68 year old male who sustained an industrial injury. " * 5
    text = f"Case Number:\tCM15-0022402\t\t\nCLINICAL CASE SUMMARY\n{long_para}\nValium 10 mg #50: Upheld\n"
    assert normalize_pages([text]).split("\n\n") == [
        "Case Number: CM15-0022402",
        "CLINICAL CASE SUMMARY",
        long_para.strip(),
        "Valium 10 mg #50: Upheld",
    ]


def test_page_numbers_and_running_headers_are_dropped_and_pages_rejoin():
    words = "alpha bravo charlie delta echo foxtrot golf hotel india juliet kilo lima".split()
    lines = [" ".join(words[n:] + words[:n]) + " and the rationale continues" for n in range(6)]
    pages = [
        f"IMR Case CM16-0000001 Page {n} of 3\n{lines[2 * n - 2]}\n{lines[2 * n - 1]}\n{n}\n"
        for n in (1, 2, 3)
    ]
    assert normalize_pages(pages) == " ".join(lines)


def test_an_item_line_after_a_full_line_on_the_next_page_is_not_glued_on():
    page1 = "Decision rationale: " + "The request is not supported by the guidelines here. " * 4
    lines1 = "\n".join([page1[i : i + 90] for i in range(0, len(page1), 90)]) + " necessary."
    page2 = "Norco 10/325mg #60: Upheld\nClaims Administrator guideline: Decision based on MTUS."
    paragraphs = normalize_pages([lines1, page2]).split("\n\n")
    assert paragraphs[-2:] == [
        "Norco 10/325mg #60: Upheld",
        "Claims Administrator guideline: Decision based on MTUS.",
    ]
