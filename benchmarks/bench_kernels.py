"""The C kernels against BLAS, and one gradient-descent step against JAX and PyTorch, per CPU.

Prints, for float32 and float64 at widths 1000 and 4096 (one thread throughout):

1. The two thin products of a wide layer (``W h`` forward, ``W^T G`` backward; 8 samples)
   as the simulator runs them, through each C kernel variant this CPU runs, divided by the
   time of the simulator's BLAS path for the same product (``PATHDYN_KERNELS=blas``), and
   the same ratio for the path the package takes here (``kernels.path()``). A ratio above 1
   for the taken path would mean the package is slower than BLAS on this CPU.
2. One GD step of a two-pathway network (default depths 3,3: one wide layer per pathway):
   pathdyn (the path it takes), pathdyn with BLAS for every product, a jitted JAX step
   (``jax.grad``, parameters donated) and plain PyTorch (``nn.Linear``, autograd, ``SGD``),
   with the speed-ups of pathdyn over each.

Every figure is a median over rounds; within a round every contender runs once, in an
order that rotates from round to round, so that the load of a shared machine falls on all
alike. The load average is printed before and after. JAX and PyTorch are optional and
only for this comparison (``pip install '.[bench]'`` installs JAX; PyTorch comes with the
``gpu`` extra or its CPU wheel); a missing one is skipped and said so.

Run: ``python benchmarks/bench_kernels.py [--rounds 7] [--depths 3,3] [--widths 1000,4096]``.
"""

from __future__ import annotations

import argparse
import os

# One thread everywhere, before numpy, JAX or PyTorch start their thread pools.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("XLA_FLAGS", "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1")

import platform  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402

from pathdyn.numerics.datasets import hierarchical_dataset  # noqa: E402
from pathdyn.validation.network import default_deferred_rank, initialize_weights, kernels  # noqa: E402
from pathdyn.validation.network.blas_threads import blas_threads  # noqa: E402
from pathdyn.validation.network.engine import Engine  # noqa: E402

DTYPES = (np.float32, np.float64)
ETA = 1e-4


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


def load() -> float:
    return os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")


def timed(fn, calls: int) -> float:
    """Seconds per call of ``fn`` over ``calls`` back-to-back calls."""
    start = time.perf_counter()
    for _ in range(calls):
        fn()
    return (time.perf_counter() - start) / calls


def interleaved(contenders: dict, calls: dict, rounds: int) -> dict:
    """Median seconds per call of each contender; every round runs each once, in rotating order."""
    names = list(contenders)
    for name in names:  # warm up: first touches, JIT compilation, buffers
        contenders[name]()
    times = {name: [] for name in names}
    for r in range(rounds):
        for name in names[r % len(names):] + names[:r % len(names)]:
            times[name].append(timed(contenders[name], calls[name]))
    return {name: statistics.median(t) for name, t in times.items()}


# --------------------------------------------------------------------------- the products
def product_contenders(width: int, dtype) -> dict:
    """``{(path, "forward" | "backward"): one product}`` for each path this CPU runs."""
    data = hierarchical_dataset()
    weights = initialize_weights((3, 3), data.n_in, data.n_out, width, init_scale=0.3, seed=0, dtype=dtype)
    rng = np.random.default_rng(1)
    h = np.asfortranarray(rng.standard_normal((width, data.num_samples)).astype(dtype))
    out = np.zeros_like(h, order="F")
    contenders = {}
    for path in kernels.supported():
        engine = Engine(weights, data.X, data.Y, "linear", False, "mean", np.dtype(dtype), 0, use_kernels=path)
        assert engine.kernel_layers() == (0 if path == "blas" else 2)
        contenders[(path, "forward")] = lambda e=engine: e._apply(0, 1, h, out)
        contenders[(path, "backward")] = lambda e=engine: e._apply(0, 1, h, out, transpose=True)
    return contenders


def report_products(width: int, dtype, rounds: int) -> list:
    """Print the product ratios; return those of the path the package takes."""
    contenders = product_contenders(width, dtype)
    calls = max(2, int(3e8 / (2 * width * width * 8)))  # about 0.3 GFLOP per measurement
    med = interleaved(contenders, dict.fromkeys(contenders, calls), rounds)
    taken = kernels.path()
    ratios = []
    for side in ("forward", "backward"):
        blas = med[("blas", side)]
        parts = [f"BLAS {1e3 * blas:.3f} ms"]
        for path in kernels.supported()[1:]:
            ratio = med[(path, side)] / blas
            parts.append(f"{path} {1e3 * med[(path, side)]:.3f} ms = {ratio:.2f} x BLAS")
        ratios.append(med[(taken, side)] / blas)
        print(f"  {np.dtype(dtype).name:7s} width {width:5d} {side:8s} ({'W h' if side == 'forward' else 'W^T G'}): "
              f"{'; '.join(parts)}; taken ({taken}): {ratios[-1]:.2f} x BLAS", flush=True)
    return ratios


# --------------------------------------------------------------------------- one GD step
def pathdyn_step(depths, width: int, dtype, use_kernels):
    data = hierarchical_dataset()
    weights = initialize_weights(depths, data.n_in, data.n_out, width, init_scale=0.3, seed=0, dtype=dtype)
    engine = Engine(weights, data.X, data.Y, "linear", False, "mean", np.dtype(dtype),
                     default_deferred_rank(width, data.num_samples), use_kernels=use_kernels)
    eta = float(np.dtype(dtype).type(ETA))

    def step():
        engine.forward()
        engine.backward_update(eta)
    return step


