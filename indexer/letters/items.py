"""Find a letter's disputed items: request, verdict, guidelines and rationale."""

from __future__ import annotations

import re
from collections.abc import Callable

from .guidelines import parse_guidelines
from .record import Item
from .treatment import classify_treatment

_VERDICT = re.compile(r"^(?P<head>.*?)\s*:\s*(?P<verdict>Upheld|Overturned)\s*\.?\s*$", re.I | re.S)
_PARTIAL = re.compile(
    r"(?:the\s+)?remaining\s+IMR\s+eligible\s+portion\s+of\s+the\s+original\s+request\s*,?\s*"
    r"(?P<req>.+?)(?:\s*,?\s+is)?\s*$",
    re.I | re.S,
)
_ORIGINAL = re.compile(
    r"(?:^|(?<=[.;]\s))the\s+original\s+request\s*,?\s*(?P<req>.+?)(?:\s*,?\s+is)?\s*$", re.I | re.S
)
_AUTHORISED_BEFORE = re.compile(
    r"\b(?:was|were)\s+(?:authori[sz]ed|certified|approved|modified)\b|"
    r"\bClaims Administrator (?:authori[sz]ed|certified|approved|modified)\b",
    re.I,
)
_LABEL = re.compile(
    r"^(?P<label>Claims? Administrator guideline|MAXIMUS guideline|Decision rationale)\s*:\s*",
    re.I,
)
_BOILERPLATE = re.compile(
    r"^The Final Determination was based on decisions for the disputed items/services"
    r"(?: set forth below)?:?\s*",
    re.I,
)


def items_from_issues_section(text: str) -> list[Item]:
    """Read the items of an 'IMR ISSUES, DECISIONS AND RATIONALES' section (header and legacy)."""
    paragraphs = _merge_lone_verdicts([p for p in text.split("\n\n") if p.strip()])
    paragraphs = [_BOILERPLATE.sub("", p).strip() for p in paragraphs]
    return _collect(paragraphs, _verdict_heading, _issues_label)


def _collect(
    paragraphs: list[str],
    heading: Callable[[str], Item | None],
    label: Callable[[str], tuple[str, str] | None],
) -> list[Item]:
    """Group paragraphs into items: a heading opens one, labelled paragraphs fill its fields."""
    items: list[Item] = []
    field = None
    for para in paragraphs:
        if not para:
            continue
        item = heading(para)
        if item:
            items.append(item)
            field = None
            continue
        if not items:
            continue
        labelled = label(para)
        if labelled:
            field, para = labelled
        # Text after the guidelines with no label of its own still explains the verdict.
        field = field or "rationale"
        if para.strip():
            current = getattr(items[-1], field)
            setattr(items[-1], field, f"{current}\n\n{para}" if current else para)
    return [_finish(item) for item in items]


def _verdict_heading(para: str) -> Item | None:
    verdict = _VERDICT.match(para)
    if not verdict or _LABEL.match(para):
        return None
    request, partial = _request(verdict.group("head"))
    return Item(request, verdict.group("verdict").lower(), partial_authorization=partial)


def _issues_label(para: str) -> tuple[str, str] | None:
    label = _LABEL.match(para)
    if not label:
        return None
    name = label.group("label").lower()
    if name.startswith("claim"):
        return "claims_administrator_guideline", para[label.end() :]
    if name.startswith("maximus"):
        return "maximus_guideline", para[label.end() :]
    return "rationale", para[label.end() :]


def _merge_lone_verdicts(paragraphs: list[str]) -> list[str]:
    out: list[str] = []
    for para in paragraphs:
        if out and re.fullmatch(r"\s*(?:Upheld|Overturned)\.?\s*", para, re.I):
            out[-1] = f"{out[-1]} {para.strip()}"
        else:
            out.append(para)
    return out


def _request(head: str) -> tuple[str, bool]:
    """Strip the partial-authorisation preamble from an item heading; say whether there was one."""
    head = " ".join(head.split())
    m = _PARTIAL.search(head)
    if m:
        return _clean_request(m.group("req")), True
    m = _ORIGINAL.search(head)
    if m and m.start() > 0:
        # "X was the original request. Y was authorized ... The original request, X is: Upheld"
        return _clean_request(m.group("req")), bool(_AUTHORISED_BEFORE.search(head[: m.start()]))
    return _clean_request(head), False


