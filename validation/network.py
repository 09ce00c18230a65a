"""Finite-width multi-pathway networks trained by full-batch gradient descent.

The network of docs/theory.md, *Notation and loss*: ``M`` pathways, pathway ``a`` a chain of ``D_a``
weight matrices ``W_a^1 ... W_a^{D_a}`` (``W_a^1`` reads the input), summed at the
output. Hidden layers may be linear, ReLU or tanh. :func:`simulate_gd` trains such a
network and records it in the theory's mode coordinates
``K_{a alpha} = u_alpha^T Omega_a v_alpha``.

Weight layout (shared by :func:`initialize_weights`, ``weights=`` and
``extras["final_weights"]``): ``weights[a][d]`` is the matrix of pathway ``a`` and
layer ``d`` (both 0-based; ``d = 0`` reads the input), of shape
``(outputs of the layer, inputs of the layer)``; a depth-1 pathway is one
``n_out x n_in`` matrix. Weight files (:func:`save_weights`, :func:`load_weights`) hold
the same matrices as arrays ``W_<a>_<d>`` with 1-based ``a`` and ``d``.
"""

from __future__ import annotations

import math
import numbers
import re
import time
from pathlib import Path
from typing import Sequence

import numpy as np

from pathdyn.checks import check_memory, real_array
from pathdyn.errors import ArchitectureError, ConfigError, DatasetError, SimulationError
from pathdyn.numerics.datasets import Dataset, resolve_dataset
from pathdyn.numerics.alignment import input_alignment
from pathdyn.numerics.trajectory import Trajectory, atomic_write
from pathdyn.theory.architecture import Architecture, _is_int
from pathdyn.validation import kernels
from pathdyn.validation.blas_threads import blas_threads

__all__ = [
    "ACTIVATIONS",
    "INITS",
    "LOSSES",
    "initialize_weights",
    "simulate_gd",
    "loss_and_gradients",
    "save_weights",
    "load_weights",
    "network_widths",
]

ACTIVATIONS = ("linear", "relu", "tanh")
INITS = ("gaussian", "orthogonal", "paper")
LOSSES = ("mean", "paper")
DEFAULT_INIT_SCALE = {"gaussian": 0.3, "orthogonal": 0.3, "paper": 0.01}
#: A run stops as diverged when the loss exceeds this factor times
#: ``max(initial loss, loss of the zero network)`` (or is not finite).
DIVERGENCE_FACTOR = 1e4
#: Below this width ``threads > 1`` is ignored: one thread is faster (measured at width
#: 256, depths 3,3: two pathway threads 5x slower than one; 2-thread BLAS worse still).
PARALLEL_MIN_WIDTH = 512
#: float32 forward products of layers at least this wide run as gemv over column blocks
#: of FORWARD_BLOCK_COLUMNS columns.
FORWARD_BLOCKS_MIN_WIDTH = 2048
FORWARD_BLOCK_COLUMNS = 64
#: Products with layers whose both sides are at least this wide go through the C kernels
#: (pathdyn.validation.kernels) when they are built and the block has at most 8 columns
#: (measured, one thread: at width 1000 and up faster than BLAS for both products and both
#: dtypes, 1.5-4x at width 4096; at 512 the forward product was a little slower).
KERNEL_MIN_WIDTH = 768
#: Networks whose layers are all at most this wide are stepped as a stack over seeds
#: (measured, 10 seeds, depths 3,3: stacking 1.5x faster at width 32, even at 64,
#: 3x slower at 128).
STACK_MAX_WIDTH = 48


# --------------------------------------------------------------------------- specs

