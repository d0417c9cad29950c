"""scripts/elasticsearch.sh: a local Elasticsearch 9 without Docker (README, "Elasticsearch
without Docker").

The usage tests run anywhere. The server test starts a real node in a run folder of its own, on a
free port, beside any other cluster on the machine (CI's, a developer's); it needs a JDK 21 or
newer and Maven, and is skipped without a JDK only while IMR_SEARCH_REQUIRE_ES is unset.
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "scripts" / "elasticsearch.sh"
COMMANDS = ("start", "stop", "status", "start-node", "pid")
#: What `start` may take (fetching with Maven and unpacking the first time, then the node).
START_TIMEOUT = int(os.environ.get("IMR_SEARCH_ES_WAIT", "180")) + 240


def run(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["bash", str(SCRIPT), *args], capture_output=True, text=True, timeout=timeout, cwd=ROOT
    )


def _java_major(version: str) -> int:
    if version.startswith("1."):
        version = version[2:]
    digits = re.match(r"\d+", version)
    return int(digits.group()) if digits else 0


def _release_major(home: Path) -> int | None:
    """The major version in a JDK's `release` file (None when there is none)."""
    try:
        text = (home / "release").read_text(errors="replace")
    except OSError:
        return None
    found = re.search(r'^JAVA_VERSION="?([^"\n]*)"?', text, re.M)
    return _java_major(found.group(1)) if found else 0


def jdk_21() -> str | None:
    """The JDK the script would use (ES_JAVA_HOME, else the newest >= 21 in /usr/lib/jvm)."""
    if os.environ.get("ES_JAVA_HOME"):
        home = Path(os.environ["ES_JAVA_HOME"])
        major = _release_major(home)
        ok = (home / "bin" / "java").exists() and (major is None or major >= 21)
        return str(home) if ok else None
    found = [
        (major, str(release.parent))
        for release in Path("/usr/lib/jvm").glob("*/release")
        if (major := _release_major(release.parent) or 0) >= 21
        and (release.parent / "bin" / "java").exists()
    ]
    return max(found)[1] if found else None


@pytest.fixture
def need_jdk():
    if jdk_21() is None:
        if os.environ.get("IMR_SEARCH_REQUIRE_ES"):
            pytest.fail("IMR_SEARCH_REQUIRE_ES is set but there is no JDK 21+ to run Elasticsearch")
        pytest.skip("no JDK 21 or newer (ES_JAVA_HOME or /usr/lib/jvm) to run Elasticsearch")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def get_json(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=10) as response:
        return json.load(response)


def alive(pid: int) -> bool:
    return Path(f"/proc/{pid}").exists() and "Z" not in _state(pid)


def _state(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return "Z"


@pytest.mark.parametrize("args", [["--help"], ["-h"], ["help"], []])
def test_help_names_the_commands(args):
    result = run(*args)
    assert result.returncode == 0, result.stderr
    for command in COMMANDS:
        assert re.search(rf"^  {re.escape(command)}\b", result.stdout, re.M), command
    assert "9.2.4" in result.stdout  # the default version
    assert "DATA FOLDERS" in result.stdout  # says that stop wipes them


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["launch"], "unknown command 'launch'"),
        (["start", "--bogus", "1"], "unknown option --bogus"),
        (["stop", "--nodes", "2"], "unknown option --nodes for stop"),
        (["start", "--nodes", "zero"], "bad --nodes"),
        (["start", "--port", "70000"], "bad --port"),
        (["start", "--version", "8.17.0"], "bad version"),
        (["start", "--dir"], "--dir needs a value"),
        (["pid"], "pid needs a node number"),
        (["start-node", "x"], "bad node number"),
    ],
)
def test_usage_errors_are_one_line_and_exit_2(args, words):
    result = run(*args)
    assert result.returncode == 2
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert words in lines[0]


def test_nothing_recorded_in_a_run_folder(tmp_path):
    status = run("status", "--dir", str(tmp_path))
    assert status.returncode == 3
    assert "no Elasticsearch recorded" in status.stdout
    stop = run("stop", "--dir", str(tmp_path))
    assert stop.returncode == 0


@pytest.mark.slow
def test_start_status_stop_a_real_node(tmp_path, need_jdk):
    run_dir = tmp_path / "es"
    port = free_port()
    try:
        started = run("start", "--dir", str(run_dir), "--port", str(port), timeout=START_TIMEOUT)
        assert started.returncode == 0, started.stderr[-3000:]
        url = started.stdout.splitlines()[-1]
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+", url), started.stdout
        assert int(url.rsplit(":", 1)[1]) >= port
        assert (run_dir / "url").read_text().strip() == url

        health = get_json(f"{url}/_cluster/health")
        assert health["number_of_nodes"] == 1
        assert health["status"] in ("green", "yellow")

        status = run("status", "--dir", str(run_dir))
        assert status.returncode == 0, status.stdout + status.stderr
        assert re.search(r"^imr-es-1 pid \d+ http \d+ running$", status.stdout, re.M)

        pid = run("pid", "1", "--dir", str(run_dir))
        assert pid.returncode == 0
        node_pid = int(pid.stdout.strip())
        assert alive(node_pid)

        # Started again: the running cluster's URL, nothing new started.
        again = run("start", "--dir", str(run_dir), timeout=120)
        assert again.returncode == 0, again.stderr
        assert again.stdout.splitlines()[-1] == url
        assert run("pid", "1", "--dir", str(run_dir)).stdout.strip() == str(node_pid)

        stopped = run("stop", "--dir", str(run_dir), timeout=120)
        assert stopped.returncode == 0, stopped.stderr
        assert not alive(node_pid)
        assert not (run_dir / "node-1" / "pid").exists()
        assert not (run_dir / "node-1" / "data").exists()  # stop wipes the data

        status = run("status", "--dir", str(run_dir))
        assert status.returncode == 3
        assert re.search(r"^imr-es-1 pid - http \d+ not running$", status.stdout, re.M)
        assert run("pid", "1", "--dir", str(run_dir)).returncode == 3
    finally:
        run("stop", "--dir", str(run_dir), timeout=120)
