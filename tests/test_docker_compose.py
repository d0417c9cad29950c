"""docker-compose.yml, the Dockerfile and .dockerignore, checked against our CLI and configuration.

No Docker engine runs here, so the files cannot be run in the tests; instead every command a
service runs is parsed by our real click CLI, its environment by our real configuration code, and
the services' shell scripts run here under the shells their images have (dash in ours, bash in
Elasticsearch's), with `imr-search` and `curl` replaced by recording stand-ins.
"""

from __future__ import annotations

import fnmatch
import json
import os
import re
import shlex
import socket
import subprocess
import sys
import warnings
from pathlib import Path

import click
import pytest
import yaml

from indexer.cli import main
from indexer.stores.elasticsearch import ElasticsearchStore, generation_names, new_stamp
from indexer.stores.elasticsearch.lock import lock_index

from .conftest import ROOT, SEEDS, run_cli

COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
SERVICES = COMPOSE["services"]
DOCKERFILE = (ROOT / "Dockerfile").read_text()
ES_IMAGE = "docker.elastic.co/elasticsearch/elasticsearch:9.2.0"
#: What compose puts in place of the two password variables when they are not set.
DEFAULTS = {
    "${ELASTIC_PASSWORD:-imr-search-dev}": "imr-search-dev",
    "${IMR_SEARCH_PASSWORD:-imr-search-app-dev}": "imr-search-app-dev",
}
ROLE = {
    "cluster": ["monitor"],
    "indices": [
        {
            "names": ["imr-chunks", "imr-chunks-*"],
            "privileges": [
                "create_index",
                "delete_index",
                "manage",
                "read",
                "view_index_metadata",
                "write",
            ],
        }
    ],
}


def _parse_cli(args: list[str]) -> tuple[click.Context, click.Context]:
    """Parse args as `imr-search ARGS` would, without running the command."""
    ctx = main.make_context("imr-search", list(args))
    with warnings.catch_warnings():
        # Click 8.2 deprecates protected_args but still keeps the subcommand's name there.
        warnings.simplefilter("ignore", DeprecationWarning)
        remaining = [*ctx.protected_args, *ctx.args]
    name, command, rest = main.resolve_command(ctx, remaining)
    return ctx, command.make_context(name, rest, parent=ctx)


def _interpolated(env: dict[str, str]) -> dict[str, str]:
    """A service's environment as compose passes it when no password variable is set."""
    out = {}
    for key, value in env.items():
        for variable, default in DEFAULTS.items():
            value = value.replace(variable, default)
        assert "$" not in value, (key, value)
        out[key] = value
    return out


def _script(service: str) -> str:
    """The shell script a service runs, as its shell receives it: compose makes `$$` a `$`.
    A lone `$` would be compose's to replace (a variable of the script: by an empty string)."""
    script = SERVICES[service]["command"][-1]
    assert "$" not in script.replace("$$", ""), f"{service}: a `$` compose would replace"
    return script.replace("$$", "$")


def _stand_in(folder: Path, name: str, source: str) -> None:
    """Make `folder/name` an executable Python script."""
    path = folder / name
    path.write_text(f"#!{sys.executable}\n{source}")
    path.chmod(0o755)


def _run(argv: list[str], bin_dir: Path, env: dict[str, str]) -> subprocess.CompletedProcess:
    """Run argv with only `env` (and the stand-ins of bin_dir first on PATH)."""
    path = f"{bin_dir}{os.pathsep}{os.environ['PATH']}"
    return subprocess.run(
        argv, capture_output=True, text=True, timeout=60, env={**env, "PATH": path}
    )


# -- the services ---------------------------------------------------------------------------


def test_services_and_elasticsearch_node():
    assert set(SERVICES) == {"elasticsearch", "setup", "loader", "web"}
    es = SERVICES["elasticsearch"]
    assert es["image"] == ES_IMAGE
    image, tag = es["image"].rsplit(":", 1)
    assert image == "docker.elastic.co/elasticsearch/elasticsearch" and tag.startswith("9.")
    env = es["environment"]
    assert env["discovery.type"] == "single-node"
    assert env["xpack.security.enabled"] == "true"
    assert env["ELASTIC_PASSWORD"] == "${ELASTIC_PASSWORD:-imr-search-dev}"
    check = " ".join(es["healthcheck"]["test"])
    assert "_cluster/health" in check and "localhost:9200" in check
    assert '-u "elastic:$${ELASTIC_PASSWORD}"' in check  # $$: the container's variable


