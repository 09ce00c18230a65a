"""Speed of the DMFT solver (issue 11). Prints figures and ratios; never asserts on time.

(a) A validation case: 2 pathways of depth 4, 4 modes (the default data, singular values
    2, 1.4, 0.9, 0.5), sigma = 0.5, t_max = 12. The DMFT prediction (continuous time,
    tol 1e-2, a conservative estimate; and discrete at eta = 0.02, 600 steps, exact for gradient descent at that
    rate) against gradient descent on ONE network of width 1024 of the same case
    (eta = 0.02, 600 steps), measured side by side in this run. Target: DMFT cheaper.
    The two pathways of this case are identical, so the solver solves one of them and
    copies it; the same case with the pathways made distinct (input norms differing by
    one part in 10^9, which changes nothing else) shows the cost when they differ.
(b) Scaling in the number of time points T of the discrete solver: T = 100, 200, 400, 800
    (one mode, depths 4,5, two distinct pathways); fitted exponent of time against T
    (``O(T^3)`` work once the per-row matrix-vector products dominate the Python overhead).
(c) Long training (issue 22): depths 3,3 and 4,4, 4 modes, sigma 0.5, eta 0.02, T = 300 to
    10,000 steps. The DMFT that holds ``K`` once every mode's error is below ``FREEZE``
    (``solve_dmft(..., freeze_below=FREEZE)``, within ``FREEZE`` of the full march by the
    bound in its Notes) against ONE network of width 1024 on the BLAS path
    (``PATHDYN_KERNELS=blas``), time and peak traced memory (``tracemalloc``) side by side
    at each T, with the ratios and the crossover (the first T where the DMFT costs more, if
    any). The full march (the reference) is timed too where it fits (T <= ``REFERENCE_UP_TO``),
    and the held march's distance from it is printed.

Run: ``.venv/bin/python benchmarks/bench_dmft.py [--only long] [--steps 300,1000,3000,10000]``.
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ["PATHDYN_KERNELS"] = "blas"  # the network on its BLAS path (issue 22's yardstick)

import argparse  # noqa: E402
import platform  # noqa: E402
import time  # noqa: E402
import tracemalloc  # noqa: E402

import numpy as np  # noqa: E402

from pathdyn.numerics.dmft import DMFTInitialOverlaps, solve_dmft, solve_dmft_flow  # noqa: E402
from pathdyn.validation.network import simulate_gd  # noqa: E402
from pathdyn.validation.sweep import default_dataset  # noqa: E402

DEPTHS = (4, 4)
SIGMA = 0.5
T_MAX = 12.0
ETA = 0.02
WIDTH = 1024
#: Long training: the held march's threshold on every mode's |e| (5e-5 of S_1 = 2).
FREEZE = 1e-4
LONG_DEPTHS = ((3, 3), (4, 4))
REFERENCE_UP_TO = 1000


def timed(fn):
    start = time.perf_counter()
    result = fn()
    return time.perf_counter() - start, result


def validation_case() -> None:
    dataset = default_dataset()
    S = dataset.singular_values
    steps = int(round(T_MAX / ETA))
    flow_s, flow = timed(lambda: solve_dmft_flow(DEPTHS, S, t_max=T_MAX, init_scale=SIGMA, tol=1e-2))
    discrete_s, discrete = timed(lambda: solve_dmft(DEPTHS, S, learning_rate=ETA, steps=steps, init_scale=SIGMA))
    distinct = DMFTInitialOverlaps(SIGMA**2 * np.array([[1.0] * S.size, [1.0 + 1e-9] * S.size]),
                                   np.full((2, S.size), SIGMA**2), np.zeros((2, S.size)))
    distinct_s, _ = timed(lambda: solve_dmft(DEPTHS, S, learning_rate=ETA, steps=steps, init_scale=SIGMA,
                                             initial_overlaps=distinct))
    network_s, network = timed(lambda: simulate_gd(DEPTHS, dataset, WIDTH, init="gaussian", init_scale=SIGMA,
                                                   learning_rate=ETA, steps=steps, seed=0))
    print(f"(a) depths {DEPTHS}, 4 modes, sigma {SIGMA}, t_max {T_MAX}")
    print(f"    DMFT continuous (tol 1e-2, {flow.stats['steps']} finest steps): {flow_s:8.2f} s  "
          f"(error estimate {flow.stats['error_estimate']:.1e})")
    print(f"    DMFT discrete at eta={ETA} ({steps} steps):                {discrete_s:8.2f} s")
    print(f"    DMFT discrete, pathways made distinct:                {distinct_s:8.2f} s")
    print(f"    one network, width {WIDTH}, eta={ETA} ({steps} steps):     {network_s:8.2f} s")
    print(f"    ratio network / DMFT continuous = {network_s / flow_s:.2f}; network / DMFT discrete = {network_s / discrete_s:.2f}; "
          f"network / DMFT discrete (distinct pathways) = {network_s / distinct_s:.2f}")
    gap = np.max(np.abs(network.K[-1] - discrete.K[-1])) / S[0]
    print(f"    (sanity: final |K_network - K_DMFT| / S_1 = {gap:.3f}, one seed)")


def scaling() -> None:
    sizes = (100, 200, 400, 800)
    times = []
    for steps in sizes:
        seconds, _ = timed(lambda: solve_dmft((4, 5), [2.0], learning_rate=T_MAX / steps, steps=steps, init_scale=SIGMA))
        times.append(seconds)
        print(f"(b) T = {steps:4d}: {seconds:7.2f} s")
    exponent = np.polyfit(np.log(sizes), np.log(times), 1)[0]
    last = np.log(times[-1] / times[-2]) / np.log(sizes[-1] / sizes[-2])
    print(f"    fitted exponent of time against T: {exponent:.2f}; from T = {sizes[-2]} to {sizes[-1]}: {last:.2f} "
          "(O(T^3) work; less while Python overhead per row dominates)")


def traced(fn):
    """``(seconds, peak traced bytes, result)`` of ``fn()`` (numpy's arrays are traced)."""
    tracemalloc.start()
    try:
        seconds, result = timed(fn)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    return seconds, peak, result


def long_training(steps_list) -> None:
    dataset = default_dataset()
    S = dataset.singular_values
    print(f"(c) long training: 4 modes, sigma {SIGMA}, eta {ETA}; DMFT held below |e| = {FREEZE:g} against one "
          f"network of width {WIDTH} (PATHDYN_KERNELS={os.environ['PATHDYN_KERNELS']}); load {load()}")
    print("    depths  steps  DMFT s  DMFT MB  marched  network s  network MB  network/DMFT time  memory   "
          "full march s  held - full")
    for depths in LONG_DEPTHS:
        crossover = None
        for steps in steps_list:
            def dmft():
                return solve_dmft(depths, S, learning_rate=ETA, steps=steps, init_scale=SIGMA, freeze_below=FREEZE)

            def network():
                return simulate_gd(depths, dataset, WIDTH, init="gaussian", init_scale=SIGMA, learning_rate=ETA,
                                   steps=steps, seed=0)

            # Timed untraced (tracing slows every allocation), then run again traced for the memory.
            dmft_s, held = timed(dmft)
            net_s, _ = timed(network)
            dmft_b = traced(dmft)[1]
            net_b = traced(network)[1]
            full = "", ""
            if steps <= REFERENCE_UP_TO:
                full_s, reference = timed(lambda: solve_dmft(depths, S, learning_rate=ETA, steps=steps, init_scale=SIGMA))
                full = f"{full_s:8.2f}", f"{np.max(np.abs(held.K - reference.K)):.1e}"
            if crossover is None and dmft_s >= net_s:
                crossover = steps
            print(f"    {depths}  {steps:6d}  {dmft_s:6.2f}  {dmft_b / 2**20:7.1f}  {held.stats['marched_steps']:7d}  "
                  f"{net_s:9.2f}  {net_b / 2**20:10.1f}  {net_s / dmft_s:17.1f}  {net_b / dmft_b:6.2f}   {full[0]:>12}  {full[1]:>11}")
        print(f"    {depths}: " + ("no crossover: the DMFT is cheaper at every T measured" if crossover is None
                                   else f"crossover: the DMFT costs as much as the network from T = {crossover}"))
    print(f"    load {load()}")


def load() -> str:
    try:
        with open("/proc/loadavg") as f:
            return " ".join(f.read().split()[:3])
    except OSError:
        return "unknown"


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", choices=("validation", "scaling", "long"), default=None)
    parser.add_argument("--steps", default="300,1000,3000,10000", help="T of part (c)")
    args = parser.parse_args()
    print(f"bench_dmft on {platform.processor() or platform.machine()}, numpy {np.__version__}, "
          f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, load {load()}")
    if args.only in (None, "validation"):
        validation_case()
    if args.only in (None, "scaling"):
        scaling()
    if args.only in (None, "long"):
        long_training([int(s) for s in args.steps.split(",")])
