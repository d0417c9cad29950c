"""Index integrity for the embedded store: the manifest every commit writes, the cheap check
every opening makes, and the full check of `imr-search verify`.

`manifest.json`, in the index directory, describes what the last completed commit left:

    {"format": 1, "generation": G, "letters": L, "chunks": C,
     "files": {"store.sqlite": {"check": "PRAGMA integrity_check"},
               "text/meta.json": {"size": N, "crc32": "…"},
               "text/<segment>.<part>": {"size": N, "crc32": "…"}, …},
     "checksum": "<crc32 of all the rest>"}

store.sqlite changes with every write, so SQLite's own integrity check stands in for its
checksum; tantivy's segment files never change once committed, so each has its CRC-32 (about
4 GB/s: the text index of a million chunks is checked in well under a second).

A commit writes, in this order: the SQLite transaction (generation G), the tantivy commit,
`manifest.json` (to a temporary file, then renamed over the old one), `text/generation`. A
writer killed in between leaves `text/generation` behind SQLite's generation: the commit is
"in flight", the next writer replays it and writes the manifest again. Until then a reader
trusts the manifest only for what cannot have changed since it was written (the segment files
that text/meta.json still lists) and does not compare the text index's documents with SQLite's
chunks (the text index may be one write behind). SQLite's `meta` table records, in the same
transaction as the data, that the index keeps a manifest: a missing manifest is damage, not an
index made before manifests existed.

`problems` yields what is wrong, one line each naming the file ("text/meta.json is missing"):
cheaply (existence, sizes, document counts, the small meta.json's checksum) when an index is
opened, with every checksum for `verify` and before a search loads the index.
"""

from __future__ import annotations

import json
import os
import sqlite3
import zlib
from collections.abc import Iterator
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

MANIFEST = "manifest.json"
FORMAT = 1
SQLITE = "store.sqlite"
META = "text/meta.json"
#: The key of SQLite's `meta` table saying the index keeps a manifest.
MANIFEST_KEY = "manifest"
_SQLITE_MAGIC = b"SQLite format 3\x00"
_BLOCK = 1 << 20


class Damage(Exception):
    """One thing wrong with the index's files: the message names the file and what is wrong."""


@dataclass(frozen=True)
class State:
    """What SQLite and the text index's marker say, read together."""

    generation: int  # SQLite's
    letters: int
    chunks: int
    keeps_manifest: bool  # SQLite's meta table says a manifest is written at each commit
    marker: int  # the SQLite generation text/generation says the text index holds

    @property
    def in_flight(self) -> bool:
        """Whether a commit was cut short: the text index (and manifest) may lag SQLite."""
        return self.marker < self.generation


@dataclass(frozen=True)
class TextMeta:
    """tantivy's meta.json: its live segments, with the documents each holds."""

    segments: tuple[tuple[str, int], ...]  # (segment id as in file names, live documents)

    @property
    def docs(self) -> int:
        return sum(n for _, n in self.segments)

    @property
    def ids(self) -> set[str]:
        return {s for s, _ in self.segments}


def read_marker(index: Path) -> int:
    """The SQLite generation text/generation says the text index holds (0 if none)."""
    try:
        return int((index / "text" / "generation").read_text())
    except (OSError, ValueError):
        return 0


def _read(index: Path, name: str) -> bytes | None:
    """The bytes of one of the index's files, None when it does not exist, `Damage` when it
    cannot be read."""
    try:
        return (index / name).read_bytes()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise Damage(f"{name} cannot be read ({exc.strerror or exc})") from None


def read_text_meta(index: Path) -> TextMeta | None:
    """Parse text/meta.json (None when it does not exist); `Damage` when it is no meta.json."""
    raw = _read(index, META)
    if raw is None:
        return None
    try:
        meta = json.loads(raw)
        segments = tuple(
            (
                str(s["segment_id"]).replace("-", ""),
                int(s["max_doc"]) - int((s.get("deletes") or {}).get("num_deleted_docs", 0)),
            )
            for s in meta["segments"]
        )
    except (ValueError, KeyError, TypeError, AttributeError):
        raise Damage(f"{META} cannot be parsed") from None
    return TextMeta(segments)


def segment_files(index: Path, meta: TextMeta) -> list[str]:
    """The files of the text index's live segments (names inside text/), sorted."""
    live = meta.ids
    with os.scandir(index / "text") as entries:
        return sorted(
            e.name
            for e in entries
            if e.name.split(".", 1)[0] in live and e.is_file(follow_symlinks=False)
        )


