"""Benchmark: derive and export the equations of 8 pathways with depths up to 50.

Target (issue 2): derive + export in all three formats (text, LaTeX, JSON) in under
5 s on the project's 2-core machine. Prints figures, never fails on time.

Each repetition starts from a cleared sympy cache, so the figures are cold-cache
times for one architecture (what a fresh ``pathdyn derive`` pays after import).
Run: ``.venv/bin/python benchmarks/bench_derive.py [--repeat 3]``.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import time

import sympy as sp
from sympy.core.cache import clear_cache

from pathdyn.theory.architecture import Architecture
from pathdyn.theory.export import DerivedEquations, export_equations, load_equations_json
from pathdyn.theory.gradient_flow import derive_gradient_flow
from pathdyn.theory.reduced import derive_qp_equations

ARCHITECTURES = {
    "spread 1..50": (1, 8, 15, 22, 29, 36, 43, 50),
    "all 50": (50,) * 8,
}
STEPS = ("gradient flow", "q/p modes", "text", "latex", "json")


def reference_workload() -> float:
    """Seconds for a fixed sympy workload, to express figures relative to this machine."""
    x, y, z = sp.symbols("x y z")
    clear_cache()
    start = time.perf_counter()
    sp.expand((1 + x + y + z) ** 12)
    return time.perf_counter() - start


def run_once(depths, whitened: bool, load: bool) -> dict:
    clear_cache()
    arch = Architecture(depths=depths, whitened=whitened)
    times, sizes = {}, {}
    start = time.perf_counter()
    flow = derive_gradient_flow(arch)
    times["gradient flow"] = time.perf_counter() - start
    start = time.perf_counter()
    modes = derive_qp_equations(arch)
    times["q/p modes"] = time.perf_counter() - start
    equations = DerivedEquations(arch, flow, modes)
    outputs = {}
    for fmt in ("text", "latex", "json"):
        start = time.perf_counter()
        outputs[fmt] = export_equations(equations, fmt)
        times[fmt] = time.perf_counter() - start
        sizes[fmt] = len(outputs[fmt])
    times["total"] = sum(times[s] for s in STEPS)
    if load:  # informational (not part of the target); slow for MB-sized exports
        start = time.perf_counter()
        load_equations_json(outputs["json"])
        times["load json"] = time.perf_counter() - start
    return {"times": times, "sizes": sizes}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3, help="repetitions per case (median reported)")
    args = parser.parse_args(argv)
    reference = statistics.median(reference_workload() for _ in range(3))
    print(f"# bench_derive: python {platform.python_version()}, sympy {sp.__version__}, {platform.machine()}")
    print(f"# reference sympy workload (expand (1+x+y+z)^12): {reference * 1e3:.0f} ms;"
          f" seconds are medians of {args.repeat} cold-cache runs (load json: one run)")
    header = ["architecture", "inputs", *STEPS, "total", "load json", "total/ref", "json MB"]
    print(" | ".join(header))
    worst = 0.0
    for name, depths in ARCHITECTURES.items():
        for whitened in (True, False):
            runs = [run_once(depths, whitened, load=(i == 0)) for i in range(args.repeat)]
            median = {k: statistics.median(r["times"][k] for r in runs if k in r["times"]) for k in runs[0]["times"]}
            worst = max(worst, median["total"])
            cells = [name, "whitened" if whitened else "general"]
            cells += [f"{median[s]:.2f}" for s in (*STEPS, "total", "load json")]
            cells += [f"{median['total'] / reference:.1f}", f"{runs[0]['sizes']['json'] / 1e6:.1f}"]
            print(" | ".join(cells))
    print(f"# slowest derive+export (all formats): {worst:.2f} s; target < 5 s: {'met' if worst < 5 else 'NOT met'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
