"""A deterministic corpus of malformed letter files for the bad-input tests (issue #7).

    python tests/fuzz_corpus.py OUT [--seed N]

writes more than a thousand files under OUT/<category>/, made from the bundled sample letters
(`samples/letters/seeds/*.txt` and `samples/letters/dev/*.pdf`): empty files, random bytes,
truncated and bit-flipped copies, wrong encodings, files over the size limit, letters with
sections missing, repeated or out of order, absurd dates, thousands of items, control
characters, PDFs that are broken in structure. `OUT/manifest.json` lists every file with its
category, what the indexer must make of it, and how it was made. The same seed gives the same
bytes, so a test can count the outcomes exactly.

Each file's `expect` says what the indexer must do with it:

- ``bad``: no parser can read it as a letter (empty, over 10 MB, not UTF-8, not a PDF, no
  layout headings, no decided items, more items than a letter holds): it must be reported.
- ``duplicate``: a readable letter with the same letter id as one of the samples (a copy under
  another name, re-encoded or decrypted): indexed after the samples, it must be reported as a
  duplicate, and the sample's own content must stay.
- ``any``: a mutant that may or may not still read as a letter (a flipped bit in a PDF, a text
  cut after its first items, a section twice): it must be indexed or reported, never crash.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import random
import re
import zlib
from collections.abc import Callable
from dataclasses import asdict, dataclass
from itertools import permutations
from pathlib import Path
from unittest import mock

ROOT = Path(__file__).resolve().parent.parent
SEED_DIR = ROOT / "samples" / "letters" / "seeds"
DEV_DIR = ROOT / "samples" / "letters" / "dev"
CONSTRUCTED = ROOT / "tests" / "fixtures" / "constructed"
SEED = 20_250_607
#: The reader's size limit (indexer.letters.reader.MAX_FILE_BYTES), restated: the corpus must
#: not depend on the code it tests.
LIMIT = 10 * 1024 * 1024
EXPECTATIONS = ("bad", "duplicate", "any")

_HOW = "HOW THE IMR FINAL DETERMINATION WAS MADE"
_SUMMARY = "CLINICAL CASE SUMMARY"
_ISSUES = "IMR ISSUES, DECISIONS AND RATIONALES"
_HEADING_LINE = {
    name: re.compile(rf"^[ \t]*{re.escape(heading)}[ \t]*$", re.M)
    for name, heading in (("how", _HOW), ("summary", _SUMMARY), ("issues", _ISSUES))
}
_VERDICT = re.compile(r":\s*(?:Upheld|Overturned)\b", re.I)
_NUMERIC_DATE = re.compile(r"\b\d{1,2}/\d{1,2}/\d{2,4}\b")
ABSURD_DATES = (
    "02/30/2015",
    "13/45/2016",
    "00/00/0000",
    "12/31/9999",
    "01/01/0001",
    "99/99/99999",
    "1/1/1800",
    "02/29/2100",
    "October 45, 2015",
    "Smarch 3, 2016",
)


@dataclass(frozen=True)
class FuzzFile:
    """One file of the corpus: where it is (relative to OUT), its category, what the indexer
    must make of it (one of EXPECTATIONS) and how it was made."""

    path: str
    category: str
    expect: str
    note: str


@dataclass
class _Letter:
    """A sample letter's text cut at its three section headings."""

    name: str
    text: str
    pre: str
    how: str
    summary: str
    issues: str

    @classmethod
    def of(cls, name: str, text: str) -> _Letter:
        starts = [_HEADING_LINE[k].search(text).start() for k in ("how", "summary", "issues")]
        assert starts == sorted(starts), name
        a, b, c = starts
        return cls(name, text, text[:a], text[a:b], text[b:c], text[c:])

    def items(self) -> tuple[str, list[str]]:
        """The issues section's lead-in and its item blocks (each from its verdict line on)."""
        body = self.issues
        heads = [m.start() for m in re.finditer(r"^.*:\s*(?:Upheld|Overturned)\b", body, re.M)]
        bounds = [*heads, len(body)]
        return body[: heads[0]], [body[s:e] for s, e in zip(bounds, bounds[1:], strict=False)]