def file_crc(path: Path) -> str:
    """CRC-32 of a file's bytes, as 8 hex digits."""
    crc = 0
    with open(path, "rb") as f:
        while block := f.read(_BLOCK):
            crc = zlib.crc32(block, crc)
    return f"{crc:08x}"


def _digest(body: dict[str, Any]) -> str:
    text = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return f"{zlib.crc32(text.encode()):08x}"


def build_manifest(
    index: Path, generation: int, letters: int, chunks: int, previous: dict[str, Any] | None
) -> dict[str, Any]:
    """The manifest of the index as it is now, after the commit of `generation`. A segment file
    the previous manifest recorded with the same size keeps its recorded checksum (segment files
    never change: a file damaged since stays detectably damaged)."""
    meta = read_text_meta(index)
    if meta is None:
        raise Damage(f"{META} is missing")
    old = (previous or {}).get("files", {})
    files: dict[str, Any] = {SQLITE: {"check": "PRAGMA integrity_check"}}
    for name in ["meta.json", *segment_files(index, meta)]:
        key, path = f"text/{name}", index / "text" / name
        size = path.stat().st_size
        entry = old.get(key)
        if name != "meta.json" and isinstance(entry, dict) and entry.get("size") == size:
            crc = entry["crc32"]
        else:
            crc = file_crc(path)
        files[key] = {"size": size, "crc32": crc}
    body = {
        "format": FORMAT,
        "generation": generation,
        "letters": letters,
        "chunks": chunks,
        "files": files,
    }
    return {**body, "checksum": _digest(body)}


def write_manifest(index: Path, manifest: dict[str, Any]) -> None:
    """Replace the manifest atomically (a temporary file, flushed to disk, renamed over it)."""
    path = index / MANIFEST
    tmp = index / f"{MANIFEST}.{os.getpid()}.tmp"
    try:
        with open(tmp, "wb") as f:
            f.write(json.dumps(manifest, indent=1).encode())
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with suppress(OSError):
            tmp.unlink()
        raise
    # What writers killed while writing it left behind.
    for leftover in index.glob(f"{MANIFEST}.*.tmp"):
        with suppress(OSError):
            leftover.unlink()


def read_manifest(index: Path) -> dict[str, Any] | None:
    """The manifest (None when there is none); `Damage` when it is not one we wrote."""
    raw = _read(index, MANIFEST)
    if raw is None:
        return None
    try:
        manifest = json.loads(raw)
        body = {k: v for k, v in manifest.items() if k != "checksum"}
        intact = manifest.get("checksum") == _digest(body)
    except (ValueError, AttributeError, TypeError):
        raise Damage(f"{MANIFEST} cannot be parsed") from None
    if not intact:
        raise Damage(f"{MANIFEST} does not match its own checksum")
    if manifest.get("format") != FORMAT:
        raise Damage(f"{MANIFEST} is of format {manifest.get('format')!r}, not {FORMAT}")
    files = manifest.get("files")
    numbers = (manifest.get(k) for k in ("generation", "letters", "chunks"))
    if not all(isinstance(n, int) for n in numbers) or not isinstance(files, dict):
        raise Damage(f"{MANIFEST} cannot be parsed")
    for name, entry in files.items():
        if name.startswith("text/") and not (
            isinstance(entry, dict)
            and isinstance(entry.get("size"), int)
            and isinstance(entry.get("crc32"), str)
        ):
            raise Damage(f"{MANIFEST} cannot be parsed")
    return manifest


def sqlite_problem(path: Path, expected: bool) -> str | None:
    """What is wrong with store.sqlite, as far as its size and 100-byte header tell: missing or
    empty (when the index has been written: `expected`), not a database, or shorter than its
    header says (only checked while no write-ahead log holds pages of it)."""
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        return f"{SQLITE} is missing" if expected else None
    except OSError as exc:
        return f"{SQLITE} cannot be read ({exc.strerror or exc})"
    if size == 0:
        return f"{SQLITE} is empty" if expected else None
    try:
        with open(path, "rb") as f:
            header = f.read(100)
    except OSError as exc:
        return f"{SQLITE} cannot be read ({exc.strerror or exc})"
    if len(header) < 100 or not header.startswith(_SQLITE_MAGIC):
        return f"{SQLITE} is not a SQLite database"
    try:
        if path.with_name(path.name + "-wal").stat().st_size > 0:
            return None  # the log may hold pages the file does not have yet
    except OSError:
        pass
    page_size = int.from_bytes(header[16:18], "big")
    page_size = 65536 if page_size == 1 else page_size
    if page_size < 512 or page_size & (page_size - 1):
        return f"{SQLITE} is not a SQLite database"
    pages = int.from_bytes(header[28:32], "big")
    if header[24:28] == header[92:96] and pages * page_size > size:
        return f"{SQLITE} is truncated ({size} of its {pages * page_size} bytes)"
    if size % page_size:
        return f"{SQLITE} is truncated ({size} bytes, not a whole number of pages)"
    return None


