"""The embedded store: the zero-setup default, in-process and on disk, no server.

Layout of the data directory:
- `store.sqlite`: the source of truth: letters (record, text, fingerprint, generation), chunks
  (document JSON and embedding), tombstones of deleted letters. Every write is one transaction.
- `text/`: a tantivy index of the chunks for BM25 and highlighting, derived from the SQLite
  tables. `text/generation` names the last SQLite generation it holds; after a crash between the
  two commits, the next writer replays the letters changed since (replaying is idempotent).
- Embeddings and facet values are loaded from SQLite into memory (numpy) for kNN with filters and
  for exact facet counts.

A process killed mid-indexing leaves both parts openable, holding only whole letters.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import sqlite3
import threading
import time
from dataclasses import dataclass, replace
from html import escape
from pathlib import Path
from typing import Any

import numpy as np

from ..documents import LetterDocs
from ..query_text import Clause, ParsedQuery
from ..schema import DATE_FIELDS, TEXT_BOOSTS, facet_names, fields
from ..synonyms import expansions
from .base import ChunkHit, Filters, IndexReport

# Lucene's English stop words, as Elasticsearch's `_english_` list, so both back ends drop the same.
_STOP_WORDS = (
    "a an and are as at be but by for if in into is it no not of on or such that the their then "
    "there these they this to was will with"
).split()
_KEYWORD_FIELDS = ("chunk_id", "letter_id", "item_id", "section", "decision_month")
_SCHEMA_SQL = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS letters (
    letter_id TEXT PRIMARY KEY, source TEXT NOT NULL, fingerprint TEXT NOT NULL,
    generation INTEGER NOT NULL, chunk_count INTEGER NOT NULL, indexed_at TEXT NOT NULL,
    record TEXT NOT NULL, text TEXT NOT NULL, original_text TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS letters_generation ON letters (generation);
CREATE TABLE IF NOT EXISTS chunks (
    row INTEGER PRIMARY KEY AUTOINCREMENT, chunk_id TEXT NOT NULL UNIQUE,
    letter_id TEXT NOT NULL, ord INTEGER NOT NULL, doc TEXT NOT NULL, embedding BLOB NOT NULL);
CREATE INDEX IF NOT EXISTS chunks_letter ON chunks (letter_id, ord);
CREATE TABLE IF NOT EXISTS tombstones (letter_id TEXT PRIMARY KEY, generation INTEGER NOT NULL);
"""


def default_data_dir() -> Path:
    """Return where the embedded index lives unless told otherwise (XDG data home)."""
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "imr-search"