def network_widths(architecture, n_in: int, n_out: int, width=None) -> list:
    """Layer sizes of every pathway: ``sizes[a] = [n_in, N_1, ..., N_{D_a - 1}, n_out]``.

    Parameters
    ----------
    architecture : Architecture, sequence of int or str
    n_in, n_out : int
    width : int, sequence, or None
        One hidden width for every hidden layer (int); or one entry per pathway, each an
        int or a list of ``D_a - 1`` widths; ``None`` takes the Architecture's
        ``hidden_widths``.

    Raises
    ------
    ArchitectureError
        If a width is not a positive whole number or the lists do not match the depths.
    """
    depths = Architecture.coerce(architecture).depths
    if isinstance(architecture, Architecture):
        problems = []
        for name, value in (("n_in", n_in), ("n_out", n_out)):
            declared = getattr(architecture, name)
            if declared is not None and declared != value:
                problems.append(f"architecture {name}={declared} but the dataset has {name}={value}")
        if problems:
            raise ArchitectureError("; ".join(problems) + "; make them agree or leave them unset")
        if width is None and architecture.hidden_widths is not None:
            width = [
                [architecture.hidden_width(a + 1, d + 1) for d in range(depth - 1)]
                for a, depth in enumerate(depths)
            ]
    if width is None:
        if all(d == 1 for d in depths):
            width = 1
        else:
            raise ArchitectureError("width: no hidden width given; pass width=N (e.g. width=1000)")
    # Validate through Architecture, which reports every problem at once.
    if _is_int(width):
        if width < 1:
            raise ArchitectureError(f"width: {width} is not a positive width; use an integer >= 1, e.g. width=1000")
        hidden = int(width)
    elif isinstance(width, (list, tuple)) and len(width) == len(depths):
        hidden = tuple((w,) * (d - 1) if _is_int(w) else tuple(w) for w, d in zip(width, depths))
    else:
        hidden = width
    try:
        arch = Architecture(depths=depths, hidden_widths=hidden)
    except ArchitectureError as error:
        raise ArchitectureError(f"width: {error}".replace("hidden_widths", "width")) from None
    sizes = []
    for a, depth in enumerate(depths):
        inner = [arch.hidden_width(a + 1, d + 1) for d in range(depth - 1)]
        sizes.append([int(n_in)] + inner + [int(n_out)])
    return sizes


def _reference_width(sizes: list, width) -> int:
    """The ``N`` of ``sigma^2 / N``: the hidden width (the given int, else the largest hidden width)."""
    if _is_int(width):
        return int(width)
    hidden = [n for s in sizes for n in s[1:-1]]
    return max(hidden) if hidden else 1


def _check_choice(name: str, value, choices) -> None:
    if value not in choices:
        raise ConfigError(f"{name}: unknown value {value!r}; choose one of {', '.join(choices)}")


# --------------------------------------------------------------------------- init
def _haar_orthogonal(rng: np.random.Generator, rows: int, cols: int) -> np.ndarray:
    """A Haar-random matrix with orthonormal rows or columns (whichever is fewer)."""
    big, small = max(rows, cols), min(rows, cols)
    A = rng.standard_normal((big, small))
    with blas_threads(1):  # two BLAS pools on two busy cores fight: pin
        Q, R = np.linalg.qr(A)
    Q *= np.sign(np.where(np.diag(R) == 0, 1.0, np.diag(R)))
    return Q if rows >= cols else Q.T


def initialize_weights(
    architecture,
    n_in: int,
    n_out: int,
    width=None,
    init: str = "gaussian",
    init_scale: float | None = None,
    seed: int = 0,
    dtype=np.float64,
) -> list:
    """Random initial weights of a multi-pathway network.

    Parameters
    ----------
    architecture : Architecture, sequence of int or str
        Depth of each pathway.
    n_in, n_out : int
        Input and output dimensions.
    width : int or sequence
        Hidden width ``N`` (see :func:`network_widths`).
    init : {"gaussian", "orthogonal", "paper"}
        ``gaussian``: every entry of every layer (first, hidden, last, and a depth-1
        pathway's single matrix) is normal with variance ``sigma^2 / N``, ``N`` the
        hidden width (the ``width`` argument; the largest hidden width when widths differ),
        not the layer's fan-in. ``orthogonal``: hidden layers are ``sigma * O`` with ``O``
        Haar-orthogonal (semi-orthogonal when a hidden layer is not square); first and
        last layers Gaussian as above. ``paper``: every entry normal with fixed standard
        deviation ``sigma`` (default 0.01), as the paper's code.
    init_scale : float, optional
        ``sigma``; default 0.3 for gaussian/orthogonal, 0.01 for paper.
    seed : int
        Seed of ``numpy.random.default_rng``; weights are drawn pathway by pathway,
        layer by layer, in float64 and then cast, so float32 and float64 runs start from
        the same network.
    dtype : numpy dtype
        float64 (default) or float32.

    Returns
    -------
    list of list of ndarray
        ``weights[a][d]`` of shape (outputs, inputs), Fortran-ordered.

    Raises
    ------
    ConfigError, ArchitectureError
    """
    _check_choice("init", init, INITS)
    sigma = DEFAULT_INIT_SCALE[init] if init_scale is None else init_scale
    if not isinstance(sigma, numbers.Real) or not math.isfinite(sigma) or sigma < 0:
        raise ConfigError(f"init_scale: {init_scale!r} is not a finite number >= 0; e.g. init_scale=0.3")
    dtype = _check_dtype(dtype)
    sizes = network_widths(architecture, n_in, n_out, width)
    N = _reference_width(sizes, width)
    rng = np.random.default_rng(_check_seed(seed))
    weights = []
    for s in sizes:
        depth = len(s) - 1
        layers = []
        for d in range(depth):
            rows, cols = s[d + 1], s[d]
            hidden = 0 < d < depth - 1
            if init == "paper":
                w = sigma * rng.standard_normal((rows, cols))
            elif init == "orthogonal" and hidden:
                w = sigma * _haar_orthogonal(rng, rows, cols)
            else:
                w = (sigma / math.sqrt(N)) * rng.standard_normal((rows, cols))
            layers.append(np.asfortranarray(w, dtype=dtype))
        weights.append(layers)
    return weights


