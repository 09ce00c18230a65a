"""The gradient-descent simulator on a PyTorch device (``simulate_gd(..., device="cuda")``).

The same training as the numpy engine of :mod:`pathdyn.validation.network` (same initial
weights, same data, same update order, same deferred low-rank updates, same records),
written with PyTorch so that it runs on a GPU, and on the CPU where PyTorch's CPU
backend tests the very same code. PyTorch is an optional dependency (the ``gpu`` extra);
nothing else in pathdyn imports it.

Everything a step touches stays on the device and is allocated once: weights, the thin
``(width, P)`` activations and gradients, the deferred factors, the per-step loss and the
recorded mode projections ``U^T Omega_a V``. The host copies back only the recorded
arrays and the final weights. The divergence test runs on the device too, and the host
reads its verdict every :data:`CHECK_EVERY` steps: only then does the host wait for the
device, which otherwise runs ahead of it through the queued steps.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import DTypeLike

from pathdyn.errors import ConfigError, SimulationError
from pathdyn.validation.network.engine import deferral_rank, is_deferred

if TYPE_CHECKING:  # types only: torch is imported on first use
    import torch

    from pathdyn._base.progress import Progress
    from pathdyn.numerics.datasets import Dataset
    from pathdyn.validation.network.recorder import Recorder

__all__ = ["NUMPY", "resolve_device", "TorchEngine", "train_on_device", "estimate_device_memory"]

#: The ``device`` value of the numpy engine (the default of ``simulate_gd``).
NUMPY = "numpy"
#: PyTorch device types this engine accepts.
DEVICE_TYPES = ("cpu", "cuda")
#: The host reads the device's divergence verdict every this many steps (one
#: synchronisation each); a run that diverges is stopped at most this many steps late,
#: and the error still names the first step that failed.
CHECK_EVERY = 64
_INSTALL = "install the gpu extra (pip install 'pathdyn[gpu]')"


def _import_torch():
    try:
        import torch
    except ImportError:
        return None
    return torch


def resolve_device(device: str) -> str:
    """Check a ``device`` option; return ``"numpy"`` or a PyTorch device string.

    Parameters
    ----------
    device : str
        ``"numpy"`` (the numpy engine), or a PyTorch device: ``"cpu"``, ``"cuda"``,
        ``"cuda:N"``.

    Returns
    -------
    str
        ``"numpy"``, ``"cpu"`` or ``"cuda:N"`` (``"cuda"`` becomes the current GPU).

    Raises
    ------
    ConfigError
        If the value is not a device, PyTorch is not installed, or no such GPU is visible.
    """
    if device == NUMPY:
        return NUMPY
    if not isinstance(device, str) or not device:
        raise ConfigError(f"device: {device!r} is not a device; use numpy (default), cpu or cuda")
    torch = _import_torch()
    if torch is None:
        raise ConfigError(f"device: {device!r} needs PyTorch, which is not installed; {_INSTALL} or use device numpy")
    try:
        parsed = torch.device(device)
    except (RuntimeError, ValueError):
        parsed = None
    if parsed is None or parsed.type not in DEVICE_TYPES:
        raise ConfigError(f"device: {device!r} is not a device; use numpy (default), cpu or cuda[:N]")
    if parsed.type == "cpu":
        return "cpu"
    if not torch.cuda.is_available():
        raise ConfigError(f"device: {device!r} but PyTorch sees no CUDA GPU (torch.cuda.is_available() is False); "
                          "use device numpy or cpu")
    index = torch.cuda.current_device() if parsed.index is None else parsed.index
    if index >= torch.cuda.device_count():
        raise ConfigError(f"device: {device!r} but only {torch.cuda.device_count()} CUDA GPU(s) are visible; "
                          f"use cuda:0 .. cuda:{torch.cuda.device_count() - 1}")
    return f"cuda:{index}"


def _torch_dtype(torch, dtype):
    return torch.float64 if np.dtype(dtype) == np.float64 else torch.float32


@contextlib.contextmanager
def _exact_float32(torch, threads):
    """Full-precision float32 products (no TF32) and ``threads`` CPU threads, restored afterwards."""
    precision = torch.get_float32_matmul_precision()
    count = torch.get_num_threads()
    torch.set_float32_matmul_precision("highest")
    if threads is not None:
        torch.set_num_threads(int(threads))
    try:
        yield
    finally:
        torch.set_float32_matmul_precision(precision)
        torch.set_num_threads(count)


class TorchEngine:
    """One network, or a stack of ``B`` networks, and its buffers on a PyTorch device.

    One GD step is :meth:`forward` then :meth:`backward_update`, in place, in the order of
    the numpy engine (each layer's backward product uses the weight before its update).
    A stack (weights of shape ``(B, out, in)``) steps ``B`` networks with batched products.
    Large layers hold their updates as ``W0 + A B^T`` with ``deferred_rank`` thin columns
    and fold them into ``W0`` every ``deferred_rank / P`` steps, as the numpy engine does:
    a rank-``P`` update reads and writes the whole weight, so deferring it takes a step
    from four passes over the weights (forward read, backward read, update read and
    write) to two plus the amortised fold.

    Parameters
    ----------
    weights : list of list of torch.Tensor
        ``weights[a][d]`` on the device, contiguous, shape ``(out, in)`` or ``(B, out, in)``.
    X, Y : ndarray
        Training data ``(n_in, P)``, ``(n_out, P)``.
    activation, activate_last, loss
        As :func:`pathdyn.validation.network.simulate_gd`.
    deferred_rank : int
        Rank of the deferred updates (0: update every weight every step).
    """

    def __init__(self, weights, X, Y, activation, activate_last, loss, deferred_rank=0):
        import torch


        self.torch = torch
        first = weights[0][0]
        self.device, self.tdtype = first.device, first.dtype
        self.W = weights
        self.lead = tuple(first.shape[:-2])  # () for one network, (B,) for a stack
        self.B = self.lead[0] if self.lead else 1
        self.X = torch.tensor(np.ascontiguousarray(X), dtype=self.tdtype, device=self.device)
        self.Y = torch.tensor(np.ascontiguousarray(Y), dtype=self.tdtype, device=self.device)
        # X once per network of a stack (tiny): batched products copy a stride-0 batch every call.
        self.X_stack = self.X.expand(self.lead + tuple(self.X.shape)).contiguous()
        self.P = int(X.shape[1])
        self.activation = activation
        self.activate_last = activate_last
        self.scale = 1.0 / self.P if loss == "mean" else 2.0
        self.z = [[self._zeros(W.shape[-2], self.P) for W in pw] for pw in weights]
        self.h = [[z if self._is_linear(d, len(za)) else torch.zeros_like(z) for d, z in enumerate(za)]
                  for za in self.z]
        self.G = [[torch.zeros_like(z) for z in za] for za in self.z]
        self.deriv = [[torch.zeros_like(z) for z in za] for za in self.z]
        self.out = self._zeros(*self.Y.shape)
        self.E = self._zeros(*self.Y.shape)
        self.E2 = self._zeros(*self.Y.shape)
        self.sq = torch.zeros(self.lead, dtype=self.tdtype, device=self.device)
        self.rank = deferral_rank(deferred_rank, self.P)
        self.deferred = [[None] * len(pw) for pw in weights]
        for a, pw in enumerate(weights):
            for d, W in enumerate(pw):
                if is_deferred(W.shape, self.rank):
                    self.deferred[a][d] = [self._zeros(W.shape[-2], self.rank), self._zeros(W.shape[-1], self.rank), 0]
        self._small = {}  # (columns used, thin width) -> buffer of the A (B^T h) products

    # ------------------------------------------------------------------ helpers
    def _zeros(self, rows, cols):
        return self.torch.zeros(self.lead + (rows, cols), dtype=self.tdtype, device=self.device)

    def _is_linear(self, d, depth) -> bool:
        return self.activation == "linear" or (d == depth - 1 and not self.activate_last)

    def _add_product(self, C, A, B, alpha=1.0):
        """``C += alpha A B`` in place (batched when the engine holds a stack)."""
        if C.dim() == 2:
            C.addmm_(A, B, alpha=alpha)
        else:
            C.baddbmm_(A, B, alpha=alpha)

    def _small_buffer(self, c, k):
        key = (c, k)
        if key not in self._small:  # at most rank / P sizes, all made in the first fold cycle
            self._small[key] = self._zeros(c, k)
        return self._small[key]

    def _apply(self, a, d, h, out, transpose=False):
        """``out = W h`` (or ``W^T h``) with the layer's effective weight ``W0 + A B^T``."""
        torch = self.torch
        W = self.W[a][d]
        torch.matmul(W.mT if transpose else W, h, out=out)
        lazy = self.deferred[a][d]
        if lazy is not None and lazy[2]:
            A, B, c = lazy
            left, right = (B, A) if transpose else (A, B)
            small = self._small_buffer(c, h.shape[-1])
            torch.matmul(right[..., :c].mT, h, out=small)
            self._add_product(out, left[..., :c], small)
        return out

    def _apply_deriv(self, G, a, d) -> None:
        """``G *= phi'(z_a^d)`` in place, written through the activation's output ``h``."""
        h, buf = self.h[a][d], self.deriv[a][d]
        if self.activation == "relu":
            self.torch.sign(h, out=buf)  # h = max(z, 0) >= 0: sign(h) is the indicator of z > 0
        else:
            self.torch.mul(h, h, out=buf)
            buf.neg_().add_(1.0)  # 1 - tanh(z)^2
        G.mul_(buf)

    def _activate(self, z, h):
        if h is not z:
            if self.activation == "relu":
                self.torch.clamp_min(z, 0, out=h)
            else:
                self.torch.tanh(z, out=h)
        return h

    # ------------------------------------------------------------------ step
    def forward(self) -> torch.Tensor:
        """Forward pass at the current weights; returns the device tensor ``||E||^2`` (shape lead).

        Returns
        -------
        torch.Tensor
            ``||E||^2`` on the device, one entry per network of a stack.
        """
        torch = self.torch
        for a, pw in enumerate(self.W):
            h = self.X
            for d in range(len(pw)):
                h = self._activate(self._apply(a, d, h, self.z[a][d]), self.h[a][d])
            if a == 0:
                self.out.copy_(h)
            else:
                self.out.add_(h)
        torch.sub(self.out, self.Y, out=self.E)
        torch.mul(self.E, self.E, out=self.E2)
        torch.sum(self.E2, dim=(-2, -1), out=self.sq)
        return self.sq

    def backward_update(self, eta: float) -> None:
        """Gradients from the last :meth:`forward` and ``W -= eta dL/dW``, in place.

        Parameters
        ----------
        eta : float
            The learning rate.
        """
        for a, pw in enumerate(self.W):
            D = len(pw)
            G = self.G[a][D - 1]
            self.torch.mul(self.E, self.scale, out=G)
            if self.activate_last and self.activation != "linear":
                self._apply_deriv(G, a, D - 1)
            for d in range(D - 1, -1, -1):
                h_in = self.X_stack if d == 0 else self.h[a][d - 1]
                G_prev = None
                if d > 0:
                    G_prev = self._apply(a, d, G, self.G[a][d - 1], transpose=True)
                    if self.activation != "linear":
                        self._apply_deriv(G_prev, a, d - 1)
                self._update(a, d, G, h_in, eta)
                G = G_prev

    def _update(self, a, d, G, h_in, eta):
        """``W <- W - eta G h_in^T``: fused into ``W`` or appended to the deferred factors."""
        lazy = self.deferred[a][d]
        if lazy is None:
            self._add_product(self.W[a][d], G, h_in.mT, alpha=-eta)
            return
        A, B, c = lazy
        P = self.P
        self.torch.mul(G, -eta, out=A[..., c:c + P])
        B[..., c:c + P].copy_(h_in)
        lazy[2] = c + P
        if lazy[2] == self.rank:
            self._fold(a, d)

    def _fold(self, a, d):
        lazy = self.deferred[a][d]
        if lazy is not None and lazy[2]:
            A, B, c = lazy
            self._add_product(self.W[a][d], A[..., :c], B[..., :c].mT)
            lazy[2] = 0

    def fold_all(self) -> None:
        """Fold every deferred update into the weights (``self.W`` is then exact)."""
        for a, pw in enumerate(self.W):
            for d in range(len(pw)):
                self._fold(a, d)

    def omega_times(self, a: int, V: torch.Tensor, buffers: Sequence[torch.Tensor]) -> torch.Tensor:
        """``Omega_a V`` through the effective weights (``buffers[d]`` receive each layer's product).

        Parameters
        ----------
        a : int
            0-based pathway index.
        V : torch.Tensor
            The vectors, on the device.
        buffers : list of torch.Tensor
            One output buffer per layer.

        Returns
        -------
        torch.Tensor
            ``Omega_a V``.
        """
        m = V
        for d in range(len(self.W[a])):
            m = self._apply(a, d, m, buffers[d])
        return m

    def host_weights(self) -> list:
        """Weights on the host, numpy layout: ``[a][d]`` (one network) or ``[seed][a][d]`` (a stack).

        Returns
        -------
        list
            Fortran-ordered numpy arrays.
        """
        arrays = [[W.cpu().numpy() for W in pw] for pw in self.W]
        if not self.lead:
            return [[np.asfortranarray(w) for w in pw] for pw in arrays]
        return [[[np.asfortranarray(w[b]) for w in pw] for pw in arrays] for b in range(self.B)]


class _DeviceRecorder:
    """``U^T Omega_a V`` and the loss at the record steps, written into device arrays."""

    def __init__(self, recorder, engine, T):
        torch = engine.torch
        f64 = dict(dtype=torch.float64, device=engine.device)
        self.engine = engine
        self.through_weights = not (recorder.activation != "linear" or recorder.full_row_rank)
        self.Ut = torch.tensor(recorder.Ut, **f64)
        self.XpV = torch.tensor(np.ascontiguousarray(recorder.XpV), **f64)
        self.V = torch.tensor(np.ascontiguousarray(recorder.V), dtype=engine.tdtype, device=engine.device)
        modes, lead = recorder.num_modes, engine.lead
        M = len(engine.W)
        cols = modes if self.through_weights else engine.P
        rows = engine.Y.shape[0]
        self.F64 = torch.zeros(lead + (rows, cols), **f64)
        self.UtF = torch.zeros(lead + (modes, cols), **f64)
        self.omega = [[engine._zeros(W.shape[-2], modes) for W in pw] for pw in engine.W] if self.through_weights else None
        # (T, M, B, modes, modes): each record's per-pathway block is contiguous.
        self.proj = torch.zeros((T, M, engine.B, modes, modes), **f64)
        self.loss = torch.zeros((T, engine.B), **f64)
        self.values = torch.zeros((engine.B,), **f64)

    def loss_values(self, sq):
        """``1/(2P) ||E||^2`` in float64, in the device buffer ``values`` (shape ``(B,)``)."""
        self.values.copy_(sq.reshape(-1))
        return self.values.mul_(0.5).div_(float(self.engine.P))  # a Python int would cost an allocation

    def record(self, t):
        torch, engine = self.engine.torch, self.engine
        self.loss[t].copy_(self.values)
        for a, pw in enumerate(engine.W):
            F = engine.omega_times(a, self.V, self.omega[a]) if self.through_weights else engine.h[a][len(pw) - 1]
            self.F64.copy_(F)
            torch.matmul(self.Ut, self.F64, out=self.UtF)
            target = self.proj[t, a].view(engine.lead + self.proj.shape[-2:])
            if self.through_weights:
                target.copy_(self.UtF)
            else:
                torch.matmul(self.UtF, self.XpV, out=target)


class _DivergenceWatch:
    """The numpy engine's divergence test (loss not finite or above ``limit``), kept on the device.

    Each step costs three tiny device operations and no synchronisation; :meth:`check`
    reads the verdict (one synchronisation) and names the first failing step and seed.
    """

    def __init__(self, torch, values0, limit, device):
        B = values0.shape[0]
        self.limit_host = limit
        self.limit = torch.tensor(limit, dtype=torch.float64, device=device)
        self.ok = torch.zeros((B,), dtype=torch.bool, device=device)
        self.all_ok = torch.ones((B,), dtype=torch.bool, device=device)
        self.ok_steps = torch.zeros((B,), dtype=torch.int64, device=device)
        self.ok_count = torch.zeros((B,), dtype=torch.int64, device=device)  # all_ok as 0/1, without a temporary
        self.history = torch.zeros((CHECK_EVERY, B), dtype=torch.float64, device=device)
        self.torch = torch

    def observe(self, step, values):
        torch = self.torch
        torch.le(values, self.limit, out=self.ok)  # False for NaN, infinity and > limit
        self.all_ok.logical_and_(self.ok)
        self.ok_count.copy_(self.all_ok)
        self.ok_steps.add_(self.ok_count)  # steps 1, 2, ... passed before the first failure
        self.history[step % CHECK_EVERY].copy_(values)

    def check(self, seeds, eta):
        if bool(self.all_ok.all()):
            return
        first = self.ok_steps.cpu().numpy() + 1
        bad = ~self.all_ok.cpu().numpy()
        step = int(first[bad].min())
        b = int(np.flatnonzero(bad & (first == step))[0])
        value = float(self.history[step % CHECK_EVERY, b])
        raise _diverged(step, seeds[b], value, self.limit_host[b], eta)


def _diverged(step, seed, value, limit, eta):
    return SimulationError(
        f"gradient descent diverged at step {step} (seed {seed}): loss {value:.3g} "
        f"{'is not finite' if not math.isfinite(value) else f'exceeds {limit:.3g}'}; "
        f"use a smaller learning_rate (e.g. {eta / 4:.3g})"
    )


def train_on_device(nets: Sequence[Sequence[Sequence[np.ndarray]]], dataset: Dataset, recorder: Recorder, *, device: str, dtype: np.dtype,
                    activation: str, activate_last: bool, loss: str, learning_rate: float, steps: int, record_steps: Sequence[int],
                    zero_loss: float, divergence_factor: float, deferred_rank: int | None, threads: int | None, seeds: Sequence[int],
                    bar: Progress) -> tuple[np.ndarray, np.ndarray, list, dict[str, Any]]:
    """Train ``nets`` (numpy weights, one network per seed) on a PyTorch device, stacked.

    Parameters
    ----------
    nets : list of list of list of ndarray
        ``nets[b][a][d]``, the initial weights of each seed.
    dataset : Dataset
    recorder : pathdyn.validation.network.recorder.Recorder
        The mode basis (``U``, ``V``, ``X^+ V``) of the numpy engine's records.
    device : str
        A device string from :func:`resolve_device` (not ``"numpy"``).
    seeds : list of int
        For error messages.
    bar : pathdyn._base.progress.Progress
    dtype, activation, activate_last, loss, learning_rate, steps, divergence_factor, deferred_rank, threads
        As :func:`pathdyn.validation.network.simulate_gd`.
    record_steps : list of int
        The steps recorded (the numpy engine's).
    zero_loss : float
        The loss of the zero network (the divergence limit's floor).

    Returns
    -------
    proj : ndarray (T, B, M, modes, modes)
        ``U^T Omega_a V`` at the record steps, float64.
    losses : ndarray (T, B)
    finals : list
        The final weights of each seed (numpy layout).
    stats : dict

    Raises
    ------
    SimulationError
        When the loss becomes NaN/infinite or exceeds the divergence limit.
    """
    import torch

    B = len(nets)
    tdtype = _torch_dtype(torch, dtype)
    with _exact_float32(torch, threads if device == "cpu" else None), torch.no_grad():
        weights = [
            [_to_device(torch, [net[a][d] for net in nets], tdtype, device) for d in range(len(nets[0][a]))]
            for a in range(len(nets[0]))
        ]
        engine = TorchEngine(weights, dataset.X, dataset.Y, activation, activate_last, loss, deferred_rank)
        records = _DeviceRecorder(recorder, engine, len(record_steps))
        eta = float(np.dtype(dtype).type(learning_rate))
        values = records.loss_values(engine.forward())
        values0 = values.cpu().numpy()
        limit = divergence_factor * np.maximum(values0, zero_loss)
        bad = ~np.isfinite(values0) | (values0 > limit)
        if bad.any():
            b = int(np.argmax(bad))
            raise _diverged(0, seeds[b], float(values0[b]), limit[b], learning_rate)
        watch = _DivergenceWatch(torch, values0, limit, engine.device)
        next_record = 0
        for step in range(steps + 1):
            if step:
                values = records.loss_values(engine.forward())
                watch.observe(step, values)
            if step == record_steps[next_record]:
                records.record(next_record)
                next_record += 1
            if step == steps or (step and step % CHECK_EVERY == 0):
                watch.check(seeds, learning_rate)
                bar.update(B * (step % CHECK_EVERY or CHECK_EVERY) if step else 0)
            if step == steps:
                break
            engine.backward_update(eta)
        engine.fold_all()
        proj = records.proj.permute(0, 2, 1, 3, 4).cpu().numpy()
        losses = records.loss.cpu().numpy()
        finals = engine.host_weights()
    if not engine.lead:
        finals = [finals]
    stats = {
        "engine": f"torch:{device}",
        "deferred_layers": sum(x is not None for row in engine.deferred for x in row),
        "torch": torch.__version__,
    }
    return proj, losses, finals, stats


def _to_device(torch, arrays, tdtype, device):
    """One layer of every seed as a device tensor: ``(out, in)`` for one seed, ``(B, out, in)`` for several."""
    host = arrays[0] if len(arrays) == 1 else np.stack(arrays)
    return torch.tensor(np.ascontiguousarray(host), dtype=tdtype, device=device)  # a copy: never the caller's


def estimate_device_memory(sizes: Sequence[Sequence[int]], P: int, dtype: DTypeLike, deferred_rank: int = 0, batch: int = 1) -> int:
    """Bytes a :class:`TorchEngine` holds on the device (weights, deferred factors, thin buffers).

    Parameters
    ----------
    sizes : list of list of int
        Layer sizes per pathway, ``[n_in, N_1, ..., n_out]`` (as ``network_widths``).
    P : int
        Number of samples.
    dtype : float64 or float32
    deferred_rank : int
        As the engine's (the layers it defers hold two ``(side, rank)`` factors).
    batch : int
        Networks in the stack.

    Returns
    -------
    int
        The estimate; PyTorch's allocator rounds each block up a little and the CUDA
        context takes a few hundred MB of its own.

    Notes
    -----
    Per layer of shape ``(out, in)``: ``out * in`` weights, four thin ``(out, P)`` buffers
    (pre-activation, activation, gradient, derivative) and, when deferred, ``(out + in) r``.
    """

    itemsize = np.dtype(dtype).itemsize
    rank = deferral_rank(deferred_rank, P)
    count = 0
    for s in sizes:
        for d in range(len(s) - 1):
            out_, in_ = s[d + 1], s[d]
            count += out_ * in_ + 4 * out_ * P
            if is_deferred((out_, in_), rank):
                count += (out_ + in_) * rank
    return int(count * batch * itemsize)
