"""Indexing: letters from files into a store in batches of whole letters; unchanged are skipped."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from .chunking import chunk_letter
from .documents import LetterDocs, letter_docs
from .letters.errors import LetterError
from .letters.parser import parse_letter
from .letters.reader import iter_letter_paths
from .model import load_tokenizer
from .stores.base import Store


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


def read_letters(paths: list[str], on_error: Callable[[str, str], None]) -> Iterator[LetterDocs]:
    """Parse and chunk every letter under `paths`, reporting bad files and carrying on."""
    tokenizer = load_tokenizer()
    for path, error in iter_letter_paths(paths):
        try:
            if error:
                raise error
            letter = parse_letter(path)
            # The index records where the file is for good: the web app serves it from there.
            letter.source = str(Path(path).resolve())
            yield letter_docs(letter, chunk_letter(letter, tokenizer))
        except LetterError as exc:
            on_error(exc.source, exc.reason)
        except Exception as exc:  # noqa: BLE001 - one letter's bug must not stop the batch
            on_error(
                path, f"internal error ({type(exc).__name__}: {exc}); please report this letter"
            )


def index_letters(
    letters: Iterable[LetterDocs],
    store: Store,
    embedder,
    *,
    batch_size: int = 16,
    force: bool = False,
    progress: Callable[[int, int], None] | None = None,
) -> IndexSummary:
    """Embed and write letters in batches; a batch is written whole or not at all."""
    summary = IndexSummary()
    started = time.perf_counter()
    indexed = store.fingerprints()
    known = {} if force else indexed
    # A letter without a case number has an id derived from its text: when its file changes,
    # so does its id, and the version indexed from that file before must go.
    by_source: dict[str, set[str]] = {}
    for letter_id, (source, _) in indexed.items():
        by_source.setdefault(_same_file(source), set()).add(letter_id)
    stale: set[str] = set()
    seen: set[str] = set()
    batch: list[LetterDocs] = []

    def flush() -> None:
        if not batch:
            return
        texts = [c["text"] for docs in batch for c in docs.chunks]
        before = embedder.stats.embedded
        vectors = embedder.embed_documents(texts)
        summary.embedded += embedder.stats.embedded - before
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
        if known.get(docs.letter_id) == (docs.source, docs.fingerprint):
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
    summary.seconds = time.perf_counter() - started
    return summary


def _same_file(source: str) -> str:
    return str(Path(source).resolve())