def _check_dtype(dtype):
    try:
        dtype = np.dtype(dtype)
    except (TypeError, ValueError):
        raise ConfigError(f"dtype: {dtype!r} is not a dtype; use float64 (default) or float32") from None
    if dtype not in (np.dtype(np.float64), np.dtype(np.float32)):
        raise ConfigError(f"dtype: {dtype} is not supported; use float64 (default) or float32")
    return dtype


def _check_seed(seed):
    if not _is_int(seed) or seed < 0:
        raise ConfigError(f"seed: {seed!r} is not a whole number >= 0")
    return int(seed)


# --------------------------------------------------------------------------- weight files
def save_weights(path, weights) -> None:
    """Write ``weights[a][d]`` atomically to ``path`` (.npz) as arrays ``W_<a>_<d>`` (1-based)."""
    arrays = {f"W_{a + 1}_{d + 1}": np.asarray(w) for a, path_w in enumerate(weights) for d, w in enumerate(path_w)}

    def write(tmp):
        with open(tmp, "wb") as handle:
            np.savez(handle, **arrays)

    atomic_write(Path(path), write)


def load_weights(path) -> list:
    """Read a weight file written by :func:`save_weights` (arrays ``W_<a>_<d>``, 1-based).

    Raises
    ------
    ConfigError
        If the file is missing, unreadable, or its names do not form complete pathways.
    """
    path = Path(path)
    if not path.exists():
        raise ConfigError(f"weights file {str(path)!r} not found; check the path")
    try:
        with np.load(path, allow_pickle=False) as archive:
            arrays = {k: archive[k] for k in archive.files}
    except (OSError, ValueError) as error:
        raise ConfigError(f"weights file {str(path)!r} could not be read as .npz: {error}") from None
    found = {}
    for name in arrays:
        match = re.fullmatch(r"W_(\d+)_(\d+)", name)
        if not match:
            raise ConfigError(f"weights file {str(path)!r}: unexpected array {name!r}; arrays must be named W_<pathway>_<layer> (1-based)")
        found[(int(match.group(1)), int(match.group(2)))] = real_array(f"weights file {str(path)!r}: {name}", arrays[name])
    if not found:
        raise ConfigError(f"weights file {str(path)!r} holds no W_<pathway>_<layer> arrays")
    num_paths = max(a for a, _ in found)
    weights = []
    for a in range(1, num_paths + 1):
        layers = sorted(d for b, d in found if b == a)
        if not layers or layers != list(range(1, len(layers) + 1)):
            raise ConfigError(f"weights file {str(path)!r}: pathway {a} has layers {layers}; expected 1, 2, ..., D")
        weights.append([found[(a, d)] for d in layers])
    return weights


def _check_weights(weights, sizes, dtype) -> list:
    """Validate user-given weights against the layer sizes; return Fortran copies in ``dtype``."""
    problems = []
    if len(weights) != len(sizes):
        raise ArchitectureError(
            f"weights: {len(weights)} pathway(s) given but the architecture has {len(sizes)}; give weights[a][d] per pathway"
        )
    out = []
    for a, (path_w, s) in enumerate(zip(weights, sizes)):
        if len(path_w) != len(s) - 1:
            problems.append(f"pathway {a + 1} has {len(path_w)} layer(s), expected depth {len(s) - 1}")
            continue
        layers = []
        for d, w in enumerate(path_w):
            w = real_array(f"weights: W_{a + 1}_{d + 1}", w, error=ArchitectureError)
            expected = (s[d + 1], s[d])
            if w.shape != expected:
                problems.append(f"W_{a + 1}_{d + 1} has shape {w.shape}, expected {expected} (outputs, inputs)")
            elif not np.all(np.isfinite(w)):
                problems.append(f"W_{a + 1}_{d + 1} holds NaN or infinite values")
            layers.append(np.array(w, dtype=dtype, order="F", copy=True))
        out.append(layers)
    if problems:
        raise ArchitectureError("weights: " + "; ".join(problems))
    return out


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


