"""What each kind of request in the load test costs, one request at a time, through the app.

    python bench/page_costs.py DATA_DIR [--repeat 4]

Runs the load test's URL mix (bench/load_urls.py) through Flask's test client in one process,
with the native libraries kept to one thread and the cycle collector tuned as `imr-search serve`
does, and prints per kind of request the median wall time, the median CPU time of the process
(all its threads: the counting pool's work included) and the response size; then the mix's
mean, and the requests per second two cores could answer at that CPU cost, the ceiling of
`bench/load.sh`. The first pass warms up (model, columns, graph, query-embedding cache) and is
not counted.
"""

from __future__ import annotations

import os
import platform
import statistics
import sys
import time
from collections import defaultdict
from pathlib import Path

import click

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.load_urls import index_letters, load_urls  # noqa: E402


@click.command()
@click.argument("data_dir", type=click.Path(exists=True, file_okay=False))
@click.option(
    "--repeat", type=int, default=4, show_default=True, help="Passes, the first not counted."
)
def main(data_dir: str, repeat: int) -> None:
    """Print the cost of each kind of request of the load test's mix."""
    from indexer.memory import collect_rarely
    from indexer.threads import one_thread_per_call

    one_thread_per_call()
    collect_rarely()
    from webapp import create_app

    app = create_app({"DATA_DIR": data_dir, "BACKEND": "embedded"})
    client = app.test_client()
    mix = load_urls(index_letters(data_dir))
    wall, cpu, size = defaultdict(list), defaultdict(list), defaultdict(list)
    for counted in [False] + [True] * max(1, repeat - 1):
        for kind, line in mix:
            path = line.removeprefix("HX ")
            headers = {"HX-Request": "true"} if line.startswith("HX ") else {}
            w, c = time.perf_counter(), time.process_time()
            response = client.get(path, headers=headers)
            w, c = time.perf_counter() - w, time.process_time() - c
            if response.status_code != 200:
                raise click.ClickException(f"{path} answered {response.status_code}")
            if counted:
                wall[kind].append(w * 1000)
                cpu[kind].append(c * 1000)
                size[kind].append(len(response.data))
    cores = os.cpu_count() or 1
    print(f"machine: {platform.machine()}, {cores} cores, Python {platform.python_version()}")
    print(f"{len(mix)} URLs a pass, {max(1, repeat - 1)} passes counted\n")
    print(f"{'request':24s} {'n':>4s} {'wall p50':>9s} {'CPU p50':>8s} {'bytes':>7s}")
    for kind in wall:
        print(
            f"{kind:24s} {len(wall[kind]):4d} {statistics.median(wall[kind]):7.1f} ms "
            f"{statistics.median(cpu[kind]):5.1f} ms {statistics.median(size[kind]):7.0f}"
        )
    passes = max(1, repeat - 1)
    mean_wall = sum(sum(v) for v in wall.values()) / passes / len(mix)
    mean_cpu = sum(sum(v) for v in cpu.values()) / passes / len(mix)
    print(
        f"\nmix mean: {mean_wall:.1f} ms wall, {mean_cpu:.1f} ms CPU a request; "
        f"{cores} cores at that CPU cost: {cores * 1000 / mean_cpu:.0f} requests/s at most"
    )


if __name__ == "__main__":
    main()
