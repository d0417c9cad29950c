"""Shared paths and helpers for the tests."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "samples" / "letters"
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

    if not os.environ.get("ELASTICSEARCH_URL"):
        pytest.skip("ELASTICSEARCH_URL is not set (no live Elasticsearch to test against)")
    return ElasticsearchStore.from_env(index=f"{prefix}-{uuid.uuid4().hex[:12]}")


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