def loss_and_gradients(weights, X, Y, activation="linear", loss="mean", activate_last=False):
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
    _check_choice("activation", activation, ACTIVATIONS)
    _check_choice("loss", loss, LOSSES)
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


# --------------------------------------------------------------------------- engine
def default_deferred_rank(hidden_width: int, P: int) -> int:
    """Rank of the deferred updates (``deferred_rank=None``): ``8 P`` (a fold every 8 steps)
    when the widest hidden layer has at least ``32 P`` units, else 0 (update every step)."""
    return 8 * P if hidden_width >= 32 * P else 0


def deferral_rank(deferred_rank: int, P: int) -> int:
    """The rank the engines use for ``deferred_rank``: whole ``P``-column updates, at least two; else 0 (off)."""
    r = int(deferred_rank)
    return r - r % P if r >= 2 * P else 0


def is_deferred(shape, rank: int) -> bool:
    """Whether a layer of this ``(out, in)`` shape holds deferred updates of ``rank`` (both sides >= 4 rank;
    narrower layers update as cheaply in place)."""
    return bool(rank) and min(shape[-2:]) >= 4 * rank


def _blas(dtype):
    from scipy.linalg import blas

    return blas.dgemm if dtype == np.float64 else blas.sgemm


class _Engine:
    """One network's weights and reusable buffers; one GD step is :meth:`forward` then
    :meth:`backward_update`, in place.

    The two thin products of a wide layer (``W h`` forward, ``W^T G`` backward; at most 8
    samples) go through the C kernels of :mod:`pathdyn.validation.kernels` when they are
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
        self.dtype = dtype
        self.gemm = _blas(dtype)
        self.W = weights
        self.X = np.asfortranarray(X, dtype=dtype)
        self.Y = np.asfortranarray(Y, dtype=dtype)
        self.P = X.shape[1]
        self.activation = activation
        self.activate_last = activate_last
        self.scale = 1.0 / self.P if loss == "mean" else 2.0
        P = self.P
        self.z = [[np.zeros((w.shape[0], P), dtype=dtype, order="F") for w in pw] for pw in weights]
        self.h = []
        for a, pw in enumerate(weights):
            hs = []
            for d in range(len(pw)):
                last = d == len(pw) - 1
                if activation == "linear" or (last and not activate_last):
                    hs.append(self.z[a][d])  # alias: no copy for linear layers
                else:
                    hs.append(np.zeros_like(self.z[a][d], order="F"))
            self.h.append(hs)
        self.G = [[np.zeros_like(zz, order="F") for zz in za] for za in self.z]
        self.deriv = [np.zeros((max(w.shape[0] for w in pw), P), dtype=dtype, order="F") for pw in weights]
        self.out = np.zeros_like(self.Y, order="F")
        self.E = np.zeros_like(self.Y, order="F")
        self.pool = None  # a thread pool: pathways run in parallel (each with 1-thread BLAS)
        self.fold_threads = 1
        self._due = []  # (a, d) of deferred updates to fold once the parallel sweep is over
        # Deferred low-rank updates: rank r = P * (steps per fold), only for layers whose
        # both sides exceed r (elsewhere the plain fused update is as cheap).
        self.rank = deferral_rank(deferred_rank, P)
        self.deferred = [[None] * len(pw) for pw in weights]
        if self.rank:
            for a, pw in enumerate(weights):
                for d, W in enumerate(pw):
                    if is_deferred(W.shape, self.rank):
                        A = np.zeros((W.shape[0], self.rank), dtype=dtype, order="F")
                        B = np.zeros((W.shape[1], self.rank), dtype=dtype, order="F")
                        self.deferred[a][d] = [A, B, 0]
        self._small = {}
        self._rows = {}
        # OpenBLAS's single-precision W^T G with thin G ran at half the speed of h^T W
        # (benchmarks: 25 vs 13 ms at width 4096, 0.53 vs 0.44 ms at 1000); in double
        # precision the plain transposed product was as fast or faster.
        self.backward_as_row = dtype == np.float32 if backward_as_row is None else bool(backward_as_row)
        # Likewise its single-precision thin W h was 1.5x slower than gemv over cached
        # column blocks at widths 2048-4096 (no gain in double precision).
        self.forward_by_blocks = dtype == np.float32 if forward_by_blocks is None else bool(forward_by_blocks)
        from scipy.linalg import blas

        self.gemv = blas.dgemv if dtype == np.float64 else blas.sgemv
        # The C kernels stream each wide weight once per product (BLAS packs it first).
        self.use_kernels = kernels.available() if use_kernels is None else bool(use_kernels)
        self._lanes = {}
        for a, pw in enumerate(weights):
            for d, W in enumerate(pw):
                if not (W.flags.f_contiguous and W.dtype == dtype):
                    raise SimulationError("internal: weights must be Fortran-ordered arrays of the run's dtype")

    # ------------------------------------------------------------------ products
    def _apply(self, a, d, h, out, transpose=False):
        """``out = W h`` (or ``W^T h``) with the layer's effective weight ``W0 + A B^T``."""
        gemm = self.gemm
        W = self.W[a][d]
        if self._uses_kernel(W, h.shape[1]):
            # Row-major copies of the thin blocks (a few hundred kB): the kernel reads W once.
            n_in, n_out = (W.shape[0], W.shape[1]) if transpose else (W.shape[1], W.shape[0])
            k = h.shape[1]
            src, dst = self._lane_buffer(a, 0, n_in, k), self._lane_buffer(a, 1, n_out, k)
            src[:, :k] = h
            (kernels.tn if transpose else kernels.nn)(W, src, dst)
            np.copyto(out, dst[:, :k])
            z = out
        elif transpose and self.backward_as_row:
            # (W^T h)^T = h^T W: a (P x n) result, then one small transposing copy.
            key = (a, h.shape[1], W.shape[1])  # per pathway: pathways may run in parallel
            if key not in self._rows:
                self._rows[key] = np.zeros(key[1:], dtype=self.dtype, order="F")
            rows = gemm(1.0, h, W, trans_a=1, c=self._rows[key], overwrite_c=1)
            np.copyto(out, rows.T)
            z = out
        elif not transpose and self.forward_by_blocks and min(W.shape) >= FORWARD_BLOCKS_MIN_WIDTH:
            # W h as a sum over column blocks of W (contiguous, ~1 MB: they stay in cache
            # while gemv streams them once per column of h).
            gemv, bs = self.gemv, FORWARD_BLOCK_COLUMNS
            out.fill(0)
            columns = [out[:, p] for p in range(h.shape[1])]
            for j in range(0, W.shape[1], bs):
                block = W[:, j:j + bs]
                for p, y in enumerate(columns):
                    gemv(1.0, block, h[j:j + bs, p], beta=1.0, y=y, overwrite_y=1)
            z = out
        else:
            z = gemm(1.0, W, h, trans_a=1 if transpose else 0, c=out, overwrite_c=1)
        lazy = self.deferred[a][d]
        if lazy is not None and lazy[2]:
            A, B, c = lazy
            left, right = (B, A) if transpose else (A, B)
            key = (a, c, h.shape[1])
            if key not in self._small:
                self._small[key] = np.zeros(key[1:], dtype=self.dtype, order="F")
            small = gemm(1.0, right[:, :c], h, trans_a=1, c=self._small[key], overwrite_c=1)
            gemm(1.0, left[:, :c], small, beta=1.0, c=z, overwrite_c=1)
        return z

    def _uses_kernel(self, W, columns: int) -> bool:
        return self.use_kernels and columns <= kernels.LANES and min(W.shape) >= KERNEL_MIN_WIDTH

    def kernel_layers(self) -> int:
        """How many layers' products of a training step go through the C kernels."""
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
    def run_pathways_on(self, pool, threads: int = 1) -> None:
        """Step the pathways on ``pool``'s threads (``None``: one after another); the
        deferred folds of a parallel sweep then run on ``threads`` BLAS threads."""
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
        """Forward pass at the current weights; returns ``||E||^2`` with ``E = out - Y``."""
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
        """Gradients from the last :meth:`forward` and the update ``W -= eta dL/dW``, in place."""
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
        """``F_a(X)`` of every pathway from the last forward pass."""
        return [self.h[a][len(pw) - 1] for a, pw in enumerate(self.W)]

    def omega_times(self, a, V) -> np.ndarray:
        """``Omega_a V`` through the effective weights of a linear pathway (thin products)."""
        m = np.asfortranarray(V, dtype=self.dtype)
        for d, W in enumerate(self.W[a]):
            m = self._apply(a, d, m, np.zeros((W.shape[0], m.shape[1]), dtype=self.dtype, order="F"))
        return m


