"""Speed of gradient descent on graph networks (prints figures; never asserts on time).

1. The parallel special case, side by side in one run from the same initial weights: the
   pathway driver (:func:`pathdyn.validation.network.simulate_gd`) and the graph driver
   (:func:`simulate_graph_gd`, what a user gets for a graph). Both step the one node-form
   engine (:class:`pathdyn.validation.network.engine.Engine`); they differ in what they
   record (per pathway from the outputs, per path from the edge matrices). Target: the
   graph driver within 1.3x of the pathway driver.
2. The example graphs that are not parallel: time per step.

Linear networks, float64, one BLAS thread, whitened random data with 8 modes
(``n_in = n_out = 8``, P = 8). Run: ``python benchmarks/bench_graph.py [--quick]``.
Figures are medians over repeats (the drivers alternate within each repeat); ratios are
taken within one run.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import time
from pathlib import Path

from pathdyn.numerics.datasets import random_dataset
from pathdyn.theory.architecture import Architecture
from pathdyn.theory.graph import GraphArchitecture
from pathdyn.validation.network.blas_threads import blas_threads
from pathdyn.validation.network.graph import initialize_graph_weights, simulate_graph_gd
from pathdyn.validation.network import simulate_gd

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def seconds_per_step(run, steps: int, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        times.append((time.perf_counter() - start) / steps)
    return statistics.median(times)


def parallel_case(depths, width, steps, repeats, data) -> dict:
    graph = Architecture(depths=depths).graph
    weights = initialize_graph_weights(graph, data.n_in, data.n_out, width=width, seed=0)
    layered = [[weights[e] for e in segment] for segment in graph.chain_segments()]
    common = dict(learning_rate=0.01, steps=steps, record_every=steps)
    runs = {
        "pathway driver": lambda: simulate_gd(depths, data, width, weights=layered, **common),
        "graph driver": lambda: simulate_graph_gd(graph, data, width, weights=weights, **common),
    }
    # Round-robin over the drivers inside every repeat, so load from other processes on a
    # shared machine falls on all of them alike.
    times = {name: [] for name in runs}
    for _ in range(repeats):
        for name, run in runs.items():
            times[name].append(seconds_per_step(run, steps, 1))
    return {name: statistics.median(values) for name, values in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer steps and repeats")
    args = parser.parse_args()
    steps, repeats = (50, 3) if args.quick else (100, 7)
    data = random_dataset([8, 7, 6, 5, 4, 3, 2, 1], seed=0)
    print(f"# bench_graph: {platform.processor() or platform.machine()}, python {platform.python_version()}, "
          f"{steps} steps x {repeats} repeats, float64, 1 BLAS thread, linear")
    with blas_threads(1):
        print("\n## parallel special case: ms per step (ratio to the pathway driver)")
        for depths, width in (((3, 3), 64), ((3, 3), 256), ((3, 3), 512), ((3, 3), 1024), ((2, 4), 1024)):
            times = parallel_case(depths, width, steps if width < 1024 else max(10, steps // 2), repeats, data)
            base = times["pathway driver"]
            row = ", ".join(f"{name} {1e3 * t:.3f} ({t / base:.2f}x)" for name, t in times.items())
            print(f"depths {depths}, width {width}: {row}")
        print("\n## other example graphs: ms per step")
        for name in ("shared_trunk", "two_stream_cross", "visual_cortex"):
            graph = GraphArchitecture.from_toml(EXAMPLES / f"{name}.toml")
            graph = GraphArchitecture(edges=graph.edges)
            for width in (256, 1024):
                weights = initialize_graph_weights(graph, data.n_in, data.n_out, width=width, seed=0)
                n = steps if width < 1024 else max(10, steps // 4)
                t = seconds_per_step(lambda: simulate_graph_gd(graph, data, width, weights=weights, learning_rate=0.01,
                                                               steps=n, record_every=n), n, repeats)
                print(f"{name}, width {width}: {1e3 * t:.3f} ms per step")


if __name__ == "__main__":
    main()
