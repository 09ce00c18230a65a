"""The gradient-descent engines of a finite-width network, and the plain reference gradients.

:class:`Engine` steps one network in place (fused BLAS updates, C kernels for wide
layers, deferred low-rank updates); :class:`StackEngine` steps a stack of small networks
together. :func:`loss_and_gradients` is the plain reference they are tested against.
Part of :mod:`pathdyn.validation.network` (import public names from there).
"""

from __future__ import annotations

from concurrent.futures import Executor
from typing import Any

import numpy as np

from pathdyn.errors import SimulationError
from pathdyn.validation.network import kernels
from pathdyn.validation.network.blas_threads import blas_threads
from pathdyn.validation.network.spec import ACTIVATIONS, LOSSES, check_choice

#: Below this width ``threads > 1`` is ignored: one thread is faster (measured at width
#: 256, depths 3,3: two pathway threads 5x slower than one; 2-thread BLAS worse still).
PARALLEL_MIN_WIDTH = 512
#: float32 forward products of layers at least this wide run as gemv over column blocks
#: of FORWARD_BLOCK_COLUMNS columns.
FORWARD_BLOCKS_MIN_WIDTH = 2048
FORWARD_BLOCK_COLUMNS = 64
#: Products with layers whose both sides are at least this wide go through the C kernels
#: (pathdyn.validation.network.kernels) when they are built and the block has at most 8 columns
#: (measured, one thread, both products and both dtypes: the avx512 variant on a Zen 5 at
#: width 1000 and up faster than BLAS, 1.5-4x at width 4096, at 512 the forward product a
#: little slower; the avx2 variant on a Zen 3 from width 768 up 1.6-4x faster).
KERNEL_MIN_WIDTH = 768
#: Networks whose layers are all at most this wide are stepped as a stack over seeds
#: (measured, 10 seeds, depths 3,3: stacking 1.5x faster at width 32, even at 64,
#: 3x slower at 128).
STACK_MAX_WIDTH = 48


# --------------------------------------------------------------------------- reference maths
def _act(name, z):
    if name == "linear":
        return z
    if name == "relu":
        return np.maximum(z, 0)
    return np.tanh(z)


def _act_grad(name, z):
    if name == "linear":
        return np.ones_like(z)
    if name == "relu":
        return (z > 0).astype(z.dtype)
    return 1 - np.tanh(z) ** 2


def _activate_into(activation, z, out):
    """``phi(z)`` written into ``out`` and returned; ``out is z`` for linear layers (no copy)."""
    if out is not z:
        if activation == "relu":
            np.maximum(z, 0, out=out)
        else:
            np.tanh(z, out=out)
    return out


def loss_and_gradients(weights: list[list], X: np.ndarray, Y: np.ndarray, activation: str = "linear",
                       loss: str = "mean", activate_last: bool = False) -> tuple[float, list]:
    """Loss and exact gradients, written plainly (a reference; :func:`simulate_gd` is the fast path).

    Parameters
    ----------
    weights : list of list of ndarray
        ``weights[a][d]`` as in :func:`initialize_weights`.
    X, Y : ndarray, shapes (n_in, P), (n_out, P)
    activation : {"linear", "relu", "tanh"}
    loss : {"mean", "paper"}
        ``mean``: ``L = 1/(2P) sum_i ||y_i - f(x_i)||^2`` (docs/theory.md, *Notation and loss*);
        ``paper``: ``sum_i ||y_i - f(x_i)||^2`` (the paper's ``MSELoss(reduction='sum')``).
    activate_last : bool
        Apply the activation after each pathway's last layer too (the paper's code).

    Returns
    -------
    loss : float
    gradients : list of list of ndarray, the layout of ``weights``.
    """
    check_choice("activation", activation, ACTIVATIONS)
    check_choice("loss", loss, LOSSES)
    P = X.shape[1]
    caches = []
    out = np.zeros_like(Y, dtype=float)
    for path_w in weights:
        h, zs, hs = X, [], [X]
        for d, W in enumerate(path_w):
            z = W @ h
            last = d == len(path_w) - 1
            h = _act(activation, z) if (not last or activate_last) else z
            zs.append(z)
            hs.append(h)
        caches.append((zs, hs))
        out = out + h
    E = out - Y
    if loss == "mean":
        value, scale = 0.5 * np.sum(E * E) / P, 1.0 / P
    else:
        value, scale = np.sum(E * E), 2.0
    grads = []
    for path_w, (zs, hs) in zip(weights, caches):
        D = len(path_w)
        G = scale * E
        if activate_last:
            G = G * _act_grad(activation, zs[-1])
        g_path = [None] * D
        for d in range(D - 1, -1, -1):
            g_path[d] = G @ hs[d].T
            if d > 0:
                G = (path_w[d].T @ G) * _act_grad(activation, zs[d - 1])
        grads.append(g_path)
    return float(value), grads


