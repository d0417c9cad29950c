"""Tests for parsing guideline statements into citations."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from indexer.letters.guidelines import GUIDELINE_SOURCES, parse_guidelines

_SLIDESHARE = (
    "http://www.slideshare.net/julenemcalister/"
    "differences-between-inpatient-rehabilitation-skilled-nursing-care"
)
_HOLY_CROSS = (
    "https://medicalinsider.holy-cross.com/"
    "acute-inpatient-rehabilitation-versus-skilled-nursing-facility-rehabilitation"
)

# Real statements from the seed and dev letters (wrapped lines re-joined as the normaliser does),
# with the citations each should yield.
REAL_STATEMENTS = [
    (
        ("Decision based on MTUS Chronic Pain Treatment Guidelines Benzodiazepines Page(s): 24."),
        [
            {
                "source": "MTUS",
                "document": "Chronic Pain Medical Treatment Guidelines",
                "year": None,
                "sections": ["Benzodiazepines"],
                "pages": [24],
            }
        ],
    ),
    (
        (
            "Decision based on MTUS Chronic Pain Medical Treatment 2009, Section(s): "
            "Benzodiazepines."
        ),
        [
            {
                "source": "MTUS",
                "document": "Chronic Pain Medical Treatment Guidelines",
                "year": 2009,
                "sections": ["Benzodiazepines"],
                "pages": [],
            }
        ],
    ),
    (
        (
            "Decision based on MTUS Low Back Complaints 2004, Section(s): Summary, and "
            "Chronic Pain Medical Treatment 2016, Section(s): Facet blocks. Decision based on "
            "Non-MTUS Citation ACOEM Occupational Medicine Practice Guidelines, 3rd ed., Low "
            "Back Disorders, pg. 607."
        ),
        [
            {
                "source": "MTUS",
                "document": "Low Back Complaints",
                "year": 2004,
                "sections": ["Summary"],
                "pages": [],
            },
            {
                "source": "MTUS",
                "document": "Chronic Pain Medical Treatment Guidelines",
                "year": 2016,
                "sections": ["Facet blocks"],
                "pages": [],
            },
            {
                "source": "ACOEM",
                "document": "Occupational Medicine Practice Guidelines, 3rd ed.",
                "year": None,
                "sections": ["Low Back Disorders"],
                "pages": [607],
            },
        ],
    ),
    (
        (
            "Decision based on MTUS Chronic Pain Medical Treatment 2016, Section(s): "
            "Electrodiagnostic testing (EMG/NCS). Decision based on Non-MTUS Citation "
            "Official Disability Guidelines (ODG), Low Back Chapter."
        ),
        [
            {
                "source": "MTUS",
                "document": "Chronic Pain Medical Treatment Guidelines",
                "year": 2016,
                "sections": ["Electrodiagnostic testing (EMG/NCS)"],
                "pages": [],
            },
            {
                "source": "ODG",
                "document": "Official Disability Guidelines",
                "year": None,
                "sections": ["Low Back"],
                "pages": [],
            },
        ],
    ),
    (
        (
            "Decision based on MTUS Opioid Treatment 2016, Section(s): 3.3 Opioids for "
            "Chronic Pain and Chronic Opioid Treatment: Initiating and Monitoring Chronic "
            "Opioid Treatment."
        ),
        [
            {
                "source": "MTUS",
                "document": "Opioids Treatment Guidelines",
                "year": 2016,
                "sections": [
                    "3.3 Opioids for Chronic Pain and Chronic Opioid Treatment: Initiating "
                    "and Monitoring Chronic Opioid Treatment"
                ],
                "pages": [],
            }
        ],
    ),
    (
        (
            "Decision based on MTUS Chronic Pain Medical Treatment 2016, Section(s): "
            "Cyclobenzaprine (Flexeril)."
        ),
        [
            {
                "source": "MTUS",
                "document": "Chronic Pain Medical Treatment Guidelines",
                "year": 2016,
                "sections": ["Cyclobenzaprine (Flexeril)"],
                "pages": [],
            }
        ],
    ),
    (
        ("Decision based on MTUS Chronic Pain Treatment Guidelines Part 2 Page(s): 24, 66."),
        [
            {
                "source": "MTUS",
                "document": "Chronic Pain Medical Treatment Guidelines",
                "year": None,
                "sections": [],
                "pages": [24, 66],
            }
        ],
    ),
    (
        (
            "The Claims Administrator did not base their decision on the MTUS. Decision based "
            "on Non-MTUS Citation Official Disability Guidelines (ODG)"
        ),
        [
            {
                "source": "ODG",
                "document": "Official Disability Guidelines",
                "year": None,
                "sections": [],
                "pages": [],
            }
        ],
    ),
    (
        (
            "The Claims Administrator based their decision on recommendation(s) outside of "
            "the MTUS Guidelines. Decision based on Non-MTUS Citation Official Disability "
            "Guidelines (ODG), Pain (Chronic), Lidoderm (Lidocaine patch)."
        ),
        [
            {
                "source": "ODG",
                "document": "Official Disability Guidelines",
                "year": None,
                "sections": ["Pain (Chronic)", "Lidoderm (Lidocaine patch)"],
                "pages": [],
            }
        ],
    ),
    (
        (
            "Decision based on MTUS Forearm, Wrist, and Hand Complaints 2004, Section(s): "
            "Work-Relatedness, and Postsurgical Treatment 2009, Section(s): Forearm, Wrist, & "
            "Hand, and Chronic Pain Medical Treatment 2016, Section(s): Physical medicine "
            "treatment. Decision based on Non-MTUS Citation Official Disability Guidelines, "
            "Forearm, Wrist, and Hand Chapter (Online Version): Physical/Occupational "
            "Therapy, Official Disability Guidelines, Physical/Occupational Therapy "
            "Guidelines: Trigger Finger."
        ),
        [
            {
                "source": "MTUS",
                "document": "Forearm, Wrist, and Hand Complaints",
                "year": 2004,
                "sections": ["Work-Relatedness"],
                "pages": [],
            },
            {
                "source": "MTUS",
                "document": "Postsurgical Treatment Guidelines",
                "year": 2009,
                "sections": ["Forearm, Wrist, & Hand"],
                "pages": [],
            },
            {
                "source": "MTUS",
                "document": "Chronic Pain Medical Treatment Guidelines",
                "year": 2016,
                "sections": ["Physical medicine treatment"],
                "pages": [],
            },
            {
                "source": "ODG",
                "document": "Official Disability Guidelines",
                "year": None,
                "sections": ["Forearm, Wrist, and Hand", "Physical/Occupational Therapy"],
                "pages": [],
            },
            {
                "source": "ODG",
                "document": "Official Disability Guidelines",
                "year": None,
                "sections": ["Physical/Occupational Therapy Guidelines: Trigger Finger"],
                "pages": [],
            },
        ],
    ),
    (
        (
            "Decision based on MTUS Neck and Upper Back Complaints 2004, Section(s): Initial "
            "Care, and Shoulder Complaints 2004, Section(s): Initial Care, and Low Back "
            "Complaints 2004, Section(s): Initial Care, Physical Methods."
        ),
        [
            {
                "source": "MTUS",
                "document": "Neck and Upper Back Complaints",
                "year": 2004,
                "sections": ["Initial Care"],
                "pages": [],
            },
            {
                "source": "MTUS",
                "document": "Shoulder Complaints",
                "year": 2004,
                "sections": ["Initial Care"],
                "pages": [],
            },
            {
                "source": "MTUS",
                "document": "Low Back Complaints",
                "year": 2004,
                "sections": ["Initial Care", "Physical Methods"],
                "pages": [],
            },
        ],
    ),
    (
        (
            "Decision based on MTUS Neck and Upper Back Complaints 2004, Section(s): Special "
            "Studies, and Chronic Pain Medical Treatment 2016, Section(s): Electro-diagnostic "
            "testing (EMG/NCS)."
        ),
        [
            {
                "source": "MTUS",
                "document": "Neck and Upper Back Complaints",
                "year": 2004,
                "sections": ["Special Studies"],
                "pages": [],
            },
            {
                "source": "MTUS",
                "document": "Chronic Pain Medical Treatment Guidelines",
                "year": 2016,
                "sections": ["Electrodiagnostic testing (EMG/NCS)"],
                "pages": [],
            },
        ],
    ),
    (
        (
            "Decision based on MTUS Chronic Pain Medical Treatment 2016, Section(s): NSAIDs, "
            "GI symptoms & cardiovascular risk."
        ),
        [
            {
                "source": "MTUS",
                "document": "Chronic Pain Medical Treatment Guidelines",
                "year": 2016,
                "sections": ["NSAIDs, GI symptoms & cardiovascular risk"],
                "pages": [],
            }
        ],
    ),
    (
        (
            "Decision based on MTUS Chronic Pain Medical Treatment 2016, Section(s): "
            "Ultrasound, therapeutic."
        ),
        [
            {
                "source": "MTUS",
                "document": "Chronic Pain Medical Treatment Guidelines",
                "year": 2016,
                "sections": ["Ultrasound, therapeutic"],
                "pages": [],
            }
        ],
    ),
    (
        (
            "Decision based on MTUS Chronic Pain Medical Treatment 2016, Section(s): TENS, "
            "chronic pain (transcutaneous electrical nerve stimulation)."
        ),
        [
            {
                "source": "MTUS",
                "document": "Chronic Pain Medical Treatment Guidelines",
                "year": 2016,
                "sections": ["TENS, chronic pain (transcutaneous electrical nerve stimulation)"],
                "pages": [],
            }
        ],
    ),
    (
        (
            "Decision based on MTUS Chronic Pain Medical Treatment 2016, Section(s): Muscle "
            "relaxants (for pain), Cyclobenzaprine (Flexeril)."
        ),
        [
            {
                "source": "MTUS",
                "document": "Chronic Pain Medical Treatment Guidelines",
                "year": 2016,
                "sections": ["Muscle relaxants (for pain)", "Cyclobenzaprine (Flexeril)"],
                "pages": [],
            }
        ],
    ),
    (
        (
            "Decision based on MTUS Shoulder Complaints 2004, Section(s): Summary, and Opioid "
            "Treatment 2016, Section(s): 1.4 Opioids for Acute Pain: Opioids for "
            "Post-operative Pain, 3.2 Opioids for Chronic Pain and Chronic Opioid Treatment: "
            "Consideration of Alternative Treatments for Chronic Pain and Chronic Opioid "
            "Treatment, 3.3.1.2 Opioids for Chronic Pain and Chronic Opioid Treatment: "
            "Screening for Risk of Addiction or Adverse Events, Prior to Chronic Opioid "
            "Treatment: Screening for Alcohol Misuse/Abuse, 3.3.6 Opioids for Chronic Pain "
            "and Chronic Opioid Treatment: Use of Urine Drug Testing (UDT), 3.3.8 Opioids for "
            "Chronic Pain and Chronic Opioid Treatment: Opioid Titration and Dosing "
            "Threshold. Decision based on Non-MTUS Citation Official Disability Guidelines "
            "(ODG), Pain."
        ),
        [
            {
                "source": "MTUS",
                "document": "Shoulder Complaints",
                "year": 2004,
                "sections": ["Summary"],
                "pages": [],
            },
            {
                "source": "MTUS",
                "document": "Opioids Treatment Guidelines",
                "year": 2016,
                "sections": [
                    "1.4 Opioids for Acute Pain: Opioids for Post-operative Pain",
                    "3.2 Opioids for Chronic Pain and Chronic Opioid Treatment: "
                    "Consideration of Alternative Treatments for Chronic Pain and Chronic "
                    "Opioid Treatment",
                    "3.3.1.2 Opioids for Chronic Pain and Chronic Opioid Treatment: "
                    "Screening for Risk of Addiction or Adverse Events, Prior to Chronic "
                    "Opioid Treatment: Screening for Alcohol Misuse/Abuse",
                    "3.3.6 Opioids for Chronic Pain and Chronic Opioid Treatment: Use of "
                    "Urine Drug Testing (UDT)",
                    "3.3.8 Opioids for Chronic Pain and Chronic Opioid Treatment: Opioid "
                    "Titration and Dosing Threshold",
                ],
                "pages": [],
            },
            {
                "source": "ODG",
                "document": "Official Disability Guidelines",
                "year": None,
                "sections": ["Pain (Chronic)"],
                "pages": [],
            },
        ],
    ),
    (
        (
            "Decision based on MTUS Neck and Upper Back Complaints 2004, Section(s): Special "
            "Studies. Decision based on Non-MTUS Citation Official Disability Guidelines "
            "(ODG), Work Loss Data Institute (21th Annual Edition), 2016, Neck and Upper Back "
            "(Acute & Chronic) Chapter."
        ),
        [
            {
                "source": "MTUS",
                "document": "Neck and Upper Back Complaints",
                "year": 2004,
                "sections": ["Special Studies"],
                "pages": [],
            },
            {
                "source": "ODG",
                "document": "Official Disability Guidelines",
                "year": 2016,
                "sections": ["Neck and Upper Back"],
                "pages": [],
            },
        ],
    ),
    (
        (
            "The Expert Reviewer based their decision on recommendation(s) outside of the "
            f"MTUS Guidelines. Decision based on Non-MTUS Citation {_SLIDESHARE}, {_HOLY_CROSS}."
        ),
        [
            {
                "source": "Other",
                "document": _SLIDESHARE,
                "year": None,
                "sections": [],
                "pages": [],
            },
            {
                "source": "Other",
                "document": _HOLY_CROSS,
                "year": None,
                "sections": [],
                "pages": [],
            },
        ],
    ),
    (
        (
            "The Claims Administrator based their decision on recommendation(s) outside of "
            "the MTUS Guidelines. Decision based on Non-MTUS Citation ACOEM guidelines and "
            "the Official Disability Guidelines."
        ),
        [
            {
                "source": "ACOEM",
                "document": "Occupational Medicine Practice Guidelines",
                "year": None,
                "sections": [],
                "pages": [],
            },
            {
                "source": "ODG",
                "document": "Official Disability Guidelines",
                "year": None,
                "sections": [],
                "pages": [],
            },
        ],
    ),
    (
        (
            "The Expert Reviewer based their decision on recommendation(s) outside of the "
            "MTUS Guidelines. Decision based on Non-MTUS Citation Official Disability "
            "Guidelines (ODG) Hips and Pelvis (Acute and Chronic), MRI (magnetic resonance "
            "imaging) and Other Medical Treatment Guidelines ACOEM Hip and Groin Disorders, "
            "Diagnostic Testing, MRI."
        ),
        [
            {
                "source": "ODG",
                "document": "Official Disability Guidelines",
                "year": None,
                "sections": ["Hip and Pelvis", "MRI (magnetic resonance imaging)"],
                "pages": [],
            },
            {
                "source": "ACOEM",
                "document": "Occupational Medicine Practice Guidelines",
                "year": None,
                "sections": ["Hip and Groin Disorders", "Diagnostic Testing", "MRI"],
                "pages": [],
            },
        ],
    ),
    (
        (
            "The Expert Reviewer based their decision on recommendation(s) outside of the "
            "MTUS Guidelines. Decision based on Non-MTUS Citation ACOEM: Low back disorders, "
            "diagnostic and treatment recommendations, low back pain/radicular pain, "
            "diagnostic recommendations, MRI."
        ),
        [
            {
                "source": "ACOEM",
                "document": "Occupational Medicine Practice Guidelines",
                "year": None,
                "sections": [
                    "Low Back Disorders",
                    "diagnostic and treatment recommendations",
                    "low back pain/radicular pain",
                    "diagnostic recommendations",
                    "MRI",
                ],
                "pages": [],
            }
        ],
    ),
    (
        (
            "The Claims Administrator based their decision on recommendation(s) outside of "
            "the MTUS Guidelines. Decision based on Non-MTUS Citation Official Disability "
            "Guidelines (ODG), Knee & Leg (updated 11/22/16) Chapter: Home Health Services: "
            "Criteria for skilled nursing facility."
        ),
        [
            {
                "source": "ODG",
                "document": "Official Disability Guidelines",
                "year": None,
                "sections": [
                    "Knee and Leg",
                    "Home Health Services: Criteria for skilled nursing facility",
                ],
                "pages": [],
            }
        ],
    ),
    (
        (
            "The Expert Reviewer based their decision on recommendation(s) outside of the "
            "MTUS Guidelines. Decision based on Non-MTUS Citation Official Disability "
            "Guidelines (ODG) MRI Elbow."
        ),
        [
            {
                "source": "ODG",
                "document": "Official Disability Guidelines",
                "year": None,
                "sections": ["Elbow", "MRI"],
                "pages": [],
            }
        ],
    ),
    (
        (
            "Decision based on MTUS Low Back Complaints 2004, Section(s): Special Studies. "
            "Decision based on Non-MTUS Citation Official Disability Guidelines: Low Back - "
            "Lumbar & Thoracic (Acute & Chronic) Chapter (Online Version)."
        ),
        [
            {
                "source": "MTUS",
                "document": "Low Back Complaints",
                "year": 2004,
                "sections": ["Special Studies"],
                "pages": [],
            },
            {
                "source": "ODG",
                "document": "Official Disability Guidelines",
                "year": None,
                "sections": ["Low Back"],
                "pages": [],
            },
        ],
    ),
    (
        (
            "Decision based on MTUS Acupuncture Treatment 2007. Decision based on Non-MTUS "
            "Citation Official Disability Guidelines (ODG) Pain (Chronic) Acupuncture."
        ),
        [
            {
                "source": "MTUS",
                "document": "Acupuncture Medical Treatment Guidelines",
                "year": 2007,
                "sections": [],
                "pages": [],
            },
            {
                "source": "ODG",
                "document": "Official Disability Guidelines",
                "year": None,
                "sections": ["Pain (Chronic)", "Acupuncture"],
                "pages": [],
            },
        ],
    ),
    (
        (
            "The Claims Administrator based their decision on recommendation(s) outside of "
            "the MTUS Guidelines. Decision based on Non-MTUS Citation Official Disability "
            "Guidelines, 2016, Web Version, Criteria for skilled nursing facility."
        ),
        [
            {
                "source": "ODG",
                "document": "Official Disability Guidelines",
                "year": 2016,
                "sections": ["Criteria for skilled nursing facility"],
                "pages": [],
            }
        ],
    ),
    (
        (
            "Decision based on MTUS Elbow Complaints 2007, Section(s): Diagnostic Criteria, "
            "and Forearm, Wrist, and Hand Complaints 2004, Section(s): Special Studies, "
            "Summary."
        ),
        [
            {
                "source": "MTUS",
                "document": "Elbow Disorders",
                "year": 2007,
                "sections": ["Diagnostic Criteria"],
                "pages": [],
            },
            {
                "source": "MTUS",
                "document": "Forearm, Wrist, and Hand Complaints",
                "year": 2004,
                "sections": ["Special Studies", "Summary"],
                "pages": [],
            },
        ],
    ),
    (
        (
            "Decision based on MTUS General Approaches 2004, Section(s): Initial Approaches "
            "to Treatment, and Knee Complaints 2004, Section(s): Initial Care."
        ),
        [
            {
                "source": "MTUS",
                "document": "General Approaches",
                "year": 2004,
                "sections": ["Initial Approaches to Treatment"],
                "pages": [],
            },
            {
                "source": "MTUS",
                "document": "Knee Complaints",
                "year": 2004,
                "sections": ["Initial Care"],
                "pages": [],
            },
        ],
    ),
    (
        (
            "The Expert Reviewer based their decision on recommendation(s) outside of the "
            "MTUS Guidelines. Decision based on Non-MTUS Citation Official Disability "
            "Guidelines (ODG) Head section, Electroencephalography."
        ),
        [
            {
                "source": "ODG",
                "document": "Official Disability Guidelines",
                "year": None,
                "sections": ["Head", "Electroencephalography"],
                "pages": [],
            }
        ],
    ),
    (
        (
            "The Expert Reviewer based their decision on recommendation(s) outside of the "
            "MTUS Guidelines. Decision based on Non-MTUS Citation Official Disability "
            "Guidelines (ODG) Low Back (Shock wave therapy)."
        ),
        [
            {
                "source": "ODG",
                "document": "Official Disability Guidelines",
                "year": None,
                "sections": ["Low Back", "Shock wave therapy"],
                "pages": [],
            }
        ],
    ),
    (
        (
            "The Expert Reviewer based their decision on recommendation(s) outside of the "
            "MTUS Guidelines. Decision based on Non-MTUS Citation ACOEM Hip and Groin "
            "Chapter/Diagnostic and treatment recommendations."
        ),
        [
            {
                "source": "ACOEM",
                "document": "Occupational Medicine Practice Guidelines",
                "year": None,
                "sections": ["Hip and Groin Disorders", "Diagnostic and treatment recommendations"],
                "pages": [],
            }
        ],
    ),
    (
        (
            "Decision based on MTUS Chronic Pain Medical Treatment 2016, Section(s): Physical "
            "medicine treatment. Decision based on Non-MTUS Citation Official Disability "
            "Guidelines (ODG) Forearm, wrist and hand, Physical/Occupational therapy."
        ),
        [
            {
                "source": "MTUS",
                "document": "Chronic Pain Medical Treatment Guidelines",
                "year": 2016,
                "sections": ["Physical medicine treatment"],
                "pages": [],
            },
            {
                "source": "ODG",
                "document": "Official Disability Guidelines",
                "year": None,
                "sections": ["Forearm, Wrist, and Hand", "Physical/Occupational therapy"],
                "pages": [],
            },
        ],
    ),
    (
        (
            "The Claims Administrator based their decision on recommendation(s) outside of "
            "the MTUS Guidelines. Decision based on Non-MTUS Citation Official Disability "
            "Guidelines: Neck & Upper Back (Acute & Chronic) Magnetic resonance imaging "
            "(MRI), Indications for imaging."
        ),
        [
            {
                "source": "ODG",
                "document": "Official Disability Guidelines",
                "year": None,
                "sections": [
                    "Neck and Upper Back",
                    "Magnetic resonance imaging (MRI)",
                    "Indications for imaging",
                ],
                "pages": [],
            }
        ],
    ),
    (
        (
            "Decision based on MTUS Low Back Complaints 2004. Decision based on Non-MTUS "
            "Citation Official Disability Guidelines - Low Back Procedures."
        ),
        [
            {
                "source": "MTUS",
                "document": "Low Back Complaints",
                "year": 2004,
                "sections": [],
                "pages": [],
            },
            {
                "source": "ODG",
                "document": "Official Disability Guidelines",
                "year": None,
                "sections": ["Low Back", "Procedures"],
                "pages": [],
            },
        ],
    ),
    (
        (
            "The Claims Administrator based their decision on recommendation(s) outside of "
            "the MTUS Guidelines. Decision based on Non-MTUS Citation Official Disability "
            "Guidelines (ODG) Knee and Leg Chapter Guidelines."
        ),
        [
            {
                "source": "ODG",
                "document": "Official Disability Guidelines",
                "year": None,
                "sections": ["Knee and Leg"],
                "pages": [],
            }
        ],
    ),
]


@pytest.mark.parametrize(("text", "expected"), REAL_STATEMENTS)
def test_real_statements(text: str, expected: list[dict]) -> None:
    assert parse_guidelines(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        None,
        "",
        "   ",
        "The Claims Administrator did not cite any medical evidence for its decision.",
        "The Expert Reviewer did not cite any medical evidence for its decision.",
    ],
)
def test_no_citations(text: str | None) -> None:
    assert parse_guidelines(text) == []


def test_page_ranges_expand() -> None:
    assert parse_guidelines(
        "Decision based on MTUS Chronic Pain Treatment Guidelines Opioids Page(s): 68-69, 78."
    ) == [
        {
            "source": "MTUS",
            "document": "Chronic Pain Medical Treatment Guidelines",
            "year": None,
            "sections": ["Opioids"],
            "pages": [68, 69, 78],
        }
    ]


def test_wrap_hyphen_left_by_whitespace_collapse() -> None:
    # The same statement as the "Electro-diagnostic" one, joined with a space at the wrap.
    assert parse_guidelines(
        "Decision based on MTUS Chronic Pain Medical Treatment 2016, Section(s): Electro- "
        "diagnostic testing (EMG/NCS)."
    ) == [
        {
            "source": "MTUS",
            "document": "Chronic Pain Medical Treatment Guidelines",
            "year": 2016,
            "sections": ["Electrodiagnostic testing (EMG/NCS)"],
            "pages": [],
        }
    ]


def test_document_spellings_share_one_name() -> None:
    spellings = [
        "Decision based on MTUS Chronic Pain Treatment Guidelines.",
        "Decision based on MTUS Chronic Pain Medical Treatment.",
        "Decision based on MTUS Chronic Pain Medical Treatment Guidelines.",
        "Decision based on CA MTUS Chronic Pain Medical Treatment Guidelines.",
    ]
    documents = {c["document"] for text in spellings for c in parse_guidelines(text)}
    assert documents == {"Chronic Pain Medical Treatment Guidelines"}


def test_identical_citations_are_deduplicated() -> None:
    text = (
        "Decision based on Non-MTUS Citation Official Disability Guidelines (ODG), Low Back "
        "Chapter. Decision based on Non-MTUS Citation ODG Low back chapter."
    )
    assert parse_guidelines(text) == [
        {
            "source": "ODG",
            "document": "Official Disability Guidelines",
            "year": None,
            "sections": ["Low Back"],
            "pages": [],
        }
    ]


def test_older_acoem_chapter_citation() -> None:
    text = (
        "Decision based on MTUS American College of Occupational and Environmental Medicine "
        "(ACOEM), 2nd Edition, (2004), Chapter 12, pages 303-305"
    )
    assert parse_guidelines(text) == [
        {
            "source": "MTUS",
            "document": "Low Back Complaints",
            "year": 2004,
            "sections": [],
            "pages": [303, 304, 305],
        }
    ]


@pytest.mark.parametrize(
    ("citation", "source"),
    [
        ("FDA.gov, Drug Safety Communication", "FDA"),
        ("Medicare National Coverage Determination for Durable Medical Equipment", "CMS"),
        ("AMA Guides to the Evaluation of Permanent Impairment, 5th Edition", "AMA"),
        ("Physicians' Desk Reference", "PDR"),
        ("A nice review of cervical pillows", "Other"),
    ],
)
def test_other_sources_keep_the_cited_title(citation: str, source: str) -> None:
    assert parse_guidelines(f"Decision based on Non-MTUS Citation {citation}.") == [
        {"source": source, "document": citation, "year": None, "sections": [], "pages": []}
    ]


def _mtus(document: str, year: int | None, sections: list[str], pages: list[int]) -> dict:
    return {
        "source": "MTUS",
        "document": document,
        "year": year,
        "sections": sections,
        "pages": pages,
    }


def _odg(sections: list[str], year: int | None = None) -> dict:
    return {
        "source": "ODG",
        "document": "Official Disability Guidelines",
        "year": year,
        "sections": sections,
        "pages": [],
    }


_CPMTG = "Chronic Pain Medical Treatment Guidelines"

# MAXIMUS-header layout (2013): "The <party> based <its/his/her/their> decision on ...".
MAXIMUS_HEADER_STATEMENTS = [
    (
        (
            "The Physician Reviewer based his/her decision on the MTUS Chronic Pain Medical "
            "Treatment Guidelines (2009), NSAIDs, GI symptoms & cardiovascular risk, pages 68-69."
        ),
        [_mtus(_CPMTG, 2009, ["NSAIDs, GI symptoms & cardiovascular risk"], [68, 69])],
    ),
    (
        (
            "The Claims Administrator based its decision on the MTUS Chronic Pain Medical "
            "Treatment Guidelines, Physical Medicine, pages 98-99."
        ),
        [_mtus(_CPMTG, None, ["Physical Medicine"], [98, 99])],
    ),
    (
        (
            "The Physician Reviewer based his/her decision on the Official Disability Guidelines "
            "(ODG), Pain Chapter, Proton pump inhibitors, and the MTUS Chronic Pain Medical "
            "Treatment Guidelines, NSAIDs, page 67."
        ),
        [
            _odg(["Pain (Chronic)", "Proton pump inhibitors"]),
            _mtus(_CPMTG, None, ["NSAIDs"], [67]),
        ],
    ),
    # A document named without "MTUS" but said to be part of it; the clause is not a section.
    (
        (
            "The Expert Reviewer based his/her decision on the Chronic Pain Medical Treatment "
            "Guidelines (2009), Opioids, pages 78-80, which is part of the MTUS."
        ),
        [_mtus(_CPMTG, 2009, ["Opioids"], [78, 79, 80])],
    ),
    # The lead-in comes mid-sentence after prose; MTUS-adopted ACOEM chapter, then the ODG.
    (
        (
            "The Physician Reviewer found that no section of the MTUS was applicable. Per the "
            "Strength of Evidence hierarchy, the Physician Reviewer based his/her decision on the "
            "MTUS/ACOEM Practice Guidelines, 2nd Edition (2004), Chapter 12, pages 303-305, and "
            "the Official Disability Guidelines (ODG), Low Back Chapter, Discography."
        ),
        [
            _mtus("Low Back Complaints", 2004, [], [303, 304, 305]),
            _odg(["Low Back", "Discography"]),
        ],
    ),
    # Two lead-ins in one field; the sentence saying why is not part of either citation.
    (
        (
            "The Claims Administrator based their decision on the MTUS Chronic Pain Medical "
            "Treatment Guidelines, Opioids, pages 78-80. These guidelines require documented "
            "functional improvement. The Claims Administrator also relied on the ODG, Pain "
            "Chapter, Urine drug testing."
        ),
        [
            _mtus(_CPMTG, None, ["Opioids"], [78, 79, 80]),
            _odg(["Pain (Chronic)", "Urine drug testing"]),
        ],
    ),
]

# MEDICAL PROFESSIONAL REVIEW layout: the citations, one per sentence or line, then why.
PROFESSIONAL_REVIEW_STATEMENTS = [
    (
        (
            "MTUS Chronic Pain Medical Treatment Guidelines 2009, Opioids, criteria for use, "
            "pages 76-80. These guidelines address the continued use of opioids for chronic pain."
        ),
        [_mtus(_CPMTG, 2009, ["Opioids, criteria for use"], [76, 77, 78, 79, 80])],
    ),
    (
        "ODG, Low Back Chapter, Lumbar supports. The patient has no instability.",
        [_odg(["Low Back", "Lumbar supports"])],
    ),
    # One citation a line (paragraphs, as the normaliser leaves them), then the why.
    (
        (
            "MTUS Chronic Pain Medical Treatment Guidelines 2009, Opioids, pages 78-80\n\n"
            "Official Disability Guidelines (ODG), Pain Chapter, Opioids\n\n"
            "The guidelines support continued opioids only with documented improvement."
        ),
        [_mtus(_CPMTG, 2009, ["Opioids"], [78, 79, 80]), _odg(["Pain (Chronic)", "Opioids"])],
    ),
    # Heading kept; prose that names a guideline ("The ODG does not recommend") cites nothing.
    (
        (
            "MEDICAL TREATMENT GUIDELINE(S) RELIED UPON BY PROFESSIONAL REVIEWER AND WHY:\n"
            "ODG, Knee & Leg Chapter, Hyaluronic acid injections. The ODG does not recommend "
            "these injections for patellofemoral pain. Per the MTUS, they are not indicated "
            "before conservative care."
        ),
        [_odg(["Knee and Leg", "Hyaluronic acid injections"])],
    ),
]


@pytest.mark.parametrize(("text", "expected"), MAXIMUS_HEADER_STATEMENTS)
def test_maximus_header_statements(text: str, expected: list[dict]) -> None:
    assert parse_guidelines(text) == expected


@pytest.mark.parametrize(("text", "expected"), PROFESSIONAL_REVIEW_STATEMENTS)
def test_professional_review_statements(text: str, expected: list[dict]) -> None:
    assert parse_guidelines(text) == expected


def test_outside_of_the_mtus_cites_nothing() -> None:
    text = (
        "The Claims Administrator based their decision on recommendation(s) outside of the "
        "MTUS Guidelines."
    )
    assert parse_guidelines(text) == []
    assert parse_guidelines(
        f"{text} Decision based on Non-MTUS Citation Official Disability Guidelines (ODG), Pain "
        "(Chronic), Lidoderm (Lidocaine patch)."
    ) == [_odg(["Pain (Chronic)", "Lidoderm (Lidocaine patch)"])]


_FRAGMENTS = st.sampled_from(
    [
        "Decision based on ",
        "MTUS ",
        "CA MTUS ",
        "Non-MTUS Citation ",
        "Other Medical Treatment Guidelines ",
        "Official Disability Guidelines (ODG)",
        "ODG ",
        "ACOEM ",
        "Chronic Pain Medical Treatment ",
        "Low Back Complaints ",
        "Forearm, Wrist, and Hand ",
        "Opioid Treatment ",
        "Chapter 12 ",
        "2016",
        ", Section(s): ",
        "Page(s): ",
        "pg. ",
        "24, 66",
        "68-69",
        "9999-1",
        "3.3.1 ",
        ", and ",
        " and the ",
        "(",
        ")",
        "(Acute & Chronic)",
        "(updated 11/3/16)",
        "Pain (Chronic)",
        "Electro- diagnostic",
        "3rd ed.",
        "http://example.com/a- b",
        ". ",
        ",",
        ":",
        "-",
        "\x00",
        "NSAIDs, GI symptoms & cardiovascular risk",
        "The Physician Reviewer based his/her decision on ",
        "The Claims Administrator based their decision on ",
        "MEDICAL TREATMENT GUIDELINE(S) RELIED UPON BY PROFESSIONAL REVIEWER AND WHY:",
        "recommendation(s) outside of the ",
        ", which is part of the MTUS",
        "These guidelines address ",
        " is ",
        "\n",
        "\n\n",
        "\x01",
        "the ",
        "pg. ",
        "J. ",
    ]
)
_STATEMENTS = st.one_of(
    st.none(),
    st.text(),
    st.lists(st.one_of(_FRAGMENTS, st.text(max_size=5)), max_size=25).map("".join),
)


@settings(max_examples=500, deadline=None)
@given(_STATEMENTS)
def test_never_raises_and_returns_well_formed_citations(text: str | None) -> None:
    citations = parse_guidelines(text)
    assert isinstance(citations, list)
    for citation in citations:
        assert set(citation) == {"source", "document", "year", "sections", "pages"}
        assert citation["source"] in GUIDELINE_SOURCES
        assert citation["document"] is None or isinstance(citation["document"], str)
        assert citation["year"] is None or type(citation["year"]) is int
        assert isinstance(citation["sections"], list)
        assert all(isinstance(s, str) and s for s in citation["sections"])
        assert isinstance(citation["pages"], list)
        assert all(type(p) is int and p > 0 for p in citation["pages"])
    assert all(citations.count(c) == 1 for c in citations)
