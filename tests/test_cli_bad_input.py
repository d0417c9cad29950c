"""Bad files, end to end through the CLI: one clear line each, the rest still parsed, exit 1."""

from __future__ import annotations

import json
import shutil

from pypdf import PdfWriter

from .conftest import DEV, SEEDS, run_cli


def _bad_files(tmp_path):
    good = [
        shutil.copy(SEEDS[2], tmp_path / "good_seed.txt"),
        shutil.copy(DEV[0], tmp_path / "good_dev.pdf"),
    ]
    pdf = DEV[0].read_bytes()
    (tmp_path / "empty.txt").write_bytes(b"")
    (tmp_path / "truncated.pdf").write_bytes(pdf[: len(pdf) * 2 // 5])
    (tmp_path / "corrupt.pdf").write_bytes(b"%PDF-1.7\n" + bytes(range(256)) * 40)
    writer = PdfWriter()
    writer.add_blank_page(612, 792)
    with open(tmp_path / "no_text_layer.pdf", "wb") as fh:
        writer.write(fh)
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
        f"error: {p}/no_text_layer.pdf: PDF has no text layer (a scanned image?); run OCR on it first",
        f"error: {p}/not_a_letter.txt: not an IMR determination letter of a known layout (none of "
        "the headings 'HOW THE IMR FINAL DETERMINATION WAS MADE', 'MAXIMUS FEDERAL SERVICES, INC.'"
        " or 'MEDICAL PROFESSIONAL REVIEW' found)",
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