def has_content(index: Path) -> bool:
    """Whether the index has been written: store.sqlite must then exist (a new index's files
    are made when it is first opened, before anything is written)."""
    if (index / MANIFEST).exists() or read_marker(index) > 0:
        return True
    try:
        meta = read_text_meta(index)
    except Damage:
        return True
    return meta is not None and bool(meta.segments)


Verified = dict[str, tuple[tuple[int, int, int], str]]


def _file_problem(
    index: Path, name: str, entry: dict[str, Any], deep: bool, verified: Verified | None
) -> str | None:
    path = index / name
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return f"{name} is missing"
    except OSError as exc:
        return f"{name} cannot be read ({exc.strerror or exc})"
    size = entry["size"]
    if st.st_size < size:
        return f"{name} is truncated ({st.st_size} of its {size} bytes)"
    if st.st_size != size:
        return f"{name} has {st.st_size} bytes, {MANIFEST} says {size}"
    if not deep and name != META:  # meta.json is small: always checked
        return None
    key = (st.st_ino, st.st_size, st.st_mtime_ns)
    if verified is not None and verified.get(name) == (key, entry["crc32"]):
        return None
    try:
        crc = file_crc(path)
    except OSError as exc:
        return f"{name} cannot be read ({exc.strerror or exc})"
    if crc != entry["crc32"]:
        return f"{name} does not match its checksum in {MANIFEST}"
    if verified is not None:
        verified[name] = (key, crc)
    return None


def problems(
    index: Path, state: State | None, *, deep: bool, verified: Verified | None = None
) -> Iterator[str]:
    """What is wrong with the manifest and the text index of `index`, given what SQLite says
    (`state`; None when store.sqlite cannot be read), first things first. `deep`: every file's
    checksum, not only its size (`verified` remembers the files found intact, by inode, size
    and modification time, so that each is read once while it does not change)."""
    try:
        manifest = read_manifest(index)
    except Damage as exc:
        yield str(exc)
        manifest = None
    generation = state.generation if state is not None else None
    marker = read_marker(index)
    in_flight = state.in_flight if state is not None else False
    kept = state is not None and state.keeps_manifest and not in_flight
    if kept and manifest is None and not (index / MANIFEST).exists():
        yield f"{MANIFEST} is missing"
    written = manifest is not None or marker > 0 or bool(generation)
    if not written:
        return
    if not (index / "text").is_dir():
        yield "text/ is missing"
        return
    try:
        meta = read_text_meta(index)
    except Damage as exc:
        yield str(exc)
        return
    if meta is None:
        yield f"{META} is missing"
        return
    current = False
    if manifest is not None:
        recorded = manifest["generation"]
        if generation is not None and recorded > generation:
            yield f"{MANIFEST} is of generation {recorded}, {SQLITE} of generation {generation}"
        elif not in_flight and recorded != marker:
            yield f"{MANIFEST} is of generation {recorded}, the text index of generation {marker}"
        else:
            current = not in_flight
        live = meta.ids
        for name, entry in manifest["files"].items():
            if not name.startswith("text/"):
                continue
            if name == META:
                if not current:  # rewritten by a commit the manifest does not know yet
                    continue
            elif name[5:].split(".", 1)[0] not in live:
                continue  # merged away by a commit the manifest does not know yet
            problem = _file_problem(index, name, entry, deep, verified)
            if problem is not None:
                yield problem
        if current and state is not None:
            counted = (state.letters, state.chunks)
            if counted != (manifest["letters"], manifest["chunks"]):
                yield (
                    f"{SQLITE} holds {state.letters} letters and {state.chunks} chunks, "
                    f"{MANIFEST} says {manifest['letters']} and {manifest['chunks']}"
                )
    if state is not None and not in_flight and meta.docs != state.chunks:
        yield f"the text index holds {meta.docs} documents, {SQLITE} {state.chunks} chunks"


def read_state(db: sqlite3.Connection, index: Path) -> State:
    """SQLite's generation and counts (one snapshot) and the text index's marker."""
    in_transaction = db.in_transaction
    if not in_transaction:
        db.execute("BEGIN")
    try:
        meta = dict(db.execute("SELECT key, value FROM meta").fetchall())
        letters = db.execute("SELECT count(*) FROM letters").fetchone()[0]
        chunks = db.execute("SELECT count(*) FROM chunks").fetchone()[0]
    finally:
        if not in_transaction and db.in_transaction:
            db.execute("COMMIT")
    return State(
        generation=int(meta.get("generation", 0)),
        letters=letters,
        chunks=chunks,
        keeps_manifest=MANIFEST_KEY in meta,
        marker=read_marker(index),
    )


