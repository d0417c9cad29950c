"""A letter's original file: served only while it is the file the index read, under a name
that cannot spoof or break the download."""

from __future__ import annotations

import hashlib
import os
import stat
import unicodedata
from dataclasses import dataclass
from pathlib import PurePath
from typing import Any

from indexer.letters.reader import MAX_FILE_BYTES

#: The suffixes a letter's file can have, and the type each is served as.
MIMETYPES = {".pdf": "application/pdf", ".txt": "text/plain"}

MISSING = "The original file of this letter is no longer available."
CHANGED = "The original file of this letter has changed since it was indexed."
UNCHECKED = (
    "The original file of this letter cannot be checked: the index recorded no hash of it "
    "(index the letter again)."
)

#: Unicode categories left out of a file name shown or offered for download: controls (C0, C1,
#: DEL; CR and LF would break the header), format characters (the bidi overrides, embeddings
#: and isolates U+202A-U+202E and U+2066-U+2069, the marks U+200E and U+200F, zero-width
#: characters), surrogates, and the line and paragraph separators.
_HIDDEN = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})


class OriginalUnavailable(Exception):
    """The original cannot be served; the message says why, in one line."""


@dataclass(frozen=True)
class Original:
    """The verified bytes of a letter's original file."""

    data: bytes
    mimetype: str
    sha256: str
    modified: float


def display_name(name: str) -> str:
    """`name` without the characters that hide, reorder or break it (see `_HIDDEN`)."""
    return "".join(c for c in name if unicodedata.category(c) not in _HIDDEN).strip()


def download_name(source: str, letter_id: str) -> str:
    """The name a letter's original is shown and downloaded under: its file's name, cleaned;
    the letter id when nothing of the name is left."""
    suffix = PurePath(source).suffix.lower()
    name = display_name(PurePath(source).name)
    if not name or name.lower() == suffix or name.startswith("."):
        name = (display_name(letter_id) or "letter") + suffix
    return name


def recorded_sha256(stored: dict[str, Any]) -> str | None:
    """The SHA-256 of the letter's file when it was indexed, as the store recorded it."""
    return stored.get("file_sha256") or None


def read_original(source: str, sha256: str | None) -> Original:
    """Read the file at `source`, the path the index recorded (resolved when indexed), if it is
    still that file: a regular file reached through no symbolic link, with the recorded hash.

    The bytes served are the bytes hashed, so a file swapped after the check is not served."""
    mimetype = MIMETYPES.get(PurePath(source).suffix.lower())
    if mimetype is None or not os.path.isabs(source):
        raise OriginalUnavailable(MISSING)
    if os.path.realpath(source) != os.path.normpath(source):
        raise OriginalUnavailable(CHANGED)  # a symbolic link now on the way
    flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(source, flags)
    except FileNotFoundError:
        raise OriginalUnavailable(MISSING) from None
    except OSError:  # ELOOP: the file itself became a symbolic link; or it cannot be read
        raise OriginalUnavailable(CHANGED) from None
    with os.fdopen(fd, "rb") as file:
        info = os.fstat(file.fileno())
        if not stat.S_ISREG(info.st_mode) or info.st_size > MAX_FILE_BYTES:
            raise OriginalUnavailable(CHANGED)
        data = file.read(MAX_FILE_BYTES + 1)
    if not sha256:
        raise OriginalUnavailable(UNCHECKED)
    digest = hashlib.sha256(data).hexdigest()
    if digest != sha256:
        raise OriginalUnavailable(CHANGED)
    return Original(data, mimetype, digest, info.st_mtime)
