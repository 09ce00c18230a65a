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

from collections.abc import Callable, Iterable, Sequence
from typing import Any

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


def lu_factor(A: np.ndarray, threshold: float = 0.1) -> tuple:
    """LU with threshold partial pivoting of a stack ``A`` of shape ``(n, n, units)``, in place.

    Row k is swapped with the row of the largest entry of column k only for the units
    whose diagonal entry is below ``threshold`` times that entry (growth of the factors
    stays bounded by ``1 + 1/threshold`` per column); the swaps touch only those units.
    Returns ``(A, pivots, inverse_diagonal)``: ``A`` holds L (unit diagonal, below) and
    U; ``pivots[k]`` is ``None`` or ``(units, rows)``, the units whose row k was swapped
    with ``rows``; ``inverse_diagonal`` (n, units) is ``1 / U_kk``.

    Parameters
    ----------
    A : ndarray, shape ``(n, n, units)``
        The matrices, overwritten by their factors.
    threshold : float
        Pivoting threshold in ``(0, 1]``.

    Returns
    -------
    tuple
        ``(A, pivots, inverse_diagonal)`` as described above, for :func:`lu_solve`.
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
            pivots.append(None)  # type: ignore[arg-type]  # no swap in this column
        factor = A[k + 1:, k, :] / A[k, k, :]
        A[k + 1:, k, :] = factor
        A[k + 1:, k + 1:, :] -= factor[:, None, :] * A[k, None, k + 1:, :]
    inverse_diagonal = 1.0 / np.diagonal(A).T  # (n, units)
    return A, pivots, inverse_diagonal


def lu_solve(factored: tuple, b: np.ndarray) -> np.ndarray:
    """Solve ``A x = b`` for every unit; ``b`` of shape ``(n, units)`` is overwritten.

    Parameters
    ----------
    factored : tuple
        What :func:`lu_factor` returned.
    b : ndarray, shape ``(n, units)``
        Right-hand sides, overwritten by the solutions.

    Returns
    -------
    ndarray
        ``b``, now holding ``x``.
    """
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

    def __init__(self, t: float, largest: float) -> None:
        super().__init__(t, largest)
        self.t = t
        self.largest = largest


class StepSizeCollapse(_Stopped):
    """The step size of some unit fell below rounding level."""


class BlowUp(_Stopped):
    """Some unit's ``|state|`` passed the threshold."""


def rodas_solve(rhs: Callable[..., Iterable[Any]], jac: Callable[..., Iterable[Any]], y0: np.ndarray, params: Sequence[np.ndarray],
                t_eval: np.ndarray, t_max: float, rtol: float, atol: float, done: Callable[..., Any] | None = None,
                threshold: float = np.inf, max_sweeps: int = 200_000, max_step: float = np.inf) -> dict:
    """Integrate independent units ``dy/dt = rhs(y, *params)``, each with its own steps.

    Parameters
    ----------
    rhs : callable
        ``rhs(y, *params)`` with ``y`` of shape ``(n, units)``, returning a sequence of
        ``n`` arrays (or scalars) broadcastable to ``(units,)``.
    jac : callable
        ``jac(y, *params)`` returning the ``n * n`` entries ``d rhs_i / d y_j`` row-major.
    y0 : ndarray, shape (n, units)
        Initial states, one column per unit.
    params : list of ndarray, each (units,)
        The parameters of each unit.
    t_eval : ndarray
        Increasing output times in ``[0, t_max]``.
    t_max : float
        End time of every unit.
    rtol, atol : float
        Relative and absolute tolerances of the embedded error estimate.
    done : callable, optional
        ``done(y, *params) -> bool (units,)``: a unit for which it is true after an
        accepted step stops there and keeps its state (e.g. converged).
    threshold : float
        Largest ``|state|`` an accepted step may reach.
    max_sweeps : int
        Most sweeps (one attempted step of every running unit) before giving up.
    max_step : float
        Largest step size.

    Returns
    -------
    dict
        ``Y`` (T, n, units) at ``t_eval`` (units stopped by ``done`` hold their final
        state), ``t_stop`` (units,) the time each unit stopped, ``y_final`` (n, units),
        ``sweeps``, ``steps`` (accepted + rejected, summed over units), ``rejected``,
        ``nfev`` and ``njev`` (summed over units).

    Raises
    ------
    BlowUp
        When an accepted step takes some ``|state|`` past ``threshold``.
    StepSizeCollapse
        When some unit's step size falls below rounding level, or after ``max_sweeps``.
    """
    run = _RodasRun(rhs, jac, y0, params, t_eval, t_max, rtol, atol, done, threshold, max_step)
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        while run.y.shape[1]:
            run.sweeps += 1
            if run.sweeps > max_sweeps:
                raise StepSizeCollapse(float(np.min(run.t)), float(np.max(np.abs(run.y))))
            run.sweep()
    return run.result()


