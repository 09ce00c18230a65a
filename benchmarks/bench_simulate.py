"""Speed of the finite-width gradient-descent step (prints figures; never asserts on time).

1. This machine: streaming memory bandwidth (a large array copy) and the
   matrix-multiply rate (square gemm through scipy's BLAS, which the simulator uses).
2. Width 4096, depth 7, two pathways, the hierarchical data (P = 8): the lower bound of
   one step, max(memory: every weight read and written once; arithmetic: the step's
   flops at the measured gemm rate), against the achieved time per step, with the C
   kernels (validation/network/_kernels.c, the variant this CPU takes) and with BLAS doing
   every product. benchmarks/bench_kernels.py compares the products and a step with JAX too.
3. Width 1000, two pathways of depth 2, 3, 4, 7: time per step against a straightforward
   PyTorch implementation (nn.Linear, autograd, SGD) when torch is importable.
Both float64 and float32, with 1 and 2 threads.

Run: ``python benchmarks/bench_simulate.py [--quick]``. Machines are shared and noisy:
figures are medians over repeats, and ratios are taken within one run.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time

import numpy as np
from scipy.linalg import blas

from pathdyn.numerics.datasets import hierarchical_dataset
from pathdyn.validation.network import kernels
from pathdyn.validation.network.blas_threads import blas_threads
from pathdyn.validation.network import default_deferred_rank, initialize_weights
from pathdyn.validation.network.engine import Engine

DTYPES = (np.float64, np.float32)
_WEIGHTS: dict = {}


def cpu_name() -> str:
    """The CPU's model name (Linux), else what platform knows."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def median_time(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def memory_bandwidth(megabytes: int = 512, repeats: int = 5) -> float:
    """Bytes per second of ``np.copyto`` on a large array (read + write counted)."""
    src = np.ones(megabytes * 2**20 // 8)
    dst = np.empty_like(src)
    np.copyto(dst, src)
    seconds = median_time(lambda: np.copyto(dst, src), repeats)
    return 2 * src.nbytes / seconds


def gemm_rate(dtype, n: int = 2048, repeats: int = 3) -> float:
    """Flops per second of a square ``n x n`` gemm through scipy's BLAS."""
    gemm = blas.dgemm if dtype == np.float64 else blas.sgemm
    rng = np.random.default_rng(0)
    a = np.asfortranarray(rng.standard_normal((n, n)).astype(dtype))
    c = np.zeros_like(a, order="F")
    gemm(1.0, a, a, c=c, overwrite_c=1)
    seconds = median_time(lambda: gemm(1.0, a, a, c=c, overwrite_c=1), repeats)
    return 2 * n**3 / seconds


def step_cost(sizes, P: int, itemsize: int) -> tuple:
    """(bytes of all weights, flops of one GD step) for layer sizes ``sizes[a] = [n_in, ..., n_out]``."""
    weight_bytes, flops = 0, 0
    for s in sizes:
        for d in range(len(s) - 1):
            out_, in_ = s[d + 1], s[d]
            weight_bytes += out_ * in_ * itemsize
            flops += 2 * out_ * in_ * P * (3 if d > 0 else 2)  # forward, backward (not layer 1), update
    return weight_bytes, flops


def pathdyn_step_time(depths, width, dtype, steps: int, repeats: int, workers: int = 1, use_kernels=None) -> float:
    """Mean seconds per step (over ``steps`` consecutive steps, a whole number of folds), median of repeats."""
    data = hierarchical_dataset()
    P = data.num_samples
    key = (tuple(depths), width, np.dtype(dtype).name)
    if key not in _WEIGHTS:  # drawn once; the tiny steps taken in timing do not matter
        _WEIGHTS.clear()
        _WEIGHTS[key] = initialize_weights(depths, data.n_in, data.n_out, width, init_scale=0.3, seed=0, dtype=dtype)
    weights = _WEIGHTS[key]
    engine = Engine(weights, data.X, data.Y, "linear", False, "mean", np.dtype(dtype), default_deferred_rank(width, P),
                     use_kernels=use_kernels)
    eta = float(np.dtype(dtype).type(1e-4))
    if workers > 1:  # pathways on parallel Python threads, single-threaded BLAS each
        from concurrent.futures import ThreadPoolExecutor

        engine.run_pathways_on(ThreadPoolExecutor(max_workers=workers), workers)

    def run():
        for _ in range(steps):
            engine.forward()
            engine.backward_update(eta)

    run()  # warm up (first touches, buffers)
    if workers > 1:
        with blas_threads(1):
            seconds = median_time(run, repeats) / steps
        engine.pool.shutdown()
        return seconds
    return median_time(run, repeats) / steps


def torch_step_time(torch, depths, width, dtype, steps: int, repeats: int) -> float:
    """The same training as the paper's code does it: nn.Linear layers, autograd, SGD."""
    data = hierarchical_dataset()
    tdtype = torch.float64 if dtype == np.float64 else torch.float32
    torch.manual_seed(0)

    class Net(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.pathways = torch.nn.ModuleList()
            for depth in depths:
                dims = [data.n_in] + [width] * (depth - 1) + [data.n_out]
                layers = [torch.nn.Linear(dims[i], dims[i + 1], bias=False) for i in range(depth)]
                self.pathways.append(torch.nn.Sequential(*layers))

        def forward(self, x):
            return sum(p(x) for p in self.pathways)

    net = Net().to(tdtype)
    x = torch.tensor(data.X.T, dtype=tdtype)
    y = torch.tensor(data.Y.T, dtype=tdtype)
    optimizer = torch.optim.SGD(net.parameters(), lr=1e-4)
    P = data.num_samples

    def run():
        for _ in range(steps):
            optimizer.zero_grad()
            loss = ((net(x) - y) ** 2).sum() / (2 * P)
            loss.backward()
            optimizer.step()

    run()
    return median_time(run, repeats) / steps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="fewer repeats, smaller bound case (width 2048)")
    args = parser.parse_args()
    big = 2048 if args.quick else 4096
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"# bench_simulate on {platform.machine()}, {os.cpu_count()} cores, load average {load:.2f} "
          f"(other jobs share this machine; figures are medians, compare ratios within this run)")
    try:
        import torch
    except ImportError:
        torch = None
        print("# torch is not installed: the PyTorch comparison is skipped (pip install torch to run it)")
    print(f"# CPU: {cpu_name()}; C kernel path for the thin products: {kernels.path()} (this CPU runs: "
          f"{', '.join(kernels.supported())}" + ("" if kernels.available() else
          "; no kernel: no C compiler at install, a CPU without AVX2, or PATHDYN_KERNELS=blas") + ")")

    rounds = 2 if args.quick else 3
    for threads in (1, 2):
        with blas_threads(threads):
            if torch is not None:
                torch.set_num_threads(threads)
            print(f"\n## {threads} thread(s): " + ("BLAS single-threaded" if threads == 1 else
                  "pathdyn runs the 2 pathways on 2 threads with 1-thread BLAS (what threads=2 does); "
                  "PyTorch uses 2 intra-op threads"))
            for dtype in DTYPES:
                name = np.dtype(dtype).name
                sizes = [[8] + [big] * 6 + [15]] * 2
                weight_bytes, flops = step_cost(sizes, 8, np.dtype(dtype).itemsize)
                # Interleave: each round measures bandwidth, gemm rate and both step variants
                # back to back, so each ratio compares figures taken under the same load.
                rows = []
                for _ in range(rounds):
                    bandwidth = memory_bandwidth(repeats=3)
                    rate = gemm_rate(dtype, repeats=2)
                    achieved = pathdyn_step_time((7, 7), big, dtype, steps=8, repeats=1, workers=threads)
                    plain = pathdyn_step_time((7, 7), big, dtype, steps=8, repeats=1, workers=threads,
                                              use_kernels=False)
                    t_mem, t_flop = 2 * weight_bytes / bandwidth, flops / rate
                    bound = max(t_mem, t_flop)
                    rows.append((bandwidth, rate, t_mem, t_flop, bound, achieved, plain, achieved / bound, plain / bound))
                med = [statistics.median(col) for col in zip(*rows)]
                bandwidth, rate, t_mem, t_flop, bound, achieved, plain, ratio, plain_ratio = med
                print(f"{name}, width {big}, depth 7, 2 pathways (median of {rounds} interleaved rounds): "
                      f"bandwidth {bandwidth / 1e9:.1f} GB/s, gemm {rate / 1e9:.1f} GFLOP/s -> bound "
                      f"{1e3 * bound:.0f} ms/step (memory {1e3 * t_mem:.0f}, arithmetic {1e3 * t_flop:.0f}); "
                      f"achieved {1e3 * achieved:.0f} ms = {ratio:.2f} x bound "
                      f"[per-round ratios {', '.join(f'{r[7]:.2f}' for r in rows)}]; "
                      f"BLAS for every product instead: {1e3 * plain:.0f} ms = {plain_ratio:.2f} x")
                for depth in (2, 3, 4, 7):
                    ours, theirs = [], []
                    for _ in range(rounds + 1):  # interleaved too
                        ours.append(pathdyn_step_time((depth, depth), 1000, dtype, steps=16, repeats=1, workers=threads))
                        if torch is not None:
                            theirs.append(torch_step_time(torch, (depth, depth), 1000, dtype, steps=16, repeats=1))
                    line = f"  {name}, width 1000, depths {depth},{depth}: pathdyn {1e3 * statistics.median(ours):.2f} ms/step"
                    if torch is not None:
                        speedups = [t / o for t, o in zip(theirs, ours)]
                        line += (f", PyTorch {1e3 * statistics.median(theirs):.2f} ms/step, "
                                 f"speed-up {statistics.median(speedups):.2f} x (per round "
                                 f"{', '.join(f'{s:.2f}' for s in speedups)})")
                    print(line, flush=True)


if __name__ == "__main__":
    main()