def test_the_image_is_built_once_and_run_by_the_loader_and_the_web_app():
    built = [name for name, service in SERVICES.items() if "build" in service]
    assert built == ["loader"]
    assert SERVICES["loader"]["build"] == "."
    assert SERVICES["loader"]["image"] == SERVICES["web"]["image"] == "imr-search"
    # Built here, never pulled (no registry holds it).
    assert SERVICES["loader"]["pull_policy"] == SERVICES["web"]["pull_policy"] == "never"
    assert SERVICES["setup"]["image"] == ES_IMAGE


def _loader_invocation() -> list[str]:
    """The arguments of the one `imr-search` command of the loader's script."""
    (line,) = [ln for ln in _script("loader").splitlines() if "imr-search -" in ln]
    found = re.fullmatch(r"summary=\$\(imr-search ([^()]*)\)", line.strip())
    assert found, line
    return shlex.split(found.group(1))


def test_loader_runs_our_index_command_after_elasticsearch_and_the_setup():
    loader = SERVICES["loader"]
    assert loader["depends_on"] == {
        "elasticsearch": {"condition": "service_healthy"},
        "setup": {"condition": "service_completed_successfully"},
    }
    assert loader["restart"] == "no"
    # Its script replaces the image's entry point and runs imr-search itself.
    assert loader["entrypoint"] == ["sh", "-c"] and len(loader["command"]) == 1
    assert 'ENTRYPOINT ["imr-search"]' in DOCKERFILE
    group_ctx, command_ctx = _parse_cli(_loader_invocation())
    assert group_ctx.params["backend"] == "elasticsearch"
    assert command_ctx.command.name == "index"
    assert command_ctx.params["paths"] == ("/app/samples/letters",)
    # The path it indexes is what the image copies from the project.
    assert "COPY samples ./samples" in DOCKERFILE and "WORKDIR /app" in DOCKERFILE
    assert (ROOT / "samples" / "letters").is_dir()


def test_loader_environment_is_what_our_configuration_reads():
    loader = SERVICES["loader"]
    env = _interpolated(loader["environment"])
    assert set(env) == {
        "ELASTICSEARCH_URL",
        "ELASTICSEARCH_USERNAME",
        "ELASTICSEARCH_PASSWORD",
        "IMR_SEARCH_ES_INDEX",
    }
    assert env["ELASTICSEARCH_USERNAME"] == "imr_search"
    assert loader["environment"]["ELASTICSEARCH_PASSWORD"] == (
        "${IMR_SEARCH_PASSWORD:-imr-search-app-dev}"
    )
    store = ElasticsearchStore.from_env(environ=env)
    assert store.url == "http://elasticsearch:9200"
    assert store.alias == "imr-chunks"
    assert store._secrets == ["imr-search-app-dev"]  # the password reached the client's credentials
    store.close()


def test_the_app_never_logs_in_as_the_elastic_superuser():
    for name in ("loader", "web"):
        env = SERVICES[name]["environment"]
        assert env["ELASTICSEARCH_USERNAME"] == "imr_search", name
        assert "ELASTICSEARCH_API_KEY" not in env, name
        assert not any("ELASTIC_PASSWORD" in value for value in env.values()), name
    # The superuser's password goes to Elasticsearch and to the setup service, nowhere else.
    holders = {
        name
        for name, service in SERVICES.items()
        if "ELASTIC_PASSWORD" in json.dumps(service.get("environment", {}))
    }
    assert holders == {"elasticsearch", "setup"}
    assert SERVICES["setup"]["environment"] == {
        "ELASTIC_PASSWORD": "${ELASTIC_PASSWORD:-imr-search-dev}",
        "IMR_SEARCH_PASSWORD": "${IMR_SEARCH_PASSWORD:-imr-search-app-dev}",
    }
    assert len(set(DEFAULTS.values())) == 2  # two passwords, even by default


