"""The embedded store: the zero-setup default, in-process and on disk, no server.

Layout of the data directory:
- `store.sqlite`: the source of truth: letters (record, text, fingerprint, generation), chunks
  (document JSON and embedding), tombstones of deleted letters. Every write is one transaction.
- `text/`: a tantivy index of the chunks for BM25 and highlighting, derived from the SQLite
  tables. `text/generation` names the last SQLite generation it holds; after a crash between the
  two commits, the next writer replays the letters changed since (replaying is idempotent).
- `manifest.json`: what the last commit left, each text-index file with its size and CRC-32
  (`integrity.py`). Opening checks the index against it cheaply, and refuses a damaged one
  (`BrokenIndex`, naming the file); `check_whole` (`imr-search verify`) checks every byte.
- Embeddings and facet values are loaded from SQLite into memory (numpy) for kNN with filters and
  for exact facet counts.

A process killed mid-indexing leaves both parts openable, holding only whole letters.

A data directory that cannot be written (read-only file system, no permission) opens read-only:
searches work (tantivy, which takes a lock file even to read, reads a private copy of the text
index), writes raise `ReadOnlyStorage`. A full disk raises `StorageFull`; the transaction that
hit it is rolled back, so the index still holds whole letters only.

`ACTIVE` names the live index: a plain name of the form `index-<UTC time>-<6 hex digits>`, a
directory directly under the data directory. Any other value (a path, `.`, `..`) is refused
(`BadActivePointer`), so nothing outside the data directory's own `index-*` children is ever
opened as the index or deleted. A rebuild (`reindex`) builds a new `index-*` directory, checks
it (`verify_rebuild`), switches ACTIVE to it and deletes the others; the command runs it under
the data directory's writer lock (`locking.py`), which is also why it may remove what earlier,
interrupted rebuilds left (`remove_leftovers`).
"""

from __future__ import annotations

import errno
import functools
import json
import os
import re
import secrets
import shutil
import sqlite3
import tempfile
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import replace
from html import escape
from pathlib import Path
from typing import Any

import numpy as np
import orjson

from ..documents import LetterDocs
from ..memory import keep_loaded
from ..query_text import Clause, ParsedQuery
from ..schema import TEXT_BOOSTS, fields
from ..synonyms import expansions
from ..threads import shared_pool, spare_core
from . import integrity
from .analysis import analyze, english_analyzer
from .base import (
    ChunkHit,
    FileStamp,
    Filters,
    IndexDamaged,
    IndexedLetter,
    IndexReport,
    PartialDoc,
    ReadOnlyStorage,
    StorageFull,
    StoreUnavailable,
    StoreWriteError,
    file_stamp,
)
from .columns import Columns
from .counting import query_mask
from .kernels import warm_up
from .vectors import VectorSearch, hnsw_min_chunks

_MATCH_CACHE_SIZE = 32
_KEYWORD_FIELDS = ("chunk_id", "letter_id", "item_id", "section", "decision_month")
_SCHEMA_SQL = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS letters (
    letter_id TEXT PRIMARY KEY, source TEXT NOT NULL, fingerprint TEXT NOT NULL,
    generation INTEGER NOT NULL, chunk_count INTEGER NOT NULL, indexed_at TEXT NOT NULL,
    record TEXT NOT NULL, text TEXT NOT NULL, original_text TEXT NOT NULL,
    file_sha256 TEXT, file_size INTEGER, file_mtime_ns INTEGER, parser TEXT);
CREATE INDEX IF NOT EXISTS letters_generation ON letters (generation);
CREATE TABLE IF NOT EXISTS chunks (
    row INTEGER PRIMARY KEY AUTOINCREMENT, chunk_id TEXT NOT NULL UNIQUE,
    letter_id TEXT NOT NULL, ord INTEGER NOT NULL, doc TEXT NOT NULL, embedding BLOB NOT NULL);
CREATE INDEX IF NOT EXISTS chunks_letter ON chunks (letter_id, ord);
CREATE TABLE IF NOT EXISTS tombstones (letter_id TEXT PRIMARY KEY, generation INTEGER NOT NULL);
"""
# Columns added since the first release: databases created before get them on opening.
_FILE_COLUMNS = (
    ("file_sha256", "TEXT"),
    ("file_size", "INTEGER"),
    ("file_mtime_ns", "INTEGER"),
    ("parser", "TEXT"),
)
_LETTER_COLUMNS = (
    "letter_id, source, fingerprint, generation, chunk_count, indexed_at, record, text, "
    "original_text, file_sha256, file_size, file_mtime_ns, parser"
)


#: The name of an index directory, as `_new_index_name` makes it: the only thing ACTIVE may hold.
INDEX_NAME = re.compile(r"index-[0-9]{8}T[0-9]{6}-[0-9a-f]{6}")
_ACTIVE_TMP = re.compile(r"ACTIVE\.[0-9]+\.tmp")


class DataDirectoryError(StoreUnavailable):
    """The data directory is not a directory, or cannot be made one."""


_REBUILD = "run `imr-search reindex PATH` to rebuild"


class BadActivePointer(IndexDamaged):
    """ACTIVE names something else than an index directory of the data directory (or is
    missing, empty, unreadable while the data directory holds indexes)."""

    def __init__(self, root: Path, what: str) -> None:
        self.problem = f"ACTIVE in '{root}' {what}"
        super().__init__(
            f"{self.problem}; {_REBUILD}", public=f"ACTIVE in the data directory {what}; {_REBUILD}"
        )


class BrokenIndex(IndexDamaged):
    """The live index's files are damaged (`problem` names the file and what is wrong)."""

    def __init__(self, path: Path, problem: str) -> None:
        self.problem = problem
        super().__init__(
            f"the index '{path}' is damaged: {problem}; {_REBUILD}",
            public=f"the index '{path.name}' is damaged: {problem}; {_REBUILD}",
        )


class RebuildCheckFailed(Exception):
    """A rebuilt index does not hold what was written into it: it must not go live."""


class _TextFailure(Exception):
    """tantivy failed reading the text index (an error or a panic): a damaged file, most
    likely; the store finds which (`EmbeddedStore._diagnose`)."""


@contextmanager
def _text_reads() -> Iterator[None]:
    """Turn tantivy's failures while reading into `_TextFailure`: its I/O errors are
    ValueErrors, and a damaged file can make it panic (pyo3's PanicException, which is no
    Exception)."""
    try:
        yield
    except ValueError as exc:
        if _failure_kind(exc, Path(".")) is not None:  # full or read-only: not damage
            raise
        raise _TextFailure(_one_line(exc, 400)) from exc
    except BaseException as exc:
        if type(exc).__name__ != "PanicException":
            raise
        raise _TextFailure(f"tantivy panicked: {_one_line(exc)}") from None


def _text_open_problem(message: str) -> str:
    """One line for what tantivy said when it could not open or read the text index."""
    missing = re.search(r'FileDoesNotExist\("([^"]+)"\)', message)
    if missing:
        return f"text/{Path(missing[1]).name} is missing"
    where = re.search(r'filepath: "([^"]+)"', message)
    if where:
        why = re.search(r'error: "([^".]+)', message)
        return f"text/{Path(where[1]).name} cannot be read ({why[1] if why else 'damaged'})"
    return f"the text index cannot be read ({_one_line(message)})"


