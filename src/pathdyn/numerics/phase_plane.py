"""Phase planes of two pathways: the reduced flow in the plane ``(K_1, K_2)`` of one mode.

On the invariant set ``q_a^2 - p_a^2 = c`` each pathway's state is fixed by ``K_a``
(``K = (p^2 + c)^((D-1)/2) p`` is increasing in ``p``), so the q/p flow projects to a
planar vector field. The field is taken from the equations themselves: each grid point's
state is found by inverting the compiled strengths ``K_a(p_a)`` and its velocity is the
compiled ``dK_a/dt`` (:meth:`pathdyn.numerics.compile.CompiledRHS.strength_rates`, the
chain rule through the right-hand side). State variables are recognised by their role in
the equations' layout, never by name.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from pathdyn._base.checks import check_memory, real_number, whole_number
from pathdyn.errors import ConfigError
from pathdyn.numerics.compile import CompiledRHS, SymbolicEquations, compile_rhs
from pathdyn.numerics.initial import draw_initial_state
from pathdyn.numerics.integrate import integrate
from pathdyn.numerics.trajectory import Trajectory

__all__ = [
    "PhasePanel",
    "strength_vector_field",
    "compute_phase_panel",
    "integrate_race_form",
]

#: Most bisection steps of the inverse ``p_a(K_a)``: enough to shrink any bracket below
#: 1e3 to adjacent doubles, subnormals included (the loop stops as soon as it has).
_BISECTION_STEPS = 1200


def _state_on_invariant_set(f: CompiledRHS, p: np.ndarray, c: float) -> np.ndarray:
    """The state of the q/p or race equations ``f`` at per-pathway ``p`` (``(M, *shape)``),
    with ``q_a = sqrt(p_a^2 + c)``."""
    y = np.empty((f.num_state, *p.shape[1:]))
    for i, record in enumerate(f.layout):
        if record.role not in ("q", "p"):
            raise ConfigError(f"equations: state variable {record.symbol} has role {record.role!r}; "
                              "phase planes need the q/p equations or their race form")
        own = p[record.pathway - 1]
        y[i] = np.sqrt(own * own + c) if record.role == "q" else own
    return y


def _plane_parameters(f: CompiledRHS, S: float, c: float) -> list:
    """Parameter values in ``f``'s order: ``S``, and ``c`` for each race constant."""
    values = []
    for record in f.parameter_layout:
        if record.role not in ("S", "c"):
            raise ConfigError(f"equations: parameter {record.symbol} ({record.role}) has no value on a phase plane; "
                              "use equations for whitened inputs")
        values.append(S if record.role == "S" else c)
    return values


def _pathway_variables_from_strengths(f: CompiledRHS, K: np.ndarray, c: float, params: Sequence[float]) -> np.ndarray:
    """``p`` (``(M, *shape)``) with ``K_a(p_a) = K[a]`` on the invariant set, by bisection on the
    compiled strengths (each ``K_a`` is increasing in ``p_a`` and depends on no other pathway)."""
    strengths = lambda p: f.strengths(_state_on_invariant_set(f, p, c), *params)  # noqa: E731
    half = np.ones_like(K)
    while np.any(strengths(half) < K) or np.any(strengths(-half) > K):
        half = np.where((strengths(half) < K) | (strengths(-half) > K), 2.0 * half, half)
    lo, hi = -half, half.copy()
    for _ in range(_BISECTION_STEPS):
        mid = 0.5 * (lo + hi)
        if np.all((mid == lo) | (mid == hi)):
            break
        below = strengths(mid) < K
        lo = np.where(below, mid, lo)
        hi = np.where(below, hi, mid)
    return 0.5 * (lo + hi)