class EmbeddedStore:
    """BM25 (tantivy) plus exact vector search (numpy) over chunks kept in SQLite."""

    name = "embedded"

    def __init__(self, data_dir: Path | str, dims: int = 384, index_dir: str | None = None) -> None:
        """Open (creating if needed) the active index under `data_dir`, or the named `index_dir`."""
        self.root = Path(data_dir)
        self.root.mkdir(parents=True, exist_ok=True)
        self.dims = dims
        # A store opened on a named index (a rebuild in progress) never follows ACTIVE.
        self._pinned = index_dir is not None
        self._open(index_dir or self._active_name() or self._create_active())

    def _active_name(self) -> str | None:
        try:
            return (self.root / "ACTIVE").read_text().strip() or None
        except FileNotFoundError:
            return None

    def _create_active(self) -> str:
        name = _new_index_name()
        _write_atomically(self.root / "ACTIVE", name)
        return name

    def _open(self, name: str) -> None:
        self.index_name = name
        self.path = self.root / name
        self.path.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()  # one SQLite connection per thread (the web app's)
        self._db.executescript(_SCHEMA_SQL)
        self._text = _TextIndex(self.path / "text")
        self._columns: _Columns | None = None
        self._columns_generation = -1
        self._load_lock = threading.Lock()

    @property
    def _db(self) -> sqlite3.Connection:
        """This thread's connection to the active index's database."""
        local = self._local
        if getattr(local, "index_name", None) != self.index_name:
            if getattr(local, "db", None) is not None:
                local.db.close()
            db = sqlite3.connect(self.path / "store.sqlite", timeout=30, isolation_level=None)
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
            local.db, local.index_name = db, self.index_name
        return local.db

    def _follow_active(self) -> None:
        """Switch to the index ACTIVE names, if a rebuild has replaced ours since we opened it."""
        if self._pinned:
            return
        name = self._active_name()
        if name and name != self.index_name:
            self._open(name)

    # -- rebuilding ------------------------------------------------------------------------

    def begin_reindex(self) -> str:
        """Start a rebuild into a new index directory; searches keep using the active one."""
        return _new_index_name()

    def reindex_target(self, name: str) -> EmbeddedStore:
        """Return a store writing into the rebuild `name`."""
        return EmbeddedStore(self.root, self.dims, index_dir=name)

    def finish_reindex(self, name: str) -> None:
        """Make the rebuild the active index (one atomic rename) and delete the old one."""
        if not (self.root / name / "store.sqlite").is_file():
            raise ValueError(f"no rebuilt index {name!r} in {self.root}")
        old = self.index_name
        _write_atomically(self.root / "ACTIVE", name)
        self._follow_active()
        if old != name:
            shutil.rmtree(self.root / old, ignore_errors=True)

    def abort_reindex(self, name: str) -> None:
        """Throw a rebuild away; the active index is untouched."""
        if name != self.index_name:
            shutil.rmtree(self.root / name, ignore_errors=True)

    # -- writing ---------------------------------------------------------------------------

    def upsert(self, letters: list[LetterDocs]) -> IndexReport:
        """Write whole letters, replacing earlier versions, in one transaction; then sync text."""
        self._follow_active()
        report = IndexReport()
        if not letters:
            return report
        now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        with _transaction(self._db) as db:
            generation = self._generation(db) + 1
            for letter in letters:
                vectors = letter.vectors
                if vectors is None or len(vectors) != len(letter.chunks):
                    report.failed.append((letter.letter_id, "chunks and embeddings do not match"))
                    continue
                db.execute("DELETE FROM chunks WHERE letter_id = ?", (letter.letter_id,))
                db.execute("DELETE FROM tombstones WHERE letter_id = ?", (letter.letter_id,))
                db.execute(
                    "INSERT OR REPLACE INTO letters VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        letter.letter_id,
                        letter.source,
                        letter.fingerprint,
                        generation,
                        len(letter.chunks),
                        now,
                        json.dumps(letter.record, ensure_ascii=False),
                        letter.text,
                        letter.original_text,
                    ),
                )
                db.executemany(
                    "INSERT INTO chunks (chunk_id, letter_id, ord, doc, embedding) "
                    "VALUES (?, ?, ?, ?, ?)",
                    [
                        (
                            doc["chunk_id"],
                            letter.letter_id,
                            i,
                            json.dumps(doc, ensure_ascii=False),
                            np.asarray(vec, dtype=np.float32).tobytes(),
                        )
                        for i, (doc, vec) in enumerate(zip(letter.chunks, vectors, strict=True))
                    ],
                )
                report.indexed += 1
            db.execute("INSERT OR REPLACE INTO meta VALUES ('generation', ?)", (str(generation),))
        self.sync()
        return report

    def delete(self, letter_ids: list[str]) -> int:
        """Remove letters and their chunks; return how many existed."""
        removed = 0
        with _transaction(self._db) as db:
            generation = self._generation(db) + 1
            for letter_id in letter_ids:
                cur = db.execute("DELETE FROM letters WHERE letter_id = ?", (letter_id,))
                if cur.rowcount:
                    removed += 1
                    db.execute("DELETE FROM chunks WHERE letter_id = ?", (letter_id,))
                    db.execute(
                        "INSERT OR REPLACE INTO tombstones VALUES (?, ?)", (letter_id, generation)
                    )
            db.execute("INSERT OR REPLACE INTO meta VALUES ('generation', ?)", (str(generation),))
        self.sync()
        return removed

    def sync(self) -> None:
        """Bring the text index up to the SQLite generation (after a crash, or after a write)."""
        target = self._generation(self._db)
        held = self._text.generation()
        if held >= target:
            return
        changed = self._db.execute(
            "SELECT letter_id FROM letters WHERE generation > ? "
            "UNION SELECT letter_id FROM tombstones WHERE generation > ?",
            (held, held),
        ).fetchall()
        letter_ids = [r[0] for r in changed]
        rows = []
        for start in range(0, len(letter_ids), 500):
            part = letter_ids[start : start + 500]
            marks = ",".join("?" * len(part))
            rows += self._db.execute(
                f"SELECT row, doc FROM chunks WHERE letter_id IN ({marks})", part
            ).fetchall()
        self._text.replace(letter_ids, [(row, json.loads(doc)) for row, doc in rows], target)

    # -- reading ---------------------------------------------------------------------------

    def fingerprints(self) -> dict[str, tuple[str, str]]:
        """Return letter_id -> (source, fingerprint) for every indexed letter."""
        self._follow_active()
        rows = self._db.execute("SELECT letter_id, source, fingerprint FROM letters")
        return {letter_id: (source, fp) for letter_id, source, fp in rows}

    def counts(self) -> tuple[int, int]:
        """Return the number of letters and of chunks indexed."""
        self._follow_active()
        letters = self._db.execute("SELECT count(*) FROM letters").fetchone()[0]
        chunks = self._db.execute("SELECT count(*) FROM chunks").fetchone()[0]
        return letters, chunks

    def letter(self, letter_id: str) -> dict[str, Any] | None:
        """Return a letter's record, text, original text, source and fingerprint, or None."""
        row = self._db.execute(
            "SELECT record, text, original_text, source, fingerprint, indexed_at FROM letters "
            "WHERE letter_id = ?",
            (letter_id,),
        ).fetchone()
        if row is None:
            return None
        record, text, original, source, fp, indexed_at = row
        return {
            "record": json.loads(record),
            "text": text,
            "original_text": original,
            "source": source,
            "fingerprint": fp,
            "indexed_at": indexed_at,
        }

    def letter_chunks(self, letter_id: str) -> list[dict[str, Any]]:
        """Return a letter's chunk documents in order, each with its `embedding`."""
        rows = self._db.execute(
            "SELECT doc, embedding FROM chunks WHERE letter_id = ? ORDER BY ord", (letter_id,)
        )
        return [
            {**json.loads(doc), "embedding": np.frombuffer(emb, dtype=np.float32).tolist()}
            for doc, emb in rows
        ]

    def keyword(
        self, query: ParsedQuery, filters: Filters, size: int, sort: str = "relevance"
    ) -> tuple[list[ChunkHit], int]:
        """Return the best `size` chunks by BM25 (or newest first) and how many match."""
        rows, scores, total = self._text.search(query, filters, size, sort)
        hits = self._hits(rows, scores)
        fragments = self._text.highlight(
            query, [(h.chunk_id, h.doc.get("text") or "") for h in hits]
        )
        for h in hits:
            h.highlights = fragments.get(h.chunk_id, [])
        return hits, total

    def knn(self, vector: np.ndarray, filters: Filters, k: int) -> list[ChunkHit]:
        """Return the `k` chunks nearest to `vector` (cosine) among those the filters allow."""
        cols = self._cols()
        positions = cols.select(filters)
        if positions is None:
            scores = cols.vectors @ vector
            candidates = np.arange(len(scores))
        else:
            scores = cols.vectors[positions] @ vector
            candidates = positions
        if len(scores) == 0:
            return []
        k = min(k, len(scores))
        top = np.argpartition(-scores, k - 1)[:k]
        top = top[np.lexsort((candidates[top], -scores[top]))]
        rows = cols.rows[candidates[top]].tolist()
        return self._hits(rows, scores[top].tolist())

    def highlight(self, query: ParsedQuery, chunk_ids: list[str]) -> dict[str, list[str]]:
        """Return highlighted fragments of the given chunks for the query's words."""
        docs = self._docs_by_chunk_id(chunk_ids)
        return self._text.highlight(
            query, [(cid, docs[cid].get("text") or "") for cid in chunk_ids if cid in docs]
        )

    def facet_counts(
        self, query: ParsedQuery | None, filters: Filters, facets: list[str]
    ) -> dict[str, dict[str, int]]:
        """Count, per facet value, the letters with a matching chunk that has the value."""
        cols = self._cols()
        positions = self._matching_positions(query, filters, cols)
        return {f: cols.count_letters_by(f, positions) for f in facets}

    def count_letters(self, query: ParsedQuery | None, filters: Filters) -> int:
        """Return the number of letters with at least one matching chunk."""
        cols = self._cols()
        positions = self._matching_positions(query, filters, cols)
        return int(len(np.unique(cols.letter_index[positions])))

    def stats(
        self, query: ParsedQuery | None, filters: Filters, by: str
    ) -> dict[str, dict[str, int]]:
        """Count items (first windows of item chunks) per value of `by` and per decision."""
        cols = self._cols()
        item_filters = replace(filters, section="item", first_window_only=True)
        positions = self._matching_positions(query, item_filters, cols)
        return cols.cross_count(by, "decision", positions)

    def close(self) -> None:
        """Close this thread's database connection; the text index closes with the process."""
        db = getattr(self._local, "db", None)
        if db is not None:
            db.close()
            self._local.db = self._local.index_name = None

    # -- internals -------------------------------------------------------------------------

    def _generation(self, db: sqlite3.Connection) -> int:
        row = db.execute("SELECT value FROM meta WHERE key = 'generation'").fetchone()
        return int(row[0]) if row else 0

    def _cols(self) -> _Columns:
        self._follow_active()
        generation = self._generation(self._db)
        if self._columns is None or generation != self._columns_generation:
            with self._load_lock:
                if self._columns is None or generation != self._columns_generation:
                    self._columns = _Columns.load(self._db, self.dims)
                    self._columns_generation = generation
        return self._columns

    def _matching_positions(
        self, query: ParsedQuery | None, filters: Filters, cols: _Columns
    ) -> np.ndarray:
        """Positions (in the in-memory columns) of every chunk that matches."""
        allowed = cols.select(filters)
        if query is None:
            return np.arange(len(cols.rows)) if allowed is None else allowed
        rows = self._text.all_rows(query)
        positions = cols.positions_of(rows)
        if filters.also_chunk_ids:
            extra = [
                cols.chunk_position[c] for c in filters.also_chunk_ids if c in cols.chunk_position
            ]
            positions = np.union1d(positions, np.asarray(extra, dtype=np.int64))
        if allowed is not None:
            positions = np.intersect1d(positions, allowed, assume_unique=True)
        return positions

    def _hits(self, rows: list[int], scores: list[float]) -> list[ChunkHit]:
        docs = self._docs_by_row(rows)
        return [
            ChunkHit(docs[row]["chunk_id"], docs[row]["letter_id"], float(score), [], docs[row])
            for row, score in zip(rows, scores, strict=True)
            if row in docs
        ]

    def _docs_by_row(self, rows: list[int]) -> dict[int, dict[str, Any]]:
        return self._docs_where("row", rows)

    def _docs_by_chunk_id(self, chunk_ids: list[str]) -> dict[str, dict[str, Any]]:
        return self._docs_where("chunk_id", chunk_ids)

    def _docs_where(self, column: str, keys: list) -> dict[Any, dict[str, Any]]:
        """Chunk documents by `row` or `chunk_id`, in slices under SQLite's variable limit."""
        out: dict[Any, dict[str, Any]] = {}
        for start in range(0, len(keys), 500):
            part = keys[start : start + 500]
            marks = ",".join("?" * len(part))
            for key, doc in self._db.execute(
                f"SELECT {column}, doc FROM chunks WHERE {column} IN ({marks})", part
            ):
                out[key] = json.loads(doc)
        return out