def test_image_installs_cpu_torch_first_and_works_offline():
    torch = DOCKERFILE.index("torch==2.13.0")
    project = DOCKERFILE.index("pip install --no-cache-dir -e .")
    assert torch < project
    assert "HF_HUB_OFFLINE=1" in DOCKERFILE
    for folder in ("indexer", "webapp", "mappings", "samples"):
        assert f"COPY {folder} ./{folder}" in DOCKERFILE


def test_the_image_runs_as_an_unprivileged_user():
    lines = [line.split(None, 1) for line in DOCKERFILE.splitlines() if line and line[0] != "#"]
    instructions = [(words[0], words[1] if len(words) > 1 else "") for words in lines]
    users = [(i, arg) for i, (op, arg) in enumerate(instructions) if op == "USER"]
    assert [arg for _, arg in users] == ["imr"]
    at = users[0][0]
    assert "useradd --create-home imr" in instructions[at - 1][1]  # made just before
    after = [op for op, _ in instructions[at:]]
    assert "ENTRYPOINT" in after and "CMD" in after  # the server and the CLI run as imr


def test_web_app_serves_from_elasticsearch_once_the_samples_are_loaded():
    web = SERVICES["web"]
    # The loader's script exits 0 when some letters failed but others are indexed (the tests
    # below), so the web app starts then; not when nothing could be indexed.
    assert web["depends_on"] == {
        "elasticsearch": {"condition": "service_healthy"},
        "loader": {"condition": "service_completed_successfully"},
    }
    assert "entrypoint" not in web  # the image's: imr-search
    group_ctx, command_ctx = _parse_cli(web["command"])
    assert group_ctx.params["backend"] == "elasticsearch"
    assert command_ctx.command.name == "serve"
    assert command_ctx.params == {
        "host": "0.0.0.0",
        "port": 8000,
        "production": True,
        "threads": None,  # from IMR_SEARCH_THREADS, set in its environment (the next test)
        "workers": 2,  # Elasticsearch holds the index: a second process costs only the model
        "samples": False,
    }
    assert web["ports"] == ["127.0.0.1:8000:8000"]
    assert web["environment"] == {
        **SERVICES["loader"]["environment"],
        "IMR_SEARCH_ES_TIMEOUT": "5",
        "IMR_SEARCH_THREADS": "8",
    }
    assert "COPY webapp ./webapp" in DOCKERFILE


def test_web_threads_come_from_the_environment_it_sets(monkeypatch):
    web = SERVICES["web"]
    monkeypatch.setenv("IMR_SEARCH_THREADS", web["environment"]["IMR_SEARCH_THREADS"])
    _, command_ctx = _parse_cli(web["command"])
    assert command_ctx.params["threads"] == 8
    monkeypatch.setenv("IMR_SEARCH_THREADS", "3")
    assert _parse_cli(web["command"])[1].params["threads"] == 3


def test_web_environment_sets_the_elasticsearch_timeout_our_configuration_reads():
    env = _interpolated(SERVICES["web"]["environment"])
    store = ElasticsearchStore.from_env(environ=env)
    assert store.request_timeout == 5.0
    assert store.client._retry_on_timeout is False  # passed with every request
    assert store._secrets == ["imr-search-app-dev"]
    store.close()


def test_web_healthcheck_asks_healthz_on_the_served_port():
    web = SERVICES["web"]
    check = web["healthcheck"]["test"]
    assert check[:3] == ["CMD", "python", "-c"]
    assert check[3] == (
        "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=10)"
    )
    assert web["restart"] == "unless-stopped"


