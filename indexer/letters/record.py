"""The structured record of one letter, as `imr-search parse --json` prints it."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class Reviewer:
    """The expert reviewer's board certifications, subspecialties and states of licensure."""

    specialties: list[str] = field(default_factory=list)
    subspecialties: list[str] = field(default_factory=list)
    licensure: list[str] = field(default_factory=list)


@dataclass
class Patient:
    """The injured worker's age and sex as the case summary states them."""

    age: int | None = None
    sex: str | None = None


@dataclass
class Item:
    """One disputed item or service and the reviewer's decision on it."""

    request: str
    decision: str
    partial_authorization: bool = False
    claims_administrator_guideline: str | None = None
    maximus_guideline: str | None = None
    guidelines: list[dict[str, Any]] = field(default_factory=list)
    treatment: dict[str, Any] = field(default_factory=dict)
    rationale: str | None = None


@dataclass
class Letter:
    """A parsed IMR final determination letter."""

    source: str
    layout: str
    letter_id: str
    case_number: str | None = None
    date_assigned: str | None = None
    date_of_injury: str | None = None
    decision_date: str | None = None
    ur_denial_date: str | None = None
    application_received: str | None = None
    priority: str | None = None
    reviewer: Reviewer = field(default_factory=Reviewer)
    patient: Patient = field(default_factory=Patient)
    diagnoses: list[str] = field(default_factory=list)
    items: list[Item] = field(default_factory=list)
    sections: dict[str, str] = field(default_factory=dict)
    # The normalised and the raw extracted text, for the letter view; not part of the record.
    text: str = field(default="", repr=False)
    original_text: str = field(default="", repr=False)

    def to_dict(self, with_text: bool = False) -> dict[str, Any]:
        """Return the record as plain JSON-ready data, optionally with the letter's full text."""
        data = asdict(self)
        if not with_text:
            del data["text"], data["original_text"]
        return data
