"""Operator mistakes, end to end through the CLI (issue 19): a rebuild from a wrong PATH, an
ACTIVE pointer that is not an index, two writers at once, what killed rebuilds leave, settings
and data directories that cannot work, and FIFOs, devices and symlink loops among the letters.

Each mistake gets one line on stderr and an exit code; nothing already indexed is lost."""

from __future__ import annotations

import errno
import fcntl
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from indexer.cli import main
from indexer.stores.embedded import EmbeddedStore

from .conftest import ROOT, SEEDS
from .test_indexing import _FillingDisk, _read_only

SEED_COUNTS = (5, 19)  # the five seed letters: 5 letters, 19 chunks
INDEX_DIR = re.compile(r"index-[0-9]{8}T[0-9]{6}-[0-9a-f]{6}")


def _command(*args: str) -> list[str]:
    exe = shutil.which("imr-search", path=str(Path(sys.executable).parent))
    return [*([exe] if exe else [sys.executable, "-m", "indexer.cli"]), *args]


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("IMR_SEARCH_", "ELASTIC"))}
    return {**env, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", **extra}


def _cli(*args: str, timeout: float = 300, **env: str) -> subprocess.CompletedProcess:
    """Run `imr-search` in its own process, with `env` added to a clean environment."""
    return subprocess.run(
        _command(*args), capture_output=True, text=True, cwd=ROOT, timeout=timeout, env=_env(**env)
    )


def _start(*args: str, **env: str) -> subprocess.Popen:
    return subprocess.Popen(
        _command(*args),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
        env=_env(**env),
    )


def _indexes(data: Path) -> list[str]:
    return sorted(p.name for p in data.iterdir() if p.name.startswith("index-"))


def _active(data: Path) -> str:
    return (data / "ACTIVE").read_text()


def _counts(data: Path) -> tuple[int, int]:
    store = EmbeddedStore(data, read_only=True)
    try:
        return store.counts()
    finally:
        store.close()


@pytest.fixture(scope="module")
def _seeded(tmp_path_factory) -> Path:
    data = tmp_path_factory.mktemp("seeded") / "data"
    result = _cli("--data-dir", str(data), "index", *map(str, SEEDS))
    assert result.returncode == 0, result.stderr
    return data


@pytest.fixture
def data(_seeded, tmp_path) -> Path:
    """A data directory holding the five seed letters (a copy, with its embedding cache)."""
    copy = (tmp_path / "data").resolve()
    shutil.copytree(_seeded, copy, symlinks=True)
    return copy


def _letters(folder: Path, seeds: list[Path]) -> Path:
    folder.mkdir()
    for seed in seeds:
        shutil.copy(seed, folder / seed.name)
    return folder


# -- 1. a rebuild switches only to a complete, non-empty, verified index ----------------------


def test_reindex_of_a_path_that_does_not_exist_builds_nothing_and_keeps_the_index(data, tmp_path):
    before, files = _active(data), sorted(data.iterdir())
    missing = tmp_path / "nonexistent"
    result = _cli("--data-dir", str(data), "reindex", str(missing))
    assert result.returncode == 1
    assert result.stderr == (
        f"Error: {missing}: no such file or directory; nothing was rebuilt, the index in use "
        "is unchanged\n"
    )
    assert result.stdout == ""
    assert _active(data) == before and sorted(data.iterdir()) == files
    assert _counts(data) == SEED_COUNTS


def test_reindex_with_a_failed_file_switches_only_with_allow_failures(data, tmp_path):
    folder = _letters(tmp_path / "letters", SEEDS[:3])
    (folder / "empty.txt").write_bytes(b"")
    before = _active(data)
    refused = _cli("--data-dir", str(data), "reindex", str(folder))
    assert refused.returncode == 1
    assert refused.stderr.splitlines() == [
        f"error: {folder}/empty.txt: empty file",
        "Error: the new index was not switched to: 1 file failed (--allow-failures switches all "
        "the same); it was deleted, and the index in use is unchanged (5 letters, 19 chunks)",
    ]
    assert _active(data) == before and _indexes(data) == [before]
    assert _counts(data) == SEED_COUNTS

    allowed = _cli("--data-dir", str(data), "reindex", "--allow-failures", str(folder))
    assert allowed.returncode == 1  # a file failed: said so by the exit code
    assert allowed.stderr == f"error: {folder}/empty.txt: empty file\n"
    assert allowed.stdout.splitlines()[-1] == "rebuilt: 3 letters, 13 chunks (1 files failed)"
    assert _active(data) != before and _indexes(data) == [_active(data)]
    assert _counts(data) == (3, 13)


def test_reindex_to_an_empty_index_switches_only_with_allow_empty(data, tmp_path):
    folder = tmp_path / "no_letters"
    folder.mkdir()
    (folder / "notes.md").write_text("not a letter")
    before = _active(data)
    args = ("--data-dir", str(data), "reindex", "--allow-failures", str(folder))
    refused = _cli(*args)
    assert refused.returncode == 1
    assert refused.stderr.splitlines() == [
        f"error: {folder}: no letters (.pdf or .txt files) found under '{folder}'",
        "Error: the new index was not switched to: it holds no letters (--allow-empty switches "
        "all the same); it was deleted, and the index in use is unchanged (5 letters, 19 chunks)",
    ]
    assert _active(data) == before and _indexes(data) == [before]

    emptied = _cli(*args, "--allow-empty")
    assert emptied.returncode == 1
    assert emptied.stdout.splitlines()[-1] == "rebuilt: 0 letters, 0 chunks (1 files failed)"
    assert _indexes(data) == [_active(data)] != [before]
    assert _counts(data) == (0, 0)


def test_a_rebuild_that_fails_its_check_is_not_switched(data, monkeypatch):
    from indexer.stores import embedded

    def lose_the_text_index(self, letter_ids, chunks, generation):
        # Fault injection: the text index silently keeps nothing (a lost write).
        return None

    monkeypatch.setattr(embedded._TextIndex, "replace", lose_the_text_index)
    before = _active(data)
    result = CliRunner().invoke(
        main, ["--data-dir", str(data), "reindex", *map(str, SEEDS)], env={"HF_HUB_OFFLINE": "1"}
    )
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit)
    assert result.stderr.splitlines() == [
        "Error: the new index was not switched to: it failed its check: its text index holds 0 "
        "of its 19 chunks; it was deleted, and the index in use is unchanged (5 letters, 19 "
        "chunks)"
    ]
    monkeypatch.undo()
    assert _active(data) == before and _indexes(data) == [before]
    assert _counts(data) == SEED_COUNTS