def test_image_runs_the_production_web_server_by_default():
    (cmd,) = [line for line in DOCKERFILE.splitlines() if line.startswith("CMD ")]
    args = json.loads(cmd.removeprefix("CMD "))
    group_ctx, command_ctx = _parse_cli(args)
    assert group_ctx.params["backend"] is None  # ELASTICSEARCH_URL, if set, picks Elasticsearch
    assert command_ctx.command.name == "serve"
    assert command_ctx.params == {
        "host": "0.0.0.0",
        "port": 8000,
        "production": True,
        "threads": None,  # decided by the back end: 2 embedded, 8 Elasticsearch
        "workers": 1,
        "samples": True,
    }
    assert "EXPOSE 8000" in DOCKERFILE and "IMR_SEARCH_DATA_DIR=/data" in DOCKERFILE


# -- the loader's script --------------------------------------------------------------------

#: Replays what a real `imr-search` run printed, and records the arguments it was given.
FAKE_IMR_SEARCH = """
import json, os, sys
with open(os.environ["FAKE_ARGS"], "w") as f:
    json.dump(sys.argv[1:], f)
with open(os.environ["FAKE_RUN"]) as f:
    run = json.load(f)
sys.stdout.write(run["stdout"])
sys.stderr.write(run["stderr"])
sys.exit(run["status"])
"""


#: The real CLI on the embedded store (even where ELASTICSEARCH_URL is set), then --data-dir.
EMBEDDED = ("--backend", "embedded", "--data-dir")


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _letters(folder: Path, good: int, bad: int) -> Path:
    folder.mkdir()
    for seed in SEEDS[:good]:
        (folder / seed.name).write_text(seed.read_text())
    for n in range(bad):
        (folder / f"broken-{n}.pdf").write_bytes(b"not a PDF")
    return folder


def _loader(tmp_path: Path, run: subprocess.CompletedProcess) -> subprocess.CompletedProcess:
    """Run the loader's script (under sh, as in the image) on what the real `run` printed."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    _stand_in(bin_dir, "imr-search", FAKE_IMR_SEARCH)
    recorded = {"stdout": run.stdout, "stderr": run.stderr, "status": run.returncode}
    (tmp_path / "run.json").write_text(json.dumps(recorded))
    env = {"FAKE_RUN": str(tmp_path / "run.json"), "FAKE_ARGS": str(tmp_path / "args.json")}
    result = _run(["sh", "-c", _script("loader")], bin_dir, env)
    assert json.loads((tmp_path / "args.json").read_text()) == _loader_invocation()
    return result


def test_loader_succeeds_when_some_letters_failed_and_reports_each(tmp_path):
    folder = _letters(tmp_path / "letters", good=2, bad=2)
    run = run_cli(*EMBEDDED, str(tmp_path / "data"), "index", str(folder))
    assert run.returncode == 1  # the CLI's own status: some files failed
    loader = _loader(tmp_path, run)
    assert loader.returncode == 0  # the web app starts
    assert loader.stdout.startswith("2 letters indexed (")
    assert "the index now holds 2 letters" in loader.stdout
    errors = [line for line in loader.stderr.splitlines() if line.startswith("error: ")]
    assert errors == [
        f"error: {folder / f'broken-{n}.pdf'}: not a PDF file (no %PDF- header)" for n in (0, 1)
    ]
    assert loader.stderr.splitlines()[-1] == (
        "loader: the letters named in the error lines above were left out; the web app starts "
        "with the others"
    )


def test_loader_succeeds_when_every_letter_was_indexed(tmp_path):
    folder = _letters(tmp_path / "letters", good=1, bad=0)
    run = run_cli(*EMBEDDED, str(tmp_path / "data"), "index", str(folder))
    assert run.returncode == 0
    loader = _loader(tmp_path, run)
    assert loader.returncode == 0
    assert loader.stdout.startswith("1 letters indexed (") and "loader:" not in loader.stderr


def test_loader_fails_when_no_letter_is_indexed(tmp_path):
    folder = _letters(tmp_path / "letters", good=0, bad=1)
    run = run_cli(*EMBEDDED, str(tmp_path / "data"), "index", str(folder))
    assert run.returncode == 1 and "the index now holds 0 letters" in run.stdout
    loader = _loader(tmp_path, run)
    assert loader.returncode == 1  # the web app does not start
    assert loader.stderr.splitlines()[-1] == (
        "loader: nothing is indexed (imr-search exited 1); the web app will not start"
    )


def test_loader_fails_when_elasticsearch_is_unreachable(tmp_path, monkeypatch):
    folder = _letters(tmp_path / "letters", good=1, bad=1)
    monkeypatch.setenv("ELASTICSEARCH_URL", f"http://127.0.0.1:{_closed_port()}")
    run = run_cli("--backend", "elasticsearch", "index", str(folder))
    assert run.returncode == 1 and run.stdout == ""
    loader = _loader(tmp_path, run)
    assert loader.returncode == 1
    first, last = loader.stderr.splitlines()[-2:]
    assert (
        first.startswith("Error: Elasticsearch at http://127.0.0.1:") and "not reachable" in first
    )
    assert last == "loader: nothing is indexed (imr-search exited 1); the web app will not start"


# -- the setup service's script ---------------------------------------------------------------

#: Records each request (method, URL, user, body) and answers from a queue of (status, body);
#: status 0 is a connection refused. Knows only the options the setup script uses (any other
#: stops it), with curl's meaning.
FAKE_CURL = """
import json, os, sys
args, out, fmt, user, method, body, fail, url = sys.argv[1:], None, None, None, "GET", None, False, None
i = 0
while i < len(args):
    a = args[i]
    if a in ("-o", "-w", "-u", "-X", "-H", "--data-binary"):
        value = args[i + 1]
        i += 2
        if a == "-o": out = value
        elif a == "-w": fmt = value
        elif a == "-u": user = value
        elif a == "-X": method = value
        elif a == "--data-binary":
            assert value == "@-", value
            body = sys.stdin.read()
        continue
    if a.startswith("http://"): url = a
    elif a in ("-sS", "-fsS"): fail = a == "-fsS"
    else: sys.exit(f"fake curl: an option it does not know: {a}")
    i += 1