def layer_shapes(depths, width: int):
    """``[[(out, in) per layer] per pathway]`` of the benchmark's network."""
    data = hierarchical_dataset()
    shapes = []
    for depth in depths:
        dims = [data.n_in] + [width] * (depth - 1) + [data.n_out]
        shapes.append([(dims[i + 1], dims[i]) for i in range(depth)])
    return shapes


def jax_step(jax, depths, width: int, dtype):
    """A jitted GD step of the same network and loss (``sum((y - Y)^2) / (2P)``), parameters donated."""
    jnp = jax.numpy
    data = hierarchical_dataset()
    key = jax.random.PRNGKey(0)
    params = []
    for pathway in layer_shapes(depths, width):
        layers = []
        for shape in pathway:
            key, sub = jax.random.split(key)
            layers.append(jax.random.normal(sub, shape, dtype=dtype) * (0.3 / np.sqrt(shape[1])))
        params.append(layers)
    X, Y, P = jnp.asarray(data.X, dtype=dtype), jnp.asarray(data.Y, dtype=dtype), data.num_samples

    def loss(ps):
        out = 0
        for layers in ps:
            h = X
            for W in layers:
                h = W @ h
            out = out + h
        return jnp.sum((out - Y) ** 2) / (2 * P)

    update = jax.jit(lambda ps: jax.tree_util.tree_map(lambda w, g: w - ETA * g, ps, jax.grad(loss)(ps)),
                     donate_argnums=0)
    state = [params]

    def step():
        state[0] = update(state[0])
        jax.block_until_ready(state[0])
    return step


def torch_step(torch, depths, width: int, dtype):
    """Plain PyTorch: ``nn.Linear`` layers without bias, autograd, ``SGD``; the same loss."""
    data = hierarchical_dataset()
    tdtype = torch.float64 if dtype == np.float64 else torch.float32
    torch.manual_seed(0)
    pathways = torch.nn.ModuleList(
        torch.nn.Sequential(*[torch.nn.Linear(i, o, bias=False) for o, i in pathway])
        for pathway in layer_shapes(depths, width)).to(tdtype)
    x = torch.tensor(data.X.T, dtype=tdtype)
    y = torch.tensor(data.Y.T, dtype=tdtype)
    optimizer = torch.optim.SGD(pathways.parameters(), lr=ETA)
    P = data.num_samples

    def step():
        optimizer.zero_grad()
        loss = ((sum(p(x) for p in pathways) - y) ** 2).sum() / (2 * P)
        loss.backward()
        optimizer.step()
    return step


def report_step(depths, width: int, dtype, rounds: int, jax, torch) -> None:
    contenders = {f"pathdyn ({kernels.path()})": pathdyn_step(depths, width, dtype, None)}
    if kernels.available():
        contenders["pathdyn (blas)"] = pathdyn_step(depths, width, dtype, False)
    if jax is not None:
        contenders["JAX jit"] = jax_step(jax, depths, width, dtype)
    if torch is not None:
        contenders["PyTorch"] = torch_step(torch, depths, width, dtype)
    steps = max(2, int(1e9 / (width * width * 8 * np.dtype(dtype).itemsize)))  # 20-60 ms a measurement
    med = interleaved(contenders, dict.fromkeys(contenders, steps), rounds)
    ours = med[next(iter(contenders))]
    parts = [f"{name} {1e3 * t:.2f} ms" + ("" if t is ours else f" ({t / ours:.2f} x)") for name, t in med.items()]
    print(f"  {np.dtype(dtype).name:7s} width {width:5d} depths {','.join(map(str, depths))}: "
          f"{'; '.join(parts)}", flush=True)


def optional(name: str):
    try:
        module = __import__(name)
    except ImportError:
        print(f"# {name} is not installed: its step is skipped (JAX: pip install '.[bench]'; PyTorch: the gpu extra)")
        return None
    if name == "jax":
        module.config.update("jax_enable_x64", True)
    return module


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=7, help="interleaved rounds per figure (default 7)")
    parser.add_argument("--depths", default="3,3", help="depths of the two pathways in the step (default 3,3)")
    parser.add_argument("--widths", default="1000,4096", help="comma-separated widths (default 1000,4096)")
    args = parser.parse_args()
    depths = tuple(int(d) for d in args.depths.split(","))
    widths = [int(w) for w in args.widths.split(",")]
    print(f"# bench_kernels on {cpu_name()} ({platform.machine()}, {os.cpu_count()} cores), one thread; "
          f"load average {load():.2f} at the start")
    print(f"# kernel paths this CPU runs: {', '.join(kernels.supported())}; the package takes: {kernels.path()} "
          f"(PATHDYN_KERNELS={os.environ.get('PATHDYN_KERNELS', '')!r})")
    jax, torch = optional("jax"), optional("torch")
    if torch is not None:
        torch.set_num_threads(1)
    taken = []
    with blas_threads(1):
        print(f"\n## thin products (8 samples), medians of {args.rounds} interleaved rounds")
        for dtype in DTYPES:
            for width in widths:
                taken += report_products(width, dtype, args.rounds)
        print(f"\n## one GD step, medians of {args.rounds} interleaved rounds; (x) = time / pathdyn's")
        for dtype in DTYPES:
            for width in widths:
                report_step(depths, width, dtype, args.rounds, jax, torch)
    print(f"\n# worst ratio of the taken path ({kernels.path()}) to BLAS: {max(taken):.2f} "
          f"({'at most 1' if max(taken) <= 1 else 'ABOVE 1: slower than BLAS here'}); "
          f"load average {load():.2f} at the end")


if __name__ == "__main__":
    main()
