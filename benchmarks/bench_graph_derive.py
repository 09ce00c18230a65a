"""Benchmark: deriving and exporting graphs in node form against the sums over paths, in one run.

Two families of graphs, each derived (matrix gradient flow and the q/p-like reduced model of
one mode, with its conserved quantities) and exported in text, LaTeX and JSON, once in node
form (the default: each node's maps and strengths defined once) and once written out as sums
over paths (``--path-sums``), side by side:

1. *time against paths*: ``k`` diamonds in a row (``2**k`` paths over ``4k + 1`` edges);
2. *time against edges*: random DAGs of growing size (their paths grow too), the
   AlexNet-like two streams (22 edges, 16 paths), ``examples/mouse_visual_cortex.toml``
   (47 edges, 96 paths) and a random DAG of 100 nodes and 500 edges.

Also the per-edge reduced model compiled to numpy (``compile_rhs``, which for the path sums
builds the Jacobian at once, for the node form on first use) and one evaluation of its
right-hand side (64 members of a batch). The path sums of a family are measured only
while a case (derive, export, compile) takes less than ``--path-sums-limit`` seconds and
the graph's paths can be listed; above that, ``-``. Ratios are node form / path sums (below 1: node form faster). Cold sympy
cache for every case. Prints figures; never fails on time.
Run: ``.venv/bin/python benchmarks/bench_graph_derive.py [--quick]``.
"""

from __future__ import annotations

import argparse
import os
import platform
import time
from pathlib import Path

import numpy as np
from sympy.core.cache import clear_cache

from pathdyn.numerics.compile import compile_rhs
from pathdyn.theory.graph import GraphArchitecture
from pathdyn.theory.graph_export import derive_graph_equations, export_graph_equations
from pathdyn.theory.graph_reduced import derive_graph_mode_equations

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def diamonds(k: int) -> GraphArchitecture:
    edges, previous = [], "x"
    for i in range(k):
        edges += [(previous, f"a{i}"), (previous, f"b{i}"), (f"a{i}", f"m{i}"), (f"b{i}", f"m{i}")]
        previous = f"m{i}"
    return GraphArchitecture(edges=edges + [(previous, "y")])


def two_streams_crossing() -> GraphArchitecture:
    """Two streams of 7 layers that cross into layers 3, 6 and 7 (22 edges, 16 paths)."""
    edges = []
    for s in "ab":
        chain = ["x"] + [f"{s}{i}" for i in range(1, 8)] + ["y"]
        edges += list(zip(chain[:-1], chain[1:]))
    for layer in (3, 6, 7):
        edges += [(f"a{layer - 1}", f"b{layer}"), (f"b{layer - 1}", f"a{layer}")]
    return GraphArchitecture(edges=edges)


def random_dag(nodes: int, edges: int, seed: int = 0) -> GraphArchitecture:
    """Hidden nodes h0..h{nodes-1} in order; every node gets an edge in from before and out to after, then random forward edges."""
    rng = np.random.default_rng(seed)
    order = ["x"] + [f"h{i}" for i in range(nodes)] + ["y"]
    chosen = set()
    for i in range(1, nodes + 1):
        chosen.add((order[int(rng.integers(0, i))], order[i]))
        chosen.add((order[i], order[int(rng.integers(i + 1, len(order)))]))
    while len(chosen) < edges:
        i, j = sorted(int(v) for v in rng.choice(len(order), 2, replace=False))
        if (i, j) != (0, len(order) - 1):
            chosen.add((order[i], order[j]))
    position = {n: i for i, n in enumerate(order)}
    return GraphArchitecture(edges=sorted(chosen, key=lambda e: (position[e[0]], position[e[1]])))


def derive_and_export(graph, form: str) -> float:
    clear_cache()
    start = time.perf_counter()
    equations = derive_graph_equations(graph, form=form)
    for fmt in ("text", "latex", "json"):
        export_graph_equations(equations, fmt)
    return time.perf_counter() - start


def compile_and_call(graph, form: str, calls: int = 20, repeats: int = 5) -> tuple:
    """Seconds to derive (without invariants) and compile the per-edge model, and per evaluation on 64 members.

    The evaluation is the fastest of ``repeats`` runs of ``calls`` calls: on a shared machine
    the minimum is the least disturbed figure.
    """
    clear_cache()
    start = time.perf_counter()
    f = compile_rhs(derive_graph_mode_equations(graph, invariants=False, form=form))
    compiled = time.perf_counter() - start
    y = np.full((f.num_state, 64), 0.9)
    S = np.ones(64)
    f.batch_rhs(0.0, y, S)
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(calls):
            f.batch_rhs(0.0, y, S)
        best = min(best, (time.perf_counter() - start) / calls)
    return compiled, best


def _cells(node, sums, scale=1.0, digits=2) -> str:
    if sums is None:
        return f"{scale * node:.{digits}f} | - | -"
    return f"{scale * node:.{digits}f} | {scale * sums:.{digits}f} | {node / sums:.3f}"


def row(name, graph, limit, skip_path_sums) -> bool:
    """Print one row; True when the path sums of the rest of the family are to be skipped."""
    node = derive_and_export(graph, "node")
    node_compile, node_call = compile_and_call(graph, "node")
    sums = sums_compile = sums_call = None
    if not skip_path_sums and graph.paths_listed:
        sums = derive_and_export(graph, "path-sums")
        sums_compile, sums_call = compile_and_call(graph, "path-sums")
    print(f"| {name} | {len(graph.edges)} | {graph.num_paths:,} | {_cells(node, sums)} | {_cells(node_compile, sums_compile)} "
          f"| {_cells(node_call, sums_call, 1e6, 0)} |", flush=True)
    return skip_path_sums or (sums is not None and sums + sums_compile > limit)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller graphs")
    parser.add_argument("--path-sums-limit", type=float, default=60.0,
                        help="stop measuring the path sums of a family after a case takes longer (s; default 60)")
    args = parser.parse_args()
    print(f"# bench_graph_derive: {platform.processor() or platform.machine()}, python {platform.python_version()}, "
          f"load average {os.getloadavg()[0]:.1f} at start")
    for form in ("node", "path-sums"):  # first use of sympy's printers and lambdify: not part of any case
        derive_and_export(diamonds(1), form)
        compile_and_call(diamonds(1), form, calls=1, repeats=1)
    header = ("| graph | edges | paths | derive + export: node form (s) | path sums (s) | ratio "
              "| compile: node (s) | path sums (s) | ratio | rhs call: node (us) | path sums (us) | ratio |\n"
              "|---|---|---|---|---|---|---|---|---|---|---|---|")
    print("\n## time against paths: k diamonds in a row\n" + header)
    skip = False
    for k in ((1, 2, 4, 6, 8) if args.quick else (1, 2, 4, 6, 8, 10, 12)):
        skip = row(f"{k} diamonds", diamonds(k), args.path_sums_limit, skip)
    print("\n## time against edges\n" + header)
    skip = False
    cases = [("random DAG 10 nodes", random_dag(10, 25)), ("two streams crossing (AlexNet-like)", two_streams_crossing()),
             ("mouse visual cortex", GraphArchitecture.from_toml(EXAMPLES / "mouse_visual_cortex.toml")),
             ("random DAG 40 nodes", random_dag(40, 150))]
    if not args.quick:
        cases.append(("random DAG 100 nodes", random_dag(100, 500)))
    for name, graph in cases:
        skip = row(name, graph, args.path_sums_limit, skip)
    print(f"\n# load average {os.getloadavg()[0]:.1f} at the end")


if __name__ == "__main__":
    main()