with open(os.environ["CURL_LOG"], "a") as f:
    f.write(json.dumps({"method": method, "url": url, "user": user, "body": body, "argv": args}) + "\\n")
queue = os.environ["CURL_ANSWERS"]
with open(queue) as f:
    answers = json.load(f)
status, answer = answers.pop(0)
with open(queue, "w") as f:
    json.dump(answers, f)
if status == 0:
    sys.stderr.write("curl: (7) Failed to connect to elasticsearch port 9200\\n")
    sys.stdout.write("000" if fmt else "")
    sys.exit(7)
if fail and status >= 400:
    sys.stderr.write(f"curl: (22) The requested URL returned error: {status}\\n")
    sys.exit(22)
text = json.dumps(answer)
if out:
    with open(out, "w") as f:
        f.write(text)
else:
    sys.stdout.write(text)
if fmt:
    sys.stdout.write(fmt.replace("%{http_code}", str(status)))
"""
FAKE_SLEEP = """
import os, sys
with open(os.environ["SLEEP_LOG"], "a") as f:
    f.write(" ".join(sys.argv[1:]) + "\\n")
"""


def _setup(tmp_path: Path, answers: list, password: str = "imr-search-app-dev"):
    """Run the setup service's script (under bash, as in Elasticsearch's image) against the
    answers; return the run and the requests it made."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    _stand_in(bin_dir, "curl", FAKE_CURL)
    _stand_in(bin_dir, "sleep", FAKE_SLEEP)
    (tmp_path / "answers.json").write_text(json.dumps(answers))
    env = {
        **_interpolated(SERVICES["setup"]["environment"]),
        "IMR_SEARCH_PASSWORD": password,
        "CURL_LOG": str(tmp_path / "curl.log"),
        "CURL_ANSWERS": str(tmp_path / "answers.json"),
        "SLEEP_LOG": str(tmp_path / "sleep.log"),
    }
    assert SERVICES["setup"]["command"][:2] == ["bash", "-c"]
    result = _run(["bash", "-c", _script("setup")], bin_dir, env)
    log = tmp_path / "curl.log"
    requests = [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []
    return result, requests


def test_setup_runs_once_elasticsearch_is_healthy():
    setup = SERVICES["setup"]
    assert setup["depends_on"] == {"elasticsearch": {"condition": "service_healthy"}}
    assert setup["restart"] == "no"
    assert "ports" not in setup and "volumes" not in setup


def test_setup_creates_the_role_and_the_user_the_app_logs_in_with(tmp_path):
    password = "p@ss w0rd $HOME 'q' & `x` ; !"  # nothing of it is run or expanded
    ok = [[200, {"role": {"created": True}}], [200, {"created": True}], [200, {}]]
    result, requests = _setup(tmp_path, ok, password)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-1] == (
        "setup: the user imr_search (role imr_search: imr-chunks, imr-chunks-*) is ready"
    )
    es = "http://elasticsearch:9200"
    superuser = "elastic:imr-search-dev"
    assert [(r["method"], r["url"], r["user"]) for r in requests] == [
        ("PUT", f"{es}/_security/role/imr_search", superuser),
        ("PUT", f"{es}/_security/user/imr_search", superuser),
        ("GET", f"{es}/_security/_authenticate", f"imr_search:{password}"),
    ]
    role, user = (json.loads(r["body"]) for r in requests[:2])
    assert role == ROLE
    assert user == {
        "password": password,
        "roles": ["imr_search"],
        "full_name": "imr-search loader and web app",
    }
    assert password not in " ".join(requests[1]["argv"])  # sent on stdin, not the command line


