"""The driver of finite-width gradient descent: :func:`simulate_gd`.

Part of :mod:`pathdyn.validation.network` (import from there).
"""

from __future__ import annotations

import math
import numbers
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Sequence

import numpy as np
from numpy.typing import ArrayLike, DTypeLike

from pathdyn._base.checks import check_memory, is_whole_number
from pathdyn.errors import ConfigError, SimulationError
from pathdyn.numerics.alignment import input_alignment
from pathdyn.numerics.datasets import Dataset, as_dataset
from pathdyn.numerics.trajectory import Trajectory
from pathdyn.theory.architecture import Architecture
from pathdyn.validation.network.blas_threads import blas_threads
from pathdyn.validation.network.engine import (
    PARALLEL_MIN_WIDTH,
    STACK_MAX_WIDTH,
    Engine,
    StackEngine,
    default_deferred_rank,
)
from pathdyn.validation.network.init import draw_weights, init_sigma
from pathdyn.validation.network.recorder import Recorder
from pathdyn.validation.network.spec import (
    ACTIVATIONS,
    DEFAULT_INIT_SCALE,
    DIVERGENCE_FACTOR,
    INITS,
    LOSSES,
    check_dtype,
    check_seed,
    NetworkSpec,
)
from pathdyn.io.weight_files import check_weights
from pathdyn._base.progress import Progress
from pathdyn.validation.network.torch_engine import NUMPY, resolve_device, train_on_device


def _check_run_memory(sizes, dataset, records: int, batch: int, dtype) -> None:
    """Refuse before allocating a run that cannot fit (weights, gradients, activations, records)."""
    itemsize = np.dtype(dtype).itemsize
    weights = sum(s[d] * s[d + 1] for s in sizes for d in range(len(s) - 1))
    activations = sum(n for s in sizes for n in s) * dataset.num_samples
    modes = min(dataset.n_in, dataset.n_out)
    # per record: the projection U^T Omega_a V, the loss, t and step (and the record list itself)
    record_bytes = records * (batch * (len(sizes) * modes * modes + 1) + 4) * 8
    # current weights and one gradient per layer, the final weights kept per seed, activations forward and back
    needed = itemsize * (3 * weights * batch + 2 * activations) + record_bytes
    check_memory(f"a network of {weights:,} weights with {batch} seed(s) and {records:,} records",
                 needed, "use a smaller width, fewer seeds or a larger record_every")