class _Corpus:
    def __init__(self, out: Path, seed: int) -> None:
        self.out = out
        self.rng = random.Random(seed)
        self.files: list[FuzzFile] = []

    def add(
        self, category: str, name: str, data: bytes, expect: str, note: str, numbered: bool = True
    ) -> None:
        assert expect in EXPECTATIONS
        rel = f"{category}/{len(self.files):04d}_{name}" if numbered else f"{category}/{name}"
        path = self.out / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        self.files.append(FuzzFile(rel, category, expect, note))

    def sparse(self, category: str, name: str, size: int, note: str) -> None:
        """A file of `size` zero bytes that takes no disk space (only its size is ever read)."""
        rel = f"{category}/{len(self.files):04d}_{name}"
        path = self.out / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "wb") as fh:
            fh.truncate(size)
        self.files.append(FuzzFile(rel, category, "bad", note))

    def flip_bits(self, data: bytes, count: int, bits: tuple[int, ...] = tuple(range(8))) -> bytes:
        out = bytearray(data)
        for _ in range(count):
            pos = self.rng.randrange(len(out))
            out[pos] ^= 1 << self.rng.choice(bits)
        return bytes(out)


def build_corpus(out: Path, seed: int = SEED) -> list[FuzzFile]:
    """Write the corpus under `out` (which should be empty) and its manifest; return the files."""
    out.mkdir(parents=True, exist_ok=True)
    corpus = _Corpus(out, seed)
    seeds = sorted(SEED_DIR.glob("*.txt"))
    devs = sorted(DEV_DIR.glob("*.pdf"))
    seed_texts = [_Letter.of(p.stem, p.read_text(encoding="utf-8")) for p in seeds]
    # The header layout's text, as pypdf extracts it: mutants of it keep the case number.
    dev_texts = [_Letter.of(p.stem, _pdf_text(p.read_bytes())) for p in devs[:6]]
    for make in _CATEGORIES:
        make(corpus, seeds, devs, seed_texts, dev_texts)
    manifest = [asdict(f) for f in corpus.files]
    (out / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n", encoding="utf-8")
    return corpus.files


def load_manifest(out: Path) -> list[FuzzFile]:
    """Read the manifest a `build_corpus` run wrote."""
    return [FuzzFile(**entry) for entry in json.loads((out / "manifest.json").read_text())]


# -- the categories ---------------------------------------------------------------------------


def _empty(c: _Corpus, seeds, devs, seed_texts, dev_texts) -> None:
    blanks = {
        "empty.txt": b"",
        "empty.pdf": b"",
        "spaces.txt": b"     ",
        "newlines.txt": b"\n" * 5000,
        "crlf.txt": b"\r\n" * 300,
        "tabs_formfeeds.txt": b"\t\f\v \t\f",
        "bom_only.txt": b"\xef\xbb\xbf",
        "bom_and_blanks.txt": b"\xef\xbb\xbf \n\n\t\n",
        "nbsp.txt": "\u00a0\u2003\u3000\n".encode() * 20,
        "pdf_whitespace.pdf": b"  \n\n",
    }
    for name, data in blanks.items():
        c.add("empty", name, data, "bad", "no text at all")


def _random_bytes(c: _Corpus, seeds, devs, seed_texts, dev_texts) -> None:
    for n in range(200):
        size = c.rng.choice((1, 2, 7, 100, 1000, 4096, 20_000, 65_536))
        data = bytearray(c.rng.randbytes(size))
        kind = n % 4
        if kind == 0:
            # 0xFF never occurs in UTF-8: the text can never decode.
            data[c.rng.randrange(size)] = 0xFF
            c.add("random_bytes", f"r{n}.txt", bytes(data), "bad", f"{size} random bytes")
        elif kind == 1:
            data[0:1] = b"\x00"  # no %PDF- header
            c.add("random_bytes", f"r{n}.pdf", bytes(data), "bad", f"{size} random bytes")
        elif kind == 2:
            c.add(
                "random_bytes",
                f"r{n}.pdf",
                b"%PDF-1.7\n" + bytes(data),
                "bad",
                f"a PDF header and {size} random bytes",
            )
        else:
            # Printable ASCII noise: valid UTF-8, but no letter layout.
            noise = "".join(c.rng.choice("abc XYZ:.,/\n0123456789") for _ in range(size))
            c.add("random_bytes", f"r{n}.txt", noise.encode(), "bad", "random printable text")


def _truncated_pdf(c: _Corpus, seeds, devs, seed_texts, dev_texts) -> None:
    for p in devs:
        data = p.read_bytes()
        for fraction in (0.0005, 0.3, 0.97):
            cut = max(1, int(len(data) * fraction))
            # The first bytes hold no page: the rest may still give every page's text.
            expect = "bad" if fraction < 0.01 else "any"
            c.add("truncated_pdf", f"{p.stem}_{fraction}.pdf", data[:cut], expect, f"first {cut}")


def _bitflip_pdf(c: _Corpus, seeds, devs, seed_texts, dev_texts) -> None:
    for p in devs:
        data = p.read_bytes()
        for flips in (1, 64):
            c.add(
                "bitflip_pdf",
                f"{p.stem}_x{flips}.pdf",
                c.flip_bits(data, flips),
                "any",
                f"{flips} random bits flipped",
            )


def _truncated_text(c: _Corpus, seeds, devs, seed_texts, dev_texts) -> None:
    for letter in seed_texts:
        data = letter.text.encode()
        first_verdict = letter.text.index(_VERDICT.search(letter.issues).group(0), len(letter.pre))
        for n in range(10):
            cut = int(len(data) * (n + 0.5) / 10)
            # Cut before the first verdict there is no decided item: it cannot be a letter.
            expect = "bad" if cut <= first_verdict else "any"
            c.add("truncated_text", f"{letter.name}_{cut}.txt", data[:cut], expect, f"first {cut}")


def _bitflip_text(c: _Corpus, seeds, devs, seed_texts, dev_texts) -> None:
    for letter in seed_texts:
        data = letter.text.encode()
        assert data.isascii()
        for n in range(10):
            # Bit 7 of an ASCII byte makes a byte UTF-8 cannot hold at that place.
            c.add(
                "bitflip_text",
                f"{letter.name}_high{n}.txt",
                c.flip_bits(data, 1 + n, bits=(7,)),
                "bad",
                f"{1 + n} high bits set",
            )
        for n in range(10):
            c.add(
                "bitflip_text",
                f"{letter.name}_low{n}.txt",
                c.flip_bits(data, 1 + n, bits=(0, 1, 2, 3, 4, 5)),
                "any",
                f"{1 + n} low bits flipped",
            )


_FOREIGN = "\n\nRevisi\u00f3n m\u00e9dica \u201cfinal\u201d \u2014 \u00e9t\u00e9 na\u00efve.\n\n"
_ENCODINGS = {
    # encoding: (inserted text, expect)
    "latin-1": (
        _FOREIGN.replace("\u201c", '"').replace("\u201d", '"').replace("\u2014", "-"),
        "bad",
    ),
    "cp1252": (_FOREIGN, "bad"),
    "mac_roman": (_FOREIGN, "bad"),
    "cp437": ("\n\nRevisi\u00f3n m\u00e9dica final.\n\n", "bad"),
    "utf-16": ("", "bad"),
    "utf-16-le": ("", "bad"),
    "utf-16-be": ("", "bad"),
    "utf-32": ("", "bad"),
    "shift_jis": ("\n\n\u65e5\u672c\u8a9e\u306e\u6587\u66f8\n\n", "bad"),
    "euc-jp": ("\n\n\u65e5\u672c\u8a9e\u306e\u6587\u66f8\n\n", "bad"),
    "gb18030": ("\n\n\u4e2d\u6587\u5185\u5bb9\n\n", "bad"),
    # The BOM is skipped and the text is that of the sample: the same letter.
    "utf-8-sig": ("", "duplicate"),
}


def _wrong_encoding(c: _Corpus, seeds, devs, seed_texts, dev_texts) -> None:
    for letter in seed_texts:
        for encoding, (extra, expect) in _ENCODINGS.items():
            text = letter.pre + letter.how + extra + letter.summary + letter.issues
            c.add(
                "wrong_encoding",
                f"{letter.name}_{encoding}.txt",
                text.encode(encoding),
                expect,
                f"encoded as {encoding}",
            )


def _huge(c: _Corpus, seeds, devs, seed_texts, dev_texts) -> None:
    for name, size in (
        ("limit_plus_1.txt", LIMIT + 1),
        ("limit_plus_1.pdf", LIMIT + 1),
        ("64mb.pdf", 64 << 20),
        ("1gb.txt", 1 << 30),
        ("4gb.pdf", (4 << 30) + 1),
    ):
        c.sparse("huge", name, size, f"{size} bytes, sparse")
    # Under the limit, and large: must be read and turned down in seconds.
    filler = ("The committee met and discussed the parking fees at length. " * 20 + "\n\n") * 8000
    c.add("huge", "9mb_not_a_letter.txt", filler.encode()[: LIMIT - 1], "bad", "9.9 MB of prose")
    c.add("huge", "9mb_newlines.txt", b"\n" * (LIMIT - 1), "bad", "10 MB of newlines")
    c.add("huge", "9mb_one_line.txt", b"x" * (LIMIT - 1), "bad", "one 10 MB line")
    pdf = _text_pdf(["Minutes of the parking committee."] * 5_000)
    c.add("huge", "big_text_pdf_not_a_letter.pdf", pdf, "bad", f"{len(pdf)} bytes of text PDF")


def _sections(c: _Corpus, seeds, devs, seed_texts, dev_texts) -> None:
    for letter in [*seed_texts, *dev_texts]:
        pre, how, summary, issues = letter.pre, letter.how, letter.summary, letter.issues
        lead, items = letter.items()
        # Seeds have ids from their text; the header letters keep their case number.
        same = "any"
        missing = {
            "no_how": (pre + summary + issues, "bad"),
            "no_issues": (pre + how + summary, "bad"),
            "no_summary": (pre + how + issues, same),
            "no_headings": (_strip_headings(letter.text), "bad"),
            "lowercase_headings": (_lower_headings(letter.text), "bad"),
            "no_verdicts": (pre + how + summary + _VERDICT.sub("", issues), "bad"),
            "only_headings": (f"{_HOW}\n\n{_SUMMARY}\n\n{_ISSUES}\n", "bad"),
        }
        for name, (text, expect) in missing.items():
            c.add("sections_missing", f"{letter.name}_{name}.txt", text.encode(), expect, name)
        repeated = {
            "summary_twice": pre + how + summary + summary + issues,
            "issues_twice": pre + how + summary + issues + issues,
            "how_twice": pre + how + how + summary + issues,
            "letter_twice": letter.text + "\n\n" + letter.text,
            "item_50_times": pre + how + summary + lead + items[0] * 50,
            "headings_doubled": pre + how + _SUMMARY + "\n\n" + summary + issues,
        }
        for name, text in repeated.items():
            c.add("sections_repeated", f"{letter.name}_{name}.txt", text.encode(), same, name)
        for n, order in enumerate(list(permutations((how, summary, issues)))[1:]):
            text = pre + "".join(order)
            c.add("sections_out_of_order", f"{letter.name}_perm{n}.txt", text.encode(), same, "")
        reversed_items = pre + how + summary + lead + "".join(reversed(items))
        c.add(
            "sections_out_of_order",
            f"{letter.name}_items_reversed.txt",
            reversed_items.encode(),
            same,
            "items in reverse order",
        )


def _absurd_dates(c: _Corpus, seeds, devs, seed_texts, dev_texts) -> None:
    for letter in [*seed_texts, *dev_texts]:
        for n, date in enumerate(ABSURD_DATES):
            text = _NUMERIC_DATE.sub(date, letter.text)
            c.add("absurd_dates", f"{letter.name}_d{n}.txt", text.encode(), "any", date)


def _many_items(c: _Corpus, seeds, devs, seed_texts, dev_texts) -> None:
    letter = seed_texts[2]
    lead, items = letter.items()
    base = letter.pre + letter.how + letter.summary + lead
    for count in (101, 3000):
        blocks = [re.sub(r"^\d+", str(n), items[0]) for n in range(count)]
        text = (base + "".join(blocks)).encode()
        if len(text) < LIMIT:
            c.add("many_items", f"items_{count}.txt", text, "bad", f"{count} items")
    # Thousands of other things in an otherwise good letter.
    summary = letter.summary.replace(
        "The ",
        "Current diagnoses include " + ", ".join(f"diagnosis {n}" for n in range(3000)) + ". The ",
        1,
    )
    c.add(
        "many_items",
        "diagnoses_3000.txt",
        (letter.pre + letter.how + summary + letter.issues).encode(),
        "any",
        "3000 diagnoses",
    )
    cited = letter.issues.replace(
        "Page(s): 24.", "Page(s): " + ", ".join(str(n) for n in range(1, 3001)) + "."
    )
    c.add(
        "many_items",
        "pages_cited_3000.txt",
        (letter.pre + letter.how + letter.summary + cited).encode(),
        "any",
        "a guideline citing 3000 pages",
    )
    pages = "\f".join(letter.text.splitlines())
    c.add("many_items", "page_breaks_3000.txt", pages.encode(), "any", "a page break per line")
    # The two layouts we have no samples of, from the constructed letters of the tests.
    maximus = (CONSTRUCTED / "maximus_header_two_items.txt").read_text(encoding="utf-8")
    head, sep, two_items = maximus.partition("IMR DECISION(S) AND RATIONALE(S)\n\n")
    c.add(
        "many_items",
        "numbered_3000.txt",
        (head + sep + ("\n\n" + two_items.strip()) * 1500).encode(),
        "bad",
        "3000 numbered items (1, 2, 1, 2, ...)",
    )
    review = (CONSTRUCTED / "professional_review_one_item.txt").read_text(encoding="utf-8")
    for name, gap in (("issues_3000", "\n"), ("issues_3000_spaced", "\n\n")):
        # The normaliser joins these short lines as if wrapped: one issue with a long request.
        issues = "".join(
            f"{n % 99 + 1}. Is item {n} medically necessary?{gap}" for n in range(3000)
        )
        question = re.search(r"ISSUE AT DISPUTE:\n.*?\n\n", review, re.S)
        text = (
            review[: question.start()]
            + "ISSUE AT DISPUTE:\n"
            + issues
            + "\n"
            + review[question.end() :]
        )
        c.add("many_items", f"{name}.txt", text.encode(), "any", f"3000 issues, {gap!r} apart")


_CONTROLS = [chr(n) for n in (*range(1, 9), 11, 12, 14, 15, 27, 31, 127)] + [
    "\u0085",
    "\u200b",
    "\u200e",
    "\u202e",
    "\u2028",
    "\u2029",
    "\ufeff",
    "\ufffd",
    "\r",
    "\U0001f600",
    "\u05e9\u05dc\u05d5\u05dd",
]


def _control_chars(c: _Corpus, seeds, devs, seed_texts, dev_texts) -> None:
    for letter in seed_texts:
        for n in range(6):
            chars = list(letter.text)
            for _ in range(10 ** (n % 3 + 1)):
                chars.insert(c.rng.randrange(len(chars)), c.rng.choice(_CONTROLS))
            text = "".join(chars)
            c.add("control_chars", f"{letter.name}_c{n}.txt", text.encode(), "any", "inserted")
        c.add(
            "control_chars",
            f"{letter.name}_nul.txt",
            letter.text.replace("\n", "\n\x00", 3).encode(),
            "bad",
            "NUL bytes in the text",
        )
        c.add(
            "control_chars",
            f"{letter.name}_cr_only.txt",
            letter.text.replace("\n", "\r").encode(),
            "any",
            "old Mac line ends",
        )
        c.add(
            "control_chars",
            f"{letter.name}_crlf.txt",
            letter.text.replace("\n", "\r\n").encode(),
            "duplicate",
            "CRLF line ends: the same text",
        )
        c.add(
            "control_chars",
            f"{letter.name}_lone_surrogate.txt",
            letter.text.encode() + "\ud800".encode("utf-8", "surrogatepass"),
            "bad",
            "an encoded lone surrogate",
        )


_NOT_LETTERS = {
    "html.txt": "<!doctype html><html><body><h1>IMR</h1><p>Upheld</p></body></html>",
    "json.txt": '{"query": {"match_all": {}}, "Case Number": "CM16-0000001"}',
    "csv.txt": "case,decision\nCM16-0000001,Upheld\nCM16-0000002,Overturned\n" * 50,
    "python.txt": "def f():\n    return 'HOW THE IMR FINAL DETERMINATION WAS MADE'\n",
    "minutes.txt": "Minutes of the parking committee.\n\nApproved: new fees. Upheld: old rates.\n",
    "headings_inline.txt": f"Text {_HOW} and {_ISSUES} inside a sentence: Upheld.",
    "markdown.txt": f"# {_HOW}\n\n## {_ISSUES}\n\n* Valium: Upheld\n",
    "sql.txt": "SELECT * FROM letters WHERE decision = 'Upheld'; DROP TABLE letters;--",
    "es_query.txt": '*:* AND {"query":{"bool":{"must":[{"match_all":{}}]}}}',
    "maximus_no_items.txt": f"MAXIMUS FEDERAL SERVICES, INC.\nIndependent Medical Review\n\n{_HOW}\n",
    "review_no_issue.txt": "MEDICAL PROFESSIONAL REVIEW\n\nCASE SUMMARY:\nA patient.\n",
    "letter_no_items.txt": f"{_HOW}\n\nReviewed.\n\n{_SUMMARY}\n\nA patient.\n\n{_ISSUES}\n\nNone.\n",
}


def _not_a_letter(c: _Corpus, seeds, devs, seed_texts, dev_texts) -> None:
    for name, text in _NOT_LETTERS.items():
        c.add("not_a_letter", name, text.encode(), "bad", name.removesuffix(".txt"))
    vocabulary = ("the", "patient", "Upheld", "MRI", "request", "pain", "review", "CASE")
    vocabulary += ("SUMMARY", "IMR", "Overturned", ":", "\n\n", "denied", "Case Number:")
    for n in range(48):
        text = " ".join(c.rng.choice(vocabulary) for _ in range(c.rng.randrange(1, 400)))
        c.add("not_a_letter", f"words{n}.txt", text.encode(), "bad", "letter words, no layout")


def _wrong_type(c: _Corpus, seeds, devs, seed_texts, dev_texts) -> None:
    for p in devs[:10]:
        # An encrypted PDF holds bytes UTF-8 cannot decode.
        c.add("wrong_type", f"{p.stem}_pdf_as.txt", p.read_bytes(), "bad", "a PDF named .txt")
        c.add("wrong_type", f"{p.stem}_upper.PDF", p.read_bytes(), "duplicate", "a .PDF copy")
    for p in seeds:
        c.add("wrong_type", f"{p.stem}_text_as.pdf", p.read_bytes(), "bad", "a text named .pdf")
        c.add("wrong_type", f"{p.stem}_upper.TXT", p.read_bytes(), "duplicate", "a .TXT copy")
    for name, data in (
        ("zip.txt", b"PK\x03\x04" + bytes(100)),
        ("png.pdf", b"\x89PNG\r\n\x1a\n" + bytes(100)),
        ("gzip.txt", zlib.compress(seeds[0].read_bytes())),
        ("docx_named.pdf", b"PK\x03\x04word/document.xml"),
    ):
        c.add("wrong_type", name, data, "bad", "another file type")


def _pdf_structure(c: _Corpus, seeds, devs, seed_texts, dev_texts) -> None:
    from pypdf import PdfReader, PdfWriter

    c.add("pdf_structure", "header_only.pdf", b"%PDF-1.7\n", "bad", "header only")
    c.add("pdf_structure", "header_eof.pdf", b"%PDF-1.7\n%%EOF\n", "bad", "header and %%EOF")
    c.add("pdf_structure", "leading_junk.pdf", b"junk\n%PDF-1.4\n", "bad", "junk before header")
    blank = io.BytesIO()
    writer = PdfWriter()
    writer.add_blank_page(612, 792)
    writer.write(blank)
    c.add("pdf_structure", "blank_page.pdf", blank.getvalue(), "bad", "one blank page")
    none = io.BytesIO()
    PdfWriter().write(none)
    c.add("pdf_structure", "no_pages.pdf", none.getvalue(), "bad", "no pages")
    c.add(
        "pdf_structure",
        "text_not_a_letter.pdf",
        _text_pdf(["Minutes of the parking committee.", "Upheld: the old rates."]),
        "bad",
        "a text layer that is no letter",
    )
    c.add("pdf_structure", "page_tree_cycle.pdf", _cyclic_pdf(), "bad", "Kids point back")
    c.add(
        "pdf_structure",
        "flate_bomb.pdf",
        _text_pdf([], raw_content=_deflated_spaces(100 << 20)),
        "bad",
        "a content stream inflating to 100 MB",
    )
    c.add(
        "pdf_structure",
        "bad_flate.pdf",
        _text_pdf([], raw_content=b"\x78\x9c" + bytes(50)),
        "bad",
        "a content stream that is not zlib",
    )
    for p in devs[:5]:
        reader = PdfReader(p)
        reader.decrypt("")
        plain = io.BytesIO()
        PdfWriter(clone_from=reader).write(plain)
        c.add("pdf_structure", f"{p.stem}_decrypted.pdf", plain.getvalue(), "duplicate", "")
        locked = PdfWriter(clone_from=reader)
        buf = io.BytesIO()
        # pypdf draws the file id, salts and IVs from `secrets`: ours come from the seed.
        with mock.patch("secrets.token_bytes", c.rng.randbytes):
            locked.encrypt("secret", algorithm="AES-128")
            locked.write(buf)
        c.add("pdf_structure", f"{p.stem}_password.pdf", buf.getvalue(), "bad", "a password")
    for letter in seed_texts:
        lines = letter.text.splitlines()
        c.add("pdf_structure", f"{letter.name}_as_pdf.pdf", _text_pdf(lines), "any", "typeset")


def _odd_names(c: _Corpus, seeds, devs, seed_texts, dev_texts) -> None:
    names = [
        "with spaces and 'quotes'.txt",
        "accented_\u00e9\u00e8.txt",
        "emoji_\U0001f600.txt",
        "rtl_override_\u202etxt.exe.txt",
        "escape_\x1b[31mred.txt",
        "new\nline.txt",
        "tab\tand\rreturn.txt",
        ".hidden.txt",
        "-dash-first.txt",
        "long_" + "x" * 200 + ".txt",
        "upper_case.TxT",
    ]
    # Letters of their own: each is indexed, and so never named in an error line, where a
    # newline in its name would break the line. (A letter with a case number keeps it.)
    legacy = [letter for letter in seed_texts if "Case Number" not in letter.text]
    for n, name in enumerate(names):
        letter = legacy[n % len(legacy)]
        text = letter.text + f"\n\nThis copy is number {n} of the odd-name tests.\n"
        c.add("odd_names", name, text.encode(), "any", repr(name), numbered=False)
    # Bytes that are not UTF-8 in a name: the index could not record where the file is.
    bad_name = os.fsdecode(b"latin1_caf\xe9.txt")
    # (A file system that takes UTF-8 names only, like macOS's, refuses it: nothing to test.)
    with contextlib.suppress(OSError):
        c.add(
            "odd_names", bad_name, seed_texts[0].text.encode(), "bad", "not UTF-8", numbered=False
        )


_CATEGORIES: list[Callable[..., None]] = [
    _empty,
    _random_bytes,
    _truncated_pdf,
    _bitflip_pdf,
    _truncated_text,
    _bitflip_text,
    _wrong_encoding,
    _huge,
    _sections,
    _absurd_dates,
    _many_items,
    _control_chars,
    _not_a_letter,
    _wrong_type,
    _pdf_structure,
    _odd_names,
]


# -- helpers ----------------------------------------------------------------------------------


def _pdf_text(data: bytes) -> str:
    from pypdf import PdfReader

    reader = PdfReader(io.BytesIO(data))
    if reader.is_encrypted:
        reader.decrypt("")
    return "\n".join(page.extract_text() or "" for page in reader.pages)


def _strip_headings(text: str) -> str:
    for rx in _HEADING_LINE.values():
        text = rx.sub("", text)
    return text


def _lower_headings(text: str) -> str:
    for rx in _HEADING_LINE.values():
        text = rx.sub(lambda m: m.group(0).lower(), text)
    return text


def _pdf(objects: list[bytes]) -> bytes:
    """A PDF file of the given objects (numbered from 1; object 1 is the catalog)."""
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for n, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % n + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % o for o in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        xref,
    )
    return bytes(out)


