"""Synthetic IMR final determination letters, for load and scale tests of the indexer.

    python bench/make_corpus.py N OUT [--seed S]

writes N letters as UTF-8 text files under OUT, sharded into folders of at most 1000 files
(OUT/000/CM19-0123456.txt, OUT/001/...), and OUT/manifest.jsonl: one JSON line per letter with
the ground truth the generator used (case number, layout, dates, reviewer, patient, diagnoses,
and each item's request, decision, treatment and expected guideline citations), in letter order.

The letters follow the two layouts of the real samples: about 90% open with the `Case Number:`
header block (2014-2024), about 10% are legacy letters (2013-2014) with no header, whose
reviewer credentials are mostly in prose and whose injury and UR dates are only in the case
summary. Each is written in one of three styles the samples show: one paragraph per line
(seed 004), hard-wrapped lines with one-space lines between paragraphs (pypdf's text of the
dev PDFs), or hard-wrapped and double-spaced (seeds 000-003, legacy letters). The text is
composed from phrase pools with slots (body regions, dates, drugs, doses, pain scores,
guideline sections), so no two letters read alike, and `indexer.letters.parser` reads every
letter back to the recorded truth (tests/test_make_corpus.py checks layout, header dates,
reviewer, patient, diagnoses and each item's request, decision and citations).

Deterministic: letter i of seed S is the same bytes whatever N is (each letter has its own
random.Random seeded from S and i). Standard library only, so it imports and runs fast.

`generate_letter(seed, index)` returns one letter (text and truth); `write_corpus(n, out, seed)`
writes a corpus and returns its summary.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import random
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

LEGACY = "legacy"
CASE_NUMBER_HEADER = "case_number_header"
LEGACY_SHARE = 0.10
SHARD_SIZE = 1000

# Items per letter: most letters dispute one item, a long tail up to 20 (dev sample: 62% one).
ITEM_COUNT_WEIGHTS = (
    (1, 60.0),
    (2, 20.0),
    (3, 9.0),
    (4, 3.2),
    (5, 2.1),
    (6, 1.5),
    (7, 1.0),
    (8, 0.8),
    (9, 0.55),
    (10, 0.4),
    (11, 0.3),
    (12, 0.22),
    (13, 0.17),
    (14, 0.13),
    (15, 0.1),
    (16, 0.08),
    (17, 0.06),
    (18, 0.05),
    (19, 0.04),
    (20, 0.03),
)
MAX_ITEMS = 20
# Scales every treatment's overturn rate so that about 10% of items are overturned overall.
OVERTURN_SCALE = 0.85

# Application-received years of header letters (legacy letters are 2013-2014).
HEADER_YEAR_WEIGHTS = (
    (2014, 7),
    (2015, 15),
    (2016, 14),
    (2017, 12),
    (2018, 10),
    (2019, 9),
    (2020, 8),
    (2021, 7),
    (2022, 6),
    (2023, 6),
    (2024, 6),
)

# ---------------------------------------------------------------------------------------------
# Vocabulary
# ---------------------------------------------------------------------------------------------

MONTHS = (
    "January February March April May June July August September October November December"
).split()

STATES = (
    ["California"] * 12
    + ["Texas"] * 3
    + ["New York"] * 3
    + ["Florida"] * 2
    + ["Arizona"] * 2
    + ["Washington"] * 2
    + [
        "Oregon",
        "Nevada",
        "Ohio",
        "Pennsylvania",
        "Illinois",
        "Maryland",
        "Virginia",
        "New Jersey",
        "North Carolina",
        "Massachusetts",
        "Colorado",
        "Michigan",
        "Georgia",
        "Tennessee",
        "Missouri",
        "Connecticut",
        "Utah",
        "Minnesota",
        "Wisconsin",
        "Indiana",
        "Kentucky",
        "Louisiana",
        "West Virginia",
        "New Mexico",
        "South Carolina",
        "Oklahoma",
        "Iowa",
        "Hawaii",
    ]
)

# (block spelling, canonical spelling as the parser reports it)
_SPECIALTY_SPELLING = {
    "Physical Medicine & Rehabilitation": "Physical Medicine and Rehabilitation",
}
# Reviewer profiles: (specialties, optional prose subspecialty), weighted by repetition.
REVIEWER_PROFILES = (
    (("Orthopedic Surgery",), None),
    (("Orthopedic Surgery",), None),
    (("Orthopedic Surgery", "Sports Medicine"), "Sports Medicine"),
    (("Orthopedic Surgery", "Hand Surgery"), "Hand Surgery"),
    (("Physical Medicine & Rehabilitation",), None),
    (("Physical Medicine & Rehabilitation",), None),
    (("Physical Medicine & Rehabilitation", "Pain Management"), "Pain Management"),
    (("Physical Medicine & Rehabilitation", "Pain Management"), "Pain Medicine"),
    (("Physical Medicine & Rehabilitation", "Spinal Cord Injury Medicine"), "Interventional Spine"),
    (("Anesthesiology", "Pain Management"), "Pain Management"),
    (("Anesthesiology", "Pain Medicine"), "Pain Medicine"),
    (("Anesthesiology",), None),
    (("Pain Management",), None),
    (("Internal Medicine",), None),
    (("Internal Medicine", "Rheumatology"), "Rheumatology"),
    (("Family Practice",), None),
    (("Family Practice",), None),
    (("Family Practice", "Sports Medicine"), "Sports Medicine"),
    (("Preventive Medicine", "Occupational Medicine"), "Occupational Medicine"),
    (("Preventive Medicine", "Occupational Medicine"), "Occupational Medicine"),
    (("Neurology",), None),
    (("Neurology", "Pain Management"), "Pain Management"),
    (("Neurological Surgery",), None),
    (("Emergency Medicine",), None),
    (("Chiropractic Medicine",), None),
    (("Acupuncture",), None),
)
PSYCH_PROFILES = (
    (("Psychiatry",), None),
    (("Psychiatry", "Forensic Psychiatry"), "Forensic Psychiatry"),
    (("Psychologist",), None),
)
SURGEON_PROFILES = (
    (("Orthopedic Surgery",), None),
    (("Orthopedic Surgery", "Sports Medicine"), "Sports Medicine"),
    (("Orthopedic Surgery", "Hand Surgery"), "Hand Surgery"),
    (("Neurological Surgery",), None),
    (("Plastic Surgery", "Hand Surgery"), "Hand Surgery"),
)

JOBS = (
    "warehouse worker",
    "registered nurse",
    "truck driver",
    "correctional officer",
    "janitor",
    "cashier",
    "farm laborer",
    "electrician",
    "teacher's aide",
    "police officer",
    "firefighter",
    "construction laborer",
    "home health aide",
    "office clerk",
    "machine operator",
    "line cook",
    "housekeeper",
    "bus driver",
    "delivery driver",
    "certified nursing assistant",
    "carpenter",
    "grocery clerk",
    "school custodian",
    "forklift operator",
    "customer service representative",
    "landscaper",
    "security guard",
    "mechanic",
)
MECHANISMS = (
    "while lifting a heavy box",
    "when {he} slipped and fell on a wet floor",
    "while pulling a pallet jack",
    "due to repetitive keyboarding and mousing",
    "in a motor vehicle collision while making a delivery",
    "while transferring a patient from a bed to a wheelchair",
    "when {he} fell from a ladder",
    "while unloading a truck",
    "due to cumulative trauma from repetitive lifting",
    "when a shelf collapsed onto {him}",
    "while restraining a combative inmate",
    "when {he} tripped over a hose",
    "while carrying a case of produce",
    "when {he} was struck by a forklift",
    "while pushing a heavy cart",
    "when {he} missed a step and twisted {his} body",
    "while bending to pick up a bag of cement",
    "due to repetitive overhead work",
    "when {he} was rear-ended while driving a company vehicle",
    "while moving furniture",
    "during a physical altercation at work",
    "while stocking shelves",
)
SIDES = ("left", "right")
PAIN_WORDS = ("constant", "intermittent", "frequent", "aching", "sharp", "burning", "throbbing")
TREATMENTS_TO_DATE = (
    "medications",
    "physical therapy",
    "chiropractic care",
    "acupuncture",
    "home exercise",
    "activity modification",
    "a TENS unit",
    "injections",
    "modified duty",
    "ice and heat",
    "psychotherapy",
    "bracing",
    "massage",
    "aquatic therapy",
    "epidural steroid injections",
    "trigger point injections",
    "cognitive behavioral therapy",
    "a functional restoration program",
)
GENERAL_DIAGNOSES = (
    "chronic pain syndrome",
    "insomnia",
    "depression",
    "anxiety",
    "myofascial pain syndrome",
    "gastritis",
    "opioid dependence",
    "obesity",
    "hypertension",
    "headaches",
    "sleep disturbance",
    "constipation",
)
ADLS = (
    "walk for 20 minutes",
    "perform light household chores",
    "sit for longer periods",
    "sleep through the night",
    "drive short distances",
    "shop for groceries",
    "care for {his} children",
    "attend {his} exercise program",
    "stand for 30 minutes",
)


@dataclass(frozen=True)
class Region:
    """A body region: how the letters name it, what is found there, and its guideline chapters."""

    key: str
    name: str  # "lumbar spine"; sided regions are written "{side} shoulder"
    short: str  # "low back"
    sided: bool
    complaints: tuple[str, ...]
    findings: tuple[str, ...]
    diagnoses: tuple[str, ...]
    imaging: tuple[str, ...]
    odg: str  # ODG chapter as written
    odg_canonical: str
    acoem3: str  # ACOEM 3rd edition chapter
    acoem3_pages: tuple[str, ...]
    postsurgical: str  # MTUS Postsurgical Treatment Guidelines section
    extremity: str  # "lower" or "upper"


# MTUS complaints chapters: (as written with its year, document the parser names, year, ACOEM
# chapter number, {section: pages})
_MTUS_CHAPTERS = {
    "lumbar": ("Low Back Complaints", "Low Back Complaints", 2004, 12),
    "thoracic": ("Low Back Complaints", "Low Back Complaints", 2004, 12),
    "cervical": ("Neck and Upper Back Complaints", "Neck and Upper Back Complaints", 2004, 8),
    "shoulder": ("Shoulder Complaints", "Shoulder Complaints", 2004, 9),
    "elbow": ("Elbow Complaints", "Elbow Disorders", 2007, 10),
    "wrist": (
        "Forearm, Wrist, and Hand Complaints",
        "Forearm, Wrist, and Hand Complaints",
        2004,
        11,
    ),
    "knee": ("Knee Complaints", "Knee Complaints", 2004, 13),
    "ankle": ("Ankle and Foot Complaints", "Ankle and Foot Complaints", 2004, 14),
}
_CHAPTER_PAGES = {
    # ACOEM 2nd edition (MTUS) pages by chapter and section
    12: {
        "Special Studies": "303-305",
        "Surgical Considerations": "305-307",
        "Physical Methods": "301",
        "Summary": "308-310",
        "Initial Care": "298-301",
    },
    8: {
        "Special Studies": "177-179",
        "Surgical Considerations": "179-180",
        "Physical Methods": "173-174",
        "Summary": "181-183",
        "Initial Care": "170-173",
    },
    9: {
        "Special Studies": "207-209",
        "Surgical Considerations": "209-211",
        "Physical Methods": "203",
        "Summary": "213-214",
        "Initial Care": "204",
    },
    10: {
        "Special Studies": "33-34",
        "Surgical Considerations": "36-37",
        "Physical Methods": "26-27",
        "Summary": "38-40",
        "Initial Care": "22-24",
    },
    11: {
        "Special Studies": "268-269",
        "Surgical Considerations": "270",
        "Physical Methods": "265",
        "Summary": "272-273",
        "Initial Care": "263-265",
    },
    13: {
        "Special Studies": "341-343",
        "Surgical Considerations": "344-345",
        "Physical Methods": "339",
        "Summary": "346-347",
        "Initial Care": "337-339",
    },
    14: {
        "Special Studies": "374-375",
        "Surgical Considerations": "374",
        "Physical Methods": "369-371",
        "Summary": "376-377",
        "Initial Care": "368-369",
    },
}

REGIONS: dict[str, Region] = {
    r.key: r
    for r in (
        Region(
            "lumbar",
            "lumbar spine",
            "low back",
            False,
            (
                "low back pain radiating to the {side} lower extremity",
                "low back pain with radicular symptoms into both legs",
                "constant low back pain with numbness and tingling in the {side} leg",
                "axial low back pain aggravated by prolonged sitting and bending",
                "lumbar pain rated {p1}/10 with intermittent radiation to the {side} buttock",
            ),
            (
                "tenderness to palpation over the lumbar paraspinal muscles",
                "decreased lumbar range of motion in flexion and extension",
                "a positive straight leg raise on the {side}",
                "decreased sensation in the {side} L5 dermatome",
                "spasm of the lumbar paravertebral musculature",
                "an antalgic gait",
                "4/5 strength of the {side} extensor hallucis longus",
                "pain with lumbar facet loading bilaterally",
                "diminished {side} Achilles reflex",
            ),
            (
                "lumbar radiculopathy",
                "lumbar disc displacement",
                "lumbosacral sprain/strain",
                "lumbar degenerative disc disease",
                "chronic low back pain",
                "lumbar spondylosis",
                "post-laminectomy syndrome",
                "lumbar facet arthropathy",
                "sciatica",
                "lumbar spinal stenosis",
            ),
            (
                "a 4 mm disc protrusion at L4-5 with mild neural foraminal narrowing",
                "degenerative disc disease at L5-S1 with a 3 mm posterior disc bulge",
                "facet arthropathy at L4-5 and L5-S1",
                "a {side} paracentral disc extrusion at L5-S1 abutting the S1 nerve root",
                "mild central canal stenosis at L3-4",
                "grade 1 anterolisthesis of L4 on L5",
            ),
            "Low Back Chapter",
            "Low Back",
            "Low Back Disorders",
            ("607", "545-547", "581"),
            "Low Back",
            "lower",
        ),
        Region(
            "cervical",
            "cervical spine",
            "neck",
            False,
            (
                "neck pain radiating to the {side} upper extremity",
                "neck pain with headaches and stiffness",
                "cervical pain with numbness and tingling into the {side} hand",
                "neck pain rated {p1}/10 aggravated by looking up and turning the head",
            ),
            (
                "tenderness over the cervical paraspinal muscles and trapezius",
                "decreased cervical range of motion",
                "a positive Spurling's test on the {side}",
                "decreased sensation in the {side} C6 dermatome",
                "muscle spasm of the upper trapezius",
                "4/5 strength of the {side} wrist extensors",
            ),
            (
                "cervical radiculopathy",
                "cervical disc displacement",
                "cervical sprain/strain",
                "cervical degenerative disc disease",
                "cervicalgia",
                "cervical spondylosis",
            ),
            (
                "a 3 mm disc protrusion at C5-6 with mild foraminal narrowing",
                "multilevel degenerative disc disease from C4 to C7",
                "a broad-based disc bulge at C6-7 indenting the thecal sac",
            ),
            "Neck and Upper Back Chapter",
            "Neck and Upper Back",
            "Cervical and Thoracic Spine Disorders",
            ("785", "809-811"),
            "Neck & Upper Back",
            "upper",
        ),
        Region(
            "shoulder",
            "{side} shoulder",
            "{side} shoulder",
            True,
            (
                "{side} shoulder pain with overhead activities",
                "{side} shoulder pain and weakness when reaching",
                "{side} shoulder pain that wakes {him} at night",
            ),
            (
                "a positive Neer and Hawkins impingement sign on the {side}",
                "tenderness over the {side} acromioclavicular joint",
                "{side} shoulder flexion limited to 120 degrees",
                "weakness of the {side} supraspinatus on resisted abduction",
                "a positive drop arm test on the {side}",
            ),
            (
                "{side} shoulder impingement syndrome",
                "{side} rotator cuff tendinitis",
                "{side} rotator cuff tear",
                "{side} shoulder sprain/strain",
                "{side} adhesive capsulitis",
                "{side} acromioclavicular joint arthritis",
            ),
            (
                "a partial-thickness tear of the supraspinatus tendon",
                "supraspinatus tendinosis with subacromial bursitis",
                "a type II acromion with acromioclavicular joint hypertrophy",
                "a full-thickness tear of the supraspinatus with 1 cm of retraction",
            ),
            "Shoulder Chapter",
            "Shoulder",
            "Shoulder Disorders",
            ("1-6", "23-25"),
            "Shoulder",
            "upper",
        ),
        Region(
            "knee",
            "{side} knee",
            "{side} knee",
            True,
            (
                "{side} knee pain with locking and giving way",
                "{side} knee pain with swelling after prolonged walking",
                "{side} knee pain rated {p1}/10 when climbing stairs",
            ),
            (
                "medial joint line tenderness of the {side} knee",
                "a positive McMurray's test on the {side}",
                "a mild effusion of the {side} knee",
                "crepitus with {side} knee range of motion",
                "{side} knee flexion limited to 110 degrees",
            ),
            (
                "{side} knee medial meniscus tear",
                "{side} knee sprain/strain",
                "{side} knee osteoarthritis",
                "{side} knee chondromalacia patella",
                "{side} knee internal derangement",
            ),
            (
                "a horizontal tear of the posterior horn of the medial meniscus",
                "tricompartmental osteoarthritis with joint space narrowing",
                "a complex tear of the lateral meniscus with a small joint effusion",
                "chondromalacia of the patellofemoral compartment",
            ),
            "Knee & Leg Chapter",
            "Knee and Leg",
            "Knee Disorders",
            ("679", "702-704"),
            "Knee",
            "lower",
        ),
        Region(
            "wrist",
            "{side} wrist",
            "{side} hand",
            True,
            (
                "{side} wrist pain with numbness in the thumb, index and middle fingers",
                "{side} hand numbness that wakes {him} at night",
                "{side} wrist pain with gripping and grasping",
            ),
            (
                "a positive Tinel's sign at the {side} wrist",
                "a positive Phalen's test on the {side}",
                "decreased grip strength on the {side}",
                "tenderness over the {side} first dorsal compartment",
                "diminished two-point discrimination in the {side} median nerve distribution",
            ),
            (
                "{side} carpal tunnel syndrome",
                "{side} wrist sprain/strain",
                "{side} de Quervain's tenosynovitis",
                "{side} trigger finger",
                "{side} wrist tendinitis",
            ),
            (
                "mild tenosynovitis of the flexor tendons",
                "a small ganglion cyst along the dorsal wrist",
                "no acute osseous abnormality",
            ),
            "Forearm, Wrist, & Hand Chapter",
            "Forearm, Wrist, and Hand",
            "Hand, Wrist, and Forearm Disorders",
            ("1009-1011", "1036"),
            "Carpal Tunnel Syndrome",
            "upper",
        ),
        Region(
            "elbow",
            "{side} elbow",
            "{side} elbow",
            True,
            (
                "{side} elbow pain with gripping and lifting",
                "{side} lateral elbow pain radiating into the forearm",
            ),
            (
                "tenderness over the {side} lateral epicondyle",
                "pain with resisted wrist extension on the {side}",
                "a positive Tinel's sign at the {side} cubital tunnel",
            ),
            (
                "{side} lateral epicondylitis",
                "{side} cubital tunnel syndrome",
                "{side} elbow sprain/strain",
                "{side} medial epicondylitis",
            ),
            (
                "common extensor tendinosis with a partial tear",
                "mild ulnar nerve thickening at the cubital tunnel",
            ),
            "Elbow Chapter",
            "Elbow",
            "Elbow Disorders",
            ("45-47",),
            "Elbow & Upper Arm",
            "upper",
        ),
        Region(
            "hip",
            "{side} hip",
            "{side} hip",
            True,
            (
                "{side} hip pain with prolonged standing",
                "{side} groin pain with walking",
                "{side} hip pain radiating to the lateral thigh",
            ),
            (
                "tenderness over the {side} greater trochanter",
                "pain with {side} hip internal rotation",
                "a positive FABER test on the {side}",
            ),
            (
                "{side} hip osteoarthritis",
                "{side} greater trochanteric bursitis",
                "{side} hip labral tear",
                "{side} hip sprain/strain",
            ),
            (
                "moderate osteoarthritis of the {side} hip with joint space narrowing",
                "a tear of the anterosuperior labrum",
            ),
            "Hip & Pelvis Chapter",
            "Hip and Pelvis",
            "Hip and Groin Disorders",
            ("14-16",),
            "Hip, Pelvis and Thigh",
            "lower",
        ),
        Region(
            "ankle",
            "{side} ankle",
            "{side} ankle",
            True,
            (
                "{side} ankle pain and instability on uneven ground",
                "{side} ankle swelling after prolonged standing",
                "{side} foot and ankle pain rated {p1}/10",
            ),
            (
                "tenderness over the {side} anterior talofibular ligament",
                "swelling of the {side} lateral ankle",
                "a positive anterior drawer test on the {side}",
            ),
            (
                "{side} ankle sprain/strain",
                "{side} plantar fasciitis",
                "{side} ankle instability",
                "{side} Achilles tendinitis",
            ),
            (
                "a partial tear of the anterior talofibular ligament",
                "mild tenosynovitis of the peroneal tendons",
            ),
            "Ankle & Foot Chapter",
            "Ankle and Foot",
            "Ankle and Foot Disorders",
            ("45",),
            "Ankle & Foot",
            "lower",
        ),
    )
}
REGION_WEIGHTS = (
    ("lumbar", 40),
    ("cervical", 16),
    ("shoulder", 14),
    ("knee", 12),
    ("wrist", 8),
    ("elbow", 3),
    ("hip", 3),
    ("ankle", 4),
)

# ---------------------------------------------------------------------------------------------
# Treatments
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Drug:
    """A medication as requested: brand, generic, the parser's class, doses and guidance."""

    brand: str
    generic: str  # the parser's normalised generic name
    cls: str
    doses: tuple[str, ...]
    topic: str  # rationale topic
    cp: tuple[tuple[str, ...], str]  # MTUS Chronic Pain sections, pages
    odg: str  # ODG Pain (Chronic) section
    forms: tuple[str, ...] = ("tablets",)
    written: str | None = None  # how the generic is written in a request, if not `generic`
    overturn: float = 0.08


