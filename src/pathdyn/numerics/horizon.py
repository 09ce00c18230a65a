"""An automatic final time: integrate until the dynamics have settled, rounded to a readable value.

When no final time is given, a dense probe integration up to :data:`AUTO_HORIZON` finds
the settling time (:meth:`~pathdyn.numerics.trajectory.Trajectory.settling_time`); the
output then ends a quarter past it, rounded up to a value that reads well on an axis, so
that its points are spent on the learning and not on the plateau after it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from numpy.typing import ArrayLike

from pathdyn.numerics.compile import CompiledRHS, SymbolicEquations
from pathdyn.numerics.integrate import integrate

__all__ = ["AUTO_HORIZON", "AUTO_TOLERANCE", "AutomaticTMax", "automatic_t_max", "choose_t_max", "round_up_nicely"]

#: Without a final time: integrate this far (tau = 1 units), then end the output where every K has settled.
AUTO_HORIZON = 40.0
#: Settled: every ``K`` within this fraction (of the largest final ``abs(K)``) of its final value.
AUTO_TOLERANCE = 1e-3
#: Output times of the probe integration.
PROBE_POINTS = 4001


def round_up_nicely(value: float) -> float:
    """The smallest of 1, 1.5, 2, 2.5, 3, 4, 5, 6, 8 times a power of ten that is >= ``value``.

    Parameters
    ----------
    value : float
        A positive number.

    Returns
    -------
    float

    Raises
    ------
    ValueError
        If ``value`` is not positive (it has no power of ten).
    """
    power = 10.0 ** math.floor(math.log10(value))
    for step in (1, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10):
        if step * power >= value * (1 - 1e-12):
            return step * power
    return 10 * power


def automatic_t_max(settled: float, horizon: float = AUTO_HORIZON) -> float:
    """A round final time a quarter past ``settled``, so a plot shows the dynamics, not the plateau.

    Parameters
    ----------
    settled : float
        The time by which the dynamics have settled.
    horizon : float
        The largest final time returned.

    Returns
    -------
    float
        ``min(horizon, round_up_nicely(max(1.25 settled, 1e-3)))``.
    """
    return min(horizon, round_up_nicely(max(1.25 * settled, 1e-3)))


@dataclass(frozen=True)
class AutomaticTMax:
    """The final time :func:`choose_t_max` found, and why.

    Attributes
    ----------
    t_max : float
        The final time to integrate to.
    settled : float
        The settling time of the probe integration.
    probe_end : float
        The last time of the probe integration.
    horizon, tolerance : float
        The probe's final time and settling tolerance.
    """

    t_max: float
    settled: float
    probe_end: float
    horizon: float = AUTO_HORIZON
    tolerance: float = AUTO_TOLERANCE

    @property
    def still_moving(self) -> bool:
        """Whether ``K`` still changed at the end of the probe (a larger final time is needed).

        Settling is judged against the probe's own last value, so this detects only a ``K``
        that moves by more than the tolerance between the probe's last two points; a slow
        drift up to the horizon goes unnoticed.
        """
        return self.settled >= self.probe_end

    def describe(self) -> str:
        """One line for the provenance: the settling time, the final time and the horizon.

        Returns
        -------
        str
            The line.
        """
        return (f"automatic: K within {self.tolerance:g} of its final value by t = {self.settled:.4g}; "
                f"t_max = {self.t_max:g} (at most {self.horizon:g})")


def choose_t_max(equations: SymbolicEquations | CompiledRHS, initial_state: ArrayLike, singular_values: ArrayLike,
                 horizon: float = AUTO_HORIZON, tolerance: float = AUTO_TOLERANCE, **options: Any) -> AutomaticTMax:
    """Find a final time by a probe integration up to ``horizon`` (see the module docstring).

    Parameters
    ----------
    equations, initial_state, singular_values
        As for :func:`pathdyn.numerics.integrate.integrate`.
    horizon : float
        The probe's final time (the largest ``t_max`` returned).
    tolerance : float
        Relative settling tolerance (:meth:`~pathdyn.numerics.trajectory.Trajectory.settling_time`).
    **options
        Further keyword arguments of ``integrate`` (``parameters``, ``method``, ``rtol``, ...;
        not ``num_points``, the probe's own).

    Returns
    -------
    AutomaticTMax

    Raises
    ------
    ConfigError
        Whatever ``integrate`` raises for bad input.
    """

    probe = integrate(equations, initial_state, singular_values, horizon, num_points=PROBE_POINTS, **options)
    settled = probe.settling_time(tolerance)
    return AutomaticTMax(t_max=automatic_t_max(settled, horizon), settled=settled, probe_end=float(probe.t[-1]),
                         horizon=horizon, tolerance=tolerance)
