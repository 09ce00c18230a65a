"""Dynamical mean-field theory (DMFT) of Gaussian-initialised deep linear pathways.

The exact infinite-width limit of gradient descent on the multi-pathway network when
every hidden ``N x N`` layer starts Gaussian with entries of variance ``sigma^2 / N``
and the input and output layers start Gaussian at their own scale ``eps`` (pathdyn's
Gaussian initialisation has ``eps = sigma``). Data are whitened, ``Sigma_yx = U S V^T``.
The equations are derived in ``docs/dmft.md`` and exported symbolically by
:mod:`pathdyn.theory.dmft`; this module solves them.

Discrete time (:func:`solve_dmft`)
    Gradient descent at learning rate ``eta``; record ``k`` is step ``k`` and time
    ``t = eta k``. Each pathway of depth ``D >= 2`` has ``D - 1`` sites (its hidden
    activity layers). At every site a forward field ``f`` and a backward field ``g``
    obey, as linear maps in time (strictly causal, lower triangular),
    ``f = alpha + A g`` and ``g = beta + B f``, with Gaussian sources ``alpha``,
    ``beta`` and memory kernels ``A``, ``B`` built from the neighbouring sites'
    correlations ``C`` and responses ``R``. One forward march in ``k`` solves the
    whole system, ``O(T^3)`` per site, with no fixed-point iteration. With
    ``freeze_below`` the march stops once every mode's error is below it and holds ``K``
    (within ``freeze_below`` of the full march), and its storage grows as it marches, so
    long training costs the steps until the modes are learned, not ``O(T^3)``.

Continuous time (:func:`solve_dmft_flow`)
    The gradient-flow limit ``eta -> 0`` (a Volterra system). Solved by Richardson
    extrapolation of the discrete solution on grids coarser than the gradient steps,
    halving the grid until the estimated error is below a tolerance; each march holds
    ``K`` once learned (``FREEZE_FRACTION * tol * max S``), so ``t_max = 200`` costs about
    what the learning does.

Distinct modes decouple at infinite width: the joint law of the initial weights and the
data are invariant under flipping the sign of ``u_beta`` and ``v_beta`` together, which
flips every cross-mode overlap, so their ensemble means vanish and concentrate to zero;
each mode then runs its own DMFT, coupled across pathways only through its error
``e_alpha = S_alpha - sum_a K_{a alpha}``. The solver marches the modes side by side
(a batch axis), each with its own error.

Orthogonal hidden layers (``init="orthogonal"`` of both solvers)
    Handed to :func:`pathdyn.numerics.dmft_orthogonal.solve_orthogonal_dmft`, whose overlap
    march needs no Gaussian source or response; the continuous-time extrapolation is the same.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence

import numpy as np
from numpy.typing import ArrayLike
from scipy.interpolate import CubicSpline
from scipy.linalg import blas as _blas

from pathdyn.errors import ConfigError, IntegrationError
from pathdyn.numerics.blas_threads import blas_threads
from pathdyn.numerics.dmft_common import (
    BATCH_MEMORY_BYTES,
    BLOWUP_FACTOR,
    MAX_MEMORY_BYTES,
    DMFTInitialOverlaps,
    discrete_trajectory,
    dmft_memory_bytes,
    prepared_solve,
)
# Names this module had before its shared helpers moved out; other modules may still import them from here.
from pathdyn.numerics.dmft_common import BLOCK_FROM, MATRICES_PER_SITE, MAX_BLOCKS  # noqa: F401
from pathdyn.numerics.dmft_common import batched_vecmat, causal_matvec  # noqa: F401
from pathdyn.numerics.dmft_common import packed_length as _packed_length
from pathdyn.numerics.dmft_orthogonal import solve_orthogonal_dmft
from pathdyn.numerics.trajectory import Trajectory

__all__ = ["DMFTInitialOverlaps", "solve_dmft", "solve_dmft_flow", "dmft_memory_bytes", "INITS"]

#: Hidden-layer initialisations the DMFT solvers accept (``init``): Gaussian (this module)
#: or orthogonal (:mod:`pathdyn.numerics.dmft_orthogonal`).
INITS = ("gaussian", "orthogonal")

#: :func:`solve_dmft_flow` holds each march's ``K`` once every mode's error is below this fraction of
#: ``tol * max S`` (``freeze_below`` of :func:`solve_dmft`): each held ``K`` is off by at most that, and the
#: extrapolation's weights (8, -6, 1) / 3 sum to 5 in magnitude, so the holding costs at most a tenth of ``tol``.
FREEZE_FRACTION = 0.02
#: Default step budget of :func:`solve_dmft_flow` per unit of ``t_max`` (at least 1024 steps in all).
MAX_STEPS_PER_TIME = 128
#: Rows a march that may stop early (``freeze_below``) allocates first; it doubles them as it goes.
INITIAL_ROWS = 256



def _packed_row(M, t):
    """Row ``t`` (columns ``0..t``) of batched packed lower triangles ``M``: a view of shape (batch, t + 1)."""
    start = _packed_length(t)
    return M[:, start : start + t + 1]


def _triangular_vecmat(v, M):
    """``v @ M[:n, :n]`` (``n = v.shape[-1]``) for batched packed lower-triangular ``M`` (BLAS ``tpmv``).

    Row-major packed lower storage is column-major packed upper storage of ``M^T``, which
    BLAS calls ``U``: ``tpmv(U, no transpose)`` gives ``M^T v``.
    """
    return _packed_triangular(M, v, transpose=0)


def _triangular_matvec(M, x):
    """``M[:n, :n] @ x`` (``n = x.shape[-1]``) for batched packed lower-triangular ``M`` (``tpmv(U, transpose)``)."""
    return _packed_triangular(M, x, transpose=1)


def _packed_triangular(M, x, transpose):
    """BLAS ``tpmv`` on the leading ``n x n`` triangle of each mode's packed ``M`` (``n = x.shape[-1]``)."""
    n = x.shape[-1]
    out = np.empty(x.shape)
    if n:
        length = _packed_length(n)
        for b in range(x.shape[0]):
            out[b] = _blas.dtpmv(n, M[b, :length], x[b], lower=0, trans=transpose)
    return out