DRUGS: tuple[Drug, ...] = (
    # opioids
    Drug(
        "Norco",
        "hydrocodone/acetaminophen",
        "opioid",
        ("5/325mg", "7.5/325mg", "10/325mg", "10/325 mg"),
        "opioid",
        (("Opioids, criteria for use",), "76-80"),
        "Opioids, criteria for use",
        written="Hydrocodone/APAP",
    ),
    Drug(
        "Percocet",
        "oxycodone/acetaminophen",
        "opioid",
        ("5/325mg", "10/325mg"),
        "opioid",
        (("Opioids, criteria for use",), "76-80"),
        "Opioids, criteria for use",
        written="Oxycodone/APAP",
    ),
    Drug(
        "OxyContin",
        "oxycodone",
        "opioid",
        ("10mg", "20mg", "40mg"),
        "opioid",
        (("Opioids, long-term assessment",), "88-89"),
        "Opioids, long-term assessment",
        written="Oxycodone ER",
    ),
    Drug(
        "Ultram",
        "tramadol",
        "opioid",
        ("50mg", "50 mg"),
        "opioid",
        (("Opioids, specific drug list", "Tramadol (Ultram)"), "93-94"),
        "Tramadol (Ultram)",
        written="Tramadol",
    ),
    Drug(
        "Ultram ER",
        "tramadol",
        "opioid",
        ("100mg", "150mg", "200mg"),
        "opioid",
        (("Tramadol (Ultram)",), "93-94"),
        "Tramadol (Ultram)",
        written="Tramadol ER",
    ),
    Drug(
        "Ultracet",
        "tramadol/acetaminophen",
        "opioid",
        ("37.5/325mg",),
        "opioid",
        (("Opioids, criteria for use",), "76-80"),
        "Tramadol/Acetaminophen (Ultracet)",
        written="Tramadol/APAP",
    ),
    Drug(
        "Tylenol #3",
        "codeine/acetaminophen",
        "opioid",
        ("300/30mg",),
        "opioid",
        (("Codeine",), "35"),
        "Codeine",
        written="Acetaminophen with codeine",
    ),
    Drug(
        "Nucynta",
        "tapentadol",
        "opioid",
        ("50mg", "75mg", "100mg"),
        "opioid",
        (("Opioids, criteria for use",), "76-80"),
        "Tapentadol (Nucynta)",
        written="Tapentadol",
    ),
    Drug(
        "MS Contin",
        "morphine",
        "opioid",
        ("15mg", "30mg", "60mg"),
        "opioid",
        (("Opioids, long-term assessment",), "88-89"),
        "Opioids, long-term assessment",
        written="Morphine sulfate ER",
    ),
    Drug(
        "Butrans",
        "buprenorphine",
        "opioid",
        ("5mcg/hr", "10mcg/hr", "20mcg/hr"),
        "opioid",
        (("Buprenorphine",), "26-27"),
        "Buprenorphine for chronic pain",
        forms=("patches",),
        written="Buprenorphine",
    ),
    Drug(
        "Dilaudid",
        "hydromorphone",
        "opioid",
        ("2mg", "4mg"),
        "opioid",
        (("Opioids, criteria for use",), "76-80"),
        "Opioids, criteria for use",
        written="Hydromorphone",
    ),
    # benzodiazepines
    Drug(
        "Valium",
        "diazepam",
        "benzodiazepine",
        ("2mg", "5mg", "10mg", "10 mg"),
        "benzodiazepine",
        (("Benzodiazepines",), "24"),
        "Benzodiazepines",
        overturn=0.03,
    ),
    Drug(
        "Klonopin",
        "clonazepam",
        "benzodiazepine",
        ("0.5mg", "1mg", "1 mg"),
        "benzodiazepine",
        (("Benzodiazepines",), "24"),
        "Benzodiazepines",
        overturn=0.03,
    ),
    Drug(
        "Xanax",
        "alprazolam",
        "benzodiazepine",
        ("0.25mg", "0.5mg", "1mg"),
        "benzodiazepine",
        (("Benzodiazepines",), "24"),
        "Alprazolam (Xanax)",
        overturn=0.03,
    ),
    Drug(
        "Ativan",
        "lorazepam",
        "benzodiazepine",
        ("0.5mg", "1mg"),
        "benzodiazepine",
        (("Benzodiazepines",), "24"),
        "Benzodiazepines",
        overturn=0.03,
    ),
    Drug(
        "Restoril",
        "temazepam",
        "benzodiazepine",
        ("15mg", "30mg"),
        "benzodiazepine",
        (("Benzodiazepines",), "24"),
        "Benzodiazepines",
        overturn=0.03,
    ),
    # muscle relaxants
    Drug(
        "Flexeril",
        "cyclobenzaprine",
        "muscle relaxant",
        ("5mg", "7.5mg", "10mg", "10 mg"),
        "muscle_relaxant",
        (("Cyclobenzaprine (Flexeril)",), "41-42"),
        "Cyclobenzaprine (Flexeril)",
        overturn=0.05,
    ),
    Drug(
        "Soma",
        "carisoprodol",
        "muscle relaxant",
        ("250mg", "350mg"),
        "muscle_relaxant",
        (("Carisoprodol (Soma)",), "29"),
        "Carisoprodol (Soma)",
        overturn=0.03,
    ),
    Drug(
        "Zanaflex",
        "tizanidine",
        "muscle relaxant",
        ("2mg", "4mg"),
        "muscle_relaxant",
        (("Muscle relaxants (for pain)",), "63-66"),
        "Tizanidine (Zanaflex)",
    ),
    Drug(
        "Robaxin",
        "methocarbamol",
        "muscle relaxant",
        ("500mg", "750mg"),
        "muscle_relaxant",
        (("Muscle relaxants (for pain)",), "63-66"),
        "Muscle relaxants (for pain)",
    ),
    Drug(
        "Skelaxin",
        "metaxalone",
        "muscle relaxant",
        ("800mg",),
        "muscle_relaxant",
        (("Metaxalone (Skelaxin)",), "61"),
        "Metaxalone (Skelaxin)",
    ),
    Drug(
        "Norflex",
        "orphenadrine",
        "muscle relaxant",
        ("ER 100mg", "100mg"),
        "muscle_relaxant",
        (("Muscle relaxants (for pain)",), "63-66"),
        "Orphenadrine (Norflex)",
        written="Orphenadrine citrate",
    ),
    Drug(
        "Lioresal",
        "baclofen",
        "muscle relaxant",
        ("10mg", "20mg"),
        "muscle_relaxant",
        (("Muscle relaxants (for pain)",), "63-66"),
        "Baclofen",
        written="Baclofen",
    ),
    # NSAIDs
    Drug(
        "Motrin",
        "ibuprofen",
        "nsaid",
        ("600mg", "800mg"),
        "nsaid",
        (("NSAIDs (non-steroidal anti-inflammatory drugs)",), "67-73"),
        "NSAIDs (non-steroidal anti-inflammatory drugs)",
        overturn=0.2,
    ),
    Drug(
        "Naprosyn",
        "naproxen",
        "nsaid",
        ("500mg", "550mg"),
        "nsaid",
        (("NSAIDs (non-steroidal anti-inflammatory drugs)",), "67-73"),
        "Naproxen",
        overturn=0.2,
    ),
    Drug(
        "Anaprox DS",
        "naproxen",
        "nsaid",
        ("550mg",),
        "nsaid",
        (("NSAIDs (non-steroidal anti-inflammatory drugs)",), "67-73"),
        "Naproxen",
        written="Naproxen sodium",
        overturn=0.2,
    ),
    Drug(
        "Celebrex",
        "celecoxib",
        "nsaid",
        ("100mg", "200mg"),
        "nsaid",
        (("NSAIDs, GI symptoms & cardiovascular risk",), "68-69"),
        "Celecoxib (Celebrex)",
        overturn=0.15,
    ),
    Drug(
        "Mobic",
        "meloxicam",
        "nsaid",
        ("7.5mg", "15mg"),
        "nsaid",
        (("NSAIDs (non-steroidal anti-inflammatory drugs)",), "67-73"),
        "Meloxicam (Mobic)",
        overturn=0.2,
    ),
    Drug(
        "Voltaren XR",
        "diclofenac",
        "nsaid",
        ("100mg",),
        "nsaid",
        (("NSAIDs (non-steroidal anti-inflammatory drugs)",), "67-73"),
        "Diclofenac",
        written="Diclofenac sodium ER",
        overturn=0.15,
    ),
    Drug(
        "Relafen",
        "nabumetone",
        "nsaid",
        ("500mg", "750mg"),
        "nsaid",
        (("NSAIDs (non-steroidal anti-inflammatory drugs)",), "67-73"),
        "NSAIDs, specific drug list & adverse effects",
        overturn=0.2,
    ),
    # gastric protection
    Drug(
        "Prilosec",
        "omeprazole",
        "proton pump inhibitor",
        ("20mg", "20 mg", "40mg"),
        "ppi",
        (("NSAIDs, GI symptoms & cardiovascular risk",), "68-69"),
        "Proton pump inhibitors (PPIs)",
        forms=("capsules",),
    ),
    Drug(
        "Protonix",
        "pantoprazole",
        "proton pump inhibitor",
        ("20mg", "40mg"),
        "ppi",
        (("NSAIDs, GI symptoms & cardiovascular risk",), "68-69"),
        "Proton pump inhibitors (PPIs)",
    ),
    Drug(
        "Nexium",
        "esomeprazole",
        "proton pump inhibitor",
        ("20mg", "40mg"),
        "ppi",
        (("NSAIDs, GI symptoms & cardiovascular risk",), "68-69"),
        "Proton pump inhibitors (PPIs)",
        forms=("capsules",),
    ),
    Drug(
        "Zantac",
        "ranitidine",
        "h2 blocker",
        ("150mg",),
        "ppi",
        (("NSAIDs, GI symptoms & cardiovascular risk",), "68-69"),
        "H2-receptor antagonists",
    ),
    Drug(
        "Pepcid",
        "famotidine",
        "h2 blocker",
        ("20mg", "40mg"),
        "ppi",
        (("NSAIDs, GI symptoms & cardiovascular risk",), "68-69"),
        "H2-receptor antagonists",
    ),
    # anticonvulsants
    Drug(
        "Neurontin",
        "gabapentin",
        "anticonvulsant",
        ("300mg", "600mg", "800mg"),
        "anticonvulsant",
        (("Gabapentin (Neurontin)",), "18-19"),
        "Gabapentin (Neurontin)",
        forms=("capsules",),
        overturn=0.2,
    ),
    Drug(
        "Lyrica",
        "pregabalin",
        "anticonvulsant",
        ("50mg", "75mg", "150mg"),
        "anticonvulsant",
        (("Pregabalin (Lyrica)",), "19-20"),
        "Pregabalin (Lyrica)",
        forms=("capsules",),
        overturn=0.15,
    ),
    Drug(
        "Topamax",
        "topiramate",
        "anticonvulsant",
        ("25mg", "50mg"),
        "anticonvulsant",
        (("Anti-epilepsy drugs (AEDs)",), "16-22"),
        "Topiramate (Topamax)",
    ),
    # antidepressants
    Drug(
        "Cymbalta",
        "duloxetine",
        "antidepressant",
        ("30mg", "60mg"),
        "antidepressant",
        (("Antidepressants for chronic pain",), "13-16"),
        "Duloxetine (Cymbalta)",
        forms=("capsules",),
        overturn=0.25,
    ),
    Drug(
        "Elavil",
        "amitriptyline",
        "antidepressant",
        ("10mg", "25mg"),
        "antidepressant",
        (("Antidepressants for chronic pain",), "13-16"),
        "Amitriptyline",
        overturn=0.2,
    ),
    Drug(
        "Desyrel",
        "trazodone",
        "antidepressant",
        ("50mg", "100mg"),
        "antidepressant",
        (("Antidepressants for chronic pain",), "13-16"),
        "Trazodone (Desyrel)",
        overturn=0.15,
    ),
    Drug(
        "Effexor XR",
        "venlafaxine",
        "antidepressant",
        ("75mg", "150mg"),
        "antidepressant",
        (("Antidepressants for chronic pain",), "13-16"),
        "Venlafaxine (Effexor)",
        forms=("capsules",),
        overturn=0.2,
    ),
    # sleep aids (the MTUS is silent; the ODG is cited)
    Drug(
        "Ambien",
        "zolpidem",
        "sleep aid",
        ("5mg", "10mg"),
        "sleep",
        ((), ""),
        "Zolpidem (Ambien)",
        overturn=0.04,
    ),
    Drug(
        "Ambien CR",
        "zolpidem",
        "sleep aid",
        ("6.25mg", "12.5mg"),
        "sleep",
        ((), ""),
        "Zolpidem (Ambien)",
        written="Zolpidem ER",
        overturn=0.04,
    ),
    Drug(
        "Lunesta",
        "eszopiclone",
        "sleep aid",
        ("1mg", "2mg", "3mg"),
        "sleep",
        ((), ""),
        "Eszopicolone (Lunesta)",
        overturn=0.04,
    ),
    Drug(
        "Sonata",
        "zaleplon",
        "sleep aid",
        ("5mg", "10mg"),
        "sleep",
        ((), ""),
        "Insomnia treatment",
        forms=("capsules",),
        overturn=0.04,
    ),
    # topicals
    Drug(
        "Terocin",
        "methyl salicylate/capsaicin/menthol/lidocaine",
        "topical analgesic",
        ("patches", "lotion 120ml", "4% patch"),
        "topical",
        (("Topical Analgesics",), "111-113"),
        "Topical analgesics",
        forms=("",),
        written="Terocin",
        overturn=0.02,
    ),
    Drug(
        "LidoPro",
        "capsaicin/lidocaine/menthol/methyl salicylate",
        "topical analgesic",
        ("cream 121gm", "ointment 4oz"),
        "topical",
        (("Topical Analgesics",), "111-113"),
        "Topical analgesics",
        forms=("",),
        written="LidoPro",
        overturn=0.02,
    ),
    Drug(
        "Lidoderm",
        "lidocaine",
        "topical analgesic",
        ("5% patch", "5% patches"),
        "lidoderm",
        (("Lidoderm (lidocaine patch)",), "56-57"),
        "Lidoderm (lidocaine patch)",
        forms=("",),
        written="Lidocaine",
        overturn=0.06,
    ),
    Drug(
        "Flector",
        "diclofenac",
        "topical analgesic",
        ("1.3% patch", "1.3% transdermal patch"),
        "topical",
        (("Topical Analgesics",), "111-113"),
        "Flector patch (diclofenac epolamine)",
        forms=("",),
        written="Diclofenac epolamine",
        overturn=0.06,
    ),
    Drug(
        "Voltaren",
        "diclofenac",
        "topical analgesic",
        ("1% gel 100gm", "gel 1%"),
        "topical",
        (("Topical Analgesics",), "111-113"),
        "Diclofenac, topical (Flector, Pennsaid, Voltaren Gel)",
        forms=("",),
        written="Diclofenac sodium 1% gel",
        overturn=0.15,
    ),
    Drug(
        "Medrox",
        "methyl salicylate/menthol/capsaicin",
        "topical analgesic",
        ("patches", "ointment 120gm"),
        "topical",
        (("Topical Analgesics",), "111-113"),
        "Salicylate topicals",
        forms=("",),
        written="Medrox",
        overturn=0.02,
    ),
    # other medications
    Drug(
        "Zofran",
        "ondansetron",
        "antiemetic",
        ("4mg", "8mg"),
        "antiemetic",
        ((), ""),
        "Antiemetics (for opioid nausea)",
        written="Ondansetron ODT",
        overturn=0.04,
    ),
    Drug(
        "Colace",
        "docusate",
        "laxative",
        ("100mg",),
        "laxative",
        (("Opioids, criteria for use", "Initiating therapy"), "77"),
        "Opioid-induced constipation treatment",
        forms=("capsules",),
        written="Docusate sodium",
        overturn=0.25,
    ),
    Drug(
        "Fioricet",
        "butalbital/acetaminophen/caffeine",
        "barbiturate",
        ("50/325/40mg",),
        "barbiturate",
        (("Barbiturate-containing analgesic agents (BCAs)",), "23"),
        "Barbiturate-containing analgesic agents (BCAs)",
        written="Butalbital/APAP/caffeine",
        overturn=0.03,
    ),
    Drug(
        "Imitrex",
        "sumatriptan",
        "triptan",
        ("50mg", "100mg"),
        "triptan",
        ((), ""),
        "Triptans",
        overturn=0.2,
    ),
    Drug(
        "Medrol Dosepak",
        "methylprednisolone",
        "corticosteroid",
        ("4mg",),
        "steroid",
        ((), ""),
        "Corticosteroids (oral/parenteral/IM for low back pain)",
        written="Methylprednisolone",
        overturn=0.15,
    ),
    Drug(
        "Theramine",
        "theramine",
        "medical food",
        ("#120", "#90"),
        "medical_food",
        ((), ""),
        "Medical food",
        forms=("",),
        written="Theramine",
        overturn=0.01,
    ),
)

# Compounded creams: (request, generic as the parser lists it)
COMPOUNDS = (
    "Flurbiprofen 20%, Lidocaine 5% cream 180gm",
    "Ketoprofen 10%, Gabapentin 6%, Lidocaine 5% in cream base",
    "Cyclobenzaprine 2%, Flurbiprofen 25% cream 240gm",
    "Gabapentin 10%, Amitriptyline 10%, Bupivacaine 5% cream 210gm",
    "Flurbiprofen 20%, Baclofen 5%, Dexamethasone 2%, Menthol 2%, Capsaicin 0.025% in cream base",
    "Tramadol 8%, Gabapentin 10%, Menthol 2%, Camphor 2% compound cream",
    "Compounded Ketoprofen 20% cream 120gm",
    "Capsaicin 0.025%, Flurbiprofen 15%, Gabapentin 10%, Menthol 2%, Camphor 2% 180gm",
)
FREQUENCIES = (
    "every 6 hours as needed",
    "twice daily",
    "three times daily",
    "at bedtime",
    "every night",
    "every 8 hours",
    "once daily",
    "every 4-6 hours as needed for pain",
    "BID",
    "TID",
    "QHS",
    "PRN",
)
QUANTITIES = (30, 30, 60, 60, 60, 90, 90, 120, 120, 180, 45, 20, 10, 100, 240)


@dataclass(frozen=True)
class Procedure:
    """A non-drug treatment: its request wordings and guidance."""

    key: str
    name: str  # the parser's normalised treatment name
    cls: str
    category: str
    topic: str
    requests: tuple[str, ...]
    regions: tuple[str, ...] | None  # body regions it applies to (None: any, region-free)
    mtus: tuple  # ("region", sections) | ("cp", sections, pages) | ("acu",) | ("post",) | ()
    odg: str  # ODG section ("" for none)
    odg_chapter: str | None = None  # fixed ODG chapter (else the region's)
    overturn: float = 0.12


_SPINE = ("lumbar", "cervical")
_JOINTS = ("shoulder", "knee", "wrist", "elbow", "hip", "ankle")
_ALL = _SPINE + _JOINTS