def _new_index_name() -> str:
    return time.strftime("index-%Y%m%dT%H%M%S", time.gmtime()) + f"-{secrets.token_hex(3)}"


def _write_atomically(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + f".{os.getpid()}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


class _transaction:
    """BEGIN IMMEDIATE ... COMMIT, rolled back on any error (including KeyboardInterrupt)."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db

    def __enter__(self) -> sqlite3.Connection:
        self.db.execute("BEGIN IMMEDIATE")
        return self.db

    def __exit__(self, exc_type, exc, tb) -> None:
        self.db.execute("ROLLBACK" if exc_type else "COMMIT")


@dataclass
class _Columns:
    """In-memory columns of every chunk: row ids, letters, embeddings and facet postings."""

    rows: np.ndarray  # SQLite row ids, ascending
    letter_index: np.ndarray  # position -> index into letter_ids
    letter_ids: list[str]
    vectors: np.ndarray
    postings: dict[str, dict[str, np.ndarray]]  # field -> value -> sorted positions
    dates: dict[str, np.ndarray]  # field -> yyyymmdd int (0 when unknown)
    section_item: np.ndarray  # bool
    first_window: np.ndarray  # bool
    chunk_position: dict[str, int]

    @classmethod
    def load(cls, db: sqlite3.Connection, dims: int) -> _Columns:
        """Read every chunk's facets and embedding from SQLite."""
        cursor = db.execute(
            "SELECT row, chunk_id, letter_id, doc, embedding FROM chunks ORDER BY row"
        )
        rows, letters, vectors, chunk_position = [], [], [], {}
        letter_ids: dict[str, int] = {}
        # decision_month is no facet of its own but feeds the decision-date histogram.
        facet_lists: dict[str, dict[str, list[int]]] = {
            f: {} for f in (*facet_names(), "decision_month")
        }
        dates = {f: [] for f in DATE_FIELDS}
        section_item, first_window = [], []
        for position, (row, chunk_id, letter_id, doc_json, emb) in enumerate(cursor):
            doc = json.loads(doc_json)
            rows.append(row)
            chunk_position[chunk_id] = position
            letters.append(letter_ids.setdefault(letter_id, len(letter_ids)))
            vectors.append(np.frombuffer(emb, dtype=np.float32))
            for facet, postings in facet_lists.items():
                value = doc.get(facet)
                for v in value if isinstance(value, list) else [value]:
                    if v is not None:
                        postings.setdefault(str(v), []).append(position)
            for f in DATE_FIELDS:
                dates[f].append(int(doc[f].replace("-", "")) if doc.get(f) else 0)
            section_item.append(doc.get("section") == "item")
            first_window.append(doc.get("window") == 0)
        matrix = np.vstack(vectors) if vectors else np.zeros((0, dims), np.float32)
        return cls(
            rows=np.asarray(rows, dtype=np.int64),
            letter_index=np.asarray(letters, dtype=np.int32),
            letter_ids=list(letter_ids),
            vectors=matrix,
            postings={
                f: {v: np.asarray(p, dtype=np.int64) for v, p in d.items()}
                for f, d in facet_lists.items()
            },
            dates={f: np.asarray(v, dtype=np.int32) for f, v in dates.items()},
            section_item=np.asarray(section_item, dtype=bool),
            first_window=np.asarray(first_window, dtype=bool),
            chunk_position=chunk_position,
        )

    def positions_of(self, rows: list[int]) -> np.ndarray:
        """Map SQLite row ids to positions, dropping ids not loaded (written since)."""
        wanted = np.unique(np.asarray(rows, dtype=np.int64))
        pos = np.searchsorted(self.rows, wanted)
        inside = pos < len(self.rows)
        pos, wanted = pos[inside], wanted[inside]
        return pos[self.rows[pos] == wanted]

    def select(self, filters: Filters) -> np.ndarray | None:
        """Return the sorted positions the filters allow, or None when they allow every chunk."""
        mask: np.ndarray | None = None

        def narrow(m: np.ndarray) -> None:
            nonlocal mask
            mask = m if mask is None else mask & m

        n = len(self.rows)
        for facet, values in filters.terms:
            m = np.zeros(n, dtype=bool)
            for value in values:
                posting = self.postings.get(facet, {}).get(value)
                if posting is not None:
                    m[posting] = True
            narrow(m)
        for field, low, high in filters.date_ranges:
            column = self.dates[field]
            m = column > 0
            if low:
                m &= column >= int(low.replace("-", ""))
            if high:
                m &= column <= int(high.replace("-", ""))
            narrow(m)
        if filters.chunk_ids is not None:
            m = np.zeros(n, dtype=bool)
            m[[self.chunk_position[c] for c in filters.chunk_ids if c in self.chunk_position]] = (
                True
            )
            narrow(m)
        if filters.exclude_letter_ids:
            excluded = {
                self.letter_ids.index(x) for x in filters.exclude_letter_ids if x in self.letter_ids
            }
            narrow(~np.isin(self.letter_index, list(excluded)))
        if filters.section is not None:
            narrow(self.section_item if filters.section == "item" else ~self.section_item)
        if filters.first_window_only:
            narrow(self.first_window)
        return None if mask is None else np.flatnonzero(mask)

    def count_letters_by(self, facet: str, positions: np.ndarray) -> dict[str, int]:
        """Count distinct letters per value of `facet` among the given positions."""
        counts = {}
        for value, posting in self.postings.get(facet, {}).items():
            common = np.intersect1d(posting, positions, assume_unique=True)
            if len(common):
                counts[value] = int(len(np.unique(self.letter_index[common])))
        return dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))

    def cross_count(self, by: str, other: str, positions: np.ndarray) -> dict[str, dict[str, int]]:
        """Count chunks per (value of `by`, value of `other`) among the given positions."""
        out: dict[str, dict[str, int]] = {}
        other_postings = self.postings.get(other, {})
        for value, posting in self.postings.get(by, {}).items():
            common = np.intersect1d(posting, positions, assume_unique=True)
            if not len(common):
                continue
            out[value] = {
                o: int(len(np.intersect1d(common, p, assume_unique=True)))
                for o, p in other_postings.items()
            }
        return out