def _symmetric_matvecs(M, vectors):
    """``M[:n, :n] @ v`` for each batched vector ``v`` (each with its own ``n``), for symmetric ``M``.

    ``M`` is stored as its packed lower triangle (BLAS ``spmv`` on ``U``, see
    :func:`_triangular_vecmat`), which is all it reads. Mode by mode, so that a mode's
    triangle read for the first vector is still in cache for the next.
    """
    outs = [np.empty(v.shape) for v in vectors]
    for b in range(M.shape[0]):
        for v, out in zip(vectors, outs):
            n = v.shape[-1]
            if n:
                out[b] = _blas.dspmv(n, 1.0, M[b, : _packed_length(n)], v[b], lower=0)
    return outs


def _grown(M, length):
    """``M`` (batch, n) copied into zeros of shape (batch, ``length``)."""
    out = np.zeros(M.shape[:-1] + (length,))
    out[..., : M.shape[-1]] = M
    return out


def _padded(x):
    """``x`` with one zero appended on the last axis (a product with a strictly causal row's diagonal)."""
    return np.concatenate([x, np.zeros(x.shape[:-1] + (1,))], axis=-1)


def _meeting_site(sites):
    """Site where a row's forward and backward passes meet (any site is exact).

    An inner site (neither first nor last, from three sites up) reads both neighbouring
    covariances once for the two passes; the first site has no backward source product
    and the last no forward one, so meeting there shares nothing.
    """
    return sites // 2


