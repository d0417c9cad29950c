"""What every store offers the search service: the seam between `search.py` and the back ends."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

import numpy as np

from ..documents import LetterDocs
from ..query_text import Clause, ParsedQuery


@dataclass(frozen=True)
class Filters:
    """Restrictions on chunks: facet values (OR within a facet, AND across), date ranges, ids."""

    terms: tuple[tuple[str, tuple[str, ...]], ...] = ()
    date_ranges: tuple[tuple[str, str | None, str | None], ...] = ()  # (field, from, to) ISO
    chunk_ids: tuple[str, ...] | None = None  # only these chunks (a semantic result set)
    # These chunks match whatever the text query says (hybrid: keyword matches or these).
    also_chunk_ids: tuple[str, ...] = ()
    exclude_letter_ids: tuple[str, ...] = ()
    section: str | None = None  # "item" or "clinical_case_summary"
    first_window_only: bool = False  # count each item once, not once per window

    def without(self, facet: str) -> Filters:
        """Return these filters less the ones on `facet` (for disjunctive facet counts)."""
        return replace(self, terms=tuple((f, v) for f, v in self.terms if f != facet))

    def terms_dict(self) -> dict[str, tuple[str, ...]]:
        """Return the facet filters as a dict."""
        return dict(self.terms)


#: The fields every hit's `doc` holds, enough to rank, group and sort hits.
RANKING_FIELDS = (
    "chunk_id",
    "letter_id",
    "item_id",
    "item_index",
    "section",
    "decision",
    "decision_date",
    # What a disputed item is about: ranking weighs a query's recognised treatments and regions.
    "treatment_name",
    "treatment_class",
    "body_region",
)
#: The multi-valued facets among the ranking fields, besides the decision.
TOPIC_FIELDS = ("treatment_name", "treatment_class", "body_region")


class PartialDoc(dict):
    """A hit's ranking fields only (`RANKING_FIELDS`); `Store.complete` loads the rest.

    Asking it for any other field is a programming error, not a missing value, so it raises
    instead of answering None.
    """

    __slots__ = ()

    def get(self, key: str, default: Any = None) -> Any:
        """Return a ranking field's value, or raise for a field not loaded."""
        # Indexing calls `__missing__` for an absent key; a search calls this hundreds of times.
        return self[key]

    def __missing__(self, key: str) -> Any:
        raise KeyError(f"{key!r} is not loaded: pass the hit to Store.complete() first")


@dataclass(slots=True)
class ChunkHit:
    """A matching chunk: its ids, score, highlighted fragments (HTML, only <mark> unescaped)."""

    chunk_id: str
    letter_id: str
    score: float
    highlights: list[str] = field(default_factory=list)
    # The stored chunk fields (no embedding); possibly only the ranking ones (`PartialDoc`).
    doc: dict[str, Any] = field(default_factory=dict)


@dataclass
class IndexReport:
    """What a write did: letters written and per-letter failures."""

    indexed: int = 0
    failed: list[tuple[str, str]] = field(default_factory=list)  # (letter_id or source, reason)


class StoreUnavailable(Exception):
    """The back end cannot be reached or did not answer in time (the web app answers 503)."""


class IndexDamaged(StoreUnavailable):
    """The index's files are damaged or disagree (a file missing, truncated or overwritten, a
    wrong ACTIVE): nothing is answered from it until `imr-search reindex PATH` rebuilds it.
    The message names the file and what is wrong; `public` says the same without server paths
    (for the web)."""

    def __init__(self, message: str, public: str | None = None) -> None:
        super().__init__(message)
        self.public = public or message


class StoreConfigError(StoreUnavailable):
    """A setting of the back end (a URL, a number, credentials) is not valid: the message names
    the setting and what is wrong with it."""


class StoreWriteError(Exception):
    """The storage itself refused a write (not one letter's fault): every later write would too.

    `written` counts the letters of the failed call that are nevertheless stored whole (the
    embedded store's SQLite commit succeeded, only its text index could not follow)."""

    def __init__(self, message: str, written: int = 0) -> None:
        super().__init__(message)
        self.written = written


class ReadOnlyStorage(StoreWriteError):
    """The data directory (or its file system) is read-only."""


class StorageFull(StoreWriteError):
    """The disk (or quota) holding the data directory is full."""