# -- 2. ACTIVE is a name of an index directory of the data directory, never a path ------------


@pytest.mark.parametrize("pointer", ["../victim", "ABSOLUTE", ".", "..", "index-x/../.."])
def test_an_active_pointer_that_is_not_an_index_is_refused_and_nothing_outside_is_deleted(
    data, tmp_path, pointer
):
    victim = tmp_path / "victim"
    victim.mkdir()
    (victim / "precious.txt").write_text("keep me")
    value = str(victim) if pointer == "ABSOLUTE" else pointer
    (data / "ACTIVE").write_text(value)
    old = _indexes(data)
    message = (
        f"Error: ACTIVE in '{data}' names '{value}', not an index directory of it; run "
        "`imr-search reindex PATH` to rebuild\n"
    )
    for command in (["search", "Klonopin"], ["index", str(SEEDS[0])], ["delete", "X"]):
        result = _cli("--data-dir", str(data), *command)
        assert (result.returncode, result.stderr) == (1, message), command
    assert (data / "embeddings.sqlite").is_file() and _indexes(data) == old

    rebuilt = _cli("--data-dir", str(data), "reindex", *map(str, SEEDS))
    assert rebuilt.returncode == 0, rebuilt.stderr
    assert rebuilt.stdout.splitlines()[-1] == "rebuilt: 5 letters, 19 chunks (0 files failed)"
    assert (victim / "precious.txt").read_text() == "keep me"
    assert (data / "embeddings.sqlite").is_file()
    assert INDEX_DIR.fullmatch(_active(data)) and _indexes(data) == [_active(data)]
    assert _counts(data) == SEED_COUNTS


