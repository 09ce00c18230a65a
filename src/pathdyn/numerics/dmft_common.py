"""What the DMFT marches share: initial overlaps, checked inputs, memory bounds, causal products.

:mod:`pathdyn.numerics.dmft` (Gaussian hidden layers) and
:mod:`pathdyn.numerics.dmft_orthogonal` (orthogonal ones) both build on this module, and
:mod:`pathdyn.numerics.dmft` re-exports its public names, so neither march imports the other
from inside a function.
"""

from __future__ import annotations

import functools
import math
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from pathdyn.errors import ConfigError
from pathdyn.numerics.trajectory import Trajectory

__all__ = [
    "DMFTInitialOverlaps", "prepared_solve", "discrete_trajectory", "dmft_memory_bytes", "causal_matvec",
    "batched_vecmat", "packed_length", "MATRICES_PER_SITE", "MAX_MEMORY_BYTES", "BATCH_MEMORY_BYTES",
    "BLOWUP_FACTOR", "BLOCK_FROM", "MAX_BLOCKS",
]

#: Number of ``(T+1) x (T+1)`` float64 lower triangles (packed) kept per site (two fewer per pathway).
MATRICES_PER_SITE = 6
#: Refuse a discrete solve whose working memory (one mode) would exceed this.
MAX_MEMORY_BYTES = 3 * 2**30
#: Most working memory of the modes solved together in one batch (see :func:`solve_dmft`).
BATCH_MEMORY_BYTES = 256 * 2**20
#: Growth beyond this many times the largest singular value counts as a blow-up.
BLOWUP_FACTOR = 1e6
#: Dense causal products (the orthogonal march's; the Gaussian one keeps packed triangles):
#: length from which a product is split into blocks that skip the zero triangle.
BLOCK_FROM = 100
#: At most this many blocks (each is one more call).
MAX_BLOCKS = 8


def _block_edges(n: int) -> tuple[int, ...]:
    """Edges of up to ``MAX_BLOCKS`` near-equal blocks of ``range(n)``, each at least ``BLOCK_FROM`` long."""
    return _cached_block_edges(n, BLOCK_FROM, MAX_BLOCKS)


def _pairs(edges: Sequence[int]) -> Iterator[tuple[int, int]]:
    """``(lo, hi)`` of each block between successive edges."""
    return zip(edges[:-1], edges[1:])


