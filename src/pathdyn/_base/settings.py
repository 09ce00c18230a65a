"""The settings of a gradient-descent run, checked once and computed once.

Every run that trains a network for a time ``t_max`` at a learning rate ``eta`` (a width
sweep, a concentration measurement, a graph sweep, the finite-width study) takes its steps
and its recording from one :class:`TrainingTime`: the learning rate and the time are
checked when it is built (positive, finite), and ``steps = max(1, round(t_max / eta))``
and the recording interval are computed here and nowhere else.
"""

from __future__ import annotations

from dataclasses import dataclass

from pathdyn._base.checks import real_number, whole_number
from pathdyn.errors import ConfigError

__all__ = ["TrainingTime"]


@dataclass(frozen=True)
class TrainingTime:
    """How long gradient descent runs, and how often it is recorded.

    Parameters
    ----------
    learning_rate : float
        ``eta`` (> 0); the time mapping is ``t = eta * step``.
    t_max : float
        Training time (> 0).
    record_points : int, optional
        About how many times are recorded (>= 2): every ``steps // record_points`` steps.
    record_dt : float, optional
        Or the time between records (> 0): every ``round(record_dt / eta)`` steps.

    Raises
    ------
    ConfigError
        A value that is not a positive finite number (whole number for ``record_points``),
        a ``t_max`` shorter than one step (``t_max < learning_rate``), or both
        ``record_points`` and ``record_dt``.
    """

    learning_rate: float
    t_max: float
    record_points: int | None = None
    record_dt: float | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "learning_rate", real_number("learning_rate", self.learning_rate, positive=True,
                                                             example="0.01"))
        object.__setattr__(self, "t_max", real_number("t_max", self.t_max, positive=True, example="10"))
        if self.t_max < self.learning_rate:
            # steps = max(1, ...) would train one step, up to 2x (or far more) the time asked for
            raise ConfigError(f"t_max: {self.t_max:g} is shorter than one gradient step at learning_rate "
                              f"{self.learning_rate:g} (t = eta x step); give t_max >= {self.learning_rate:g} "
                              "or a smaller learning_rate")
        if self.record_points is not None and self.record_dt is not None:
            raise ConfigError("record_points, record_dt: give one way of recording, not both")
        if self.record_points is not None:
            object.__setattr__(self, "record_points", whole_number("record_points", self.record_points, minimum=2))
        if self.record_dt is not None:
            object.__setattr__(self, "record_dt", real_number("record_dt", self.record_dt, positive=True, example="0.1"))

    @property
    def steps(self) -> int:
        """Gradient steps, ``max(1, round(t_max / learning_rate))``."""
        return max(1, int(round(self.t_max / self.learning_rate)))

    @property
    def record_every(self) -> int:
        """Steps between records: from ``record_dt`` or ``record_points``; every step without either."""
        if self.record_dt is not None:
            return max(1, int(round(self.record_dt / self.learning_rate)))
        if self.record_points is not None:
            return max(1, self.steps // self.record_points)
        return 1

    def checked_steps(self, max_steps: int, factor: int = 1) -> int:
        """The steps ``factor * t_max / learning_rate`` of a run's longest network, refused beyond ``max_steps``.

        Parameters
        ----------
        max_steps : int
            The limit (the command line's ``--max-steps``).
        factor : int
            The longest network in units of ``t_max / learning_rate`` (a learning-rate floor
            that trains at half the rate: 2).

        Returns
        -------
        int
            ``round(factor * t_max / learning_rate)``.

        Raises
        ------
        ConfigError
            Beyond ``max_steps``, naming the options and the fix.
        """
        steps = factor * self.t_max / self.learning_rate
        if steps > max_steps:
            times = f"{factor} x " if factor != 1 else ""
            raise ConfigError(
                f"{times}--t-max / --learning-rate = {times}{self.t_max:g} / {self.learning_rate:g} means {steps:.3g} "
                f"gradient steps per network, above --max-steps {max_steps:,}; shorten --t-max, raise --learning-rate "
                "or raise --max-steps"
            )
        return round(steps)
