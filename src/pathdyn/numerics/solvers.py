"""Solver back-ends of :func:`pathdyn.numerics.integrate.integrate`, one registry, one output type.

Every back-end is a function ``solve(ensemble, request) -> SolverOutput``: ``ensemble``
is the flat member-major layout of the states (``y0``, ``rhs``, ``jac_banded``,
``jac_sparse``, ``member_loss``, ``params``, ``B``, ``n``, ``num_modes``, ``f`` the
:class:`pathdyn.numerics.compile.CompiledRHS`), ``request`` the validated
:class:`SolveRequest`. :data:`SOLVERS` maps each ``method`` name to its back-end;
:data:`JACOBIAN` says how the block-diagonal Jacobian is offered to each. A new back-end
registers itself with one entry in each.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

from collections.abc import Callable, Iterable, Sequence
from typing import Any, Protocol

import numpy as np
from numpy.typing import ArrayLike
from scipy.integrate import solve_ivp

from pathdyn.errors import IntegrationError
from pathdyn.numerics.compile import CompiledRHS
from pathdyn.numerics.rosenbrock import BlowUp, StepSizeCollapse, rodas_solve

__all__ = ["JACOBIAN", "SOLVERS", "Ensemble", "SolveRequest", "SolverOutput"]

#: How each method is offered the Jacobian: banded (LSODA), sparse (BDF, Radau), per
#: member (Rosenbrock) or not at all (explicit methods).
JACOBIAN = {
    "LSODA": "banded",
    "BDF": "sparse",
    "Radau": "sparse",
    "RK45": None,
    "RK23": None,
    "DOP853": None,
    "rosenbrock": "per-member",
}

#: Units per independent ``rodas_solve`` call. Small chunks keep numpy's temporaries in
#: cache and out of fresh (page-faulting) memory; measured on the 10,000 x 8 ensemble.
ROSENBROCK_CHUNK = 16384

_SCIPY_SUCCESS = "The solver successfully reached the end of the integration interval."


class Ensemble(Protocol):
    """What a back-end solves (:func:`pathdyn.numerics.integrate.integrate` builds it): ``B`` members of
    ``n`` state variables stacked member-major in ``y0``, their parameters (``S`` first), the right-hand
    side ``rhs(t, y)`` of the stack and its Jacobians, each member's loss, and where the right-hand side
    was last evaluated (``last_t``) and how large the state was there (``last_max``)."""

    f: CompiledRHS
    B: int
    n: int
    num_modes: int
    y0: np.ndarray
    params: list[np.ndarray]
    last_t: float
    last_max: float

    @property
    def rhs(self) -> Callable[..., np.ndarray]: ...

    @property
    def rhs_buffered(self) -> Callable[..., np.ndarray]: ...

    @property
    def jac_banded(self) -> Callable[..., np.ndarray]: ...

    @property
    def jac_sparse(self) -> Callable[..., Any]: ...  # a scipy.sparse matrix (scipy ships no types)

    @property
    def member_loss(self) -> Callable[[np.ndarray], np.ndarray]: ...


@dataclass(frozen=True)
class SolveRequest:
    """The validated options of one integration (see :func:`pathdyn.numerics.integrate.integrate`)."""

    method: str
    t_eval: np.ndarray
    t_max: float
    rtol: float
    atol: float
    loss_tol: float | None
    blowup_threshold: float
    max_step: float
    use_jacobian: bool


@dataclass(frozen=True)
class SolverOutput:
    """What every back-end returns.

    Attributes
    ----------
    t : ndarray, shape (T,)
        Output times (the stopping time last when ``loss_tol`` stopped the run).
    states : ndarray, shape (n_state, T, members)
        The state, time-major per variable (a view of the solver's output where possible).
    success : bool
    message : str
    stats : dict
        ``nfev``, ``njev``, ``nlu`` and back-end specific counts.
    stopped_at : float or None
        The time ``loss_tol`` stopped the run, if it did.
    """

    t: np.ndarray
    states: np.ndarray
    success: bool
    message: str
    stats: dict
    stopped_at: float | None = None


def blowup_error(blowup: BlowUp, threshold: float, depths: tuple) -> IntegrationError:
    """The error of a state beyond ``blowup_threshold``.

    Parameters
    ----------
    blowup : BlowUp
        Where and how large the state became.
    threshold : float
        The ``blowup_threshold`` passed.
    depths : tuple of int
        The pathways' depths, for the message.

    Returns
    -------
    IntegrationError
        The error to raise, with what to do.
    """
    return IntegrationError(
        f"blow-up: |state| reached {blowup.largest:.3g} > blowup_threshold={threshold:g} near "
        f"t = {blowup.t:.6g} (depths {depths}); the flow diverges or overflows: use smaller initial "
        "values, a smaller t_max or a tighter rtol"
    )


def _overflow_error(depths: tuple) -> IntegrationError:
    return IntegrationError(
        f"overflow: the state became NaN or infinite (depths {depths}); "
        "use smaller initial values, a smaller t_max or a tighter rtol"
    )


def _flat_output(ens: Ensemble, t: ArrayLike, y: ArrayLike, success: bool, message: str, stats: dict,
                 stopped_at: float | None = None) -> SolverOutput:
    """A :class:`SolverOutput` from a flat ``(members * n_state, T)`` solution."""
    t = np.asarray(t, dtype=float)
    states = np.asarray(y).reshape(ens.B, ens.n, t.size).transpose(1, 2, 0)  # a view for odeint's output
    return SolverOutput(t, states, success, message, stats, stopped_at)


def _jacobian_options(ens: Ensemble, request: SolveRequest) -> dict:
    kind = JACOBIAN[request.method]
    if not getattr(ens.f, "symbolic_jacobian_is_cheap", True):
        return {}  # a large system in node form: the solver estimates the Jacobian by differences
    if request.use_jacobian and kind == "banded":
        return {"jac": ens.jac_banded, "lband": ens.n - 1, "uband": ens.n - 1}
    if request.use_jacobian and kind == "sparse":
        return {"jac": ens.jac_sparse}
    return {}


def solve_scipy(ens: Ensemble, request: SolveRequest) -> SolverOutput:
    """scipy's methods on the whole stacked ensemble (``odeint`` for LSODA without ``loss_tol``).

    Parameters
    ----------
    ens : _Ensemble
        The stacked ensemble and its compiled right-hand side.
    request : SolveRequest
        Method, times, tolerances and stopping rules.

    Returns
    -------
    SolverOutput
        The solution at the requested times.

    Raises
    ------
    IntegrationError
        On blow-up past ``blowup_threshold`` or overflow.
    """
    options = _jacobian_options(ens, request)
    depths = ens.f.depths
    with np.errstate(over="ignore", invalid="ignore"):
        try:
            out = None
            if request.method == "LSODA" and request.loss_tol is None:
                out = _odeint_lsoda(ens, request, options)
            if out is None and request.loss_tol is not None:
                out = _step_until_converged(ens, request, options)
            if out is None:
                sol = solve_ivp(ens.rhs, (0.0, request.t_max), ens.y0, method=request.method, t_eval=request.t_eval,
                                rtol=request.rtol, atol=request.atol, max_step=request.max_step, **options)
                stats = {"nfev": int(sol.nfev), "njev": int(sol.njev), "nlu": int(sol.nlu)}
                out = _flat_output(ens, sol.t, sol.y, bool(sol.success), str(sol.message), stats)
        except BlowUp as blowup:
            raise blowup_error(blowup, request.blowup_threshold, depths) from None
        except (ValueError, FloatingPointError, ArithmeticError):
            raise IntegrationError(
                f"blow-up or overflow near t = {ens.last_t:.6g} (depths {depths}): the solver stopped on huge "
                "or non-finite values; use smaller initial values, a smaller t_max or a tighter rtol"
            ) from None
    return _checked(ens, request, out)


def _checked(ens: Ensemble, request: SolveRequest, out: SolverOutput) -> SolverOutput:
    """Overflow and failure diagnostics of a scipy run, and its final message."""
    depths = ens.f.depths
    if out.states.size and not np.all(np.isfinite(out.states)):
        raise _overflow_error(depths)
    message = out.message
    if not out.success:
        last = float(out.t[-1]) if out.t.size else 0.0
        start_max = float(np.max(np.abs(ens.y0))) if ens.y0.size else 0.0
        if not np.isfinite(ens.last_max) or ens.last_max > 1e6 * max(1.0, start_max):
            raise IntegrationError(
                f"blow-up: the step size collapsed near t = {ens.last_t:.6g} while |state| grew to {ens.last_max:.3g} "
                f"(depths {depths}); the solution diverges: use smaller initial values or a smaller t_max"
            )
        message = (f"{message} (stopped at t = {last:.6g} of {request.t_max:g}); try method='LSODA' or 'Radau', "
                   "or a looser rtol")
        warnings.warn(f"integrate: {message}", stacklevel=4)
    elif out.stopped_at is None and message.startswith("The solver successfully"):
        message = f"reached t_max = {request.t_max:g}"
    return SolverOutput(out.t, out.states, out.success, message, out.stats, out.stopped_at)


def _step_until_converged(ens: Ensemble, request: SolveRequest, options: dict) -> SolverOutput:
    """``solve_ivp``'s stepping loop with the convergence stop checked at every step end.

    ``solve_ivp`` locates a terminal event by root-finding on the dense-output
    interpolant; when the loss crosses ``loss_tol`` near the rounding floor the
    interpolant and the step values can disagree in sign and the root-finder raises
    ("f(a) and f(b) must have different signs"). Here the run stops at the first step
    end where every member's loss is below ``loss_tol`` (no root-finding; the stop is
    at most one step late).
    """
    import scipy.integrate

    assert request.loss_tol is not None, "solve_scipy steps to a convergence stop only when loss_tol is given"
    solver = getattr(scipy.integrate, request.method)(
        ens.rhs, 0.0, ens.y0, request.t_max, rtol=request.rtol, atol=request.atol, max_step=request.max_step, **options
    )
    t_eval = np.asarray(request.t_eval, dtype=float)
    times, states = [], []
    k = 0
    if t_eval.size and t_eval[0] == 0.0:
        times.append(0.0)
        states.append(np.array(ens.y0, dtype=float))
        k = 1
    stopped = None
    message = _SCIPY_SUCCESS
    while solver.status == "running":
        step_message = solver.step()
        if solver.status == "failed":
            message = str(step_message)
            break
        j = int(np.searchsorted(t_eval, solver.t, side="right"))
        if j > k:
            values = np.asarray(solver.dense_output()(t_eval[k:j])).reshape(len(ens.y0), j - k)
            times.extend(t_eval[k:j].tolist())
            states.extend(values.T)
            k = j
        if float(np.max(ens.member_loss(solver.y))) - request.loss_tol < 0:
            stopped = float(solver.t)
            break
    t = np.asarray(times, dtype=float)
    y = np.array(states).T if states else np.zeros((len(ens.y0), 0))
    if stopped is not None:
        if t.size == 0 or stopped > t[-1]:
            t = np.append(t, stopped)
            y = np.concatenate([y.reshape(ens.B * ens.n, -1), np.array([solver.y])[0][:, None]], axis=1)
        message = f"converged: every member's loss fell below loss_tol={request.loss_tol:g} at t = {stopped:.6g}"
    stats = {"nfev": int(solver.nfev), "njev": int(solver.njev), "nlu": int(solver.nlu)}
    return _flat_output(ens, t, y, solver.status != "failed", message, stats, stopped)


def _odeint_lsoda(ens: Ensemble, request: SolveRequest, options: dict) -> SolverOutput | None:
    """LSODA through ``scipy.integrate.odeint`` (same ODEPACK code, no per-step Python).

    ``solve_ivp``'s LSODA returns to Python after every step (and builds a dense-output
    object per step for ``t_eval``); ``odeint`` stays in Fortran between right-hand-side
    calls and interpolates at the output times there. Used when no event is needed.
    Returns None when odeint did not succeed (the caller then reruns ``solve_ivp`` for
    its diagnostics).
    """
    from scipy.integrate import ODEintWarning, odeint

    t_eval = request.t_eval
    prepend = t_eval[0] > 0.0
    times = np.concatenate([[0.0], t_eval]) if prepend else np.asarray(t_eval, dtype=float)
    kwargs: dict[str, Any] = {}
    if "jac" in options:
        jac = options["jac"]
        kwargs.update(Dfun=lambda t, y: jac(t, y), ml=options["lband"], mu=options["uband"])
    max_step = request.max_step
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ODEintWarning)
        Y, info = odeint(ens.rhs_buffered, ens.y0, times, tfirst=True, full_output=True, rtol=request.rtol,
                         atol=request.atol, hmax=0.0 if not np.isfinite(max_step) else float(max_step), mxstep=500_000,
                         **kwargs)
    if info.get("message") != "Integration successful." or not np.all(np.isfinite(Y)):
        return None
    if prepend:
        Y = Y[1:]
    stats = {"nfev": int(info["nfe"][-1]), "njev": int(info["nje"][-1]), "nlu": int(info["nje"][-1])}
    return _flat_output(ens, t_eval, Y.T, True, _SCIPY_SUCCESS, stats)  # Y.T: (B*n, T) without a copy


def _chunked(rhs: Callable[..., Iterable[Any]], jac: Callable[..., Iterable[Any]], y0: np.ndarray, params: Sequence[np.ndarray],
             t_eval: np.ndarray, t_max: float, rtol: float, atol: float, done: Callable[..., Any] | None, threshold: float,
             max_step: float) -> dict:
    """``rodas_solve`` on consecutive chunks of units (they are independent)."""
    U = y0.shape[1]
    chunk = max(1, int(ROSENBROCK_CHUNK))
    if U <= chunk:
        return rodas_solve(rhs, jac, y0, params, t_eval, t_max, rtol, atol, done=done, threshold=threshold,
                           max_step=max_step)
    parts = [
        rodas_solve(rhs, jac, y0[:, lo:lo + chunk], [p[lo:lo + chunk] for p in params], t_eval, t_max, rtol, atol,
                    done=done, threshold=threshold, max_step=max_step)
        for lo in range(0, U, chunk)
    ]
    merged = {key: sum(part[key] for part in parts) for key in ("steps", "rejected", "nfev", "njev")}
    merged["sweeps"] = sum(part["sweeps"] for part in parts)
    merged["Y"] = np.concatenate([part["Y"] for part in parts], axis=2)
    merged["y_final"] = np.concatenate([part["y_final"] for part in parts], axis=1)
    merged["t_stop"] = np.concatenate([part["t_stop"] for part in parts])
    return merged


def solve_rosenbrock(ens: Ensemble, request: SolveRequest) -> SolverOutput:
    """The batched RODAS method of :mod:`pathdyn.numerics.rosenbrock` (a step size per member).

    Parameters
    ----------
    ens : _Ensemble
        The stacked ensemble and its compiled right-hand side.
    request : SolveRequest
        Times, tolerances and stopping rules.

    Returns
    -------
    SolverOutput
        The solution at the requested times.

    Raises
    ------
    IntegrationError
        On blow-up, overflow or a collapsing step size.
    """
    f = ens.f  # ModeEquations are autonomous: rhs uses only state and parameters
    loss_tol, t_max = request.loss_tol, request.t_max
    y0 = np.ascontiguousarray(ens.y0.reshape(ens.B, ens.n).T)  # (n, B) state-major
    rhs = lambda y, *p: f.batch_rhs(0.0, y, *p)  # noqa: E731
    jac = lambda y, *p: f.batch_jacobian(0.0, y, *p)  # noqa: E731
    done = None
    if loss_tol is not None:
        # Per (member, mode): stop once its share of the loss is below loss_tol / n_modes,
        # so every member's loss (summed over modes) is below loss_tol.
        unit_tol = 2.0 * loss_tol / ens.num_modes

        def done(y: np.ndarray, *params: np.ndarray) -> np.ndarray:
            return 2.0 * f.batch_mode_loss(y, *params) <= unit_tol

    start_max = float(np.max(np.abs(ens.y0))) if ens.y0.size else 0.0
    try:
        result = _chunked(rhs, jac, y0, ens.params, request.t_eval, t_max, request.rtol, request.atol, done,
                          request.blowup_threshold, request.max_step)
    except BlowUp as blowup:
        raise blowup_error(blowup, request.blowup_threshold, f.depths) from None
    except StepSizeCollapse as collapse:
        what = "blow-up" if not collapse.largest <= 1e6 * max(1.0, start_max) else "step size collapse"
        raise IntegrationError(
            f"{what}: the step size collapsed near t = {collapse.t:.6g} while |state| reached {collapse.largest:.3g} "
            f"(depths {f.depths}); the solution diverges or is too stiff: use smaller initial values, a smaller "
            "t_max or method='LSODA'"
        ) from None
    Y = result["Y"]  # (T, n, B)
    t = np.asarray(request.t_eval, dtype=float)
    stopped_at = None
    message = f"reached t_max = {t_max:g}"
    last_stop = float(result["t_stop"].max()) if ens.B else 0.0
    if loss_tol is not None and last_stop < t_max:
        stopped_at = last_stop
        keep = t <= stopped_at
        t, Y = t[keep], Y[keep]
        if t.size == 0 or stopped_at > t[-1]:
            t = np.append(t, stopped_at)
            Y = np.concatenate([Y, result["y_final"][None]], axis=0)
        message = (f"converged: every member's loss fell below loss_tol={loss_tol:g} by t = {stopped_at:.6g} "
                   "(each member stopped at its own convergence time)")
    if Y.size and not np.all(np.isfinite(Y)):
        raise _overflow_error(f.depths)
    stats = {key: int(result[key]) for key in ("nfev", "njev")}
    stats.update(nlu=int(result["njev"]), sweeps=int(result["sweeps"]), steps=int(result["steps"]),
                 rejected=int(result["rejected"]))
    return SolverOutput(t, np.moveaxis(Y, 0, 1), True, message, stats, stopped_at)


#: ``method`` -> back-end.
SOLVERS = {method: solve_scipy for method in JACOBIAN if method != "rosenbrock"}
SOLVERS["rosenbrock"] = solve_rosenbrock