# --------------------------------------------------------------------------- engines
def default_deferred_rank(hidden_width: int, P: int) -> int:
    """Rank of the deferred updates (``deferred_rank=None``): ``8 P`` (a fold every 8 steps)
    when the widest hidden layer has at least ``32 P`` units, else 0 (update every step).

    Parameters
    ----------
    hidden_width : int
        Width of the widest hidden layer.
    P : int
        Number of samples.

    Returns
    -------
    int
        The rank (0: no deferral).
    """
    return 8 * P if hidden_width >= 32 * P else 0


def deferral_rank(deferred_rank: int, P: int) -> int:
    """The rank the engines use for ``deferred_rank``: whole ``P``-column updates, at least two; else 0 (off).

    Parameters
    ----------
    deferred_rank : int
        The rank asked for.
    P : int
        Number of samples.

    Returns
    -------
    int
        The largest multiple of ``P`` not above ``deferred_rank`` when it is at least
        ``2 P``, else 0.
    """
    r = int(deferred_rank)
    return r - r % P if r >= 2 * P else 0


def is_deferred(shape: tuple, rank: int) -> bool:
    """Whether a layer of this ``(out, in)`` shape holds deferred updates of ``rank`` (both sides >= 4 rank;
    narrower layers update as cheaply in place).

    Parameters
    ----------
    shape : tuple of int
        The layer's shape (a leading stack axis is allowed).
    rank : int
        The deferral rank (0: off).

    Returns
    -------
    bool
        Whether the layer defers its updates.
    """
    return bool(rank) and min(shape[-2:]) >= 4 * rank


def _blas(dtype):
    from scipy.linalg import blas

    return blas.dgemm if dtype == np.float64 else blas.sgemm


def _kernel_path_for(use_kernels) -> str:
    """The kernel path an engine takes: ``None`` the process's (:func:`kernels.path`),
    ``False`` ``"blas"``, ``True`` the process's or else the widest variant the CPU runs,
    a path name that path (to compare variants in one process)."""
    if use_kernels is None:
        return kernels.path()
    if isinstance(use_kernels, str):
        if use_kernels not in kernels.supported():
            raise SimulationError(f"internal: kernel path {use_kernels!r} does not run here ({kernels.supported()})")
        return use_kernels
    if not use_kernels:
        return "blas"
    return kernels.path() if kernels.available() else kernels.supported()[-1]