def test_the_role_covers_every_name_the_store_uses_and_no_other():
    alias = SERVICES["loader"]["environment"]["IMR_SEARCH_ES_INDEX"]
    (indices,) = ROLE["indices"]
    assert indices["names"] == [alias, f"{alias}-*"]
    store = ElasticsearchStore.from_env(environ=_interpolated(SERVICES["loader"]["environment"]))
    generation = generation_names(alias, new_stamp())
    used = [store.alias, store.letters_alias, *generation.indices, lock_index(alias)]
    assert used == [
        "imr-chunks",
        "imr-chunks-letters",
        generation.chunks_index,
        generation.letters_index,
        "imr-chunks-lock",
    ]
    for name in used:
        assert any(fnmatch.fnmatchcase(name, pattern) for pattern in indices["names"]), name
    for other in ("imr", "imr-chunkster", ".security-7", "logs-2026", "imr-test-1"):
        assert not any(fnmatch.fnmatchcase(other, p) for p in indices["names"]), other
    store.close()


def test_setup_stops_with_elasticsearch_s_reason_when_a_request_is_refused(tmp_path):
    refused = {"error": {"type": "security_exception", "reason": "unable to authenticate"}}
    result, requests = _setup(tmp_path, [[401, refused]])
    assert result.returncode == 1
    assert len(requests) == 1
    assert result.stderr.splitlines()[-1] == (
        f"setup: PUT /_security/role/imr_search answered HTTP 401: {json.dumps(refused)}"
    )


def test_setup_waits_while_elasticsearch_is_not_ready(tmp_path):
    answers = [[0, None], [503, {}], [200, {}], [200, {}], [200, {}]]
    result, requests = _setup(tmp_path, answers)
    assert result.returncode == 0, result.stderr
    assert [r["url"].rsplit("/", 1)[1] for r in requests] == [
        "imr_search",
        "imr_search",
        "imr_search",
        "imr_search",
        "_authenticate",
    ]
    assert (tmp_path / "sleep.log").read_text() == "3\n3\n"
    (tmp_path / "again").mkdir()
    gave_up, requests = _setup(tmp_path / "again", [[503, {}]] * 10)
    assert gave_up.returncode == 1 and len(requests) == 10
    assert gave_up.stderr.splitlines()[-1] == (
        "setup: PUT /_security/role/imr_search failed 10 times, last HTTP 503"
    )


def test_setup_stops_when_the_user_cannot_log_in(tmp_path):
    result, _ = _setup(tmp_path, [[200, {}], [200, {}], [401, {}]])
    assert result.returncode == 1
    assert result.stderr.splitlines()[-1] == "setup: the user imr_search cannot log in"