def _initial_step(y: np.ndarray, fy: np.ndarray, rtol: float, atol: float, max_step: float, t_max: float) -> np.ndarray:
    """Hairer and Wanner's first guess of the step size (its first-derivative part)."""
    scale = atol + rtol * np.abs(y)
    d0 = np.sqrt(np.mean((y / scale) ** 2, axis=0))
    d1 = np.sqrt(np.mean((fy / scale) ** 2, axis=0))
    h = np.where((d0 < 1e-5) | (d1 < 1e-5), 1e-6, 0.01 * d0 / np.maximum(d1, 1e-300))
    return np.minimum(np.minimum(h, max_step), t_max)


def _error_norm(y: np.ndarray, y_new: np.ndarray, estimate: np.ndarray, rtol: float, atol: float) -> np.ndarray:
    """RMS over the state of the error ``estimate`` scaled by ``atol + rtol max(|y|, |y_new|)``."""
    scale = np.abs(y)
    np.maximum(scale, np.abs(y_new), out=scale)
    scale *= rtol
    scale += atol
    np.divide(estimate, scale, out=scale)
    scale *= scale
    err = np.sqrt(scale.mean(axis=0))
    err[~np.isfinite(err)] = np.inf
    return err


def _next_step(err: np.ndarray, accept: np.ndarray, rejected_last: np.ndarray, h: np.ndarray, max_step: float) -> np.ndarray:
    """The next step size (no growth right after a rejection)."""
    factor = np.clip(0.9 * err ** -0.25, 0.2, 6.0)
    factor = np.where(accept & rejected_last, np.minimum(factor, 1.0), factor)
    return np.minimum(h * factor, max_step)


def _check_step_size(accept: np.ndarray, h_next: np.ndarray, t: np.ndarray, y: np.ndarray) -> None:
    """Raise :class:`StepSizeCollapse` when a rejected unit's next step is at rounding level."""
    tiny = ~accept & (h_next <= 16 * np.spacing(np.maximum(np.abs(t), 1.0)))
    if tiny.any():
        raise StepSizeCollapse(float(t[tiny][0]), float(np.max(np.abs(y[:, tiny]))))