def test_an_active_pointer_to_a_symlink_is_refused(data, tmp_path):
    outside = tmp_path / "outside"
    shutil.copytree(data / _active(data), outside)
    link = "index-20200101T000000-abcdef"
    (data / link).symlink_to(outside)
    (data / "ACTIVE").write_text(link)
    result = _cli("--data-dir", str(data), "search", "Klonopin")
    assert result.returncode == 1
    assert result.stderr == (
        f"Error: ACTIVE in '{data}' names '{link}', not an index directory of it; run "
        "`imr-search reindex PATH` to rebuild\n"
    )
    assert _cli("--data-dir", str(data), "reindex", *map(str, SEEDS)).returncode == 0
    assert (outside / "store.sqlite").is_file()  # the link was not followed, nor deleted
    assert (data / link).is_symlink()


# -- 3. one writer at a time ------------------------------------------------------------------


def _hold_lock(data: Path) -> int:
    fd = os.open(data / ".write.lock", os.O_RDWR | os.O_CREAT, 0o644)
    fcntl.flock(fd, fcntl.LOCK_EX)
    os.ftruncate(fd, 0)
    os.write(fd, f"{os.getpid()}\n".encode())
    return fd


def _wait_until_locked(data: Path, proc: subprocess.Popen, seconds: float = 120) -> None:
    """Wait until another process holds the writer lock of `data`."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            fd = os.open(data / ".write.lock", os.O_RDONLY)
        except FileNotFoundError:
            time.sleep(0.02)
            continue
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            fcntl.flock(fd, fcntl.LOCK_UN)
        except OSError as exc:
            assert exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN)
            return
        finally:
            os.close(fd)
        time.sleep(0.02)
    pytest.fail("the writer never took the data directory's writer lock")


def test_a_second_writer_waits_then_gives_up_with_one_line(data):
    fd = _hold_lock(data)  # this test's process is the other writer
    try:
        busy = (
            f"Error: another imr-search process is writing to '{data}' (pid {os.getpid()}); "
            "try again when it has finished\n"
        )
        for command in (["index", str(SEEDS[0])], ["reindex", str(SEEDS[0])], ["delete", "X"]):
            started = time.monotonic()
            result = _cli("--data-dir", str(data), *command, IMR_SEARCH_LOCK_TIMEOUT="0.5")
            assert (result.returncode, result.stderr) == (1, busy), command
            assert time.monotonic() - started >= 0.5
        # Readers never take the lock.
        search = _cli("--data-dir", str(data), "search", "Klonopin", "--mode", "keyword")
        assert search.returncode == 0, search.stderr
        assert search.stdout.startswith("2 letters (")
    finally:
        os.close(fd)
    assert _counts(data) == SEED_COUNTS
    deleted = _cli("--data-dir", str(data), "delete", "CM15-0022402")
    assert (deleted.returncode, deleted.stdout) == (0, "1 of 1 letters removed\n")


def test_index_during_reindex_waits_and_lands_in_the_new_index(data, tmp_path):
    first = _letters(tmp_path / "first", SEEDS[:3])
    later = _letters(tmp_path / "later", SEEDS[3:])
    reindex = _start("--data-dir", str(data), "reindex", str(first))
    try:
        _wait_until_locked(data, reindex)
        index = _cli("--data-dir", str(data), "index", str(later), IMR_SEARCH_LOCK_TIMEOUT="300")
    finally:
        out, err = reindex.communicate(timeout=300)
    assert reindex.returncode == 0, err
    assert out.splitlines()[-1] == "rebuilt: 3 letters, 13 chunks (0 files failed)"
    assert index.returncode == 0, index.stderr
    assert re.fullmatch(
        r"2 letters indexed \(6 chunks\), 0 unchanged, 0 failed in [0-9.]+ s; the index now "
        r"holds 5 letters, 19 chunks \(embedded\)\n",
        index.stdout,
    )
    assert _counts(data) == SEED_COUNTS  # what `index` wrote was not thrown away


def test_two_index_runs_at_once_both_finish(tmp_path):
    data = (tmp_path / "data").resolve()
    one = _letters(tmp_path / "one", SEEDS[:3])
    two = _letters(tmp_path / "two", SEEDS[3:])
    first = _start("--data-dir", str(data), "index", str(one))
    try:
        _wait_until_locked(data, first)  # the second starts while the first writes
        second = _cli("--data-dir", str(data), "index", str(two), IMR_SEARCH_LOCK_TIMEOUT="300")
    finally:
        _, err = first.communicate(timeout=300)
    assert first.returncode == 0, err
    assert second.returncode == 0, second.stderr
    assert "Traceback" not in err + second.stderr
    assert _counts(data) == SEED_COUNTS


# -- 4. leftovers ---------------------------------------------------------------------------


def test_reindex_removes_what_a_killed_rebuild_left(data, tmp_path):
    live = _active(data)
    folder = _letters(tmp_path / "letters", SEEDS)
    proc = _start("--data-dir", str(data), "reindex", str(folder), "--batch-size", "1")
    deadline = time.monotonic() + 120
    while len(_indexes(data)) < 2 and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=60)
    (half_built,) = set(_indexes(data)) - {live}
    (data / "ACTIVE.4242.tmp").write_text("index-")  # as a full disk left it
    (data / "keep-me").mkdir()
    assert _active(data) == live and _counts(data) == SEED_COUNTS

    result = _cli("--data-dir", str(data), "reindex", str(folder))
    assert result.returncode == 0, result.stderr
    assert result.stderr == (
        f"note: removed 1 unfinished rebuild(s) left by interrupted runs: {half_built}\n"
    )
    assert _indexes(data) == [_active(data)] and half_built != _active(data) != live
    assert not (data / "ACTIVE.4242.tmp").exists() and (data / "keep-me").is_dir()
    assert _counts(data) == SEED_COUNTS


def test_a_full_disk_during_reindex_says_what_the_index_in_use_holds(data, monkeypatch):
    before = _active(data)
    room = [3]  # batches of 2: the first is written, the second fails at its second letter
    connect = EmbeddedStore._connect
    monkeypatch.setattr(EmbeddedStore, "_connect", lambda self: _FillingDisk(connect(self), room))
    result = CliRunner().invoke(
        main,
        ["--data-dir", str(data), "reindex", *map(str, SEEDS), "--batch-size", "2"],
        env={"HF_HUB_OFFLINE": "1"},
    )
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit)
    assert result.stderr.splitlines()[-1] == (
        f"Error: disk full while writing to '{data}': the rebuild stopped after 2 letters and "
        "was deleted; the index in use is unchanged (5 letters, 19 chunks)"
    )
    monkeypatch.undo()
    assert _active(data) == before and _indexes(data) == [before]
    assert _counts(data) == SEED_COUNTS


def test_a_full_disk_when_switching_leaves_no_temporary_pointer(data, monkeypatch):
    from indexer.stores import embedded

    real_replace = os.replace

    def replace(src, dst):
        # Fault injection: the disk fills up just as ACTIVE is replaced.
        if Path(dst).name == "ACTIVE":
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_replace(src, dst)

    monkeypatch.setattr(embedded.os, "replace", replace)
    before = _active(data)
    result = CliRunner().invoke(
        main, ["--data-dir", str(data), "reindex", *map(str, SEEDS)], env={"HF_HUB_OFFLINE": "1"}
    )
    monkeypatch.undo()
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit)
    assert result.stderr.splitlines() == [
        f"Error: the new index was not switched to: disk full while writing to '{data}' while "
        "switching; it was deleted, and the index in use is unchanged (5 letters, 19 chunks)"
    ]
    assert _active(data) == before and _indexes(data) == [before]
    assert not list(data.glob("ACTIVE.*"))
    assert _counts(data) == SEED_COUNTS


# -- 5. one line, never a traceback ----------------------------------------------------------


def test_delete_on_a_read_only_data_directory_is_one_line(data):
    with _read_only(data):
        result = _cli("--data-dir", str(data), "delete", "CM15-0022402")
    assert result.returncode == 1
    assert result.stderr == f"Error: data directory '{data}' is read-only; nothing was deleted\n"
    assert _counts(data) == SEED_COUNTS


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_delete_on_a_failing_back_end_is_one_line(data):
    port = _free_port()
    result = _cli(
        "--backend", "elasticsearch", "delete", "X", ELASTICSEARCH_URL=f"http://127.0.0.1:{port}"
    )
    assert result.returncode == 1
    assert result.stderr.startswith(
        f"Error: Elasticsearch at http://127.0.0.1:{port} is not reachable"
    )
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr

    (data / _active(data) / "store.sqlite").write_bytes(b"this is not a database" * 100)
    broken = (
        f"Error: the index '{data / _active(data)}' is damaged: store.sqlite is not a SQLite "
        "database; run `imr-search reindex PATH` to rebuild\n"
    )
    for command in (["delete", "CM15-0022402"], ["search", "Klonopin"], ["index", str(SEEDS[0])]):
        result = _cli("--data-dir", str(data), *command)
        assert (result.returncode, result.stderr) == (1, broken), command
    rebuilt = _cli("--data-dir", str(data), "reindex", *map(str, SEEDS))
    assert rebuilt.returncode == 0, rebuilt.stderr
    assert _indexes(data) == [_active(data)] and _counts(data) == SEED_COUNTS


@pytest.mark.parametrize(
    ("where", "problem"),
    [
        ("/dev/null", "is not a directory"),
        ("/dev/null/x", "cannot be created: '/dev/null' is not a directory"),
        ("FILE/x", "cannot be created: 'FILE' is not a directory"),
        ("/proc/x", "cannot be created (No such file or directory)"),
    ],
)
def test_a_data_directory_that_cannot_be_one_is_one_line(tmp_path, where, problem):
    file = tmp_path / "a_file"
    file.write_text("x")
    where, problem = where.replace("FILE", str(file)), problem.replace("FILE", str(file))
    for command in (["index", str(SEEDS[0])], ["search", "x"], ["delete", "X"]):
        result = _cli("--data-dir", where, *command)
        assert result.returncode == 1, command
        assert result.stderr == f"Error: data directory '{where}' {problem}\n", command
    assert file.read_text() == "x"


def test_serve_on_a_port_out_of_range_is_a_usage_error(data):
    result = _cli("--data-dir", str(data), "serve", "--port", "70000", timeout=60)
    assert result.returncode == 2
    assert result.stderr.splitlines()[-1] == (
        "Error: Invalid value for '--port': 70000 is not in the range 1<=x<=65535."
    )
    assert "Traceback" not in result.stderr


def test_serve_on_a_port_in_use_is_one_line(data):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = _cli("--data-dir", str(data), "serve", "--port", str(port), timeout=60)
    assert result.returncode == 1
    assert result.stderr == f"Error: cannot listen on 127.0.0.1:{port}: Address already in use\n"


def test_settings_that_are_not_numbers_are_one_line_naming_them(data):
    search = ("--data-dir", str(data), "search", "Klonopin")
    result = _cli(*search, IMR_SEARCH_HNSW_MIN_CHUNKS="many")
    assert (result.returncode, result.stderr) == (
        1,
        "Error: IMR_SEARCH_HNSW_MIN_CHUNKS must be a whole number, not 'many'\n",
    )
    result = _cli(*search, IMR_SEARCH_HNSW_MIN_CHUNKS="-3")
    assert result.stderr == "Error: IMR_SEARCH_HNSW_MIN_CHUNKS must be 0 or more, not '-3'\n"
    result = _cli("--data-dir", str(data), "index", str(SEEDS[0]), IMR_SEARCH_LOCK_TIMEOUT="soon")
    assert (result.returncode, result.stderr) == (
        1,
        "Error: IMR_SEARCH_LOCK_TIMEOUT must be a number, not 'soon'\n",
    )
    result = _cli("--data-dir", str(data), "serve", IMR_SEARCH_THREADS="lots", timeout=60)
    assert result.returncode == 2
    assert result.stderr.splitlines()[-1] == (
        "Error: Invalid value for '--threads' (from IMR_SEARCH_THREADS): 'lots' is not a valid "
        "integer range."
    )
    assert _counts(data) == SEED_COUNTS


# -- 6. FIFOs, devices and symlink loops ------------------------------------------------------


def test_a_fifo_a_device_and_a_symlink_loop_named_on_the_command_line(tmp_path):
    fifo = tmp_path / "pipe.txt"
    os.mkfifo(fifo)
    loop = tmp_path / "loop.txt"
    loop.symlink_to(loop.name)
    broken = tmp_path / "gone.pdf"
    broken.symlink_to(tmp_path / "nowhere.pdf")
    result = _cli(
        "parse", str(fifo), "/dev/null", str(loop), str(broken), str(SEEDS[0]), timeout=60
    )
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        f"error: {fifo}: is a FIFO, not a letter file",
        "error: /dev/null: is a device, not a letter file",
        f"error: {loop}: is a symlink loop",
        f"error: {broken}: is a broken symlink (its target does not exist)",
        "1 letters parsed, 4 failed",
    ]
    assert result.stdout.startswith("L-96b58c07c53b0b00")


def test_inside_a_folder_they_are_reported_one_line_each_and_the_rest_indexed(tmp_path):
    folder = _letters(tmp_path / "letters", SEEDS[:2])
    os.mkfifo(folder / "pipe.txt")
    os.mkfifo(folder / "pipe")  # a FIFO is reported whatever its name
    (folder / "null.pdf").symlink_to("/dev/null")
    (folder / "sub").mkdir()
    (folder / "sub" / "loop.txt").symlink_to("loop.txt")
    (folder / "gone.txt").symlink_to(tmp_path / "nowhere.txt")
    (folder / "notes.md").write_text("skipped without a word, as before")
    (folder / "linked.txt").symlink_to(SEEDS[2])  # a symlink to a letter is read
    data = tmp_path / "data"
    result = _cli("--data-dir", str(data), "index", str(folder), timeout=300)
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        f"error: {folder}/gone.txt: is a broken symlink (its target does not exist)",
        f"error: {folder}/null.pdf: is a device, not a letter file",
        f"error: {folder}/pipe: is a FIFO, not a letter file",
        f"error: {folder}/pipe.txt: is a FIFO, not a letter file",
        f"error: {folder}/sub/loop.txt: is a symlink loop",
    ]
    assert result.stdout.startswith("3 letters indexed (13 chunks), 0 unchanged, 5 failed")

    verify = _cli("--data-dir", str(data), "verify", str(folder), timeout=120)
    assert verify.returncode == 1
    assert verify.stdout.splitlines()[0] == (
        "3 files, 3 letters indexed: 3 unchanged, 0 missing, 0 extra, 0 stale, 0 duplicated, "
        "5 unreadable"
    )


def test_a_fifo_in_place_of_an_indexed_letter_does_not_block(tmp_path):
    folder = _letters(tmp_path / "letters", SEEDS[:1])
    data = tmp_path / "data"
    assert _cli("--data-dir", str(data), "index", str(folder)).returncode == 0
    letter = folder / SEEDS[0].name
    letter.unlink()
    os.mkfifo(letter)
    result = _cli("--data-dir", str(data), "index", str(folder), timeout=120)
    assert result.returncode == 1
    assert result.stderr == f"error: {letter}: is a FIFO, not a letter file\n"
    assert _counts(data) == (1, 5)  # nothing indexed is lost
