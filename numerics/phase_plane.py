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

from pathdyn.errors import ConfigError
from pathdyn.numerics.compile import compile_rhs
from pathdyn.numerics.initial import draw_initial_state
from pathdyn.numerics.integrate import integrate

__all__ = ["PhasePanel", "race_variable_from_strength", "strength_vector_field", "compute_phase_panel"]


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
                        c: float = 1.0, seed=0, grid_points: int = 21, num_points: int = 201, **integrate_options) -> PhasePanel:
    """Integrate ``num_members`` random small initial conditions of one mode and the field.

    Parameters
    ----------
    equations : ModeEquations or CompiledRHS
        Two-pathway q/p equations (state ``q_1, p_1, q_2, p_2``).
    init_scale, c, seed :
        As in :func:`pathdyn.numerics.initial.draw_initial_state`.
    S, t_max : float
        Singular value of the mode and final time.
    """
    f = compile_rhs(equations)
    if f.num_pathways != 2:
        raise ConfigError(f"equations: phase planes need exactly 2 pathways, got {f.num_pathways}")
    y0 = draw_initial_state(f.equations, 1, init_scale, seed=seed, c=c, batch=(num_members,))
    traj = integrate(f, y0, [S], t_max, num_points=num_points, **integrate_options)
    K = traj.K[..., 0]  # (T, members, 2)
    span = np.linspace(-0.15 * S, 1.15 * S, grid_points)
    K1, K2 = np.meshgrid(span, span)
    U, V = strength_vector_field(K1, K2, f.depths, c, S)
    return PhasePanel(depths=tuple(f.depths), init_scale=init_scale, c=c, S=S, K=K, t=traj.t, grid=(K1, K2, U, V),
                      stats=traj.stats)
