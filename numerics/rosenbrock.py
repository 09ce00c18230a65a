"""A batched Rosenbrock integrator with a step size per ensemble member.

``solve_ivp`` integrates a stacked ensemble as one system, so every member takes the
steps of the stiffest one and every step pays scipy's Python overhead once for the
whole stack. Here each member ("unit": one batch member and mode) has its own time and
step size; one *sweep* attempts one step for every unit still running, all in numpy
at once. Units that reach ``t_max`` (or converge, see ``done``) leave the active set,
which is compacted, so late sweeps only touch the slow units.

The scheme is Hairer and Wanner's RODAS (order 4, embedded order 3, stiffly accurate,
L-stable; coefficients of ``rodas.f``, METH = 1): with ``W = I / (gamma h) - J``,

    W k_i = f(y + sum_j a_ij k_j) + sum_j (c_ij / h) k_j,   i = 1..6,
    y_new = y + sum_j a_5j k_j + k_5 + k_6,   error estimate k_6.

``W`` is factored once per step by a vectorised LU with partial pivoting over the
``(n, n, units)`` stack (``np.linalg.inv`` on 80,000 4 x 4 blocks costs 20x more).
Output at requested times is the cubic Hermite interpolant of ``y`` and ``f`` at the
two ends of the step that covers it.
"""

from __future__ import annotations

import numpy as np

__all__ = ["rodas_solve", "lu_factor", "lu_solve"]

GAMMA = 0.25
_A = np.zeros((6, 6))
_A[1, 0] = 1.544
_A[2, :2] = [0.9466785280815826, 0.2557011698983284]
_A[3, :3] = [3.314825187068521, 2.896124015972201, 0.9986419139977817]
_A[4, :4] = [1.221224509226641, 6.019134481288629, 12.53708332932087, -0.6878860361058950]
_A[5, :5] = [1.221224509226641, 6.019134481288629, 12.53708332932087, -0.6878860361058950, 1.0]
_C = np.zeros((6, 6))
_C[1, 0] = -5.6688
_C[2, :2] = [-2.430093356833875, -0.2063599157091915]
_C[3, :3] = [-0.1073529058151375, -9.594562251023355, -20.47028614809616]
_C[4, :4] = [7.496443313967647, -10.24680431464352, -33.99990352819905, 11.70890893206160]
_C[5, :5] = [8.083246795921522, -7.981132988064893, -31.52159432874371, 16.31930543123136, -6.058818238834054]


def lu_factor(A: np.ndarray, threshold: float = 0.1):
    """LU with threshold partial pivoting of a stack ``A`` of shape ``(n, n, units)``, in place.

    Row k is swapped with the row of the largest entry of column k only for the units
    whose diagonal entry is below ``threshold`` times that entry (growth of the factors
    stays bounded by ``1 + 1/threshold`` per column); the swaps touch only those units.
    Returns ``(A, pivots, inverse_diagonal)``: ``A`` holds L (unit diagonal, below) and
    U; ``pivots[k]`` is ``None`` or ``(units, rows)``, the units whose row k was swapped
    with ``rows``; ``inverse_diagonal`` (n, units) is ``1 / U_kk``.
    """
    n = A.shape[0]
    pivots = []
    for k in range(n - 1):
        column = np.abs(A[k:, k, :])
        largest = column.max(axis=0)
        swap = np.flatnonzero(column[0] < threshold * largest)
        if swap.size:
            rows = np.argmax(column[:, swap], axis=0) + k
            sub = A[:, :, swap]
            picked = sub[rows, :, np.arange(swap.size)]  # (swapped units, n)
            sub[rows, :, np.arange(swap.size)] = sub[k].T
            sub[k] = picked.T
            A[:, :, swap] = sub
            pivots.append((swap, rows))
        else:
            pivots.append(None)
        factor = A[k + 1:, k, :] / A[k, k, :]
        A[k + 1:, k, :] = factor
        A[k + 1:, k + 1:, :] -= factor[:, None, :] * A[k, None, k + 1:, :]
    inverse_diagonal = 1.0 / np.diagonal(A).T  # (n, units)
    return A, pivots, inverse_diagonal


