"""A letter's work is bounded: a file far longer than any real letter is refused with one line,
before the tokenizer spends seconds on it, and the rest of the batch is indexed."""

from __future__ import annotations

import pytest

import indexer.chunking
from indexer.chunking import MAX_UNIT_CHARS, chunk_letter
from indexer.letters.errors import LetterError
from indexer.letters.parser import parse_letter

from .conftest import SEEDS, run_cli

MARKER = "case file, including all medical records:"


def _long_letter(tmp_path, chars: int):
    text = SEEDS[0].read_text(encoding="utf-8")
    assert MARKER in text
    filler = "The injured worker reports ongoing pain. " * (chars // 41 + 1)
    path = tmp_path / "letters" / "long.txt"
    path.parent.mkdir(exist_ok=True)
    path.write_text(text.replace(MARKER, MARKER + " " + filler[:chars], 1), encoding="utf-8")
    return path


def test_a_section_far_longer_than_a_letter_is_refused_before_chunking(tmp_path):
    path = _long_letter(tmp_path, 150_000)
    letter = parse_letter(str(path))
    with pytest.raises(LetterError) as caught:
        chunk_letter(letter)
    longest = len(letter.sections["clinical_case_summary"])
    assert longest > MAX_UNIT_CHARS
    assert caught.value.reason == (
        f"too long: a section of {longest:,} characters (at most 100,000; a whole real letter "
        "has about 3,000 to 17,000)"
    )


def test_a_letter_making_more_chunks_than_the_bound_is_refused(monkeypatch):
    letter = parse_letter(str(SEEDS[0]))
    assert len(chunk_letter(letter)) == 5
    monkeypatch.setattr(indexer.chunking, "MAX_CHUNKS", 4)
    with pytest.raises(LetterError) as caught:
        chunk_letter(letter)
    assert caught.value.reason == (
        "too long: more than 4 search chunks (the longest real letters make about 15)"
    )


def test_index_reports_the_long_letter_and_indexes_the_rest(tmp_path):
    long = _long_letter(tmp_path, 150_000)
    normal = tmp_path / "letters" / SEEDS[1].name
    normal.write_bytes(SEEDS[1].read_bytes())
    done = run_cli("--data-dir", str(tmp_path / "data"), "index", str(long.parent))
    assert done.returncode == 1
    errors = [line for line in done.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1
    assert errors[0].startswith(f"error: {long}: too long: a section of ")
    assert "1 letters indexed" in done.stdout + done.stderr


def test_similar_cases_look_up_a_bounded_number_of_a_letters_chunks(
    tmp_path, embedder, monkeypatch
):
    import indexer.search
    from indexer.search import SearchService
    from indexer.stores.embedded import EmbeddedStore

    from .conftest import index_samples

    store = EmbeddedStore(tmp_path / "index")
    index_samples(store, embedder, SEEDS)
    service = SearchService(store, lambda: embedder)
    asked = []
    knn_many = store.knn_many
    monkeypatch.setattr(
        store,
        "knn_many",
        lambda vectors, *a, **kw: asked.append(len(vectors)) or knn_many(vectors, *a, **kw),
    )
    monkeypatch.setattr(indexer.search, "SIMILAR_SOURCES", 2)
    letter_id = "L-96b58c07c53b0b00"  # seed 000: five chunks
    assert len(store.letter_chunks(letter_id)) == 5
    hits = service.similar(letter_id, k=3)
    assert asked == [2]
    assert len(hits) == 3
    store.close()


def test_a_pdf_of_more_pages_than_a_letter_has_is_refused_before_reading_them(tmp_path):
    from pypdf import PdfWriter

    from indexer.letters.reader import read_pages

    writer = PdfWriter()
    for _ in range(201):
        writer.add_blank_page(width=612, height=792)
    path = tmp_path / "many_pages.pdf"
    with path.open("wb") as f:
        writer.write(f)
    with pytest.raises(LetterError) as caught:
        read_pages(str(path))
    assert (
        caught.value.reason == "PDF of 201 pages (a letter has at most 200; real ones have 2 to 12)"
    )


def test_a_pdf_whose_text_takes_too_long_is_refused(tmp_path, monkeypatch):
    import indexer.letters.reader
    from indexer.letters.reader import read_pages

    from .conftest import DEV

    monkeypatch.setattr(indexer.letters.reader, "MAX_PDF_SECONDS", -1)
    with pytest.raises(LetterError) as caught:
        read_pages(str(DEV[0]))
    assert caught.value.reason == (
        "PDF text took over -1 s to read (a letter takes well under one); not read further"
    )
