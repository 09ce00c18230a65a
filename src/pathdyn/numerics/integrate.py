"""Integrate reduced per-mode equations for whole ensembles in one vectorised call.

The ensemble (any batch shape times the modes) is stacked member-major into one flat
state for :func:`scipy.integrate.solve_ivp` (or :func:`scipy.integrate.odeint` for LSODA
without events); every member is independent, so the Jacobian is block diagonal. It is
offered to implicit methods in banded form (LSODA) or as a sparse matrix (BDF, Radau).
``method="rosenbrock"`` instead gives every member its own steps
(:mod:`pathdyn.numerics.rosenbrock`). The solvers are back-ends in
:data:`pathdyn.numerics.solvers.SOLVERS`, each returning one
:class:`pathdyn.numerics.solvers.SolverOutput`; :func:`integrate` validates the request,
runs the chosen back-end and converts its output to a :class:`Trajectory` in one place.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import ArrayLike

from pathdyn._base.checks import MAX_MAGNITUDE, check_memory, real_array, real_number, whole_number
from pathdyn.errors import ConfigError, IntegrationError
from pathdyn.numerics.compile import CompiledRHS, SymbolicEquations, compile_rhs
from pathdyn.numerics.rosenbrock import BlowUp
from pathdyn.numerics.solvers import JACOBIAN, SOLVERS, SolveRequest, SolverOutput
from pathdyn.numerics.trajectory import Trajectory

if TYPE_CHECKING:  # scipy is imported where the sparse Jacobian is built
    from scipy.sparse import csr_matrix

__all__ = ["integrate", "METHODS"]

#: Methods accepted by :func:`integrate` and how the Jacobian is offered to each.
METHODS = JACOBIAN


def _output_bytes(f: CompiledRHS, num_points: int, initial_state: ArrayLike) -> float:
    """Bytes of the recorded output: the state, K and the loss per output time, plus the solver's copy."""
    try:
        size = int(np.size(initial_state))
    except (TypeError, ValueError):
        size = f.num_state
    return 8.0 * num_points * (3 * size + size // max(f.num_state, 1))


def _as_float_array(value: ArrayLike, name: str) -> np.ndarray:
    return real_array(name, value)


class _Ensemble:
    """Flat member-major layout of ``(*batch, n_state, n_modes)`` states."""

    def __init__(self, f: CompiledRHS, initial_state: ArrayLike, singular_values: ArrayLike,
                 parameters: Mapping[str, ArrayLike] | None) -> None:
        n = f.num_state
        y0 = _as_float_array(initial_state, "initial_state")
        if y0.ndim < 2 or y0.shape[-2] != n:
            raise ConfigError(
                f"initial_state: expected shape (*batch, n_state={n}, n_modes) with state {f.state_names}, got {y0.shape}"
            )
        S = _as_float_array(singular_values, "singular_values")
        if S.ndim == 0:
            S = S.reshape(1)
        if S.shape[-1] != y0.shape[-1]:
            raise ConfigError(
                f"singular_values: {S.shape[-1]} values but initial_state has {y0.shape[-1]} modes (last axis); give one per mode"
            )
        problems = []
        if not np.all(np.isfinite(y0)):
            problems.append("initial_state contains NaN or infinite values")
        if not np.all(np.isfinite(S)):
            problems.append("singular_values contain NaN or infinite values")
        elif np.any(S <= 0) or np.any(S > MAX_MAGNITUDE):
            problems.append(f"singular_values must lie in (0, {MAX_MAGNITUDE:g}] (larger ones stall the integrator), "
                            f"got {np.min(S):g} .. {np.max(S):g}")
        self.batch = y0.shape[:-2]
        self.num_modes = y0.shape[-1]
        member_shape = (*self.batch, self.num_modes)
        try:
            S = np.broadcast_to(S, member_shape)
        except ValueError:
            problems.append(f"singular_values of shape {S.shape} do not broadcast to (*batch, n_modes) = {member_shape}")
        parameters = dict(parameters or {})
        values = [S]
        # the typed layout says which parameter is an input variance (never the symbol's name)
        variances = {str(record.symbol) for record in f.parameter_layout if record.role == "lambda"}
        for name in f.parameter_names[1:]:
            if name not in parameters:
                problems.append(f"parameters: missing {name!r} (the equations need {', '.join(f.parameter_names[1:])})")
                continue
            value = _as_float_array(parameters.pop(name), f"parameters[{name!r}]")
            if name in variances and not (np.all(np.isfinite(value)) and np.all(value > 0)
                                          and np.all(value <= MAX_MAGNITUDE)):
                problems.append(f"parameters[{name!r}]: input variances must lie in (0, {MAX_MAGNITUDE:g}], "
                                f"got {value.ravel().tolist()[:6]}")
            try:
                values.append(np.broadcast_to(value, member_shape))
            except ValueError:
                problems.append(f"parameters[{name!r}] of shape {value.shape} does not broadcast to {member_shape}")
        if parameters:
            problems.append(f"parameters: unknown name(s) {sorted(parameters)}; the equations take {f.parameter_names}")
        if problems:
            raise ConfigError("; ".join(problems))
        self.f = f
        self.n = n
        self.member_shape = member_shape
        self.B = int(np.prod(member_shape, dtype=np.int64))
        # (*batch, n_state, n_modes) -> (*batch, n_modes, n_state) -> (B, n) -> flat.
        self.y0 = np.ascontiguousarray(np.moveaxis(y0, -2, -1)).reshape(self.B * n)
        self.params = [np.ascontiguousarray(v).reshape(self.B) for v in values]
        self.S = self.params[0]

    last_t = 0.0
    last_max = 0.0
    threshold = np.inf

    #: ``rhs`` records an upper bound ``sqrt(y . y)`` of ``max |y|`` instead of the exact value
    #: while the bound stays below this (one dot product instead of abs and max, which
    #: matters on small ensembles); set by :func:`integrate` to ``min(threshold, 1e6 max(1, |y0|))``
    #: so that the blow-up checks and diagnostics decide exactly as with the exact value.
    exact_above = 0.0

    def _largest(self, y: np.ndarray) -> float:
        if y.size == 0:
            return 0.0
        if y.ndim == 1:
            bound = math.sqrt(float(np.dot(y, y))) * (1.0 + 1e-12)
            if bound <= self.exact_above:
                return bound
        return float(np.max(np.abs(y)))

    def rhs(self, t: float, y: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        self.last_t = t
        largest = self._largest(y)
        self.last_max = largest
        if not largest <= self.threshold:
            raise BlowUp(t, largest)
        if out is None:
            out = np.empty((self.B, self.n))
        values = self.f.batch_rhs(t, y.reshape(self.B, self.n).T, *self.params)
        for i, value in enumerate(values):
            out[:, i] = value
        return out.reshape(-1)

    def rhs_buffered(self, t: float, y: np.ndarray) -> np.ndarray:
        """``rhs`` writing into one reused array (for callers that copy the result: odeint)."""
        buffer = self.__dict__.get("_buffer")
        if buffer is None:
            buffer = self._buffer = np.empty((self.B, self.n))
        return self.rhs(t, y, buffer)

    def jac_blocks(self, t: float, y: np.ndarray) -> list:
        jac = self.f.batch_jacobian(t, y.reshape(self.B, self.n).T, *self.params)
        return jac  # list of n*n entries, each scalar or (B,)

    def jac_banded(self, t: float, y: np.ndarray) -> np.ndarray:
        n = self.n
        packed = np.zeros((2 * n - 1, self.B, n))
        for k, value in enumerate(self.jac_blocks(t, y)):
            r, c = divmod(k, n)
            packed[n - 1 + r - c, :, c] = value
        return packed.reshape(2 * n - 1, self.B * n)

    def jac_sparse(self, t: float, y: np.ndarray) -> csr_matrix:
        from scipy.sparse import csr_matrix

        n, B = self.n, self.B
        data = np.empty((B, n, n))
        for k, value in enumerate(self.jac_blocks(t, y)):
            r, c = divmod(k, n)
            data[:, r, c] = value
        if not hasattr(self, "_csr_index"):
            cols = (np.arange(B)[:, None, None] * n + np.arange(n)[None, None, :]) * np.ones((1, n, 1), dtype=np.int64)
            self._csr_index = (cols.reshape(-1), np.arange(0, B * n * n + 1, n))
        indices, indptr = self._csr_index
        return csr_matrix((data.reshape(-1), indices, indptr), shape=(B * n, B * n))

    def member_loss(self, y: np.ndarray) -> np.ndarray:
        """Loss per member of the batch (summed over modes), shape ``batch``."""
        loss = self.f.batch_mode_loss(y.reshape(self.B, self.n).T, *self.params)
        return loss.reshape(self.member_shape).sum(axis=-1)


def integrate(
    equations_or_compiled: SymbolicEquations | CompiledRHS,
    initial_state: ArrayLike,
    singular_values: ArrayLike,
    t_max: float,
    *,
    parameters: dict | None = None,
    t_eval: ArrayLike | None = None,
    num_points: int = 201,
    method: str = "LSODA",
    rtol: float = 1e-8,
    atol: float = 1e-10,
    loss_tol: float | None = None,
    blowup_threshold: float = 1e100,
    max_step: float = np.inf,
    use_jacobian: bool = True,
    provenance: dict | None = None,
) -> Trajectory:
    """Integrate an ensemble of reduced per-mode equations in one vectorised call.

    Parameters
    ----------
    equations_or_compiled : ModeEquations or CompiledRHS
        The reduced equations (compiled here if needed; compile once and pass the
        :class:`CompiledRHS` when integrating repeatedly).
    initial_state : array_like, shape ``(*batch, n_state, n_modes)``
        State of every ensemble member and mode, in ``state_names`` order; mode
        ``alpha`` evolves with singular value ``singular_values[..., alpha]``.
    singular_values : array_like, shape ``(n_modes,)`` or ``(*batch, n_modes)``
        ``S_alpha``, broadcast to ``(*batch, n_modes)``.
    t_max : float
        Final time (tau = 1 units), > 0.
    parameters : dict, optional
        Values of parameters beyond ``S`` (e.g. ``lambda``, the input variance of each mode
        for equations derived for general inputs, or ``c_1`` of the race form), each
        broadcastable to ``(*batch, n_modes)``. ``lambda`` is recorded in the provenance as
        ``"input_variances"`` (per mode when every member has the same).
    t_eval : array_like, optional
        Output times in ``[0, t_max]``; default ``num_points`` equally spaced.
    num_points : int
        Number of output times when ``t_eval`` is not given (default 201).
    method : {"LSODA", "BDF", "Radau", "RK45", "RK23", "DOP853", "rosenbrock"}
        ``solve_ivp`` method; the implicit ones get the block-diagonal Jacobian.
        ``"rosenbrock"``: the batched RODAS method of
        :mod:`pathdyn.numerics.rosenbrock`, with a step size per (member, mode), the
        error controlled per member (rtol/atol on each member's own RMS norm), output
        at ``t_eval`` by cubic Hermite interpolation. With ``loss_tol`` each (member,
        mode) stops once ``(S - sum_a K_a)^2 / 2 <= loss_tol / n_modes`` and holds its
        state; the run ends when the last one stops. Its ``stats`` count per member:
        ``nfev``, ``njev`` and ``steps`` are summed over (member, mode) pairs, ``sweeps``
        is the number of vectorised step attempts. Faster than LSODA on large
        ensembles, slower on a few hundred members, where numpy's per-call overhead
        dominates (``benchmarks/bench_integrate.py`` prints both).
    rtol, atol : float
        Tolerances, applied by scipy to the RMS norm of the whole stacked ensemble.
        Measured (2000 members, rtol 1e-8): the worst member's error against the race
        oracle was 3.5e-8, that of the same members integrated alone 2.8e-8, so
        stacking does not dilute the accuracy of individual members in practice.
    loss_tol : float, optional
        Stop when every member's loss (summed over modes) is below this.
    blowup_threshold : float
        Stop with :class:`IntegrationError` when any ``|state|`` exceeds this.
    max_step : float
        Largest step.
    use_jacobian : bool
        Offer the lambdified Jacobian to implicit methods (default True).
    provenance : dict, optional
        Extra provenance recorded on the result (seed, dataset, ...).

    Returns
    -------
    Trajectory
        ``t`` (T,), ``K`` ``(T, *batch, M, n_modes)``, ``loss`` ``(T, *batch)`` with
        ``loss = sum_alpha (S_alpha - sum_a K_a alpha)^2 / 2`` (for equations derived for
        general inputs, ``(S_alpha - lambda_alpha sum_a K_a alpha)^2 / (2 lambda_alpha)``, the
        equations' own ``loss``), ``state``
        ``(T, *batch, n_state, n_modes)``, ``invariant_drift`` (n_inv,) = the largest
        absolute change of each conserved quantity over the output times and members
        (per member in ``extras["invariant_drift_per_member"]``, shape
        ``(n_inv, *batch, n_modes)``); ``stats`` with ``nfev``, ``njev``, ``nlu``,
        ``wall_time_s``; ``success`` and ``message`` as in scipy's ``OdeResult``.
        When ``loss_tol`` stops the run, the last record is the stopping time.

    Notes
    -----
    Members are stacked member-major (``y_flat[b * n_state + i]``), so the Jacobian
    is block diagonal with ``n_state x n_state`` blocks: LSODA gets it in banded form
    (``lband = uband = n_state - 1``), BDF/Radau as a sparse matrix. Explicit methods
    near convergence of stiff (deep, large ``S``) problems hover at their stability
    limit and may not reach a tight ``loss_tol``; prefer LSODA there.

    Examples
    --------
    >>> from pathdyn.theory import reduce_to_modes
    >>> from pathdyn.numerics.initial import draw_initial_state
    >>> eqs = reduce_to_modes([2, 5])
    >>> y0 = draw_initial_state(eqs, n_modes=2, scale=0.1, seed=0, batch=(10,))
    >>> traj = integrate(eqs, y0, [2.0, 1.0], t_max=30.0)
    >>> traj.K.shape
    (201, 10, 2, 2)

    Raises
    ------
    ConfigError
        Bad shapes, values or options.
    IntegrationError
        Non-finite right-hand side at the start, blow-up beyond
        ``blowup_threshold`` or NaN/inf during integration (e.g. ``q^(D-1)``
        overflowing at large depth).
    """
    started = time.perf_counter()
    f = compile_rhs(equations_or_compiled)
    request = _request(f, initial_state, method, t_max, t_eval, num_points, rtol, atol, loss_tol, blowup_threshold,
                       max_step, use_jacobian)
    ens = _Ensemble(f, initial_state, singular_values, parameters)
    _check_start(ens)
    # Blow-up is checked on every right-hand-side evaluation (cheaper than an event):
    # a state beyond the threshold only arises on a diverging solution.
    ens.threshold = request.blowup_threshold
    ens.exact_above = min(request.blowup_threshold,
                          1e6 * max(1.0, float(np.max(np.abs(ens.y0))) if ens.y0.size else 0.0))
    output = SOLVERS[method](ens, request)
    return _to_trajectory(ens, output, request, time.perf_counter() - started, provenance)


def _request(f: CompiledRHS, initial_state: ArrayLike, method: str, t_max: float, t_eval: ArrayLike | None, num_points: int,
             rtol: float, atol: float, loss_tol: float | None, blowup_threshold: float, max_step: float,
             use_jacobian: bool) -> SolveRequest:
    """The options of :func:`integrate`, checked, with the output times resolved (and their memory estimated)."""
    if method not in SOLVERS:
        raise ConfigError(f"method: unknown {method!r}; choose one of {', '.join(SOLVERS)}")
    t_max = real_number("t_max", t_max, positive=True, example="40")
    rtol = real_number("rtol", rtol, positive=True, below=1.0, example="1e-8")
    atol = real_number("atol", atol, positive=True, example="1e-10")
    blowup_threshold = real_number("blowup_threshold", blowup_threshold, positive=True)
    loss_tol = real_number("loss_tol", loss_tol, positive=True, allow_none=True)
    if t_eval is None:
        num_points = whole_number("num_points", num_points, minimum=2)
        check_memory(f"num_points={num_points}", _output_bytes(f, num_points, initial_state), "use a smaller num_points")
        t_eval = np.linspace(0.0, t_max, num_points)
    else:
        t_eval = _as_float_array(t_eval, "t_eval").ravel()
        if t_eval.size == 0 or np.any(np.diff(t_eval) <= 0) or t_eval[0] < 0 or t_eval[-1] > t_max:
            raise ConfigError("t_eval: must be strictly increasing times inside [0, t_max]")
    return SolveRequest(method, t_eval, t_max, rtol, atol, loss_tol, blowup_threshold, max_step, use_jacobian)


def _check_start(ens: _Ensemble) -> None:
    """Refuse initial states whose right-hand side is already non-finite."""
    with np.errstate(over="ignore", invalid="ignore"):
        rhs0 = ens.rhs(0.0, ens.y0)
    if not np.all(np.isfinite(rhs0)):
        rows = rhs0.reshape(ens.B, ens.n)
        bad = tuple(int(i) for i in np.unravel_index(np.argmax(~np.isfinite(rows).all(axis=1) | ~np.isfinite(rows).any(axis=1)), ens.member_shape))
        raise IntegrationError(
            f"initial_state: the right-hand side overflows at t = 0 (member/mode {bad}, depths {ens.f.depths}); "
            "use smaller initial values"
        )


def _to_trajectory(ens: _Ensemble, out: SolverOutput, request: SolveRequest, elapsed: float, provenance: dict | None) -> Trajectory:
    """The one conversion of a back-end's output to a :class:`Trajectory`."""
    f = ens.f
    T = out.t.size
    Yn = out.states  # (n, T, B): the solvers' outputs are time-major, so no transposing copies
    params_tb = [p[None, :] for p in ens.params]
    K = np.broadcast_to(np.asarray(f.batch_strengths(Yn, *params_tb), dtype=float), (f.num_pathways, T, ens.B))
    loss = f.batch_mode_loss(Yn, *params_tb).reshape(T, *ens.member_shape).sum(axis=-1)  # (T, *batch)
    K_out = np.moveaxis(K.reshape(f.num_pathways, T, *ens.member_shape), 0, -2)
    state = np.moveaxis(Yn.reshape(ens.n, T, *ens.member_shape), 0, -2)
    extras = {}
    if f.invariant_names and T:
        inv = np.broadcast_to(
            np.asarray(f.batch_invariants(Yn, *params_tb), dtype=float), (len(f.invariant_names), T, ens.B)
        )
        per_member = np.max(np.abs(inv - inv[:, :1]), axis=1)
        drift = per_member.max(axis=1) if ens.B else np.zeros(len(f.invariant_names))
        extras["invariant_drift_per_member"] = per_member.reshape(len(f.invariant_names), *ens.member_shape)
        extras["invariant_names"] = f.invariant_names
    else:
        drift = np.zeros(0)
    stats = {**out.stats, "wall_time_s": elapsed, "num_members": ens.B, "method": request.method}
    if out.stopped_at is not None:
        stats["t_converged"] = out.stopped_at
    return Trajectory(
        t=out.t,
        K=K_out,
        loss=loss,
        success=out.success,
        message=out.message,
        state_names=f.state_names,
        state=state,
        invariant_drift=drift,
        extras=extras,
        stats=stats,
        provenance=_provenance(ens, request, provenance),
    )


def _provenance(ens: _Ensemble, request: SolveRequest, extra: dict | None) -> dict:
    import scipy

    f = ens.f
    record = {
        "equations": f.kind,
        "depths": list(f.depths),
        "method": request.method,
        "rtol": request.rtol,
        "atol": request.atol,
        "loss_tol": request.loss_tol,
        "t_max": request.t_max,
        "numpy": np.__version__,
        "scipy": scipy.__version__,
    }
    lam_index = next((i for i, p in enumerate(f.parameter_layout) if p.role == "lambda"), None)
    if lam_index is not None:
        # The input variances the theory used, so that a comparison can check them against the data's.
        lam = ens.params[lam_index].reshape(-1, ens.num_modes)
        record["input_variances"] = lam[0].tolist() if np.all(lam == lam[:1]) else lam.reshape(ens.member_shape).tolist()
    record.update(extra or {})
    return record
