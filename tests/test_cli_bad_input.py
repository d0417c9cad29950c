"""Bad files, end to end through the CLI: one clear line each, the rest still parsed, exit 1."""

from __future__ import annotations

import json
import shutil

from pypdf import PdfWriter
from pypdf.generic import DecodedStreamObject, DictionaryObject, NameObject, NumberObject

from .conftest import DEV, SEEDS, run_cli


def _image_only_pdf() -> PdfWriter:
    """A one-page PDF whose only content is a picture, as a scanner makes it: no text layer."""
    writer = PdfWriter()
    page = writer.add_blank_page(612, 792)
    image = DecodedStreamObject()
    image.set_data(bytes(range(256)) * 16)
    image.update(
        {
            NameObject("/Type"): NameObject("/XObject"),
            NameObject("/Subtype"): NameObject("/Image"),
            NameObject("/Width"): NumberObject(64),
            NameObject("/Height"): NumberObject(64),
            NameObject("/ColorSpace"): NameObject("/DeviceGray"),
            NameObject("/BitsPerComponent"): NumberObject(8),
        }
    )
    page[NameObject("/Resources")] = DictionaryObject(
        {NameObject("/XObject"): DictionaryObject({NameObject("/Im0"): writer._add_object(image)})}
    )
    content = DecodedStreamObject()
    content.set_data(b"q 612 0 0 792 0 0 cm /Im0 Do Q")
    page[NameObject("/Contents")] = writer._add_object(content)
    return writer


def _bad_files(tmp_path):
    good = [
        shutil.copy(SEEDS[2], tmp_path / "good_seed.txt"),
        shutil.copy(DEV[0], tmp_path / "good_dev.pdf"),
    ]
    pdf = DEV[0].read_bytes()
    (tmp_path / "empty.txt").write_bytes(b"")
    (tmp_path / "truncated.pdf").write_bytes(pdf[: len(pdf) * 2 // 5])
    (tmp_path / "corrupt.pdf").write_bytes(b"%PDF-1.7\n" + bytes(range(256)) * 40)
    with open(tmp_path / "scanned_image_only.pdf", "wb") as fh:
        _image_only_pdf().write(fh)
    (tmp_path / "not_a_letter.txt").write_text(
        "Minutes of the parking committee.\n\nThe committee met on 3/4/2015 and approved the "
        "new permit fees. Upheld: the old rates.\n",
        encoding="utf-8",
    )
    latin1 = SEEDS[2].read_text(encoding="utf-8").replace("injured", "injuréd").encode("latin-1")
    (tmp_path / "latin1.txt").write_bytes(latin1)
    with open(tmp_path / "huge.txt", "wb") as fh:
        fh.truncate(50 * 1024 * 1024)
    return [str(p) for p in good], latin1.index(b"\xe9")


def test_bad_inputs_are_reported_one_line_each_and_the_rest_parsed(tmp_path):
    good, bad_byte_offset = _bad_files(tmp_path)
    result = run_cli("parse", "--json", str(tmp_path))

    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    records = [json.loads(line) for line in result.stdout.splitlines()]
    assert sorted(r["source"] for r in records) == sorted(good)
    p = str(tmp_path)
    assert result.stderr.splitlines() == [
        f"error: {p}/corrupt.pdf: corrupt or truncated PDF (PdfStreamError: Stream has ended "
        "unexpectedly)",
        f"error: {p}/empty.txt: empty file",
        f"error: {p}/huge.txt: file too large (50.0 MB; letters are under 10 MB)",
        f"error: {p}/latin1.txt: not UTF-8 text (byte 0xe9 at offset {bad_byte_offset}); convert it to UTF-8 first",
        f"error: {p}/not_a_letter.txt: not an IMR determination letter of a known layout (none of "
        "the headings 'HOW THE IMR FINAL DETERMINATION WAS MADE', 'MAXIMUS FEDERAL SERVICES, INC.'"
        " or 'MEDICAL PROFESSIONAL REVIEW' found)",
        f"error: {p}/scanned_image_only.pdf: PDF has no text layer (a scanned image?); run OCR on "
        "it first",
        f"error: {p}/truncated.pdf: corrupt or truncated PDF (PdfStreamError: Stream has ended "
        "unexpectedly)",
        "2 letters parsed, 7 failed",
    ]


def test_missing_path_and_empty_folder_are_errors_too(tmp_path):
    (tmp_path / "empty_dir").mkdir()
    result = run_cli(
        "parse", str(tmp_path / "nope.pdf"), str(tmp_path / "empty_dir"), str(SEEDS[0])
    )
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        f"error: {tmp_path}/nope.pdf: no such file or directory",
        f"error: {tmp_path}/empty_dir: no letters (.pdf or .txt files) found under "
        f"'{tmp_path}/empty_dir'",
        "1 letters parsed, 2 failed",
    ]
    assert result.stdout.splitlines()[0].startswith("L-")


def test_unsupported_file_type_named_explicitly(tmp_path):
    doc = tmp_path / "letter.docx"
    doc.write_bytes(b"PK\x03\x04")
    result = run_cli("chunks", str(doc))
    assert result.returncode == 1
    assert result.stderr.splitlines()[0] == (
        f"error: {doc}: unsupported file type '.docx' (expected .pdf or .txt)"
    )


def test_all_good_exits_zero(tmp_path):
    result = run_cli("parse", str(SEEDS[0]), str(SEEDS[4]))
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    assert result.stdout.splitlines()[3] == (
        "CM15-0022402  2015-03-31  case_number_header  " + str(SEEDS[4])
    )


def test_a_bug_on_one_letter_is_reported_and_the_batch_goes_on(monkeypatch):
    from click.testing import CliRunner

    from indexer import cli
    from indexer.letters import parser

    real = parser.parse_letter

    def parse_letter(path):
        # Fault injection: stands in for a parser bug that only one letter triggers.
        if path == str(SEEDS[1]):
            raise IndexError("list index out of range")
        return real(path)

    monkeypatch.setattr(parser, "parse_letter", parse_letter)
    result = CliRunner().invoke(cli.main, ["parse", str(SEEDS[0]), str(SEEDS[1]), str(SEEDS[2])])
    assert result.exit_code == 1
    assert result.stderr.splitlines() == [
        f"error: {SEEDS[1]}: internal error (IndexError: list index out of range); please report "
        "this letter",
        "2 letters parsed, 1 failed",
    ]
    assert [line for line in result.stdout.splitlines() if line.startswith("L-")] == [
        "L-96b58c07c53b0b00  ----------  legacy  " + str(SEEDS[0]),
        "L-f79e6a4b89368566  ----------  legacy  " + str(SEEDS[2]),
    ]


def test_a_file_name_with_control_characters_is_escaped_on_its_error_line(tmp_path):
    bad = tmp_path / "two\nlines\x1b[31m.txt"
    bad.write_text("")
    result = run_cli("parse", str(tmp_path))
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert lines == [
        f"error: {tmp_path}/two\\nlines\\x1b[31m.txt: empty file",
        "0 letters parsed, 1 failed",
    ]
