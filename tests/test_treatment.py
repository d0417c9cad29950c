"""Treatment normalisation: request texts from real letters mapped to name, class and category."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from indexer.letters import treatment
from indexer.letters.treatment import CATEGORIES, CLASSES, LIBRARY_GAPS, classify_treatment


def _t(name, cls, category):
    return {"name": name, "class": cls, "category": category}


# Request texts as the dev letters and seeds write them (wrapped ones re-joined), with the
# expected result in full.
REAL_REQUESTS = {
    # medication: brand -> generic
    "Valium 10 mg #50": _t("diazepam", "benzodiazepine", "medication"),
    "Valium 5mg every night # 30 plus refill (prescribed 8-20-14)": _t(
        "diazepam", "benzodiazepine", "medication"
    ),
    "60 Tablets of Diazepam 5mg": _t("diazepam", "benzodiazepine", "medication"),
    "Klonopin 1 mg#30 with 1 refill": _t("clonazepam", "benzodiazepine", "medication"),
    "Flexeril 10mg #60": _t("cyclobenzaprine", "muscle relaxant", "medication"),
    "Norflex 100mg #60": _t("orphenadrine", "muscle relaxant", "medication"),
    "Orphenadrine Citrate ER 100mg tabs #30": _t("orphenadrine", "muscle relaxant", "medication"),
    "Retrospective Cyclobenzaprine 5mg tab #30 DOS: 11/14/16": _t(
        "cyclobenzaprine", "muscle relaxant", "medication"
    ),
    "Baclofen 100mg #3": _t("baclofen", "muscle relaxant", "medication"),
    "Pepcid 20mg": _t("famotidine", "h2 blocker", "medication"),
    "Omeprazole": _t("omeprazole", "proton pump inhibitor", "medication"),
    "Ultram 50mg #30": _t("tramadol", "opioid", "medication"),
    "Oxycodone HCL ER 20mg #60 day supply: 30": _t("oxycodone", "opioid", "medication"),
    "Diclofenac ER 100mg #60": _t("diclofenac", "nsaid", "medication"),
    "Etodolac": _t("etodolac", "nsaid", "medication"),
    "Post-op Zofran": _t("ondansetron", "antiemetic", "medication"),
    # medication: combination products, including the library's gaps
    "Norco 10/325mg #35": _t("hydrocodone/acetaminophen", "opioid", "medication"),
    "Norco 5/325mg oral tablet, one tablet twice daily 14 days #40": _t(
        "hydrocodone/acetaminophen", "opioid", "medication"
    ),
    "Post-op Percocet 5/325mg": _t("oxycodone/acetaminophen", "opioid", "medication"),
    # medication: topicals and compounded creams
    "Lidocaine 5% patch #1": _t("lidocaine", "topical analgesic", "medication"),
    "Lidocaine ointment 5% 106.32gm": _t("lidocaine", "topical analgesic", "medication"),
    "Flector 1.3% transdermal patch": _t("diclofenac", "topical analgesic", "medication"),
    "Flurbiprofen 20%, Baclofen 5%, Dexamethasone 2%, Menthol 2%, Capsaicin 0.025% in cream base": (
        _t(
            "flurbiprofen/baclofen/dexamethasone/menthol/capsaicin",
            "compounded topical",
            "medication",
        )
    ),
    "Gabapentin 10%, Cyclobenzaprine 6%, Bupivacaine 5% in cream base": _t(
        "gabapentin/cyclobenzaprine/bupivacaine", "compounded topical", "medication"
    ),
    # imaging
    "MRI of the lumbar spine": _t("mri", "advanced imaging", "imaging"),
    "Cervical spine MRI without contrast": _t("mri", "advanced imaging", "imaging"),
    "MRI (magnetic resonance imaging) of the cervical spine": _t(
        "mri", "advanced imaging", "imaging"
    ),
    "Cervical CT scan": _t("ct scan", "advanced imaging", "imaging"),
    "X-rays of the left shoulder": _t("x-ray", "radiography", "imaging"),
    "Labs to include: Chest X-ray": _t("x-ray", "radiography", "imaging"),
    # procedures
    "Facet joint injections L4-5, L5-S1": _t("facet joint injection", "injection", "procedure"),
    "1 Trigger point injection for myofascial spam": _t(
        "trigger point injection", "injection", "procedure"
    ),
    "EMG/NCV of the lower extremities": _t("emg/ncv", "electrodiagnostic testing", "procedure"),
    "EMG (electromyography)/NCV (nerve conduction velocity) of the bilateral upper extremities": (
        _t("emg/ncv", "electrodiagnostic testing", "procedure")
    ),
    "NCS of the left upper extremity": _t("ncv", "electrodiagnostic testing", "procedure"),
    "Electroencephalogram": _t("eeg", "electrodiagnostic testing", "procedure"),
    "Labs to include: EKG": _t("ekg", "diagnostic testing", "procedure"),
    "Urine Test": _t("urine drug screen", "laboratory testing", "procedure"),
    "Comprehensive psychological testing": _t(
        "psychological testing", "psychological services", "procedure"
    ),
    "Right shoulder arthroscopy RCR (rotator cuff repair) and decompression": _t(
        "arthroscopy", "surgery", "procedure"
    ),
    "Left shoulder arthroscopy with Bankart repair, possible biceps tenodesis": _t(
        "arthroscopy", "surgery", "procedure"
    ),
    # therapy
    "Physical therapy 2-3 times a week for 6 weeks": _t(
        "physical therapy", "physical medicine", "therapy"
    ),
    "Post-op physical therapy 2 times a week for 4 weeks": _t(
        "physical therapy", "physical medicine", "therapy"
    ),
    "Associated surgical service: Physical therapy, times 12": _t(
        "physical therapy", "physical medicine", "therapy"
    ),
    "Occupational therapy for six sessions": _t(
        "occupational therapy", "physical medicine", "therapy"
    ),
    "Chiropractic care to the low back two times a week for four weeks": _t(
        "chiropractic care", "physical medicine", "therapy"
    ),
    "Chiropractic physiotherapy treatment 6 visits": _t(
        "chiropractic care", "physical medicine", "therapy"
    ),
    "Electro acupuncture to the low back two times a week times six weeks": _t(
        "acupuncture", "physical medicine", "therapy"
    ),
    "Ultrasound 1 times 8": _t("therapeutic ultrasound", "physical medicine", "therapy"),
    "Acute inpatient rehabilitation physical therapy and occupational therapy 7-10 days for left "
    "foot fracture": _t("inpatient rehabilitation", "inpatient care", "therapy"),
    # equipment
    "TENS unit": _t("tens unit", "durable medical equipment", "equipment"),
    "Associated surgical service: Shoulder sling with abduction pillow": _t(
        "sling", "durable medical equipment", "equipment"
    ),
    "Associated surgical service: Cold compression therapy 30 day rental": _t(
        "cold therapy unit", "durable medical equipment", "equipment"
    ),
    "Hot/cold therapy wrap": _t("hot/cold therapy", "durable medical equipment", "equipment"),
    "Back support": _t("lumbar support", "orthosis", "equipment"),
    "Wrist braces #2": _t("wrist brace", "orthosis", "equipment"),
    "standard wheelchair for a 2 month rental": _t(
        "wheelchair", "durable medical equipment", "equipment"
    ),
    "purchase of a bath/shower chair": _t("shower chair", "durable medical equipment", "equipment"),
    # other
    "Medical Clearance": _t("medical clearance", "evaluation", "other"),
    "Spine surgery evaluation for the lumbar": _t("surgical consultation", "evaluation", "other"),
    "TOC to ortho spine surgeon eval and treatment": _t(
        "orthopedic consultation", "evaluation", "other"
    ),
    "Initial exam": _t("examination", "evaluation", "other"),
    "Daily RN for 4 weeks for wound care and monitoring of wound healing and home safety, "
    "medication management": _t("home health nursing", "home health", "other"),
    "Home aide 6 hours per day, 5 times a week for 4 weeks to assist with mobility, transfer, "
    "ADL's and safety in the home when wife is working": _t(
        "home health aide", "home health", "other"
    ),
}

# Examples from the brief that are not in the dev letters in exactly this form.
BRIEF_EXAMPLES = {
    "Valium 10mg #50": _t("diazepam", "benzodiazepine", "medication"),
    "Lidoderm patch 5% #30": _t("lidocaine", "topical analgesic", "medication"),
    "Urine drug screen": _t("urine drug screen", "laboratory testing", "procedure"),
    "Trigger point injection for myofascial spasm": _t(
        "trigger point injection", "injection", "procedure"
    ),
    "Vicodin 5/300mg #60": _t("hydrocodone/acetaminophen", "opioid", "medication"),
    "Hydrocodone/APAP 10/325mg #120": _t("hydrocodone/acetaminophen", "opioid", "medication"),
    "Hydrocodone 10/325mg #90": _t("hydrocodone/acetaminophen", "opioid", "medication"),
    "Tylenol #3 #60": _t("codeine/acetaminophen", "opioid", "medication"),
    "Soma 350mg #30": _t("carisoprodol", "muscle relaxant", "medication"),
    "Colace 100mg #60": _t("docusate", "laxative", "medication"),
    "Ambien 10mg #30": _t("zolpidem", "sleep aid", "medication"),
    "Lyrica 75mg #60": _t("pregabalin", "anticonvulsant", "medication"),
    "Cymbalta 60mg #30": _t("duloxetine", "antidepressant", "medication"),
    "Opioid medication": _t(None, "opioid", "medication"),
    "Total knee arthroplasty right knee": _t("knee replacement", "surgery", "procedure"),
    "Lumbar epidural steroid injection at L4-L5 under fluoroscopy": _t(
        "epidural steroid injection", "injection", "procedure"
    ),
    "Functional restoration program 160 hours": _t(
        "functional restoration program", "rehabilitation program", "therapy"
    ),
    "Massage therapy 6 sessions": _t("massage therapy", "physical medicine", "therapy"),
    "Gym membership for 6 months": _t("gym membership", "fitness program", "other"),
    "Transportation to and from medical appointments": _t(
        "transportation", "ancillary services", "other"
    ),
}

# Requests naming no drug, some holding words a drug matcher could trip on ("drug", "patch",
# "sling", "therapy", "pump", "medication"), and requests where a drug is named but given as a
# procedure or mentioned after the real item.
NOT_MEDICATION = {
    "Physical therapy to the low back two sessions": "therapy",
    "Associated surgical service: Slingshot sling": "equipment",
    "Associated surgical service: Shoulder wrap for purchase": "equipment",
    "Custom touch back heat therapy pad": "equipment",
    "Infrared heat to the low back two times a week times six weeks": "therapy",
    "Myofascial release to the low back two times a week times six weeks": "therapy",
    "Electrical stimulation 1 times 8": "therapy",
    "Physical exam 2 times 8": "other",
    "Urine drug screen for opioid compliance": "procedure",
    "TENS unit supplies (electrodes and batteries)": "equipment",
    "Toradol injection": "procedure",
    "Kenalog injection to the right knee": "procedure",
    "Ketamine infusion": "procedure",
    "Physical therapy with iontophoresis (dexamethasone)": "therapy",
    "Intrathecal pump trial": "procedure",
    "Psychiatric consultation for medication management of Cymbalta 60mg": "other",
    "Unknown shockwave treatments": "therapy",
}


@pytest.mark.parametrize("request_text", list(REAL_REQUESTS))
def test_real_request_texts(request_text):
    assert classify_treatment(request_text) == REAL_REQUESTS[request_text]


@pytest.mark.parametrize("request_text", list(BRIEF_EXAMPLES))
def test_brand_names_combinations_and_other_examples(request_text):
    assert classify_treatment(request_text) == BRIEF_EXAMPLES[request_text]


@pytest.mark.parametrize("request_text", list(NOT_MEDICATION))
def test_non_drug_requests_are_not_medication(request_text):
    assert classify_treatment(request_text)["category"] == NOT_MEDICATION[request_text]


def test_drug_given_by_a_clinician_is_named_in_the_procedure():
    assert classify_treatment("Retrospective request for Toradol 60mg IM injection") == _t(
        "ketorolac injection", "injection", "procedure"
    )


def test_treatment_named_first_wins_over_context():
    assert classify_treatment("Ativan 1mg prior to MRI")["name"] == "lorazepam"
    assert classify_treatment("MRI of the lumbar spine prior to surgery")["name"] == "mri"
    assert classify_treatment("Knee brace post arthroscopy")["name"] == "knee brace"


def test_unrecognised_text_is_other_with_no_name():
    assert classify_treatment("Unspecified") == _t(None, None, "other")
    assert classify_treatment("") == _t(None, None, "other")


def test_each_call_returns_a_fresh_dict():
    first = classify_treatment("MRI of the lumbar spine")
    first["name"] = "changed"
    assert classify_treatment("MRI of the lumbar spine")["name"] == "mri"


def test_library_gaps_are_still_gaps_and_are_covered():
    from drug_named_entity_recognition import find_drugs

    for brand in LIBRARY_GAPS:
        ours = classify_treatment(brand)
        assert ours["category"] == "medication" and ours["name"], brand
        library = {
            d["name"].lower()
            for d, _s, _e in find_drugs(brand.lower().split(), is_include_structure=False)
        }
        assert ours["name"] not in library, f"{brand} is no longer a library gap"


def test_every_class_in_the_tables_is_in_the_vocabulary():
    used = set(treatment._DRUG_CLASSES) | {"compounded topical", "evaluation"}
    for rules in (treatment._DOMINANT, treatment._SPECIFIC, treatment._GENERIC):
        used |= {cls for _p, _n, cls, _c in rules.rows}
        assert {cat for *_rest, cat in rules.rows} <= set(CATEGORIES)
    used |= {cls for _p, cls in treatment._MED_CLASS_WORDS if cls}
    assert used <= set(CLASSES)
    for expected in (*REAL_REQUESTS.values(), *BRIEF_EXAMPLES.values()):
        assert expected["class"] in CLASSES


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_never_raises_and_always_returns_the_three_keys(text):
    result = classify_treatment(text)
    assert set(result) == {"name", "class", "category"}
    assert result["category"] in CATEGORIES
    assert result["class"] is None or result["class"] in CLASSES


_WORDS = st.sampled_from(
    "mri x-ray of the lumbar spine physical therapy injection epidural facet tens unit knee "
    "brace sling pillow norco valium 10mg #60 surgery arthroscopy with and post-op cold therapy "
    "evaluation urine drug screen emg/ncv chiropractic acupuncture home health rn".split()
)


@settings(max_examples=300, deadline=None)
@given(st.lists(_WORDS, max_size=8).map(" ".join))
def test_substring_prefilter_finds_the_same_rule_as_searching_every_pattern(text):
    for rules in (treatment._SPECIFIC, treatment._GENERIC):
        best = None
        for pattern, name, cls, category in rules.rows:
            m = pattern.search(text)
            if m and (best is None or m.start() < best[0]):
                best = (m.start(), name, cls, category)
        found = rules.first_mentioned(text)
        assert (found[0] if found else None) == (best[0] if best else None)
        if found and not callable(best[1]):
            assert found[1] == best[1:]