class _StackEngine:
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
        return [self.h[a][len(pw) - 1] for a, pw in enumerate(self.W)]

    def omega_times(self, a, V) -> np.ndarray:
        m = np.asarray(V, dtype=self.dtype)
        for W in self.W[a]:
            m = np.matmul(W, m)
        return m

    def fold_all(self) -> None:
        pass

    def unstack(self) -> list:
        """Weights of each network: ``[seed][a][d]`` (Fortran-ordered copies)."""
        return [[[np.asfortranarray(W[b]) for W in pw] for pw in self.W] for b in range(self.B)]


class _Recorder:
    """Computes ``U^T Omega_a V`` of an engine's current network."""

    def __init__(self, dataset: Dataset, activation: str, dtype):
        U, S, Vt = dataset.modes()
        # Modes with a zero singular value have no defined direction: keep the rank of Sigma_yx.
        rank = int(np.sum(S > 1e-12 * S[0])) if S.size and S[0] > 0 else 0
        if rank == 0:
            raise DatasetError(f"dataset {dataset.name!r}: Sigma_yx = Y X^T / P is zero; there is nothing to learn")
        U, S, Vt = U[:, :rank], S[:rank], Vt[:rank]
        self.singular_values = S
        self.Ut = np.ascontiguousarray(U.T)
        self.V = np.asfortranarray(Vt.T)
        X = dataset.X
        self.full_row_rank = np.linalg.matrix_rank(X) == X.shape[0]
        self.XpV = np.linalg.pinv(X) @ self.V  # (P, modes)
        self.activation = activation
        self.num_modes = S.size

    def project(self, engine) -> np.ndarray:
        """``([B,] M, modes, modes)`` array of ``U^T Omega_a V`` at the weights of the last forward pass."""
        lead = (engine.B,) if isinstance(engine, _StackEngine) else ()
        out = np.empty(lead + (len(engine.W), self.num_modes, self.num_modes))
        if lead:
            out = out.swapaxes(0, 1)  # (M, B, modes, modes) view; returned as (B, M, ...)
        if self.activation != "linear" or self.full_row_rank:
            for a, F in enumerate(engine.pathway_outputs()):
                out[a] = (self.Ut @ F.astype(np.float64, copy=False)) @ self.XpV
        else:
            # Linear pathways with rank-deficient X: Omega_a V through the weights.
            for a in range(len(engine.W)):
                out[a] = self.Ut @ engine.omega_times(a, self.V).astype(np.float64, copy=False)
        return out.swapaxes(0, 1) if lead else out


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