def strength_vector_field(K1: ArrayLike, K2: ArrayLike, equations: SymbolicEquations | CompiledRHS, c: float, S: float) -> tuple[np.ndarray, np.ndarray]:
    """``(dK_1/dt, dK_2/dt)`` of the reduced flow on the invariant set ``q^2 - p^2 = c``.

    Parameters
    ----------
    K1, K2 : array_like
        Grid of pathway strengths (same shape).
    equations : ModeEquations or CompiledRHS
        Two-pathway q/p equations (or their race form) for whitened inputs.
    c : float
        The conserved ``q_a^2 - p_a^2`` of both pathways (> 0 for pathways deeper than 1).
    S : float
        Singular value of the mode.

    Returns
    -------
    (U, V) : ndarray
        ``dK_1/dt`` and ``dK_2/dt`` at every grid point.

    Raises
    ------
    ConfigError
        Equations that are not two-pathway q/p or race equations for whitened inputs.

    Notes
    -----
    The state at ``(K_1, K_2)`` is found by inverting the compiled strengths and the
    velocity is the compiled chain rule ``dK_a/dt = sum_x (dK_a/dx) dx/dt``: the field is
    the equations' own, not a formula written here (for the q/p model it equals
    ``(p_a^2 + c)^(D_a - 2) (D_a p_a^2 + c) (S - K_1 - K_2)``).
    """
    f = compile_rhs(equations)
    if f.num_pathways != 2:
        raise ConfigError(f"equations: phase planes need exactly 2 pathways, got {f.num_pathways}")
    K = np.stack(np.broadcast_arrays(np.asarray(K1, float), np.asarray(K2, float)))
    params = _plane_parameters(f, S, c)
    p = _pathway_variables_from_strengths(f, K, c, params)
    rates = f.strength_rates(_state_on_invariant_set(f, p, c), *params)
    return rates[0], rates[1]


def integrate_race_form(race_equations: SymbolicEquations | CompiledRHS, initial_state: ArrayLike, singular_values: ArrayLike, t_max: float, *,
                        qp_equations: SymbolicEquations | CompiledRHS, **integrate_options: Any) -> Trajectory:
    """Integrate q/p initial states through the race form: one variable ``p_a`` per pathway.

    The q/p flow conserves ``c_a = q_a^2 - p_a^2`` exactly, and with ``q_a > 0`` and
    ``c_a > 0`` it is the race flow ``dp_a/dt = (p_a^2 + c_a)^((D_a - 1)/2) e`` with
    ``K_a = (p_a^2 + c_a)^((D_a - 1)/2) p_a`` (docs/theory.md, *The race form*). Each member's
    ``c_a`` is taken from its own initial state, so the result is the q/p solution,
    with half the unknowns and no invariant drift (it holds by construction).
    On the phase-plane work (``benchmarks/bench_integrate.py`` (a), 200 members per
    depth, LSODA rtol 1e-4) it was faster than the q/p form in the same runs (the
    benchmark prints both), with a 4x smaller error against the q/p reference
    (5.8e-4 S against 2.3e-3 S).

    Parameters
    ----------
    race_equations : ModeEquations or CompiledRHS
        The race form (``reduce_to_modes(arch, model="race")``: state ``p_1, p_2, ...``,
        parameters ``S`` and ``c_a`` of every pathway of depth >= 2).
    initial_state : array_like, shape ``(*batch, n_state, n_modes)``
        q/p initial states in the state order of ``qp_equations``.
    singular_values : array_like
        As in :func:`pathdyn.numerics.integrate.integrate`.
    t_max : float
    qp_equations : ModeEquations or CompiledRHS
        The q/p equations ``initial_state`` belongs to (their layout says which row is
        ``q_a`` and which ``p_a``).
    **integrate_options
        Passed to :func:`pathdyn.numerics.integrate.integrate`.

    Returns
    -------
    Trajectory
        ``K`` and ``loss`` as from the q/p equations; ``state`` holds ``p_a`` only.

    Raises
    ------
    ConfigError
        A ``q_a <= 0`` or ``c_a <= 0`` (the race form does not hold there: integrate
        the q/p equations), or equations whose layouts do not match (q/p and race form).
    """
    f = compile_rhs(race_equations)
    qp = compile_rhs(qp_equations)
    y0 = np.asarray(initial_state, dtype=float)
    if y0.ndim < 2 or y0.shape[-2] != qp.num_state:
        raise ConfigError(f"initial_state: expected shape (*batch, {qp.num_state}, n_modes) for state {qp.state_names}, "
                          f"got {y0.shape}")
    row = {(record.role, record.pathway): i for i, record in enumerate(qp.layout)}
    race_rows = [row.get((record.role, record.pathway)) for record in f.layout]
    if any(record.role != "p" for record in f.layout) or None in race_rows:
        raise ConfigError(f"race_equations: state {f.state_names} is not the race form of q/p state {qp.state_names}")
    p0 = np.stack([y0[..., i, :] for i in race_rows], axis=-2)
    parameters = {}
    for record in f.parameter_layout[1:]:
        a = record.pathway
        if record.role != "c" or ("q", a) not in row:
            raise ConfigError(f"race_equations: parameter {record.symbol} has no q of pathway {a} in the q/p state "
                              f"{qp.state_names}")
        q = y0[..., row[("q", a)], :]
        p = y0[..., row[("p", a)], :]
        c = (q - p) * (q + p)
        if not (np.all(q > 0) and np.all(c > 0)):
            q_name, p_name = qp.state_names[row[("q", a)]], qp.state_names[row[("p", a)]]
            raise ConfigError(f"initial_state: the race form needs {q_name} > 0 and {q_name}^2 - {p_name}^2 > 0 "
                              "for every member; integrate the q/p equations instead")
        parameters[str(record.symbol)] = c
    return integrate(f, p0, singular_values, t_max, parameters=parameters, **integrate_options)


