"""The native libraries' thread pools in a server process, and whether a core is spare for our
own pools (indexer/threads.py)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

from indexer.threads import runnable_threads, spare_core

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


def test_the_runnable_threads_are_read_from_loadavg():
    assert runnable_threads(b"0.52 0.41 0.30 2/91 1234\n") == 2
    assert runnable_threads(b"3.00 2.10 1.00 17/300 99") == 17


def test_no_core_is_spare_while_every_core_runs_a_busy_process():
    cores = len(os.sched_getaffinity(0))
    spinners = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(cores)]
    try:
        time.sleep(0.5)
        assert [spare_core() for _ in range(5)] == [False] * 5
    finally:
        for p in spinners:
            p.kill()
            p.wait()