class Engine:
    """One network's weights and reusable buffers; one GD step is :meth:`forward` then
    :meth:`backward_update`, in place.

    The two thin products of a wide layer (``W h`` forward, ``W^T G`` backward; at most 8
    samples) go through the C kernels of :mod:`pathdyn.validation.network.kernels` when they are
    built: they stream ``W`` once, where BLAS ``gemm`` first packs it (2-4x slower at
    width 4096). Every other large product goes through BLAS ``gemm`` with preallocated
    Fortran outputs, so no weight-sized temporary is ever created. Updates are fused into ``gemm`` with
    ``beta = 1`` writing into the weight itself. For large layers the rank-``P`` updates
    ``-eta G h^T`` are deferred: the layer is held as ``W0 + A B^T`` with thin ``A``, ``B``
    (``deferred_rank`` columns) and folded into ``W0`` by one rank-``r`` ``gemm`` every
    ``r / P`` steps. That ``gemm`` runs near the machine's matrix-multiply rate, while a
    rank-``P`` update streams the whole weight (read and write) at the slow rate of a thin
    product, every step. Products with ``W0 + A B^T`` add ``A (B^T h)`` (cost ``~ 4 N r P``).
    """

    def __init__(self, weights, X, Y, activation, activate_last, loss, dtype, deferred_rank=0, backward_as_row=None,
                 forward_by_blocks=None, use_kernels=None):
        for pw in weights:
            for W in pw:
                if not (W.flags.f_contiguous and W.dtype == dtype):
                    raise SimulationError("internal: weights must be Fortran-ordered arrays of the run's dtype")
        self.dtype = dtype
        self.gemm = _blas(dtype)
        self.W = weights
        self.X = np.asfortranarray(X, dtype=dtype)
        self.Y = np.asfortranarray(Y, dtype=dtype)
        self.P = X.shape[1]
        self.activation = activation
        self.activate_last = activate_last
        self.scale = 1.0 / self.P if loss == "mean" else 2.0
        self._allocate_buffers()
        self.pool = None  # a thread pool: pathways run in parallel (each with 1-thread BLAS)
        self.fold_threads = 1
        self._due = []  # (a, d) of deferred updates to fold once the parallel sweep is over
        self._allocate_deferred(deferred_rank)
        self._small = {}
        self._rows = {}
        self._lanes = {}
        self._choose_products(backward_as_row, forward_by_blocks, use_kernels)

    def _allocate_buffers(self) -> None:
        """Pre-activations ``z``, activations ``h`` (aliases of ``z`` where no activation
        applies), backward signals ``G``, derivative scratch, outputs and errors."""
        P, dtype = self.P, self.dtype
        self.z = [[np.zeros((w.shape[0], P), dtype=dtype, order="F") for w in pw] for pw in self.W]
        self.h = []
        for a, pw in enumerate(self.W):
            hs = []
            for d in range(len(pw)):
                last = d == len(pw) - 1
                if self.activation == "linear" or (last and not self.activate_last):
                    hs.append(self.z[a][d])  # alias: no copy for linear layers
                else:
                    hs.append(np.zeros_like(self.z[a][d], order="F"))
            self.h.append(hs)
        self.G = [[np.zeros_like(zz, order="F") for zz in za] for za in self.z]
        self.deriv = [np.zeros((max(w.shape[0] for w in pw), P), dtype=dtype, order="F") for pw in self.W]
        self.out = np.zeros_like(self.Y, order="F")
        self.E = np.zeros_like(self.Y, order="F")

    def _allocate_deferred(self, deferred_rank) -> None:
        """The factors ``[A, B, columns used]`` of the layers that defer their updates."""
        # Rank r = P * (steps per fold), only for layers whose both sides exceed r
        # (elsewhere the plain fused update is as cheap).
        self.rank = deferral_rank(deferred_rank, self.P)
        self.deferred: list[list[Any]] = [[None] * len(pw) for pw in self.W]
        if not self.rank:
            return
        for a, pw in enumerate(self.W):
            for d, W in enumerate(pw):
                if is_deferred(W.shape, self.rank):
                    A = np.zeros((W.shape[0], self.rank), dtype=self.dtype, order="F")
                    B = np.zeros((W.shape[1], self.rank), dtype=self.dtype, order="F")
                    self.deferred[a][d] = [A, B, 0]

    def _choose_products(self, backward_as_row, forward_by_blocks, use_kernels) -> None:
        """How the thin products run (``None``: the faster way for this dtype, as measured)."""
        float32 = self.dtype == np.float32
        # OpenBLAS's single-precision W^T G with thin G ran at about half the speed of h^T W
        # (at width 4096); in double precision the plain transposed product was as fast or faster.
        self.backward_as_row = float32 if backward_as_row is None else bool(backward_as_row)
        # Likewise its single-precision thin W h was 1.5x slower than gemv over cached column
        # blocks at widths 2048-4096 (no gain in double precision).
        self.forward_by_blocks = float32 if forward_by_blocks is None else bool(forward_by_blocks)
        from scipy.linalg import blas

        self.gemv = blas.dgemv if self.dtype == np.float64 else blas.sgemv
        # The C kernels stream each wide weight once per product (BLAS packs it first).
        self.kernel_path = _kernel_path_for(use_kernels)
        self.use_kernels = self.kernel_path != "blas"

    # ------------------------------------------------------------------ products
    def _apply(self, a, d, h, out, transpose=False):
        """``out = W h`` (or ``W^T h``) with the layer's effective weight ``W0 + A B^T``."""
        W = self.W[a][d]
        if self._uses_kernel(W, h.shape[1]):
            z = self._kernel_product(a, W, h, out, transpose)
        elif transpose and self.backward_as_row:
            z = self._row_product(a, W, h, out)
        elif not transpose and self.forward_by_blocks and min(W.shape) >= FORWARD_BLOCKS_MIN_WIDTH:
            z = self._block_product(W, h, out)
        else:
            z = self.gemm(1.0, W, h, trans_a=1 if transpose else 0, c=out, overwrite_c=1)
        lazy = self.deferred[a][d]
        if lazy is not None and lazy[2]:
            self._add_deferred(a, lazy, h, z, transpose)
        return z

    def _kernel_product(self, a, W, h, out, transpose):
        """``W h`` or ``W^T h`` through the C kernels, via row-major copies of the thin
        blocks (a few hundred kB): the kernel reads ``W`` once."""
        n_in, n_out = (W.shape[0], W.shape[1]) if transpose else (W.shape[1], W.shape[0])
        k = h.shape[1]
        src, dst = self._lane_buffer(a, 0, n_in, k), self._lane_buffer(a, 1, n_out, k)
        src[:, :k] = h
        (kernels.tn if transpose else kernels.nn)(W, src, dst, self.kernel_path)
        np.copyto(out, dst[:, :k])
        return out

    def _row_product(self, a, W, h, out):
        """``W^T h`` as ``(h^T W)^T``: a (P x n) result, then one small transposing copy."""
        key = (a, h.shape[1], W.shape[1])  # per pathway: pathways may run in parallel
        if key not in self._rows:
            self._rows[key] = np.zeros(key[1:], dtype=self.dtype, order="F")
        rows = self.gemm(1.0, h, W, trans_a=1, c=self._rows[key], overwrite_c=1)
        np.copyto(out, rows.T)
        return out

    def _block_product(self, W, h, out):
        """``W h`` as a sum over column blocks of ``W`` (contiguous, about 1 MB: they stay in
        cache while gemv streams them once per column of ``h``)."""
        gemv, bs = self.gemv, FORWARD_BLOCK_COLUMNS
        out.fill(0)
        columns = [out[:, p] for p in range(h.shape[1])]
        for j in range(0, W.shape[1], bs):
            block = W[:, j:j + bs]
            for p, y in enumerate(columns):
                gemv(1.0, block, h[j:j + bs, p], beta=1.0, y=y, overwrite_y=1)
        return out

    def _add_deferred(self, a, lazy, h, z, transpose) -> None:
        """``z += A (B^T h)`` (or ``B (A^T h)``): the deferred updates not yet folded."""
        A, B, c = lazy
        left, right = (B, A) if transpose else (A, B)
        key = (a, c, h.shape[1])
        if key not in self._small:
            self._small[key] = np.zeros(key[1:], dtype=self.dtype, order="F")
        small = self.gemm(1.0, right[:, :c], h, trans_a=1, c=self._small[key], overwrite_c=1)
        self.gemm(1.0, left[:, :c], small, beta=1.0, c=z, overwrite_c=1)

    def _uses_kernel(self, W, columns: int) -> bool:
        return self.use_kernels and columns <= kernels.LANES and min(W.shape) >= KERNEL_MIN_WIDTH

    def kernel_layers(self) -> int:
        """How many layers' products of a training step go through the C kernels.

        Returns
        -------
        int
        """
        return sum(self._uses_kernel(W, self.P) for pw in self.W for W in pw)

    def _lane_buffer(self, a, side, rows, used):
        """A reusable C-ordered ``(rows, LANES)`` buffer per pathway (pathways may run in
        parallel) and per number of ``used`` lanes, so that the padding lanes stay zero."""
        key = (a, side, rows, used)
        if key not in self._lanes:
            self._lanes[key] = np.zeros((rows, kernels.LANES), dtype=self.dtype)
        return self._lanes[key]

    def _update(self, a, d, G, h_in, eta):
        """``W <- W - eta G h_in^T``: fused into ``W`` or appended to the deferred factors."""
        lazy = self.deferred[a][d]
        if lazy is None:
            self.gemm(-eta, G, h_in, beta=1.0, c=self.W[a][d], trans_b=1, overwrite_c=1)
            return
        A, B, c = lazy
        P = self.P
        np.multiply(G, -eta, out=A[:, c:c + P])
        B[:, c:c + P] = h_in
        lazy[2] = c + P
        if lazy[2] == self.rank:
            if self.pool is None:
                self._fold(a, d)
            else:  # scipy's BLAS keeps the GIL: a fold here would stall the other pathways
                self._due.append((a, d))

    def _fold(self, a, d):
        lazy = self.deferred[a][d]
        if lazy is not None and lazy[2]:
            A, B, c = lazy
            self.gemm(1.0, A[:, :c], B[:, :c], beta=1.0, c=self.W[a][d], trans_b=1, overwrite_c=1)
            lazy[2] = 0

    def fold_all(self) -> None:
        """Fold every deferred update into the weights (``self.W`` is then exact)."""
        for a, pw in enumerate(self.W):
            for d in range(len(pw)):
                self._fold(a, d)

    # ------------------------------------------------------------------ step
    def run_pathways_on(self, pool: Executor | None, threads: int = 1) -> None:
        """Step the pathways on ``pool``'s threads (``None``: one after another).

        Parameters
        ----------
        pool : concurrent.futures.Executor or None
            The threads the pathways step on.
        threads : int
            BLAS threads of the deferred folds of a parallel sweep.
        """
        self.pool, self.fold_threads = pool, int(threads)

    def _map(self, fn, *args) -> list:
        """``[fn(a, *args) for a in pathways]``, in parallel when a pool is set (results in order)."""
        M = len(self.W)
        if self.pool is None or M == 1:
            return [fn(a, *args) for a in range(M)]
        return list(self.pool.map(lambda a: fn(a, *args), range(M)))

    def _forward_path(self, a):
        h = self.X
        for d in range(len(self.W[a])):
            z = self._apply(a, d, h, self.z[a][d])
            h = _activate_into(self.activation, z, self.h[a][d])
        return h

    def forward(self) -> float:
        """Forward pass at the current weights.

        Returns
        -------
        float
            ``||E||^2`` with ``E = out - Y``.
        """
        outputs = self._map(self._forward_path)
        self.out.fill(0)
        for h in outputs:  # summed in pathway order whatever ran in parallel: same bits
            self.out += h
        np.subtract(self.out, self.Y, out=self.E)
        return float(np.vdot(self.E, self.E))

    def _apply_deriv(self, G, a, d) -> None:
        """``G *= phi'(z_a^d)`` for a nonlinear layer (in place)."""
        h = self.h[a][d]
        if self.activation == "relu":
            G *= h > 0
        else:
            buf = self.deriv[a][: h.shape[0]]
            np.multiply(h, h, out=buf)
            np.subtract(1, buf, out=buf)
            G *= buf

    def backward_update(self, eta: float) -> None:
        """Gradients from the last :meth:`forward` and the update ``W -= eta dL/dW``, in place.

        Parameters
        ----------
        eta : float
            The learning rate.
        """
        self._map(self._backward_path, eta)
        if self._due:
            # Folds of the parallel sweep, on all the pool's threads through BLAS itself (the
            # layers are not used again before the next step: the same bits as folding at once).
            with blas_threads(self.fold_threads):
                for a, d in sorted(self._due):
                    self._fold(a, d)
            self._due.clear()

    def _backward_path(self, a, eta):
        D = len(self.W[a])
        G = self.G[a][D - 1]
        np.multiply(self.E, self.scale, out=G)
        if self.activate_last and self.activation != "linear":
            self._apply_deriv(G, a, D - 1)
        for d in range(D - 1, -1, -1):
            h_in = self.X if d == 0 else self.h[a][d - 1]
            if d > 0:
                # Uses W before its update: every layer's gradient is taken at step k.
                G_prev = self._apply(a, d, G, self.G[a][d - 1], transpose=True)
                if self.activation != "linear":
                    self._apply_deriv(G_prev, a, d - 1)
            else:
                G_prev = None
            self._update(a, d, G, h_in, eta)
            G = G_prev

    def pathway_outputs(self) -> list:
        """``F_a(X)`` of every pathway from the last forward pass.

        Returns
        -------
        list of ndarray
        """
        return [self.h[a][len(pw) - 1] for a, pw in enumerate(self.W)]

    def omega_times(self, a: int, V: np.ndarray) -> np.ndarray:
        """``Omega_a V`` through the effective weights of a linear pathway (thin products).

        Parameters
        ----------
        a : int
            The pathway (0-based).
        V : ndarray, shape (n_in, k)

        Returns
        -------
        ndarray, shape (n_out, k)
        """
        m = np.asfortranarray(V, dtype=self.dtype)
        for d, W in enumerate(self.W[a]):
            m = self._apply(a, d, m, np.zeros((W.shape[0], m.shape[1]), dtype=self.dtype, order="F"))
        return m