@dataclass(frozen=True)
class FileStamp:
    """A letter's file as it was when the letter was indexed, to skip the file while unchanged."""

    sha256: str  # of the file's bytes
    size: int
    mtime_ns: int | None  # None when the file was modified too recently to trust its mtime
    parser: str  # version of the code that turns a file into chunks (`pipeline.parser_version`)


@dataclass(frozen=True)
class IndexedLetter:
    """What the index records about a letter, to tell what changed since."""

    letter_id: str
    source: str  # the file it was read from (resolved path)
    fingerprint: str  # of the parsed record (`documents.fingerprint`)
    file: FileStamp | None = None  # None for letters indexed before file stamps existed
    chunk_count: int | None = None  # chunks written with the letter


#: Key of a letter's `FileStamp` in `LetterDocs.extra` (set by `pipeline.read_letters`).
FILE_STAMP = "file"


def file_stamp(letter: LetterDocs) -> FileStamp | None:
    """Return the stamp of the file a letter was read from, if it came from a file."""
    stamp = letter.extra.get(FILE_STAMP)
    return stamp if isinstance(stamp, FileStamp) else None


class Store(Protocol):
    """A search back end. `query=None` matches every chunk (the filters still apply); a chunk
    in `filters.also_chunk_ids` matches whatever the query says."""

    name: str
    #: Letters per `upsert` when the command line does not say (`--batch-size`).
    letters_per_write: int

    def upsert(self, letters: list[LetterDocs]) -> IndexReport:
        """Write whole letters, replacing any earlier version of each, atomically per call.

        A letter's own problem goes in `IndexReport.failed`; a storage that refuses every write
        (read-only, full) raises `StoreWriteError`."""

    def delete(self, letter_ids: list[str]) -> int:
        """Remove letters and all their chunks; return how many existed."""

    def fingerprints(self) -> dict[str, tuple[str, str]]:
        """Return letter_id -> (source, fingerprint) for every indexed letter."""

    def indexed_letters(self) -> dict[str, IndexedLetter]:
        """Return letter_id -> source, fingerprint and file stamp of every indexed letter."""

    def counts(self) -> tuple[int, int]:
        """Return the number of letters and of chunks indexed."""

    def keyword(
        self, query: ParsedQuery, filters: Filters, size: int, sort: str = "relevance"
    ) -> tuple[list[ChunkHit], int]:
        """Return the best `size` chunks by BM25 (or newest first) and the number matching."""

    def knn(
        self, vector: np.ndarray, filters: Filters, k: int, stored: bool = False
    ) -> list[ChunkHit]:
        """Return the `k` chunks nearest to `vector` among those the filters allow; `stored`
        says the vector is a stored chunk's own, which an index may search more narrowly."""

    def knn_many(
        self, vectors: np.ndarray, filters: Filters, k: int, stored: bool = False
    ) -> list[list[ChunkHit]]:
        """Return `knn` of each row of `vectors`, in order (one request where the index can)."""

    def highlight(self, query: ParsedQuery, hits: list[ChunkHit]) -> dict[str, list[str]]:
        """Return highlighted fragments of the hits' chunks for the query's words, by chunk id."""

    def complete(self, hits: list[ChunkHit]) -> None:
        """Give hits whose `doc` is a `PartialDoc` their whole stored document, in place.

        `keyword` and `knn` may return only the ranking fields: a search ranks hundreds of
        candidate chunks and shows a few dozen, so only those are read in full."""

    def facet_counts(
        self, query: ParsedQuery | None, filters: Filters, facets: list[str]
    ) -> dict[str, dict[str, int]]:
        """Count, for each facet value, the letters with a matching chunk that has it."""

    def count_letters(self, query: ParsedQuery | None, filters: Filters) -> int:
        """Return the number of letters with at least one matching chunk."""

    def letter_shares(self, clauses: Sequence[Clause]) -> list[float]:
        """Return, for each word or phrase, the share of the index's letters that hold it."""

    def stats(
        self, query: ParsedQuery | None, filters: Filters, by: str
    ) -> dict[str, dict[str, int]]:
        """Count items per value of `by` and per decision ("upheld"/"overturned")."""

    def letter(self, letter_id: str) -> dict[str, Any] | None:
        """Return a letter's record, text and original text, or None."""

    def letter_chunks(self, letter_id: str, embeddings: bool = True) -> list[dict[str, Any]]:
        """Return a letter's chunk documents in order, each with its `embedding` list if asked."""

    def close(self) -> None:
        """Release files and connections."""
