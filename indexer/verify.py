"""Compare an index with folders of letters: what is missing, extra, stale or held twice.

Each file is judged once, by the cheapest means that is exact:
- a file the index recorded a letter from is unchanged when its size and mtime are those
  recorded, or else its SHA-256 is; unchanged, it holds the recorded letter and is not parsed;
- any other file (changed, never indexed, or recorded before file hashes were) is parsed, for
  its letter id and the fingerprint of its record.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .documents import fingerprint
from .letters.errors import LetterError
from .letters.parser import parse_letter
from .letters.reader import iter_letter_paths
from .pipeline import file_unchanged
from .stores.base import IndexedLetter


@dataclass
class VerifyReport:
    """What `verify` found; `consistent` when every list is empty."""

    files: int = 0  # letter files found under the paths
    indexed: int = 0  # letters in the index
    unchanged: int = 0  # files whose letter the index holds from these very bytes
    # A file whose letter the index does not hold: (file, letter_id).
    missing: list[tuple[str, str]] = field(default_factory=list)
    # A letter the index holds that no file under the paths holds: (letter_id, recorded source).
    extra: list[tuple[str, str]] = field(default_factory=list)
    # A file that changed since its letter was indexed: (file, letter_id indexed, why).
    stale: list[tuple[str, str, str]] = field(default_factory=list)
    # Several files holding one letter: (letter_id, files).
    duplicates: list[tuple[str, list[str]]] = field(default_factory=list)
    # A file that is not a readable letter, so the index cannot hold it: (file, reason).
    unreadable: list[tuple[str, str]] = field(default_factory=list)
    # Chunks in the index, and how many its letters' records account for (when counted): any
    # difference is chunks of no letter (a write cut short on Elasticsearch) or letters short
    # of chunks, which searches and statistics would count.
    chunks: int | None = None
    letter_chunks: int | None = None
    # What is damaged in the index's own files (the store's whole check), one line each naming
    # the file; a damaged index is not compared with the files (`compared` is then False).
    damaged: list[str] = field(default_factory=list)
    compared: bool = True

    @property
    def consistent(self) -> bool:
        """Tell whether the index is whole and holds exactly the letters of the files, as they
        are now."""
        problems = self.missing or self.extra or self.stale or self.duplicates or self.unreadable
        return (
            self.compared
            and not self.damaged
            and not problems
            and self.chunks == self.letter_chunks
        )

    def to_json(self) -> dict[str, Any]:
        """Return the report as JSON-ready data (the comparison's fields null when the index
        was too damaged to compare)."""
        if not self.compared:
            return {
                "consistent": False,
                "damaged": self.damaged,
                **dict.fromkeys(
                    ("files", "indexed", "unchanged", "missing", "extra", "stale"), None
                ),
                **dict.fromkeys(("duplicates", "unreadable", "chunks"), None),
            }
        return {
            "consistent": self.consistent,
            "damaged": self.damaged,
            "files": self.files,
            "indexed": self.indexed,
            "unchanged": self.unchanged,
            "missing": [{"file": f, "letter_id": lid} for f, lid in self.missing],
            "extra": [{"letter_id": lid, "source": src} for lid, src in self.extra],
            "stale": [{"file": f, "letter_id": lid, "why": why} for f, lid, why in self.stale],
            "duplicates": [{"letter_id": lid, "files": files} for lid, files in self.duplicates],
            "unreadable": [{"file": f, "reason": why} for f, why in self.unreadable],
            "chunks": None
            if self.chunks is None
            else {"indexed": self.chunks, "of_letters": self.letter_chunks},
        }


def verify(
    paths: list[str],
    indexed: dict[str, IndexedLetter],
    progress: Callable[[], None] | None = None,
    chunks: int | None = None,
) -> VerifyReport:
    """Compare the letters under `paths` with what the index holds (`Store.indexed_letters()`),
    and, given the number of chunks indexed, those with the chunks its letters account for."""
    report = VerifyReport(indexed=len(indexed))
    if chunks is not None:
        report.chunks = chunks
        report.letter_chunks = sum(il.chunk_count or 0 for il in indexed.values())
    recorded = {_resolved(il.source): il for il in indexed.values()}
    holders: dict[str, list[str]] = {}  # letter_id -> files under the paths holding it
    accounted: set[str] = set()  # indexed letters some file under the paths was read as
    for path, error in iter_letter_paths(paths):
        if progress:
            progress()
        if error is not None:
            report.unreadable.append((error.source, error.reason))
            continue
        report.files += 1
        source = _resolved(path)
        old = recorded.get(source)
        try:
            if old is not None and old.file is not None and file_unchanged(Path(source), old.file):
                report.unchanged += 1
                holders.setdefault(old.letter_id, []).append(source)
                accounted.add(old.letter_id)
                continue
            letter = parse_letter(path)
        except LetterError as exc:
            report.unreadable.append((exc.source, exc.reason))
            continue
        except OSError as exc:
            report.unreadable.append((path, f"cannot be read ({exc.strerror or exc})"))
            continue
        letter.source = source  # as the indexer records it, so that fingerprints compare
        letter_id = letter.letter_id
        holders.setdefault(letter_id, []).append(source)
        if old is not None:
            accounted.add(old.letter_id)
            if old.file is not None:
                report.stale.append((source, old.letter_id, "file content changed since indexing"))
            elif fingerprint(letter) != old.fingerprint or letter_id != old.letter_id:
                report.stale.append((source, old.letter_id, "letter changed since indexing"))
            else:
                report.unchanged += 1
            continue
        other = indexed.get(letter_id)
        if other is None:
            report.missing.append((source, letter_id))
        elif not os.path.exists(other.source):
            accounted.add(letter_id)
            report.stale.append((source, letter_id, f"indexed from {other.source}, now gone"))
        # else: the letter is indexed from another file that still exists: a duplicate below.
    for letter_id, files in sorted(holders.items()):
        other = indexed.get(letter_id)
        everyone = list(files)
        if other is not None and os.path.exists(other.source):
            source = _resolved(other.source)
            if source not in everyone and recorded.get(source) is other:
                everyone.insert(0, source)
        if len(everyone) > 1:
            report.duplicates.append((letter_id, everyone))
    held = accounted | {lid for lid in holders if lid in indexed}
    report.extra = sorted((lid, il.source) for lid, il in indexed.items() if lid not in held)
    return report


def _resolved(path: str) -> str:
    return str(Path(path).resolve())
