"""What the index stores for a letter: one document per chunk, plus the letter's own record."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .chunking import Chunk
from .letters.record import Letter
from .letters.treatment import class_terms


@dataclass
class LetterDocs:
    """A letter ready to index: its record, a fingerprint of its content, its chunk documents."""

    letter_id: str
    source: str
    fingerprint: str
    record: dict[str, Any]
    text: str
    original_text: str
    chunks: list[dict[str, Any]]
    vectors: np.ndarray | None = None  # (len(chunks), dims) float32, set by the indexer
    extra: dict[str, Any] = field(default_factory=dict)


def fingerprint(letter: Letter) -> str:
    """Return a hash of what the index stores for a letter, to tell when it changed."""
    payload = json.dumps(letter.to_dict(), sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(payload.encode()).hexdigest()[:32]


def chunk_document(chunk: Chunk) -> dict[str, Any]:
    """Return the index document of a chunk (every mapped field but the embedding)."""
    doc = chunk.to_dict()
    item_id = f"{chunk.letter_id}:item-{chunk.item_index}" if chunk.item_index else None
    terms = [
        *doc["treatment_name"],
        *doc["treatment_class"],
        *doc["treatment_category"],
        *(class_terms(c) for c in doc["treatment_class"]),
    ]
    return {
        "chunk_id": chunk.chunk_id,
        "letter_id": chunk.letter_id,
        "item_id": item_id,
        "case_number": chunk.case_number,
        "source": chunk.source,
        "layout": chunk.layout,
        "section": chunk.section,
        "item_index": chunk.item_index,
        "window": chunk.window,
        "windows": chunk.windows,
        "token_count": chunk.token_count,
        "text": chunk.text,
        "request": chunk.request,
        # Names of the treatment (generic, class, category) make "benzodiazepine" or "imaging"
        # find the items even when the letter never uses that word.
        "treatment_terms": " ".join(dict.fromkeys(terms)) or None,
        "decision": doc["decision"],
        "treatment_category": doc["treatment_category"],
        "treatment_class": doc["treatment_class"],
        "treatment_name": doc["treatment_name"],
        "body_region": doc["body_region"],
        "guideline_source": doc["guideline_source"],
        "guideline_section": doc["guideline_section"],
        "reviewer_specialty": doc["reviewer_specialty"],
        "licensure": doc["licensure"],
        "priority": chunk.priority,
        "patient_sex": chunk.patient_sex,
        "age_band": chunk.age_band,
        "decision_year": str(chunk.decision_year) if chunk.decision_year else None,
        "decision_month": chunk.decision_date[:7] if chunk.decision_date else None,
        "patient_age": chunk.patient_age,
        "decision_date": chunk.decision_date,
        "date_of_injury": chunk.date_of_injury,
    }


def letter_docs(letter: Letter, chunks: list[Chunk]) -> LetterDocs:
    """Bundle a parsed letter and its chunks into what a store indexes."""
    return LetterDocs(
        letter_id=letter.letter_id,
        source=letter.source,
        fingerprint=fingerprint(letter),
        record=letter.to_dict(),
        text=letter.text,
        original_text=letter.original_text,
        chunks=[chunk_document(c) for c in chunks],
    )
