"""The reviewer's credentials, the patient's age and sex, and the diagnoses, from letter prose."""

from __future__ import annotations

import re

from .record import Patient, Reviewer

_US_STATES = (
    "Alabama Alaska Arizona Arkansas California Colorado Connecticut Delaware Florida Georgia "
    "Hawaii Idaho Illinois Indiana Iowa Kansas Kentucky Louisiana Maine Maryland Massachusetts "
    "Michigan Minnesota Mississippi Missouri Montana Nebraska Nevada Ohio Oklahoma Oregon "
    "Pennsylvania Tennessee Texas Utah Vermont Virginia Washington Wisconsin Wyoming"
).split() + [
    "New Hampshire",
    "New Jersey",
    "New Mexico",
    "New York",
    "North Carolina",
    "North Dakota",
    "Rhode Island",
    "South Carolina",
    "South Dakota",
    "West Virginia",
    "District of Columbia",
    "Puerto Rico",
]
_STATE_RE = re.compile(
    r"\b(" + "|".join(sorted(map(re.escape, _US_STATES), key=len, reverse=True)) + r")\b"
)

_BOARD = re.compile(
    r"Board[- ]Certified (?:in|by the American Board of) (?P<spec>.+?)"
    r"(?=,? (?:has a |and has |with a )?sub-?specialt|,? and is licensed|,? is licensed|"
    r",? licensed|\.(?:\s|$)|$)",
    re.IGNORECASE,
)
_SUBSPEC = re.compile(
    r"sub-?specialt(?:y|ies) (?:certification )?in (?P<sub>.+?)"
    r"(?=,? and is licensed|,? is licensed|,? licensed|\.(?:\s|$)|$)",
    re.IGNORECASE,
)
_LICENSED = re.compile(
    r"licensed (?:to practice )?(?:medicine )?in (?P<states>.+?)(?=\.(?:\s|$)|$|\bHe/she\b)",
    re.IGNORECASE,
)
_LICENSURE_BLOCK = re.compile(r"State\(s\) of Licensure:\s*(?P<v>[^\n]*)", re.IGNORECASE)
_CERT_BLOCK = re.compile(r"Certification\(s\)/Specialty:\s*(?P<v>[^\n]*)", re.IGNORECASE)


def parse_reviewer(text: str) -> Reviewer:
    """Read the reviewer's credentials from the block form or the prose form of a letter."""
    reviewer = Reviewer()
    cert = _CERT_BLOCK.search(text)
    lic = _LICENSURE_BLOCK.search(text)
    if cert:
        reviewer.specialties = _split_list(cert.group("v"))
    if lic:
        reviewer.licensure = _states(lic.group("v"))
    if not cert:
        for m in _BOARD.finditer(text):
            reviewer.specialties += _split_list(m.group("spec"))
        for m in _SUBSPEC.finditer(text):
            reviewer.subspecialties += _split_list(m.group("sub"))
    if not lic:
        for m in _LICENSED.finditer(text):
            reviewer.licensure += _states(m.group("states"))
    reviewer.specialties = _unique(_canonical_specialty(s) for s in reviewer.specialties)
    reviewer.subspecialties = _unique(_canonical_specialty(s) for s in reviewer.subspecialties)
    reviewer.licensure = _unique(reviewer.licensure)
    return reviewer


def _split_list(value: str) -> list[str]:
    # Only commas separate: "Physical Medicine and Rehabilitation" is one specialty.
    parts = re.split(r"\s*[,;]\s*", value.strip().rstrip("."))
    return [p for p in (re.sub(r"^and\s+", "", p.strip(), flags=re.I) for p in parts) if p]


def _states(value: str) -> list[str]:
    found = _STATE_RE.findall(value)
    if found:
        return found
    return [p for p in _split_list(re.sub(r"\band\b", ",", value)) if p]


def _canonical_specialty(name: str) -> str:
    # The block form writes "Physical Medicine & Rehabilitation", the prose "... and ..."; one
    # spelling keeps the facet to one value.
    name = re.sub(r"\s*&\s*", " and ", name.strip())
    return re.sub(r"\s+", " ", name)


def _unique(values) -> list[str]:
    seen: dict[str, None] = {}
    for v in values:
        if v and v not in seen:
            seen[v] = None
    return list(seen)


_AGE_SEX = re.compile(
    r"\b(?P<age>\d{1,3})[- ]?(?:year|yr)s?[- ]old\s+(?:(?:right|left)[- ]handed\s+)?"
    r"(?P<sex>male|female|man|woman|gentleman|lady|boy|girl)?",
    re.IGNORECASE,
)
_SEX_ONLY = re.compile(
    r"\b(?:is|was) an? (?:\w+ )?(?P<sex>male|female|man|woman|gentleman|lady)\b", re.IGNORECASE
)
_SEX_WORDS = {
    "male": "male",
    "man": "male",
    "gentleman": "male",
    "boy": "male",
    "female": "female",
    "woman": "female",
    "lady": "female",
    "girl": "female",
}


def parse_patient(summary: str) -> Patient:
    """Read the patient's age and sex ("53 year old male", "is a female who") from the summary."""
    patient = Patient()
    m = _AGE_SEX.search(summary)
    if m:
        age = int(m.group("age"))
        patient.age = age if 14 <= age <= 110 else None
        if m.group("sex"):
            patient.sex = _SEX_WORDS[m.group("sex").lower()]
    if patient.sex is None:
        m2 = _SEX_ONLY.search(summary)
        if m2:
            patient.sex = _SEX_WORDS[m2.group("sex").lower()]
    return patient


_DIAGNOSES = re.compile(
    r"(?:(?:current|working|primary|operating)\s+)?diagnos(?P<plural>es|is)\s+"
    r"(?:include[sd]?|included|are|is|were|was)\s+(?P<a>.+?)(?=\.(?:\s|$)|$)"
    r"|diagnosed\s+(?:with|as\s+having)\s+(?P<b>.+?)(?=\.(?:\s|$)|$)"
    r"|\bDiagnos(?:es|is):\s*(?P<c>.+?)(?=\.(?:\s|$)|$)",
    re.IGNORECASE,
)
_NEGATED = re.compile(r"\b(?:not|no|never|without)\s+(?:been\s+)?$", re.IGNORECASE)
_LEAD_IN = re.compile(r"^(?:(?:documented|noted|listed)\s+(?:as\s+)?|as\s+|an?\s+|the\s+)+", re.I)


def parse_diagnoses(summary: str) -> list[str]:
    """List the diagnoses the case summary states ("Current diagnoses include a, b, and c.")."""
    found: list[str] = []
    for m in _DIAGNOSES.finditer(summary):
        if _NEGATED.search(summary[max(0, m.start() - 20) : m.start()]):
            continue
        phrase = _LEAD_IN.sub("", (m.group("a") or m.group("b") or m.group("c") or "").strip())
        if m.group("plural") == "is":
            parts = [phrase]  # "diagnosis is dislocation, shoulder": one coded diagnosis
        elif ";" in phrase:
            parts = re.split(r"\s*;\s*(?:and\s+)?", phrase)
        else:
            parts = re.split(r",\s*(?:and\s+)?|\s+and\s+(?=[^,]*$)", phrase)
        for part in parts:
            part = _LEAD_IN.sub("", part.strip(" \"'")).rstrip(".").strip()
            if 2 < len(part) <= 120:
                found.append(part)
    return _unique(found)[:20]
