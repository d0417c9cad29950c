"""Read a letter file (PDF or text) into the text of its pages, with clear errors for bad files."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

from .errors import LetterError

#: File endings we read; anything else in a walked directory is skipped.
LETTER_SUFFIXES = (".pdf", ".txt")
#: Real letters are 20-60 kB; anything this large is not a letter and would only waste memory.
MAX_FILE_BYTES = 10 * 1024 * 1024

# pypdf reports recoverable damage through logging; we turn real failures into LetterError
# instead, so its chatter must not reach the user's terminal.
logging.getLogger("pypdf").setLevel(logging.CRITICAL)


def iter_letter_paths(paths: list[str]) -> Iterator[tuple[str, LetterError | None]]:
    """Yield each letter file under the given files and directories, or the error for a bad path."""
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            found = sorted(
                p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in LETTER_SUFFIXES
            )
            if not found:
                yield raw, LetterError(raw, f"no letters (.pdf or .txt files) found under '{raw}'")
            for p in found:
                yield str(p), None
        elif path.is_file():
            yield raw, None
        else:
            yield raw, LetterError(raw, "no such file or directory")


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
        size = p.stat().st_size
    except OSError as exc:
        raise LetterError(path, f"cannot read file ({exc.strerror})") from None
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
        data = Path(path).read_bytes()
    except OSError as exc:
        raise LetterError(path, f"cannot read file ({exc.strerror})") from None
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
        pages = [page.extract_text() or "" for page in reader.pages]
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
