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