_NOT_UTF8 = "Could not decode to UTF-8"


def sqlite_error_problem(exc: sqlite3.Error) -> str:
    """One line for an error SQLite raised reading store.sqlite."""
    text = " ".join(str(exc).split())
    if "not a database" in text:
        return f"{SQLITE} is not a SQLite database"
    if _NOT_UTF8 in text:  # the message goes on with the whole text: not shown
        return f"{SQLITE} holds text that is not valid UTF-8"
    if "malformed JSON" in text:  # SQLite's JSON functions reading a chunk's document
        return f"{SQLITE} holds a document that is not valid JSON"
    return f"{SQLITE} is damaged ({text if len(text) <= 200 else text[:199] + '…'})"


def is_corruption(exc: BaseException) -> bool:
    """Whether SQLite says the file is damaged (not locked, not full, not read-only)."""
    if not isinstance(exc, sqlite3.DatabaseError):
        return False
    code = (getattr(exc, "sqlite_errorcode", None) or 0) & 0xFF
    text = str(exc)
    return code in (11, 26) or any(m in text for m in ("malformed", "not a database", _NOT_UTF8))


def sqlite_checks(db: sqlite3.Connection, dims: int, limit: int = 5) -> Iterator[str]:
    """SQLite's integrity check, then what the store's tables must agree on: each letter's
    chunk count, chunks of no letter, every chunk's document (JSON) and embedding (its size, and
    numbers only), every letter's record."""
    found = [
        line.strip()
        for (row,) in db.execute("PRAGMA integrity_check")
        for line in str(row).splitlines()
        if line.strip() and not line.startswith("*** in database")
    ]
    if found != ["ok"]:
        more = f", and {len(found) - 1} more" if len(found) > 1 else ""
        yield f"{SQLITE} fails SQLite's integrity check ({found[0]}{more})"
        return
    short = db.execute(
        "SELECT l.letter_id, l.chunk_count, count(c.row) FROM letters l "
        "LEFT JOIN chunks c ON c.letter_id = l.letter_id GROUP BY l.letter_id "
        "HAVING count(c.row) != l.chunk_count"
    ).fetchall()
    for letter_id, recorded, held in short[:limit]:
        yield f"{SQLITE}: letter {letter_id} records {recorded} chunks, holds {held}"
    orphans = db.execute(
        "SELECT count(*) FROM chunks WHERE letter_id NOT IN (SELECT letter_id FROM letters)"
    ).fetchone()[0]
    if orphans:
        yield f"{SQLITE} holds {orphans} chunks of no letter"
    width = dims * 4
    bad = 0
    factory = db.text_factory
    db.text_factory = bytes  # text that is not UTF-8 is damage to name, not an exception
    try:
        rows = db.execute("SELECT chunk_id, doc, embedding FROM chunks")
        for chunk_id, doc, embedding in rows:
            name = _text(chunk_id)
            size = len(embedding) if isinstance(embedding, bytes) else None
            problem = None
            if size != width:
                problem = f"{SQLITE}: chunk {name} has an embedding of {size} bytes, not {width}"
            elif not np.isfinite(np.frombuffer(embedding, dtype=np.float32)).all():
                problem = f"{SQLITE}: chunk {name} has an embedding that is not numbers"
            elif not _is_json_object(doc):
                problem = f"{SQLITE}: chunk {name} holds no readable document"
            if problem is not None:
                bad += 1
                if bad <= limit:
                    yield problem
        for letter_id, record, text in db.execute("SELECT letter_id, record, text FROM letters"):
            if not _is_json_object(record) or not _is_utf8(text):
                bad += 1
                if bad <= limit:
                    yield f"{SQLITE}: letter {_text(letter_id)} holds no readable record"
    finally:
        db.text_factory = factory
    if bad > limit:
        yield f"and {bad - limit} more chunks or letters like these"


def _text(value: Any) -> str:
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return str(value)


def _is_utf8(value: Any) -> bool:
    try:
        if isinstance(value, bytes):
            value.decode("utf-8")
        return True
    except UnicodeDecodeError:
        return False


def _is_json_object(value: Any) -> bool:
    try:
        return isinstance(json.loads(value), dict)
    except (ValueError, TypeError):  # UnicodeDecodeError is a ValueError
        return False