class _Pathway:
    """Causal kernels of one pathway on ``T + 1`` time points, for a batch of modes.

    Site ``k`` (0-based, ``D - 1`` sites) holds ``P = (I - AB)^{-1}``,
    ``Q = (I - BA)^{-1}``, the responses ``Rf = P A`` and ``Rg = Q B`` and the
    correlations ``Cf`` (not at the last site) and ``Cg`` (not at the first); the memory
    kernels ``A`` (of ``f`` on ``g``) and ``B`` (of ``g`` on ``f``) are needed one row at
    a time only. The sources' covariances are ``sigma^2 Cf`` of the site before
    (``|a|^2`` at site 0) and ``sigma^2 Cg`` of the site after (``|b|^2`` at the last site).

    Every matrix is lower triangular (causal) or symmetric, and is kept as its lower
    triangle packed row after row (:func:`_packed_row`), so that a product reads exactly
    the triangle; the march is bound by that memory traffic.

    The modes are independent: each array has a leading batch axis of one entry per mode
    (``input_norm2``, ``output_norm2``, ``overlap`` and the gains of shape (batch,)), so
    one numpy call serves every mode (the BLAS products loop over it). Scalars make a
    batch of one whose strengths are returned as floats; ``e`` is then of shape (T + 1,),
    else (batch, T + 1).
    """

    def __init__(self, depth, size, sigma2, input_norm2, output_norm2, overlap, eta, responses, gains=None):
        self.scalar = np.ndim(input_norm2) == 0
        self.depth = depth
        self.sites = max(depth - 1, 0)
        self.sigma2 = sigma2 if responses else 0.0
        self.source2 = sigma2
        self.input_norm2 = np.atleast_1d(np.asarray(input_norm2, dtype=float))
        self.output_norm2 = np.atleast_1d(np.asarray(output_norm2, dtype=float))
        self.overlap = np.atleast_1d(np.asarray(overlap, dtype=float))
        batch = self.input_norm2.size
        # per hidden matrix k = 1 .. sites-1: forward and backward source gains (sigma^2 in the ensemble)
        if gains is None:
            gains = (np.full((self.sites, batch), sigma2), np.full((self.sites, batch), sigma2))
        self.forward_gain2, self.backward_gain2 = (np.asarray(g, dtype=float).reshape(self.sites, batch)[:, :, None]
                                                   for g in gains)
        self.eta = eta
        self.K0 = self.overlap
        self.sum_e = np.zeros(batch)  # depth 1: K(t) = K0 + eta sum_{s<t} e_s
        self.cross = bool(np.any(self.overlap != 0))
        L = self.sites
        self.capacity = int(size)  # rows allocated; reserve() grows them
        shape = (batch, _packed_length(self.capacity))  # lower triangles, row after row
        self.P = [np.zeros(shape) for _ in range(L)]
        self.Q = [np.zeros(shape) for _ in range(L)]
        self.Rf = [np.zeros(shape) for _ in range(L)]
        self.Rg = [np.zeros(shape) for _ in range(L)]
        # Cf of the last site and Cg of the first feed no other site: not kept.
        self.Cf = [np.zeros(shape) if k < L - 1 else None for k in range(L)]
        self.Cg = [np.zeros(shape) if k > 0 else None for k in range(L)]
        # Row sums of the four causal matrices: a constant source (|a|^2 or |b|^2 times
        # all-ones) or the constant cross covariance multiplies a matrix by all-ones, which
        # these turn from O(T^2) per row into O(T).
        self.P_sum = [np.zeros((batch, self.capacity)) for _ in range(L)]
        self.Q_sum = [np.zeros((batch, self.capacity)) for _ in range(L)]
        self.Rf_sum = [np.zeros((batch, self.capacity)) for _ in range(L)]
        self.Rg_sum = [np.zeros((batch, self.capacity)) for _ in range(L)]
        # Row t's source products (see _sources), reused by K(t) (O(T) instead of O(T^2)).
        self.x_alpha = [None] * L
        self.x_beta = [None] * L
        self.x_alpha_back = [None] * L
        self.x_beta_back = [None] * L
        self.meeting = _meeting_site(L)

    def reserve(self, rows):
        """Make room for ``rows`` rows, keeping the rows already filled.

        A packed lower triangle of ``n`` rows is the first ``n (n + 1) / 2`` entries of any
        longer one, so growing copies each array into a longer one unchanged. A march
        that may stop early (:func:`solve_dmft` with ``freeze_below``) starts small and
        doubles (:func:`_reserve`), so its memory follows the rows it marches, not the rows
        it was asked for.
        """
        if rows <= self.capacity:
            return
        self.capacity = int(rows)
        for name in ("P", "Q", "Rf", "Rg", "Cf", "Cg"):
            setattr(self, name, [None if M is None else _grown(M, _packed_length(self.capacity))
                                 for M in getattr(self, name)])
        for name in ("P_sum", "Q_sum", "Rf_sum", "Rg_sum"):
            setattr(self, name, [_grown(M, self.capacity) for M in getattr(self, name)])

    def step(self, t, e):
        """Fill row ``t`` given the errors ``e`` at times ``< t``.

        Row ``t`` of the forward pass (``P``, ``Rf``, ``Cf``, first site to last) reads rows
        ``< t`` of the backward pass only, and row ``t`` of the backward pass (``Q``, ``Rg``,
        ``Cg``, last site to first) rows ``< t`` of the forward pass only: the two chains are
        independent within a row. They run towards each other and meet at site
        ``meeting``, where the forward and the backward source products share one read of
        ``Cf`` of the site before and of ``Cg`` of the site after.
        """
        e = self._as_batch(e)
        if self.depth == 1:
            if t:
                self.sum_e = self.sum_e + e[:, t - 1]
            return
        meeting, last = self.meeting, self.sites - 1
        for k in range(meeting):
            self._forward_site(t, e, k)
        for k in range(last, meeting, -1):
            self._backward_site(t, e, k)
        self._forward_rows(t, e, meeting)
        self._backward_rows(t, e, meeting)
        self._sources(t, meeting, forward=True, backward=True)
        self._forward_correlation(t, meeting)
        self._backward_correlation(t, meeting)
        for k in range(meeting + 1, self.sites):
            self._forward_site(t, e, k)
        for k in range(meeting - 1, -1, -1):
            self._backward_site(t, e, k)

    def _forward_site(self, t, e, k):
        """Rows ``t`` of ``P``, ``Rf`` and ``Cf`` at site ``k`` (the forward pass alone)."""
        self._forward_rows(t, e, k)
        self._sources(t, k, forward=True, backward=False)
        self._forward_correlation(t, k)

    def _backward_site(self, t, e, k):
        """Rows ``t`` of ``Q``, ``Rg`` and ``Cg`` at site ``k`` (the backward pass alone)."""
        self._backward_rows(t, e, k)
        self._sources(t, k, forward=False, backward=True)
        self._backward_correlation(t, k)

    def _forward_rows(self, t, e, k):
        """Rows ``t`` of ``P = I + A Rg`` and ``Rf = A Q`` at site ``k``, and their sums.

        Row ``t`` of the kernel ``A`` is built here and used at once; the products need rows
        ``< t`` of ``Rg`` and ``Q``. At the first site ``A(t, s) = eta e_s`` does not depend
        on ``t``, so each row is the row before plus one term (``O(T)`` instead of a
        vector-matrix product): ``P[t] = P[t-1] + eta e_{t-1} Rg[t-1]`` off the diagonal
        (``P[t, t-1] = 0`` as ``Rg`` is strictly causal) and ``Rf[t] = Rf[t-1] + eta e_{t-1} Q[t-1]``.
        """
        P, Rf = self.P[k], self.Rf[k]
        p_row, rf_row = _packed_row(P, t), _packed_row(Rf, t)
        if k == 0:
            if t:
                increment = self.eta * e[:, t - 1 : t]
                p_row[:, : t - 1] = _packed_row(P, t - 1)[:, : t - 1] + increment * _packed_row(self.Rg[k], t - 1)[:, : t - 1]
                rf_row[:, :t] = _packed_row(Rf, t - 1) + increment * _packed_row(self.Q[k], t - 1)
        else:
            # Cf is symmetric: its row t holds the column Cf(s, t), s < t.
            a = self.sigma2 * _packed_row(self.Rf[k - 1], t)[:, :t] + self.eta * e[:, :t] * _packed_row(self.Cf[k - 1], t)[:, :t]
            p_row[:, :t] = _triangular_vecmat(a, self.Rg[k])
            rf_row[:, :t] = _triangular_vecmat(a, self.Q[k])
        p_row[:, t] = 1.0
        self.P_sum[k][:, t] = p_row.sum(axis=-1)
        self.Rf_sum[k][:, t] = rf_row[:, :t].sum(axis=-1)

    def _backward_rows(self, t, e, k):
        """Rows ``t`` of ``Q = I + B Rf`` and ``Rg = B P`` at site ``k``, and their sums.

        The mirror of :meth:`_forward_rows`: rows ``< t`` of ``Rf`` and ``P`` are read, and at
        the last site ``B(t, s) = eta e_s`` makes each row the row before plus one term.
        """
        Q, Rg = self.Q[k], self.Rg[k]
        q_row, rg_row = _packed_row(Q, t), _packed_row(Rg, t)
        if k == self.sites - 1:
            if t:
                increment = self.eta * e[:, t - 1 : t]
                q_row[:, : t - 1] = _packed_row(Q, t - 1)[:, : t - 1] + increment * _packed_row(self.Rf[k], t - 1)[:, : t - 1]
                rg_row[:, :t] = _packed_row(Rg, t - 1) + increment * _packed_row(self.P[k], t - 1)
        else:
            b = self.sigma2 * _packed_row(self.Rg[k + 1], t)[:, :t] + self.eta * e[:, :t] * _packed_row(self.Cg[k + 1], t)[:, :t]
            q_row[:, :t] = _triangular_vecmat(b, self.Rf[k])
            rg_row[:, :t] = _triangular_vecmat(b, self.P[k])
        q_row[:, t] = 1.0
        self.Q_sum[k][:, t] = q_row.sum(axis=-1)
        self.Rg_sum[k][:, t] = rg_row[:, :t].sum(axis=-1)

    def _sources(self, t, k, forward, backward):
        """Row ``t``'s products with the sources' covariances at site ``k``, for the passes named.

        Forward: ``x_alpha = Cf_{k-1} P[t]`` (entries ``<= t``; needed for ``Cf``, so not at
        the last site) and ``x_beta = Cg_{k+1} Rf[t]`` (entries ``< t``). Backward:
        ``Cg_{k+1} Q[t]`` (entries ``<= t``; for ``Cg``, so not at the first site) and
        ``Cf_{k-1} Rg[t]`` (entries ``< t``). Each is scaled by its source gain; where the
        source is a constant times all-ones the row sums serve instead. When both passes are
        named, each covariance triangle is read for both vectors while it is in cache.
        """
        last = self.sites - 1
        if k > 0:
            vectors = [_packed_row(self.P[k], t)] if forward and k < last else []
            if backward:
                vectors.append(_packed_row(self.Rg[k], t)[:, :t])
            if vectors:
                products = _symmetric_matvecs(self.Cf[k - 1], vectors)
                if forward and k < last:
                    self.x_alpha[k] = self.forward_gain2[k] * products[0]
                if backward:
                    self.x_alpha_back[k] = self.forward_gain2[k] * products[-1]
        if k < last:
            vectors = [_packed_row(self.Rf[k], t)[:, :t]] if forward else []
            if backward and k > 0:
                vectors.append(_packed_row(self.Q[k], t))
            if vectors:
                products = _symmetric_matvecs(self.Cg[k + 1], vectors)
                if forward:
                    self.x_beta[k] = self.backward_gain2[k + 1] * products[0]
                if backward and k > 0:
                    self.x_beta_back[k] = self.backward_gain2[k + 1] * products[-1]
        elif forward:
            self.x_beta[k] = np.repeat((self.output_norm2 * self.Rf_sum[k][:, t])[:, None], t, axis=1)

    def _forward_correlation(self, t, k):
        """Row ``t`` of ``Cf = P Sigma_alpha P^T + Rf Sigma_beta Rf^T`` (no cross term before the last site).

        The last site's ``Cf`` feeds no other site and is not formed.
        """
        if k == self.sites - 1:
            return
        if k == 0:
            row = (self.input_norm2 * self.P_sum[k][:, t])[:, None] * self.P_sum[k][:, : t + 1]
        else:
            row = _triangular_matvec(self.P[k], self.x_alpha[k])
        if t:
            row += _triangular_matvec(self.Rf[k], _padded(self.x_beta[k]))
        _packed_row(self.Cf[k], t)[:] = row

    def _backward_correlation(self, t, k):
        """Row ``t`` of ``Cg = Q Sigma_beta Q^T + Rg Sigma_alpha Rg^T`` (+ cross terms at the last site).

        The first site's ``Cg`` feeds no other site and is not formed.
        """
        if k == 0:
            return
        last = self.sites - 1
        if k == last:
            row = (self.output_norm2 * self.Q_sum[k][:, t])[:, None] * self.Q_sum[k][:, : t + 1]
        else:
            row = _triangular_matvec(self.Q[k], self.x_beta_back[k])
        if t:
            row += _triangular_matvec(self.Rg[k], _padded(self.x_alpha_back[k]))
        if k == last and self.cross:
            row += self.overlap[:, None] * (self.Q_sum[k][:, t, None] * self.Rg_sum[k][:, : t + 1]
                                            + self.Rg_sum[k][:, t, None] * self.Q_sum[k][:, : t + 1])
        _packed_row(self.Cg[k], t)[:] = row

    def _as_batch(self, e):
        return e[None, :] if e.ndim == 1 else e

    def _result(self, value):
        return float(value[0]) if self.scalar else value

    def strength(self, t):
        """``K(t) = E[f(t) g(t)]`` at the last site (``f = P alpha + Rf beta``, ``g = Q beta + Rg alpha``)."""
        if self.depth == 1:
            return self._result(self.K0 + self.eta * self.sum_e)
        return self._result(self._site_strength(self.sites - 1, t))

    def site_strengths(self, t):
        """``K(t)`` measured at every site (equal in exact arithmetic: a consistency check)."""
        return [self._result(self._site_strength(k, t)) for k in range(self.sites)]

    def _site_strength(self, k, t):
        """``E[f(t) g(t)] = P Sa Rg^T + Rf Sb Q^T + P Sab Q^T + Rf Sba Rg^T`` at row ``t`` of site ``k``.

        ``P[t] Sa Rg[t]^T`` uses the backward pass's ``x = Rg[t] Sa`` (columns ``< t``) and
        ``Rf[t] Sb Q[t]^T`` the forward pass's ``x_beta = Rf[t] Sb``; the entries of each that
        need row ``t`` of ``Sa`` or ``Sb`` (``P[t, t] = Q[t, t] = 1``) are added here. The cross
        covariance ``Sab`` (a constant) acts at the last site only.
        """
        P, Q, Rf, Rg = (_packed_row(M[k], t)[:, :t] for M in (self.P, self.Q, self.Rf, self.Rg))
        if k == 0:
            alpha_t = self.input_norm2 * self.P_sum[k][:, t] * self.Rg_sum[k][:, t]
        else:
            alpha_t = (np.einsum("bs,bs->b", P, self.x_alpha_back[k])
                       + self.forward_gain2[k][:, 0] * np.einsum("bs,bs->b", Rg, _packed_row(self.Cf[k - 1], t)[:, :t]))
        if k == self.sites - 1:
            beta_t = self.output_norm2 * Rf.sum(axis=-1)
        else:
            beta_t = self.backward_gain2[k + 1][:, 0] * np.einsum("bs,bs->b", Rf, _packed_row(self.Cg[k + 1], t)[:, :t])
        value = alpha_t + np.einsum("bs,bs->b", self.x_beta[k], Q) + beta_t
        if k == self.sites - 1 and self.cross:
            value = value + self.overlap * (self.P_sum[k][:, t] * self.Q_sum[k][:, t] + self.Rf_sum[k][:, t] * self.Rg_sum[k][:, t])
        return value