PROCEDURES: tuple[Procedure, ...] = (
    # imaging
    Procedure(
        "mri",
        "mri",
        "advanced imaging",
        "imaging",
        "mri",
        (
            "MRI of the {region}",
            "MRI of the {region} without contrast",
            "{Region} MRI without contrast",
            "Repeat MRI of the {region}",
            "MRI {region} without contrast",
            "Magnetic resonance imaging (MRI) of the {region}",
        ),
        _ALL,
        ("region", ("Special Studies",)),
        "MRIs (magnetic resonance imaging)",
        overturn=0.16,
    ),
    Procedure(
        "xray",
        "x-ray",
        "radiography",
        "imaging",
        "xray",
        (
            "X-rays of the {region}",
            "{n_views} view X-rays of the {region}",
            "Radiographs of the {region}",
            "X-ray of the {region}, {n_views} views",
        ),
        _ALL,
        ("region", ("Special Studies",)),
        "Radiography (x-rays)",
        overturn=0.18,
    ),
    Procedure(
        "ct",
        "ct scan",
        "advanced imaging",
        "imaging",
        "ct",
        ("CT scan of the {region}", "CT of the {region} without contrast"),
        ("lumbar", "cervical", "wrist", "ankle", "knee"),
        ("region", ("Special Studies",)),
        "CT (computed tomography)",
        overturn=0.12,
    ),
    Procedure(
        "emgncv",
        "emg/ncv",
        "electrodiagnostic testing",
        "procedure",
        "emg",
        (
            "EMG/NCV of the bilateral {extremity} extremities",
            "EMG/NCS of the {extremity} extremities",
            "Electromyography and nerve conduction velocity studies of the bilateral "
            "{extremity} extremities",
        ),
        ("lumbar", "cervical", "wrist", "elbow"),
        ("region", ("Special Studies",)),
        "EMGs (electromyography)",
        overturn=0.14,
    ),
    Procedure(
        "ncv",
        "ncv",
        "electrodiagnostic testing",
        "procedure",
        "emg",
        (
            "NCV of the bilateral {extremity} extremities",
            "Nerve conduction studies of the {side} {extremity} extremity",
        ),
        ("lumbar", "cervical", "wrist"),
        ("region", ("Special Studies",)),
        "Nerve conduction studies (NCS)",
        overturn=0.12,
    ),
    # therapy
    Procedure(
        "pt",
        "physical therapy",
        "physical medicine",
        "therapy",
        "pt",
        (
            "Physical therapy {freq} for the {region}",
            "Additional physical therapy x{n} sessions for the {region}",
            "Physical therapy {n} sessions for the {short}",
            "Continued physical therapy {freq}",
            "Physical therapy evaluation and treatment {freq} for the {region}",
        ),
        _ALL,
        ("cp", ("Physical Medicine",), "98-99"),
        "Physical therapy",
        overturn=0.13,
    ),
    Procedure(
        "chiro",
        "chiropractic care",
        "physical medicine",
        "therapy",
        "chiro",
        (
            "Chiropractic treatment {freq} for the {region}",
            "Chiropractic care x{n} visits for the {short}",
            "Chiropractic manipulation {n} sessions",
        ),
        ("lumbar", "cervical"),
        ("cp", ("Manual therapy & manipulation",), "58-59"),
        "Manipulation",
        overturn=0.12,
    ),
    Procedure(
        "acupuncture",
        "acupuncture",
        "physical medicine",
        "therapy",
        "acupuncture",
        (
            "Acupuncture {freq} for the {region}",
            "Acupuncture x{n} sessions",
            "Additional acupuncture {n} visits for the {short}",
        ),
        _ALL,
        ("acu",),
        "Acupuncture",
        overturn=0.14,
    ),
    Procedure(
        "aquatic",
        "aquatic therapy",
        "physical medicine",
        "therapy",
        "pt",
        ("Aquatic therapy {freq}", "Aquatic therapy x{n} sessions for the {short}"),
        ("lumbar", "knee", "hip"),
        ("cp", ("Aquatic therapy",), "22"),
        "Aquatic therapy",
        overturn=0.1,
    ),
    Procedure(
        "ot",
        "occupational therapy",
        "physical medicine",
        "therapy",
        "pt",
        ("Occupational therapy {freq} for the {region}", "Occupational therapy x{n} sessions"),
        ("wrist", "elbow", "shoulder"),
        ("cp", ("Physical Medicine",), "98-99"),
        "Physical/Occupational therapy",
        overturn=0.14,
    ),
    # injections and interventional procedures
    Procedure(
        "esi",
        "epidural steroid injection",
        "injection",
        "procedure",
        "esi",
        (
            "{Spine} epidural steroid injection at {level}",
            "Transforaminal epidural steroid injection at {side} {level} and {level2}",
            "{Spine} interlaminar epidural steroid injection {level}",
            "{side_cap} {level} transforaminal epidural steroid injection under fluoroscopy",
        ),
        _SPINE,
        ("cp", ("Epidural steroid injections (ESIs)",), "46"),
        "Epidural steroid injections (ESIs)",
        overturn=0.14,
    ),
    Procedure(
        "facet",
        "facet joint injection",
        "injection",
        "procedure",
        "facet",
        (
            "Bilateral facet joint injections at {level} and {level2}",
            "{Spine} facet injections {level}, {level2}",
            "{side_cap} {level} facet joint injection",
        ),
        _SPINE,
        ("region", ("Initial Care",)),
        "Facet joint intra-articular injections (therapeutic blocks)",
        overturn=0.1,
    ),
    Procedure(
        "mbb",
        "medial branch block",
        "injection",
        "procedure",
        "facet",
        ("Bilateral {level} medial branch block", "Diagnostic medial branch blocks at {level}"),
        _SPINE,
        ("region", ("Initial Care",)),
        "Facet joint diagnostic blocks (injections)",
        overturn=0.14,
    ),
    Procedure(
        "rfa",
        "radiofrequency ablation",
        "interventional procedure",
        "procedure",
        "facet",
        ("Radiofrequency ablation at {side} {level} and {level2}", "{Spine} rhizotomy {level}"),
        _SPINE,
        ("region", ("Initial Care",)),
        "Facet joint radiofrequency neurotomy",
        overturn=0.12,
    ),
    Procedure(
        "tpi",
        "trigger point injection",
        "injection",
        "procedure",
        "tpi",
        (
            "Trigger point injections x{n_small} to the {muscles}",
            "{n_small} trigger point injections",
            "Trigger point injection to the {muscles}",
        ),
        ("lumbar", "cervical", "shoulder"),
        ("cp", ("Trigger point injections",), "122"),
        "Trigger point injections",
        overturn=0.06,
    ),
    Procedure(
        "steroid_inj",
        "corticosteroid injection",
        "injection",
        "procedure",
        "joint_injection",
        (
            "Cortisone injection to the {region}",
            "Steroid injection of the {region} under ultrasound guidance",
        ),
        ("shoulder", "knee", "hip", "wrist", "elbow"),
        ("region", ("Initial Care",)),
        "Steroid injections",
        overturn=0.2,
    ),
    Procedure(
        "visco",
        "viscosupplementation injection",
        "injection",
        "procedure",
        "joint_injection",
        ("Synvisc injections x3 to the {region}", "Series of 3 Orthovisc injections, {region}"),
        ("knee",),
        ("region", ("Initial Care",)),
        "Hyaluronic acid injections",
        overturn=0.15,
    ),
    # surgery
    Procedure(
        "fusion",
        "spinal fusion",
        "surgery",
        "procedure",
        "surgery",
        (
            "{level} and {level2} posterior lumbar interbody fusion",
            "Lumbar fusion at {level}",
            "Anterior cervical discectomy and fusion at {level}",
        ),
        _SPINE,
        ("region", ("Surgical Considerations",)),
        "Fusion (spinal)",
        overturn=0.08,
    ),
    Procedure(
        "discectomy",
        "discectomy",
        "surgery",
        "procedure",
        "surgery",
        ("{side_cap} {level} microdiscectomy", "Lumbar microdiscectomy at {level}"),
        ("lumbar",),
        ("region", ("Surgical Considerations",)),
        "Discectomy/laminectomy",
        overturn=0.12,
    ),
    Procedure(
        "laminectomy",
        "laminectomy",
        "surgery",
        "procedure",
        "surgery",
        ("Lumbar laminectomy at {level}", "{level} decompressive laminectomy and foraminotomy"),
        ("lumbar",),
        ("region", ("Surgical Considerations",)),
        "Discectomy/laminectomy",
        overturn=0.12,
    ),
    Procedure(
        "shoulder_scope",
        "arthroscopy",
        "surgery",
        "procedure",
        "surgery",
        (
            "{Region} arthroscopy with subacromial decompression",
            "{Region} arthroscopic subacromial decompression and distal clavicle excision",
            "Arthroscopy of the {region} with debridement",
        ),
        ("shoulder",),
        ("region", ("Surgical Considerations",)),
        "Surgery for impingement syndrome",
        overturn=0.14,
    ),
    Procedure(
        "knee_scope",
        "arthroscopy",
        "surgery",
        "procedure",
        "surgery",
        (
            "{Region} arthroscopy with partial medial meniscectomy",
            "Arthroscopy of the {region} with chondroplasty",
        ),
        ("knee",),
        ("region", ("Surgical Considerations",)),
        "Meniscectomy",
        overturn=0.14,
    ),
    Procedure(
        "tka",
        "knee replacement",
        "surgery",
        "procedure",
        "surgery",
        ("{Region} total knee arthroplasty", "Total knee replacement, {region}"),
        ("knee",),
        ("region", ("Surgical Considerations",)),
        "Knee joint replacement",
        overturn=0.12,
    ),
    Procedure(
        "ctr",
        "carpal tunnel release",
        "surgery",
        "procedure",
        "surgery",
        ("{side_cap} carpal tunnel release", "{side_cap} endoscopic carpal tunnel release"),
        ("wrist",),
        ("region", ("Surgical Considerations",)),
        "Carpal tunnel release surgery (CTR)",
        overturn=0.2,
    ),
    Procedure(
        "tha",
        "hip replacement",
        "surgery",
        "procedure",
        "surgery",
        ("{side_cap} total hip arthroplasty",),
        ("hip",),
        (),
        "Arthroplasty",
        overturn=0.15,
    ),
    # equipment
    Procedure(
        "tens",
        "tens unit",
        "durable medical equipment",
        "equipment",
        "tens",
        ("TENS unit", "TENS unit purchase", "TENS unit 30 day rental", "Home TENS unit trial"),
        None,
        ("cp", ("TENS, chronic pain (transcutaneous electrical nerve stimulation)",), "114-116"),
        "TENS (transcutaneous electrical nerve stimulation)",
        odg_chapter="Pain (Chronic)",
        overturn=0.08,
    ),
    Procedure(
        "hwave",
        "h-wave unit",
        "durable medical equipment",
        "equipment",
        "tens",
        ("Home H-wave device purchase", "H-wave unit 30 day trial"),
        None,
        ("cp", ("H-wave stimulation (HWT)",), "117-118"),
        "H-wave stimulation (HWT)",
        odg_chapter="Pain (Chronic)",
        overturn=0.05,
    ),
    Procedure(
        "ifc",
        "interferential unit",
        "durable medical equipment",
        "equipment",
        "tens",
        ("Interferential unit rental", "Interferential current stimulator purchase"),
        None,
        ("cp", ("Interferential Current Stimulation (ICS)",), "118-120"),
        "Interferential current stimulation (ICS)",
        odg_chapter="Pain (Chronic)",
        overturn=0.05,
    ),
    Procedure(
        "cold",
        "cold therapy unit",
        "durable medical equipment",
        "equipment",
        "cold",
        ("Cold therapy unit {n_days} day rental", "Vascutherm cold compression unit rental"),
        ("shoulder", "knee", "wrist", "lumbar"),
        (),
        "Continuous-flow cryotherapy",
        overturn=0.1,
    ),
    Procedure(
        "lso",
        "lumbar support",
        "orthosis",
        "equipment",
        "brace",
        ("LSO back brace", "Lumbar support", "Lumbar back brace purchase"),
        ("lumbar",),
        ("region", ("Physical Methods",)),
        "Lumbar supports",
        overturn=0.06,
    ),
    Procedure(
        "knee_brace",
        "knee brace",
        "orthosis",
        "equipment",
        "brace",
        ("Hinged {side} knee brace", "{side_cap} knee brace purchase"),
        ("knee",),
        ("region", ("Physical Methods",)),
        "Knee brace",
        overturn=0.12,
    ),
    Procedure(
        "wrist_brace",
        "wrist brace",
        "orthosis",
        "equipment",
        "brace",
        ("{side_cap} wrist brace", "{side_cap} wrist splint for night use"),
        ("wrist",),
        ("region", ("Physical Methods",)),
        "Splints",
        overturn=0.15,
    ),
    Procedure(
        "pillow",
        "pillow",
        "durable medical equipment",
        "equipment",
        "dme",
        ("Cervical pillow", "Orthopedic cervical pillow"),
        ("cervical",),
        (),
        "Pillow",
        overturn=0.05,
    ),
    Procedure(
        "traction",
        "traction unit",
        "durable medical equipment",
        "equipment",
        "dme",
        ("Home cervical traction unit", "Cervical traction unit purchase"),
        ("cervical",),
        ("region", ("Physical Methods",)),
        "Traction",
        overturn=0.1,
    ),
    # other services
    Procedure(
        "uds",
        "urine drug screen",
        "laboratory testing",
        "procedure",
        "uds",
        ("Urine drug screen", "Urine toxicology screen", "Random urine drug testing"),
        None,
        ("cp", ("Drug testing",), "43"),
        "Urine drug testing (UDT)",
        odg_chapter="Pain (Chronic)",
        overturn=0.2,
    ),
    Procedure(
        "pain_consult",
        "pain management consultation",
        "evaluation",
        "other",
        "consult",
        ("Pain management consultation", "Consultation with a pain management specialist"),
        None,
        ("ime",),
        "Office visits",
        odg_chapter="Pain (Chronic)",
        overturn=0.25,
    ),
    Procedure(
        "ortho_consult",
        "orthopedic consultation",
        "evaluation",
        "other",
        "consult",
        ("Orthopedic consultation for the {region}", "Referral to an orthopedic surgeon"),
        _ALL,
        ("ime",),
        "Office visits",
        odg_chapter="Pain (Chronic)",
        overturn=0.25,
    ),
    Procedure(
        "fce",
        "functional capacity evaluation",
        "evaluation",
        "other",
        "fce",
        ("Functional capacity evaluation", "Functional capacity evaluation (FCE)"),
        None,
        ("ime",),
        "Functional capacity evaluation (FCE)",
        odg_chapter="Fitness For Duty",
        overturn=0.1,
    ),
    Procedure(
        "frp",
        "functional restoration program",
        "rehabilitation program",
        "therapy",
        "frp",
        (
            "Functional restoration program x {n_hours} hours",
            "Functional restoration program evaluation",
        ),
        None,
        ("cp", ("Chronic pain programs (functional restoration programs)",), "30-34"),
        "Functional restoration programs (FRPs)",
        odg_chapter="Pain (Chronic)",
        overturn=0.15,
    ),
    Procedure(
        "cbt",
        "cognitive behavioral therapy",
        "psychological services",
        "therapy",
        "psych",
        ("Cognitive behavioral therapy x{n} sessions", "CBT {n} sessions"),
        None,
        ("cp", ("Behavioral interventions",), "23"),
        "Cognitive therapy for depression",
        odg_chapter="Mental Illness & Stress",
        overturn=0.18,
    ),
    Procedure(
        "psychotherapy",
        "psychotherapy",
        "psychological services",
        "therapy",
        "psych",
        ("Psychotherapy {n} sessions", "Individual psychotherapy once a week for {n} weeks"),
        None,
        ("cp", ("Psychological treatment",), "101-102"),
        "Psychotherapy guidelines",
        odg_chapter="Mental Illness & Stress",
        overturn=0.18,
    ),
    Procedure(
        "home_health",
        "home health aide",
        "home health",
        "other",
        "home_health",
        ("Home health aide {n_hours_small} hours per day, 5 days a week for 4 weeks",),
        None,
        ("cp", ("Home health services",), "51"),
        "Home health services",
        odg_chapter="Pain (Chronic)",
        overturn=0.1,
    ),
    Procedure(
        "gym",
        "gym membership",
        "fitness program",
        "other",
        "gym",
        ("Gym membership x 6 months", "Gym membership with pool access for 3 months"),
        None,
        (),
        "Gym memberships",
        odg_chapter="Low Back Chapter",
        overturn=0.03,
    ),
)
PROCEDURES_BY_KEY = {p.key: p for p in PROCEDURES}

# The parts of a surgical request, with the treatment the parser should name for each.
ASSOCIATED = (
    ("Associated surgical service: Post-operative physical therapy x{n_post}", "pt"),
    ("Associated surgical service: Cold therapy unit {n_days} day rental", "cold"),
    ("Associated surgical service: Assistant surgeon", "assistant"),
    ("Pre-operative medical clearance", "clearance"),
    ("Associated surgical service: {Region} sling", "sling"),
    ("Associated surgical service: Crutches", "crutches"),
    ("Associated surgical service: Continuous passive motion machine 21 day rental", "cpm"),
    ("Associated surgical service: Lumbar back brace", "lso"),
)
_ASSOCIATED_TRUTH = {
    "pt": ("physical therapy", "physical medicine", "therapy"),
    "cold": ("cold therapy unit", "durable medical equipment", "equipment"),
    "assistant": ("assistant surgeon", "surgical assistance", "procedure"),
    "clearance": ("medical clearance", "evaluation", "other"),
    "sling": ("sling", "durable medical equipment", "equipment"),
    "crutches": ("crutches", "mobility aid", "equipment"),
    "cpm": ("cpm machine", "durable medical equipment", "equipment"),
    "lso": ("lumbar support", "orthosis", "equipment"),
}
_ASSOCIATED_FOR = {
    "shoulder_scope": ("pt", "cold", "assistant", "clearance", "sling"),
    "knee_scope": ("pt", "cold", "assistant", "clearance", "crutches", "cpm"),
    "tka": ("pt", "cold", "assistant", "clearance", "crutches", "cpm"),
    "fusion": ("pt", "assistant", "clearance", "lso"),
    "discectomy": ("pt", "assistant", "clearance", "lso"),
    "laminectomy": ("pt", "assistant", "clearance", "lso"),
    "ctr": ("pt", "cold", "clearance"),
    "tha": ("pt", "assistant", "clearance", "crutches"),
}

# MTUS Opioid Treatment Guidelines (2016) sections cited from 2017 on.
OPIOID_2016_SECTIONS = (
    "3.3.9 Opioids for Chronic Pain and Chronic Opioid Treatment: Maintenance of Chronic Opioid "
    "Treatment",
    "3.3 Opioids for Chronic Pain and Chronic Opioid Treatment: Initiating and Monitoring Chronic "
    "Opioid Treatment",
    "3.3.8 Opioids for Chronic Pain and Chronic Opioid Treatment: Opioid Titration and Dosing "
    "Threshold",
    "3.3.10 Opioids for Chronic Pain and Chronic Opioid Treatment: Tapering Opioids",
)
UDS_2016_SECTION = (
    "3.3.6 Opioids for Chronic Pain and Chronic Opioid Treatment: Use of Urine Drug Testing (UDT)"
)

# ---------------------------------------------------------------------------------------------
# Phrase pools
# ---------------------------------------------------------------------------------------------

HOW_MADE_HEADER = (
    "MAXIMUS Federal Services sent the complete case file to an expert reviewer. He/she has no "
    "affiliation with the employer, employee, providers or the claims administrator. He/she has "
    "been in active clinical practice for more than five years and is currently working at least "
    "24 hours a week in active practice. The expert reviewer was selected based on his/her "
    "clinical experience, education, background, and expertise in the same or similar "
    "specialties that evaluate and/or treat the medical condition and disputed items/Service. "
    "He/she is familiar with governing laws and regulations, including the strength of evidence "
    "hierarchy that applies to Independent Medical Review determinations."
)
HOW_MADE_LEGACY = (
    "MAXIMUS Federal Services sent the complete case file to an expert reviewer. He/she has no "
    "affiliation with the employer, employee, providers or the claims administrator. "
    "{credentials}He/she has been in active clinical practice for more than five years and is "
    "currently working at least 24 hours a week in active practice. The expert reviewer was "
    "selected based on his/her clinical experience, education, background, and expertise in the "
    "same or similar specialties that evaluate and/or treat the medical condition and disputed "
    "items/services. He/she is familiar with governing laws and regulations, including the "
    "strength of evidence hierarchy that applies to Independent Medical Review determinations."
)
SUMMARY_LEAD = (
    "The expert reviewer developed the following clinical case summary based on a review of the "
    "case file, including all medical records:"
)
ISSUES_LEAD = (
    "The Final Determination was based on decisions for the disputed items/services set forth "
    "below:"
)

