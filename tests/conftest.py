"""Shared paths and helpers for the tests."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "samples" / "letters"
#: The Elasticsearch the tests may use (ELASTICSEARCH_URL when pytest started). It is taken out
#: of the environment: with it set, `imr-search` would use Elasticsearch by default, and the
#: commands the tests run expect the embedded default unless they say otherwise.
ES_URL = os.environ.pop("ELASTICSEARCH_URL", "")
SEEDS = sorted((SAMPLES / "seeds").glob("*.txt"))
DEV = sorted((SAMPLES / "dev").glob("*.pdf"))
CONSTRUCTED = ROOT / "tests" / "fixtures" / "constructed"


def run_cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    """Run the installed `imr-search` command (or the module when not installed) and capture it."""
    exe = shutil.which("imr-search", path=str(Path(sys.executable).parent))
    cmd = [exe] if exe else [sys.executable, "-m", "indexer.cli"]
    return subprocess.run(
        [*cmd, *args], capture_output=True, text=True, cwd=cwd or ROOT, timeout=300
    )


@pytest.fixture(scope="session")
def tokenizer():
    """The embedding model's tokenizer, loaded once."""
    from indexer.model import load_tokenizer

    return load_tokenizer()


@pytest.fixture(scope="session")
def embedder(tmp_path_factory):
    """The real embedding model, loaded once, with a session-wide embedding cache."""
    from indexer.embedder import Embedder

    return Embedder(cache_path=tmp_path_factory.mktemp("embeddings") / "cache.sqlite")


def index_samples(store, embedder, paths=None):
    """Index the bundled sample letters (or `paths`) into `store`; return the summary."""
    from indexer.pipeline import index_letters, read_letters

    errors: list = []
    summary = index_letters(
        read_letters([str(p) for p in (paths or [SAMPLES])], lambda *e: errors.append(e)),
        store,
        embedder,
    )
    assert errors == []
    return summary


def elasticsearch_store(prefix: str = "imr-test"):
    """A store on the Elasticsearch at ELASTICSEARCH_URL with a fresh random alias."""
    import os
    import uuid

    from indexer.stores.elasticsearch import ElasticsearchStore

    if not ES_URL:
        if os.environ.get("IMR_SEARCH_REQUIRE_ES"):
            pytest.fail("IMR_SEARCH_REQUIRE_ES is set but ELASTICSEARCH_URL is not")
        pytest.skip("ELASTICSEARCH_URL is not set (no live Elasticsearch to test against)")
    env = {**os.environ, "ELASTICSEARCH_URL": ES_URL}
    return ElasticsearchStore.from_env(env, index=f"{prefix}-{uuid.uuid4().hex[:12]}")


XSS_LETTER = ROOT / "tests" / "fixtures" / "xss" / "xss_letter.txt"


@pytest.fixture(scope="session")
def web_service(tmp_path_factory, embedder):
    """A search service over the sample letters plus one letter full of HTML and script text."""
    from indexer.search import SearchService
    from indexer.stores.embedded import EmbeddedStore

    store = EmbeddedStore(tmp_path_factory.mktemp("web"))
    index_samples(store, embedder, [SAMPLES, XSS_LETTER])
    return SearchService(store, lambda: embedder)


@pytest.fixture(scope="session")
def app(web_service):
    """The web app over `web_service`."""
    from webapp import create_app

    return create_app({"SERVICE": web_service, "TESTING": True})


def _runs_on_elasticsearch(nodeid: str) -> bool:
    """Whether a test talks to a real Elasticsearch (its file or its back-end parameter)."""
    name = nodeid.split("::")[0].rsplit("/", 1)[-1]
    return name.startswith(
        ("test_es_live", "test_es_cluster", "test_es_script", "test_es_lock")
    ) or ("[elasticsearch" in nodeid or "test_live_cluster_contract" in nodeid)


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    """Print how many tests ran against a real Elasticsearch, and how many were skipped: CI
    (IMR_SEARCH_REQUIRE_ES) must show none skipped."""
    counts = {}
    for outcome in ("passed", "failed", "error", "skipped"):
        reports = terminalreporter.stats.get(outcome, [])
        counts[outcome] = sum(
            1
            for r in reports
            if getattr(r, "when", "call") in ("call", "setup")
            and _runs_on_elasticsearch(getattr(r, "nodeid", ""))
            and (outcome != "passed" or r.when == "call")
        )
    url = ES_URL or "not set"
    terminalreporter.write_line(
        f"Elasticsearch tests (ELASTICSEARCH_URL {url}): {counts['passed']} passed, "
        f"{counts['failed'] + counts['error']} failed, {counts['skipped']} skipped"
    )