def _reads(method: Callable) -> Callable:
    """A read of the store: refused while the index is unusable; damage it meets (SQLite's
    "malformed", tantivy's errors and panics) makes the index unusable, with one line."""

    @functools.wraps(method)
    def checked(self: EmbeddedStore, *args: Any, **kwargs: Any) -> Any:
        self._ready()
        with self._reading():
            return method(self, *args, **kwargs)

    return checked


def ensure_data_dir(root: Path) -> None:
    """Make the data directory if needed; raise `DataDirectoryError` (or, when the storage
    refuses, `ReadOnlyStorage` / `StorageFull`) with one line saying what is wrong."""
    try:
        root.mkdir(parents=True, exist_ok=True)
        return
    except FileExistsError:  # a file, a device, a symlink to one
        pass
    except OSError as exc:
        if exc.errno == errno.ENOTDIR:
            blocker = next((p for p in root.parents if p.exists() and not p.is_dir()), None)
            if blocker is not None:
                raise DataDirectoryError(
                    f"data directory '{root}' cannot be created: '{blocker}' is not a directory"
                ) from None
        if _failure_kind(exc, root) is not None:
            raise _write_error(exc, root) from exc
        raise DataDirectoryError(
            f"data directory '{root}' cannot be created ({exc.strerror or exc})"
        ) from None
    if not root.is_dir():
        raise DataDirectoryError(f"data directory '{root}' is not a directory")


def default_data_dir() -> Path:
    """Return where the embedded index lives unless told otherwise (XDG data home)."""
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "imr-search"


