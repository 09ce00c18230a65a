"""Benchmark: the text printer of the exports against sympy's own ``str``, side by side.

:class:`pathdyn.theory.printers.PathdynTextPrinter` reads the sign of a matrix product off
its scalar coefficient; sympy's ``StrPrinter`` builds the product's negation to decide it.
Both print the same gradient-flow right-hand sides of one deep pathway, one after the
other in one run; the figures are the best of ``--repeat`` runs and their ratio. Prints
figures, never fails on time.

Run: ``.venv/bin/python benchmarks/bench_printers.py [--depth 50] [--equations 6] [--repeat 3]``.
"""

from __future__ import annotations

import argparse
import platform
import time

import sympy as sp

from pathdyn.theory.gradient_flow import derive_gradient_flow
from pathdyn.theory.printers import PathdynTextPrinter


def best_time(function, expressions, repeat: int) -> float:
    """The fastest of ``repeat`` runs of ``function`` over every expression, in seconds."""
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        for expr in expressions:
            function(expr)
        best = min(best, time.perf_counter() - start)
    return best


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--depth", type=int, default=50, help="depth of the single pathway")
    parser.add_argument("--equations", type=int, default=6, help="layers printed, spread over the depth")
    parser.add_argument("--repeat", type=int, default=3, help="runs per printer (the best is reported)")
    args = parser.parse_args(argv)
    flow = derive_gradient_flow((args.depth,))
    rhs = [r for *_, r in flow.equations()]
    step = max(1, len(rhs) // args.equations)
    expressions = rhs[::step][: args.equations]
    ours = PathdynTextPrinter().doprint
    print(f"# bench_printers: python {platform.python_version()}, sympy {sp.__version__}, {platform.machine()}")
    print(f"# {len(expressions)} right-hand sides of tau dW/dt of a depth-{args.depth} pathway; best of {args.repeat}")
    sympy_s = best_time(sp.sstr, expressions, args.repeat)
    ours_s = best_time(ours, expressions, args.repeat)
    print("printer | seconds | per equation (ms)")
    print(f"sympy sstr | {sympy_s:.3f} | {1e3 * sympy_s / len(expressions):.1f}")
    print(f"PathdynTextPrinter | {ours_s:.4f} | {1e3 * ours_s / len(expressions):.2f}")
    print(f"# sympy / PathdynTextPrinter: {sympy_s / ours_s:.0f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
