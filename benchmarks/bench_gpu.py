"""Speed of the PyTorch engine of simulate_gd against the device's memory bandwidth.

Prints figures measured side by side in one run; never asserts on time.

1. The device's bandwidth: a large device-to-device copy (read + write counted).
2. One gradient-descent step at width 16,384 (on a GPU; a smaller width on the CPU),
   two pathways of depth 7, the hierarchical data (P = 8), float32 and float64, with the
   engine's deferred updates (the default) and with every weight updated every step.
   The bound: every weight read twice, by the forward and by the backward product (at
   these widths a layer cannot stay in cache between the two), at the measured
   bandwidth. Target: the default engine within 2x of it. The plain update also reads and
   writes every weight: its own floor is twice as high, printed beside it.
3. The largest width that fits the device: from the engine's memory estimate
   (``estimate_device_memory``) and the device's free memory, then verified by
   allocating that network and taking one step (GPU only; on the CPU the figure is
   computed for this host and not allocated).
4. For information: the PyTorch engine on the CPU against the numpy engine at width
   1024, depth 7, one thread each, same weights.

Run: ``python benchmarks/bench_gpu.py`` (``--width``, ``--repeats``, ``--skip-largest``).
Needs PyTorch (``pip install 'pathdyn[gpu]'``).
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import statistics
import time

import numpy as np

from pathdyn.numerics.datasets import hierarchical_dataset
from pathdyn.validation.network.blas_threads import blas_threads
from pathdyn.validation.network import default_deferred_rank, initialize_weights, network_widths
from pathdyn.validation.network.engine import Engine
from pathdyn.validation.network.torch_engine import TorchEngine, _exact_float32, estimate_device_memory

DEPTHS = (7, 7)
GPU_WIDTH = 16384
CPU_WIDTH = 2048
COMPARE_WIDTH = 1024
#: Device memory left free beside the estimate: the CUDA context, allocator rounding, the
#: products' workspaces.
RESERVE_BYTES = 2 * 2**30
TARGET_RATIO = 2.0


def synchronize(torch, device):
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def median_seconds(torch, device, fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        synchronize(torch, device)
        start = time.perf_counter()
        fn()
        synchronize(torch, device)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def bandwidth(torch, device, nbytes: int, repeats: int) -> float:
    """Bytes per second of ``dst.copy_(src)`` on the device (read + write counted)."""
    src = torch.ones(nbytes // 4, dtype=torch.float32, device=device)
    dst = torch.empty_like(src)
    dst.copy_(src)
    seconds = median_seconds(torch, device, lambda: dst.copy_(src), repeats)
    return 2 * src.numel() * 4 / seconds


def device_network(torch, device, sizes, tdtype, seed=0, sigma=0.3):
    """Gaussian weights drawn on the device (the step's time does not depend on their values)."""
    generator = torch.Generator(device=device).manual_seed(seed)
    width = max(n for s in sizes for n in s[1:-1])
    weights = []
    for s in sizes:
        layers = []
        for d in range(len(s) - 1):
            w = torch.empty((s[d + 1], s[d]), dtype=tdtype, device=device)
            w.normal_(0.0, sigma / math.sqrt(width), generator=generator)
            layers.append(w)
        weights.append(layers)
    return weights


def weight_bytes(sizes, itemsize: int) -> int:
    return sum(s[d + 1] * s[d] for s in sizes for d in range(len(s) - 1)) * itemsize


def step_seconds(torch, engine, device, steps: int, repeats: int, eta: float = 1e-4) -> float:
    """Mean seconds per step over ``steps`` consecutive steps (whole fold cycles), median of repeats."""

    def run():
        for _ in range(steps):
            engine.forward()
            engine.backward_update(eta)

    run()  # warm up: the first fold cycle makes the buffers of the deferred products
    return median_seconds(torch, device, run, repeats) / steps


def bench_step(torch, device, width, data, band, repeats):
    P = data.num_samples
    sizes = network_widths(DEPTHS, data.n_in, data.n_out, width)
    rank = default_deferred_rank(width, P)
    steps = max(8, rank // P) if rank else 8
    print(f"\n## one step: width {width}, depths {DEPTHS}, P = {P} (hierarchical), {device}")
    print(f"{'dtype':<8} {'updates':<22} {'weights GB':>10} {'step ms':>9} {'bound ms':>9} {'ratio':>6}  floor of this method")
    for tdtype in (torch.float32, torch.float64):
        itemsize = torch.empty((), dtype=tdtype).element_size()
        nbytes = weight_bytes(sizes, itemsize)
        bound = 2 * nbytes / band
        for label, r in ((f"deferred, rank {rank}", rank), ("every step (rank 0)", 0)):
            weights = device_network(torch, device, sizes, tdtype)
            engine = TorchEngine(weights, data.X, data.Y, "linear", False, "mean", deferred_rank=r)
            seconds = step_seconds(torch, engine, device, steps, repeats)
            passes = 2 + (2 * P / r if r else 2)  # fold: read + write once per r / P steps
            if r == 0:
                verdict = ""
            elif device.type != "cuda":
                verdict = " (the 2x target is a GPU's)"
            else:
                verdict = " (target <= 2x: met)" if seconds / bound <= TARGET_RATIO else " (target <= 2x: NOT met)"
            print(f"{str(tdtype).replace('torch.', ''):<8} {label:<22} {nbytes / 1e9:>10.2f} {1e3 * seconds:>9.2f} "
                  f"{1e3 * bound:>9.2f} {seconds / bound:>6.2f}  {passes:.2f} passes: {1e3 * passes * nbytes / band:.2f} ms{verdict}")
            del engine, weights
            if device.type == "cuda":
                torch.cuda.empty_cache()


def largest_width(sizes_of, P, dtype, free_bytes) -> int:
    """The largest multiple of 256 whose network's estimate fits in ``free_bytes``."""
    low, high = 0, 1 << 22
    while high - low > 256:
        mid = (low + high) // 2 // 256 * 256
        fits = estimate_device_memory(sizes_of(mid), P, dtype, default_deferred_rank(mid, P)) <= free_bytes
        low, high = (mid, high) if fits else (low, mid)
    return low


def bench_largest(torch, device, data):
    P = data.num_samples

    def sizes_of(width):
        return network_widths(DEPTHS, data.n_in, data.n_out, width)

    print(f"\n## the largest width that fits, depths {DEPTHS}, float32 and float64")
    if device.type != "cuda":
        free = os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
        for dtype in (np.float32, np.float64):
            width = largest_width(sizes_of, P, dtype, max(free - RESERVE_BYTES, 0))
            print(f"{np.dtype(dtype).name}: {width} in this host's {free / 2**30:.1f} GiB available "
                  "(computed, not allocated: the GPU figures need a GPU)")
        return
    for dtype, tdtype in ((np.float32, torch.float32), (np.float64, torch.float64)):
        torch.cuda.empty_cache()
        free, total = torch.cuda.mem_get_info(device)
        width = largest_width(sizes_of, P, dtype, free - RESERVE_BYTES)
        estimate = estimate_device_memory(sizes_of(width), P, dtype, default_deferred_rank(width, P))
        print(f"{np.dtype(dtype).name}: free {free / 2**30:.1f} of {total / 2**30:.1f} GiB; largest width {width} "
              f"(estimate {estimate / 2**30:.1f} GiB, {RESERVE_BYTES / 2**30:.0f} GiB kept free)")
        try:
            weights = device_network(torch, device, sizes_of(width), tdtype)
            engine = TorchEngine(weights, data.X, data.Y, "linear", False, "mean",
                                 deferred_rank=default_deferred_rank(width, P))
            seconds = step_seconds(torch, engine, device, max(1, default_deferred_rank(width, P) // P), 1)
            held = torch.cuda.memory_allocated(device)
            print(f"  verified: allocated and stepped; {held / 2**30:.1f} GiB held (estimate {estimate / 2**30:.1f}), "
                  f"{1e3 * seconds:.1f} ms per step")
            del engine, weights
        except torch.cuda.OutOfMemoryError as error:
            print(f"  NOT verified: out of memory at width {width}: {str(error).splitlines()[0]}")
        torch.cuda.empty_cache()


def bench_cpu_side_by_side(torch, data, repeats):
    """The PyTorch engine on the CPU against the numpy engine: same weights, one thread each."""
    P = data.num_samples
    width = COMPARE_WIDTH
    print(f"\n## for information: PyTorch engine on the CPU against the numpy engine, width {width}, "
          f"depths {DEPTHS}, one thread")
    print(f"{'dtype':<8} {'numpy ms':>9} {'torch cpu ms':>13} {'torch / numpy':>14}")
    steps = max(8, default_deferred_rank(width, P) // P)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with blas_threads(1):
            for dtype in (np.float64, np.float32):
                _side_by_side(torch, data, width, dtype, steps, repeats)
    finally:
        torch.set_num_threads(threads)


def _side_by_side(torch, data, width, dtype, steps, repeats):
    """One dtype of :func:`bench_cpu_side_by_side`."""
    P = data.num_samples
    weights = initialize_weights(DEPTHS, data.n_in, data.n_out, width, seed=0, dtype=dtype)
    rank = default_deferred_rank(width, P)
    numpy_engine = Engine([[w.copy(order="F") for w in pw] for pw in weights], data.X, data.Y, "linear", False,
                           "mean", np.dtype(dtype), rank)
    eta = float(np.dtype(dtype).type(1e-4))

    def numpy_run():
        for _ in range(steps):
            numpy_engine.forward()
            numpy_engine.backward_update(eta)

    numpy_run()
    numpy_seconds = median_seconds(torch, torch.device("cpu"), numpy_run, repeats) / steps
    tdtype = torch.float64 if dtype == np.float64 else torch.float32
    device_weights = [[torch.tensor(np.ascontiguousarray(w), dtype=tdtype) for w in pw] for pw in weights]
    engine = TorchEngine(device_weights, data.X, data.Y, "linear", False, "mean", deferred_rank=rank)
    torch_seconds = step_seconds(torch, engine, torch.device("cpu"), steps, repeats)
    print(f"{np.dtype(dtype).name:<8} {1e3 * numpy_seconds:>9.2f} {1e3 * torch_seconds:>13.2f} "
          f"{torch_seconds / numpy_seconds:>14.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--width", type=int, default=None, help=f"step width (default {GPU_WIDTH} on a GPU, {CPU_WIDTH} on the CPU)")
    parser.add_argument("--repeats", type=int, default=5, help="timed repeats; figures are medians (default 5)")
    parser.add_argument("--skip-largest", action="store_true", help="skip the largest-width allocation")
    args = parser.parse_args()
    try:
        import torch
    except ImportError:  # skipped, not failed: `make bench` runs every benchmark and PyTorch is optional
        print("# bench_gpu: skipped; the PyTorch engine needs PyTorch: pip install 'pathdyn[gpu]'")
        return
    on_gpu = torch.cuda.is_available()
    device = torch.device("cuda" if on_gpu else "cpu")
    data = hierarchical_dataset()
    with _exact_float32(torch, None if on_gpu else 1), torch.no_grad():
        if on_gpu:
            name = torch.cuda.get_device_name(device)
            print(f"# bench_gpu on {name}, torch {torch.__version__}, CUDA {torch.version.cuda}")
            band = bandwidth(torch, device, 4 * 2**30, args.repeats)
        else:
            load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
            print(f"# bench_gpu on the CPU ({platform.machine()}, {os.cpu_count()} cores, load average {load:.2f}), "
                  f"torch {torch.__version__}: no CUDA GPU visible. The GPU figures (width {GPU_WIDTH}, the largest "
                  "width verified by allocating) need a GPU; this run measures the same engine on one CPU thread.")
            band = bandwidth(torch, device, 512 * 2**20, args.repeats)
        print(f"device-to-device copy: {band / 1e9:.1f} GB/s (read + write)")
        bench_step(torch, device, args.width or (GPU_WIDTH if on_gpu else CPU_WIDTH), data, band, args.repeats)
        if not args.skip_largest:
            bench_largest(torch, device, data)
        bench_cpu_side_by_side(torch, data, args.repeats)


if __name__ == "__main__":
    main()
