"""Bulk actions (pure generators), the letter record, and the text of a failed bulk item."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

import numpy as np

from ...documents import LetterDocs
from ...schema import EMBEDDING_DIMS
from ..base import file_stamp
from .errors import _api_reason
from .text import ANALYSED, analysed_fields


def vectors_problem(letter: LetterDocs) -> str | None:
    """Return why a letter's vectors cannot be indexed, or None when they can."""
    if letter.vectors is None:
        return "no embedding vectors"
    shape = getattr(letter.vectors, "shape", None)
    if shape != (len(letter.chunks), EMBEDDING_DIMS):
        return (
            f"embedding vectors of shape {shape}, expected {(len(letter.chunks), EMBEDDING_DIMS)}"
        )
    if not np.isfinite(letter.vectors).all():
        return "embedding vectors hold NaN or infinite values"
    return None


def chunk_actions(letters: Iterable[LetterDocs], index: str) -> Iterator[dict[str, Any]]:
    """Yield the bulk `index` action of every chunk of `letters`: `_id` = chunk_id, the chunk
    document, its analysed text (`text`) and its `embedding` as a list of floats."""
    for letter in letters:
        vectors = np.asarray(letter.vectors, dtype=np.float32)
        for doc, vector in zip(letter.chunks, vectors, strict=True):
            yield {
                "_op_type": "index",
                "_index": index,
                "_id": doc["chunk_id"],
                "_source": {**doc, ANALYSED: analysed_fields(doc), "embedding": vector.tolist()},
            }


def letter_document(letter: LetterDocs, indexed_at: str) -> dict[str, Any]:
    """Return the letters-index record of a letter."""
    stamp = file_stamp(letter)
    return {
        "letter_id": letter.letter_id,
        "source": letter.source,
        "fingerprint": letter.fingerprint,
        "chunk_count": len(letter.chunks),
        "indexed_at": indexed_at,
        "record": letter.record,
        "text": letter.text,
        "original_text": letter.original_text,
        # The file it was read from, so an unchanged file is skipped unparsed next time.
        "file_sha256": stamp.sha256 if stamp else None,
        "file_size": stamp.size if stamp else None,
        "file_mtime_ns": stamp.mtime_ns if stamp else None,
        "parser": stamp.parser if stamp else None,
    }


def letter_actions(
    letters: Iterable[LetterDocs], index: str, indexed_at: str
) -> Iterator[dict[str, Any]]:
    """Yield the bulk `index` action of each letter's record: `_id` = letter_id."""
    for letter in letters:
        yield {
            "_op_type": "index",
            "_index": index,
            "_id": letter.letter_id,
            "_source": letter_document(letter, indexed_at),
        }


def _bulk_error(item: dict[str, Any]) -> str:
    exception = item.get("exception")
    if exception is not None:  # the whole bulk request failed (streaming_bulk's own item)
        return f"HTTP {item.get('status', '?')} {_api_reason(exception)}"
    error = item.get("error")
    if isinstance(error, dict):
        text = f"{error.get('type', 'error')}: {error.get('reason', '')}".strip()
        cause = error.get("caused_by")
        if isinstance(cause, dict) and cause.get("reason"):
            text += f" ({cause.get('type', 'caused_by')}: {cause['reason']})"
        return text
    if error:
        return str(error)
    return f"HTTP {item.get('status', '?')}"