def _check_number(name, value, positive=True):
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value) or (positive and value <= 0):
        raise ConfigError(f"{name}: {value!r} is not a finite number > 0; e.g. {name}=0.005")
    return float(value)


def simulate_gd(
    architecture,
    dataset,
    width=None,
    *,
    init: str = "gaussian",
    init_scale: float | None = None,
    activation: str = "linear",
    learning_rate: float,
    steps: int,
    record_every: int = 1,
    seed: int = 0,
    seeds: Sequence[int] | None = None,
    weights=None,
    dtype=np.float64,
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
        Training data, or a name for :func:`pathdyn.numerics.datasets.resolve_dataset`.
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
        single-threaded BLAS, which gives the same bits as ``threads=1``; what is left
        goes to BLAS. The BLAS thread count is set on every loaded OpenBLAS and restored
        afterwards (:mod:`pathdyn.validation.blas_threads`); ``None`` leaves BLAS alone.
        Multi-threaded BLAS may change the last bits between thread counts.
    stack : bool or None
        Step all seeds together as one stack of networks (``numpy.matmul`` over a leading
        axis; faster at small widths, where each BLAS call's fixed cost dominates) instead
        of one network after another with fused BLAS updates. ``None`` (default) stacks
        when every layer is at most :data:`STACK_MAX_WIDTH` wide. The choice depends on
        the widths, not on the number of seeds, so ``seeds=[s]``, ``seed=s`` and member
        ``s`` of a larger batch give bit-identical results.
    device : str
        ``"numpy"`` (default): the numpy engine on the CPU. A PyTorch device, ``"cuda"``,
        ``"cuda:N"`` or ``"cpu"``: the PyTorch engine (:mod:`pathdyn.validation.torch_engine`,
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
    problems = []
    if not isinstance(dataset, Dataset):
        if isinstance(dataset, (str, Path)):
            dataset = resolve_dataset(str(dataset))
        else:
            raise DatasetError(f"dataset: expected a Dataset or a name/path, got {type(dataset).__name__}")
    for name, value, choices in (("init", init, INITS), ("activation", activation, ACTIVATIONS), ("loss", loss, LOSSES)):
        if value not in choices:
            problems.append(f"{name}: unknown value {value!r}; choose one of {', '.join(choices)}")
    for name, value in (("learning_rate", learning_rate), ("divergence_factor", divergence_factor)):
        if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value) or value <= 0:
            problems.append(f"{name}: {value!r} is not a finite number > 0; use a positive value, e.g. {name}=0.005")
    if not _is_int(steps) or steps < 0:
        problems.append(f"steps: {steps!r} is not a whole number >= 0")
    if threads is not None and (not _is_int(threads) or threads < 1):
        problems.append(f"threads: {threads!r} is not a whole number >= 1")
    if deferred_rank is not None and (not _is_int(deferred_rank) or deferred_rank < 0):
        problems.append(f"deferred_rank: {deferred_rank!r} is not a whole number >= 0")
    if not _is_int(record_every) or record_every < 1:
        problems.append(f"record_every: {record_every!r} is not a whole number >= 1")
    if not isinstance(activate_last, bool):
        problems.append(f"activate_last: expected True or False, got {activate_last!r}")
    if seeds is not None and weights is not None:
        problems.append("seeds and weights: give one; weights fix a single initial network")
    if problems:
        raise ConfigError("; ".join(problems))
    from pathdyn.validation.torch_engine import NUMPY, resolve_device

    device = resolve_device(device)
    dtype = _check_dtype(dtype)
    sizes = network_widths(architecture, dataset.n_in, dataset.n_out, width)
    depths = tuple(len(s) - 1 for s in sizes)
    batch = seeds is not None
    if batch and (isinstance(seeds, (str, bytes)) or not isinstance(seeds, (list, tuple, range, np.ndarray))):
        raise ConfigError(f"seeds: {seeds!r} is not a list of seeds; give e.g. seeds=[0, 1, 2] (or seed=5 for one network)")
    seed_list = [_check_seed(s) for s in seeds] if batch else [_check_seed(seed)]
    if batch and not seed_list:
        raise ConfigError("seeds: empty list; give at least one seed")
    if weights is not None:
        initial = [_check_weights(weights, sizes, dtype)]
    else:
        initial = None

    P = dataset.num_samples
    if deferred_rank is None:
        widest = max(n for s in sizes for n in s[1:-1]) if any(len(s) > 2 for s in sizes) else 0
        deferred_rank = default_deferred_rank(widest, P)
    time_per_step = learning_rate * (2 * P if loss == "paper" else 1)
    _check_run_memory(sizes, dataset, steps // record_every + 2, len(seed_list), dtype)
    record_steps = list(range(0, steps + 1, record_every))
    if record_steps[-1] != steps:
        record_steps.append(steps)
    T, B, M = len(record_steps), len(seed_list), len(sizes)
    recorder = _Recorder(dataset, activation, dtype)
    alignment = input_alignment(dataset)
    modes = recorder.num_modes
    proj = np.zeros((T, B, M, modes, modes))
    losses = np.zeros((T, B))
    zero_loss = 0.5 * float(np.sum(dataset.Y**2)) / P
    finals = []
    started = time.perf_counter()

    from pathdyn.progress import Progress

    widest = max(n for s in sizes for n in s)
    stacked = widest <= STACK_MAX_WIDTH if stack is None else bool(stack)
    workers, blas_count = 1, threads
    if threads is not None and threads >= 2 and widest < PARALLEL_MIN_WIDTH:
        blas_count = 1  # thread start-up and hand-over cost more than the work
    elif threads is not None and threads >= 2 and M >= 2 and not stacked and device == NUMPY:
        # Cores go to pathways first: each pathway's thin products on its own core with
        # single-threaded BLAS (OpenBLAS's own threads handle thin products badly).
        workers = min(threads, M)
        blas_count = max(1, threads // workers)
    from concurrent.futures import ThreadPoolExecutor

    pool = ThreadPoolExecutor(max_workers=workers) if workers > 1 else None
    try:
        with blas_threads(blas_count), Progress(steps * B, "simulate", enabled=None if progress else False) as bar:
            def start(s):
                if initial is not None:
                    return initial[0]
                return initialize_weights(
                    depths, dataset.n_in, dataset.n_out, width if width is not None else [s_[1:-1] for s_ in sizes],
                    init=init, init_scale=init_scale, seed=s, dtype=dtype,
                )

            if device != NUMPY:
                from pathdyn.validation.torch_engine import train_on_device

                proj[:], losses[:], finals, device_stats = train_on_device(
                    [start(s) for s in seed_list], dataset, recorder, device=device, dtype=dtype, activation=activation,
                    activate_last=activate_last, loss=loss, learning_rate=learning_rate, steps=steps,
                    record_steps=record_steps, zero_loss=zero_loss, divergence_factor=divergence_factor,
                    deferred_rank=deferred_rank, threads=threads, seeds=seed_list, bar=bar)
            elif stacked:
                nets = [start(s) for s in seed_list]
                stacks = [[np.stack([net[a][d] for net in nets]) for d in range(len(sizes[a]) - 1)] for a in range(M)]
                del nets
                engine = _StackEngine(stacks, dataset.X, dataset.Y, activation, activate_last, loss, dtype)
                _run(engine, recorder, learning_rate, steps, record_steps, proj, losses,
                     zero_loss, divergence_factor, bar, seed_list)
                finals = engine.unstack()
            else:
                finals = []
                for b, s in enumerate(seed_list):
                    engine = _Engine(start(s), dataset.X, dataset.Y, activation, activate_last, loss, dtype, deferred_rank)
                    engine.run_pathways_on(pool, workers * blas_count)
                    _run(engine, recorder, learning_rate, steps, record_steps, proj[:, b:b + 1], losses[:, b:b + 1],
                         zero_loss, divergence_factor, bar, [s])
                    engine.fold_all()
                    engine.run_pathways_on(None)
                    finals.append(engine.W)
    finally:
        if pool is not None:
            pool.shutdown()

    K = np.diagonal(proj, axis1=-2, axis2=-1).copy()
    if not batch:
        K, proj, losses = K[:, 0], proj[:, 0], losses[:, 0]
    steps_arr = np.array(record_steps, dtype=np.int64)
    provenance = {
        "depths": list(depths),
        "layer_sizes": sizes,
        "width": width if width is None or _is_int(width) else [list(s[1:-1]) for s in sizes],
        "init": "weights" if weights is not None else init,
        "init_scale": DEFAULT_INIT_SCALE.get(init) if init_scale is None else init_scale,
        "activation": activation,
        "activate_last": activate_last,
        "learning_rate": float(learning_rate),
        "steps": int(steps),
        "record_every": int(record_every),
        "seeds": seed_list if batch else None,
        "seed": None if (batch or weights is not None) else seed_list[0],
        "dtype": dtype.name,
        "deferred_rank": int(deferred_rank),
        "threads": threads,
        "loss": loss,
        "time_per_step": time_per_step,
        "dataset": dataset.name,
        "n_in": dataset.n_in,
        "n_out": dataset.n_out,
        "num_samples": P,
        "numpy": np.__version__,
        "device": device,
    }
    if device == NUMPY:
        engine_stats = {
            "engine": "stack" if stacked else "blas",
            "pathway_workers": workers,
            "blas_threads": blas_count,
            "deferred_layers": 0 if stacked else sum(x is not None for row in engine.deferred for x in row),
            "kernel_layers": 0 if stacked else engine.kernel_layers(),
        }
    else:
        engine_stats = device_stats
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
        stats={
            "wall_time_s": time.perf_counter() - started,
            "steps": int(steps) * B,
            **engine_stats,
        },
        provenance=provenance,
    )


def _run(engine, recorder, eta, steps, record_steps, proj, losses, zero_loss, factor, bar, seeds):
    """Train an engine's network(s) in place, filling ``proj`` (T, B, M, modes, modes) and ``losses`` (T, B)."""
    P = engine.P
    stacked = isinstance(engine, _StackEngine)
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