# Intro sentences: (template, states the injury date in a form the parser reads from prose)
INTROS = (
    (
        "The injured worker is a {age} year old {sex} who sustained an industrial injury on {doi}.",
        1,
    ),
    (
        "The injured worker is a {age} year old {sex}, who sustained an industrial injury on "
        "{doi}.",
        1,
    ),
    ("The patient is a {age} year old {sex} with an injury date of {doi}.", 1),
    ("This is a {age}-year-old {sex} with a {doi} date of injury.", 1),
    ("The injured worker is a {age} year old {sex} injured on {doi} {mech}.", 1),
    (
        "The applicant is a {age}-year-old {sex} who has filed a claim for {cc} reportedly "
        "associated with an industrial injury of {doi}.",
        1,
    ),
    ("The patient is a {age} year old {sex} who reported an injury on {doi} {mech}.", 1),
    ("This {age} year old {sex} was injured on {doi} {mech}.", 1),
    ("The claimant is a {age} year old {handed} {sex} with a date of injury of {doi}.", 1),
    (
        "This case involves a now {age}-year-old {sex} with a history of an occupational claim "
        "from {doi}.",
        0,
    ),
    ("The employee is a {age}-year-old {sexword} who was hurt at work on {doi} {mech}.", 0),
    ("The injured worker is a {age} year old {sex} {job} who was injured on {doi}.", 1),
)
MECH_SENTENCES = (
    "The mechanism of injury was reported as {mech_noun}.",
    "{He} reported that the injury occurred {mech}.",
    "The mechanism of injury is detailed as {mech_noun}.",
    "{He} was working as a {job} at the time of the injury, which occurred {mech}.",
    "According to the records, {he} injured {his} {short} {mech}.",
)
MECH_NOUNS = (
    "a slip and fall",
    "lifting a heavy object",
    "repetitive motion",
    "a motor vehicle accident",
    "a fall from a height",
    "cumulative trauma",
    "a physical altercation",
    "pushing and pulling heavy carts",
    "a trip and fall",
)
DX_SENTENCES = (
    "Current diagnoses include {dx}.",
    "Diagnoses include {dx}.",
    "The diagnoses included {dx}.",
    "{His} diagnoses were {dx}.",
    "The working diagnoses are {dx}.",
    "Current diagnoses included {dx}.",
)
DX_SINGLE = (
    "The current diagnosis is documented as {dx}.",
    "The primary diagnosis is {dx}.",
)
COMPLAINT_SENTENCES = (
    "Per the progress report dated {rd}, the patient complains of {complaint}.",
    "In a progress note dated {rd}, the treating provider reports the injured worker was with "
    "{pain_word} {complaint}.",
    "On {rd}, the injured worker presented with complaints of {complaint}.",
    "The most recent progress report, dated {rd}, documented {complaint}.",
    "At the visit of {rd}, {he} reported ongoing {complaint}.",
    "The patient was most recently seen on {rd}, where {he} reported {complaint}.",
    "The report of {rd} noted {pain_word} {complaint}.",
)
PAIN_SENTENCES = (
    "Pain was rated {p1}/10 with medications and {p2}/10 without medications.",
    "Pain level was {p1} (with medications) and {p2} (without medications) out of 10 on a "
    "visual analog scale (VAS).",
    "{He} rated {his} pain at {p2}/10, decreasing to {p1}/10 with the current medications.",
    "Medications reduce pain intensity from {p2}/10 to {p1}/10.",
    "The patient reported pain of {p2}/10 on the visual analog scale.",
    "{His} pain was described as {pain_word} and rated {p2} out of 10.",
)
EXAM_SENTENCES = (
    "Physical examination revealed {f1} and {f2}.",
    "Objective findings included {f1}, {f2}, and {f3}.",
    "Examination of the {short} revealed {f1}.",
    "On examination there was {f1}.",
    "The physical examination documented {f1} and {f2}.",
    "Exam findings revealed {f1}, with {f2}.",
    "Physical exam noted {f1}; there was also {f2}.",
)
IMAGING_SENTENCES = (
    "An MRI of the {region} dated {idate} revealed {img}.",
    "It was noted that an MRI of the {region} dated {idate} showed {img}.",
    "A prior MRI of the {region} ({idate}) demonstrated {img}.",
    "Imaging of the {region} performed on {idate} was reported to show {img}.",
)
TREATMENT_SENTENCES = (
    "Treatment to date has included {tx}.",
    "Previous treatments included {tx}.",
    "Treatments to date include {tx}.",
    "{He} has been treated with {tx}.",
    "Prior conservative care has consisted of {tx}.",
)
MEDS_SENTENCES = (
    "Current medications include {meds}.",
    "The patient's medications included {meds}.",
    "Current medication regimen included {meds}.",
    "{His} medication list included {meds}.",
    "Medications were listed as {meds}.",
)
WORK_SENTENCES = (
    "{He} is currently working modified duty.",
    "{He} has not returned to work since the injury.",
    "Work status is return to work with restrictions of no lifting over 10 pounds.",
    "The patient remains on temporary total disability.",
    "{He} was placed off of work until the next visit.",
    "{He} is permanent and stationary and is not working.",
    "{He} continues to work full duty as a {job}.",
)
FILLER_SENTENCES = (
    "{He} reports difficulty with prolonged sitting, standing and walking.",
    "The patient notes that the pain interferes with {his} sleep.",
    "{He} denies bowel or bladder dysfunction.",
    "There was no documentation of adverse effects from the current medications.",
    "The documentation notes that medications allow {him} to {adl}.",
    "The treating physician recommended continuation of the current medication regimen.",
    "{He} reported that a prior course of physical therapy provided temporary relief.",
    "The records note that {he} has been compliant with a home exercise program.",
    "A urine drug screen dated {rd2} was consistent with the prescribed medications.",
    "{He} reports feelings of depression and anxiety related to the chronic pain.",
    "{He} continues to report functional limitations with activities of daily living.",
    "The provider noted that the patient was intent on avoiding surgery.",
    "The note was handwritten and difficult to follow.",
    "Sensation was reported to be intact to light touch in the remaining dermatomes.",
    "The records reflect that the patient has been treating with this provider since {rd3}.",
    "A CURES report was reviewed and was reported to be appropriate.",
    "{He} underwent a qualified medical evaluation on {rd3}.",
    "There is no documentation of a signed opioid agreement in the records provided.",
    "{He} reports that symptoms are aggravated by cold weather and repetitive activity.",
    "{He} uses a cane intermittently for ambulation.",
    "The treating provider noted improvement in mood with the current regimen.",
    "{He} reports {pain_word} muscle spasms that worsen at the end of the day.",
)
MORE_FILLERS = (
    "{His} blood pressure was {bp} at the last visit.",
    "{He} underwent {prior_proc} in {prior_year}.",
    "{He} reported {sleep_hours} hours of sleep per night.",
    "A functional assessment on {rd3} documented a lifting tolerance of {lift} pounds.",
    "{He} completed {n_prior} sessions of {prior_therapy} in {prior_year}.",
    "The patient's body mass index was recorded as {bmi}.",
    "{He} reported an increase in pain after {trigger}.",
    "A supplemental report dated {rd2} was also reviewed.",
    "{He} was seen in the emergency department on {rd2} for a flare of {his} {short} pain.",
    "{His} past medical history is significant for {pmh}.",
    "The provider noted {improve}% relief with the prior {prior_therapy}.",
    "Range of motion was reduced by approximately {rom}% compared to the contralateral side.",
)
PRIOR_PROCEDURES = (
    "a {level} microdiscectomy",
    "a {side} knee arthroscopy",
    "a {side} shoulder arthroscopy",
    "a {side} carpal tunnel release",
    "an epidural steroid injection",
    "a course of trigger point injections",
    "a spinal cord stimulator trial",
    "a functional capacity evaluation",
)
PMH = (
    "hypertension",
    "diabetes mellitus",
    "asthma",
    "hyperlipidemia",
    "gastroesophageal reflux disease",
    "obstructive sleep apnea",
    "hypothyroidism",
    "migraine headaches",
)
TRIGGERS = (
    "a long drive",
    "lifting groceries",
    "a fall at home",
    "returning to full duty",
    "yard work",
    "a change in weather",
)
MED_REASONS = {
    "opioid": ("pain", "severe flare-ups of pain", "breakthrough pain"),
    "benzodiazepine": ("muscle spasms", "anxiety", "insomnia", "panic attacks"),
    "muscle_relaxant": ("muscle spasms", "flare-ups of {short} pain"),
    "nsaid": ("inflammation", "pain and swelling"),
    "ppi": ("gastrointestinal upset from NSAIDs", "gastritis", "heartburn"),
    "anticonvulsant": ("neuropathic symptoms", "radicular pain", "numbness and burning pain"),
    "antidepressant": ("depression and chronic pain", "neuropathic pain", "sleep"),
    "sleep": ("insomnia related to pain", "difficulty falling asleep"),
    "topical": ("localized pain", "pain over the {short}"),
    "compound": ("localized pain", "neuropathic pain over the {short}"),
    "lidoderm": ("localized neuropathic pain", "pain over the {short}"),
    "antiemetic": ("nausea", "nausea associated with medications"),
    "laxative": ("opioid-induced constipation", "constipation"),
    "barbiturate": ("headaches", "tension headaches"),
    "triptan": ("migraine headaches", "headaches"),
    "steroid": ("a flare of radicular pain", "acute inflammation"),
    "medical_food": ("pain and sleep", "nutritional support"),
}
PROC_REASONS = {
    "imaging": ("to evaluate persistent symptoms", "because of worsening symptoms"),
    "emg": ("to evaluate numbness and tingling", "to rule out a peripheral neuropathy"),
    "therapy": ("to improve strength and range of motion", "for a flare of symptoms"),
    "injection": ("for persistent pain", "for radicular pain that has not improved"),
    "surgery": ("after failure of conservative care", "given the imaging findings"),
    "equipment": ("for home use", "to decrease reliance on medications"),
    "service": ("to address the chronic pain", "to help the patient return to work"),
}
ITEM_SUMMARY_DRUG = (
    "{He} has been taking {mention} since {since}.",
    "{Mention} was prescribed for {reason}.",
    "The provider noted that {mention} helps with {reason}.",
    "{He} reports using {mention} for {reason}.",
)
ITEM_SUMMARY_PROC = (
    "The provider recommended {mention} {reason}.",
    "The treating physician requested {mention} {reason}.",
    "{Mention} was recommended {reason}.",
)
PLAN_SENTENCES = (
    "The treatment plan included a request for {reqs}.",
    "The provider requested {reqs}.",
    "A Request for Authorization dated {rfa} was submitted for {reqs}.",
    "The plan of care included {reqs}.",
    "The appeal requested authorization for {reqs}.",
)
# UR sentences: (template, the parser reads the UR date from it). The parser misses a date that
# comes before the verb ("On 1/18/15 Utilization Review non-certified ..."), so legacy letters,
# whose UR date is only in the summary, use the others.
UR_SENTENCES = (
    ("On {ur}, Utilization Review non-certified the request for {reqs}.", 0),
    ("On {ur} Utilization Review non-certified the request for {reqs}.", 0),
    ("The utilization review dated {ur} non-certified the request for {reqs}.", 1),
    ("The request for {reqs} was initially denied on {ur}.", 1),
    ("An adverse determination was received on {ur}.", 1),
    ("The utilization determination being challenged is dated {ur}.", 1),
    (
        "In a utilization review report dated {ur}, the claims administrator failed to approve a "
        "request for {reqs}.",
        1,
    ),
    ("The original utilization review dated {ur} denied the request for {reqs}.", 1),
    ("The request for {reqs} was non-certified on {ur}.", 1),
)
UR_TAIL = (
    "The applicant subsequently appealed.",
    "This is an independent review of the request.",
    "The MTUS, ACOEM Guidelines, (or ODG) was cited.",
    "The claims administrator referenced a {rfa} date of service in its determination.",
    "",
    "",
)

# Guideline leads used in rationales, by the source cited.
LEADS = {
    "MTUS": (
        "The California MTUS {doc} state that",
        "According to the CA MTUS {doc},",
        "Per the MTUS {doc},",
        "The MTUS {doc} indicate that",
        "As noted in the MTUS {doc},",
        "Regarding {topic_noun}, the MTUS states that",
        "CA MTUS guidelines note that",
        "The guidelines state that",
    ),
    "ODG": (
        "The Official Disability Guidelines state that",
        "Per the ODG,",
        "The CA MTUS does not address this request; therefore, the Official Disability "
        "Guidelines were consulted, which state that",
        "According to the ODG,",
        "The ODG notes that",
    ),
    "ACOEM": (
        "The ACOEM Guidelines state that",
        "According to the ACOEM practice guidelines,",
        "Per the ACOEM guidelines,",
    ),
    "": (
        "Guidelines indicate that",
        "The guidelines state that",
        "Evidence-based guidelines note that",
    ),
}
PAGE_LEADS = (
    'MTUS page {page} states: "{Rule}"',
    "As noted on page {page} of the Chronic Pain Medical Treatment Guidelines, {rule}",
    "The MTUS guidelines on page {page} state that {rule}",
)