def lu_solve(factored, b: np.ndarray) -> np.ndarray:
    """Solve ``A x = b`` for every unit; ``b`` of shape ``(n, units)`` is overwritten."""
    A, pivots, inverse_diagonal = factored
    n = A.shape[0]
    for k, pivot in enumerate(pivots):
        if pivot is not None:
            swap, rows = pivot
            other = b[rows, swap]
            b[rows, swap] = b[k, swap]
            b[k, swap] = other
    for k in range(n - 1):
        b[k + 1:] -= A[k + 1:, k] * b[k]
    for k in range(n - 1, -1, -1):
        b[k] *= inverse_diagonal[k]
        if k:
            b[:k] -= A[:k, k] * b[k]
    return b


class _Stopped(Exception):
    """An integration stopped at time ``t`` with largest ``|state|`` ``largest``."""

    def __init__(self, t, largest):
        super().__init__(t, largest)
        self.t = t
        self.largest = largest


class StepSizeCollapse(_Stopped):
    """The step size of some unit fell below rounding level."""


class BlowUp(_Stopped):
    """Some unit's ``|state|`` passed the threshold."""


def rodas_solve(rhs, jac, y0, params, t_eval, t_max, rtol, atol, done=None, threshold=np.inf,
                max_sweeps=200_000, max_step=np.inf):
    """Integrate independent units ``dy/dt = rhs(y, *params)``, each with its own steps.

    Parameters
    ----------
    rhs : callable
        ``rhs(y, *params)`` with ``y`` of shape ``(n, units)``, returning a sequence of
        ``n`` arrays (or scalars) broadcastable to ``(units,)``.
    jac : callable
        ``jac(y, *params)`` returning the ``n * n`` entries ``d rhs_i / d y_j`` row-major.
    y0 : ndarray, shape (n, units)
    params : list of ndarray, each (units,)
    t_eval : ndarray
        Increasing output times in ``[0, t_max]``.
    t_max, rtol, atol, threshold, max_step : float
    done : callable, optional
        ``done(y, *params) -> bool (units,)``: a unit for which it is true after an
        accepted step stops there and keeps its state (e.g. converged).

    Returns
    -------
    dict
        ``Y`` (T, n, units) at ``t_eval`` (units stopped by ``done`` hold their final
        state), ``t_stop`` (units,) the time each unit stopped, ``y_final`` (n, units),
        ``sweeps``, ``steps`` (accepted + rejected, summed over units), ``rejected``,
        ``nfev`` and ``njev`` (summed over units).
    """
    n, U = y0.shape
    T = len(t_eval)
    Y = np.empty((T, n, U))
    y_final = np.empty((n, U))
    t_stop = np.full(U, t_max)
    index = np.arange(U)
    y = np.array(y0, dtype=float)
    params = [np.asarray(p, dtype=float) for p in params]
    t = np.zeros(U)
    nfev = njev = steps = rejected = 0

    def evaluate(y, params):
        out = np.empty_like(y)
        for i, value in enumerate(rhs(y, *params)):
            out[i] = value
        return out

    fy = evaluate(y, params)
    nfev += U
    # Output times at t = 0.
    next_out = np.searchsorted(t_eval, 0.0, side="right")
    if T and t_eval[0] == 0.0:
        Y[0] = y
    next_out = np.full(U, next_out)
    # Initial step (Hairer-Wanner style, first-derivative part).
    scale = atol + rtol * np.abs(y)
    d0 = np.sqrt(np.mean((y / scale) ** 2, axis=0))
    d1 = np.sqrt(np.mean((fy / scale) ** 2, axis=0))
    h = np.where((d0 < 1e-5) | (d1 < 1e-5), 1e-6, 0.01 * d0 / np.maximum(d1, 1e-300))
    h = np.minimum(np.minimum(h, max_step), t_max)
    rejected_last = np.zeros(U, dtype=bool)
    K = np.empty((6, n, U))
    sweeps = 0
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        while y.shape[1]:
            sweeps += 1
            if sweeps > max_sweeps:
                raise StepSizeCollapse(float(np.min(t)), float(np.max(np.abs(y))))
            u = y.shape[1]
            if K.shape[2] != u:
                K = np.empty((6, n, u))
            h = np.minimum(h, t_max - t)
            entries = jac(y, *params)
            njev += u
            W = np.empty((n, n, u))
            for k, value in enumerate(entries):
                if np.ndim(value):
                    np.negative(value, out=W[k // n, k % n])
                else:
                    W[k // n, k % n] = -value
            diagonal = 1.0 / (GAMMA * h)
            for r in range(n):
                W[r, r] += diagonal
            factored = lu_factor(W)
            inv_h = 1.0 / h
            flat = K.reshape(6, -1)
            base = np.empty((n, u))
            base_flat = base.reshape(-1)
            for i in range(6):
                if i == 0:
                    np.copyto(K[0], fy)
                else:
                    if i < 5:
                        np.dot(_A[i, :i], flat[:i], out=base_flat)
                        base += y
                    else:
                        base += K[4]
                    stage_f = evaluate(base, params)
                    np.dot(_C[i, :i], flat[:i], out=flat[i])
                    K[i] *= inv_h
                    K[i] += stage_f
                lu_solve(factored, K[i])
            nfev += 5 * u
            y_new = base
            y_new += K[5]
            steps += u
            scale = np.abs(y)
            np.maximum(scale, np.abs(y_new), out=scale)
            scale *= rtol
            scale += atol
            np.divide(K[5], scale, out=scale)
            scale *= scale
            err = np.sqrt(scale.mean(axis=0))
            err[~np.isfinite(err)] = np.inf
            accept = err <= 1.0
            factor = np.clip(0.9 * err ** -0.25, 0.2, 6.0)
            factor = np.where(accept & rejected_last, np.minimum(factor, 1.0), factor)
            h_next = np.minimum(h * factor, max_step)
            rejected += int(u - np.count_nonzero(accept))
            if not accept.all():
                tiny = ~accept & (h_next <= 16 * np.spacing(np.maximum(np.abs(t), 1.0)))
                if tiny.any():
                    raise StepSizeCollapse(float(t[tiny][0]), float(np.max(np.abs(y[:, tiny]))))
            if accept.any():
                if not np.max(np.abs(y_new)) <= threshold:
                    moved = np.where(accept, np.max(np.abs(y_new), axis=0), 0.0)
                    if not moved.max() <= threshold:
                        bad = int(np.argmax(moved))
                        raise BlowUp(float(t[bad] + h[bad]), float(moved[bad]))
                t_new = np.where(accept, t + h, t)
                finished = accept & (t_new >= t_max * (1 - 1e-14))
                t_new = np.where(finished, t_max, t_new)
                f_new = evaluate(y_new, params)
                nfev += u
                # Dense output for every output time in (t, t_new] of the accepted units.
                out_end = np.searchsorted(t_eval, t_new, side="right")
                count = np.where(accept, out_end - next_out, 0)
                if count.any():
                    rows = np.repeat(np.arange(u), count)
                    offsets = np.arange(rows.size) - np.repeat(np.cumsum(count) - count, count)
                    out_index = np.repeat(next_out, count) + offsets
                    h_r = h[rows]
                    theta = (t_eval[out_index] - t[rows]) / h_r
                    t2, t3 = theta * theta, theta * theta * theta
                    h00 = 2 * t3 - 3 * t2 + 1
                    h10 = t3 - 2 * t2 + theta
                    h01 = -2 * t3 + 3 * t2
                    h11 = t3 - t2
                    values = (h00 * y[:, rows] + (h10 * h_r) * fy[:, rows]
                              + h01 * y_new[:, rows] + (h11 * h_r) * f_new[:, rows])
                    Y[out_index, :, index[rows]] = values.T
                    next_out = np.where(accept, out_end, next_out)
                if accept.all():
                    y, fy = y_new, f_new
                else:
                    y = np.where(accept, y_new, y)
                    fy = np.where(accept, f_new, fy)
                t = t_new
                stop = finished
                if done is not None:
                    stop = stop | (accept & np.asarray(done(y, *params), dtype=bool))
                if stop.any():
                    leaving = index[stop]
                    y_final[:, leaving] = y[:, stop]
                    t_stop[leaving] = t[stop]
                    # Output times after a unit stopped hold its final state.
                    first = next_out[stop]
                    count = T - first
                    if count.any():
                        rows = np.repeat(np.arange(count.size), count)
                        out_index = np.repeat(first, count) + np.arange(rows.size) - np.repeat(np.cumsum(count) - count, count)
                        Y[out_index, :, leaving[rows]] = y[:, stop][:, rows].T
                    keep = ~stop
                    y, fy, t, h_next, index = y[:, keep], fy[:, keep], t[keep], h_next[keep], index[keep]
                    next_out = next_out[keep]
                    params = [p[keep] for p in params]
                    accept = accept[keep]
            h = h_next
            rejected_last = ~accept
    return {"Y": Y, "t_stop": t_stop, "y_final": y_final, "sweeps": sweeps, "steps": steps,
            "rejected": rejected, "nfev": nfev, "njev": njev}