def simulate_gd(
    architecture: Architecture | Sequence[int] | str,
    dataset: Dataset | str,
    width: int | Sequence[int | Sequence[int]] | None = None,
    *,
    init: str = "gaussian",
    init_scale: float | None = None,
    activation: str = "linear",
    learning_rate: float,
    steps: int,
    record_every: int = 1,
    seed: int = 0,
    seeds: Sequence[int] | None = None,
    weights: Sequence[Sequence[ArrayLike]] | None = None,
    dtype: DTypeLike = np.float64,
    loss: str = "mean",
    activate_last: bool = False,
    progress: bool = False,
    divergence_factor: float = DIVERGENCE_FACTOR,
    deferred_rank: int | None = None,
    threads: int | None = 1,
    stack: bool | None = None,
    device: str = "numpy",
) -> Trajectory:
    """Train a finite-width multi-pathway network by full-batch gradient descent.

    Parameters
    ----------
    architecture : Architecture, sequence of int or str
        Depth of each pathway (``n_in``, ``n_out`` come from the dataset).
    dataset : Dataset or str
        Training data, or a name for :func:`pathdyn.numerics.datasets.dataset_from_spec`.
    width : int or sequence
        Hidden width ``N`` (see :func:`network_widths`).
    init, init_scale : see :func:`initialize_weights`.
    activation : {"linear", "relu", "tanh"}
        Activation of the hidden layers.
    learning_rate : float
        ``eta > 0``.
    steps : int
        Number of gradient-descent steps (>= 0).
    record_every : int
        Record at steps ``0, k, 2k, ...`` and always at the last step.
    seed : int
        Seed of the initial weights (ignored when ``weights`` is given).
    seeds : sequence of int, optional
        Several independent networks (one per seed) in one call; the result then has a
        batch axis: ``K`` of shape ``(T, len(seeds), M, modes)``, ``loss`` ``(T, len(seeds))``.
    weights : list of list of ndarray, optional
        Initial weights ``weights[a][d]`` (layout of :func:`initialize_weights`),
        overriding ``init``; copied, never modified.
    dtype : float64 (default) or float32
    loss : {"mean", "paper"}
        ``mean``: ``L = 1/(2P) sum ||y - f(x)||^2`` and ``t = eta * step``;
        ``paper``: ``sum ||y - f(x)||^2`` (no 1/2, no 1/P) and ``t = 2 P eta step``.
    activate_last : bool
        Also apply the activation after each pathway's last layer (the paper's code).
    progress : bool
        Draw a progress bar on standard error (only on a terminal).
    divergence_factor : float
        Stop as diverged when the loss exceeds this factor times
        ``max(initial loss, loss of the zero network)``.
    deferred_rank : int, optional
        Rank ``r`` of the deferred weight updates of large layers (a speed setting: the
        layer is held as ``W0 + A B^T`` and folded every ``r / P`` steps; the same
        gradient-descent iterates up to rounding). ``0`` updates every weight every step;
        ``None`` (default) picks ``8 P`` when the hidden width is at least ``32 P``, else 0.
    threads : int or None
        Cores to use (default 1; networks narrower than :data:`PARALLEL_MIN_WIDTH` always
        use one). With several pathways (and no stacking) they go to the
        pathways first: up to ``M`` pathways run in parallel Python threads, each with
        single-threaded BLAS; what is left goes to BLAS. The result agrees with
        ``threads=1`` up to rounding (about 1e-10 relative in float32 was measured): the
        deferred folds run on multi-threaded BLAS, whose sums are split per thread count
        and CPU, so the same bits are not promised. The BLAS thread count is set on every loaded OpenBLAS and restored
        afterwards (:mod:`pathdyn.validation.network.blas_threads`); ``None`` leaves BLAS alone.
    stack : bool or None
        Step all seeds together as one stack of networks (``numpy.matmul`` over a leading
        axis; faster at small widths, where each BLAS call's fixed cost dominates) instead
        of one network after another with fused BLAS updates. ``None`` (default) stacks
        when every layer is at most :data:`STACK_MAX_WIDTH` wide. The choice depends on
        the widths, not on the number of seeds, so ``seeds=[s]``, ``seed=s`` and member
        ``s`` of a larger batch give bit-identical results.
    device : str
        ``"numpy"`` (default): the numpy engine on the CPU. A PyTorch device, ``"cuda"``,
        ``"cuda:N"`` or ``"cpu"``: the PyTorch engine (:mod:`pathdyn.validation.network.torch_engine`,
        the ``gpu`` extra) on that device, all seeds stacked; the same initial weights,
        updates and records, equal to the numpy engine's up to rounding. ``threads`` sets
        PyTorch's CPU threads on ``"cpu"``; ``stack`` does not apply.

    Returns
    -------
    Trajectory
        ``t`` (T,), ``step`` (T,), ``K`` (T, [batch,] M, modes) the diagonal of
        ``U^T Omega_a V`` with ``U, S, V^T = dataset.modes()`` restricted to the modes with
        ``S_alpha > 0`` (the rank of ``Sigma_yx``); ``loss`` the loss of
        docs/theory.md, *Notation and loss*, ``1/(2P) sum ||y - f(x)||^2``, whatever ``loss`` was
        minimised; ``extras["UtOmegaV"]`` (T, [batch,] M, modes, modes) the full
        projection; ``extras["final_weights"]`` the final weights (for a batch, a list
        over seeds); ``extras["singular_values"]``; ``extras["input_variances"]`` and
        ``extras["misalignment"]`` of the data (:func:`pathdyn.numerics.alignment.input_alignment`);
        ``provenance`` every setting.

    Raises
    ------
    ConfigError, ArchitectureError, DatasetError
        Bad settings or data.
    SimulationError
        When the loss becomes NaN/infinite or explodes; the message suggests a smaller
        learning rate.

    Examples
    --------
    >>> from pathdyn.numerics.datasets import random_dataset
    >>> data = random_dataset([2.0, 1.0], seed=0)
    >>> run = simulate_gd((2, 3), data, 64, learning_rate=0.01, steps=300, record_every=100)
    >>> run.K.shape, run.t.tolist()
    ((4, 2, 2), [0.0, 1.0, 2.0, 3.0])
    >>> batch = simulate_gd((2, 3), data, 32, learning_rate=0.01, steps=10, seeds=[0, 1, 2])
    >>> batch.K.shape  # (records, seeds, pathways, modes)
    (11, 3, 2, 2)

    Notes
    -----
    For a nonlinear pathway ``Omega_a = F_a(X) X^+``: its response to the training inputs
    mapped back through them (for linear pathways and inputs of full row rank this is
    exactly ``W_a^{D_a} ... W_a^1``; with rank-deficient inputs linear pathways use the
    weight product). Memory is the weights plus thin ``(width, P)`` buffers and the
    records; no history of weights is kept. The same seed gives bit-identical results
    (for a fixed BLAS thread count).
    """
    dataset = as_dataset(dataset)
    _check_settings(init=init, activation=activation, loss=loss, learning_rate=learning_rate,
                    divergence_factor=divergence_factor, steps=steps, threads=threads, deferred_rank=deferred_rank,
                    record_every=record_every, activate_last=activate_last, seeds=seeds, weights=weights)

    device = resolve_device(device)
    dtype = check_dtype(dtype)
    spec = NetworkSpec.build(architecture, dataset.n_in, dataset.n_out, width)
    seed_list = _seed_list(seed, seeds)
    initial = None if weights is None else check_weights(weights, spec.sizes, dtype)
    if deferred_rank is None:
        deferred_rank = default_deferred_rank(spec.widest_hidden, dataset.num_samples)
    _check_run_memory(spec.sizes, dataset, steps // record_every + 2, len(seed_list), dtype)
    settings = _Settings(activation, activate_last, loss, learning_rate, int(steps), divergence_factor,
                         deferred_rank, threads, dtype, device)
    record_steps = _record_steps(steps, record_every)
    recorder = Recorder(dataset, activation, dtype)
    alignment = input_alignment(dataset)
    sigma = None if initial is not None else init_sigma(init, init_scale)

    def start(s):
        return initial if initial is not None else draw_weights(spec, init, sigma, s, dtype)

    started = time.perf_counter()
    stacked = spec.widest <= STACK_MAX_WIDTH if stack is None else bool(stack)
    trained = _train(start, seed_list, spec, dataset, recorder, record_steps, settings, stacked, progress)
    batch = seeds is not None
    time_per_step = _time_per_step(learning_rate, loss, dataset.num_samples)
    provenance = _provenance(spec, settings, dataset, init=init if weights is None else "weights",
                             init_scale=DEFAULT_INIT_SCALE.get(init) if init_scale is None else init_scale,
                             record_every=record_every, seeds=seed_list if batch else None,
                             seed=None if (batch or weights is not None) else seed_list[0], time_per_step=time_per_step)
    return _trajectory(trained, batch, steps, record_steps, time_per_step, recorder, alignment, provenance,
                       {"wall_time_s": time.perf_counter() - started, "steps": int(steps) * len(seed_list)})


def _trajectory(trained, batch, steps, record_steps, time_per_step, recorder, alignment, provenance, stats) -> Trajectory:
    """The :class:`Trajectory` of a run from what :func:`_train` returned (``stats`` go first)."""
    proj, losses, finals, engine_stats = trained
    K = np.diagonal(proj, axis1=-2, axis2=-1).copy()
    if not batch:
        K, proj, losses = K[:, 0], proj[:, 0], losses[:, 0]
    steps_arr = np.array(record_steps, dtype=np.int64)
    return Trajectory(
        t=steps_arr * time_per_step,
        K=K,
        loss=losses,
        success=True,
        message=f"completed {steps} gradient-descent steps",
        step=steps_arr,
        extras={
            "UtOmegaV": proj,
            "final_weights": finals if batch else finals[0],
            "singular_values": np.array(recorder.singular_values, dtype=float),
            # what a comparison with a per-mode theory needs to know about the inputs
            "input_variances": alignment.input_variances,
            "misalignment": alignment.misalignment,
        },
        stats={**stats, **engine_stats},
        provenance=provenance,
    )


@dataclass(frozen=True)
class _Settings:
    """The checked settings of one :func:`simulate_gd` call that the training loop reads."""

    activation: str
    activate_last: bool
    loss: str
    learning_rate: float
    steps: int
    divergence_factor: float
    deferred_rank: int
    threads: int | None
    dtype: np.dtype
    device: str


def _check_settings(*, init, activation, loss, learning_rate, divergence_factor, steps, threads, deferred_rank,
                    record_every, activate_last, seeds, weights) -> None:
    """Raise one :class:`ConfigError` naming every bad scalar setting of :func:`simulate_gd`."""
    problems = []
    for name, value, choices in (("init", init, INITS), ("activation", activation, ACTIVATIONS), ("loss", loss, LOSSES)):
        if value not in choices:
            problems.append(f"{name}: unknown value {value!r}; choose one of {', '.join(choices)}")
    for name, value in (("learning_rate", learning_rate), ("divergence_factor", divergence_factor)):
        if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value) or value <= 0:
            problems.append(f"{name}: {value!r} is not a finite number > 0; use a positive value, e.g. {name}=0.005")
    if not is_whole_number(steps) or steps < 0:
        problems.append(f"steps: {steps!r} is not a whole number >= 0")
    if threads is not None and (not is_whole_number(threads) or threads < 1):
        problems.append(f"threads: {threads!r} is not a whole number >= 1")
    if deferred_rank is not None and (not is_whole_number(deferred_rank) or deferred_rank < 0):
        problems.append(f"deferred_rank: {deferred_rank!r} is not a whole number >= 0")
    if not is_whole_number(record_every) or record_every < 1:
        problems.append(f"record_every: {record_every!r} is not a whole number >= 1")
    if not isinstance(activate_last, bool):
        problems.append(f"activate_last: expected True or False, got {activate_last!r}")
    if seeds is not None and weights is not None:
        problems.append("seeds and weights: give one; weights fix a single initial network")
    if problems:
        raise ConfigError("; ".join(problems))