# What each guideline says, by rationale topic. Sentences start lower-case to follow a lead.
RULES: dict[str, tuple[str, ...]] = {
    "benzodiazepine": (
        "benzodiazepines are not recommended for long-term use because long-term efficacy is "
        "unproven and there is a risk of dependence.",
        "most guidelines limit use of benzodiazepines to 4 weeks.",
        "the range of action of benzodiazepines includes sedative/hypnotic, anxiolytic, "
        "anticonvulsant, and muscle relaxant effects.",
        "tolerance to hypnotic effects develops rapidly and tolerance to anxiolytic effects "
        "occurs within months.",
        "long-term use of benzodiazepines may actually increase anxiety.",
        "a more appropriate treatment for anxiety disorder is an antidepressant.",
        "tolerance to the anticonvulsant and muscle relaxant effects of benzodiazepines occurs "
        "within weeks.",
    ),
    "opioid": (
        "ongoing opioid management requires documentation of pain relief, functional status, "
        "appropriate medication use, and side effects.",
        "the 4 A's for ongoing monitoring (analgesia, activities of daily living, adverse side "
        "effects, and aberrant drug-taking behaviors) should be documented at each visit.",
        "opioids should be discontinued if there is no overall improvement in function, unless "
        "there are extenuating circumstances.",
        "opioids should be continued if the patient has returned to work or has improved "
        "functioning and pain.",
        "a pain assessment should include current pain, the least reported pain over the period "
        "since the last assessment, average pain, and how long it takes for pain relief.",
        "the total daily dose should not exceed 120 mg oral morphine equivalents without "
        "consultation with a pain specialist.",
        "opioids for chronic back pain appear to be efficacious but limited for short-term pain "
        "relief, and long-term efficacy is unclear (greater than 16 weeks).",
        "screening for the risk of addiction and a review of the CURES database are recommended "
        "before opioids are initiated or continued.",
    ),
    "muscle_relaxant": (
        "non-sedating muscle relaxants are recommended with caution as a second-line option for "
        "short-term treatment of acute exacerbations in patients with chronic low back pain.",
        "muscle relaxants show no benefit beyond NSAIDs in pain and overall improvement, and "
        "efficacy appears to diminish over time.",
        "{generic} is recommended for a short course of therapy and is not recommended for "
        "longer than 2 to 3 weeks.",
        "prolonged use of some medications in this class may lead to dependence.",
        "the greatest effect of cyclobenzaprine appears in the first 4 days of treatment.",
        "carisoprodol is not indicated for long-term use, as its primary metabolite, "
        "meprobamate, is a schedule IV controlled substance.",
    ),
    "nsaid": (
        "NSAIDs are recommended at the lowest dose for the shortest period in patients with "
        "moderate to severe pain.",
        "there is no evidence of long-term effectiveness of NSAIDs for pain or function.",
        "NSAIDs are recommended as an option for short-term symptomatic relief of chronic low "
        "back pain.",
        "the use of NSAIDs is associated with gastrointestinal, cardiovascular and renal risks "
        "that require monitoring.",
        "NSAIDs are a first-line treatment for osteoarthritis to reduce pain so activity and "
        "functional restoration can resume.",
    ),
    "ppi": (
        "the clinician should determine if the patient is at risk for gastrointestinal events: "
        "age over 65 years, history of peptic ulcer, GI bleeding or perforation, concurrent use "
        "of ASA, corticosteroids, and/or an anticoagulant, or high dose/multiple NSAID use.",
        "patients at intermediate risk for gastrointestinal events with no cardiovascular disease "
        "may be given a non-selective NSAID with a proton pump inhibitor.",
        "long-term PPI use (more than 1 year) has been shown to increase the risk of hip fracture.",
        "a proton pump inhibitor is recommended for patients with dyspepsia secondary to NSAID "
        "therapy.",
    ),
    "anticonvulsant": (
        "anti-epilepsy drugs are recommended for neuropathic pain (pain due to nerve damage).",
        "a good response to the use of anti-epilepsy drugs has been defined as a 50% reduction "
        "in pain and a moderate response as a 30% reduction.",
        "after initiation of treatment there should be documentation of pain relief and "
        "improvement in function as well as documentation of side effects.",
        "{generic} has been shown to be effective for the treatment of diabetic painful "
        "neuropathy and postherpetic neuralgia and is considered a first-line treatment for "
        "neuropathic pain.",
        "there is a lack of evidence to support anti-epilepsy drugs for axial low back pain "
        "without a neuropathic component.",
    ),
    "antidepressant": (
        "antidepressants are recommended as a first line option for neuropathic pain and as a "
        "possibility for non-neuropathic pain.",
        "assessment of treatment efficacy should include not only pain outcomes, but also an "
        "evaluation of function, changes in use of other analgesic medication, sleep quality and "
        "duration, and psychological assessment.",
        "tricyclic antidepressants are generally considered a first-line agent unless they are "
        "ineffective, poorly tolerated, or contraindicated.",
        "the optimal duration of antidepressant treatment is not known, and long-term "
        "effectiveness should be reassessed periodically.",
    ),
    "sleep": (
        "{generic} is a prescription short-acting non-benzodiazepine hypnotic, which is approved "
        "for the short-term (usually two to six weeks) treatment of insomnia.",
        "proper sleep hygiene is critical to the individual with chronic pain and is often hard "
        "to obtain.",
        "various medications may provide short-term benefit, but they can be habit-forming and "
        "may impair function and memory more than opioid pain relievers.",
        "insomnia treatment should be based on the etiology, and the specific component of "
        "insomnia (sleep onset, sleep maintenance, sleep quality, and next-day functioning) "
        "should be addressed.",
        "pharmacological agents should only be used after careful evaluation of potential causes "
        "of sleep disturbance.",
    ),
    "topical": (
        "topical analgesics are largely experimental in use with few randomized controlled "
        "trials to determine efficacy or safety.",
        "topical analgesics are primarily recommended for neuropathic pain when trials of "
        "antidepressants and anticonvulsants have failed.",
        "there is little to no research to support the use of many of the agents in these "
        "formulations.",
        "topical NSAIDs are indicated for osteoarthritis and tendinitis in joints that lend "
        "themselves to topical treatment, such as the knee and elbow, and are not recommended "
        "for the spine, hip or shoulder.",
        "capsaicin is recommended only as an option in patients who have not responded or are "
        "intolerant to other treatments.",
        "salicylate topicals are significantly better than placebo in chronic pain.",
    ),
    "compound": (
        "any compounded product that contains at least one drug (or drug class) that is not "
        "recommended is not recommended.",
        "topical analgesics are largely experimental in use with few randomized controlled "
        "trials to determine efficacy or safety.",
        "gabapentin and baclofen are not recommended for topical application, as there is no "
        "peer-reviewed literature to support their use.",
        "there is no evidence for the use of any muscle relaxant as a topical product.",
        "the only FDA-approved topical NSAID is diclofenac, and ketoprofen is not currently FDA "
        "approved for topical application.",
        "topical lidocaine in the formulation of a cream, lotion or gel is not indicated for "
        "neuropathic pain.",
    ),
    "lidoderm": (
        "topical lidocaine may be recommended for localized peripheral pain after there has been "
        "evidence of a trial of first-line therapy (tricyclic or SNRI antidepressants or an "
        "anti-epilepsy drug such as gabapentin or Lyrica).",
        "Lidoderm is the only commercially approved topical formulation of lidocaine.",
        "topical lidocaine is not a first-line treatment and is only FDA approved for "
        "post-herpetic neuralgia.",
        "further research is needed to recommend topical lidocaine for chronic neuropathic pain "
        "disorders other than post-herpetic neuralgia.",
    ),
    "antiemetic": (
        "antiemetics are not recommended for nausea and vomiting secondary to chronic opioid use.",
        "ondansetron is FDA-approved for nausea and vomiting secondary to chemotherapy and "
        "radiation treatment, and for postoperative use.",
        "nausea and vomiting are common with the use of opioids, but these side effects tend to "
        "diminish over days to weeks of continued exposure.",
    ),
    "laxative": (
        "prophylactic treatment of constipation should be initiated when opioid therapy is "
        "initiated.",
        "opioid-induced constipation is a common adverse effect of long-term opioid use.",
        "first-line treatment of opioid-induced constipation includes increasing physical "
        "activity, maintaining appropriate hydration, and a diet rich in fiber.",
    ),
    "barbiturate": (
        "barbiturate-containing analgesic agents are not recommended for chronic pain.",
        "the potential for drug dependence with barbiturate-containing analgesics is high and no "
        "evidence exists to show a clinically important enhancement of analgesic efficacy.",
        "there is a risk of medication overuse as well as rebound headache with "
        "butalbital-containing products.",
    ),
    "triptan": (
        "triptans are recommended for migraine sufferers.",
        "at marketed doses, all oral triptans are effective and well tolerated.",
        "a poor response to one triptan does not predict a poor response to other agents in "
        "that class.",
    ),
    "steroid": (
        "oral corticosteroids are recommended in limited circumstances for acute radicular pain.",
        "oral corticosteroids are not recommended for acute non-radicular pain or for chronic "
        "pain.",
        "clinicians should remain cognizant of the possible serious adverse effects of "
        "corticosteroids, even with short-term use.",
    ),
    "medical_food": (
        "a medical food is a food formulated to be consumed or administered enterally under the "
        "supervision of a physician and is intended for the specific dietary management of a "
        "disease that has distinctive nutritional requirements.",
        "medical foods are not recommended for chronic pain.",
        "there is no high-quality peer-reviewed literature that suggests that the components of "
        "this product are effective for the treatment of pain.",
    ),
    "mri": (
        "criteria for ordering imaging studies include the emergence of a red flag, "
        "physiologic evidence of tissue insult or neurologic dysfunction, failure to progress "
        "in a strengthening program intended to avoid surgery, and clarification of the anatomy "
        "prior to an invasive procedure.",
        "unequivocal objective findings that identify specific nerve compromise on the "
        "neurologic examination are sufficient evidence to warrant imaging in patients who do "
        "not respond to treatment and who would consider surgery an option.",
        "repeat MRI is not routinely recommended, and should be reserved for a significant "
        "change in symptoms and/or findings suggestive of significant pathology.",
        "for most patients presenting with true {short} problems, special studies are not "
        "needed unless a three- or four-week period of conservative care and observation fails "
        "to improve symptoms.",
        "MRI is the test of choice for patients who have had prior surgery and in whom "
        "recurrent disc herniation or a soft-tissue lesion is suspected.",
    ),
    "xray": (
        "radiographs are not recommended in the absence of red flags for serious pathology, "
        "even if the pain has persisted for at least six weeks.",
        "plain film radiographs may be appropriate when the physician believes they would aid "
        "in patient management.",
        "routine radiographs are not recommended for patients with non-specific pain during the "
        "first six weeks of symptoms.",
    ),
    "ct": (
        "computed tomography is recommended to evaluate the bony anatomy when MRI is "
        "contraindicated or when fracture is suspected.",
        "CT is not recommended as a routine study for soft tissue pathology.",
        "imaging should be reserved for cases in which surgery is considered or red-flag "
        "diagnoses are being evaluated.",
    ),
    "emg": (
        "electromyography, including H-reflex tests, may be useful to identify subtle, focal "
        "neurologic dysfunction in patients with symptoms lasting more than three or four weeks.",
        "nerve conduction studies are not recommended when a patient is presumed to have "
        "symptoms on the basis of radiculopathy.",
        "electrodiagnostic studies are not necessary if radiculopathy is already clinically "
        "obvious.",
        "appropriate electrodiagnostic studies may help differentiate between carpal tunnel "
        "syndrome and other conditions, such as cervical radiculopathy.",
    ),
    "pt": (
        "physical medicine is recommended for 9-10 visits over 8 weeks for myalgia and myositis, "
        "and 8-10 visits over 4 weeks for neuralgia, neuritis, and radiculitis.",
        "treatment frequency should be faded (from up to 3 visits per week to 1 or less), plus "
        "active self-directed home physical medicine.",
        "continued therapy requires documentation of objective functional improvement from the "
        "prior sessions.",
        "patients are instructed and expected to continue active therapies at home as an "
        "extension of the treatment process in order to maintain improvement levels.",
        "active therapy is based on the philosophy that therapeutic exercise and/or activity are "
        "beneficial for restoring flexibility, strength, endurance, function, range of motion, "
        "and can alleviate discomfort.",
    ),
    "chiro": (
        "manual therapy and manipulation is recommended for chronic pain if caused by "
        "musculoskeletal conditions.",
        "a trial of 6 visits over 2 weeks is recommended, with evidence of objective functional "
        "improvement, and a total of up to 18 visits over 6-8 weeks.",
        "elective or maintenance care is not medically necessary.",
        "manipulation is not recommended for the ankle and foot, carpal tunnel syndrome, the "
        "forearm, wrist and hand, or the knee.",
    ),
    "acupuncture": (
        "acupuncture is used as an option when pain medication is reduced or not tolerated, and "
        "may be used as an adjunct to physical rehabilitation and/or surgical intervention.",
        "the time to produce functional improvement with acupuncture is 3 to 6 treatments, at a "
        "frequency of 1 to 3 times per week, with an optimum duration of 1 to 2 months.",
        "acupuncture treatments may be extended if functional improvement is documented as "
        "defined in Section 9792.20(f).",
    ),
    "esi": (
        "radiculopathy must be documented by physical examination and corroborated by imaging "
        "studies and/or electrodiagnostic testing.",
        "the patient must be initially unresponsive to conservative treatment (exercises, "
        "physical methods, NSAIDs and muscle relaxants).",
        "no more than two nerve root levels should be injected using transforaminal blocks.",
        "repeat blocks should be based on continued objective documented pain and functional "
        "improvement, including at least 50% pain relief with associated reduction of medication "
        "use for six to eight weeks.",
        "epidural steroid injections are recommended as an option for the treatment of radicular "
        "pain, but they offer no significant long-term functional benefit.",
    ),
    "facet": (
        "facet joint injections are of questionable merit.",
        "no more than one set of therapeutic intra-articular facet blocks is recommended when "
        "facet joint pain is suspected.",
        "facet blocks are limited to patients with pain that is non-radicular and at no more than "
        "two levels bilaterally.",
        "there should be documentation of failure of conservative treatment (including home "
        "exercise, physical therapy and NSAIDs) for at least 4-6 weeks prior to the procedure.",
        "diagnostic medial branch blocks are recommended only as a prelude to a facet neurotomy.",
    ),
    "tpi": (
        "trigger point injections are recommended only for myofascial pain syndrome.",
        "there must be documentation of circumscribed trigger points with evidence upon "
        "palpation of a twitch response as well as referred pain.",
        "radiculopathy should not be present (by exam, imaging, or neuro-testing).",
        "no more than 3-4 injections per session are recommended, and repeat injections require "
        "greater than 50% pain relief for six weeks.",
        "symptoms should have persisted for more than three months despite medical management "
        "therapies such as ongoing stretching exercises, physical therapy, NSAIDs and muscle "
        "relaxants.",
    ),
    "joint_injection": (
        "two or three injections of a local anesthetic and cortisone preparation over an "
        "extended period are recommended as part of an exercise rehabilitation program.",
        "invasive techniques, such as cortisone injections, are not routinely indicated.",
        "hyaluronic acid injections are recommended as an option for severe osteoarthritis in "
        "patients who have not responded adequately to recommended conservative treatments.",
        "injections are generally performed without fluoroscopic or ultrasound guidance.",
    ),
    "surgery": (
        "referral for surgical consultation is indicated for patients who have activity "
        "limitation for more than one month and failure to improve with exercise programs.",
        "there should be clear clinical and imaging evidence of a lesion that has been shown to "
        "benefit in both the short and long term from surgical repair.",
        "surgery should be considered only after a period of conservative care and "
        "observation has failed to relieve the symptoms.",
    ),
    "surgery_spine": (
        "there is no good evidence from controlled trials that spinal fusion alone is effective "
        "for treating any type of acute low back problem, in the absence of spinal fracture, "
        "dislocation, or spondylolisthesis with instability.",
        "a psychological screening is recommended prior to spinal surgery.",
        "surgical discectomy for carefully selected patients with nerve root compromise due to "
        "disc prolapse provides faster relief from the acute attack than conservative "
        "management.",
        "surgery is indicated for patients with severe and disabling leg symptoms in a "
        "distribution consistent with abnormalities on imaging studies, with accompanying "
        "objective signs of neural compromise.",
    ),
    "surgery_shoulder": (
        "conservative care, including cortisone injections, can be carried out for at least "
        "three to six months before considering surgery.",
        "surgery for impingement syndrome is usually arthroscopic decompression, which is not "
        "indicated for patients with mild symptoms or those who have no activity limitations.",
        "rotator cuff repair is indicated for significant tears that impair activities by "
        "causing weakness of arm elevation or rotation.",
    ),
    "surgery_knee": (
        "arthroscopic partial meniscectomy usually has a high success rate for cases in which "
        "there is clear evidence of a meniscus tear with mechanical symptoms and consistent "
        "findings on MRI.",
        "arthroscopic surgery for osteoarthritis of the knee is not recommended.",
        "knee arthroplasty criteria include failed conservative care, limited range of motion, "
        "night-time joint pain, an age over 50 years, a body mass index of less than 40, and "
        "imaging findings of osteoarthritis.",
    ),
    "surgery_hand": (
        "carpal tunnel syndrome must be proved by positive findings on clinical examination and "
        "the diagnosis should be supported by nerve conduction tests before surgery is "
        "undertaken.",
        "surgical decompression of the median nerve usually relieves carpal tunnel syndrome "
        "symptoms.",
        "patients with the mildest symptoms display the poorest results after surgery.",
    ),
    "surgery_hip": (
        "hip arthroplasty is recommended when conservative care has failed and there is "
        "radiographic evidence of significant osteoarthritis.",
        "criteria for hip arthroplasty include limited range of motion, night-time joint pain, "
        "and functional limitations despite conservative care.",
    ),
    "tens": (
        "a one-month home-based trial may be considered as a noninvasive conservative option if "
        "used as an adjunct to a program of evidence-based functional restoration.",
        "electrical stimulation is not recommended as a primary treatment modality.",
        "there must be documentation of pain of at least three months duration and evidence "
        "that other appropriate pain modalities have been tried (including medication) and "
        "failed.",
        "a treatment plan including the specific short- and long-term goals of treatment with "
        "the unit should be submitted.",
        "rental is preferred over purchase during the trial period.",
    ),
    "cold": (
        "continuous-flow cryotherapy is recommended as an option after surgery, but not for "
        "nonsurgical treatment.",
        "postoperative use of continuous-flow cryotherapy generally may be up to 7 days, "
        "including home use.",
        "there is no evidence that continuous-flow devices are superior to simple ice packs.",
    ),
    "brace": (
        "lumbar supports have not been shown to have any lasting benefit beyond the acute phase "
        "of symptom relief.",
        "bracing is recommended as an option for specific conditions such as instability, "
        "ligament insufficiency, or after surgery.",
        "splinting is recommended as a first-line conservative treatment for carpal tunnel "
        "syndrome.",
        "prolonged use of a support may lead to weakness and stiffness.",
    ),
    "dme": (
        "durable medical equipment is recommended generally if there is a medical need and if "
        "the device or system meets Medicare's definition of durable medical equipment.",
        "there is no high-grade scientific evidence to support the effectiveness of this device.",
        "home traction devices are not recommended for chronic pain.",
    ),
    "uds": (
        "drug testing is recommended as an option, using a urine drug screen to assess for the "
        "use or the presence of illegal drugs.",
        "patients at low risk of addiction or aberrant behavior should be tested within six "
        "months of initiation of therapy and on a yearly basis thereafter.",
        "the frequency of urine drug testing should be based on documented evidence of risk "
        "stratification.",
    ),
    "consult": (
        "the occupational health practitioner may refer to other specialists if a diagnosis is "
        "uncertain or extremely complex, when psychosocial factors are present, or when the plan "
        "or course of care may benefit from additional expertise.",
        "the need for a clinical office visit with a health care provider is individualized "
        "based upon a review of the patient concerns, signs and symptoms, clinical stability, "
        "and reasonable physician judgment.",
        "a consultation is intended to aid in assessing the diagnosis, prognosis, therapeutic "
        "management, and determination of medical stability.",
    ),
    "fce": (
        "a functional capacity evaluation may be considered when case management is hampered by "
        "complex issues such as prior unsuccessful return to work attempts.",
        "a functional capacity evaluation is not recommended for routine use as part of "
        "occupational rehabilitation or screening.",
        "the patient should be close to or at maximum medical improvement before an evaluation "
        "is performed.",
    ),
    "frp": (
        "functional restoration programs are recommended where there is access to programs with "
        "proven successful outcomes for patients with conditions that put them at risk of "
        "delayed recovery.",
        "criteria include an adequate and thorough evaluation, failure of previous methods of "
        "treating chronic pain, significant loss of the ability to function independently, and "
        "motivation to change.",
        "total treatment duration should generally not exceed 20 full-day sessions.",
        "negative predictors of success should be addressed before entry into a program.",
    ),
    "psych": (
        "behavioral interventions are recommended, with an initial trial of 3-4 psychotherapy "
        "visits over 2 weeks.",
        "with evidence of objective functional improvement, a total of up to 6-10 visits over "
        "5-6 weeks (individual sessions) may be appropriate.",
        "psychological treatment is recommended for appropriately identified patients during "
        "treatment for chronic pain.",
        "cognitive behavioral therapy for depression is recommended, with an initial trial of 6 "
        "visits over 6 weeks.",
    ),
    "home_health": (
        "home health services are recommended only for otherwise recommended medical treatment "
        "for patients who are homebound, on a part-time or intermittent basis, generally up to "
        "no more than 35 hours per week.",
        "medical treatment does not include homemaker services like shopping, cleaning, and "
        "laundry, and personal care given by home health aides like bathing, dressing, and using "
        "the bathroom when this is the only care needed.",
    ),
    "gym": (
        "gym memberships are not recommended as a medical prescription unless a documented home "
        "exercise program with periodic assessment and revision has not been effective and there "
        "is a need for equipment.",
        "treatment needs to be monitored and administered by medical professionals.",
    ),
}
TOPIC_NOUNS = {
    "benzodiazepine": "benzodiazepines",
    "opioid": "opioids",
    "muscle_relaxant": "muscle relaxants",
    "nsaid": "NSAIDs",
    "ppi": "gastrointestinal protection",
    "anticonvulsant": "anti-epilepsy drugs",
    "antidepressant": "antidepressants",
    "sleep": "insomnia treatment",
    "topical": "topical analgesics",
    "compound": "compounded topical analgesics",
    "lidoderm": "topical lidocaine",
    "antiemetic": "antiemetics",
    "laxative": "opioid-induced constipation",
    "barbiturate": "barbiturate-containing analgesics",
    "triptan": "triptans",
    "steroid": "oral corticosteroids",
    "medical_food": "medical foods",
    "mri": "magnetic resonance imaging",
    "xray": "radiography",
    "ct": "computed tomography",
    "emg": "electrodiagnostic testing",
    "pt": "physical medicine",
    "chiro": "manual therapy",
    "acupuncture": "acupuncture",
    "esi": "epidural steroid injections",
    "facet": "facet joint procedures",
    "tpi": "trigger point injections",
    "joint_injection": "joint injections",
    "surgery": "surgical considerations",
    "tens": "electrical stimulation",
    "cold": "cryotherapy",
    "brace": "bracing",
    "dme": "durable medical equipment",
    "uds": "drug testing",
    "consult": "referrals",
    "fce": "functional capacity evaluations",
    "frp": "functional restoration programs",
    "psych": "psychological treatment",
    "home_health": "home health services",
    "gym": "gym memberships",
}
# Case facts that argue against the request (upheld) or for it (overturned): a pool every item
# of its kind draws on, and pools for the item's group.
AGAINST_MED = (
    "The medical records do not document objective functional improvement with the prior use of "
    "{drug}.",
    "The records do not include a current pain assessment or the effect of the medication on "
    "activities of daily living.",
    "The provider has not documented any extenuating circumstances that would warrant continued "
    "use outside of the guideline recommendations.",
    "The request as submitted does not specify the frequency or the duration of use.",
    "There is no indication that the patient has failed a trial of first-line agents.",
    "Per the progress report dated {rd}, pain remained {p2}/10, and there was no documented "
    "increase in function with the medication.",
    "The patient continues to report {pain_word} pain despite the ongoing use of this medication.",
    "The medical necessity of continued use has not been established by the documentation "
    "submitted for review.",
    "The treating physician states that {drug} helps, but does not quantify the benefit.",
    "The records indicate that the patient has been taking {drug} since at least {since}.",
    "The documentation submitted for review does not include the patient's response to this "
    "medication at the most recent visit.",
    "No rationale was provided for continuing this medication in light of the guideline "
    "recommendations.",
)
AGAINST = {
    "opioid": (
        "There is no documentation of a urine drug screen, a signed pain agreement, or a review of "
        "the CURES database.",
        "The 4 A's of ongoing opioid monitoring are not documented in the records provided.",
        "The current regimen amounts to approximately {mme} mg of oral morphine equivalents per "
        "day.",
        "Previous reviews recommended weaning, and there is no documentation that weaning has been "
        "attempted.",
        "The patient has not returned to work, and there is no documented improvement in function "
        "with {drug}.",
        "A urine drug screen dated {rd2} was inconsistent with the prescribed medications, and "
        "this was not addressed by the provider.",
        "There is no documentation of the least reported pain, average pain, or duration of pain "
        "relief with {drug}.",
        "The patient has been maintained on opioids for an extended period without a clear "
        "benefit.",
    ),
    "benzodiazepine": (
        "In this case, the patient has been prescribed {drug} since at least {since}, well beyond "
        "the 4 week limit recommended by the guidelines.",
        "{Drug} is being used for {benzo_use}, for which long-term use is not supported.",
        "The documentation does not indicate extenuating circumstances which would necessitate "
        "going against guideline recommendations.",
        "The records note that a prior reviewer modified the request to allow weaning.",
        "There is no documentation of a psychiatric evaluation or of a trial of an "
        "antidepressant for the patient's anxiety.",
    ),
    "muscle_relaxant": (
        "{Drug} has been prescribed on a chronic basis since at least {since}.",
        "There is no documentation of an acute exacerbation of low back pain or of muscle spasm "
        "on the most recent examination.",
        "The request for quantity {qty} exceeds the short course of therapy recommended by the "
        "guidelines.",
        "Physical exam revealed no evidence of acute muscle spasms.",
        "The patient is also taking other sedating medications, which increases the risk of "
        "adverse effects.",
    ),
    "nsaid": (
        "There is no documentation of the response to prior NSAID use.",
        "The patient has a history of gastritis, which increases the risk of NSAID therapy.",
        "There is no documentation of laboratory monitoring of renal and hepatic function.",
        "The patient has been taking NSAIDs continuously since {since}, and the guidelines do not "
        "support long-term use.",
    ),
    "ppi": (
        "There is no documentation of gastrointestinal complaints or risk factors that would "
        "support this request.",
        "The patient is younger than 65 years and has no history of peptic ulcer disease, GI "
        "bleeding, or perforation.",
        "The concurrent request for an NSAID was not found medically necessary.",
        "There is no documentation of dyspepsia secondary to NSAID therapy.",
    ),
    "anticonvulsant": (
        "There is no documentation of a neuropathic component to the patient's pain.",
        "There is no documentation of at least a 30% reduction in pain with the medication.",
        "The records do not document side effects or functional improvement with {drug}.",
    ),
    "antidepressant": (
        "The records do not document an improvement in function, sleep, or mood with {drug}.",
        "There is no documentation of a diagnosis of depression or neuropathic pain that would "
        "support this medication.",
    ),
    "sleep": (
        "The documentation does not describe the patient's sleep hygiene or the response to prior "
        "treatment.",
        "{Drug} has been prescribed for longer than the recommended two to six weeks.",
        "The etiology of the patient's sleep disturbance has not been evaluated.",
        "There is no documentation of the specific components of insomnia being treated.",
    ),
    "compound": (
        "There is no documentation of a failed trial of antidepressants and anticonvulsants.",
        "The compounded product contains at least one ingredient that is not recommended for "
        "topical use.",
        "The provider did not explain why the patient requires a compounded product rather than "
        "commercially available medications.",
        "The quantity and the area of application are not specified.",
    ),
    "topical": (
        "There is no documentation of a failed trial of antidepressants and anticonvulsants.",
        "The product contains at least one ingredient that is not recommended for topical use.",
        "The area of application is not specified in the request.",
        "The patient's pain is not described as localized peripheral neuropathic pain.",
        "The patient is able to take oral medications, and there is no documented intolerance.",
    ),
    "lidoderm": (
        "There is no documentation of localized peripheral neuropathic pain.",
        "There is no documentation of a failed trial of first-line therapy such as gabapentin or a "
        "tricyclic antidepressant.",
        "The area of application and the number of patches per day are not specified.",
    ),
    "antiemetic": (
        "The nausea is attributed to the chronic use of opioids, for which antiemetics are not "
        "recommended.",
        "The patient is not undergoing surgery, chemotherapy, or radiation treatment.",
    ),
    "laxative": (
        "The concurrent opioid request was not found medically necessary.",
        "There is no documentation of constipation or of a trial of dietary measures.",
    ),
    "barbiturate": (
        "The patient has been using {drug} for headaches on a chronic basis.",
        "There is no documentation of the frequency of headaches or the response to the "
        "medication.",
    ),
    "triptan": (
        "There is no documentation of a diagnosis of migraine headaches.",
        "The frequency of the headaches and the response to the medication are not documented.",
    ),
    "steroid": (
        "There is no documentation of acute radicular pain.",
        "The patient's pain is chronic, and oral steroids are not recommended for chronic pain.",
    ),
    "medical_food": (
        "There is no documentation of a distinctive nutritional requirement.",
        "The patient does not have a nutritional deficiency documented in the records.",
    ),
    "imaging": (
        "In this case, there is no documentation of a focal neurologic deficit on the most recent "
        "examination.",
        "There is no documentation of red flag findings or a significant change in symptoms since "
        "the prior study.",
        "A prior study dated {idate} already documented {img}, and no interval change is "
        "described.",
        "There is no documentation that the results of the study would change the treatment plan.",
        "The patient is not described as a surgical candidate, and surgery is not being "
        "considered.",
        "There is no documentation of a recent course of conservative care, such as physical "
        "therapy, prior to the request.",
        "The examination of the {short} did not document instability, locking, or a loss of "
        "strength.",
    ),
    "emg": (
        "The patient's radiculopathy is already clinically obvious on examination.",
        "There is no documentation of neurologic symptoms in the {extremity} extremities.",
        "An electrodiagnostic study performed on {idate} was reported, and there is no "
        "documentation of a change in symptoms since then.",
        "The neurologic examination did not document sensory or motor deficits.",
    ),
    "therapy": (
        "The patient has already completed {n_done} sessions of {therapy} without documented "
        "objective functional improvement.",
        "The request exceeds the number of visits recommended by the guidelines.",
        "There is no indication that the patient is participating in an independent home exercise "
        "program.",
        "There is no documentation of objective functional improvement from the prior sessions.",
        "The need for ongoing skilled supervised therapy above a self-directed home exercise "
        "program is not established.",
        "The number of prior sessions and the response to them are not documented.",
        "The patient should be well versed in a home exercise program by now.",
    ),
    "injection": (
        "Radiculopathy has not been corroborated by imaging studies or electrodiagnostic testing.",
        "A prior injection on {idate} did not provide at least 50% pain relief for six to eight "
        "weeks.",
        "The request includes more levels than the guidelines support.",
        "The examination documents radicular findings, which argue against this procedure.",
        "There is no documentation of circumscribed trigger points with a twitch response and "
        "referred pain.",
        "There is no documentation of failure of conservative treatment for at least four to six "
        "weeks.",
        "The procedure is not part of an active rehabilitation program.",
    ),
    "surgery": (
        "There is no clear imaging evidence of a lesion that has been shown to benefit from "
        "surgical repair.",
        "The patient has not failed three to six months of conservative care, including "
        "injections.",
        "There is no documentation of a psychological screening prior to the proposed surgery.",
        "There is no documentation of instability on flexion and extension radiographs.",
        "The imaging findings do not correlate with the clinical examination.",
        "Electrodiagnostic confirmation of the diagnosis was not provided.",
        "The patient continues to smoke, and there is no documentation of smoking cessation.",
    ),
    "equipment": (
        "There is no documentation of a one-month trial with documented outcomes.",
        "The specific short and long-term goals of treatment with the device are not provided.",
        "The request is not in the setting of a recent surgery.",
        "The request is for purchase, and there is no documentation of a successful rental period.",
        "The patient is well beyond the acute phase of the injury.",
        "The device is not being used as an adjunct to a program of functional restoration.",
    ),
    "service": (
        "The reason for the request and the specific questions to be answered are not documented.",
        "The primary treating physician has not documented why the patient's care cannot be "
        "managed without this service.",
        "There is no documentation of risk stratification for aberrant drug behavior.",
        "The patient is not homebound, and the services requested are homemaker services.",
        "There is no documentation that a home exercise program has failed or that specialized "
        "equipment is needed.",
        "Negative predictors of success have not been addressed.",
        "There is no documentation that the patient has a job to return to.",
        "The number of prior sessions and the objective response to them are not documented.",
    ),
}
AGAINST_PROC = (
    "The records do not document failure of a recent course of conservative care.",
    "The medical records do not clearly describe the specific goals of the requested treatment.",
    "The physical examination findings are not consistent with the requested treatment.",
    "The request does not specify the frequency, the duration, or the body part to be treated.",
    "Given the date of injury in {doi_year}, the patient is well beyond the acute phase of the "
    "injury.",
    "The records do not indicate the outcome of prior similar treatment.",
    "The documentation does not show that less costly alternatives have been tried and failed.",
    "Per the report of {rd}, the patient's examination was unchanged from prior visits.",
    "The documentation provided is limited and does not support the request.",
)
FOR_ITEM = (
    "In this case, the patient presents with {f1} and has failed a course of conservative "
    "treatment.",
    "The documentation demonstrates a {improve}% improvement in pain and an increased ability "
    "to {adl} with the prior treatment.",
    "The request is consistent with the guideline recommendations.",
    "The treating physician has documented objective functional improvement, including a "
    "reduction in the use of other medications.",
    "The patient's symptoms have persisted for more than six weeks despite conservative care.",
    "The requested quantity is within the guideline recommendations.",
    "The records document that the patient returned to modified work with the treatment.",
    "The progress report dated {rd} documents the specific goals of the request.",
)
FOR = {
    "medication": (
        "There are no documented aberrant drug-taking behaviors, and a recent urine drug screen "
        "was consistent with the prescribed medications.",
        "The provider documented that {drug} reduces pain from {p2}/10 to {p1}/10 and allows the "
        "patient to {adl}.",
        "The medication is being used as part of a weaning plan documented by the provider.",
        "There is documentation of a trial of first-line agents that failed or were not tolerated.",
        "The patient has documented risk factors for gastrointestinal events.",
    ),
    "imaging": (
        "The clinical findings include a progressive neurologic deficit.",
        "The patient has failed more than six weeks of conservative care, and surgery is being "
        "considered.",
        "No prior imaging of the {short} has been performed.",
    ),
    "emg": (
        "The patient has persistent numbness and tingling in the {extremity} extremities without "
        "clear evidence of radiculopathy on examination.",
        "Electrodiagnostic testing will help differentiate between radiculopathy and a peripheral "
        "entrapment neuropathy.",
    ),
    "therapy": (
        "The patient has not received prior therapy for the {short}.",
        "The requested number of sessions is within the guideline recommendations for an initial "
        "trial.",
        "The records document objective functional improvement with prior sessions.",
    ),
    "injection": (
        "Radiculopathy is documented on examination and corroborated by the MRI findings.",
        "A prior injection provided more than 50% pain relief for more than six weeks with a "
        "reduction in medication use.",
        "The patient has failed conservative treatment including physical therapy, NSAIDs and "
        "muscle relaxants.",
    ),
    "surgery": (
        "The imaging findings correlate with the clinical examination.",
        "The patient has failed more than six months of conservative care, including injections "
        "and physical therapy.",
        "There is clear clinical and imaging evidence of a lesion that has been shown to benefit "
        "from surgical repair.",
    ),
    "equipment": (
        "The request is in the setting of a recent surgery.",
        "A one-month trial documented decreased pain and medication use.",
        "The device will be used as an adjunct to an active home exercise program.",
    ),
    "service": (
        "The diagnosis is complex, and the plan of care may benefit from additional expertise.",
        "The patient is on chronic opioid therapy, and periodic testing is supported.",
        "The patient has completed an adequate evaluation and is motivated to change.",
    ),
}
# Which pools an item draws on, by rationale topic.
GROUP_OF_TOPIC = {
    "mri": "imaging",
    "xray": "imaging",
    "ct": "imaging",
    "emg": "emg",
    "pt": "therapy",
    "chiro": "therapy",
    "acupuncture": "therapy",
    "esi": "injection",
    "facet": "injection",
    "tpi": "injection",
    "joint_injection": "injection",
    "surgery": "surgery",
    "tens": "equipment",
    "cold": "equipment",
    "brace": "equipment",
    "dme": "equipment",
    "uds": "service",
    "consult": "service",
    "fce": "service",
    "frp": "service",
    "psych": "service",
    "home_health": "service",
    "gym": "service",
    "associated": "surgery",
}
BENZO_USES = ("muscle spasm", "anxiety", "insomnia", "nighttime leg cramps", "panic attacks")
# The first words of an associated service's rationale: (surgery decision, service decision).
ASSOCIATED_LEADS = {
    ("upheld", "upheld"): (
        "Since the primary surgical procedure is not medically necessary, none of the associated "
        "services are medically necessary.",
        "As the requested surgery has not been found medically necessary, the associated service "
        "is not needed.",
        "The concurrent request for surgery was not supported.",
    ),
    ("overturned", "overturned"): (
        "The concurrent request for surgery is supported.",
        "As the surgical procedure has been found medically necessary, the associated service is "
        "appropriate.",
    ),
    ("overturned", "upheld"): (
        "Although the concurrent request for surgery is supported, this service is not.",
        "The requested surgery has been found medically necessary; however, the associated "
        "service as requested exceeds the guideline recommendations.",
    ),
}
SURGERY_RULES = {
    "fusion": "surgery_spine",
    "discectomy": "surgery_spine",
    "laminectomy": "surgery_spine",
    "shoulder_scope": "surgery_shoulder",
    "knee_scope": "surgery_knee",
    "tka": "surgery_knee",
    "ctr": "surgery_hand",
    "tha": "surgery_hip",
}
CONCLUSIONS_UPHELD = (
    "Therefore, the request for {req} is not medically necessary and appropriate.",
    "As such, the request for {req} is not medically necessary.",
    "Given the above, the request for {req} is not medically necessary.",
    "Consequently, the request for {req} is not medically necessary and appropriate.",
    "The request for {req} is therefore not medically necessary.",
    "Based on the guidelines and the clinical information provided, the request for {req} is "
    "not medically necessary and appropriate.",
    "Therefore, {req} is not medically necessary and appropriate.",
    "As such, the request for {req} cannot be recommended as medically necessary at this time.",
    "For these reasons, the request for {req} is not medically necessary.",
)
CONCLUSIONS_OVERTURNED = (
    "Therefore, the request for {req} is medically necessary and appropriate.",
    "As such, the request for {req} is medically necessary.",
    "Given the above, the request for {req} is medically necessary.",
    "Consequently, {req} is medically necessary and appropriate.",
    "The request for {req} is therefore medically necessary and appropriate.",
    "Based on the guidelines and the clinical information provided, the request for {req} is "
    "medically necessary and appropriate.",
)
OPIOID_DISCLAIMER = (
    "This decision addresses the medical necessity of opioids as they have been prescribed to "
    "this patient. This medical necessity decision should not be interpreted as a recommendation "
    "to stop long-term opioids abruptly and the patient is advised to speak with their treating "
    "physician. The treating physician and the patient are advised to consult the MTUS Opioids "
    'Treatment Guidelines ("Tapering opioids"), and if necessary, other relevant guidelines, '
    "regarding the most appropriate method for weaning and terminating opioids for this patient."
)
# The reviewer's recap of the case inside a rationale.
RECAP = (
    "Per the progress report dated {rd}, the patient complains of {complaint}.",
    "The patient is a {age} year old {sex} with {dx_one}.",
    "The treating physician documented {f1}.",
    "Treatment to date has included {tx}.",
    "The patient's current medications include {meds}.",
    "On {rd}, the provider requested {req_prose}.",
    "{He} rates the pain at {p2}/10 without medications and {p1}/10 with them.",
    "The records reviewed include progress reports from {rd3} through {rd}.",
    "The injured worker has been treated for {dx_one} since the {doi_year} injury.",
    "This is a request for {req_prose}.",
    "The most recent examination documented {f2}.",
    "The patient continues to work {work_note}.",
)
WORK_NOTES = ("modified duty", "full duty", "with restrictions", "part time")
CA_NO_CITATION = "The Claims Administrator did not cite any medical evidence for its decision."
CA_OUTSIDE = (
    "The Claims Administrator based their decision on recommendation(s) outside of the MTUS "
    "Guidelines."
)
CA_LEGACY_NOT_MTUS = "The Claims Administrator did not base their decision on the MTUS."
REVIEWER_OUTSIDE = (
    "The Expert Reviewer based their decision on recommendation(s) outside of the MTUS Guidelines."
)
REVIEWER_NO_CITATION = "The Expert Reviewer did not cite any medical evidence for its decision."