class EmbeddedStore:
    """BM25 (tantivy) plus exact vector search (numpy) over chunks kept in SQLite."""

    name = "embedded"
    #: One SQLite transaction per batch: small enough that a killed run loses little.
    letters_per_write = 16

    def __init__(
        self,
        data_dir: Path | str,
        dims: int = 384,
        index_dir: str | None = None,
        *,
        read_only: bool = False,
        for_rebuild: bool = False,
        damaged_ok: bool = False,
    ) -> None:
        """Open (creating if needed) the active index under `data_dir`, or the named `index_dir`.

        Opening checks the index cheaply (`integrity.py`): a damaged one raises `BrokenIndex`
        (a wrong ACTIVE `BadActivePointer`), naming the file and what is wrong. With `read_only`,
        or when the directory cannot be written, nothing is created or changed on disk and
        writes raise `ReadOnlyStorage`. With `for_rebuild` or `damaged_ok`, a live index that
        cannot be used is left closed (`self.unusable` says why, and every read raises it): the
        store can still rebuild and switch to a new one, and a server can answer 503 until then
        (it opens the new index when ACTIVE names one)."""
        self.root = Path(data_dir)
        self.dims = dims
        self._read_only_requested = read_only
        self._text_copy: tempfile.TemporaryDirectory | None = None
        self._active_cache: tuple[tuple[int, int, int], str | None] | None = None
        self._local = threading.local()
        self.index_name: str | None = None
        self.unusable: StoreUnavailable | None = None
        self._verified: integrity.Verified = {}  # text files found intact (see integrity.py)
        tolerant = for_rebuild or damaged_ok
        if not read_only:
            ensure_data_dir(self.root)
        elif self.root.exists() and not self.root.is_dir():
            raise DataDirectoryError(f"data directory '{self.root}' is not a directory")
        # A store opened on a named index (a rebuild in progress) never follows ACTIVE.
        self._pinned = index_dir is not None
        if index_dir is not None and not INDEX_NAME.fullmatch(index_dir):
            raise ValueError(f"{index_dir!r} is not the name of an index directory")
        try:
            name = index_dir or self._active_name()
            if name is None:
                self._check_no_active()
        except BadActivePointer as exc:
            if not tolerant:
                raise
            self.unusable = exc
            return
        if name is None:
            if read_only or not os.access(self.root, os.W_OK):
                raise ReadOnlyStorage(
                    f"data directory '{self.root}' is read-only and holds no index yet"
                )
            name = self._create_active()
        try:
            self._open(name)
        except BrokenIndex as exc:
            if not tolerant:
                raise
            self.unusable = exc

    def _active_name(self) -> str | None:
        """The index ACTIVE names (None without ACTIVE); `BadActivePointer` unless it is a plain
        name of an index directory directly under the data directory."""
        # Asked before every query: a stat is a fraction of reading the file, and ACTIVE is only
        # ever replaced (a new inode), never written in place.
        path = self.root / "ACTIVE"
        try:
            st = os.stat(path)
            key = (st.st_ino, st.st_mtime_ns, st.st_size)
            cached = self._active_cache
            if cached is not None and cached[0] == key:
                return cached[1]
            raw = path.read_bytes()
        except FileNotFoundError:
            return None
        except OSError as exc:  # a directory, a loop, a FIFO would be refused below anyway
            raise BadActivePointer(self.root, f"cannot be read ({exc.strerror or exc})") from None
        name = raw.decode("utf-8", "replace").strip()
        if not name:  # written whole or not at all (`_write_new`, `_write_atomically`)
            raise BadActivePointer(self.root, "is empty")
        self._check_index_name(name)
        self._active_cache = (key, name)
        return name

    def _check_index_name(self, name: str) -> None:
        target = self.root / name
        if INDEX_NAME.fullmatch(name) and target.is_dir() and not target.is_symlink():
            return
        if INDEX_NAME.fullmatch(name) and not os.path.lexists(target):
            # Named before it is made (`_create_active`): only a first index is ever missing.
            others = self._index_dirs()
            if not others:
                return
            held = ", ".join(others)
            raise BadActivePointer(
                self.root, f"names '{name}', which does not exist (the data directory holds {held})"
            )
        shown = "".join(c if c.isprintable() else repr(c)[1:-1] for c in name[:200])
        raise BadActivePointer(self.root, f"names '{shown}', not an index directory of it")

    def _index_dirs(self) -> list[str]:
        """The index directories of the data directory (not symlinks), by name."""
        return sorted(
            p.name
            for p in self._children()
            if INDEX_NAME.fullmatch(p.name) and p.is_dir() and not p.is_symlink()
        )

    def _check_no_active(self) -> None:
        """Without ACTIVE, the data directory must hold no index (else which one is live?)."""
        others = [n for n in self._index_dirs() if (self.root / n / integrity.SQLITE).exists()]
        if others:
            held = ", ".join(others)
            raise BadActivePointer(self.root, f"is missing (the data directory holds {held})")

    def _create_active(self) -> str:
        name = _new_index_name()
        with _storage_errors(self.root):
            if not _write_new(self.root / "ACTIVE", name):  # another process was first
                return self._active_name() or name
        return name

    def _open(self, name: str) -> None:
        """Open the index `name`; `BrokenIndex` if its files are not an index, or damaged."""
        try:
            self._open_index(name)
        except BrokenIndex:
            self.index_name = None
            raise
        except sqlite3.DatabaseError as exc:
            self.index_name = None
            if not integrity.is_corruption(exc):  # locked, I/O: not the file's fault
                raise
            raise BrokenIndex(self.root / name, integrity.sqlite_error_problem(exc)) from None
        except _TextFailure as exc:
            self.index_name = None
            raise BrokenIndex(self.root / name, _text_open_problem(str(exc))) from None
        except ValueError as exc:  # tantivy's: a segment file missing or cut short
            self.index_name = None
            raise BrokenIndex(self.root / name, _text_open_problem(str(exc))) from None
        except BaseException:
            self.index_name = None
            raise
        self.unusable = None

    def _open_index(self, name: str) -> None:
        self.index_name = name
        self.path = self.root / name
        self._local = threading.local()  # one SQLite connection per thread (the web app's)
        self.read_only = self._read_only_requested or not (
            os.access(self.root, os.W_OK)
            and (not self.path.exists() or os.access(self.path, os.W_OK))
        )
        # Before anything is created: a missing or cut short store.sqlite of an index that has
        # been written is damage, never a new empty index.
        problem = integrity.sqlite_problem(
            self.path / integrity.SQLITE, integrity.has_content(self.path)
        )
        if problem is not None:
            raise BrokenIndex(self.path, problem)
        if self.read_only:
            if not (self.path / "store.sqlite").is_file():
                if self._read_only_requested:
                    raise ReadOnlyStorage(f"data directory '{self.root}' holds no index {name!r}")
                raise ReadOnlyStorage(f"data directory '{self.root}' is read-only")
        else:
            with _storage_errors(self.root):
                self.path.mkdir(parents=True, exist_ok=True)
                self._db.executescript(_SCHEMA_SQL)
                self._add_missing_columns()
        self._file_columns = {c for c, _ in _FILE_COLUMNS} <= self._letter_column_names()
        self._columns: Columns | None = None
        self._columns_generation = -1
        self._load_lock = threading.Lock()
        self._vectors = VectorSearch(self.path / "vectors.usearch")
        # One search asks for the same match set several times (total, facets, histogram).
        self._matches: OrderedDict[tuple, _Match] = OrderedDict()
        self._verified = {}
        # Checked before tantivy opens it: tantivy makes a new, empty text index where
        # meta.json is missing.
        self._check(deep=False)
        with _storage_errors(self.root), _text_reads():
            self._text = _TextIndex(self._text_path())
        if not self.read_only and self._text_copy is None:
            self._text.committed = self._write_manifest
        if self._text_copy is not None:
            self.sync()  # the private copy may lag SQLite if a writer was killed

    def _text_path(self) -> Path:
        """The text index to open: ours, or a private copy of it when it cannot be written."""
        text = self.path / "text"
        if self._text_copy is not None:
            self._text_copy.cleanup()
            self._text_copy = None
        if not self.read_only or os.access(text, os.W_OK):
            return text
        self._text_copy = tempfile.TemporaryDirectory(prefix="imr-search-text-")
        copy = Path(self._text_copy.name) / "text"
        if text.is_dir():
            shutil.copytree(text, copy)
        return copy

    def _letter_column_names(self) -> set[str]:
        return {row[1] for row in self._db.execute("PRAGMA table_info(letters)")}

    def _add_missing_columns(self) -> None:
        """Give a database created by an earlier version the columns added since."""
        if {c for c, _ in _FILE_COLUMNS} <= self._letter_column_names():
            return
        with _transaction(self._db) as db:  # one process adds them; the others then see them
            have = self._letter_column_names()
            for column, sql_type in _FILE_COLUMNS:
                if column not in have:
                    db.execute(f"ALTER TABLE letters ADD COLUMN {column} {sql_type}")

    @property
    def _db(self) -> sqlite3.Connection:
        """This thread's connection to the active index's database."""
        local = self._local
        if getattr(local, "index_name", None) != self.index_name:
            if getattr(local, "db", None) is not None:
                local.db.close()
            local.db, local.index_name = self._connect(), self.index_name
        return local.db

    def _connect(self) -> sqlite3.Connection:
        path = self.path / "store.sqlite"
        if not self.read_only:
            db = sqlite3.connect(path, timeout=30, isolation_level=None)
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
            return db
        return _read_only_connection(path)

    def _follow_active(self) -> None:
        """Switch to the index ACTIVE names, if a rebuild has replaced ours since we opened it
        (or try again to open it, if it could not be used)."""
        if self._pinned:
            return
        name = self._active_name()
        if name is None and self.index_name is not None:
            self._check_no_active()
        if name and name != self.index_name:
            self._open(name)

    def _ready(self) -> None:
        """Before reading: follow ACTIVE; raise what makes the index unusable, if anything."""
        try:
            self._follow_active()
        except IndexDamaged as exc:
            if not self._pinned:
                self.unusable = exc
            raise
        if self.unusable is not None:
            raise self.unusable
        if self.index_name is None:
            raise StoreUnavailable(f"no index open in '{self.root}'")

    # -- integrity (see integrity.py) --------------------------------------------------------

    def _check(self, deep: bool) -> integrity.State:
        """Raise `BrokenIndex` with the first problem the checks find (every checksum if
        `deep`), else return what SQLite says. A writer in another process may be committing
        meanwhile: a problem counts only if nothing a commit changes moved while it was found."""
        problem = None
        for attempt in range(5):
            before = self._change_key()
            state = integrity.read_state(self._db, self.path)
            found = integrity.problems(self.path, state, deep=deep, verified=self._verified)
            problem = next(found, None)
            if problem is None:
                return state
            if self._change_key() == before:
                break
            time.sleep(0.05 * (attempt + 1))
        raise self._found_damage(problem)

    def _change_key(self) -> tuple:
        keys: list[Any] = [self._generation(self._db)]
        for name in ("text/generation", integrity.MANIFEST, integrity.META):
            try:
                st = os.stat(self.path / name)
                keys.append((st.st_ino, st.st_mtime_ns, st.st_size))
            except OSError:
                keys.append(None)
        return tuple(keys)

    def _found_damage(self, problem: str) -> BrokenIndex:
        """The damage found in the open index: every read refuses it from now on (until ACTIVE
        names another index)."""
        exc = BrokenIndex(self.path, problem)
        self.unusable = exc
        return exc

    def _diagnose(self, failure: BaseException) -> str | None:
        """What is damaged, once reading the text index failed (tantivy's error or panic);
        None when every file is as written (then it is no damage, but a bug)."""
        try:
            state = integrity.read_state(self._db, self.path)
        except sqlite3.Error:
            state = None
        return next(integrity.problems(self.path, state, deep=True), None)

    def health(self) -> tuple[int, int]:
        """Check the index as an opening does, and every text file's checksum (each file once
        while it does not change); return its letters and chunks. `IndexDamaged` if it is
        damaged, or was found damaged by a read."""
        self._ready()
        with self._reading():
            state = self._check(deep=True)
        return state.letters, state.chunks

    @contextmanager
    def _reading(self) -> Iterator[None]:
        """Turn what a damaged file makes SQLite or tantivy raise into `BrokenIndex`."""
        try:
            yield
        except IndexDamaged:
            raise
        except sqlite3.DatabaseError as exc:
            if not integrity.is_corruption(exc) or self.index_name is None:
                raise
            raise self._found_damage(integrity.sqlite_error_problem(exc)) from None
        except json.JSONDecodeError as exc:  # orjson's error is one too
            if self.index_name is None:
                raise
            problem = f"{integrity.SQLITE} holds a document that cannot be read ({_one_line(exc)})"
            raise self._found_damage(problem) from None
        except _TextFailure as exc:
            problem = self._diagnose(exc) if self.index_name is not None else None
            if problem is None:  # every file intact: an error of ours, answered as one (500)
                raise RuntimeError(f"the text index failed: {exc}") from exc
            raise self._found_damage(problem) from None

    def check_whole(self) -> list[str]:
        """Check the live index whole, as `imr-search verify` does: ACTIVE, the manifest, every
        file's size and checksum, SQLite's integrity check, every chunk's document and
        embedding, and the text index's documents of each letter against SQLite's chunks.
        Return what is damaged, one line each naming the file (none: the index is whole)."""
        try:
            name = self.index_name if self._pinned else self._active_name()
            if name is None:
                self._check_no_active()
                return []
        except BadActivePointer as exc:
            return [exc.problem]
        return _check_whole(self.root / name, self.dims)

    # -- rebuilding ------------------------------------------------------------------------

    def begin_reindex(self) -> str:
        """Start a rebuild into a new index directory; searches keep using the active one."""
        return _new_index_name()

    def reindex_target(self, name: str) -> EmbeddedStore:
        """Return a store writing into the rebuild `name`."""
        return EmbeddedStore(self.root, self.dims, index_dir=name)

    def remove_leftovers(self) -> list[str]:
        """Delete what interrupted rebuilds left: `index-*` directories ACTIVE does not name
        (none while ACTIVE itself is unusable: one of them may be the last good index) and
        `ACTIVE.<pid>.tmp` files. Only with the writer lock held (no rebuild is running).
        Returns the index directories deleted."""
        removed: list[str] = []
        if not os.access(self.root, os.W_OK):
            return removed
        live = None if isinstance(self.unusable, BadActivePointer) else self._active_name()
        for child in sorted(self._children()):
            if _ACTIVE_TMP.fullmatch(child.name):
                with suppress(OSError):
                    child.unlink()
            elif live is not None and child.name != live and self._remove_index(child.name):
                removed.append(child.name)
        return removed

    def verify_rebuild(self, name: str) -> tuple[int, int]:
        """Open the rebuilt index `name` afresh, as a reader would, and return its letters and
        chunks; `RebuildCheckFailed` if it is not whole: its letters' chunk counts, its chunks
        and its text index must agree, and it must pass the whole check of `verify`."""
        try:
            check = EmbeddedStore(self.root, self.dims, index_dir=name, read_only=True)
        except (StoreUnavailable, StoreWriteError) as exc:
            raise RebuildCheckFailed(f"it cannot be opened ({exc})") from None
        try:
            try:
                letters, chunks = check.counts()
            except IndexDamaged as exc:
                raise RebuildCheckFailed(getattr(exc, "problem", str(exc))) from None
            accounted = check._db.execute("SELECT coalesce(sum(chunk_count), 0) FROM letters")
            accounted = accounted.fetchone()[0]
            generation = check._generation(check._db)
            text_docs = check._text.index.searcher().num_docs
            text_generation = check._text.generation()
        finally:
            check.close()
        if accounted != chunks:
            raise RebuildCheckFailed(
                f"its letters account for {accounted} chunks, it holds {chunks}"
            )
        if text_docs != chunks or (chunks and text_generation != generation):
            raise RebuildCheckFailed(f"its text index holds {text_docs} of its {chunks} chunks")
        damaged = _check_whole(self.root / name, self.dims)
        if damaged:
            raise RebuildCheckFailed(damaged[0])
        return letters, chunks

    def finish_reindex(self, name: str) -> None:
        """Make the rebuild the active index (one atomic rename) and delete the others (the
        old one, and any a rebuild left); only with the writer lock held."""
        if not INDEX_NAME.fullmatch(name) or not (self.root / name / "store.sqlite").is_file():
            raise RebuildCheckFailed(f"no rebuilt index {name!r} in '{self.root}'")
        with _storage_errors(self.root):
            _write_atomically(self.root / "ACTIVE", name)
        self.unusable = None
        self._follow_active()
        for child in self._children():
            if child.name != name:
                self._remove_index(child.name)

    def abort_reindex(self, name: str) -> None:
        """Throw a rebuild away; the active index is untouched (never deleted, even if the
        switch to `name` went through before something failed)."""
        try:
            live = self._active_name()
        except BadActivePointer:
            live = None
        if name not in (self.index_name, live):
            self._remove_index(name)

    def _children(self) -> list[Path]:
        try:
            return list(self.root.iterdir())
        except OSError:
            return []

    def _remove_index(self, name: str) -> bool:
        """Delete the index directory `name` of the data directory, and nothing else: a name
        of another form, a symlink or a file is left alone."""
        path = self.root / name
        if not INDEX_NAME.fullmatch(name) or path.is_symlink() or not path.is_dir():
            return False
        shutil.rmtree(path, ignore_errors=True)
        return not os.path.lexists(path)

    # -- writing ---------------------------------------------------------------------------

    def upsert(self, letters: list[LetterDocs]) -> IndexReport:
        """Write whole letters, replacing earlier versions, in one transaction; then sync text."""
        self._ready()
        report = IndexReport()
        if not letters:
            return report
        self._check_writable()
        now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        with self._reading(), _storage_errors(self.root), _transaction(self._db) as db:
            generation = self._generation(db) + 1
            for letter in letters:
                vectors = letter.vectors
                if vectors is None or len(vectors) != len(letter.chunks):
                    report.failed.append((letter.letter_id, "chunks and embeddings do not match"))
                    continue
                stamp = file_stamp(letter) or FileStamp("", 0, None, "")
                db.execute("DELETE FROM chunks WHERE letter_id = ?", (letter.letter_id,))
                db.execute("DELETE FROM tombstones WHERE letter_id = ?", (letter.letter_id,))
                db.execute(
                    f"INSERT OR REPLACE INTO letters ({_LETTER_COLUMNS}) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
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
                        stamp.sha256 or None,
                        stamp.size if stamp.sha256 else None,
                        stamp.mtime_ns,
                        stamp.parser or None,
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
            db.execute("INSERT OR REPLACE INTO meta VALUES (?, '1')", (integrity.MANIFEST_KEY,))
        # The letters are stored (SQLite is the truth); if the text index cannot follow now,
        # the next writer replays them into it.
        with _storage_errors(self.root, written=report.indexed):
            self.sync()
        return report

    def delete(self, letter_ids: list[str]) -> int:
        """Remove letters and their chunks; return how many existed."""
        self._ready()
        if not letter_ids:
            return 0
        self._check_writable()
        removed = 0
        with self._reading(), _storage_errors(self.root), _transaction(self._db) as db:
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
            db.execute("INSERT OR REPLACE INTO meta VALUES (?, '1')", (integrity.MANIFEST_KEY,))
        with _storage_errors(self.root):
            self.sync()
        return removed

    def recover(self) -> None:
        """Before writing: check the index can be written (else `ReadOnlyStorage`) and finish
        what a killed writer left: replay into the text index the letters it lacks (and write
        the manifest it did not)."""
        self._ready()
        self._check_writable()
        with self._reading(), _storage_errors(self.root):
            self.sync()

    def _check_writable(self) -> None:
        if self.read_only:
            raise ReadOnlyStorage(f"data directory '{self.root}' is read-only")

    def sync(self) -> None:
        """Bring the text index up to the SQLite generation (after a crash, or after a write);
        the manifest follows each commit of the text index (`_TextIndex.committed`)."""
        target = self._generation(self._db)
        held = self._text.generation()
        if held >= target:
            self._ensure_manifest(held)
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

    def _write_manifest(self, generation: int) -> None:
        """Write the manifest of the commit of `generation` (after tantivy's commit, before the
        text index's marker: see integrity.py)."""
        letters = self._db.execute("SELECT count(*) FROM letters").fetchone()[0]
        chunks = self._db.execute("SELECT count(*) FROM chunks").fetchone()[0]
        try:
            previous = integrity.read_manifest(self.path)
        except integrity.Damage:
            previous = None
        manifest = integrity.build_manifest(self.path, generation, letters, chunks, previous)
        integrity.write_manifest(self.path, manifest)

    def _ensure_manifest(self, held: int) -> None:
        """Write the manifest a killed writer did not, or that an index made before manifests
        lacks (then record that the index keeps one)."""
        if held == 0 or self.read_only or self._text_copy is not None:
            return
        try:
            manifest = integrity.read_manifest(self.path)
        except integrity.Damage:
            return  # damage: opening refuses the index, `verify` names it, `reindex` replaces it
        kept = self._db.execute(
            "SELECT 1 FROM meta WHERE key = ?", (integrity.MANIFEST_KEY,)
        ).fetchone()
        if manifest is not None and manifest["generation"] == held and kept:
            return
        if manifest is None or manifest["generation"] != held:
            self._write_manifest(held)
        if not kept:
            with _transaction(self._db) as db:
                db.execute("INSERT OR REPLACE INTO meta VALUES (?, '1')", (integrity.MANIFEST_KEY,))

    # -- reading ---------------------------------------------------------------------------

    @_reads
    def fingerprints(self) -> dict[str, tuple[str, str]]:
        """Return letter_id -> (source, fingerprint) for every indexed letter."""
        rows = self._db.execute("SELECT letter_id, source, fingerprint FROM letters")
        return {letter_id: (source, fp) for letter_id, source, fp in rows}

    @_reads
    def indexed_letters(self) -> dict[str, IndexedLetter]:
        """Return letter_id -> source, fingerprint and file stamp of every indexed letter."""
        if not self._file_columns:  # a database of an earlier version, opened read-only
            rows = self._db.execute(
                "SELECT letter_id, source, fingerprint, chunk_count FROM letters"
            )
            return {lid: IndexedLetter(lid, source, fp, None, n) for lid, source, fp, n in rows}
        rows = self._db.execute(
            "SELECT letter_id, source, fingerprint, file_sha256, file_size, file_mtime_ns, parser, "
            "chunk_count FROM letters"
        )
        return {
            lid: IndexedLetter(
                lid, source, fp, FileStamp(sha, size, mtime, parser or "") if sha else None, n
            )
            for lid, source, fp, sha, size, mtime, parser, n in rows
        }

    @_reads
    def counts(self) -> tuple[int, int]:
        """Return the number of letters and of chunks indexed."""
        letters = self._db.execute("SELECT count(*) FROM letters").fetchone()[0]
        chunks = self._db.execute("SELECT count(*) FROM chunks").fetchone()[0]
        return letters, chunks

    @_reads
    def letter(self, letter_id: str) -> dict[str, Any] | None:
        """Return a letter's record, texts, source, fingerprint and file hash, or None."""
        row = self._db.execute(
            "SELECT record, text, original_text, source, fingerprint, indexed_at, file_sha256 "
            "FROM letters WHERE letter_id = ?",
            (letter_id,),
        ).fetchone()
        if row is None:
            return None
        record, text, original, source, fp, indexed_at, sha256 = row
        return {
            "record": json.loads(record),
            "text": text,
            "original_text": original,
            "source": source,
            "fingerprint": fp,
            "indexed_at": indexed_at,
            "file_sha256": sha256,
        }

    @_reads
    def letter_chunks(self, letter_id: str, embeddings: bool = True) -> list[dict[str, Any]]:
        """Return a letter's chunk documents in order, each with its `embedding` if asked."""
        if not embeddings:
            rows = self._db.execute(
                "SELECT doc FROM chunks WHERE letter_id = ? ORDER BY ord", (letter_id,)
            )
            return [orjson.loads(doc) for (doc,) in rows]
        rows = self._db.execute(
            "SELECT doc, embedding FROM chunks WHERE letter_id = ? ORDER BY ord", (letter_id,)
        )
        return [
            {**orjson.loads(doc), "embedding": np.frombuffer(emb, dtype=np.float32).tolist()}
            for doc, emb in rows
        ]

    @_reads
    def keyword(
        self, query: ParsedQuery, filters: Filters, size: int, sort: str = "relevance"
    ) -> tuple[list[ChunkHit], int]:
        """Return the best `size` chunks by BM25 (or newest first) and how many match."""
        cols = self._cols()
        rows, scores = self._text.search(query, filters, size, sort)
        hits = self._hits(cols, *_positions_of_rows(cols, rows, scores))
        # The total comes from the counting side: tantivy ranks faster when it need not count.
        total = int(np.count_nonzero(self._match(query, filters, cols).mask))
        # Not highlighted here: the service highlights the passages it shows, whichever side
        # of a hybrid search ranked them.
        return hits, total

    @_reads
    def knn(
        self, vector: np.ndarray, filters: Filters, k: int, stored: bool = False
    ) -> list[ChunkHit]:
        """Return the `k` chunks nearest to `vector` (cosine) among those the filters allow;
        `stored`: the vector is a stored chunk's own (similar cases), searched more narrowly."""
        cols = self._cols()
        mask = cols.select_mask(filters)
        positions, scores = self._vectors.search(cols, vector, k, mask, stored)
        return self._hits(cols, positions.tolist(), scores.tolist())

    @_reads
    def knn_many(
        self, vectors: np.ndarray, filters: Filters, k: int, stored: bool = False
    ) -> list[list[ChunkHit]]:
        """`knn` for each row of `vectors`, in one pass over the vector index."""
        cols = self._cols()
        found = self._vectors.search_many(
            cols, np.asarray(vectors, dtype=np.float32), k, cols.select_mask(filters), stored
        )
        hits = self._hits(
            cols,
            [p for positions, _ in found for p in positions.tolist()],
            [s for _, scores in found for s in scores.tolist()],
        )
        out, start = [], 0
        for positions, _ in found:
            out.append(hits[start : start + len(positions)])
            start += len(positions)
        return out

    @_reads
    def complete(self, hits: list[ChunkHit]) -> None:
        """Read the whole documents of hits that hold only their ranking fields."""
        partial = [h for h in hits if isinstance(h.doc, PartialDoc)]
        if not partial:
            return
        docs = self._docs_by_chunk_id(list(dict.fromkeys(h.chunk_id for h in partial)))
        for h in partial:
            # Deleted since it was ranked: what is known, with no other field, beats an error.
            h.doc = docs.get(h.chunk_id) or dict(h.doc)

    @_reads
    def prepare(self) -> None:
        """Load what queries need (columns, and the HNSW graph of a large index) ahead of them."""
        warm_up()
        cols = self._cols()
        cols.quantized()
        if len(cols.rows) >= hnsw_min_chunks():
            self._vectors.graph(cols)

    @_reads
    def highlight(self, query: ParsedQuery, hits: list[ChunkHit]) -> dict[str, list[str]]:
        """Return highlighted fragments of the hits' chunks for the query's words, by chunk id."""
        self.complete(hits)  # the search has usually read them already, to show them
        return self._text.highlight(
            query,
            [(h.chunk_id, h.doc.get("text") or "") for h in hits if "text" in h.doc],
        )

    @_reads
    def facet_counts(
        self, query: ParsedQuery | None, filters: Filters, facets: list[str]
    ) -> dict[str, dict[str, int]]:
        """Count, per facet value, the letters with a matching chunk that has the value."""
        cols = self._cols()
        match = self._match(query, filters, cols)
        if match.few or cols.groups is None:
            positions = match.positions

            def count(facet: str) -> dict[str, int]:
                return cols.count_sparse(facet, positions)
        else:
            units, letters = match.units, match.letters

            def count(facet: str) -> dict[str, int]:
                return cols.groups.count(facet, units, letters)

        # The compiled counting loops release the interpreter lock: one facet per idle core.
        if len(facets) > 1 and spare_core():
            counted = shared_pool("imr-count", os.cpu_count() or 1).map(count, facets)
        else:
            counted = map(count, facets)
        return dict(zip(facets, counted, strict=True))

    @_reads
    def count_letters(self, query: ParsedQuery | None, filters: Filters) -> int:
        """Return the number of letters with at least one matching chunk."""
        cols = self._cols()
        match = self._match(query, filters, cols)
        if match.few or cols.groups is None:
            return int(len(np.unique(cols.letter_index[match.positions])))
        return int(np.count_nonzero(match.letters))

    @_reads
    def letter_shares(self, clauses: Sequence[Clause]) -> list[float]:
        """Return, for each word or phrase, the share of the index's letters that hold it (a
        word with its drug synonyms), from the term postings: one pass over its chunks."""
        cols = self._cols()
        if not cols.letter_ids:
            return [0.0] * len(clauses)
        out = []
        for clause in clauses:
            words = expansions().get(clause.text.lower()) or [clause.text]
            analysed = [analyze(w) for w in words]
            if clause.phrase or any(len(a) > 1 for a in analysed):
                single = ParsedQuery((replace(clause, occur="should"),))
                out.append(self.count_letters(single, Filters()) / len(cols.letter_ids))
                continue
            held = np.zeros(len(cols.letter_ids), dtype=bool)
            for a in analysed:
                if a:
                    held[cols.letter_index[cols.terms.positions(a[0])]] = True
            out.append(float(np.count_nonzero(held)) / len(cols.letter_ids))
        return out

    @_reads
    def stats(
        self, query: ParsedQuery | None, filters: Filters, by: str
    ) -> dict[str, dict[str, int]]:
        """Count items (first windows of item chunks) per value of `by` and per decision."""
        cols = self._cols()
        item_filters = replace(filters, section="item", first_window_only=True)
        positions = self._match(query, item_filters, cols).positions
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

    def _cols(self) -> Columns:
        # Called by reads only (`_reads`), which have just followed ACTIVE.
        generation = self._generation(self._db)
        if self._columns is None or generation != self._columns_generation:
            with self._load_lock:
                if self._columns is None or generation != self._columns_generation:
                    # Every text file's checksum before answering from a new generation: a
                    # fraction of reading the columns (files found intact are not read again).
                    self._check(deep=True)
                    self._columns = Columns.load(self._db, self.dims)
                    self._columns_generation = generation
                    keep_loaded()
        return self._columns

    def _match(self, query: ParsedQuery | None, filters: Filters, cols: Columns) -> _Match:
        """The chunks that match the query and filters (memoised: one search asks repeatedly)."""
        return self._memo(
            (id(cols), repr(query), filters),
            lambda: _Match(cols, self._match_mask(query, filters, cols)),
        )

    def _memo(self, key: tuple, make: Callable[[], Any]) -> Any:
        """The value cached under `key` (a recent match set or query mask), made if absent."""
        with self._load_lock:
            found = self._matches.get(key)
            if found is not None:
                self._matches.move_to_end(key)
                return found
        made = make()
        with self._load_lock:
            self._matches[key] = made
            while len(self._matches) > _MATCH_CACHE_SIZE:
                self._matches.popitem(last=False)
        return made

    def _query_mask(self, query: ParsedQuery, cols: Columns) -> np.ndarray:
        """The chunks the text query matches, whatever the filters (read-only, memoised: a
        hybrid search's keyword side and its counting scope differ only in their filters)."""

        def make() -> np.ndarray:
            n = len(cols.rows)
            mask = query_mask(query, cols.terms, n, analyze) if cols.terms is not None else None
            if mask is None:  # a phrase: tantivy lists the matching chunks
                mask = np.zeros(n, dtype=bool)
                mask[cols.positions_of(self._text.all_rows(query))] = True
            mask.flags.writeable = False
            # Held with the columns: while cached, their id cannot name newer columns.
            return cols, mask

        return self._memo((id(cols), repr(query)), make)[1]

    def _match_mask(self, query: ParsedQuery | None, filters: Filters, cols: Columns) -> np.ndarray:
        n = len(cols.rows)
        allowed = cols.select_mask(filters)
        if query is None:
            return np.ones(n, dtype=bool) if allowed is None else allowed
        mask = self._query_mask(query, cols)
        if filters.also_chunk_ids:
            mask = mask.copy()
            extra = [
                cols.chunk_position[c] for c in filters.also_chunk_ids if c in cols.chunk_position
            ]
            mask[extra] = True
        if allowed is not None:
            mask = mask & allowed
        return mask

    def _hits(self, cols: Columns, positions: list[int], scores: list[float]) -> list[ChunkHit]:
        # Ranking fields from the columns: reading and parsing hundreds of candidate documents
        # was a third of a search's time; `complete` reads the few that are shown.
        return cols.ranking_hits(positions, scores)

    def _docs_by_chunk_id(self, chunk_ids: list[str]) -> dict[str, dict[str, Any]]:
        """Chunk documents by chunk id, in slices under SQLite's variable limit."""
        out: dict[str, dict[str, Any]] = {}
        for start in range(0, len(chunk_ids), 500):
            part = chunk_ids[start : start + 500]
            marks = ",".join("?" * len(part))
            for key, doc in self._db.execute(
                f"SELECT chunk_id, doc FROM chunks WHERE chunk_id IN ({marks})", part
            ):
                out[key] = orjson.loads(doc)
        return out


#: A match set of at most this many chunks, or this share of the index (1/SPARSE_SHARE), is
#: counted chunk by chunk (`Columns.count_sparse`), else by a pass over every unit.
SPARSE_MAX = 5_000
SPARSE_SHARE = 50


class _Match:
    """A match set as a mask over the columns, with its positions and unit hits when asked."""

    def __init__(self, cols: Columns, mask: np.ndarray) -> None:
        self.cols, self.mask = cols, mask
        self._positions: np.ndarray | None = None
        self._units: np.ndarray | None = None
        self._letters: np.ndarray | None = None
        self._few: bool | None = None

    @property
    def few(self) -> bool:
        """Whether so few chunks match that counting them one by one beats a pass over all."""
        if self._few is None:
            set_count = int(np.count_nonzero(self.mask))
            self._few = set_count <= max(SPARSE_MAX, len(self.mask) // SPARSE_SHARE)
        return self._few

    @property
    def positions(self) -> np.ndarray:
        """The matching positions, ascending."""
        if self._positions is None:
            self._positions = np.flatnonzero(self.mask)
        return self._positions

    @property
    def units(self) -> np.ndarray:
        """Per unit (see counting.py), whether any of its chunks matches."""
        if self._units is None:
            self._units = self.cols.groups.unit_hits(self.mask)
        return self._units

    @property
    def letters(self) -> np.ndarray:
        """Per letter (in order of position), whether any of its chunks matches."""
        if self._letters is None:
            self._letters = self.cols.groups.letter_hits(self.units)
        return self._letters


def _positions_of_rows(
    cols: Columns, rows: list[int], scores: list[float]
) -> tuple[list[int], list[float]]:
    """Positions of SQLite row ids in their order, with their scores, leaving out rows the
    columns lack (written after they were loaded)."""
    if not rows or not len(cols.rows):
        return [], []
    wanted = np.asarray(rows, dtype=np.int64)
    at = np.minimum(np.searchsorted(cols.rows, wanted), len(cols.rows) - 1)
    known = cols.rows[at] == wanted
    return at[known].tolist(), np.asarray(scores, dtype=np.float64)[known].tolist()


def _check_whole(index: Path, dims: int, limit: int = 5) -> list[str]:
    """Everything wrong with the index directory `index` (see `EmbeddedStore.check_whole`),
    read only: nothing is created or changed."""
    found: list[str] = []
    sqlite_path = index / integrity.SQLITE
    problem = integrity.sqlite_problem(sqlite_path, integrity.has_content(index))
    state: integrity.State | None = None
    db: sqlite3.Connection | None = None
    try:
        if problem is not None:
            found.append(problem)
        elif sqlite_path.exists():
            try:
                db = _read_only_connection(sqlite_path)
                found += integrity.sqlite_checks(db, dims, limit)
                if not found:
                    state = integrity.read_state(db, index)
            except sqlite3.DatabaseError as exc:
                if not integrity.is_corruption(exc):
                    raise
                found.append(integrity.sqlite_error_problem(exc))
        text_problems = list(integrity.problems(index, state, deep=True))
        found += [p for p in text_problems if p not in found]
        if text_problems or db is None or state is None or state.in_flight:
            return found  # a text index a write behind SQLite is not compared with it
        if not state.generation and not (index / integrity.META).exists():
            return found  # a new index, never written
        found += _text_against_sqlite(index, db, limit)
        return found
    finally:
        if db is not None:
            db.close()


def _text_against_sqlite(index: Path, db: sqlite3.Connection, limit: int) -> list[str]:
    """The text index's documents of each letter against SQLite's chunks of it."""
    copy: tempfile.TemporaryDirectory | None = None
    path = index / "text"
    try:
        if not os.access(path, os.W_OK):  # tantivy takes a lock file even to read
            copy = tempfile.TemporaryDirectory(prefix="imr-search-check-")
            path = Path(shutil.copytree(path, Path(copy.name) / "text"))
        try:
            with _text_reads():
                text = _TextIndex(path)
            held = dict(db.execute("SELECT letter_id, count(*) FROM chunks GROUP BY letter_id"))
            counted = text.letter_counts(sorted(held))
            docs = text.num_docs()
            rows = text.row_stats()
        except _TextFailure as exc:
            return [_text_open_problem(str(exc))]
        found = []
        differ = [lid for lid, n in held.items() if counted.get(lid, 0) != n]
        for lid in differ[:limit]:
            found.append(
                f"the text index holds {counted.get(lid, 0)} documents of letter {lid}, "
                f"{integrity.SQLITE} {held[lid]} chunks"
            )
        if len(differ) > limit:
            found.append(f"and {len(differ) - limit} more letters like these")
        strays = docs - sum(counted.values())
        if strays:
            found.append(f"the text index holds {strays} documents of no letter in store.sqlite")
        expected = db.execute(
            "SELECT count(*), coalesce(total(row), 0), coalesce(min(row), 0), "
            "coalesce(max(row), 0) FROM chunks"
        ).fetchone()
        if not found and tuple(float(x) for x in rows) != tuple(float(x) for x in expected):
            found.append(f"the text index's documents are not {integrity.SQLITE}'s chunks")
        return found
    finally:
        if copy is not None:
            copy.cleanup()


def _read_only_connection(path: Path) -> sqlite3.Connection:
    """A connection that cannot change the database (immutable where the directory is
    read-only and no writer can be at work)."""
    uri = path.resolve().as_uri()
    try:
        db = sqlite3.connect(f"{uri}?mode=ro", uri=True, timeout=30, isolation_level=None)
        db.execute("SELECT count(*) FROM sqlite_master").fetchone()
        return db
    except sqlite3.OperationalError:
        if os.access(path.parent, os.W_OK):
            raise
    # A read-only directory without the WAL's shared-memory file (SQLite removes it on a clean
    # close, after moving every commit into the database): nobody can be writing.
    return sqlite3.connect(f"{uri}?immutable=1", uri=True, isolation_level=None)


def _new_index_name() -> str:
    return time.strftime("index-%Y%m%dT%H%M%S", time.gmtime()) + f"-{secrets.token_hex(3)}"


def _write_atomically(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + f".{os.getpid()}.tmp")
    try:
        tmp.write_text(text)
        os.replace(tmp, path)
    except BaseException:
        with suppress(OSError):  # a full disk must not leave ACTIVE.<pid>.tmp behind
            tmp.unlink()
        raise


def _write_new(path: Path, text: str) -> bool:
    """Create `path` holding `text`, whole or not at all, unless it exists (then False)."""
    tmp = path.with_name(path.name + f".{os.getpid()}.tmp")
    try:
        tmp.write_text(text)
        os.link(tmp, path)
        return True
    except FileExistsError:
        return False
    finally:
        with suppress(OSError):
            tmp.unlink()


def _one_line(exc: BaseException, limit: int = 200) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= limit else text[: limit - 1] + "…"


class _transaction:
    """BEGIN IMMEDIATE ... COMMIT, rolled back on any error (including KeyboardInterrupt)."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db

    def __enter__(self) -> sqlite3.Connection:
        self.db.execute("BEGIN IMMEDIATE")
        return self.db

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            try:
                self.db.execute("COMMIT")
                return
            except BaseException:
                self._rollback()
                raise
        self._rollback()

    def _rollback(self) -> None:
        # SQLite may have rolled back already (a full disk does that): never mask the cause.
        if self.db.in_transaction:
            with suppress(sqlite3.Error):
                self.db.execute("ROLLBACK")


# SQLite's primary result codes that say what the storage is like.
_SQLITE_READONLY, _SQLITE_IOERR, _SQLITE_CANTOPEN, _SQLITE_FULL = 8, 10, 14, 13
_FULL_ERRNOS = {errno.ENOSPC, errno.EDQUOT}
_READ_ONLY_ERRNOS = {errno.EROFS, errno.EACCES, errno.EPERM}


def _failure_kind(exc: BaseException, root: Path) -> str | None:
    """Tell whether a write failed because the storage is "full" or "read-only" (else None)."""
    if isinstance(exc, OSError) and exc.errno is not None:
        if exc.errno in _FULL_ERRNOS:
            return "full"
        if exc.errno in _READ_ONLY_ERRNOS:
            return "read-only"
        return None
    if isinstance(exc, sqlite3.Error):
        code = (getattr(exc, "sqlite_errorcode", None) or 0) & 0xFF
        if code == _SQLITE_FULL or "database or disk is full" in str(exc):
            return "full"
        if code == _SQLITE_READONLY or "readonly database" in str(exc):
            return "read-only"
        if code in (_SQLITE_IOERR, _SQLITE_CANTOPEN):
            return _storage_state(root)  # SQLite does not say why: look at the storage
        return None
    # tantivy reports I/O errors as ValueError with the OS error in the message.
    text = str(exc)
    if "os error 28" in text or "No space left on device" in text or "os error 122" in text:
        return "full"
    if any(m in text for m in ("os error 30", "Read-only file system", "os error 13")):
        return "read-only"
    return None


def _storage_state(root: Path) -> str | None:
    if not os.access(root, os.W_OK):
        return "read-only"
    try:
        if shutil.disk_usage(root).free < 1024 * 1024:
            return "full"
    except OSError:
        pass
    return None


def _write_error(exc: BaseException, root: Path, written: int = 0) -> StoreWriteError:
    if _failure_kind(exc, root) == "full":
        return StorageFull(f"disk full while writing to '{root}'", written)
    return ReadOnlyStorage(f"data directory '{root}' is read-only", written)


@contextmanager
def _storage_errors(root: Path, written: int = 0) -> Iterator[None]:
    """Turn a write failure caused by the storage (full, read-only) into a `StoreWriteError`."""
    try:
        yield
    except StoreWriteError:
        raise
    except Exception as exc:
        if _failure_kind(exc, root) is None:
            raise
        raise _write_error(exc, root, written) from exc


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
        self.index.register_tokenizer("imr_text", english_analyzer())
        self._marker = path / "generation"
        # Called with the generation after each commit, before the marker says it is held:
        # the store writes its manifest there (integrity.py).
        self.committed: Callable[[int], None] | None = None

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
        if self.committed is not None:
            self.committed(generation)
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
            negatives = self._parse(
                " ".join(
                    _clause_syntax(Clause(c.text, c.phrase, "should")) for c in query.negative
                ),
                names,
            )
            if negatives is None:  # only stop words excluded: nothing is
                return base
            return tantivy.Query.boolean_query(
                [(tantivy.Occur.Must, base), (tantivy.Occur.MustNot, negatives)]
            )
        parsed = self._parse(text, names, field_boosts=dict(TEXT_BOOSTS))
        return parsed if parsed is not None else tantivy.Query.empty_query()

    def _parse(self, text: str, names: list[str], **options):
        """Parse with tantivy, or None when every word is a stop word (tantivy then refuses)."""
        try:
            return self.index.parse_query(text, names, **options)
        except ValueError as exc:
            if "Only excluding terms" in str(exc) or "empty" in str(exc).lower():
                return None
            raise

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
    ) -> tuple[list[int], list[float]]:
        """Return (rows, scores) of the best chunks."""
        q = self._filtered(query, filters)
        with _text_reads():
            searcher = self.index.searcher()
            if sort == "newest":
                result = searcher.search(
                    q,
                    max(size, 1),
                    count=False,
                    order_by_field="decision_date",
                    order=self._tantivy.Order.Desc,
                )
            else:
                result = searcher.search(q, max(size, 1), count=False)
            addresses = [addr for _, addr in result.hits]
            rows = searcher.fast_field_values("row", addresses) if addresses else []
        # Sorted by date, tantivy gives the date (or None) in place of a score.
        scores = [float(score) if sort != "newest" else 0.0 for score, _ in result.hits]
        return list(rows), scores

    def all_rows(self, query: ParsedQuery) -> list[int]:
        """Return the row ids of every chunk the text query matches."""
        q = self._text_query(query)
        with _text_reads():
            searcher = self.index.searcher()
            total = searcher.search(q, 1, count=True).count
            if total == 0:
                return []
            result = searcher.search(q, total, count=False)
            return list(searcher.fast_field_values("row", [addr for _, addr in result.hits]))

    def num_docs(self) -> int:
        """The documents the text index holds."""
        with _text_reads():
            return self.index.searcher().num_docs

    def letter_counts(self, letter_ids: list[str], batch: int = 10_000) -> dict[str, int]:
        """The documents of each of these letters (those with none left out)."""
        Q = self._tantivy.Query
        counts: dict[str, int] = {}
        with _text_reads():
            searcher = self.index.searcher()
            for start in range(0, len(letter_ids), batch):
                part = letter_ids[start : start + batch]
                found = searcher.aggregate(
                    Q.term_set_query(self.schema, "letter_id", part),
                    {"l": {"terms": {"field": "letter_id", "size": len(part)}}},
                )
                for bucket in found["l"]["buckets"]:
                    counts[str(bucket["key"])] = int(bucket["doc_count"])
        return counts

    def row_stats(self) -> tuple[int, float, float, float]:
        """Count, sum, least and greatest of the documents' SQLite row ids."""
        with _text_reads():
            found = self.index.searcher().aggregate(
                self._tantivy.Query.all_query(), {"r": {"stats": {"field": "row"}}}
            )["r"]
        return (
            int(found["count"]),
            float(found["sum"] or 0),
            float(found["min"] or 0),
            float(found["max"] or 0),
        )

    def highlight(self, query: ParsedQuery, texts: list[tuple[str, str]]) -> dict[str, list[str]]:
        """Return up to two HTML fragments per chunk with the query's words in <mark>."""
        if query.is_empty or not texts:
            return {}
        tantivy = self._tantivy
        q = self._parse(
            " ".join(_clause_syntax(Clause(c.text, c.phrase, "should")) for c in query.positive),
            ["text"],
        )
        if q is None:
            return {}
        with _text_reads():
            generator = tantivy.SnippetGenerator.create(
                self.index.searcher(), q, self.schema, "text"
            )
        generator.set_max_num_chars(180)
        out = {}
        for chunk_id, text in texts:
            with _text_reads():
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