def _clean_request(text: str) -> str:
    return text.strip().rstrip(",:;").strip()


def _finish(item: Item) -> Item:
    """Fill the derived fields: parsed citations and the normalised treatment."""
    item.guidelines = parse_guidelines(
        item.maximus_guideline or item.claims_administrator_guideline
    )
    item.treatment = classify_treatment(item.request)
    return item


# The MAXIMUS-header layout numbers its items and states each verdict as a sentence.
_NUMBERED_ITEM = re.compile(
    r"^\s*(?:\d{1,2}\s*[.)]\s*)(?:Regarding the request for\s+)?(?P<body>.+)$", re.I | re.S
)
_NECESSITY = re.compile(
    r"^(?P<req>.+?)\s+(?:is|are|was|were)\s+(?P<neg>not\s+)?medically\s+necessary"
    r"(?:\s+and\s+appropriate)?\s*\.?\s*$",
    re.I | re.S,
)
_MAXIMUS_LABEL = re.compile(
    r"^(?:(?P<ca>The Claims Administrator based its decision on)|"
    r"(?P<rev>The (?:Expert|Physician|Professional) Reviewer based (?:his/her|his|her|their) "
    r"decision on)|(?P<rat>Rationale for the Decision:?))\s*",
    re.I,
)


def items_from_numbered_section(text: str) -> list[Item]:
    """Read the numbered items of an 'IMR DECISION(S) AND RATIONALE(S)' section (MAXIMUS header)."""
    paragraphs = [p for p in text.split("\n\n") if p.strip()]
    return _collect(paragraphs, _numbered_heading, _maximus_label)


def _numbered_heading(para: str) -> Item | None:
    numbered = _NUMBERED_ITEM.match(para)
    if not numbered:
        return None
    body = numbered.group("body").strip()
    item = _verdict_heading(body)
    if item:
        return item
    necessity = _NECESSITY.match(body)
    if not necessity:
        return None
    request, partial = _request(necessity.group("req"))
    decision = "upheld" if necessity.group("neg") else "overturned"
    return Item(request, decision, partial_authorization=partial)


def _maximus_label(para: str) -> tuple[str, str] | None:
    label = _MAXIMUS_LABEL.match(para)
    if not label:
        return None
    if label.group("ca"):
        return "claims_administrator_guideline", para  # the lead-in is part of the statement
    if label.group("rev"):
        return "maximus_guideline", para
    return "rationale", para[label.end() :]


_ISSUE_QUESTION = re.compile(
    r"^(?:\d{1,2}\s*[.)]\s*)?(?:(?:Is|Was|Whether)\s+(?:the\s+)?(?:request(?:ed)?\s+(?:for\s+)?)?)?"
    r"(?P<req>.+?)(?:\s+(?:is|was|are|were))?(?:\s+medically\s+necessary(?:\s+and\s+appropriate)?)?"
    r"\s*[?.]?\s*$",
    re.I | re.S,
)
_CONCLUSION = re.compile(r"\b(?:is|was|are|were)\s+(?P<neg>not\s+)?medically\s+necessary", re.I)


def items_from_professional_review(sections: dict[str, str]) -> list[Item]:
    """Read the disputed items of a 'MEDICAL PROFESSIONAL REVIEW' letter."""
    issues = [
        p.strip()
        for p in re.split(r"\n\n|\n(?=\s*\d{1,2}\s*[.)])", sections.get("issue_at_dispute", ""))
        if p.strip()
    ]
    rationale = sections.get("rationale")
    guideline = sections.get("guidelines_relied_upon")
    items = []
    for issue in issues:
        m = _ISSUE_QUESTION.match(issue)
        request = _clean_request(m.group("req") if m else issue)
        request = re.sub(r"^(?:the\s+)?request(?:ed)?\s+(?:for\s+)?", "", request, flags=re.I)
        items.append(
            Item(
                request=request,
                decision=_professional_decision(rationale),
                maximus_guideline=guideline,
                rationale=rationale,
            )
        )
    return [_finish(item) for item in items]


def _professional_decision(rationale: str | None) -> str:
    # The section's own heading says the treatment was not necessary; a rationale that ends by
    # finding it necessary overturns the denial.
    conclusions = _CONCLUSION.findall(rationale or "")
    if conclusions and not conclusions[-1]:
        return "overturned"
    return "upheld"