# ---------------------------------------------------------------------------------------------
# Generation
# ---------------------------------------------------------------------------------------------


@dataclass
class GeneratedLetter:
    """One synthetic letter: where it goes, its text, and the truth it was generated from."""

    index: int
    case_number: str
    path: str  # relative to the corpus folder: "000/CM19-0123456.txt"
    text: str
    truth: dict = field(repr=False)


def _cumulative(weights):
    values, cum, total = [], [], 0.0
    for value, weight in weights:
        total += weight
        values.append(value)
        cum.append(total)
    return values, cum


_ITEM_COUNTS = _cumulative(ITEM_COUNT_WEIGHTS)
_HEADER_YEARS = _cumulative(HEADER_YEAR_WEIGHTS)
_REGION_CHOICE = _cumulative(REGION_WEIGHTS)


def _weighted(rng: random.Random, table) -> object:
    values, cum = table
    return rng.choices(values, cum_weights=cum)[0]


def case_number(seed: int, index: int, year: int) -> str:
    """The case number of letter `index`: unique within a corpus whatever the years drawn.

    The 7-digit sequence is an affine bijection of the index (multiplier coprime to the
    modulus), so two letters never share one; the first million use 0xxxxxx as DWC's do.
    """
    if index < 1_000_000:
        seq = (index * 7_654_321 + seed * 104_729) % 1_000_000
    else:
        seq = 1_000_000 + ((index - 1_000_000) * 7_654_321 + seed * 104_729) % 9_000_000
    return f"CM{year % 100:02d}-{seq:07d}"


def _fmt_date(d: dt.date, style: int) -> str:
    if style == 0:
        return f"{d.month:02d}/{d.day:02d}/{d.year}"
    if style == 1:
        return f"{d.month}/{d.day}/{d.year % 100:02d}"
    if style == 2:
        return f"{d.month:02d}-{d.day:02d}-{d.year}"
    if style == 3:
        return f"{MONTHS[d.month - 1]} {d.day}, {d.year}"
    return f"{d.month:02d}/{d.day:02d}/{d.year % 100:02d}"


def _iso(d: dt.date) -> str:
    return d.isoformat()


def _join_list(items: list[str]) -> str:
    if len(items) == 1:
        return items[0]
    if len(items) == 2:
        return f"{items[0]} and {items[1]}"
    return ", ".join(items[:-1]) + ", and " + items[-1]


def _cap(s: str) -> str:
    return s[:1].upper() + s[1:]


def _in_prose(request: str) -> str:
    """A procedure request as a sentence would name it: "Left knee MRI" -> "left knee MRI"."""
    if len(request) > 1 and request[0].isupper() and request[1].islower():
        return request[0].lower() + request[1:]
    return request


class FastRandom(random.Random):
    """random.Random with choice, randint, shuffle and sample built on random() alone.

    The stock methods draw integers bit by bit in Python, which made them most of the
    generator's time; these are several times faster and just as deterministic.
    """

    def choice(self, seq):
        return seq[int(self.random() * len(seq))]

    def randint(self, a, b):
        return a + int(self.random() * (b - a + 1))

    def randrange(self, start, stop=None, step=1):
        if stop is None:
            return int(self.random() * start)
        return start + int(self.random() * (stop - start))

    def shuffle(self, x):
        rnd = self.random
        for i in range(len(x) - 1, 0, -1):
            j = int(rnd() * (i + 1))
            x[i], x[j] = x[j], x[i]

    def sample(self, population, k, *, counts=None):
        pool = list(population)
        rnd = self.random
        n = len(pool)
        for i in range(k):
            j = i + int(rnd() * (n - i))
            pool[i], pool[j] = pool[j], pool[i]
        return pool[:k]


def _words(text: str) -> int:
    return text.count(" ") + 1


class _Letter:
    """State for composing one letter."""

    __slots__ = (
        "rng",
        "index",
        "seed",
        "layout",
        "date_style",
        "sex",
        "pron",
        "region",
        "side",
        "region2",
        "slots",
        "items",
        "dates",
        "year",
        "era",
    )

    def __init__(self, seed: int, index: int):
        self.rng = FastRandom(f"imr-corpus:{seed}:{index}")
        self.seed = seed
        self.index = index


def generate_letter(seed: int, index: int) -> GeneratedLetter:
    """Compose letter `index` of the corpus for `seed`: its text and ground truth."""
    st = _Letter(seed, index)
    rng = st.rng
    st.layout = LEGACY if rng.random() < LEGACY_SHARE else CASE_NUMBER_HEADER
    dates = _dates(rng, st.layout)
    st.dates = dates
    st.year = dates["decision"].year
    st.era = "early" if st.year <= 2014 else ("mid" if st.year <= 2016 else "late")
    st.date_style = rng.choice((0, 0, 1, 2, 3, 4)) if st.layout != LEGACY else rng.choice((0, 1, 4))
    st.sex = "male" if rng.random() < 0.55 else "female"
    st.pron = (
        {"he": "he", "He": "He", "his": "his", "His": "His", "him": "him"}
        if st.sex == "male"
        else {"he": "she", "He": "She", "his": "her", "His": "Her", "him": "her"}
    )
    st.region = REGIONS[_weighted(rng, _REGION_CHOICE)]
    st.side = rng.choice(SIDES)
    st.region2 = REGIONS[_weighted(rng, _REGION_CHOICE)] if rng.random() < 0.3 else None
    age_at_injury = max(19, min(70, int(rng.gauss(44, 10))))
    age = age_at_injury + (dates["received"].year - dates["injury"].year)
    age = min(age, 80)
    st.slots = _base_slots(st, age)

    n_items = _weighted(rng, _ITEM_COUNTS)
    items = _choose_items(st, n_items)
    st.items = items

    case_no = case_number(seed, index, dates["received"].year)
    reviewer = _reviewer(st)
    diagnoses, summary = _summary(st, age)
    item_blocks = [_item_text(st, it) for it in items]

    text, words = _render(st, case_no, reviewer, summary, item_blocks)

    truth = {
        "case_number": case_no,
        "layout": st.layout,
        "style": st.slots["_style"],
        "date_of_injury": _iso(dates["injury"]),
        "ur_denial_date": _iso(dates["ur"]),
        "application_received": _iso(dates["received"]),
        "date_assigned": _iso(dates["assigned"]),
        "decision_date": _iso(dates["decision"]),
        "priority": dates["priority"],
        "reviewer": reviewer["truth"],
        "patient": {"age": age, "sex": st.sex},
        "diagnoses": diagnoses,
        "items": [
            {
                "request": it["request"],
                "decision": it["decision"],
                "partial_authorization": it["partial"],
                "treatment": {
                    "name": it["name"],
                    "class": it["cls"],
                    "category": it["category"],
                },
                "guidelines": it["guidelines"],
            }
            for it in items
        ],
        "words": words,
    }
    shard = f"{index // SHARD_SIZE:03d}"
    return GeneratedLetter(index, case_no, f"{shard}/{case_no}.txt", text, truth)


def _dates(rng: random.Random, layout: str) -> dict:
    if layout == LEGACY:
        # July 2013 (the first IMRs) to October 2014, so the decision falls in 2013-2014.
        start = dt.date(2013, 7, 1).toordinal()
        received = dt.date.fromordinal(start + rng.randrange(488))
    else:
        year = _weighted(rng, _HEADER_YEARS)
        first = dt.date(year, 1, 1) if year > 2014 else dt.date(2014, 7, 1)
        last = dt.date(year, 11, 1)  # the decision, at most 59 days on, stays in the year
        received = dt.date.fromordinal(
            first.toordinal() + rng.randrange(last.toordinal() - first.toordinal())
        )
    priority = "Expedited" if rng.random() < 0.03 else "Standard"
    ur = received - dt.timedelta(days=rng.randint(3, 40))
    assigned = received + dt.timedelta(days=rng.randint(1, 14))
    if priority == "Expedited":
        decision = assigned + dt.timedelta(days=rng.randint(2, 5))
    else:
        decision = assigned + dt.timedelta(days=rng.randint(12, 45))
    r = rng.random()
    if r < 0.25:
        lag = rng.randint(30, 365)
    elif r < 0.65:
        lag = rng.randint(365, 5 * 365)
    else:
        lag = rng.randint(5 * 365, 18 * 365)
    injury = ur - dt.timedelta(days=lag)
    if injury.year < 1985:
        injury = dt.date(1985 + rng.randrange(5), rng.randint(1, 12), rng.randint(1, 28))
    return {
        "injury": injury,
        "ur": ur,
        "received": received,
        "assigned": assigned,
        "decision": decision,
        "priority": priority,
    }


def _between(rng: random.Random, a: dt.date, b: dt.date) -> dt.date:
    lo, hi = a.toordinal(), b.toordinal()
    if hi <= lo:
        return a
    return dt.date.fromordinal(rng.randint(lo, hi))


def _region_slots(region: Region, side: str) -> dict:
    name = region.name.format(side=side)
    short = region.short.format(side=side)
    return {"region": name, "Region": _cap(name), "short": short}


def _base_slots(st: _Letter, age: int) -> dict:
    rng = st.rng
    d = st.dates
    style = st.date_style
    p1 = rng.randint(3, 7)
    s = dict(st.pron)
    s.update(_region_slots(st.region, st.side))
    s.update(
        age=age,
        side=st.side,
        side_cap=_cap(st.side),
        p1=p1,
        p2=min(10, p1 + rng.randint(1, 4)),
        pain_word=rng.choice(PAIN_WORDS),
        job=rng.choice(JOBS),
        doi=_fmt_date(d["injury"], style),
        doi_year=d["injury"].year,
        ur=_fmt_date(d["ur"], style),
        rd=_fmt_date(d["ur"] - dt.timedelta(days=rng.randint(5, 45)), style),
        rd2=_fmt_date(_between(rng, d["injury"], d["ur"]), style),
        rd3=_fmt_date(_between(rng, d["injury"], d["ur"]), style),
        rfa=_fmt_date(d["ur"] - dt.timedelta(days=rng.randint(2, 14)), style),
        idate=_fmt_date(_between(rng, d["injury"], d["ur"]), style),
        since=str(_between(rng, d["injury"], d["ur"]).year),
        improve=rng.choice((30, 40, 50, 60)),
        n_done=rng.choice((6, 8, 10, 12, 18, 24)),
        therapy=rng.choice(("physical therapy", "chiropractic care", "acupuncture")),
        extremity=st.region.extremity,
    )
    s["img"] = rng.choice(st.region.imaging).format(side=st.side)
    s.update(
        bp=f"{rng.randint(112, 158)}/{rng.randint(68, 96)}",
        prior_proc=rng.choice(PRIOR_PROCEDURES).format(
            level=rng.choice(("L4-5", "L5-S1", "C5-6")), side=st.side
        ),
        prior_year=_between(rng, d["injury"], d["ur"]).year,
        sleep_hours=rng.choice(("3", "4", "4-5", "5", "2-3")),
        lift=rng.choice((10, 15, 20, 25, 30)),
        n_prior=rng.choice((6, 8, 12, 18, 24)),
        prior_therapy=rng.choice(("physical therapy", "chiropractic care", "acupuncture")),
        bmi=f"{rng.randint(22, 41)}.{rng.randint(0, 9)}",
        trigger=rng.choice(TRIGGERS),
        pmh=_join_list(rng.sample(PMH, rng.randint(1, 3))),
        rom=rng.choice((20, 25, 30, 40, 50)),
    )
    s["mech"] = rng.choice(MECHANISMS).format(**st.pron)
    s["adl"] = rng.choice(ADLS).format(**st.pron)
    if st.layout == LEGACY:
        s["_style"] = rng.choice(("double", "double", "plain"))
    else:
        s["_style"] = rng.choice(("plain", "plain", "plain", "wrapped", "wrapped"))
    return s


# Item selection --------------------------------------------------------------------------------

_DRUG_TOPIC_WEIGHT = {
    "opioid": 5.0,
    "muscle_relaxant": 3.5,
    "benzodiazepine": 1.6,
    "ppi": 2.2,
    "nsaid": 1.6,
    "anticonvulsant": 2.0,
    "topical": 2.6,
    "lidoderm": 1.0,
    "sleep": 1.2,
    "antidepressant": 0.9,
    "antiemetic": 0.5,
    "laxative": 0.4,
    "barbiturate": 0.3,
    "triptan": 0.2,
    "steroid": 0.2,
    "medical_food": 0.3,
}
_DRUG_TABLE = _cumulative(
    [(d, _DRUG_TOPIC_WEIGHT[d.topic] / sum(x.topic == d.topic for x in DRUGS)) for d in DRUGS]
)
_PROC_WEIGHT = {
    "mri": 6.0,
    "xray": 1.6,
    "ct": 0.5,
    "emgncv": 2.2,
    "ncv": 0.5,
    "pt": 5.0,
    "chiro": 1.5,
    "acupuncture": 2.0,
    "aquatic": 0.5,
    "ot": 0.6,
    "esi": 2.2,
    "facet": 0.9,
    "mbb": 0.5,
    "rfa": 0.5,
    "tpi": 0.8,
    "steroid_inj": 0.5,
    "visco": 0.4,
    "fusion": 0.7,
    "discectomy": 0.4,
    "laminectomy": 0.3,
    "shoulder_scope": 0.8,
    "knee_scope": 0.7,
    "tka": 0.3,
    "ctr": 0.5,
    "tha": 0.2,
    "tens": 1.5,
    "hwave": 0.4,
    "ifc": 0.4,
    "cold": 0.5,
    "lso": 0.6,
    "knee_brace": 0.3,
    "wrist_brace": 0.3,
    "pillow": 0.2,
    "traction": 0.2,
    "uds": 1.4,
    "pain_consult": 0.8,
    "ortho_consult": 0.6,
    "fce": 0.5,
    "frp": 0.6,
    "cbt": 0.5,
    "psychotherapy": 0.5,
    "home_health": 0.3,
    "gym": 0.3,
}
_SURGERIES = tuple(k for k in _ASSOCIATED_FOR)