def _ranges(starts: np.ndarray, counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(rows, indices)``: row ``r`` repeated ``counts[r]`` times with ``starts[r], starts[r] + 1, ...``."""
    rows = np.repeat(np.arange(counts.size), counts)
    indices = np.repeat(starts, counts) + np.arange(rows.size) - np.repeat(np.cumsum(counts) - counts, counts)
    return rows, indices


def _hermite(theta: np.ndarray, h: np.ndarray, y0: np.ndarray, f0: np.ndarray, y1: np.ndarray, f1: np.ndarray) -> np.ndarray:
    """The cubic Hermite interpolant at ``theta`` in [0, 1] of a step of size ``h``."""
    t2, t3 = theta * theta, theta * theta * theta
    h00 = 2 * t3 - 3 * t2 + 1
    h10 = t3 - 2 * t2 + theta
    h01 = -2 * t3 + 3 * t2
    h11 = t3 - t2
    return h00 * y0 + (h10 * h) * f0 + h01 * y1 + (h11 * h) * f1


class _RodasRun:
    """One :func:`rodas_solve` call: the outputs, the units still running (compacted as
    units stop; ``index`` maps them to their columns) and the counters."""

    def __init__(self, rhs: Callable[..., Iterable[Any]], jac: Callable[..., Iterable[Any]], y0: np.ndarray, params: Sequence[np.ndarray],
                 t_eval: np.ndarray, t_max: float, rtol: float, atol: float, done: Callable[..., Any] | None, threshold: float,
                 max_step: float) -> None:
        self.rhs, self.jac, self.done = rhs, jac, done
        self.t_eval, self.t_max, self.rtol, self.atol = t_eval, t_max, rtol, atol
        self.threshold, self.max_step = threshold, max_step
        self.n, units = y0.shape
        self.Y = np.empty((len(t_eval), self.n, units))
        self.y_final = np.empty((self.n, units))
        self.t_stop = np.full(units, t_max)
        self.index = np.arange(units)
        self.y = np.array(y0, dtype=float)
        self.params = [np.asarray(p, dtype=float) for p in params]
        self.t = np.zeros(units)
        self.sweeps = self.steps = self.rejected = self.njev = 0
        self.fy = self.evaluate(self.y)
        self.nfev = units
        self.next_out = np.full(units, self._output_at_zero())
        self.h = _initial_step(self.y, self.fy, rtol, atol, max_step, t_max)
        self.rejected_last = np.zeros(units, dtype=bool)
        self.K = np.empty((6, self.n, units))

    def evaluate(self, y: np.ndarray) -> np.ndarray:
        """``rhs`` of the running units at ``y`` as one ``(n, units)`` array."""
        out = np.empty_like(y)
        for i, value in enumerate(self.rhs(y, *self.params)):
            out[i] = value
        return out

    def _output_at_zero(self) -> np.intp:
        """Record the output at ``t = 0`` if requested; the index of the next output time."""
        if len(self.t_eval) and self.t_eval[0] == 0.0:
            self.Y[0] = self.y
        return np.searchsorted(self.t_eval, 0.0, side="right")

    def result(self) -> dict:
        return {"Y": self.Y, "t_stop": self.t_stop, "y_final": self.y_final, "sweeps": self.sweeps,
                "steps": self.steps, "rejected": self.rejected, "nfev": self.nfev, "njev": self.njev}

    def sweep(self) -> None:
        """Attempt one step of every running unit; advance those accepted, retire those done."""
        u = self.y.shape[1]
        if self.K.shape[2] != u:
            self.K = np.empty((6, self.n, u))
        h = np.minimum(self.h, self.t_max - self.t)
        factored = lu_factor(self._iteration_matrix(h))
        y_new = self._stages(factored, h)
        self.steps += u
        err = _error_norm(self.y, y_new, self.K[5], self.rtol, self.atol)
        accept = err <= 1.0
        h_next = _next_step(err, accept, self.rejected_last, h, self.max_step)
        self.rejected += int(u - np.count_nonzero(accept))
        if not accept.all():
            _check_step_size(accept, h_next, self.t, self.y)
        if accept.any():
            h_next, accept = self._advance(accept, h, y_new, h_next)
        self.h = h_next
        self.rejected_last = ~accept

    def _iteration_matrix(self, h: np.ndarray) -> np.ndarray:
        """``W = I / (gamma h) - J`` at the current states, shape ``(n, n, units)``."""
        n, u = self.n, self.y.shape[1]
        entries = self.jac(self.y, *self.params)
        self.njev += u
        W = np.empty((n, n, u))
        for k, value in enumerate(entries):
            if np.ndim(value):
                np.negative(value, out=W[k // n, k % n])
            else:
                W[k // n, k % n] = -value
        diagonal = 1.0 / (GAMMA * h)
        for r in range(n):
            W[r, r] += diagonal
        return W

    def _stages(self, factored: tuple, h: np.ndarray) -> np.ndarray:
        """The six stages ``k_i`` (into ``self.K``) and the new state ``y + sum a_5j k_j + k_5 + k_6``."""
        K, y = self.K, self.y
        inv_h = 1.0 / h
        flat = K.reshape(6, -1)
        base = np.empty(y.shape)
        base_flat = base.reshape(-1)
        for i in range(6):
            if i == 0:
                np.copyto(K[0], self.fy)
            else:
                if i < 5:
                    np.dot(_A[i, :i], flat[:i], out=base_flat)
                    base += y
                else:
                    base += K[4]
                stage_f = self.evaluate(base)
                np.dot(_C[i, :i], flat[:i], out=flat[i])
                K[i] *= inv_h
                K[i] += stage_f
            lu_solve(factored, K[i])
        self.nfev += 5 * y.shape[1]
        base += K[5]
        return base

    def _advance(self, accept: np.ndarray, h: np.ndarray, y_new: np.ndarray, h_next: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Take the accepted steps (dense output included) and retire the units that stop;
        returns ``h_next`` and ``accept`` of the units still running."""
        self._check_blow_up(accept, h, y_new)
        t_new = np.where(accept, self.t + h, self.t)
        finished = accept & (t_new >= self.t_max * (1 - 1e-14))
        t_new = np.where(finished, self.t_max, t_new)
        f_new = self.evaluate(y_new)
        self.nfev += y_new.shape[1]
        self._dense_output(accept, h, t_new, y_new, f_new)
        if accept.all():
            self.y, self.fy = y_new, f_new
        else:
            self.y = np.where(accept, y_new, self.y)
            self.fy = np.where(accept, f_new, self.fy)
        self.t = t_new
        stop = finished
        if self.done is not None:
            stop = stop | (accept & np.asarray(self.done(self.y, *self.params), dtype=bool))
        if not stop.any():
            return h_next, accept
        self._retire(stop)
        keep = ~stop
        return h_next[keep], accept[keep]

    def _check_blow_up(self, accept: np.ndarray, h: np.ndarray, y_new: np.ndarray) -> None:
        """Raise :class:`BlowUp` when an accepted step passes ``threshold``."""
        if not np.max(np.abs(y_new)) <= self.threshold:
            moved = np.where(accept, np.max(np.abs(y_new), axis=0), 0.0)
            if not moved.max() <= self.threshold:
                bad = int(np.argmax(moved))
                raise BlowUp(float(self.t[bad] + h[bad]), float(moved[bad]))

    def _dense_output(self, accept: np.ndarray, h: np.ndarray, t_new: np.ndarray, y_new: np.ndarray, f_new: np.ndarray) -> None:
        """Write every output time in ``(t, t_new]`` of the accepted units (before ``y`` moves)."""
        out_end = np.searchsorted(self.t_eval, t_new, side="right")
        count = np.where(accept, out_end - self.next_out, 0)
        if count.any():
            rows, out_index = _ranges(self.next_out, count)
            h_r = h[rows]
            theta = (self.t_eval[out_index] - self.t[rows]) / h_r
            values = _hermite(theta, h_r, self.y[:, rows], self.fy[:, rows], y_new[:, rows], f_new[:, rows])
            self.Y[out_index, :, self.index[rows]] = values.T
            self.next_out = np.where(accept, out_end, self.next_out)

    def _retire(self, stop: np.ndarray) -> None:
        """Store the final state of the ``stop`` units, hold it at later output times, drop them."""
        leaving = self.index[stop]
        self.y_final[:, leaving] = self.y[:, stop]
        self.t_stop[leaving] = self.t[stop]
        first = self.next_out[stop]
        count = len(self.t_eval) - first
        if count.any():
            rows, out_index = _ranges(first, count)
            self.Y[out_index, :, leaving[rows]] = self.y[:, stop][:, rows].T
        keep = ~stop
        self.y, self.fy, self.t, self.index = self.y[:, keep], self.fy[:, keep], self.t[keep], self.index[keep]
        self.next_out = self.next_out[keep]
        self.params = [p[keep] for p in self.params]
