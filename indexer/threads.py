"""Process-wide thread pools, each made on first use, whether a core is free for them, and the
native libraries' own threads."""

from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor

_POOLS: dict[str, ThreadPoolExecutor] = {}
_LOCK = threading.Lock()
_CORES = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def shared_pool(name: str, workers: int) -> ThreadPoolExecutor:
    """Return this process's pool called `name`, made with `workers` threads the first time."""
    with _LOCK:
        pool = _POOLS.get(name)
        if pool is None:
            pool = _POOLS[name] = ThreadPoolExecutor(max_workers=workers, thread_name_prefix=name)
        return pool


def one_thread_per_call() -> None:
    """Make numeric libraries compute each call on the calling thread, for a server process.

    A server's parallelism is its concurrent requests. OpenBLAS (numpy) and OpenMP (usearch's
    kernels) would each add a thread per core that busy-waits after every call: measured on the
    web app's request mix, half the process's CPU time went to that spinning, for no gain in
    latency. A limit the user set in the environment is kept.
    """
    if "OMP_NUM_THREADS" in os.environ or "OPENBLAS_NUM_THREADS" in os.environ:
        return
    # OpenMP reads this when it loads (later, with the vector index); child processes inherit it.
    os.environ["OMP_NUM_THREADS"] = "1"
    from threadpoolctl import threadpool_limits

    threadpool_limits(1)  # libraries already loaded, such as numpy's OpenBLAS


def spare_core() -> bool:
    """Whether a core is idle now, so that work handed to a pool would run beside this thread.

    A search counts its facets on a pool while it ranks. On an idle machine that shortens the
    search; on a busy server every core already runs a request, and the hand-offs between
    threads cost CPU for nothing: the load test's request mix took 10% more CPU with them.
    Linux counts the threads ready to run (this one included) in /proc/loadavg; elsewhere
    the answer is yes.
    """
    try:
        with open("/proc/loadavg", "rb") as f:
            return runnable_threads(f.read()) < _CORES
    except (OSError, ValueError):
        return True


def runnable_threads(loadavg: bytes) -> int:
    """The threads ready to run, from the text of /proc/loadavg ("0.5 0.4 0.3 2/91 1234")."""
    return int(loadavg.split()[3].split(b"/")[0])
