"""Read a letter file (PDF or text) into the text of its pages, with clear errors for bad files."""

from __future__ import annotations

import errno
import logging
import os
import stat
import time
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from .errors import LetterError

#: File endings we read; anything else in a walked directory is skipped.
LETTER_SUFFIXES = (".pdf", ".txt")
#: Real letters are 20-60 kB; anything this large is not a letter and would only waste memory.
MAX_FILE_BYTES = 10 * 1024 * 1024
#: Most pages a PDF letter may have: the bundled ones have 2 to 6, IMR letters seldom over 12. A
#: PDF of 75,000 tiny pages took 203 s and 2 GB just to be read and refused.
MAX_PDF_PAGES = 200
#: Longest a PDF's text may take to read, in seconds (checked between pages).
MAX_PDF_SECONDS = 30

# pypdf reports recoverable damage through logging; we turn real failures into LetterError
# instead, so its chatter must not reach the user's terminal.
logging.getLogger("pypdf").setLevel(logging.CRITICAL)


def iter_letter_paths(paths: list[str]) -> Iterator[tuple[str, LetterError | None]]:
    """Yield each letter file under the given files and directories, or the error for a bad path.

    Folders are walked recursively (symlinks to files are followed, symlinks to folders are
    not); a file there that is not a `.pdf` or `.txt` is skipped, but a FIFO, a device, a
    socket, a symlink loop or a broken symlink to a letter is reported like a bad file."""
    for raw in paths:
        problem = path_problem(raw)
        if problem is not None:
            yield raw, LetterError(raw, problem)
        elif os.path.isdir(raw):
            found = _walk(Path(raw))
            if not found:
                yield raw, LetterError(raw, f"no letters (.pdf or .txt files) found under '{raw}'")
            for p, error in found:
                yield str(p), error
        else:
            yield raw, None


def path_problem(path: str) -> str | None:
    """Why `path` is neither a folder nor a file a letter can be read from, from its metadata
    alone (nothing is opened, so a FIFO cannot block); None for a regular file or a folder."""
    try:
        st = os.stat(path)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return "is a symlink loop"
        if exc.errno in (errno.ENOENT, errno.ENOTDIR):
            if os.path.islink(path):
                return "is a broken symlink (its target does not exist)"
            return "no such file or directory"
        return f"cannot be read ({exc.strerror or exc})"
    return _kind_problem(st.st_mode)


def _kind_problem(mode: int) -> str | None:
    if stat.S_ISREG(mode) or stat.S_ISDIR(mode):
        return None
    if stat.S_ISFIFO(mode):
        return "is a FIFO, not a letter file"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "is a device, not a letter file"
    if stat.S_ISSOCK(mode):
        return "is a socket, not a letter file"
    return "is not a regular file"


def _walk(root: Path) -> list[tuple[Path, LetterError | None]]:
    """The letter files under the folder `root`, and the entries to report, sorted by path."""
    found: list[tuple[Path, LetterError | None]] = []
    folders = [root]
    while folders:
        folder = folders.pop()
        try:
            with os.scandir(folder) as entries:
                listed = list(entries)
        except OSError as exc:
            found.append(
                (folder, LetterError(str(folder), f"folder cannot be read ({exc.strerror})"))
            )
            continue
        for entry in listed:
            path = Path(entry.path)
            letter_named = path.suffix.lower() in LETTER_SUFFIXES
            try:
                if entry.is_dir(follow_symlinks=False):
                    folders.append(path)
                    continue
                kind = entry.stat(follow_symlinks=False).st_mode
            except OSError:
                continue  # removed while we looked
            if stat.S_ISREG(kind):
                if letter_named:
                    found.append((path, None))
                continue
            problem = path_problem(entry.path)
            if problem is None:  # a symlink to a file (followed) or to a folder (not)
                if letter_named and os.path.isfile(entry.path):
                    found.append((path, None))
            elif letter_named or not problem.startswith("is a broken symlink"):
                found.append((path, LetterError(str(path), problem)))
    return sorted(found, key=lambda pair: pair[0])