class StackEngine:
    """Many small networks (one per seed) stacked on a leading axis, stepped together.

    For small widths a step is dominated by the fixed cost of each BLAS call, so one
    ``numpy.matmul`` over the stack of ``B`` networks replaces ``B`` calls. The update
    needs one gradient buffer per distinct layer shape (reused every step); that is cheap
    at the widths this engine is used for (:data:`STACK_MAX_WIDTH`).
    """

    def __init__(self, stacks, X, Y, activation, activate_last, loss, dtype):
        self.dtype = dtype
        self.W = stacks  # W[a][d]: (B, out, in), C-ordered
        self.B = stacks[0][0].shape[0]
        self.X = np.ascontiguousarray(X, dtype=dtype)
        self.Y = np.ascontiguousarray(Y, dtype=dtype)
        self.P = X.shape[1]
        self.activation = activation
        self.activate_last = activate_last
        self.scale = 1.0 / self.P if loss == "mean" else 2.0
        B, P = self.B, self.P
        self.z = [[np.zeros((B, w.shape[1], P), dtype=dtype) for w in pw] for pw in stacks]
        self.h = [[z if (activation == "linear" or (d == len(za) - 1 and not activate_last)) else np.zeros_like(z)
                   for d, z in enumerate(za)] for za in self.z]
        self.G = [[np.zeros_like(z) for z in za] for za in self.z]
        self.grad = {}
        for pw in stacks:
            for w in pw:
                self.grad.setdefault(w.shape, np.zeros(w.shape, dtype=dtype))
        self.out = np.zeros((B,) + self.Y.shape, dtype=dtype)
        self.E = np.zeros_like(self.out)

    def forward(self) -> np.ndarray:
        """Forward pass of every network of the stack at its current weights.

        Returns
        -------
        ndarray, shape (B,)
            ``||E_b||^2`` per network.
        """
        self.out.fill(0)
        for a, pw in enumerate(self.W):
            h = self.X
            for d, W in enumerate(pw):
                z = np.matmul(W, h, out=self.z[a][d])
                h = _activate_into(self.activation, z, self.h[a][d])
            self.out += h
        np.subtract(self.out, self.Y, out=self.E)
        return np.einsum("bij,bij->b", self.E, self.E)

    def _apply_deriv(self, G, a, d) -> None:
        h = self.h[a][d]
        if self.activation == "relu":
            G *= h > 0
        else:
            G *= 1 - h * h

    def backward_update(self, eta: float) -> None:
        """Gradients from the last :meth:`forward` and the update of every network, in place.

        Parameters
        ----------
        eta : float
            The learning rate.
        """
        for a, pw in enumerate(self.W):
            D = len(pw)
            G = self.G[a][D - 1]
            np.multiply(self.E, self.scale, out=G)
            if self.activate_last and self.activation != "linear":
                self._apply_deriv(G, a, D - 1)
            for d in range(D - 1, -1, -1):
                W = pw[d]
                h_in = self.X if d == 0 else self.h[a][d - 1]
                G_prev = None
                if d > 0:
                    G_prev = np.matmul(W.transpose(0, 2, 1), G, out=self.G[a][d - 1])
                    if self.activation != "linear":
                        self._apply_deriv(G_prev, a, d - 1)
                grad = self.grad[W.shape]
                np.matmul(G, h_in.swapaxes(-1, -2), out=grad)
                grad *= eta
                W -= grad
                G = G_prev

    def pathway_outputs(self) -> list:
        """``F_a(X)`` of every pathway and network from the last forward pass.

        Returns
        -------
        list of ndarray, each of shape (B, n_out, P)
        """
        return [self.h[a][len(pw) - 1] for a, pw in enumerate(self.W)]

    def omega_times(self, a: int, V: np.ndarray) -> np.ndarray:
        """``Omega_a V`` of every network of the stack.

        Parameters
        ----------
        a : int
            The pathway (0-based).
        V : ndarray, shape (n_in, k)

        Returns
        -------
        ndarray, shape (B, n_out, k)
        """
        m = np.asarray(V, dtype=self.dtype)
        for W in self.W[a]:
            m = np.matmul(W, m)
        return m

    def fold_all(self) -> None:
        pass

    def unstack(self) -> list:
        """Weights of each network: ``[seed][a][d]`` (Fortran-ordered copies).

        Returns
        -------
        list
        """
        return [[[np.asfortranarray(W[b]) for W in pw] for pw in self.W] for b in range(self.B)]
