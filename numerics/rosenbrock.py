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


def lu_factor(A: np.ndarray):
    """LU with partial pivoting of a stack ``A`` of shape ``(n, n, units)``, in place.

    Returns ``(A, pivots)``: ``A`` holds L (unit diagonal, below) and U; ``pivots[k]``
    is ``None`` (no unit swapped row k) or the row index ``(units,)`` swapped with k.
    """
    n = A.shape[0]
    pivots = []
    for k in range(n - 1):
        p = np.argmax(np.abs(A[k:, k, :]), axis=0)
        if p.any():
            p = p + k
            index = np.broadcast_to(p[None, None, :], (1, n, A.shape[2]))
            row_p = np.take_along_axis(A, index, axis=0)
            np.put_along_axis(A, index, A[k][None], axis=0)
            A[k] = row_p[0]
            pivots.append(p)
        else:
            pivots.append(None)
        factor = A[k + 1:, k, :] / A[k, k, :]
        A[k + 1:, k, :] = factor
        A[k + 1:, k + 1:, :] -= factor[:, None, :] * A[k, None, k + 1:, :]
    return A, pivots


def lu_solve(factored, b: np.ndarray) -> np.ndarray:
    """Solve ``A x = b`` for every unit; ``b`` of shape ``(n, units)`` is overwritten."""
    A, pivots = factored
    n = A.shape[0]
    for k, p in enumerate(pivots):
        if p is not None:
            other = np.take_along_axis(b, p[None, :], axis=0)
            np.put_along_axis(b, p[None, :], b[k][None], axis=0)
            b[k] = other[0]
    for k in range(n - 1):
        b[k + 1:] -= A[k + 1:, k] * b[k]
    for k in range(n - 1, -1, -1):
        b[k] /= A[k, k]
        if k:
            b[:k] -= A[:k, k] * b[k]
    return b


class StepSizeCollapse(Exception):
    """The step size of some unit fell below rounding level."""

    def __init__(self, t, largest):
        super().__init__(t, largest)
        self.t = t
        self.largest = largest


class BlowUp(Exception):
    """Some unit's ``|state|`` passed the threshold."""

    def __init__(self, t, largest):
        super().__init__(t, largest)
        self.t = t
        self.largest = largest


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
    eye = np.eye(n)[:, :, None]
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
                W[k // n, k % n] = -np.asarray(value)
            W += eye * (1.0 / (GAMMA * h))
            factored = lu_factor(W)
            inv_h = 1.0 / h
            flat = K.reshape(6, -1)
            for i in range(6):
                if i == 0:
                    stage_f = fy
                    base = None
                elif i < 5:
                    base = y + (_A[i, :i] @ flat[:i]).reshape(n, u)
                    stage_f = evaluate(base, params)
                else:
                    base = base + K[4]
                    stage_f = evaluate(base, params)
                if i:
                    rhs_i = stage_f + (_C[i, :i] @ flat[:i]).reshape(n, u) * inv_h
                else:
                    rhs_i = stage_f.copy()
                K[i] = lu_solve(factored, rhs_i)
            nfev += 5 * u
            y_new = base + K[5]
            steps += u
            scale = atol + rtol * np.maximum(np.abs(y), np.abs(y_new))
            err = np.sqrt(np.mean((K[5] / scale) ** 2, axis=0))
            ok = np.isfinite(err) & np.all(np.isfinite(y_new), axis=0)
            err = np.where(ok, err, np.inf)
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
                a = np.flatnonzero(accept) if not accept.all() else slice(None)
                ya, yna, ta, ha = y[:, a], y_new[:, a], t[a], h[a]
                largest = np.max(np.abs(yna)) if yna.size else 0.0
                if not largest <= threshold:
                    bad = np.max(np.abs(yna), axis=0) > threshold
                    raise BlowUp(float(ta[bad][0] + ha[bad][0]), float(largest))
                t_new = ta + ha
                finished = t_new >= t_max * (1 - 1e-14)
                t_new = np.where(finished, t_max, t_new)
                pa = [p[a] for p in params]
                f_new = evaluate(yna, pa)
                nfev += yna.shape[1]
                # Dense output for every output time in (t, t_new].
                out_end = np.searchsorted(t_eval, t_new, side="right")
                count = out_end - next_out[a]
                if count.any():
                    rows = np.repeat(np.arange(count.size), count)
                    offsets = np.arange(rows.size) - np.repeat(np.cumsum(count) - count, count)
                    out_index = np.repeat(next_out[a], count) + offsets
                    theta = (t_eval[out_index] - ta[rows]) / ha[rows]
                    h_r = ha[rows]
                    t2, t3 = theta * theta, theta * theta * theta
                    h00 = 2 * t3 - 3 * t2 + 1
                    h10 = t3 - 2 * t2 + theta
                    h01 = -2 * t3 + 3 * t2
                    h11 = t3 - t2
                    values = (h00 * ya[:, rows] + (h10 * h_r) * fy[:, a][:, rows]
                              + h01 * yna[:, rows] + (h11 * h_r) * f_new[:, rows])
                    Y[out_index, :, index[a][rows]] = values.T
                    next_out[a] = out_end
                stop = finished
                if done is not None:
                    stop = stop | np.asarray(done(yna, *pa), dtype=bool)
                # Write back the accepted steps.
                y[:, a] = yna
                fy[:, a] = f_new
                t[a] = t_new
                if stop.any():
                    global_stop = np.zeros(u, dtype=bool)
                    global_stop[a] = stop
                    leaving = index[global_stop]
                    y_final[:, leaving] = y[:, global_stop]
                    t_stop[leaving] = t[global_stop]
                    # Output times after a unit stopped hold its final state.
                    first = next_out[global_stop]
                    count = T - first
                    if count.any():
                        rows = np.repeat(np.arange(count.size), count)
                        out_index = np.repeat(first, count) + np.arange(rows.size) - np.repeat(np.cumsum(count) - count, count)
                        Y[out_index, :, leaving[rows]] = y[:, global_stop][:, rows].T
                    keep = ~global_stop
                    y, fy, t, h_next, index = y[:, keep], fy[:, keep], t[keep], h_next[keep], index[keep]
                    next_out = next_out[keep]
                    params = [p[keep] for p in params]
                    accept = accept[keep]
            h = h_next
            rejected_last = ~accept
    return {"Y": Y, "t_stop": t_stop, "y_final": y_final, "sweeps": sweeps, "steps": steps,
            "rejected": rejected, "nfev": nfev, "njev": njev}
