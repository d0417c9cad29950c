"""Process-wide thread pools, each made on first use, and the native libraries' own threads."""

from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor

_POOLS: dict[str, ThreadPoolExecutor] = {}
_LOCK = threading.Lock()


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
