"""Infinite-width gradient descent with orthogonal hidden layers: an overlap march.

When every hidden ``N x N`` matrix starts as ``J(0) = sigma O`` with ``O`` orthogonal,
``J^T J = J J^T = sigma^2 I`` exactly, and the inner products of one mode's forward and
backward fields close on three overlap matrices per site, at any width: no Gaussian
source and no response kernel are needed (contrast :mod:`pathdyn.numerics.dmft`, the
Gaussian case). The march below is therefore exact gradient descent at learning rate
``eta`` for a single mode of any network whose hidden layers are exactly orthogonal
(started from its own initial overlaps), and the infinite-width limit for several modes
(cross-mode overlaps vanish as for Gaussian layers). Geometrically each mode stays in the
plane spanned by its initial forward and backward fields at every site: it is the width-2
chain of :mod:`pathdyn.theory.two_channel`; ``docs/dmft.md``, *Orthogonal hidden layers*,
gives the derivation.

Sites ``k = 0 .. D-2`` as in :mod:`pathdyn.numerics.dmft`: ``f_0 = a = W^1 v``,
``g_{D-2} = b = (W^D)^T u`` and ``J_k = W^{k+1}`` between sites ``k - 1`` and ``k``.
Per site the march keeps ``Cf_k(t, s) = f_k(t).f_k(s)``, ``Cg_k(t, s) = g_k(t).g_k(s)``,
the cross overlaps ``X_k(t, s) = f_k(t).g_k(s)`` (``K(t) = X_k(t, t)`` at every site),
the memory kernels ``alpha_k(t, r) = eta e_r Cf_{k-1}(r, t)`` (``eta e_r`` at site 0) and
``beta_k(t, r) = eta e_r Cg_{k+1}(r, t)`` (``eta e_r`` at the last site), and per hidden
matrix ``Y_k(t, r) = J_k(0) f_{k-1}(t) . g_k(r)``.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

import numpy as np
from numpy.typing import ArrayLike

from pathdyn.errors import ConfigError, IntegrationError
from pathdyn.numerics.dmft_common import (
    BATCH_MEMORY_BYTES,
    BLOWUP_FACTOR,
    DMFTInitialOverlaps,
    causal_matvec,
    discrete_trajectory,
    prepared_solve,
    batched_vecmat,
)
from pathdyn.numerics.trajectory import Trajectory

__all__ = ["solve_orthogonal_dmft", "orthogonal_dmft_memory_bytes"]


def _matvec(M, x):
    """Batched ``M @ x`` (one matrix-vector product per leading index)."""
    return np.matmul(M, x[..., None])[..., 0]


def orthogonal_dmft_memory_bytes(depths: Sequence[int], steps: int) -> int:
    """Working memory of :func:`solve_orthogonal_dmft` per mode (an upper bound).

    A pathway of depth ``D >= 2`` keeps five ``(T+1) x (T+1)`` matrices per site
    (``Cf``, ``Cg``, ``X``, ``alpha``, ``beta``) and one per hidden matrix (``Y``).

    Parameters
    ----------
    depths : sequence of int
        The pathways' depths.
    steps : int
        Number of time steps ``T``.

    Returns
    -------
    int
        Bytes (float64 matrices).
    """
    matrices = sum(5 * (d - 1) + (d - 2) for d in depths if d >= 2)
    return matrices * (int(steps) + 1) ** 2 * 8


class _OrthogonalPathway:
    """The overlap matrices of one pathway on ``T + 1`` time points, for a batch of modes.

    Row ``t`` of every matrix depends on rows ``< t`` and on the errors ``e_s``, ``s < t``,
    only. :meth:`forward_row` fills, site by site from the first, ``alpha_k(t, .)``,
    ``Y_k(t, r < t)``, ``X_k(t, r < t)`` and ``Cf_k(t, s <= t)``; :meth:`backward_row`
    fills, from the last site, ``beta_k(t, .)``, ``Y_{k+1}(q <= t, t)``,
    ``X_k(q <= t, t)`` and ``Cg_k(t, s <= t)``. Leading axis of every array: the modes.

    ``cross_memory=False`` drops the ``eta`` term of
    ``Y_k(t, r) = X_{k-1}(t, r) - sum_q beta_{k-1}(r, q) Cf_{k-1}(t, q)`` (and its backward
    twin), i.e. takes ``J^T g_k(r)`` for ``g_{k-1}(r)``: a deliberately wrong variant.
    """

    def __init__(self, depth, size, sigma2, input_norm2, output_norm2, overlap, eta, cross_memory=True):
        self.depth = depth
        self.sites = max(depth - 1, 0)
        self.sigma2 = sigma2
        self.eta = eta
        self.cross_memory = cross_memory
        self.input_norm2 = np.asarray(input_norm2, dtype=float)
        self.output_norm2 = np.asarray(output_norm2, dtype=float)
        self.K0 = np.asarray(overlap, dtype=float)
        batch = self.K0.size
        self.sum_e = np.zeros(batch)  # depth 1: K(t) = K0 + eta sum_{s<t} e_s
        shape = (batch, size, size)
        L = self.sites
        self.Cf = [np.zeros(shape) for _ in range(L)]
        self.Cg = [np.zeros(shape) for _ in range(L)]
        self.X = [np.zeros(shape) for _ in range(L)]
        self.alpha = [np.zeros(shape) for _ in range(L)]
        self.beta = [np.zeros(shape) for _ in range(L)]
        self.Y = [None] + [np.zeros(shape) for _ in range(1, L)]
        if L:
            # b0 . f_{D-2}(0) = K(0): the one entry the last site's boundary cannot derive
            self.X[L - 1][:, 0, 0] = self.K0

    def step(self, t, e):
        """Fill row ``t`` given the errors ``e`` (shape (batch, T + 1)) at times ``< t``."""
        if self.depth == 1:
            if t:
                self.sum_e = self.sum_e + e[:, t - 1]
            return
        self.forward_row(t, e)
        self.backward_row(t, e)

    def strength(self, t):
        """``K(t) = X_{D-2}(t, t)`` (shape (batch,))."""
        if self.depth == 1:
            return self.K0 + self.eta * self.sum_e
        return self.X[self.sites - 1][:, t, t].copy()

    def site_strengths(self, t):
        """``X_k(t, t)`` at every site (all equal to ``K(t)`` in exact arithmetic: a consistency check)."""
        return [self.X[k][:, t, t].copy() for k in range(self.sites)]

    def forward_row(self, t, e):
        """Row ``t`` of ``alpha``, ``Y``, ``X`` (columns ``< t``) and ``Cf`` at every site, first to last.

        ``f_k(t) = J_k(0) f_{k-1}(t) + sum_r alpha_k(t, r) g_k(r)`` (``a_0`` for the first
        term at site 0), so with ``y = Y_k(t, .)`` and ``v = Cg_k alpha_k(t, .)``:
        ``X_k(t, r) = y + v`` and
        ``Cf_k(t, s) = sigma^2 Cf_{k-1}(t, s) + [alpha_k (y + v)](s) + [Y_k alpha_k(t, .)](s)``.
        """
        eta, s2 = self.eta, self.sigma2
        for k in range(self.sites):
            alpha, Cf, X = self.alpha[k], self.Cf[k], self.X[k]
            if k == 0:
                a = eta * e[:, :t]
                y = self.X[0][:, 0, :t]  # a_0 . g_0(r) = X_0(0, r)
            else:
                previous = self.Cf[k - 1][:, t, :t]
                a = eta * e[:, :t] * previous
                y = self.X[k - 1][:, t, :t].copy()
                if self.cross_memory and t > 1:
                    # J^T g_k(r) = g_{k-1}(r) - sum_q beta_{k-1}(r, q) f_{k-1}(q)
                    y -= causal_matvec(self.beta[k - 1], previous, t)
                self.Y[k][:, t, :t] = y
            alpha[:, t, :t] = a
            yv = y + _matvec(self.Cg[k][:, :t, :t], a)
            X[:, t, :t] = yv
            row = causal_matvec(alpha, yv, t + 1)
            if k == 0:
                row += (self.input_norm2 + np.einsum("br,br->b", a, y))[:, None]
            else:
                row += s2 * self.Cf[k - 1][:, t, : t + 1] + _matvec(self.Y[k][:, : t + 1, :t], a)
            Cf[:, t, : t + 1] = row
            Cf[:, :t, t] = row[:, :t]

    def backward_row(self, t, e):
        """Row ``t`` of ``beta`` and ``Cg``, column ``t`` of ``Y`` and ``X`` at every site, last to first.

        ``g_k(t) = J_{k+1}(0)^T g_{k+1}(t) + sum_r beta_k(t, r) f_k(r)`` (``b_0`` for the
        first term at the last site), so with ``z(q) = Y_{k+1}(q, t)`` (``X_{D-2}(q, 0)`` at
        the last site) and ``w = Cf_k beta_k(t, .)``: ``X_k(q, t) = z + w`` and
        ``Cg_k(t, s) = sigma^2 Cg_{k+1}(t, s) + [beta_k (z + w)](s) + [beta_k(t, .) Y_{k+1}](s)``.
        """
        eta, s2 = self.eta, self.sigma2
        last = self.sites - 1
        for k in range(last, -1, -1):
            beta, Cg, X, Cf = self.beta[k], self.Cg[k], self.X[k], self.Cf[k]
            if k == last:
                b = eta * e[:, :t]
                z = X[:, : t + 1, 0].copy()  # b_0 . f_{D-2}(q) = X_{D-2}(q, 0)
            else:
                following = self.Cg[k + 1][:, t, :t]
                b = eta * e[:, :t] * following
                z = self.X[k + 1][:, : t + 1, t].copy()
                if self.cross_memory:
                    # J f_k(q) = f_{k+1}(q) - sum_p alpha_{k+1}(q, p) g_{k+1}(p)
                    z -= causal_matvec(self.alpha[k + 1], following, t + 1)
                self.Y[k + 1][:, : t + 1, t] = z
            beta[:, t, :t] = b
            w = _matvec(Cf[:, :t, :t], b)
            X[:, :t, t] = z[:, :t] + w
            X[:, t, t] = z[:, t] + np.einsum("br,br->b", Cf[:, t, :t], b)
            row = causal_matvec(beta, z[:, :t] + w, t + 1)
            if k == last:
                row += (self.output_norm2 + np.einsum("br,br->b", b, z[:, :t]))[:, None]
            else:
                row += s2 * self.Cg[k + 1][:, t, : t + 1] + batched_vecmat(b, self.Y[k + 1][:, :t, : t + 1])
            Cg[:, t, : t + 1] = row
            Cg[:, :t, t] = row[:, :t]


def solve_orthogonal_dmft(
    depths: Sequence[int],
    singular_values: ArrayLike,
    *,
    learning_rate: float,
    steps: int,
    init_scale: float = 0.3,
    input_scale: float | None = None,
    output_scale: float | None = None,
    initial_overlaps: DMFTInitialOverlaps | None = None,
    cross_memory: bool = True,
) -> Trajectory:
    """Infinite-width gradient descent at ``eta`` with orthogonal hidden layers (an overlap march).

    Parameters
    ----------
    depths : sequence of int
        ``D_a >= 1`` per pathway.
    singular_values : array_like, shape (modes,)
        ``S_alpha`` of the whitened ``Sigma_yx``.
    learning_rate : float
        ``eta``; record ``k`` is time ``t = eta k``.
    steps : int
        Number of gradient steps ``T``; ``T + 1`` records.
    init_scale : float
        ``sigma``: hidden matrices start as ``sigma O``, ``O`` orthogonal.
    input_scale, output_scale : float, optional
        ``eps_in``, ``eps_out``: ``|W^1 v|^2 = eps_in^2``, ``|(W^D)^T u|^2 = eps_out^2``;
        default ``sigma`` (pathdyn's orthogonal initialisation draws the first and last
        layers Gaussian at ``sigma``).
    initial_overlaps : DMFTInitialOverlaps, optional
        One network's initial ``|a|^2``, ``|b|^2`` and ``K(0)``: with exactly orthogonal
        hidden layers and one mode the march is then that network's gradient descent, at
        any width. ``gains`` must be ``None`` (an orthogonal matrix has gain ``sigma^2``
        on every vector).
    cross_memory : bool
        Keep the ``eta`` memory terms of the cross overlaps ``Y``. ``False`` is a
        deliberately wrong variant, kept so tests can show that they detect it.

    Returns
    -------
    Trajectory
        ``t = eta k``, ``step = k``, ``K`` of shape (T + 1, M, modes) and
        ``loss = sum_alpha (S_alpha - sum_a K_{a alpha})^2 / 2``; ``stats`` holds
        ``site_spread``, the largest difference between ``X_k(t, t)`` of two sites of a
        pathway (zero in exact arithmetic).

    Raises
    ------
    ConfigError
        Bad depths, singular values, scales, steps, overlaps with gains, or too many
        steps for memory.
    IntegrationError
        When ``K`` blows up (learning rate too large for gradient descent to converge).

    Notes
    -----
    With ``u(t) = J_k(0) f_{k-1}(t)`` and ``w(t) = J_k(0)^T g_k(t)``, orthogonality gives
    ``u(t).u(s) = sigma^2 Cf_{k-1}(t, s)``, ``w(t).w(s) = sigma^2 Cg_k(t, s)`` and
    ``u(t).g_k(r) = f_{k-1}(t).w(r) = Y_k(t, r)``, where

    .. math::

        Y_k = X_{k-1} - Cf_{k-1} \\beta_{k-1}^T = X_k - \\alpha_k Cg_k .

    The updates ``f_k = u + alpha_k g_k`` and ``g_{k-1} = w + beta_{k-1} f_{k-1}`` (as
    linear maps in time) then give ``X_k = Y_k + alpha_k Cg_k``,
    ``Cf_k = sigma^2 Cf_{k-1} + Y_k alpha_k^T + alpha_k Y_k^T + alpha_k Cg_k alpha_k^T``
    and ``Cg_{k-1} = sigma^2 Cg_k + Y_k^T beta_{k-1}^T + beta_{k-1} Y_k + beta_{k-1} Cf_{k-1} beta_{k-1}^T``.
    At the boundaries the constant vectors ``a_0``, ``b_0`` take the place of ``u``, ``w``:
    ``a_0 . g_0(r) = X_0(0, r)``, ``b_0 . f_{D-2}(q) = X_{D-2}(q, 0)``. ``O(T^2)`` work per
    row and site, ``O(T^3)`` in all. Depth 2 has no hidden matrix and reproduces the
    Gaussian solver's exact depth-2 recursion; depth 1 is ``K(t+1) = K(t) + eta e_t``.
    """
    sigma = init_scale
    depths, S, input_scale, output_scale, initial_overlaps = prepared_solve(
        depths, singular_values, learning_rate, steps, init_scale, input_scale, output_scale, initial_overlaps,
        memory_bytes=orthogonal_dmft_memory_bytes)
    if initial_overlaps.gains is not None:
        raise ConfigError("initial_overlaps: gains are for Gaussian hidden layers; an orthogonal matrix has gain "
                          "sigma^2 on every vector, so pass gains=None")
    started = time.perf_counter()
    size = steps + 1
    K = np.zeros((size, len(depths), S.size))
    spread = 0.0
    batch = max(1, BATCH_MEMORY_BYTES // max(orthogonal_dmft_memory_bytes(depths, steps), 1))
    for start in range(0, S.size, batch):
        chosen = np.arange(start, min(start + batch, S.size))
        K[:, :, chosen], group_spread = _march(depths, S[chosen], size, sigma**2, initial_overlaps, chosen,
                                                learning_rate, cross_memory)
        spread = max(spread, group_spread)
    return discrete_trajectory(K, S, learning_rate, started, {"site_spread": spread}, {
        "init": "orthogonal", "depths": list(depths), "singular_values": S.tolist(), "learning_rate": learning_rate,
        "init_scale": sigma, "input_scale": input_scale, "output_scale": output_scale, "cross_memory": cross_memory,
    })


def _march(depths, S, size, sigma2, overlaps, modes, eta, cross_memory):
    """March the pathways of the modes ``modes`` together; returns ``K`` (size, M, len(modes)) and the site spread.

    Pathways with the same depth and initial overlaps obey the same equations with the
    same errors, so each distinct one is solved once and copied.
    """
    solved, distinct = {}, []
    for a, depth in enumerate(depths):
        values = tuple(np.asarray(getattr(overlaps, name)[a, modes], dtype=float)
                       for name in ("input_norm2", "output_norm2", "overlap"))
        key = (depth, tuple(v.tobytes() for v in values))
        if key not in solved:
            solved[key] = _OrthogonalPathway(depth, size, sigma2, *values, eta, cross_memory)
        distinct.append(solved[key])
    pathways = list(solved.values())
    K = np.zeros((size, len(depths), len(modes)))
    e = np.zeros((len(modes), size))
    limit = BLOWUP_FACTOR * np.maximum(np.abs(S), 1.0)
    spread = 0.0
    for t in range(size):
        for pathway in pathways:
            pathway.step(t, e)
            if pathway.sites > 1:
                sites = np.array(pathway.site_strengths(t))
                spread = max(spread, float(np.max(sites.max(axis=0) - sites.min(axis=0))))
        for a, pathway in enumerate(distinct):
            K[t, a] = pathway.strength(t)
        e[:, t] = S - K[t].sum(axis=0)
        diverged = ~(np.abs(e[:, t]) < limit)
        if diverged.any():
            worst = float(np.abs(e[np.argmax(diverged), t]))
            raise IntegrationError(
                f"learning_rate: K blew up at step {t} (|S - sum K| = {worst:.3g}); gradient descent diverges "
                f"at eta = {eta:g}; use a smaller learning rate"
            )
    return K, spread
