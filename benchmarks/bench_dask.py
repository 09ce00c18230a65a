"""Width sweeps on Dask (issue 14): the validate suite serial against 2 local workers, and how
the work splits. Prints figures and ratios; never asserts on time.

By default the *quick* suite (``pathdyn validate --quick``): the default suite takes about
9 minutes serially on 2 cores, too long to run twice on a shared machine; ``--suite default``
runs it. The serial run and the run on a local cluster of 2 worker processes (one thread
each) are timed in one process, one after the other; the cluster's start-up is timed
separately and included in the speed-up. Both reports are compared exactly (JSON without
the wall-time fields). Then every network's duration (one task each) is listed with the
longest task, the total work, and the lower bound ``max(total / N, longest task)`` of the
time on N workers with its greedy longest-first schedule, so a reader can see how the
work would split across a larger cluster.

Target: speed-up >= 1.7x with 2 workers on a 2-core machine. The machine's load average is
printed before and after: on a shared machine the speed-up is a lower bound.

Run: ``.venv/bin/python benchmarks/bench_dask.py [--suite quick|default] [--without-dmft]``.
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

import argparse  # noqa: E402
import heapq  # noqa: E402
import importlib.util  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import time  # noqa: E402

from pathdyn.validation.sweep.distributed import task_runner  # noqa: E402
from pathdyn.validation.sweep import validate_suite  # noqa: E402
from pathdyn.validation.sweep import DEFAULT_SUITE, QUICK_SUITE  # noqa: E402


def load_average() -> str:
    with open("/proc/loadavg") as handle:
        return " ".join(handle.read().split()[:3])


def without_timing(document):
    if isinstance(document, dict):
        return {k: without_timing(v) for k, v in document.items() if k != "wall_time_s"}
    if isinstance(document, list):
        return [without_timing(v) for v in document]
    return document


def documents(reports):
    return [without_timing(json.loads(json.dumps(r.to_json_dict()))) for r in reports]


def greedy_makespan(durations, workers: int) -> float:
    """Longest-first list scheduling of independent tasks on ``workers`` (what a scheduler does at best)."""
    loads = [0.0] * workers
    for d in sorted(durations, reverse=True):
        heapq.heappush(loads, heapq.heappop(loads) + d)
    return max(loads)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--suite", choices=("quick", "default"), default="quick")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--without-dmft", action="store_true",
                        help="leave out the DMFT cases (16 seeds to width 2048: tens of minutes serially on 2 cores)")
    args = parser.parse_args()
    if importlib.util.find_spec("distributed") is None:
        print("bench_dask: skipped, dask.distributed is not installed (pip install 'pathdyn[distributed]')")
        return
    cases = [case for case in (QUICK_SUITE if args.suite == "quick" else DEFAULT_SUITE)
             if not (args.without_dmft and case.theory == "dmft")]
    print(f"bench_dask: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"{args.suite} suite ({len(cases)} cases{', DMFT cases left out' if args.without_dmft else ''}), load average before: {load_average()}")

    with task_runner() as serial_runner:
        start = time.perf_counter()
        serial = validate_suite(cases, runner=serial_runner)
        serial_s = time.perf_counter() - start
    start = time.perf_counter()
    with task_runner(workers=args.workers) as cluster_runner:
        startup_s = time.perf_counter() - start
        start = time.perf_counter()
        parallel = validate_suite(cases, runner=cluster_runner)
        sweep_s = time.perf_counter() - start
    total_parallel_s = startup_s + sweep_s
    identical = documents(serial) == documents(parallel)
    print(f"load average after: {load_average()}")
    print(f"serial:                 {serial_s:7.1f} s")
    print(f"{args.workers} local workers:        {total_parallel_s:7.1f} s  (cluster start-up {startup_s:.1f} s + sweep {sweep_s:.1f} s)")
    print(f"speed-up:               {serial_s / total_parallel_s:7.2f}x  (target >= 1.7x; {serial_s / sweep_s:.2f}x without the start-up)")
    print(f"reports identical (JSON without wall times): {identical}")

    records = serial_runner.records
    durations = [r.seconds for r in records]
    total = sum(durations)
    longest = max(records, key=lambda r: r.seconds)
    print(f"\nwork split: {len(records)} tasks (one network each), total {total:.1f} s of work in the serial run, "
          f"longest task {longest.seconds:.1f} s ({longest.label}: the critical path of any cluster)")
    print("ten longest tasks (serial run):")
    for r in sorted(records, key=lambda r: -r.seconds)[:10]:
        print(f"    {r.seconds:7.2f} s  {r.label}")
    small = sorted(durations)
    print(f"    ... median task {small[len(small) // 2]:.2f} s, shortest {small[0]:.3f} s")
    print("on N workers (from the serial task durations; no start-up or transfer costs):")
    print(f"    {'N':>4s} {'lower bound s':>14s} {'greedy schedule s':>18s} {'speed-up bound':>15s}")
    for n in (1, 2, 4, 8, 16, 32, 64):
        bound = max(total / n, longest.seconds)
        print(f"    {n:4d} {bound:14.1f} {greedy_makespan(durations, n):18.1f} {total / bound:15.1f}")
    by_worker = {}
    for r in cluster_runner.records:
        by_worker.setdefault(r.worker, []).append(r.seconds)
    print(f"cluster run: {', '.join(f'{w}: {len(d)} tasks, {sum(d):.1f} s busy' for w, d in sorted(by_worker.items()))}")


if __name__ == "__main__":
    main()