@dataclass(frozen=True)
class PhasePanel:
    """One panel: trajectories in the ``(K_1, K_2)`` plane and the flow's vector field."""

    depths: tuple
    init_scale: float
    c: float
    S: float
    K: np.ndarray  # (T, members, 2)
    t: np.ndarray
    grid: tuple = field(default=())  # (K1, K2, U, V)
    stats: dict = field(default_factory=dict)


def compute_phase_panel(equations: SymbolicEquations | CompiledRHS, init_scale: float, S: float = 10.0, t_max: float = 10.0, num_members: int = 100,
                        c: float = 1.0, seed: int | np.random.Generator = 0, grid_points: int = 21, num_points: int = 201,
                        race_equations: SymbolicEquations | CompiledRHS | None = None, **integrate_options: Any) -> PhasePanel:
    """Integrate ``num_members`` random small initial conditions of one mode and the field.

    Parameters
    ----------
    equations : ModeEquations or CompiledRHS
        Two-pathway q/p equations (state ``q_1, p_1, q_2, p_2``).
    init_scale, c, seed :
        As in :func:`pathdyn.numerics.initial.draw_initial_state`.
    S, t_max : float
        Singular value of the mode and final time.
    race_equations : ModeEquations or CompiledRHS, optional
        The race form of the same pathways: when given (and ``c > 0``) the
        trajectories are integrated through it (:func:`integrate_race_form`), the
        faster path; the initial states are the same q/p draws.

    Returns
    -------
    PhasePanel
        The trajectories ``K`` of every member, their times and the vector field on a
        grid of ``grid_points`` x ``grid_points`` strengths.

    Raises
    ------
    ConfigError
        When the equations do not have exactly two pathways.
    """
    f = compile_rhs(equations)
    if f.num_pathways != 2:
        raise ConfigError(f"equations: phase planes need exactly 2 pathways, got {f.num_pathways}")
    num_members = whole_number("num_members", num_members, minimum=1)
    num_points = whole_number("num_points", num_points, minimum=2)
    grid_points = whole_number("grid_points", grid_points, minimum=2)
    S = real_number("S", S, positive=True, example="10")
    # the state (4 per member), K (2) and the loss per output time, plus the solver's copy
    check_memory(f"num_members={num_members} x num_points={num_points}", 8.0 * num_members * num_points * 15,
                 "use fewer trajectories (--num-trajectories) or output times")
    y0 = draw_initial_state(f.equations, 1, init_scale, seed=seed, c=c, batch=(num_members,))
    if race_equations is not None and c > 0:
        traj = integrate_race_form(race_equations, y0, [S], t_max, qp_equations=f, num_points=num_points,
                                   **integrate_options)
    else:
        traj = integrate(f, y0, [S], t_max, num_points=num_points, **integrate_options)
    K = traj.K[..., 0]  # (T, members, 2)
    span = np.linspace(-0.15 * S, 1.15 * S, grid_points)
    K1, K2 = np.meshgrid(span, span)
    U, V = strength_vector_field(K1, K2, race_equations if race_equations is not None else f, c, S)
    return PhasePanel(depths=tuple(f.depths), init_scale=init_scale, c=c, S=S, K=K, t=traj.t, grid=(K1, K2, U, V),
                      stats=traj.stats)
