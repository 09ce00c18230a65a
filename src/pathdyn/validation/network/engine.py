"""The gradient-descent engines of a finite-width network, and the plain reference gradients.

:class:`Engine` steps one network in place, any graph in node form (parallel pathways are the
wiring of chains, :class:`~pathdyn.validation.network.wiring.Wiring`): fused BLAS updates,
C kernels for wide layers, deferred low-rank updates. Both :func:`simulate_gd` and
:func:`~pathdyn.validation.network.graph.simulate_graph_gd` step it. :class:`StackEngine`
steps a stack of small pathway networks (one per seed) together, a speed path of
``simulate_gd``'s batches. :func:`loss_and_gradients` is the plain reference they are tested
against. Part of :mod:`pathdyn.validation.network` (import public names from there).
"""

from __future__ import annotations

from concurrent.futures import Executor
from typing import Any

import numpy as np
from scipy.linalg import blas

from pathdyn.errors import SimulationError
from pathdyn.validation.network import kernels
from pathdyn.validation.network.blas_threads import blas_threads
from pathdyn.validation.network.spec import ACTIVATIONS, LOSSES, check_choice
from pathdyn.theory.graph import INPUT, OUTPUT
from pathdyn.validation.network.wiring import Wiring

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
    """One network's weights and reusable buffers, in node form; one GD step is
    :meth:`forward` then :meth:`backward_update`, in place.

    Every network is a graph (:class:`~pathdyn.validation.network.wiring.Wiring`): a node
    sums the products of its incoming weights and applies its activation; the backward
    signal of a node sums the transposed products of its outgoing weights (taken before
    their update) times the activation's derivative. Parallel pathways are the case of
    chains that meet only at ``x`` and ``y``; they may be stepped on parallel threads
    (:meth:`run_pathways_on`), and a chain's steps are the former pathway engine's, call for call.

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

    Parameters
    ----------
    weights : list of list of ndarray, or dict
        ``weights[a][d]`` of parallel pathways, or ``{key: matrix}`` for ``wiring``;
        Fortran-ordered arrays of ``dtype``, updated in place.
    X, Y : ndarray
        Inputs ``(n_in, P)`` and targets ``(n_out, P)``.
    activation : str or dict
        The activation of every hidden node, or node -> activation.
    activate_last : bool
        Also apply ``activation`` (a str) to each incoming term of ``y`` (the paper's code).
    loss : {"mean", "paper"}
    dtype : numpy dtype
    deferred_rank : int
        Rank of the deferred updates (0: none).
    backward_as_row, forward_by_blocks, use_kernels : optional
        How the thin products run (``None``: the faster way, as measured).
    wiring : Wiring, optional
        The graph of the weights; default the pathways of ``weights[a][d]``.
    """

    def __init__(self, weights, X, Y, activation, activate_last, loss, dtype, deferred_rank=0, backward_as_row=None,
                 forward_by_blocks=None, use_kernels=None, wiring: Wiring | None = None):
        self.wiring = Wiring.of_pathways([len(pw) for pw in weights]) if wiring is None else wiring
        self.weights = self.wiring.keyed(weights)
        for W in self.weights.values():
            if not (W.flags.f_contiguous and W.dtype == dtype):
                raise SimulationError("internal: weights must be Fortran-ordered arrays of the run's dtype")
        self.dtype = dtype
        self.gemm = _blas(dtype)
        self.X = np.asfortranarray(X, dtype=dtype)
        self.Y = np.asfortranarray(Y, dtype=dtype)
        self.P = X.shape[1]
        self.activations = self._node_activations(activation)
        # activate_last: the activation after each term entering y, before they are summed
        self.output_activation = activation if activate_last and isinstance(activation, str) else "linear"
        self.scale = 1.0 / self.P if loss == "mean" else 2.0
        self.output_keys = self.wiring.in_edges(OUTPUT)
        self._allocate_buffers()
        self.pool: Executor | None = None  # a thread pool: chains run in parallel (each with 1-thread BLAS)
        self.fold_threads = 1
        self._due: list[Any] = []  # keys of deferred updates to fold once the parallel sweep is over
        self._allocate_deferred(deferred_rank)
        self._small: dict[tuple, np.ndarray] = {}
        self._rows: dict[tuple, np.ndarray] = {}
        self._lanes: dict[tuple, np.ndarray] = {}
        self._choose_products(backward_as_row, forward_by_blocks, use_kernels)

    def _node_activations(self, activation) -> dict:
        if isinstance(activation, str):
            return {node: activation for node in self.wiring.hidden}
        return {node: activation[node] for node in self.wiring.hidden}

    @property
    def W(self) -> list[list[np.ndarray]] | dict[Any, np.ndarray]:
        """The weights: ``W[a][d]`` for pathways, else ``{key: matrix}`` (the engine's own arrays)."""
        return self.wiring.layers(self.weights) if self.wiring.layered else self.weights

    def _allocate_buffers(self) -> None:
        """Pre-activations ``z``, activations ``h`` (aliases of ``z`` where no activation
        applies), backward signals ``G``, derivative scratch, outputs and errors."""
        P, dtype = self.P, self.dtype
        self.z, self.h, self.G, self.deriv = {}, {INPUT: self.X}, {}, {}
        for node in self.wiring.hidden:
            rows = self.weights[self.wiring.in_edges(node)[0]].shape[0]
            self.z[node] = np.zeros((rows, P), dtype=dtype, order="F")
            linear = self.activations[node] == "linear"
            self.h[node] = self.z[node] if linear else np.zeros_like(self.z[node], order="F")
            self.G[node] = np.zeros_like(self.z[node], order="F")
            if self.activations[node] == "tanh":
                self.deriv[node] = np.zeros_like(self.z[node], order="F")
        # the terms entering y, each kept apart (pathway outputs; activated with activate_last)
        self.z_out = {key: np.zeros_like(self.Y, order="F") for key in self.output_keys}
        linear_out = self.output_activation == "linear"
        self.h_out = {key: z if linear_out else np.zeros_like(z, order="F") for key, z in self.z_out.items()}
        self.G_out = {key: np.zeros_like(self.Y, order="F") for key in self.output_keys}
        self.deriv_out = np.zeros_like(self.Y, order="F")
        self.out = np.zeros_like(self.Y, order="F")
        self.E = np.zeros_like(self.Y, order="F")
        self._sums: dict[str, np.ndarray] = {}  # per node: the product of a second incoming or outgoing weight, before it is added

    def _allocate_deferred(self, deferred_rank) -> None:
        """The factors ``[A, B, columns used]`` of the layers that defer their updates."""
        # Rank r = P * (steps per fold), only for layers whose both sides exceed r
        # (elsewhere the plain fused update is as cheap).
        self.rank = deferral_rank(deferred_rank, self.P)
        self.deferred: dict[Any, Any] = {key: None for key in self.weights}
        if not self.rank:
            return
        for key, W in self.weights.items():
            if is_deferred(W.shape, self.rank):
                A = np.zeros((W.shape[0], self.rank), dtype=self.dtype, order="F")
                B = np.zeros((W.shape[1], self.rank), dtype=self.dtype, order="F")
                self.deferred[key] = [A, B, 0]

    def _choose_products(self, backward_as_row, forward_by_blocks, use_kernels) -> None:
        """How the thin products run (``None``: the faster way for this dtype, as measured)."""
        float32 = self.dtype == np.float32
        # OpenBLAS's single-precision W^T G with thin G ran at about half the speed of h^T W
        # (at width 4096); in double precision the plain transposed product was as fast or faster.
        self.backward_as_row = float32 if backward_as_row is None else bool(backward_as_row)
        # Likewise its single-precision thin W h was 1.5x slower than gemv over cached column
        # blocks at widths 2048-4096 (no gain in double precision).
        self.forward_by_blocks = float32 if forward_by_blocks is None else bool(forward_by_blocks)
        self.gemv = blas.dgemv if self.dtype == np.float64 else blas.sgemv
        # The C kernels stream each wide weight once per product (BLAS packs it first).
        self.kernel_path = _kernel_path_for(use_kernels)
        self.use_kernels = self.kernel_path != "blas"

    # ------------------------------------------------------------------ products
    def _product_kind(self, W, columns: int, transpose: bool) -> str:
        """How ``W h`` (or ``W^T h``) runs: ``kernel``, ``row``, ``block`` or a plain ``gemm``."""
        if self._uses_kernel(W, columns):
            return "kernel"
        if transpose and self.backward_as_row:
            return "row"
        if not transpose and self.forward_by_blocks and min(W.shape) >= FORWARD_BLOCKS_MIN_WIDTH:
            return "block"
        return "gemm"

    def _apply(self, key, h, out, transpose=False):
        """``out = W h`` (or ``W^T h``) with the layer's effective weight ``W0 + A B^T``."""
        W = self.weights[key]
        kind = self._product_kind(W, h.shape[1], transpose)
        if kind == "kernel":
            z = self._kernel_product(key, W, h, out, transpose)
        elif kind == "row":
            z = self._row_product(key, W, h, out)
        elif kind == "block":
            z = self._block_product(W, h, out)
        else:
            z = self.gemm(1.0, W, h, trans_a=1 if transpose else 0, c=out, overwrite_c=1)
        lazy = self.deferred[key]
        if lazy is not None and lazy[2]:
            self._add_deferred(key, lazy, h, z, transpose)
        return z

    def _kernel_product(self, key, W, h, out, transpose):
        """``W h`` or ``W^T h`` through the C kernels, via row-major copies of the thin
        blocks (a few hundred kB): the kernel reads ``W`` once."""
        n_in, n_out = (W.shape[0], W.shape[1]) if transpose else (W.shape[1], W.shape[0])
        k = h.shape[1]
        src, dst = self._lane_buffer(key, 0, n_in, k), self._lane_buffer(key, 1, n_out, k)
        src[:, :k] = h
        (kernels.tn if transpose else kernels.nn)(W, src, dst, self.kernel_path)
        np.copyto(out, dst[:, :k])
        return out

    def _row_product(self, key, W, h, out):
        """``W^T h`` as ``(h^T W)^T``: a (P x n) result, then one small transposing copy."""
        index = (key, h.shape[1], W.shape[1])  # per weight: chains may run in parallel
        if index not in self._rows:
            self._rows[index] = np.zeros(index[1:], dtype=self.dtype, order="F")
        rows = self.gemm(1.0, h, W, trans_a=1, c=self._rows[index], overwrite_c=1)
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

    def _add_deferred(self, key, lazy, h, z, transpose) -> None:
        """``z += A (B^T h)`` (or ``B (A^T h)``): the deferred updates not yet folded."""
        A, B, c = lazy
        left, right = (B, A) if transpose else (A, B)
        index = (key, c, h.shape[1])
        if index not in self._small:
            self._small[index] = np.zeros(index[1:], dtype=self.dtype, order="F")
        small = self.gemm(1.0, right[:, :c], h, trans_a=1, c=self._small[index], overwrite_c=1)
        self.gemm(1.0, left[:, :c], small, beta=1.0, c=z, overwrite_c=1)

    def _uses_kernel(self, W, columns: int) -> bool:
        return self.use_kernels and columns <= kernels.LANES and min(W.shape) >= KERNEL_MIN_WIDTH

    def kernel_layers(self) -> int:
        """How many layers' products of a training step go through the C kernels.

        Returns
        -------
        int
        """
        return sum(self._uses_kernel(W, self.P) for W in self.weights.values())

    def deferred_layers(self) -> int:
        """How many layers defer their updates.

        Returns
        -------
        int
        """
        return sum(lazy is not None for lazy in self.deferred.values())

    def _lane_buffer(self, key, side, rows, used):
        """A reusable C-ordered ``(rows, LANES)`` buffer per weight (chains may run in
        parallel) and per number of ``used`` lanes, so that the padding lanes stay zero."""
        index = (key, side, rows, used)
        if index not in self._lanes:
            self._lanes[index] = np.zeros((rows, kernels.LANES), dtype=self.dtype)
        return self._lanes[index]

    def _sum_buffer(self, node, like):
        """Where the product of a node's second (third, ...) weight is made before it is added."""
        if node not in self._sums:
            self._sums[node] = np.zeros_like(like, order="F")
        return self._sums[node]

    def _update(self, key, G, h_in, eta):
        """``W <- W - eta G h_in^T``: fused into ``W`` or appended to the deferred factors."""
        lazy = self.deferred[key]
        if lazy is None:
            self.gemm(-eta, G, h_in, beta=1.0, c=self.weights[key], trans_b=1, overwrite_c=1)
            return
        A, B, c = lazy
        P = self.P
        np.multiply(G, -eta, out=A[:, c:c + P])
        B[:, c:c + P] = h_in
        lazy[2] = c + P
        if lazy[2] == self.rank:
            if self.pool is None:
                self._fold(key)
            else:  # scipy's BLAS keeps the GIL: a fold here would stall the other chains
                self._due.append(key)

    def _fold(self, key):
        lazy = self.deferred[key]
        if lazy is not None and lazy[2]:
            A, B, c = lazy
            self.gemm(1.0, A[:, :c], B[:, :c], beta=1.0, c=self.weights[key], trans_b=1, overwrite_c=1)
            lazy[2] = 0

    def fold_all(self) -> None:
        """Fold every deferred update into the weights (the weights are then exact)."""
        for key in self.weights:
            self._fold(key)

    # ------------------------------------------------------------------ step
    def run_pathways_on(self, pool: Executor | None, threads: int = 1) -> None:
        """Step parallel chains (pathways) on ``pool``'s threads (``None``: one after another).

        Parameters
        ----------
        pool : concurrent.futures.Executor or None
            The threads the chains step on (other graphs step on one).
        threads : int
            BLAS threads of the deferred folds of a parallel sweep.
        """
        self.pool, self.fold_threads = pool, int(threads)

    def _parallel_chains(self) -> bool:
        chains = self.wiring.chains
        return self.pool is not None and chains is not None and len(chains) > 1

    def _accumulate(self, node, key, h, out, transpose=False) -> None:
        """``out += W h`` (or ``W^T h``): fused into one ``gemm`` with ``beta = 1`` where the
        plain product applies, else made apart and added."""
        W = self.weights[key]
        lazy = self.deferred[key]
        if self._product_kind(W, h.shape[1], transpose) == "gemm" and not (lazy is not None and lazy[2]):
            self.gemm(1.0, W, h, trans_a=1 if transpose else 0, beta=1.0, c=out, overwrite_c=1)
        else:
            out += self._apply(key, h, self._sum_buffer(node, out), transpose)

    def _forward_node(self, node) -> None:
        """``z_v = sum_{u -> v} W h_u`` and ``h_v = phi(z_v)``."""
        z = self.z[node]
        keys = self.wiring.in_edges(node)
        self._apply(keys[0], self.h[self.wiring.source(keys[0])], z)
        for key in keys[1:]:
            self._accumulate(node, key, self.h[self.wiring.source(key)], z)
        _activate_into(self.activations[node], z, self.h[node])

    def _output_term(self, key) -> None:
        """One term entering ``y``: ``W h_u`` (activated with ``activate_last``)."""
        z = self._apply(key, self.h[self.wiring.source(key)], self.z_out[key])
        _activate_into(self.output_activation, z, self.h_out[key])

    def _forward_chain(self, chain) -> None:
        for node in self.wiring.chain_nodes(chain):
            self._forward_node(node)
        self._output_term(chain[-1])

    def forward(self) -> float:
        """Forward pass at the current weights.

        Returns
        -------
        float
            ``||E||^2`` with ``E = out - Y``.
        """
        if self.pool is not None and self._parallel_chains():
            list(self.pool.map(self._forward_chain, self.wiring.chains or ()))
        else:
            for node in self.wiring.hidden:
                self._forward_node(node)
            for key in self.output_keys:
                self._output_term(key)
        self.out.fill(0)
        for key in self.output_keys:  # summed in edge order whatever ran in parallel: same bits
            self.out += self.h_out[key]
        np.subtract(self.out, self.Y, out=self.E)
        return float(np.vdot(self.E, self.E))

    def _apply_deriv(self, G, h, scratch) -> None:
        """``G *= phi'(z)`` for a nonlinear node whose activation is ``h`` (in place)."""
        if scratch is None:  # relu
            G *= h > 0
        else:
            np.multiply(h, h, out=scratch)
            np.subtract(1, scratch, out=scratch)
            G *= scratch

    def _signal(self, key):
        """The backward signal at the node the weight ``key`` feeds."""
        target = self.wiring.target(key)
        return self.G_out[key] if target == OUTPUT else self.G[target]

    def _output_signal(self, key) -> None:
        G = self.G_out[key]
        np.multiply(self.E, self.scale, out=G)
        if self.output_activation != "linear":
            self._apply_deriv(G, self.h_out[key], self.deriv_out if self.output_activation == "tanh" else None)

    def _backward_node(self, node, eta) -> None:
        """``G_u = phi'(z_u) sum_{u -> v} W^T G_v`` with the weights of step k, then their updates."""
        G = self.G[node]
        keys = self.wiring.out_edges(node)
        self._apply(keys[0], self._signal(keys[0]), G, transpose=True)
        for key in keys[1:]:
            self._accumulate(node, key, self._signal(key), G, transpose=True)
        if self.activations[node] != "linear":
            self._apply_deriv(G, self.h[node], self.deriv.get(node))
        for key in keys:  # no other node reads these weights again this step
            self._update(key, self._signal(key), self.h[node], eta)

    def _backward_chain(self, chain, eta) -> None:
        self._output_signal(chain[-1])
        for node in reversed(self.wiring.chain_nodes(chain)):
            self._backward_node(node, eta)
        self._update(chain[0], self._signal(chain[0]), self.X, eta)

    def backward_update(self, eta: float) -> None:
        """Gradients from the last :meth:`forward` and the update ``W -= eta dL/dW``, in place.

        Parameters
        ----------
        eta : float
            The learning rate.
        """
        if self.pool is not None and self._parallel_chains():
            list(self.pool.map(lambda chain: self._backward_chain(chain, eta), self.wiring.chains or ()))
        else:
            for key in self.output_keys:
                self._output_signal(key)
            for node in reversed(self.wiring.hidden):
                self._backward_node(node, eta)
            for key in self.wiring.out_edges(INPUT):
                self._update(key, self._signal(key), self.X, eta)
        if self._due:
            # Folds of the parallel sweep, on all the pool's threads through BLAS itself (the
            # layers are not used again before the next step: the same bits as folding at once).
            with blas_threads(self.fold_threads):
                for key in sorted(self._due):
                    self._fold(key)
            self._due.clear()

    def pathway_outputs(self) -> list:
        """``F_a(X)`` of every pathway (every term entering ``y``) from the last forward pass.

        Returns
        -------
        list of ndarray
        """
        return [self.h_out[key] for key in self.output_keys]

    def omega_times(self, a: int, V: np.ndarray) -> np.ndarray:
        """``Omega_a V`` through the effective weights of a linear pathway (thin products).

        Parameters
        ----------
        a : int
            The pathway (0-based; a chain of the wiring).
        V : ndarray, shape (n_in, k)

        Returns
        -------
        ndarray, shape (n_out, k)
        """
        assert self.wiring.chains is not None  # pathways are chains
        m = np.asfortranarray(V, dtype=self.dtype)
        for key in self.wiring.chains[a]:
            W = self.weights[key]
            m = self._apply(key, m, np.zeros((W.shape[0], m.shape[1]), dtype=self.dtype, order="F"))
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