@pytest.mark.parametrize("password", ["short", 'with"quote', "back\\slash"])
def test_setup_refuses_a_password_it_cannot_put_in_json_as_it_is(tmp_path, password):
    result, requests = _setup(tmp_path, [], password)
    assert result.returncode == 1 and requests == []
    assert (
        result.stderr == 'setup: IMR_SEARCH_PASSWORD needs 6 characters or more, and no " or \\\n'
    )


# -- .dockerignore ----------------------------------------------------------------------------


def _ignore_rules() -> list[tuple[bool, re.Pattern[str]]]:
    """The rules of .dockerignore as Docker reads them (moby/patternmatcher): one pattern a
    line, `#` comments, a leading `/` ignored, `!` an exception, `*` and `?` within one path
    segment, `**` across any number of them; the last rule that matches a path, or one of its
    parent directories, decides."""
    rules = []
    for raw in (ROOT / ".dockerignore").read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        keep = line.startswith("!")
        pattern = os.path.normpath(line.removeprefix("!").strip()).lstrip("/")
        regex, i = "", 0
        while i < len(pattern):
            if pattern.startswith("**/", i):
                regex, i = regex + "(?:.*/)?", i + 3
            elif pattern.startswith("**", i):
                regex, i = regex + ".*", i + 2
            elif pattern[i] == "*":
                regex, i = regex + "[^/]*", i + 1
            elif pattern[i] == "?":
                regex, i = regex + "[^/]", i + 1
            elif pattern[i] == "[":
                end = pattern.index("]", i)
                regex, i = regex + "[" + pattern[i + 1 : end].replace("!", "^", 1) + "]", end + 1
            else:
                regex, i = regex + re.escape(pattern[i]), i + 1
        rules.append((keep, re.compile(regex + r"\Z")))
    return rules


def _ignored(path: str, rules) -> bool:
    parts = path.split("/")
    candidates = ["/".join(parts[: n + 1]) for n in range(len(parts))]
    ignored = False
    for keep, regex in rules:
        if any(regex.match(candidate) for candidate in candidates):
            ignored = not keep
    return ignored


def _copied_sources() -> list[str]:
    """The project paths the Dockerfile's COPY lines take from the build context."""
    sources = []
    for line in DOCKERFILE.splitlines():
        words = line.split()
        if words[:1] == ["COPY"] and not any(w.startswith("--from") for w in words):
            sources += [w.removeprefix("./") for w in words[1:-1] if not w.startswith("--")]
    return sources


def test_dockerignore_keeps_out_the_venv_git_caches_and_secrets():
    rules = _ignore_rules()
    lines = (ROOT / ".dockerignore").read_text().splitlines()
    assert ".venv" in lines and ".git" in lines and ".env" in lines
    for path in (
        ".venv/bin/python",
        ".git/HEAD",
        ".env",
        "imr_search.egg-info/PKG-INFO",
        "indexer/__pycache__/cli.cpython-311.pyc",
        "webapp/stray.pyc",
        ".pytest_cache/v/cache/nodeids",
        ".ruff_cache/CACHEDIR.TAG",
        ".hypothesis/examples/x",
        "tests/artifacts/page.png",
        "bench/.data/corpus.jsonl",
        "data/store.sqlite",
        "node_modules/pkg/index.js",
        "webapp/static/node_modules/pkg/index.js",
    ):
        assert _ignored(path, rules), path


def test_dockerignore_keeps_every_file_the_image_copies():
    rules = _ignore_rules()
    sources = _copied_sources()
    assert sources == ["pyproject.toml", "README.md", "indexer", "webapp", "mappings", "samples"]
    checked = 0
    for source in sources:
        assert not _ignored(source, rules), source
        root = ROOT / source
        files = [root] if root.is_file() else [p for p in root.rglob("*") if p.is_file()]
        for path in files:
            relative = path.relative_to(ROOT).as_posix()
            if "__pycache__" in path.parts or path.suffix == ".pyc":
                continue  # made by Python, not part of the project
            assert not _ignored(relative, rules), relative
            checked += 1
    assert checked > 50