class _TextIndex:
    """The tantivy side: BM25 over the chunk text fields, filtered, with highlights."""

    def __init__(self, path: Path) -> None:
        import tantivy

        self._tantivy = tantivy
        self.path = path
        path.mkdir(parents=True, exist_ok=True)
        builder = tantivy.SchemaBuilder()
        builder.add_integer_field("row", stored=True, indexed=True, fast=True)
        for f in fields():
            if f.type == "text":
                builder.add_text_field(
                    f.name, stored=False, tokenizer_name="imr_text", index_option="position"
                )
            elif f.type == "keyword" and (f.is_facet or f.name in _KEYWORD_FIELDS):
                builder.add_text_field(f.name, stored=False, tokenizer_name="raw", fast=True)
            elif f.type == "date" or f.name in ("window", "item_index"):
                builder.add_integer_field(f.name, stored=False, indexed=True, fast=True)
        self.schema = builder.build()
        self.index = tantivy.Index(self.schema, path=str(path))
        analyzer = (
            tantivy.TextAnalyzerBuilder(tantivy.Tokenizer.simple())
            .filter(tantivy.Filter.remove_long(40))
            .filter(tantivy.Filter.lowercase())
            .filter(tantivy.Filter.custom_stopword(_STOP_WORDS))
            .filter(tantivy.Filter.stemmer("english"))
            .build()
        )
        self.index.register_tokenizer("imr_text", analyzer)
        self._marker = path / "generation"

    def generation(self) -> int:
        """Return the SQLite generation this index holds (0 for a new index)."""
        try:
            return int(self._marker.read_text())
        except (FileNotFoundError, ValueError):
            return 0

    def replace(
        self, letter_ids: list[str], chunks: list[tuple[int, dict]], generation: int
    ) -> None:
        """Delete the letters' chunks and add the given ones, in one commit."""
        writer = self.index.writer(heap_size=64_000_000, num_threads=1)
        try:
            for letter_id in letter_ids:
                writer.delete_documents_by_term("letter_id", letter_id)
            for row, doc in chunks:
                writer.add_document(self._document(row, doc))
            writer.commit()
            writer.wait_merging_threads()
        except BaseException:
            writer.rollback()
            raise
        # Written after the commit: if we die in between, the next writer replays these letters,
        # which deletes and re-adds them: the same result.
        tmp = self._marker.with_suffix(".tmp")
        tmp.write_text(str(generation))
        os.replace(tmp, self._marker)
        self.index.reload()

    def _document(self, row: int, doc: dict[str, Any]):
        values: dict[str, Any] = {"row": row}
        for f in fields():
            value = doc.get(f.name)
            if value is None or value == []:
                continue
            if f.type == "text" or (
                f.type == "keyword" and (f.is_facet or f.name in _KEYWORD_FIELDS)
            ):
                values[f.name] = value if isinstance(value, list) else str(value)
            elif f.type == "date":
                values[f.name] = int(value.replace("-", ""))
            elif f.name in ("window", "item_index"):
                values[f.name] = int(value)
        return self._tantivy.Document(**values)

    def _text_query(self, query: ParsedQuery):
        """Build the BM25 query: optional and required words or phrases, exclusions."""
        tantivy = self._tantivy
        parts = []
        for clause in query.clauses:
            parts.append(_clause_syntax(clause))
        text = " ".join(parts)
        names = [n for n in TEXT_BOOSTS]
        if query.is_empty:
            base = tantivy.Query.all_query()
            if not query.negative:
                return base
            negatives = self.index.parse_query(
                " ".join(
                    _clause_syntax(Clause(c.text, c.phrase, "should")) for c in query.negative
                ),
                names,
            )
            return tantivy.Query.boolean_query(
                [(tantivy.Occur.Must, base), (tantivy.Occur.MustNot, negatives)]
            )
        return self.index.parse_query(text, names, field_boosts=dict(TEXT_BOOSTS))

    def _filtered(self, query: ParsedQuery, filters: Filters):
        """The text query restricted by the filters, which add nothing to the score."""
        tantivy = self._tantivy
        Q, must, must_not = tantivy.Query, tantivy.Occur.Must, tantivy.Occur.MustNot
        clauses = [(must, self._text_query(query))]
        restrictions = []
        for facet, values in filters.terms:
            restrictions.append((must, Q.term_set_query(self.schema, facet, list(values))))
        for name, low, high in filters.date_ranges:
            lower = int(low.replace("-", "")) if low else 0
            upper = int(high.replace("-", "")) if high else 99991231
            restrictions.append(
                (must, Q.range_query(self.schema, name, tantivy.FieldType.Integer, lower, upper))
            )
        if filters.chunk_ids is not None:
            ids = list(filters.chunk_ids)
            restrictions.append(
                (must, Q.term_set_query(self.schema, "chunk_id", ids) if ids else Q.empty_query())
            )
        if filters.exclude_letter_ids:
            restrictions.append(
                (
                    must_not,
                    Q.term_set_query(self.schema, "letter_id", list(filters.exclude_letter_ids)),
                )
            )
        if filters.section is not None:
            restrictions.append((must, Q.term_query(self.schema, "section", filters.section)))
        if filters.first_window_only:
            restrictions.append((must, Q.term_query(self.schema, "window", 0)))
        for occur, restriction in restrictions:
            clauses.append((occur, Q.const_score_query(restriction, 0.0)))
        return Q.boolean_query(clauses)

    def search(
        self, query: ParsedQuery, filters: Filters, size: int, sort: str
    ) -> tuple[list[int], list[float], int]:
        """Return (rows, scores, total matches) of the best chunks."""
        q = self._filtered(query, filters)
        searcher = self.index.searcher()
        if sort == "newest":
            result = searcher.search(
                q,
                max(size, 1),
                count=True,
                order_by_field="decision_date",
                order=self._tantivy.Order.Desc,
            )
        else:
            result = searcher.search(q, max(size, 1), count=True)
        addresses = [addr for _, addr in result.hits]
        rows = searcher.fast_field_values("row", addresses) if addresses else []
        # Sorted by date, tantivy gives the date (or None) in place of a score.
        scores = [float(score) if sort != "newest" else 0.0 for score, _ in result.hits]
        return list(rows), scores, int(result.count)

    def all_rows(self, query: ParsedQuery) -> list[int]:
        """Return the row ids of every chunk the text query matches."""
        q = self._text_query(query)
        searcher = self.index.searcher()
        total = searcher.search(q, 1, count=True).count
        if total == 0:
            return []
        result = searcher.search(q, total, count=False)
        return list(searcher.fast_field_values("row", [addr for _, addr in result.hits]))

    def highlight(self, query: ParsedQuery, texts: list[tuple[str, str]]) -> dict[str, list[str]]:
        """Return up to two HTML fragments per chunk with the query's words in <mark>."""
        if query.is_empty or not texts:
            return {}
        tantivy = self._tantivy
        q = self.index.parse_query(
            " ".join(_clause_syntax(Clause(c.text, c.phrase, "should")) for c in query.positive),
            ["text"],
        )
        generator = tantivy.SnippetGenerator.create(self.index.searcher(), q, self.schema, "text")
        generator.set_max_num_chars(180)
        out = {}
        for chunk_id, text in texts:
            snippet = generator.snippet_from_doc(tantivy.Document(text=text))
            fragment = snippet.fragment()
            if not snippet.highlighted():
                continue
            html, last = [], 0
            for span in snippet.highlighted():
                html.append(escape(fragment[last : span.start]))
                html.append(f"<mark>{escape(fragment[span.start : span.end])}</mark>")
                last = span.end
            html.append(escape(fragment[last:]))
            out[chunk_id] = ["".join(html).strip()]
        return out


def _clause_syntax(clause: Clause) -> str:
    """Render a clause in tantivy's query language, expanding drug names to their synonyms."""
    prefix = {"must": "+", "must_not": "-"}.get(clause.occur, "")
    if clause.phrase:
        return f'{prefix}"{clause.text}"'
    group = expansions().get(clause.text.lower())
    if group and clause.occur != "must_not":
        return prefix + "(" + " OR ".join(group) + ")"
    if group:
        return " ".join(f"-{w}" for w in group)
    return prefix + clause.text