def solve_dmft(
    depths: Sequence[int],
    singular_values: ArrayLike,
    *,
    learning_rate: float,
    steps: int,
    init_scale: float = 0.3,
    input_scale: float | None = None,
    output_scale: float | None = None,
    initial_overlaps: DMFTInitialOverlaps | None = None,
    responses: bool = True,
    init: str = "gaussian",
    freeze_below: float | None = None,
) -> Trajectory:
    """Solve the discrete-time DMFT: the infinite-width limit of gradient descent at ``eta``.

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
        ``sigma``: hidden ``N x N`` layers have entries of variance ``sigma^2 / N``.
    input_scale, output_scale : float, optional
        ``eps_in``, ``eps_out``: ``|W^1 v|^2 -> eps_in^2`` and ``|(W^D)^T u|^2 -> eps_out^2``
        at infinite width; default ``sigma`` (pathdyn's Gaussian initialisation).
    initial_overlaps : DMFTInitialOverlaps, optional
        Condition on one network's initial ``|a|^2``, ``|b|^2`` and (depth <= 2) ``a.b``
        instead of the ensemble values.
    responses : bool
        Keep the response (``sigma^2 R``) terms of the memory kernels. ``False`` is the
        "gradient independence" shortcut, a deliberately wrong variant kept so tests can
        show that the finite-network comparison detects it.
    init : {"gaussian", "orthogonal"}
        The hidden layers' initialisation. ``"orthogonal"`` (``sigma O``, ``O``
        orthogonal) is solved by :func:`pathdyn.numerics.dmft_orthogonal.solve_orthogonal_dmft`
        (an overlap march, no response terms: ``responses`` must stay True).

    Returns
    -------
    Trajectory
        ``t = eta k``, ``step = k``, ``K`` of shape (T + 1, M, modes) and
        ``loss = sum_alpha (S_alpha - sum_a K_{a alpha})^2 / 2``.

    Raises
    ------
    ConfigError
        Bad depths, singular values, scales, steps (or too many steps for memory) or ``init``.
    IntegrationError
        When ``K`` blows up (learning rate too large for gradient descent to converge).

    Notes
    -----
    At each site ``f = P (alpha + A beta)`` and ``g = Q (beta + B alpha)``, with
    ``P = (I - A B)^{-1}`` and ``Q = (I - B A)^{-1}``; hence ``Rf = P A``, ``Rg = Q B``,
    ``Cf = P Sigma_alpha P^T + Rf Sigma_beta Rf^T`` and
    ``Cg = Q Sigma_beta Q^T + Rg Sigma_alpha Rg^T``. The kernels are
    ``A_k(t, s) = sigma^2 Rf_{k-1}(t, s) + eta e_s Cf_{k-1}(s, t)`` and
    ``B_k(t, s) = sigma^2 Rg_{k+1}(t, s) + eta e_s Cg_{k+1}(s, t)`` for ``s < t``, with
    ``A_0(t, s) = B_last(t, s) = eta e_s``. Row ``t`` of every matrix depends on rows
    ``< t`` and on ``e_s`` for ``s < t`` only, so the rows are filled in order of ``t``
    (forward over sites for ``A``, ``P``, ``Cf``; backward for ``B``, ``Q``, ``Cg``), then
    ``K_a(t)`` and ``e_t = S - sum_a K_a(t)``.

    Why holding ``K`` is exact to ``freeze_below``: every weight update is ``eta e_t`` times
    a product of fields, so ``K_a(t+1) - K_a(t) = eta Theta_a(t) e_t`` to first order in
    ``eta`` with ``Theta_a >= 0`` (the pathway's tangent kernel on its mode; cross-mode
    terms vanish at infinite width). The error then decays monotonically,
    ``e_{t+1} = (1 - eta sum_a Theta_a) e_t``, while ``eta sum_a Theta_a < 1`` (no
    overshoot), and the later changes of the ``K_a`` share one sign and sum to ``e_t``:
    each ``|K_a(inf) - K_a(t)| <= |e_t|``.
    """
    if _checked_init(init) == "orthogonal":
        if not responses:
            raise ConfigError("responses: the orthogonal DMFT has no response terms to drop; use init='gaussian' "
                              "for responses=False")
        if freeze_below is not None:
            raise ConfigError("freeze_below: the orthogonal march always runs every step; use init='gaussian' "
                              "or freeze_below=None")
        return solve_orthogonal_dmft(depths, singular_values, learning_rate=learning_rate, steps=steps,
                                     init_scale=init_scale, input_scale=input_scale, output_scale=output_scale,
                                     initial_overlaps=initial_overlaps)
    sigma = init_scale
    if freeze_below is not None and not (isinstance(freeze_below, (int, float)) and freeze_below > 0):
        raise ConfigError(f"freeze_below: expected a positive error, got {freeze_below!r}")
    # A march that stops early is bounded as it grows (_reserve), not by the rows asked for.
    memory_bytes = None if freeze_below is None else (lambda depths, steps: 0)
    depths, S, input_scale, output_scale, initial_overlaps = prepared_solve(
        depths, singular_values, learning_rate, steps, init_scale, input_scale, output_scale, initial_overlaps,
        memory_bytes)
    started = time.perf_counter()
    size = steps + 1
    K = np.zeros((size, len(depths), S.size))
    # Modes are solved together (a batch axis, one numpy call for all) while their working
    # set stays within BATCH_MEMORY_BYTES: the march is bound by memory traffic, and a
    # working set that leaves the cache costs more than the calls it saves.
    rows = steps if freeze_below is None else min(steps, INITIAL_ROWS)
    batch = max(1, BATCH_MEMORY_BYTES // max(dmft_memory_bytes(depths, rows), 1))
    frozen_at = -1  # the last step any batch marched (-1: none stopped early)
    for start in range(0, S.size, batch):
        chosen = np.arange(start, min(start + batch, S.size))
        # One BLAS thread: every product is a thin vector one, where a thread pool's start-up
        # costs far more than the work (about 100x at n = 100: bench_dmft measures it).
        with blas_threads(1):
            K[:, :, chosen], frozen = _solve_modes(depths, S[chosen], size, sigma**2, initial_overlaps, chosen,
                                                   learning_rate, responses, freeze_below)
        if frozen is not None:
            frozen_at = max(frozen_at, frozen)
    stats = {} if freeze_below is None else {"marched_steps": steps if frozen_at < 0 else frozen_at,
                                             "freeze_below": freeze_below}
    return discrete_trajectory(K, S, learning_rate, started, stats, {
        "init": "gaussian", "depths": list(depths), "singular_values": S.tolist(), "learning_rate": learning_rate,
        "init_scale": sigma, "input_scale": input_scale, "output_scale": output_scale, "responses": responses,
    })


def _checked_init(init) -> str:
    """``init`` if it is one of :data:`INITS`, else a :class:`ConfigError` naming the choices."""
    if not isinstance(init, str) or init not in INITS:
        raise ConfigError(f"init: expected one of {', '.join(INITS)}, got {init!r}")
    return init


def _solve_modes(depths, S, size, sigma2, overlaps, modes, eta, responses, freeze_below=None):
    """March the pathways of the modes ``modes`` (singular values ``S``) forward in time together.

    Returns ``(K, frozen)``: ``K`` of shape (size, M, len(modes)) and the step from which
    ``K`` was held (``None`` if the march ran to the end). Pathways with the same depth
    and the same initial overlaps and gains obey the same equations driven by the same
    errors, so they have the same ``K`` to the last bit: each distinct one is solved once
    (``distinct[a]`` is the solved pathway that pathway ``a`` copies).

    With ``freeze_below``, storage starts at ``INITIAL_ROWS`` rows and grows, and the march
    stops at the first step ``t`` where every mode's ``|e_t| <= freeze_below``; ``K`` is
    held at ``K(t)`` after it (see :func:`solve_dmft`).
    """
    solved, distinct = {}, []
    for a, depth in enumerate(depths):
        values = tuple(np.asarray(getattr(overlaps, name)[a, modes], dtype=float)
                       for name in ("input_norm2", "output_norm2", "overlap"))
        gains = None if overlaps.gains is None else tuple(np.asarray(g, dtype=float)[:, modes] for g in overlaps.gains[a])
        key = (depth, tuple(v.tobytes() for v in values), None if gains is None else tuple(g.tobytes() for g in gains))
        if key not in solved:
            rows = size if freeze_below is None else min(size, INITIAL_ROWS)
            solved[key] = _Pathway(depth, rows, sigma2, *values, eta, responses, gains)
        distinct.append(solved[key])
    pathways = list(solved.values())
    K = np.zeros((size, len(depths), len(modes)))
    e = np.zeros((len(modes), size))
    limit = BLOWUP_FACTOR * np.maximum(np.abs(S), 1.0)
    for t in range(size):
        if t >= pathways[0].capacity:  # every pathway starts and grows alike
            _reserve(pathways, depths, t, size, freeze_below)
        for pathway in pathways:
            pathway.step(t, e)
        strengths = {id(pathway): pathway.strength(t) for pathway in pathways}
        for a, pathway in enumerate(distinct):
            K[t, a] = strengths[id(pathway)]
        e[:, t] = S - K[t].sum(axis=0)
        diverged = ~(np.abs(e[:, t]) < limit)
        if diverged.any():
            worst = float(np.abs(e[np.argmax(diverged), t]))
            raise IntegrationError(
                f"learning_rate: K blew up at step {t} (|S - sum K| = {worst:.3g}); gradient descent diverges "
                f"at eta = {eta:g}; use a smaller learning rate"
            )
        if freeze_below is not None and np.all(np.abs(e[:, t]) <= freeze_below):
            K[t + 1 :] = K[t]
            return K, t
    return K, None


def _reserve(pathways, depths, rows, size, freeze_below):
    """Grow every pathway's storage past ``rows`` rows (doubling, at most ``size``), within ``MAX_MEMORY_BYTES`` per mode."""
    wanted = min(max(rows + 1, 2 * pathways[0].capacity), size)
    memory = dmft_memory_bytes(depths, wanted - 1)
    if memory > MAX_MEMORY_BYTES:
        raise ConfigError(
            f"steps: the error was still above {freeze_below:.3g} at step {rows}, and marching on needs "
            f"{memory / 2**30:.1f} GiB per mode; use fewer steps, a larger learning rate, or hold K from a larger "
            "error (freeze_below; --hold-below, or --tol for the flow, on the command line)"
        )
    for pathway in pathways:
        pathway.reserve(wanted)


def solve_dmft_flow(
    depths: Sequence[int],
    singular_values: ArrayLike,
    *,
    t_max: float,
    num_points: int = 201,
    init_scale: float = 0.3,
    input_scale: float | None = None,
    output_scale: float | None = None,
    initial_overlaps: DMFTInitialOverlaps | None = None,
    tol: float = 1e-3,
    initial_steps: int = 16,
    max_steps: int | None = None,
    init: str = "gaussian",
) -> Trajectory:
    """Solve the continuous-time DMFT (gradient flow, ``eta -> 0``) with error control.

    The discrete solution at step ``h`` is a first-order approximation of the flow
    (``K_h = K + c_1 h + c_2 h^2 + ...``). Two Richardson levels on the solutions at
    ``h``, ``h/2``, ``h/4`` remove the first- and second-order terms
    (``R_h = (4 R'_{h/2} - R'_h) / 3`` with ``R'_h = 2 K_{h/2} - K_h``; error ``O(h^3)``).
    ``h`` is halved until two successive values agree, ``max |R_{h/2} - R_h| / max S <= tol``
    (an estimate of the coarser one's error; the finer one is returned), so the grids stay
    much coarser than a training run's steps.

    Parameters
    ----------
    depths, singular_values, init_scale, input_scale, output_scale, initial_overlaps
        As :func:`solve_dmft`.
    t_max : float
        Final time.
    num_points : int
        Output times, evenly spaced on ``[0, t_max]`` (cubic-spline interpolation of the grid).
    tol : float
        Target of ``max |R_{h/2} - R_h| / max S``.
    initial_steps : int
        Steps of the coarsest grid.
    max_steps : int, optional
        The most steps of the finest grid (default ``MAX_STEPS_PER_TIME * t_max``, at least
        1024). Each Gaussian march stops once the modes are learned (every error below
        ``FREEZE_FRACTION * tol * max S``; ``freeze_below`` of :func:`solve_dmft`), so time
        and memory follow the steps until then, not ``max_steps``.
    init : {"gaussian", "orthogonal"}
        The hidden layers' initialisation, as :func:`solve_dmft` (the same extrapolation
        serves both: each discrete solution is first order in its step).

    Returns
    -------
    Trajectory
        ``K`` at ``num_points`` times; ``stats`` holds ``error_estimate`` (relative to
        ``max S``) and ``steps`` of the finest grid; ``success`` is False when
        ``max_steps`` was reached before ``tol``.

    Raises
    ------
    ConfigError, IntegrationError
        As :func:`solve_dmft`.
    """
    if not (isinstance(t_max, (int, float)) and math.isfinite(t_max) and t_max > 0):
        raise ConfigError(f"t_max: expected a positive time, got {t_max!r}")
    if not (isinstance(tol, (int, float)) and tol > 0):
        raise ConfigError(f"tol: expected a positive number, got {tol!r}")
    if num_points < 2:
        raise ConfigError(f"num_points: need at least 2, got {num_points}")
    if max_steps is None:
        max_steps = max(1024, int(math.ceil(MAX_STEPS_PER_TIME * t_max)))
    if isinstance(max_steps, bool) or not isinstance(max_steps, (int, np.integer)) or max_steps < 64:
        raise ConfigError(f"max_steps: expected a whole number >= 64 (the finest grid is 4 times the coarsest "
                          f"of 16 steps), got {max_steps!r}")
    _checked_init(init)
    started = time.perf_counter()
    S = np.atleast_1d(np.asarray(singular_values, dtype=float))
    settings = dict(init_scale=init_scale, input_scale=input_scale, output_scale=output_scale,
                    initial_overlaps=initial_overlaps, init=init)
    if init == "gaussian" and np.all(S > 0):  # (bad S is refused by solve_dmft)
        settings["freeze_below"] = FREEZE_FRACTION * tol * float(np.max(S))
    steps = max(2, int(initial_steps))

    solutions = {}

    def discrete(n):
        if n not in solutions:
            solutions[n] = solve_dmft(depths, S, learning_rate=t_max / n, steps=n, **settings)
        return solutions[n]

    def richardson(n):
        """Two Richardson levels on the grid of ``n`` steps: ``O(h^3)`` from ``n``, ``2n``, ``4n`` steps."""
        K1, K2, K4 = discrete(n).K, discrete(2 * n).K[::2], discrete(4 * n).K[::4]
        first_coarse, first_fine = 2 * K2 - K1, 2 * K4 - K2
        return discrete(n).t, (4 * first_fine - first_coarse) / 3, discrete(4 * n).provenance

    while True:  # a grid too coarse for gradient descent to be stable is refined, not an error
        try:
            _, previous, provenance = richardson(steps)
            break
        except IntegrationError:
            if 16 * steps > max_steps:
                raise IntegrationError(
                    f"max_steps: gradient descent on the grids is unstable up to {4 * steps} steps over t_max = "
                    f"{t_max:g}; raise max_steps (e.g. {16 * max_steps}) or lower t_max") from None
            solutions.clear()
            steps *= 2
    while True:
        grid_fine, current, provenance = richardson(2 * steps)
        estimate = float(np.max(np.abs(current[::2] - previous))) / float(np.max(S))
        steps *= 2
        if estimate <= tol or 8 * steps > max_steps:
            break
        previous = current
    finest = 4 * steps
    stats = {"wall_time_s": time.perf_counter() - started, "error_estimate": estimate, "steps": finest,
             "marched_steps": discrete(finest).stats.get("marched_steps", finest),
             "freeze_below": settings.get("freeze_below")}
    return _flow_trajectory(grid_fine, current, S, t_max, num_points, tol, stats, provenance)


def _flow_trajectory(grid: np.ndarray, extrapolated: np.ndarray, S: np.ndarray, t_max: float, num_points: int,
                     tol: float, stats: dict, provenance: dict) -> Trajectory:
    """The flow's trajectory on ``num_points`` times from the extrapolated ``K`` on ``grid``, with its verdict."""
    t = np.linspace(0.0, float(t_max), int(num_points))
    # Cubic (O(h^4)) so that interpolation stays below the O(h^2) of the extrapolation.
    K = CubicSpline(grid, extrapolated, axis=0)(t)
    estimate, finest = stats["error_estimate"], stats["steps"]
    success = estimate <= tol
    message = (
        f"error estimate {estimate:.2e} <= tol {tol:g} with {finest} steps" if success
        else f"max_steps: error estimate {estimate:.2e} > tol {tol:g} with {finest} steps; raise max_steps "
             f"(e.g. {8 * finest}) or tol"
    )
    provenance = dict(provenance, learning_rate=None, solver="Richardson extrapolation of the discrete DMFT", tol=tol)
    return Trajectory(t=t, K=K, loss=0.5 * np.sum((S - K.sum(axis=1)) ** 2, axis=-1), success=success,
                      message=message, stats=stats, provenance=provenance)
