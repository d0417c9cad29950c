"""Fault injection (issue 19): every kind of file the embedded store writes, damaged each way a
disk, a crash or an operator damages files, end to end through the CLI and the web app.

The files: `store.sqlite`, `text/meta.json` (and the whole `text/` folder), a tantivy segment
file, `manifest.json`, `ACTIVE`. The damage: deleted, truncated, garbage in the middle (random
bytes over whole pages, or inside a record), a wrong ACTIVE. For each case the test asserts the
exact one line (and exit code) of `search` and `verify`, what `/healthz` and the API answer
(503, naming the file), that reading the damaged index changed none of its files, and that
`reindex` repairs it: afterwards `search` finds the letters it found before, `verify` exits 0
and the same web app, still running, answers from the rebuilt index.

Also: `index`, `delete`, `similar` and `stats` refuse a damaged index with the same line;
`serve` starts on one, answers 503, and serves the rebuilt index once `reindex` has run; a writer
killed between the steps of a commit (SQLite, tantivy, manifest, marker) leaves an index that
opens and passes the whole check; an index made before manifests opens and gets one from its
next writer; a segment file damaged while the server runs is named at the next search (tantivy
panics on it: the store finds the file by its checksum).

The five seed letters are indexed once per module into a template data directory, copied for
each case (a copy takes milliseconds; indexing takes seconds).
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import shutil
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner

from indexer.cli import main

from .conftest import ROOT, SEEDS

SEED_DIR = str(SEEDS[0].parent)
KLONOPIN = ["L-8bfe781363af6ef1", "L-96b58c07c53b0b00"]  # what "Klonopin" finds in the seeds
REBUILD = "run `imr-search reindex PATH` to rebuild"
PAGE = 4096


def _cli(data: Path, *args: str) -> subprocess.CompletedProcess:
    """`imr-search` in a process of its own, as users run it: what it writes to its stderr is
    all there, a Rust panic's message included."""
    exe = Path(sys.executable).parent / "imr-search"
    command = [str(exe)] if exe.exists() else [sys.executable, "-m", "indexer.cli"]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("IMR_SEARCH_", "ELASTIC"))}
    env.update(HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1")
    return subprocess.run(
        [*command, "--data-dir", str(data), *args],
        capture_output=True, text=True, cwd=ROOT, env=env, timeout=300,
    )  # fmt: skip


def _run(data: Path, *args: str):
    """`imr-search` in this process (faster; where the test needs no process of its own)."""
    result = CliRunner().invoke(main, ["--data-dir", str(data), *args])
    # A traceback would be an exception other than click's exit.
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result


@pytest.fixture(scope="module")
def template(tmp_path_factory) -> Path:
    data = (tmp_path_factory.mktemp("template") / "data").resolve()
    result = _run(data, "index", SEED_DIR)
    assert result.exit_code == 0, result.output
    return data


@pytest.fixture
def data(template, tmp_path) -> Path:
    """A copy of the template data directory (the five seed letters, with their vectors)."""
    copy = tmp_path / "data"
    shutil.copytree(template, copy)
    return copy


def _index_dir(data: Path) -> Path:
    return data / (data / "ACTIVE").read_text()


def _garble(path: Path, start: int, length: int, seed: int = 19) -> None:
    """Random bytes over `length` bytes of the file from `start` (its size unchanged)."""
    with open(path, "r+b") as f:
        f.seek(start)
        f.write(random.Random(seed).randbytes(length))


def _pages(index: Path, table: str, kind: str) -> list[int]:
    db = sqlite3.connect(f"{(index / 'store.sqlite').as_uri()}?mode=ro", uri=True)
    try:
        rows = db.execute(
            "SELECT pageno FROM dbstat WHERE name = ? AND pagetype = ? ORDER BY pageno",
            (table, kind),
        )
        return [n for (n,) in rows]
    finally:
        db.close()


def _segment_file(index: Path, part: str) -> Path:
    (path,) = (index / "text").glob(f"*.{part}")
    return path


# -- the damage: each returns the line naming what is damaged (verify's, then search's) ---------


def _sqlite_deleted(data: Path, index: Path) -> str:
    (index / "store.sqlite").unlink()
    return "store.sqlite is missing"


def _sqlite_truncated(data: Path, index: Path) -> str:
    size = (index / "store.sqlite").stat().st_size
    keep = size // PAGE // 2 * PAGE
    os.truncate(index / "store.sqlite", keep)
    return f"store.sqlite is truncated ({keep} of its {size} bytes)"


def _sqlite_truncated_mid_page(data: Path, index: Path) -> str:
    size = (index / "store.sqlite").stat().st_size
    os.truncate(index / "store.sqlite", size - 1000)
    return f"store.sqlite is truncated ({size - 1000} of its {size} bytes)"


def _sqlite_garbage_pages(data: Path, index: Path) -> str:
    # Two pages of the chunks table, where documents and vectors are: found by reading them.
    for n in _pages(index, "chunks", "leaf")[3:5]:
        _garble(index / "store.sqlite", (n - 1) * PAGE, PAGE, seed=n)
    return "store.sqlite is damaged (database disk image is malformed)"


def _sqlite_garbage_in_a_record(data: Path, index: Path) -> tuple[str, str]:
    # Bytes that are no UTF-8 inside one chunk's document: SQLite's structure is intact.
    db = sqlite3.connect(index / "store.sqlite")
    chunk_id, doc = db.execute("SELECT chunk_id, doc FROM chunks ORDER BY row LIMIT 1").fetchone()
    db.close()
    raw = (index / "store.sqlite").read_bytes()
    at = raw.index(doc[:200].encode()) + 100
    with open(index / "store.sqlite", "r+b") as f:
        f.seek(at)
        f.write(b"\xff" * 40)
    return (
        f"store.sqlite: chunk {chunk_id} holds no readable document",
        "store.sqlite holds a document that is not valid JSON",
    )


def _meta_deleted(data: Path, index: Path) -> str:
    (index / "text" / "meta.json").unlink()
    return "text/meta.json is missing"


def _meta_truncated(data: Path, index: Path) -> str:
    path = index / "text" / "meta.json"
    os.truncate(path, path.stat().st_size // 2)
    return "text/meta.json cannot be parsed"


def _meta_garbage(data: Path, index: Path) -> str:
    path = index / "text" / "meta.json"
    _garble(path, path.stat().st_size // 3, 200)
    return "text/meta.json cannot be parsed"


def _text_folder_deleted(data: Path, index: Path) -> str:
    shutil.rmtree(index / "text")
    return "text/ is missing"


def _segment_deleted(data: Path, index: Path) -> str:
    path = _segment_file(index, "term")
    path.unlink()
    return f"text/{path.name} is missing"


def _segment_truncated(data: Path, index: Path) -> str:
    path = _segment_file(index, "term")
    size = path.stat().st_size
    os.truncate(path, size // 2)
    return f"text/{path.name} is truncated ({size // 2} of its {size} bytes)"


def _segment_garbage(data: Path, index: Path) -> str:
    # The postings' index: tantivy panics reading it, or, elsewhere, answers wrongly.
    path = _segment_file(index, "idx")
    size = path.stat().st_size
    _garble(path, size // 4, size // 3)
    return f"text/{path.name} does not match its checksum in manifest.json"


def _segment_garbage_quiet(data: Path, index: Path) -> str:
    # The document store, which searches never read: only its checksum can tell.
    path = _segment_file(index, "store")
    size = path.stat().st_size
    _garble(path, size // 4, size // 3)
    return f"text/{path.name} does not match its checksum in manifest.json"


def _manifest_deleted(data: Path, index: Path) -> str:
    (index / "manifest.json").unlink()
    return "manifest.json is missing"


def _manifest_truncated(data: Path, index: Path) -> str:
    path = index / "manifest.json"
    os.truncate(path, path.stat().st_size // 2)
    return "manifest.json cannot be parsed"


def _manifest_garbage(data: Path, index: Path) -> str:
    path = index / "manifest.json"
    _garble(path, path.stat().st_size // 3, 64)
    return "manifest.json cannot be parsed"


def _manifest_edited(data: Path, index: Path) -> str:
    # Still JSON, one number changed: its own checksum tells.
    path = index / "manifest.json"
    manifest = json.loads(path.read_text())
    manifest["chunks"] += 1
    path.write_text(json.dumps(manifest, indent=1))
    return "manifest.json does not match its own checksum"


def _active_deleted(data: Path, index: Path) -> str:
    (data / "ACTIVE").unlink()
    return f"ACTIVE in '{data}' is missing (the data directory holds {index.name})"


def _active_truncated(data: Path, index: Path) -> str:
    os.truncate(data / "ACTIVE", 0)
    return f"ACTIVE in '{data}' is empty"


def _active_garbage(data: Path, index: Path) -> str:
    name = index.name
    (data / "ACTIVE").write_bytes(name[:10].encode() + b"\x00\x01\x7f" + name[13:].encode())
    shown = name[:10] + "\\x00\\x01\\x7f" + name[13:]
    return f"ACTIVE in '{data}' names '{shown}', not an index directory of it"


def _active_wrong(data: Path, index: Path) -> str:
    (data / "ACTIVE").write_text("index-20200101T000000-abcdef")
    return (
        f"ACTIVE in '{data}' names 'index-20200101T000000-abcdef', which does not exist "
        f"(the data directory holds {index.name})"
    )


# Damage in store.sqlite's pages is found by reading them, not by opening: a search finds it, and
# /healthz says so once the server has loaded the index (as `serve` does when it starts).
CASES: dict[str, Callable[[Path, Path], str | tuple[str, str]]] = {
    "store.sqlite deleted": _sqlite_deleted,
    "store.sqlite truncated": _sqlite_truncated,
    "store.sqlite truncated mid-page": _sqlite_truncated_mid_page,
    "store.sqlite garbage pages": _sqlite_garbage_pages,
    "store.sqlite garbage in a record": _sqlite_garbage_in_a_record,
    "text/meta.json deleted": _meta_deleted,
    "text/meta.json truncated": _meta_truncated,
    "text/meta.json garbage": _meta_garbage,
    "text/ deleted": _text_folder_deleted,
    "segment file deleted": _segment_deleted,
    "segment file truncated": _segment_truncated,
    "segment file garbage": _segment_garbage,
    "segment file garbage, never read by searches": _segment_garbage_quiet,
    "manifest.json deleted": _manifest_deleted,
    "manifest.json truncated": _manifest_truncated,
    "manifest.json garbage": _manifest_garbage,
    "manifest.json edited": _manifest_edited,
    "ACTIVE deleted": _active_deleted,
    "ACTIVE truncated": _active_truncated,
    "ACTIVE garbage": _active_garbage,
    "ACTIVE names another index": _active_wrong,
}


def _files(data: Path) -> dict[str, tuple[int, bytes]]:
    """Every file of the data directory with its size and bytes (SQLite's temporary log and
    shared-memory files aside: an open connection has them)."""
    return {
        str(p.relative_to(data)): (p.stat().st_size, p.read_bytes())
        for p in sorted(data.rglob("*"))
        if p.is_file() and not p.name.endswith(("-wal", "-shm")) and p.name != ".write.lock"
    }


def _app(data: Path):
    from webapp import create_app

    app = create_app({"DATA_DIR": str(data), "BACKEND": "embedded"})
    # What `serve` does at start (indexer.serving.warm_up): load the index, errors and all.
    with contextlib.suppress(Exception):
        app.extensions["imr_search"].store.prepare()
    return app


def _letters_found(result) -> list[str]:
    return sorted(hit["letter_id"] for hit in json.loads(result.stdout)["hits"])


@pytest.mark.parametrize("name", list(CASES))
def test_damage_is_named_by_search_verify_and_healthz_and_reindex_repairs_it(data, name):
    index = _index_dir(data)
    found = CASES[name](data, index)
    problem, search_problem = found if isinstance(found, tuple) else (found, found)
    damaged = _files(data)
    if problem.startswith("ACTIVE"):
        line = f"{search_problem}; {REBUILD}"
        what = search_problem.removeprefix(f"ACTIVE in '{data}' ")
        public = f"ACTIVE in the data directory {what}; {REBUILD}"
    else:
        line = f"the index '{index}' is damaged: {search_problem}; {REBUILD}"
        public = f"the index '{index.name}' is damaged: {search_problem}; {REBUILD}"

    searched = _cli(data, "search", "--mode", "keyword", "Klonopin")
    assert (searched.returncode, searched.stdout, searched.stderr) == (1, "", f"Error: {line}\n")

    verified = _cli(data, "verify", SEED_DIR)
    assert (verified.returncode, verified.stderr) == (1, "")
    assert verified.stdout.splitlines() == [
        f"damaged: {problem}",
        f"the index in '{data}' is damaged: 'imr-search reindex PATH' rebuilds it from the letter "
        "files",
    ]
    as_json = json.loads(_cli(data, "verify", SEED_DIR, "--json").stdout)
    assert (as_json["consistent"], as_json["damaged"]) == (False, [problem])

    app = _app(data)
    client = app.test_client()
    health = client.get("/healthz")
    assert (health.status_code, health.get_json()) == (
        503,
        {"status": "damaged", "backend": "embedded", "error": public},
    )
    api = client.get("/api/search?q=Klonopin&mode=keyword")
    assert (api.status_code, api.get_json()) == (
        503,
        {"error": {"status": 503, "title": "The index is damaged", "message": public}},
    )
    page = client.get("/?q=Klonopin")
    assert page.status_code == 503 and "The index is damaged" in page.get_data(as_text=True)
    # Reading a damaged index changes nothing (tantivy would have made a new, empty meta.json).
    assert _files(data) == damaged

    rebuilt = _run(data, "reindex", SEED_DIR)
    assert rebuilt.exit_code == 0, rebuilt.output
    assert rebuilt.stdout.splitlines()[-1] == "rebuilt: 5 letters, 19 chunks (0 files failed)"
    found_now = _run(data, "search", "--mode", "keyword", "Klonopin", "--json")
    assert found_now.exit_code == 0 and _letters_found(found_now) == KLONOPIN
    clean = _run(data, "verify", SEED_DIR)
    assert clean.exit_code == 0
    assert clean.stdout.splitlines()[-1] == "the index holds exactly the letters of these files"
    # The web app that saw the damage answers from the rebuilt index, without a restart.
    health = client.get("/healthz")
    assert (health.status_code, health.get_json()) == (
        200,
        {"status": "ok", "backend": "embedded", "letters": 5, "chunks": 19},
    )
    api = client.get("/api/search?q=Klonopin&mode=keyword")
    assert api.status_code == 200
    assert sorted(h["letter_id"] for h in api.get_json()["hits"]) == KLONOPIN


def test_writers_refuse_a_damaged_index_with_one_line_and_change_nothing(data):
    # The reported defect: with meta.json deleted, `index` changed nothing and said nothing.
    index = _index_dir(data)
    (index / "text" / "meta.json").unlink()
    before = _files(data)
    line = f"Error: the index '{index}' is damaged: text/meta.json is missing; {REBUILD}\n"
    for command in (["index", SEED_DIR], ["index", "--force", SEED_DIR], ["delete", KLONOPIN[0]]):
        result = _run(data, *command)
        assert (result.exit_code, result.stdout, result.stderr) == (1, "", line), command
    for command in (["similar", KLONOPIN[0]], ["stats", "--by", "decision", "--mode", "keyword"]):
        result = _run(data, *command)
        assert (result.exit_code, result.stderr) == (1, line), command
    assert _files(data) == before


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _get(url: str) -> tuple[int, dict]:
    try:
        with urllib.request.urlopen(url, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def test_serve_starts_on_a_damaged_index_answers_503_and_serves_the_rebuilt_one(data):
    index = _index_dir(data)
    segment = _segment_file(index, "term")
    os.truncate(segment, 100)
    size = json.loads((index / "manifest.json").read_text())["files"][f"text/{segment.name}"]
    problem = f"text/{segment.name} is truncated (100 of its {size['size']} bytes)"
    port = _free_port()
    exe = Path(sys.executable).parent / "imr-search"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("IMR_SEARCH_", "ELASTIC"))}
    env.update(HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1")
    command = [str(exe)] if exe.exists() else [sys.executable, "-m", "indexer.cli"]
    args = ["--data-dir", str(data), "serve", "--port", str(port), "--no-samples"]
    proc = subprocess.Popen(
        [*command, *args], cwd=ROOT, env=env, text=True,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 120
        while True:
            assert proc.poll() is None, proc.communicate()
            try:
                status, body = _get(base + "/healthz")
                break
            except (urllib.error.URLError, ConnectionError):
                assert time.monotonic() < deadline, "serve never answered"
                time.sleep(0.3)
        public = f"the index '{index.name}' is damaged: {problem}; {REBUILD}"
        assert (status, body) == (
            503,
            {"status": "damaged", "backend": "embedded", "error": public},
        )
        status, body = _get(base + "/api/search?q=Klonopin&mode=keyword")
        assert (status, body["error"]["message"]) == (503, public)

        rebuilt = _run(data, "reindex", SEED_DIR)
        assert rebuilt.exit_code == 0, rebuilt.output
        assert _get(base + "/healthz") == (
            200,
            {"status": "ok", "backend": "embedded", "letters": 5, "chunks": 19},
        )
        status, body = _get(base + "/api/search?q=Klonopin&mode=keyword")
        assert status == 200 and sorted(h["letter_id"] for h in body["hits"]) == KLONOPIN
    finally:
        proc.terminate()
        out, err = proc.communicate(timeout=30)
    assert err.splitlines()[0] == (
        f"warning: the index '{index}' is damaged: {problem}; {REBUILD}; serving anyway (503 "
        "until it is rebuilt)"
    )
    assert "Traceback" not in err


# -- a writer killed between the steps of a commit leaves no manifest that disagrees ----------


class _Killed(BaseException):
    """Stands for SIGKILL: nothing after it runs, no handler catches it."""


def _killed_before_the_text_commit(monkeypatch) -> None:
    from indexer.stores import embedded

    def replace(self, letter_ids, chunks, generation):
        raise _Killed

    monkeypatch.setattr(embedded._TextIndex, "replace", replace)


def _killed_before_the_manifest(monkeypatch) -> None:
    from indexer.stores import integrity

    def write_manifest(index, manifest):
        raise _Killed

    monkeypatch.setattr(integrity, "write_manifest", write_manifest)


def _killed_before_the_marker(monkeypatch) -> None:
    from indexer.stores import integrity

    write = integrity.write_manifest

    def write_manifest(index, manifest):
        write(index, manifest)
        raise _Killed

    monkeypatch.setattr(integrity, "write_manifest", write_manifest)


@pytest.mark.parametrize(
    "kill",
    [_killed_before_the_text_commit, _killed_before_the_manifest, _killed_before_the_marker],
    ids=["after the SQLite commit", "after the text commit", "after the manifest"],
)
def test_a_writer_killed_at_each_step_of_a_commit_leaves_an_index_that_opens_whole(
    template, tmp_path, monkeypatch, kill
):
    from indexer.stores.embedded import EmbeddedStore

    data = tmp_path / "data"
    shutil.copytree(template, data)
    letters = tmp_path / "letters"
    letters.mkdir()
    for seed in SEEDS[:3]:
        shutil.copy(seed, letters / seed.name)
    assert _run(data, "reindex", str(letters)).exit_code == 0  # generation 1: three letters
    for seed in SEEDS[3:]:
        shutil.copy(seed, letters / seed.name)
    kill(monkeypatch)
    with pytest.raises(_Killed):  # generation 2: the other two, killed part of the way
        CliRunner().invoke(main, ["--data-dir", str(data), "index", str(letters)])
    monkeypatch.undo()

    # A reader: the index opens, every check passes, searches answer (the text index may be
    # one write behind; the next writer catches up).
    store = EmbeddedStore(data, read_only=True)
    assert store.check_whole() == []
    assert store.health() in ((3, 13), (5, 19))
    store.close()
    searched = _run(data, "search", "--mode", "keyword", "Klonopin", "--json")
    assert searched.exit_code == 0 and set(_letters_found(searched)) <= set(KLONOPIN)
    client = _app(data).test_client()
    assert client.get("/healthz").status_code == 200

    # The next writer replays the commit and writes the manifest: all of it agrees again.
    assert _run(data, "index", str(letters)).exit_code == 0
    verified = _run(data, "verify", str(letters))
    assert verified.exit_code == 0, verified.output
    index = _index_dir(data)
    manifest = json.loads((index / "manifest.json").read_text())
    assert (manifest["generation"], manifest["letters"], manifest["chunks"]) == (2, 5, 19)
    assert (index / "text" / "generation").read_text() == "2"
    found = _run(data, "search", "--mode", "keyword", "Klonopin", "--json")
    assert _letters_found(found) == KLONOPIN


def test_an_index_made_before_manifests_opens_and_its_next_writer_gives_it_one(data):
    index = _index_dir(data)
    (index / "manifest.json").unlink()
    db = sqlite3.connect(index / "store.sqlite")
    with db:
        db.execute("DELETE FROM meta WHERE key = 'manifest'")
    db.close()
    searched = _run(data, "search", "--mode", "keyword", "Klonopin", "--json")
    assert searched.exit_code == 0 and _letters_found(searched) == KLONOPIN
    assert _run(data, "verify", SEED_DIR).exit_code == 0
    assert not (index / "manifest.json").exists()  # readers write nothing

    indexed = _run(data, "index", SEED_DIR)
    assert indexed.exit_code == 0
    assert indexed.stdout.startswith("0 letters indexed (0 chunks), 5 unchanged, 0 failed")
    manifest = json.loads((index / "manifest.json").read_text())
    assert (manifest["generation"], manifest["letters"], manifest["chunks"]) == (1, 5, 19)
    assert _run(data, "verify", SEED_DIR).exit_code == 0
    # From now on the index keeps one: losing it is damage.
    (index / "manifest.json").unlink()
    searched = _run(data, "search", "--mode", "keyword", "Klonopin")
    assert searched.stderr == (
        f"Error: the index '{index}' is damaged: manifest.json is missing; {REBUILD}\n"
    )


def test_damage_done_while_the_server_runs_is_named_at_the_next_search(data):
    client = _app(data).test_client()
    assert client.get("/api/search?q=Klonopin&mode=keyword").status_code == 200
    index = _index_dir(data)
    path = _segment_file(index, "idx")
    _garble(path, path.stat().st_size // 4, path.stat().st_size // 3)  # in place: tantivy's map
    public = (
        f"the index '{index.name}' is damaged: text/{path.name} does not match its checksum in "
        f"manifest.json; {REBUILD}"
    )
    api = client.get("/api/search?q=Klonopin&mode=keyword")
    assert (api.status_code, api.get_json()["error"]["message"]) == (503, public)
    health = client.get("/healthz")
    assert (health.status_code, health.get_json()["error"]) == (503, public)