def _text_pdf(lines: list[str], raw_content: bytes | None = None) -> bytes:
    """A one-page PDF whose text layer is `lines` in Helvetica (or a given deflated stream)."""
    if raw_content is None:
        escaped = [
            ln.encode("latin-1", "replace").replace(b"\\", b"\\\\").replace(b"(", b"\\(")
            for ln in lines
        ]
        escaped = [ln.replace(b")", b"\\)") for ln in escaped]
        body = b"BT /F1 9 Tf 40 780 Td 11 TL\n" + b"".join(b"(%s) Tj T*\n" % ln for ln in escaped)
        raw_content = zlib.compress(body + b"ET\n")
    return _pdf(
        [
            b"<< /Type /Catalog /Pages 2 0 R >>",
            b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] "
            b"/Resources << /Font << /F1 4 0 R >> >> /Contents 5 0 R >>",
            b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
            b"<< /Length %d /Filter /FlateDecode >>\nstream\n" % len(raw_content)
            + raw_content
            + b"\nendstream",
        ]
    )


def _deflated_spaces(size: int) -> bytes:
    squeeze = zlib.compressobj(9)
    block = b" " * (1 << 20)
    return b"".join(squeeze.compress(block) for _ in range(size >> 20)) + squeeze.flush()


def _cyclic_pdf() -> bytes:
    return _pdf(
        [
            b"<< /Type /Catalog /Pages 2 0 R >>",
            b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
            b"<< /Type /Pages /Parent 2 0 R /Kids [2 0 R] /Count 1 >>",
        ]
    )


def main(argv: list[str] | None = None) -> None:
    """Write the corpus to the folder given on the command line."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out", type=Path, help="folder to write the corpus to (created)")
    parser.add_argument("--seed", type=int, default=SEED, help=f"random seed (default {SEED})")
    args = parser.parse_args(argv)
    files = build_corpus(args.out, args.seed)
    by_category: dict[str, dict[str, int]] = {}
    for f in files:
        counts = by_category.setdefault(f.category, dict.fromkeys(EXPECTATIONS, 0))
        counts[f.expect] += 1
    for category, counts in by_category.items():
        print(
            f"{category:<22} {sum(counts.values()):>5}  "
            + "  ".join(f"{k} {v}" for k, v in counts.items())
        )
    print(f"{len(files)} files in {args.out}")


if __name__ == "__main__":
    main()