def open_regular(path: str) -> BinaryIO:
    """Open a file for reading in binary, or raise `LetterError` if it is not a regular file;
    a FIFO is opened without waiting for a writer, and refused, so this never blocks."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise LetterError(path, "is a symlink loop") from None
        raise LetterError(path, f"cannot read file ({exc.strerror})") from None
    try:
        mode = os.fstat(fd).st_mode
        problem = _kind_problem(mode)
        if problem is None and stat.S_ISDIR(mode):
            problem = "is a folder, not a letter file"
        if problem is not None:
            raise LetterError(path, problem)
        os.set_blocking(fd, True)
        return open(fd, "rb")  # noqa: SIM115 - the caller closes it
    except BaseException:
        os.close(fd)
        raise


def check_file(path: str) -> None:
    """Turn down, from its name and size alone, a file that cannot be a letter: a wrong type, a
    name that is not UTF-8 (the index could not record it), an empty or an oversized file."""
    p = Path(path)
    if p.suffix.lower() not in LETTER_SUFFIXES:
        raise LetterError(
            path, f"unsupported file type '{p.suffix or '(none)'}' (expected .pdf or .txt)"
        )
    try:
        path.encode("utf-8")
    except UnicodeEncodeError as exc:
        # os.fsdecode keeps the bytes of a name that is not UTF-8 as lone surrogates.
        byte = ord(path[exc.start]) - 0xDC00
        raise LetterError(
            path, f"file name is not UTF-8 (byte 0x{byte & 0xFF:02x}); rename the file"
        ) from None
    try:
        st = p.stat()
    except OSError as exc:
        problem = path_problem(path) or f"cannot read file ({exc.strerror})"
        raise LetterError(path, problem) from None
    problem = _kind_problem(st.st_mode)
    if problem is None and stat.S_ISDIR(st.st_mode):
        problem = "is a folder, not a letter file"
    if problem is not None:
        raise LetterError(path, problem)
    size = st.st_size
    if size == 0:
        raise LetterError(path, "empty file")
    if size > MAX_FILE_BYTES:
        raise LetterError(
            path,
            f"file too large ({size / 1024 / 1024:.1f} MB; letters are under "
            f"{MAX_FILE_BYTES // 1024 // 1024} MB)",
        )


def read_pages(path: str) -> list[str]:
    """Return the extracted text of each page of a .pdf or .txt letter."""
    check_file(path)
    try:
        with open_regular(path) as f:
            data = f.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        raise LetterError(path, f"cannot read file ({exc.strerror})") from None
    if len(data) > MAX_FILE_BYTES:  # it grew since it was checked
        raise LetterError(path, f"file too large (over {MAX_FILE_BYTES // 1024 // 1024} MB)")
    if Path(path).suffix.lower() == ".pdf":
        return _pdf_pages(path, data)
    return [_decode_text(path, data)]


def _decode_text(path: str, data: bytes) -> str:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise LetterError(
            path,
            f"not UTF-8 text (byte 0x{data[exc.start]:02x} at offset {exc.start}); "
            "convert it to UTF-8 first",
        ) from None
    if "\x00" in text:
        raise LetterError(path, "binary data, not a text letter")
    if not text.strip():
        raise LetterError(path, "no text in file")
    return text


def _pdf_pages(path: str, data: bytes) -> list[str]:
    # Imported here so that reading text letters does not pay for pypdf's import.
    import io

    from pypdf import PdfReader
    from pypdf.errors import FileNotDecryptedError

    if not data.lstrip()[:5] == b"%PDF-":
        raise LetterError(path, "not a PDF file (no %PDF- header)")
    try:
        reader = PdfReader(io.BytesIO(data), strict=False)
        if reader.is_encrypted:
            try:
                # DWC publishes its letters AES-encrypted with an empty user password.
                if not reader.decrypt(""):
                    raise LetterError(path, "encrypted PDF that needs a password")
            except (FileNotDecryptedError, NotImplementedError) as exc:
                raise LetterError(path, f"encrypted PDF that cannot be opened ({exc})") from None
        count = len(reader.pages)
        if count > MAX_PDF_PAGES:
            raise LetterError(
                path,
                f"PDF of {count:,} pages (a letter has at most {MAX_PDF_PAGES}; real ones have "
                "2 to 12)",
            )
        started = time.monotonic()
        pages = []
        for page in reader.pages:
            if time.monotonic() - started > MAX_PDF_SECONDS:
                raise LetterError(
                    path,
                    f"PDF text took over {MAX_PDF_SECONDS} s to read (a letter takes well "
                    "under one); not read further",
                )
            pages.append(page.extract_text() or "")
    except LetterError:
        raise
    except Exception as exc:  # noqa: BLE001 - pypdf raises many exception types on damaged files
        raise LetterError(
            path, f"corrupt or truncated PDF ({type(exc).__name__}: {_one_line(str(exc))})"
        ) from None
    if not pages:
        raise LetterError(path, "PDF has no pages")
    if not any(page.strip() for page in pages):
        raise LetterError(path, "PDF has no text layer (a scanned image?); run OCR on it first")
    return pages


def _one_line(message: str, limit: int = 200) -> str:
    """A library's error message as a short line of printable text: pypdf quotes the damaged
    bytes, which can hold newlines and terminal control characters and run to kilobytes."""
    text = " ".join(message.split())
    text = "".join(
        ch if ch.isprintable() else ch.encode("unicode_escape").decode("ascii") for ch in text
    )
    return text if len(text) <= limit else text[: limit - 1] + "…"