def _choose_items(st: _Letter, n: int) -> list[dict]:
    rng = st.rng
    items: list[dict] = []
    used: set[str] = set()
    # Three in ten letters with two or more items, where the region allows, dispute a surgery
    # and its associated services (whose decisions follow the surgery's).
    surgery_keys = [k for k in _SURGERIES if st.region.key in PROCEDURES_BY_KEY[k].regions]
    if n >= 2 and surgery_keys and rng.random() < 0.3:
        surgery = PROCEDURES_BY_KEY[rng.choice(surgery_keys)]
        main = _procedure_item(st, surgery, st.region, None)
        items.append(main)
        used.add(surgery.key)
        extras = list(_ASSOCIATED_FOR[surgery.key])
        rng.shuffle(extras)
        for kind in extras[: n - 1]:
            items.append(_associated_item(st, kind, main["decision"]))
            used.add("assoc:" + kind)
    share_meds = rng.choice((0.35, 0.55, 0.75))
    attempts = 0
    while len(items) < n and attempts < 200:
        attempts += 1
        if rng.random() < share_meds:
            drug = _weighted(rng, _DRUG_TABLE)
            key = "drug:" + drug.generic
            if key in used:
                continue
            used.add(key)
            item = _drug_item(st, drug)
            if item["kind"] == "compound":  # two topicals may draw the same compound
                if "compound:" + item["request"] in used:
                    continue
                used.add("compound:" + item["request"])
            items.append(item)
        else:
            region = st.region2 if (st.region2 and rng.random() < 0.3) else st.region
            proc = _pick_procedure(rng, region, items)
            key = f"proc:{proc.key}:{region.key}"
            if key in used:
                continue
            used.add(key)
            items.append(_procedure_item(st, proc, region, None))
    if len(items) < n:  # very unlikely: fill with further compounds
        for compound in COMPOUNDS:
            if len(items) >= n:
                break
            if "compound:" + compound not in used:
                used.add("compound:" + compound)
                items.append(_compound_item(st, compound))
    return items[:n]


def _procedure_table(region_key: str, with_surgery: bool):
    key = (region_key, with_surgery)
    table = _PROCEDURE_TABLES.get(key)
    if table is None:
        table = _cumulative(
            [
                (p, _PROC_WEIGHT[p.key])
                for p in PROCEDURES
                if (p.regions is None or region_key in p.regions)
                and (with_surgery or p.key not in _ASSOCIATED_FOR)
            ]
        )
        _PROCEDURE_TABLES[key] = table
    return table


_PROCEDURE_TABLES: dict = {}


def _pick_procedure(rng: random.Random, region: Region, items: list[dict]) -> Procedure:
    # A letter disputes one surgery at most.
    with_surgery = not any(i["cls"] == "surgery" for i in items)
    return _weighted(rng, _procedure_table(region.key, with_surgery))


def _decide(rng: random.Random, p: float) -> str:
    return "overturned" if rng.random() < p * OVERTURN_SCALE else "upheld"


def _drug_item(st: _Letter, drug: Drug) -> dict:
    rng = st.rng
    if drug.topic == "topical" and rng.random() < 0.4:
        return _compound_item(st, rng.choice(COMPOUNDS))
    dose = rng.choice(drug.doses)
    qty = rng.choice(QUANTITIES)
    name = drug.brand if rng.random() < 0.6 else (drug.written or _cap(drug.generic))
    form = drug.forms[0]
    r = rng.random()
    if form == "":  # topicals, medical foods
        if dose.startswith("#") or r < 0.5:
            request = f"{name} {dose}"
        elif r < 0.8:
            request = f"{name} {dose} #{rng.choice((1, 2, 30, 60))}"
        else:
            request = f"{name} {dose}, apply to the affected area {rng.choice(FREQUENCIES)}"
    elif r < 0.35:
        request = f"{name} {dose} #{qty}"
    elif r < 0.5:
        request = f"{name} {dose} {rng.choice(FREQUENCIES)} #{qty}"
    elif r < 0.6:
        request = f"{qty} {_cap(form)} of {name} {dose}"
    elif r < 0.7:
        request = f"{name} {dose} #{qty} with {rng.choice(('1', '2', 'one', 'two'))} refills"
    elif r < 0.78:
        request = f"Prospective request for 1 prescription of {name} {dose} #{qty}"
    elif r < 0.85:
        request = f"Retrospective {name} {dose} #{qty} (DOS: {st.slots['rfa']})"
    elif r < 0.92:
        request = f"{name} {dose}"
    else:
        request = f"{name} {dose}, {qty} count"
    decision = _decide(rng, drug.overturn)
    item = {
        "kind": "drug",
        "drug": drug,
        "request": request,
        "mention": name,
        "decision": decision,
        "partial": False,
        "name": drug.generic,
        "cls": drug.cls,
        "category": "medication",
        "topic": drug.topic,
        "region": st.region,
        "slots": {
            "qty": qty,
            "mme": rng.choice((60, 90, 120, 150, 180, 240)),
            "benzo_use": rng.choice(BENZO_USES),
        },
    }
    if rng.random() < 0.04 and form != "" and qty >= 60:
        _make_partial(
            item,
            f"{name} {dose} #{qty}",
            f"{name} {dose} #{qty // 2}",
            f"{name} {dose} #{qty - qty // 2}",
        )
    return item


def _compound_item(st: _Letter, compound: str) -> dict:
    rng = st.rng
    return {
        "kind": "compound",
        "drug": None,
        "request": compound,
        "mention": "the compounded cream",
        "decision": _decide(rng, 0.02),
        "partial": False,
        "name": "/".join(
            next(w for w in part.split() if w != "Compounded").lower()
            for part in compound.split(",")
        ),
        "cls": "compounded topical",
        "category": "medication",
        "topic": "compound",
        "region": st.region,
    }


def _procedure_slots(st: _Letter, region: Region) -> dict:
    rng = st.rng
    s = _region_slots(region, st.side)
    spine = region.key == "cervical"
    levels = ("C4-5", "C5-6", "C6-7") if spine else ("L3-4", "L4-5", "L5-S1")
    i = rng.randrange(len(levels) - 1)
    freq_n = rng.choice((2, 2, 3, 1))
    weeks = rng.choice((3, 4, 6, 4))
    s.update(
        side=st.side,
        side_cap=_cap(st.side),
        level=levels[i],
        level2=levels[i + 1],
        Spine="Cervical" if spine else "Lumbar",
        n=rng.choice((6, 6, 8, 12, 10, 4, 18)),
        n_small=rng.choice((2, 3, 4)),
        n_views=rng.choice((2, 3, 4)),
        n_days=rng.choice((7, 14, 30)),
        n_post=rng.choice((8, 12, 16, 24)),
        n_hours=rng.choice((80, 160, 40)),
        n_hours_small=rng.choice((4, 6, 8)),
        freq=rng.choice(
            (
                f"{freq_n} times a week for {weeks} weeks",
                f"{freq_n}x{weeks}",
                f"{freq_n} times per week for {weeks} weeks",
                f"x{freq_n * weeks} sessions",
            )
        ),
        muscles=rng.choice(
            (
                "lumbar paraspinal muscles",
                "bilateral trapezius",
                "cervical paraspinal muscles",
                f"{st.side} upper trapezius",
            )
        ),
        extremity=region.extremity,
    )
    return s


def _procedure_item(st: _Letter, proc: Procedure, region: Region, decision: str | None) -> dict:
    rng = st.rng
    slots = _procedure_slots(st, region)
    if proc.category == "therapy":
        slots["therapy"] = proc.name
    request = _cap(rng.choice(proc.requests).format(**slots))
    item = {
        "kind": "procedure",
        "proc": proc,
        "request": request,
        "mention": _in_prose(request),
        "decision": decision or _decide(rng, proc.overturn),
        "partial": False,
        "name": proc.name,
        "cls": proc.cls,
        "category": proc.category,
        "topic": proc.topic,
        "region": region,
        "slots": slots,
    }
    if proc.key in ("pt", "chiro", "acupuncture") and rng.random() < 0.08:
        total = rng.choice((8, 12, 18))
        given = rng.choice((4, 6))
        noun = {
            "pt": "Physical therapy",
            "chiro": "Chiropractic care",
            "acupuncture": "Acupuncture",
        }[proc.key]
        where = f" to the {slots['short']}"
        _make_partial(
            item,
            f"{noun}{where} {total} sessions",
            f"{noun}{where} {given} sessions",
            f"{noun}{where} {total - given} sessions",
        )
    return item


def _associated_item(st: _Letter, kind: str, main_decision: str) -> dict:
    rng = st.rng
    template = next(t for t, k in ASSOCIATED if k == kind)
    slots = _procedure_slots(st, st.region)
    request = template.format(**slots)
    name, cls, category = _ASSOCIATED_TRUTH[kind]
    # A denied surgery takes its services with it; an approved one may still lose some.
    decision = main_decision if main_decision == "upheld" or rng.random() < 0.85 else "upheld"
    return {
        "kind": "associated",
        "assoc": kind,
        "main_decision": main_decision,
        "request": request,
        "mention": "the associated service",
        "decision": decision,
        "partial": False,
        "name": name,
        "cls": cls,
        "category": category,
        "topic": "associated",
        "region": st.region,
        "slots": slots,
    }


def _make_partial(item: dict, original: str, authorised: str, remaining: str) -> None:
    """Make the item a partial authorisation: the IMR decides only the remaining portion."""
    item["partial"] = True
    item["_partial"] = (original, authorised)
    item["request"] = remaining


# Guideline citations ---------------------------------------------------------------------------


def _pages(spec: str) -> list[int]:
    out: list[int] = []
    for part in spec.split(","):
        part = part.strip()
        if not part:
            continue
        if "-" in part:
            a, b = part.split("-")
            out.extend(range(int(a), int(b) + 1))
        else:
            out.append(int(part))
    return list(dict.fromkeys(out))


def _cite(source, document, year, sections, pages) -> dict:
    return {
        "source": source,
        "document": document,
        "year": year,
        "sections": list(sections),
        "pages": list(pages),
    }


_CPMTG = "Chronic Pain Medical Treatment Guidelines"


def _mtus_citations(st: _Letter, item: dict, rng: random.Random):
    """The MTUS statement for an item: (text, [citation]) or None if the MTUS is silent."""
    era = st.era
    region = item["region"]
    if item["kind"] == "drug":
        drug = item["drug"]
        sections, pages = drug.cp
        if not sections:
            return None
        if drug.topic == "opioid" and era == "late" and rng.random() < 0.7:
            sec = rng.choice(OPIOID_2016_SECTIONS)
            return (
                f"MTUS Opioid Treatment 2016, Section(s): {sec}",
                [_cite("MTUS", "Opioids Treatment Guidelines", 2016, [sec], [])],
            )
        return _cp_citation(st, rng, sections, pages)
    if item["kind"] == "compound":
        return _cp_citation(st, rng, ("Topical Analgesics",), "111-113")
    if item["kind"] == "associated":
        kind = item["assoc"]
        if kind == "pt":
            sec = region.postsurgical
            return (
                f"MTUS Postsurgical Treatment 2009, Section(s): {sec}",
                [_cite("MTUS", "Postsurgical Treatment Guidelines", 2009, [sec], [])],
            )
        return None
    proc = item["proc"]
    spec = proc.mtus
    if not spec:
        return None
    if spec[0] == "cp":
        if proc.key == "uds" and era == "late" and rng.random() < 0.5:
            return (
                f"MTUS Opioid Treatment 2016, Section(s): {UDS_2016_SECTION}",
                [_cite("MTUS", "Opioids Treatment Guidelines", 2016, [UDS_2016_SECTION], [])],
            )
        return _cp_citation(st, rng, spec[1], spec[2])
    if spec[0] == "acu":
        if era == "early" and rng.random() < 0.6:
            return (
                "MTUS Acupuncture Medical Treatment Guidelines",
                [_cite("MTUS", "Acupuncture Medical Treatment Guidelines", None, [], [])],
            )
        return (
            "MTUS Acupuncture Treatment 2007",
            [_cite("MTUS", "Acupuncture Medical Treatment Guidelines", 2007, [], [])],
        )
    if spec[0] == "ime":
        # Consultations: ACOEM chapter 7 as MTUS adopted it, or the Chronic Pain office visits.
        if era == "early":
            return (
                "MTUS/ACOEM Practice Guidelines, Chapter 7, page 127",
                [_cite("MTUS", "General Approaches", None, [], [127])],
            )
        year = 2016 if era == "late" or st.year == 2016 else 2009
        return _cp_citation(st, rng, ("Office visits",), "", year=year)
    # a complaints chapter of the region
    chapter = _MTUS_CHAPTERS.get(region.key)
    if chapter is None:
        return None
    written, document, year, number = chapter
    sections = list(spec[1])
    if rng.random() < 0.25:
        extra = rng.choice(("Summary", "Initial Care", "Physical Methods", "Special Studies"))
        if extra not in sections:
            sections.append(extra)
    if era == "early" and rng.random() < 0.7:
        pages = _CHAPTER_PAGES[number][sections[0]]
        if rng.random() < 0.5:
            text = f"MTUS/ACOEM Practice Guidelines, Chapter {number}, pages {pages}"
        else:
            text = f"MTUS ACOEM Chapter {number} {written}, pages {pages}"
        return text, [_cite("MTUS", document, None, [], _pages(pages))]
    text = f"MTUS {written} {year}, Section(s): {', '.join(sections)}"
    return text, [_cite("MTUS", document, year, sections, [])]


def _cp_citation(st: _Letter, rng: random.Random, sections, pages, year=None):
    sections = list(sections)
    if year is None and st.era == "early" and pages:
        name = rng.choice(
            (
                "Chronic Pain Medical Treatment Guidelines",
                "Chronic Pain Treatment Guidelines",
                "Chronic Pain Medical Treatment Guidelines",
            )
        )
        return (
            f"MTUS {name} {', '.join(sections)} Page(s): {pages}",
            [_cite("MTUS", _CPMTG, None, sections, _pages(pages))],
        )
    if year is None:
        year = 2016 if (st.era == "late" or (st.year == 2016 and rng.random() < 0.6)) else 2009
    return (
        f"MTUS Chronic Pain Medical Treatment {year}, Section(s): {', '.join(sections)}",
        [_cite("MTUS", _CPMTG, year, sections, [])],
    )


def _odg_section(item: dict) -> tuple[str, str, str] | None:
    """(chapter as written, canonical chapter, section) of the ODG guidance for an item."""
    if item["kind"] in ("drug", "compound"):
        section = item["drug"].odg if item["drug"] else "Compound drugs"
        return "Pain", "Pain (Chronic)", section
    if item["kind"] == "associated":
        kind = item["assoc"]
        region = item["region"]
        section = {
            "pt": "Physical therapy",
            "cold": "Continuous-flow cryotherapy",
            "assistant": "Surgical assistant",
            "clearance": "Preoperative lab testing",
            "sling": "Postoperative abduction pillow sling",
            "crutches": "Walking aids (canes, crutches, braces, orthoses, & walkers)",
            "cpm": "Continuous passive motion (CPM)",
            "lso": "Lumbar supports",
        }[kind]
        chapter = "Low Back" if kind in ("assistant", "clearance") else None
        if chapter:
            return "Low Back Chapter", "Low Back", section
        return region.odg, region.odg_canonical, section
    proc = item["proc"]
    if not proc.odg:
        return None
    if proc.odg_chapter:
        chapter = proc.odg_chapter
        canonical = {
            "Pain (Chronic)": "Pain (Chronic)",
            "Mental Illness & Stress": "Mental Illness and Stress",
            "Low Back Chapter": "Low Back",
            "Fitness For Duty": None,
        }[chapter]
        if canonical is None:
            return None
        return chapter, canonical, proc.odg
    region = item["region"]
    return region.odg, region.odg_canonical, proc.odg


def _odg_citation(st: _Letter, item: dict, rng: random.Random):
    found = _odg_section(item)
    if found is None:
        return None
    written, canonical, section = found
    if written == "Pain" and rng.random() < 0.5:
        written = rng.choice(("Pain (Chronic)", "Pain Chapter", "Chronic Pain Chapter"))
    year = None
    r = rng.random()
    if st.era != "early" and r < 0.2:
        year = min(st.year, max(2013, st.year - rng.randint(0, 1)))
        text = f"Official Disability Guidelines (ODG), {year}, {written}, {section}"
    elif st.era != "early" and r < 0.35:
        year = min(st.year, max(2013, st.year - rng.randint(0, 1)))
        text = f"Official Disability Guidelines (ODG) {written} ({year}), {section}"
    elif r < 0.6:
        text = f"Official Disability Guidelines (ODG) {written}, {section}"
    elif r < 0.8:
        text = f"Official Disability Guidelines (ODG), {written}, {section}"
    else:
        stamp = _fmt_date(st.dates["ur"] - dt.timedelta(days=rng.randint(30, 400)), 4)
        text = f"Official Disability Guidelines (ODG), {written} (updated {stamp}), {section}"
    return text, [_cite("ODG", "Official Disability Guidelines", year, [canonical, section], [])]


_ACOEM3_FOR_TOPIC = {
    "opioid": ("Opioids", ("128-130", "95")),
    "muscle_relaxant": ("Chronic Pain", ("855-856", "912")),
    "benzodiazepine": ("Chronic Pain", ("914",)),
    "nsaid": ("Chronic Pain", ("855-856",)),
    "anticonvulsant": ("Chronic Pain", ("872-875",)),
    "topical": ("Chronic Pain", ("883",)),
    "compound": ("Chronic Pain", ("883",)),
}


def _acoem_citation(st: _Letter, item: dict, rng: random.Random):
    if st.era == "early":
        return None
    if item["kind"] in ("drug", "compound"):
        found = _ACOEM3_FOR_TOPIC.get(item["topic"])
        if not found:
            return None
        chapter, pages = found
    else:
        region = item["region"]
        chapter, pages = region.acoem3, region.acoem3_pages
    page = rng.choice(pages)
    if rng.random() < 0.5:
        text = f"ACOEM Occupational Medicine Practice Guidelines, 3rd ed., {chapter}, pg. {page}"
        cite = _cite(
            "ACOEM",
            "Occupational Medicine Practice Guidelines, 3rd ed.",
            None,
            [chapter],
            _pages(page),
        )
    else:
        text = f"ACOEM Practice Guidelines, 3rd Edition (2011), {chapter}, pages {page}"
        cite = _cite(
            "ACOEM",
            "Occupational Medicine Practice Guidelines, 3rd ed.",
            2011,
            [chapter],
            _pages(page),
        )
    return text, [cite]


def _reviewer_guideline(st: _Letter, item: dict) -> tuple[str, list[dict], tuple]:
    """The 'MAXIMUS guideline:' statement, the citations it makes, and the lead source."""
    rng = st.rng
    if rng.random() < 0.01:
        return REVIEWER_NO_CITATION, [], ("", None)
    mtus = _mtus_citations(st, item, rng)
    odg = _odg_citation(st, item, rng)
    r = rng.random()
    parts: list[str] = []
    cites: list[dict] = []
    if mtus and (odg is None or r < 0.72):
        parts.append(f"Decision based on {mtus[0]}.")
        cites += mtus[1]
        lead = ("MTUS", mtus[1][0]["document"])
        r2 = rng.random()
        if odg and r2 < 0.25:
            parts.append(f"Decision based on Non-MTUS Citation {odg[0]}.")
            cites += odg[1]
        elif r2 < 0.32:
            acoem = _acoem_citation(st, item, rng)
            if acoem:
                parts.append(f"Decision based on Non-MTUS Citation {acoem[0]}.")
                cites += acoem[1]
    elif odg:
        parts.append(REVIEWER_OUTSIDE if st.era != "early" or rng.random() < 0.5 else "")
        parts.append(f"Decision based on Non-MTUS Citation {odg[0]}.")
        cites += odg[1]
        lead = ("ODG", None)
        if rng.random() < 0.1:
            acoem = _acoem_citation(st, item, rng)
            if acoem:
                parts.append(f"Decision based on Non-MTUS Citation {acoem[0]}.")
                cites += acoem[1]
    else:
        acoem = _acoem_citation(st, item, rng)
        if acoem:
            parts.append(REVIEWER_OUTSIDE)
            parts.append(f"Decision based on Non-MTUS Citation {acoem[0]}.")
            cites += acoem[1]
            lead = ("ACOEM", None)
        else:
            return REVIEWER_NO_CITATION, [], ("", None)
    unique: list[dict] = []
    for c in cites:
        if c not in unique:
            unique.append(c)
    return " ".join(p for p in parts if p), unique, lead