def _seed_list(seed, seeds) -> list:
    """The checked seeds of the run: ``seeds`` when given, else ``[seed]``."""
    if seeds is None:
        return [check_seed(seed)]
    if isinstance(seeds, (str, bytes)) or not isinstance(seeds, (list, tuple, range, np.ndarray)):
        raise ConfigError(f"seeds: {seeds!r} is not a list of seeds; give e.g. seeds=[0, 1, 2] (or seed=5 for one network)")
    seed_list = [check_seed(s) for s in seeds]
    if not seed_list:
        raise ConfigError("seeds: empty list; give at least one seed")
    return seed_list


def _record_steps(steps: int, record_every: int) -> list:
    """Steps ``0, k, 2k, ...`` and always the last step."""
    record_steps = list(range(0, steps + 1, record_every))
    if record_steps[-1] != steps:
        record_steps.append(steps)
    return record_steps


def _time_per_step(learning_rate: float, loss: str, P: int) -> float:
    """Theory time per step: ``eta`` for the mean loss, ``2 P eta`` for the paper's summed loss."""
    return learning_rate * (2 * P if loss == "paper" else 1)


def _share_cores(threads, widest: int, num_paths: int, stacked: bool, on_numpy: bool) -> tuple:
    """``(pathway workers, BLAS threads)`` for ``threads`` cores."""
    if threads is not None and threads >= 2 and widest < PARALLEL_MIN_WIDTH:
        return 1, 1  # thread start-up and hand-over cost more than the work
    if threads is not None and threads >= 2 and num_paths >= 2 and not stacked and on_numpy:
        # Cores go to pathways first: each pathway's thin products on its own core with
        # single-threaded BLAS (OpenBLAS's own threads handle thin products badly).
        workers = min(threads, num_paths)
        return workers, max(1, threads // workers)
    return 1, threads


def _train(start, seed_list, spec, dataset, recorder, record_steps, settings, stacked, progress) -> tuple:
    """Train every seed's network on the chosen engine; return ``(proj, losses, finals, engine stats)``."""

    T, B, M, modes = len(record_steps), len(seed_list), len(spec.sizes), recorder.num_modes
    proj = np.zeros((T, B, M, modes, modes))
    losses = np.zeros((T, B))
    zero_loss = 0.5 * float(np.sum(dataset.Y**2)) / dataset.num_samples
    workers, blas_count = _share_cores(settings.threads, spec.widest, M, stacked, settings.device == NUMPY)
    pool = ThreadPoolExecutor(max_workers=workers) if workers > 1 else None
    try:
        with blas_threads(blas_count), Progress(settings.steps * B, "simulate", enabled=None if progress else False) as bar:
            loop = (proj, losses, zero_loss, bar)
            if settings.device != NUMPY:
                return _train_on_device(start, seed_list, dataset, recorder, record_steps, settings, loop)
            if stacked:
                finals = _train_stacked(start, seed_list, spec, dataset, recorder, record_steps, settings, loop)
                return proj, losses, finals, _numpy_stats("stack", workers, blas_count, None)
            finals, engine = _train_one_by_one(start, seed_list, dataset, recorder, record_steps, settings, loop,
                                               pool, workers * blas_count)
            return proj, losses, finals, _numpy_stats("blas", workers, blas_count, engine)
    finally:
        if pool is not None:
            pool.shutdown()


def _train_on_device(start, seed_list, dataset, recorder, record_steps, settings, loop) -> tuple:
    """All seeds stacked on a PyTorch device (:func:`pathdyn.validation.network.torch_engine.train_on_device`)."""

    proj, losses, zero_loss, bar = loop
    s = settings
    proj[:], losses[:], finals, device_stats = train_on_device(
        [start(seed) for seed in seed_list], dataset, recorder, device=s.device, dtype=s.dtype, activation=s.activation,
        activate_last=s.activate_last, loss=s.loss, learning_rate=s.learning_rate, steps=s.steps,
        record_steps=record_steps, zero_loss=zero_loss, divergence_factor=s.divergence_factor,
        deferred_rank=s.deferred_rank, threads=s.threads, seeds=seed_list, bar=bar)
    return proj, losses, finals, device_stats


def _train_stacked(start, seed_list, spec, dataset, recorder, record_steps, settings, loop) -> list:
    """All seeds as one stack of networks (:class:`StackEngine`); return the final weights per seed."""
    proj, losses, zero_loss, bar = loop
    nets = [start(s) for s in seed_list]
    stacks = [[np.stack([net[a][d] for net in nets]) for d in range(len(sizes) - 1)] for a, sizes in enumerate(spec.sizes)]
    del nets
    s = settings
    engine = StackEngine(stacks, dataset.X, dataset.Y, s.activation, s.activate_last, s.loss, s.dtype)
    _run(engine, recorder, s.learning_rate, s.steps, record_steps, proj, losses, zero_loss, s.divergence_factor, bar,
         seed_list)
    return engine.unstack()


def _train_one_by_one(start, seed_list, dataset, recorder, record_steps, settings, loop, pool, cores) -> tuple:
    """One :class:`Engine` per seed, one after another; return the final weights and the last engine."""
    proj, losses, zero_loss, bar = loop
    s = settings
    finals = []
    for b, seed in enumerate(seed_list):
        engine = Engine(start(seed), dataset.X, dataset.Y, s.activation, s.activate_last, s.loss, s.dtype,
                         s.deferred_rank)
        engine.run_pathways_on(pool, cores)
        _run(engine, recorder, s.learning_rate, s.steps, record_steps, proj[:, b:b + 1], losses[:, b:b + 1],
             zero_loss, s.divergence_factor, bar, [seed])
        engine.fold_all()
        engine.run_pathways_on(None)
        finals.append(engine.W)
    return finals, engine


def _numpy_stats(kind: str, workers: int, blas_count, engine) -> dict:
    """What the numpy engine did: its kind, threads, the layers it deferred or ran through the C kernels, and their path."""
    return {
        "engine": kind,
        "pathway_workers": workers,
        "blas_threads": blas_count,
        "deferred_layers": 0 if engine is None else engine.deferred_layers(),
        "kernel_layers": 0 if engine is None else engine.kernel_layers(),
        # which variant of the C kernels ran them (their bits differ from BLAS's by rounding)
        "kernel_path": "blas" if engine is None or not engine.kernel_layers() else engine.kernel_path,
    }


def _provenance(spec, settings, dataset, *, init, init_scale, record_every, seeds, seed, time_per_step) -> dict:
    """Every setting of a run, as :attr:`Trajectory.provenance` records it."""
    s = settings
    return {
        "depths": list(spec.depths),
        "layer_sizes": spec.layer_sizes,
        "width": spec.provenance_width,
        "init": init,
        "init_scale": init_scale,
        "activation": s.activation,
        "activate_last": s.activate_last,
        "learning_rate": float(s.learning_rate),
        "steps": int(s.steps),
        "record_every": int(record_every),
        "seeds": seeds,
        "seed": seed,
        "dtype": s.dtype.name,
        "deferred_rank": int(s.deferred_rank),
        "threads": s.threads,
        "loss": s.loss,
        "time_per_step": time_per_step,
        "dataset": dataset.name,
        "n_in": dataset.n_in,
        "n_out": dataset.n_out,
        "num_samples": dataset.num_samples,
        "numpy": np.__version__,
        "device": s.device,
    }


def _run(engine, recorder, eta, steps, record_steps, proj, losses, zero_loss, factor, bar, seeds):
    """Train an engine's network(s) in place, filling ``proj`` (T, B, M, modes, modes) and ``losses`` (T, B)."""
    P = engine.P
    stacked = isinstance(engine, StackEngine)
    eta_cast = float(engine.dtype.type(eta))
    next_record = 0
    limit = None
    with np.errstate(over="ignore", invalid="ignore"):
        for step in range(steps + 1):
            values = 0.5 * np.atleast_1d(engine.forward()) / P
            if limit is None:
                limit = factor * np.maximum(values, zero_loss)
            bad = ~np.isfinite(values) | (values > limit)
            if bad.any():
                b = int(np.argmax(bad))
                value = float(values[b])
                raise SimulationError(
                    f"gradient descent diverged at step {step} (seed {seeds[b]}): loss {value:.3g} "
                    f"{'is not finite' if not math.isfinite(value) else f'exceeds {limit[b]:.3g}'}; "
                    f"use a smaller learning_rate (e.g. {eta / 4:.3g})"
                )
            if step == record_steps[next_record]:
                losses[next_record] = values
                projection = recorder.project(engine)
                proj[next_record] = projection if stacked else projection[None]
                next_record += 1
            if step == steps:
                break
            engine.backward_update(eta_cast)
            bar.update(len(seeds))
