"""Phase planes of two pathways: the reduced flow in the plane ``(K_1, K_2)`` of one mode.

On the invariant set ``q_a^2 - p_a^2 = c`` each pathway's state is fixed by ``K_a``
(``K = (p^2 + c)^((D-1)/2) p`` is increasing in ``p``), so the q/p flow projects to a
planar vector field. By the chain rule along ``dp/dt = (p^2 + c)^((D-1)/2) e``:

    dK_a/dt = (p_a^2 + c)^(D_a - 2) (D_a p_a^2 + c) e,    e = S - K_1 - K_2.

The tests check this field against the compiled q/p right-hand side.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from pathdyn.checks import check_memory, real_number, whole_number
from pathdyn.errors import ConfigError
from pathdyn.numerics.compile import compile_rhs
from pathdyn.numerics.initial import draw_initial_state
from pathdyn.numerics.integrate import integrate

__all__ = [
    "PhasePanel",
    "race_variable_from_strength",
    "strength_vector_field",
    "compute_phase_panel",
    "integrate_race_form",
]


def race_variable_from_strength(K, depth: int, c: float) -> np.ndarray:
    """``p`` with ``(p^2 + c)^((D-1)/2) p = K`` (vectorised bisection then Newton; ``c > 0``)."""
    K = np.asarray(K, dtype=float)
    if depth == 1:
        return K.copy()
    if not c > 0:
        raise ConfigError(f"c: must be > 0 for depth {depth}, got {c}")
    target = np.abs(K)
    lo = np.zeros_like(target)
    hi = np.maximum(target, 1.0) * np.maximum(1.0, c ** -((depth - 1) / 2))
    for _ in range(80):
        mid = 0.5 * (lo + hi)
        too_big = (mid * mid + c) ** ((depth - 1) / 2) * mid > target
        hi = np.where(too_big, mid, hi)
        lo = np.where(too_big, lo, mid)
    p = 0.5 * (lo + hi)
    for _ in range(3):
        value = (p * p + c) ** ((depth - 1) / 2) * p - target
        slope = (p * p + c) ** ((depth - 3) / 2) * (depth * p * p + c)
        p = p - value / slope
    return np.sign(K) * p


def strength_vector_field(K1, K2, depths, c: float, S: float):
    """``(dK_1/dt, dK_2/dt)`` of the reduced flow on the invariant set ``q^2 - p^2 = c``."""
    e = S - np.asarray(K1, float) - np.asarray(K2, float)
    out = []
    for K, depth in zip((K1, K2), depths):
        if depth == 1:
            out.append(e * np.ones_like(np.asarray(K, float)))
            continue
        p = race_variable_from_strength(K, depth, c)
        out.append((p * p + c) ** (depth - 2) * (depth * p * p + c) * e)
    return out[0], out[1]


def integrate_race_form(race_equations, initial_state, singular_values, t_max: float, *, state_names,
                        **integrate_options):
    """Integrate q/p initial states through the race form: one variable ``p_a`` per pathway.

    The q/p flow conserves ``c_a = q_a^2 - p_a^2`` exactly, and with ``q_a > 0`` and
    ``c_a > 0`` it is the race flow ``dp_a/dt = (p_a^2 + c_a)^((D_a - 1)/2) e`` with
    ``K_a = (p_a^2 + c_a)^((D_a - 1)/2) p_a`` (THEORY.md section 3). Each member's
    ``c_a`` is taken from its own initial state, so the result is the q/p solution,
    with half the unknowns and no invariant drift (it holds by construction).
    Measured on the phase-plane work (``benchmarks/bench_integrate.py`` (a), 200
    members per depth, LSODA rtol 1e-4): 0.022-0.035 s against 0.035-0.059 s for the
    q/p form in the same runs, with a 4x smaller error against the q/p reference
    (5.8e-4 S against 2.3e-3 S).

    Parameters
    ----------
    race_equations : ModeEquations or CompiledRHS
        The race form (``reduce_to_modes(arch, model="race")``: state ``p_1, p_2, ...``,
        parameters ``S`` and ``c_a`` of every pathway of depth >= 2).
    initial_state : array_like, shape (*batch, n_state, n_modes)
        q/p initial states in the order ``state_names``.
    singular_values : array_like
        As in :func:`pathdyn.numerics.integrate.integrate`.
    t_max : float
    state_names : sequence of str
        Names of the q/p state (``CompiledRHS.state_names`` of the q/p equations).
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
        the q/p equations), or state names that do not match the race form.
    """
    f = compile_rhs(race_equations)
    names = [str(n) for n in state_names]
    y0 = np.asarray(initial_state, dtype=float)
    if y0.ndim < 2 or y0.shape[-2] != len(names):
        raise ConfigError(f"initial_state: expected shape (*batch, {len(names)}, n_modes) for state {tuple(names)}, "
                          f"got {y0.shape}")
    index = {name: i for i, name in enumerate(names)}
    missing = [n for n in f.state_names if n not in index]
    if missing or not all(n.startswith("p_") for n in f.state_names):
        raise ConfigError(f"race_equations: state {f.state_names} is not the race form of q/p state {tuple(names)}")
    p0 = np.stack([y0[..., index[n], :] for n in f.state_names], axis=-2)
    parameters = {}
    for name in f.parameter_names[1:]:
        pathway = name[len("c_"):]
        if not name.startswith("c_") or f"q_{pathway}" not in index:
            raise ConfigError(f"race_equations: parameter {name!r} has no q_{pathway} in the q/p state {tuple(names)}")
        q = y0[..., index[f"q_{pathway}"], :]
        p = y0[..., index[f"p_{pathway}"], :]
        c = (q - p) * (q + p)
        if not (np.all(q > 0) and np.all(c > 0)):
            raise ConfigError(f"initial_state: the race form needs q_{pathway} > 0 and q_{pathway}^2 - p_{pathway}^2 > 0 "
                              "for every member; integrate the q/p equations instead")
        parameters[name] = c
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


def compute_phase_panel(equations, init_scale: float, S: float = 10.0, t_max: float = 10.0, num_members: int = 100,
                        c: float = 1.0, seed=0, grid_points: int = 21, num_points: int = 201, race_equations=None,
                        **integrate_options) -> PhasePanel:
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
        traj = integrate_race_form(race_equations, y0, [S], t_max, state_names=f.state_names, num_points=num_points,
                                   **integrate_options)
    else:
        traj = integrate(f, y0, [S], t_max, num_points=num_points, **integrate_options)
    K = traj.K[..., 0]  # (T, members, 2)
    span = np.linspace(-0.15 * S, 1.15 * S, grid_points)
    K1, K2 = np.meshgrid(span, span)
    U, V = strength_vector_field(K1, K2, f.depths, c, S)
    return PhasePanel(depths=tuple(f.depths), init_scale=init_scale, c=c, S=S, K=K, t=traj.t, grid=(K1, K2, U, V),
                      stats=traj.stats)