@functools.lru_cache(maxsize=4096)
def _cached_block_edges(n: int, block_from: int, max_blocks: int) -> tuple[int, ...]:
    # Every row asks for the same few lengths again; the constants are arguments so that a
    # test that changes them gets fresh edges.
    blocks = min(max_blocks, max(1, n // block_from))
    return tuple(n * i // blocks for i in range(blocks + 1))


def causal_matvec(M: np.ndarray, x: np.ndarray, rows: int) -> np.ndarray:
    """``M[..., :rows, :n] @ x`` (``n = x.shape[-1]``) for lower-triangular ``M`` (``M[s, u] = 0`` for ``u > s``).

    Leading axes of ``M`` and ``x`` are a batch. Rows ``[lo, hi)`` need only columns
    ``< hi``: ``b`` blocks of rows read a fraction ``(b + 1) / (2 b)`` of the square,
    which matters because the products are bound by memory traffic, not arithmetic.
    Each block writes its part of the result in place (no temporaries).

    Parameters
    ----------
    M : ndarray, shape (..., rows or more, n or more)
    x : ndarray, shape (..., n)
    rows : int

    Returns
    -------
    ndarray, shape (..., rows)
    """
    n = x.shape[-1]
    out = np.empty(x.shape[:-1] + (rows, 1))
    column = x[..., None]
    for lo, hi in _pairs(_block_edges(rows)):
        cols = min(hi, n)
        np.matmul(M[..., lo:hi, :cols], column[..., :cols, :], out=out[..., lo:hi, :])
    return out[..., 0]


def batched_vecmat(v: np.ndarray, M: np.ndarray) -> np.ndarray:
    """Batched ``v @ M`` (one matrix-vector product per leading index).

    Parameters
    ----------
    v : ndarray, shape (..., n)
    M : ndarray, shape (..., n, m)

    Returns
    -------
    ndarray, shape (..., m)
    """
    return np.matmul(v[..., None, :], M)[..., 0, :]


def packed_length(n: int) -> int:
    """Entries of an ``n x n`` lower triangle stored row after row.

    Parameters
    ----------
    n : int
        The side of the triangle.

    Returns
    -------
    int
        ``n (n + 1) / 2``.
    """
    return n * (n + 1) // 2


@dataclass(frozen=True)
class DMFTInitialOverlaps:
    """Initial overlaps of the trained input and output vectors, per pathway and mode.

    The infinite-width ensemble has ``|a|^2 = eps_in^2``, ``|b|^2 = eps_out^2`` and
    ``a.b = 0``; a single network's own values condition the theory on that network
    (exactly, at depth 2, where no random matrix sits between ``a`` and ``b``).

    Attributes
    ----------
    input_norm2 : ndarray, shape (M, modes)
        ``|a_{a alpha}|^2 = |W_a^1 v_alpha|^2``.
    output_norm2 : ndarray, shape (M, modes)
        ``|b_{a alpha}|^2 = |(W_a^{D_a})^T u_alpha|^2``.
    overlap : ndarray, shape (M, modes)
        The initial ``K = u^T Omega_a v``: ``a.b`` at depth 2 (exact conditioning), the
        single matrix's ``u^T W v`` at depth 1; deeper, a constant cross covariance of
        the last site's sources (approximate conditioning). Zero in the ensemble.
    gains : tuple, optional
        Per pathway ``(forward, backward)``, each of shape ``(D_a - 1, modes)``: row
        ``k >= 1`` is the gain of hidden matrix ``k`` (between sites ``k - 1`` and ``k``)
        on the network's own initial fields, ``|f_k|^2 / |f_{k-1}|^2`` forward and
        ``|g_{k-1}|^2 / |g_k|^2`` backward; they replace ``sigma^2`` in the sources
        (row 0 is unused). ``None``: ``sigma^2`` (the ensemble).
    """

    input_norm2: np.ndarray
    output_norm2: np.ndarray
    overlap: np.ndarray
    gains: tuple | None = None

    def __post_init__(self) -> None:
        arrays = [np.atleast_2d(np.asarray(getattr(self, n), dtype=float)) for n in ("input_norm2", "output_norm2", "overlap")]
        if len({a.shape for a in arrays}) != 1:
            raise ConfigError(f"initial overlaps: arrays must share one shape (pathways, modes), got {[a.shape for a in arrays]}")
        if not all(np.all(np.isfinite(a)) for a in arrays) or np.any(arrays[0] < 0) or np.any(arrays[1] < 0):
            raise ConfigError("initial overlaps: norms must be finite and >= 0 and overlaps finite")
        for name, array in zip(("input_norm2", "output_norm2", "overlap"), arrays):
            object.__setattr__(self, name, array)

    @classmethod
    def ensemble(cls, num_pathways: int, num_modes: int, input_scale: float, output_scale: float) -> DMFTInitialOverlaps:
        """The infinite-width values ``|a|^2 = eps_in^2``, ``|b|^2 = eps_out^2``, ``a.b = 0``.

        Parameters
        ----------
        num_pathways, num_modes : int
            The shape ``(pathways, modes)`` of every overlap.
        input_scale, output_scale : float
            ``eps_in`` and ``eps_out``, the scales of the input and output layers.

        Returns
        -------
        DMFTInitialOverlaps
        """
        shape = (num_pathways, num_modes)
        return cls(np.full(shape, input_scale**2), np.full(shape, output_scale**2), np.zeros(shape))


def dmft_memory_bytes(depths: Sequence[int], steps: int) -> int:
    """Working memory of :func:`solve_dmft` per mode (modes are batched up to ``BATCH_MEMORY_BYTES``).

    An upper bound: pathways identical to another one are solved once.

    Parameters
    ----------
    depths : sequence of int
        ``D_a`` per pathway (depth-1 pathways need no matrices).
    steps : int
        Gradient steps ``T``; every matrix is a packed lower triangle of ``T + 1`` rows.

    Returns
    -------
    int
        Bytes of float64 working memory for one mode.
    """
    matrices = sum(MATRICES_PER_SITE * (d - 1) - 2 for d in depths if d >= 2)
    return matrices * packed_length(int(steps) + 1) * 8


def _check_inputs(depths: Sequence[int], singular_values: ArrayLike, learning_rate: float, steps: int, init_scale: float,
                  input_scale: float, output_scale: float,
                  memory_bytes: Callable[[tuple[int, ...], int], int] | None = None) -> tuple[tuple[int, ...], np.ndarray]:
    """Checked ``(depths, S)``; ``memory_bytes(depths, steps)`` (default :func:`dmft_memory_bytes`) is bounded."""
    try:
        depths = tuple(int(d) for d in depths)
    except (TypeError, ValueError):
        raise ConfigError(f"depths: expected a list of whole numbers >= 1, got {depths!r}") from None
    if not depths or min(depths) < 1:
        raise ConfigError(f"depths: expected a non-empty list of whole numbers >= 1, got {list(depths)}")
    S = np.atleast_1d(np.asarray(singular_values, dtype=float))
    if S.ndim != 1 or S.size == 0 or not np.all(np.isfinite(S)) or np.any(S <= 0):
        raise ConfigError(f"singular_values: expected positive finite numbers, got {S.tolist()}")
    for name, value in (("learning_rate", learning_rate), ("init_scale", init_scale),
                        ("input_scale", input_scale), ("output_scale", output_scale)):
        if isinstance(value, bool) or not isinstance(value, (int, float, np.floating)) or not math.isfinite(value) or value <= 0:
            raise ConfigError(f"{name}: expected a positive number, got {value!r}")
    if isinstance(steps, bool) or not isinstance(steps, (int, np.integer)) or steps < 1:
        raise ConfigError(f"steps: expected a whole number >= 1, got {steps!r}")
    memory = (memory_bytes or dmft_memory_bytes)(depths, steps)
    if memory > MAX_MEMORY_BYTES:
        raise ConfigError(
            f"steps: {steps} steps need {memory / 2**30:.1f} GiB per mode (O(steps^2) per site); use fewer steps, "
            "a larger learning rate, the continuous-time solver, or hold K once the modes are learned "
            "(freeze_below; --hold-below on the command line)"
        )
    return depths, S


def prepared_solve(depths: Sequence[int], singular_values: ArrayLike, learning_rate: float, steps: int, init_scale: float,
                   input_scale: float | None, output_scale: float | None, initial_overlaps: DMFTInitialOverlaps | None,
                   memory_bytes: Callable[[tuple[int, ...], int], int] | None = None
                   ) -> tuple[tuple[int, ...], np.ndarray, float, float, DMFTInitialOverlaps]:
    """The checked inputs of a discrete solve, shared by the Gaussian and orthogonal marches.

    Parameters
    ----------
    depths, singular_values, learning_rate, steps, init_scale, input_scale, output_scale, initial_overlaps
        As for :func:`solve_dmft`.
    memory_bytes : callable, optional
        ``memory_bytes(depths, steps)``: the working memory to bound (default :func:`dmft_memory_bytes`).

    Returns
    -------
    tuple
        ``(depths, S, input_scale, output_scale, initial_overlaps)``: the scales default to
        ``init_scale`` and the overlaps to their infinite-width values.

    Raises
    ------
    ConfigError
        For a bad value, or overlaps of another shape.
    """
    input_scale = init_scale if input_scale is None else input_scale
    output_scale = init_scale if output_scale is None else output_scale
    depths, S = _check_inputs(depths, singular_values, learning_rate, steps, init_scale, input_scale, output_scale,
                              memory_bytes)
    M, modes = len(depths), S.size
    if initial_overlaps is None:
        initial_overlaps = DMFTInitialOverlaps.ensemble(M, modes, input_scale, output_scale)
    elif initial_overlaps.input_norm2.shape != (M, modes):
        raise ConfigError(
            f"initial_overlaps: shape {initial_overlaps.input_norm2.shape}, expected (pathways, modes) = {(M, modes)}"
        )
    return depths, S, input_scale, output_scale, initial_overlaps


def discrete_trajectory(K: np.ndarray, S: np.ndarray, learning_rate: float, started: float, stats: dict[str, Any],
                        provenance: dict[str, Any]) -> Trajectory:
    """The :class:`Trajectory` of a discrete solve: ``K`` at every step, its loss, and the run's records.

    Parameters
    ----------
    K : ndarray, shape (steps + 1, pathways, modes)
    S : ndarray, shape (modes,)
    learning_rate : float
    started : float
        ``time.perf_counter()`` at the start of the solve.
    stats, provenance : dict
        Added to the trajectory's records.

    Returns
    -------
    Trajectory
    """
    steps = K.shape[0] - 1
    error = S - K.sum(axis=1)
    return Trajectory(
        t=learning_rate * np.arange(steps + 1),
        K=K,
        loss=0.5 * np.sum(error**2, axis=-1),
        success=True,
        message=f"solved {steps} gradient steps at learning rate {learning_rate:g}",
        step=np.arange(steps + 1),
        stats={"wall_time_s": time.perf_counter() - started, "time_points": steps + 1, **stats},
        provenance={"model": "dmft", **provenance},
    )
