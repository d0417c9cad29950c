"""The native libraries' thread pools in a server process (indexer/threads.py)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# Loads numpy's OpenBLAS, limits the threads, then loads usearch's OpenMP (as a server does, which
# opens the vector index after start-up) and reports every library's thread count.
_SCRIPT = """
import json, numpy
from indexer.threads import one_thread_per_call
from indexer.stores.vectors import _usearch_index
one_thread_per_call()
Index = _usearch_index()
index = Index(ndim=4)
index.add(1, numpy.ones(4, dtype=numpy.float32))
index.search(numpy.ones(4, dtype=numpy.float32), 1)
from threadpoolctl import threadpool_info
print(json.dumps(sorted({(i["internal_api"], i["num_threads"]) for i in threadpool_info()})))
"""


def _threads(**env: str) -> list[list]:
    clean = {k: v for k, v in os.environ.items() if not k.endswith("_NUM_THREADS")}
    out = subprocess.run(
        [sys.executable, "-c", _SCRIPT],
        cwd=ROOT,
        env={**clean, **env},
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    ).stdout
    return json.loads(out)


def test_a_server_process_runs_blas_and_openmp_on_the_calling_thread():
    assert _threads() == [["openblas", 1], ["openmp", 1]]


def test_a_limit_set_in_the_environment_is_kept():
    # OpenBLAS takes the variable too, up to the machine's cores.
    blas = min(3, os.cpu_count() or 1)
    assert _threads(OMP_NUM_THREADS="3") == [["openblas", blas], ["openmp", 3]]