def _claims_guideline(st: _Letter, item: dict, reviewer_text: str) -> str:
    rng = st.rng
    r = rng.random()
    if r < 0.3:
        if reviewer_text == REVIEWER_NO_CITATION:
            return CA_NO_CITATION
        return reviewer_text.replace(REVIEWER_OUTSIDE, CA_OUTSIDE)
    if r < 0.45:
        return CA_NO_CITATION
    if r < 0.6:
        odg = _odg_citation(st, item, rng)
        if odg:
            lead = CA_LEGACY_NOT_MTUS if st.era == "early" else CA_OUTSIDE
            return f"{lead} Decision based on Non-MTUS Citation {odg[0]}."
        return CA_NO_CITATION
    mtus = _mtus_citations(st, item, rng)
    if mtus:
        text = f"Decision based on {mtus[0]}."
        odg = _odg_citation(st, item, rng) if rng.random() < 0.4 else None
        if odg:
            text += f" Decision based on Non-MTUS Citation {odg[0]}."
        return text
    return CA_NO_CITATION


# Item text -------------------------------------------------------------------------------------


def _item_text(st: _Letter, item: dict) -> list[str]:
    """The paragraphs of one item: heading, the two guideline statements, the rationale."""
    rng = st.rng
    reviewer_text, cites, lead = _reviewer_guideline(st, item)
    item["guidelines"] = cites
    claims_text = _claims_guideline(st, item, reviewer_text)
    verdict = "Upheld" if item["decision"] == "upheld" else "Overturned"
    if item.get("_partial"):
        original, authorised = item["_partial"]
        heading = (
            f"{original} was the original request. {authorised} was authorized by the Claims "
            f"Administrator. The remaining IMR eligible portion of the original request, "
            f"{item['request']} is: {verdict}"
        )
    else:
        sep = rng.choice((": ", ":  ", ": "))
        heading = f"{item['request']}{sep}{verdict}"
    rationale = _rationale(st, item, lead)
    paras = [
        heading,
        f"Claims Administrator guideline: {claims_text}",
        f"MAXIMUS guideline: {reviewer_text}",
    ]
    paras.append(f"Decision rationale: {rationale[0]}")
    paras.extend(rationale[1:])
    return paras


_ASSOCIATED_RULES = {
    "pt": "pt",
    "cold": "cold",
    "assistant": "surgery",
    "clearance": "consult",
    "sling": "dme",
    "crutches": "dme",
    "cpm": "dme",
    "lso": "brace",
}
_ASSOCIATED_GROUP = {
    "pt": "therapy",
    "cold": "equipment",
    "assistant": "service",
    "clearance": "service",
    "sling": "equipment",
    "crutches": "equipment",
    "cpm": "equipment",
    "lso": "equipment",
}
_DOC_WORDS = {
    _CPMTG: ("Chronic Pain Medical Treatment Guidelines", "Chronic Pain Guidelines", "guidelines"),
    "Opioids Treatment Guidelines": ("Opioids Treatment Guidelines", "guidelines"),
    "Postsurgical Treatment Guidelines": ("Postsurgical Treatment Guidelines",),
    "Acupuncture Medical Treatment Guidelines": ("Acupuncture Medical Treatment Guidelines",),
}


def _rationale(st: _Letter, item: dict, lead: tuple[str, str | None]) -> list[str]:
    rng = st.rng
    s = dict(st.slots)
    if "slots" in item:
        s.update(item["slots"])
    drug = item.get("drug")
    s["req"] = item["request"]
    s["drug"] = item["mention"]
    s["Drug"] = _cap(item["mention"])
    s["generic"] = drug.generic if drug else item["name"]
    s["topic_noun"] = TOPIC_NOUNS.get(item["topic"], "this treatment")
    s["f1"] = rng.choice(item["region"].findings).format(side=st.side)
    s["req_prose"] = _in_prose(item["request"]) if "proc" in item else item["request"]
    target = int(rng.triangular(100, 400, 190))
    upheld = item["decision"] == "upheld"
    # Opioid denials since 2016 end with DWC's tapering paragraph (90 words of the length).
    disclaimer = upheld and item["topic"] == "opioid" and st.year >= 2016 and rng.random() < 0.7
    if disclaimer:
        target = max(100, target - 90)
    sentences: list[str] = []

    topic = item["topic"]
    if topic == "associated":
        rules = list(RULES[_ASSOCIATED_RULES[item["assoc"]]])
        sentences.append(rng.choice(ASSOCIATED_LEADS[item["main_decision"], item["decision"]]))
    elif topic == "surgery":
        rules = list(RULES[SURGERY_RULES[item["proc"].key]]) + list(RULES["surgery"])
    else:
        rules = list(RULES[topic])
    rng.shuffle(rules)
    n_rules = rng.randint(1, min(4, len(rules)))
    source, document = lead
    if source == "MTUS":
        doc = rng.choice(
            _DOC_WORDS.get(document, ("ACOEM guidelines", "ACOEM Practice Guidelines"))
        )
    else:
        doc = "guidelines"
    first = rules[0].format_map(s)
    if document == _CPMTG and drug and drug.cp[1] and rng.random() < 0.3:
        page = drug.cp[1].split("-")[0]
        sentences.append(rng.choice(PAGE_LEADS).format(page=page, rule=first, Rule=_cap(first)))
    else:
        s["doc"] = doc
        opener = rng.choice(LEADS.get(source, LEADS[""])).format_map(s)
        sentences.append(f"{opener} {first}")
    for rule in rules[1:n_rules]:
        sentences.append(_cap(rule.format_map(s)))
    words = sum(_words(x) for x in sentences)

    group = "medication" if item["category"] == "medication" else GROUP_OF_TOPIC[topic]
    if topic == "associated" and item["main_decision"] == "overturned":
        # the surgery is approved, so the facts are about the service itself
        group = _ASSOCIATED_GROUP[item["assoc"]]
    if upheld:
        general = AGAINST_MED if group == "medication" else AGAINST_PROC
        specific = AGAINST.get(topic if group == "medication" else group, ())
    else:
        general, specific = FOR_ITEM, FOR.get(group, ())
    # Some recap of the case, facts about this kind of request, a few general ones; then more
    # of the guideline and more facts while the rationale is still short of its length.
    specific = list(specific)
    rng.shuffle(specific)
    general = list(general)
    rng.shuffle(general)
    recap = list(RECAP)
    rng.shuffle(recap)
    n_specific = rng.randint(1, 3)
    n_recap = rng.randint(0, 3)
    n_general = rng.randint(0, 3)
    plan = recap[:n_recap] + specific[:n_specific] + general[:n_general]
    spare = rules[n_rules:] + specific[n_specific:] + general[n_general:] + recap[n_recap:]
    for template in plan:
        if words >= target - 20:
            break
        sentence = _cap(template.format_map(s))
        sentences.append(sentence)
        words += _words(sentence)
    for template in spare:
        if words >= target - 20:
            break
        sentence = _cap(template.format_map(s))
        sentences.append(sentence)
        words += _words(sentence)

    conclusion = rng.choice(CONCLUSIONS_UPHELD if upheld else CONCLUSIONS_OVERTURNED)
    sentences.append(conclusion.format_map(s))
    if disclaimer:
        sentences.append(OPIOID_DISCLAIMER)
    # A long rationale sometimes runs over two paragraphs.
    if len(sentences) > 5 and rng.random() < 0.2:
        cut = rng.randint(2, len(sentences) - 2)
        return [" ".join(sentences[:cut]), " ".join(sentences[cut:])]
    return [" ".join(sentences)]


# Reviewer, summary and layouts -----------------------------------------------------------------


def _reviewer(st: _Letter) -> dict:
    rng = st.rng
    topics = {it["topic"] for it in st.items}
    if topics & {"psych"} and rng.random() < 0.7:
        profile = rng.choice(PSYCH_PROFILES)
    elif any(it["cls"] == "surgery" for it in st.items) and rng.random() < 0.7:
        profile = rng.choice(SURGEON_PROFILES)
    else:
        profile = rng.choice(REVIEWER_PROFILES)
    specialties, sub = profile
    n_states = rng.choice((1, 1, 1, 2, 2, 3))
    states: list[str] = []
    while len(states) < n_states:
        s = rng.choice(STATES)
        if s not in states:
            states.append(s)
    block = st.layout != LEGACY or rng.random() < 0.25
    canonical = [_SPECIALTY_SPELLING.get(s, s) for s in specialties]
    if block:
        sep = rng.choice((", ", ","))
        text = (
            "The Expert Reviewer has the following credentials:\n"
            f"State(s) of Licensure: {sep.join(states)}\n"
            f"Certification(s)/Specialty: {', '.join(specialties)}"
        )
        truth = {"specialties": canonical, "subspecialties": [], "licensure": states}
    else:
        spec = canonical[0]
        if sub:
            prose = (
                f"The expert reviewer is Board Certified in {spec}, has a subspecialty in {sub} "
                f"and is licensed to practice in {_join_states(states)}. "
            )
            subs = [sub]
        else:
            prose = (
                f"The expert reviewer is Board Certified in {spec} and is licensed to practice "
                f"in {_join_states(states)}. "
            )
            subs = []
        text = prose
        truth = {"specialties": [spec], "subspecialties": subs, "licensure": states}
    return {"block": block, "text": text, "truth": truth}


def _join_states(states: list[str]) -> str:
    return _join_list(states) if len(states) < 3 else ", ".join(states)


def _summary(st: _Letter, age: int) -> tuple[list[str], list[str]]:
    """The case summary paragraphs and the diagnoses they state."""
    rng = st.rng
    s = dict(st.slots)
    region = st.region
    side = st.side
    s["sex"] = st.sex
    s["sexword"] = "man" if st.sex == "male" else "woman"
    s["handed"] = rng.choice(("right-handed", "left-handed"))
    s["cc"] = rng.choice(("chronic low back pain", "chronic neck pain", "chronic pain"))
    if region.key != "lumbar":
        s["cc"] = f"chronic {region.short.format(side=side)} pain"
    s["mech_noun"] = rng.choice(MECH_NOUNS)
    s["complaint"] = rng.choice(region.complaints).format(side=side, p1=s["p1"], **st.pron)
    findings = [f.format(side=side) for f in rng.sample(region.findings, 3)]
    s["f1"], s["f2"], s["f3"] = findings
    requests = [
        _in_prose(it["request"]) if it["kind"] in ("procedure", "associated") else it["request"]
        for it in st.items
    ]
    s["reqs"] = _join_list(requests[:4]) if len(requests) <= 4 else "multiple items"

    # diagnoses: region ones, a secondary region, and general ones
    dx = rng.sample(region.diagnoses, rng.randint(1, min(3, len(region.diagnoses))))
    if st.region2 and st.region2 is not region:
        dx.append(rng.choice(st.region2.diagnoses))
    if rng.random() < 0.5:
        dx += rng.sample(GENERAL_DIAGNOSES, rng.randint(1, 2))
    dx = list(dict.fromkeys(d.format(side=side) for d in dx))
    st.slots.update(
        complaint=s["complaint"],
        sex=st.sex,
        f2=s["f2"],
        dx_one=dx[0],
        work_note=rng.choice(WORK_NOTES),
    )
    if len(dx) == 1 and rng.random() < 0.5:
        dx_sentence = rng.choice(DX_SINGLE).format(dx=dx[0])
    else:
        dx_sentence = rng.choice(DX_SENTENCES).format(dx=_join_list(dx), **st.pron)

    intros = INTROS if st.layout != LEGACY else tuple(t for t in INTROS if t[1])
    intro = rng.choice(intros)[0].format_map(s)
    para1 = [intro]
    if rng.random() < 0.5:
        para1.append(rng.choice(MECH_SENTENCES).format_map(s))
    para1.append(dx_sentence)
    para1.append(rng.choice(COMPLAINT_SENTENCES).format_map(s))
    if rng.random() < 0.8:
        para1.append(rng.choice(PAIN_SENTENCES).format_map(s))
    para1.append(rng.choice(EXAM_SENTENCES).format_map(s))

    para2 = []
    if rng.random() < 0.6:
        para2.append(rng.choice(IMAGING_SENTENCES).format_map(s))
    tx = rng.sample(TREATMENTS_TO_DATE, rng.randint(2, 5))
    para2.append(rng.choice(TREATMENT_SENTENCES).format(tx=_join_list(tx), **st.pron))
    meds = [it["mention"] for it in st.items if it["kind"] == "drug"]
    extra = [d.brand for d in rng.sample(DRUGS, 3)]
    meds = list(dict.fromkeys(meds + extra))[: rng.randint(2, 6)]
    para2.append(rng.choice(MEDS_SENTENCES).format(meds=_join_list(meds), **st.pron))
    st.slots["tx"] = _join_list(tx)
    st.slots["meds"] = _join_list(meds)
    if rng.random() < 0.6:
        para2.append(rng.choice(WORK_SENTENCES).format_map(s))
    for it in [i for i in st.items if i["kind"] != "associated"][: rng.randint(0, 3)]:
        mention = it["mention"] if it["kind"] == "drug" else it["request"]
        if it["kind"] == "drug":
            template = rng.choice(ITEM_SUMMARY_DRUG)
            reason = rng.choice(MED_REASONS[it["topic"]])
        else:
            template = rng.choice(ITEM_SUMMARY_PROC)
            group = GROUP_OF_TOPIC.get(it["topic"], "service") if it["kind"] != "compound" else ""
            reason = rng.choice(PROC_REASONS.get(group, ("for the chronic pain",)))
            mention = _in_prose(mention)
        para2.append(
            template.format(
                mention=mention,
                Mention=_cap(mention),
                reason=reason.format_map(s),
                **st.pron,
                since=s["since"],
            )
        )
    target = int(rng.triangular(150, 480, 260))
    words = sum(_words(x) for x in para1 + para2)
    fillers = list(FILLER_SENTENCES + MORE_FILLERS)
    rng.shuffle(fillers)
    for template in fillers:
        if words >= target - 40:
            break
        sentence = template.format_map(s)
        para2.append(sentence)
        words += _words(sentence)

    para3 = [rng.choice(PLAN_SENTENCES).format_map(s)]
    ur_sentences = UR_SENTENCES if st.layout != LEGACY else tuple(u for u in UR_SENTENCES if u[1])
    para3.append(rng.choice(ur_sentences)[0].format_map(s))
    tail = rng.choice(UR_TAIL).format_map(s)
    if tail:
        para3.append(tail)

    if rng.random() < 0.5:
        paragraphs = [" ".join(para1 + para2 + para3)]
    elif rng.random() < 0.5:
        paragraphs = [" ".join(para1), " ".join(para2 + para3)]
    else:
        paragraphs = [" ".join(para1), " ".join(para2), " ".join(para3)]
    return dx, paragraphs


def _header_lines(st: _Letter, case_no: str) -> list[str]:
    d = st.dates
    f = _fmt_date
    if st.slots["_style"] == "plain":
        return [
            f"Case Number:\t{case_no}\t\t",
            f"Date Assigned:\t{f(d['assigned'], 0)}\tDate of Injury:\t{f(d['injury'], 0)}",
            f"Decision Date:\t{f(d['decision'], 0)}\tUR Denial Date:\t{f(d['ur'], 0)}",
            f"Priority:\t{d['priority']}\tApplication Received:\t{f(d['received'], 0)}",
        ]
    # as pypdf extracts the header table of the DWC PDFs
    return [
        f"Case Number: {case_no}  ",
        f"Date Assigned: {f(d['assigned'], 0)} Date of Injury:  {f(d['injury'], 0)} ",
        f"Decision Date: {f(d['decision'], 0)} UR Denial Date:  {f(d['ur'], 0)} ",
        f"Priority:  {d['priority']} Application ",
        "Received:  ",
        f"{f(d['received'], 0)} ",
    ]


def _render(st: _Letter, case_no: str, reviewer: dict, summary, item_blocks) -> tuple[str, int]:
    """The letter's text in its layout and style, and its number of words."""
    legacy = st.layout == LEGACY
    blocks: list[list[str]] = [["HOW THE IMR FINAL DETERMINATION WAS MADE"]]
    if not legacy:
        blocks.append([HOW_MADE_HEADER])
        blocks.append(reviewer["text"].split("\n"))
    elif reviewer["block"]:
        blocks.append([HOW_MADE_LEGACY.format(credentials="")])
        blocks.append(reviewer["text"].split("\n"))
    else:
        blocks.append([HOW_MADE_LEGACY.format(credentials=reviewer["text"])])
    blocks.append(["CLINICAL CASE SUMMARY"])
    blocks.append([SUMMARY_LEAD])
    blocks += [[p] for p in summary]
    blocks.append(["IMR ISSUES, DECISIONS AND RATIONALES"])
    blocks.append([ISSUES_LEAD])
    for paras in item_blocks:
        blocks += [[p] for p in paras]
    head = [] if legacy else _header_lines(st, case_no)
    # Paragraphs are single-spaced, so counting spaces counts words (the header is split).
    words = sum(line.count(" ") + 1 for block in blocks for line in block)
    words += sum(len(line.split()) for line in head)
    if st.slots["_style"] == "plain":
        body = "\n\n".join("\n".join(b) for b in blocks)
        if legacy:
            return " " + body + "\n", words
        return "\n\n" + "\n".join(head) + "\n\n" + body + "\n", words
    if legacy:
        return _render_wrapped(st, blocks, leading=" "), words
    return _render_wrapped(st, [head] + blocks, leading=" \n"), words


def _wrap(paragraph: str, width: int) -> list[str]:
    """Greedy word wrap, as a PDF's text layer breaks lines."""
    if len(paragraph) <= width:
        return [paragraph]
    lines: list[str] = []
    start = 0
    n = len(paragraph)
    while n - start > width:
        cut = paragraph.rfind(" ", start, start + width + 1)
        if cut <= start:
            cut = paragraph.find(" ", start + width)
            if cut < 0:
                break
        lines.append(paragraph[start:cut])
        start = cut + 1
    lines.append(paragraph[start:])
    return lines


def _render_wrapped(st: _Letter, blocks: list[list[str]], leading: str) -> str:
    """Hard-wrap every paragraph; 'double' puts an empty line after every line (old PDFs)."""
    width = st.rng.randint(88, 100)
    double = st.slots["_style"] == "double"
    out: list[str] = []
    for block in blocks:
        for line in block:
            for piece in _wrap(line, width):
                out.append(piece + " ")
                if double:
                    out.append("")
        if len(block) == 1 and block[0].isupper():
            continue  # a heading runs straight into its section's first paragraph
        out.append(" ")  # a line of one space separates paragraphs, as pypdf gives them
        if double:
            out.append("")
    return leading + "\n".join(out) + "\n"


# Corpus ----------------------------------------------------------------------------------------


@dataclass
class Summary:
    """Counts over a generated corpus."""

    letters: int = 0
    items: int = 0
    upheld: int = 0
    overturned: int = 0
    layouts: dict = field(default_factory=dict)
    words: int = 0
    seconds: float = 0.0  # wall clock
    cpu_seconds: float = 0.0  # this process's user and system time

    def add(self, truth: dict) -> None:
        self.letters += 1
        self.items += len(truth["items"])
        for it in truth["items"]:
            if it["decision"] == "upheld":
                self.upheld += 1
            else:
                self.overturned += 1
        self.layouts[truth["layout"]] = self.layouts.get(truth["layout"], 0) + 1
        self.words += truth["words"]

    def lines(self) -> list[str]:
        rate = self.letters / self.seconds if self.seconds else float("inf")
        cpu_rate = self.letters / self.cpu_seconds if self.cpu_seconds else float("inf")
        items = max(1, self.items)
        letters = max(1, self.letters)
        layouts = ", ".join(f"{k} {v} ({v / letters:.1%})" for k, v in sorted(self.layouts.items()))
        return [
            f"letters:   {self.letters}",
            f"items:     {self.items} ({self.items / letters:.2f} per letter)",
            f"decisions: upheld {self.upheld} ({self.upheld / items:.1%}), "
            f"overturned {self.overturned} ({self.overturned / items:.1%})",
            f"layouts:   {layouts}",
            f"words:     {self.words} ({self.words / letters:.0f} per letter)",
            f"time:      {self.seconds:.1f} s, {rate:.0f} letters/s "
            f"({self.cpu_seconds:.1f} s of CPU, {cpu_rate:.0f} letters per CPU second)",
        ]


def _write_file(path: Path, data: bytes) -> None:
    # os.open/os.write make half the system calls of open(); writing files is much of the time.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
    finally:
        os.close(fd)


def write_corpus(n: int, out: str | os.PathLike, seed: int = 0) -> Summary:
    """Write letters 0..n-1 of `seed` under `out` with their manifest; return the summary."""
    root = Path(out)
    root.mkdir(parents=True, exist_ok=True)
    summary = Summary()
    started = time.perf_counter()
    cpu_started = time.process_time()
    made_dirs: set[str] = set()
    with open(root / "manifest.jsonl", "w", encoding="utf-8") as manifest:
        for index in range(n):
            letter = generate_letter(seed, index)
            shard = letter.path.split("/", 1)[0]
            if shard not in made_dirs:
                (root / shard).mkdir(exist_ok=True)
                made_dirs.add(shard)
            _write_file(root / letter.path, letter.text.encode("utf-8"))
            record = {"index": index, "file": letter.path, **letter.truth}
            manifest.write(json.dumps(record, ensure_ascii=False) + "\n")
            summary.add(letter.truth)
    summary.seconds = time.perf_counter() - started
    summary.cpu_seconds = time.process_time() - cpu_started
    return summary


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Write N synthetic IMR determination letters (and manifest.jsonl) under OUT."
    )
    parser.add_argument("n", type=int, metavar="N", help="number of letters")
    parser.add_argument("out", metavar="OUT", help="output folder")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    args = parser.parse_args(argv)
    if args.n < 0:
        parser.error("N must be zero or more")
    summary = write_corpus(args.n, args.out, args.seed)
    print(f"wrote {summary.letters} letters to {args.out} (seed {args.seed})")
    for line in summary.lines():
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
