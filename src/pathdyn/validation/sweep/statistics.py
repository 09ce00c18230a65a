"""Confidence intervals with Student's t: the one place the sweeps and the concentration code take them.

:func:`t_interval` is the interval ``estimate +- t_{dof} * spread / sqrt(count)``;
:func:`fit_slope` (a width sweep's slope of log error against log width) and
:func:`mean_interval` (a mean over seeds) are built on it.
"""

from __future__ import annotations

from typing import Any
import math

import numpy as np
from numpy.typing import ArrayLike

__all__ = ["fit_slope", "mean_interval", "t_interval"]


def t_interval(estimate: float, spread: float, dof: int, confidence: float = 0.95, count: int = 1) -> tuple:
    """Two-sided Student's t interval ``estimate +- t_{dof} * spread / sqrt(count)``.

    Parameters
    ----------
    estimate : float
        The centre (a mean or a fitted coefficient).
    spread : float
        A standard error (``count = 1``) or a standard deviation of ``count`` samples.
    dof : int
        Degrees of freedom of the t distribution (``count - 1`` for a mean, ``n - 2`` for
        a fitted slope).
    confidence : float
        Level of the interval, in (0, 1).
    count : int
        Number of samples ``spread`` is divided among.

    Returns
    -------
    (low, high) : tuple of float

    Notes
    -----
    The half width is ``t_{dof}^{-1}((1 + confidence) / 2) * spread / sqrt(count)``,
    computed in that order (the reports' numbers depend on it bit for bit).
    """
    from scipy import stats

    half = float(stats.t.ppf(0.5 + confidence / 2, dof)) * spread / math.sqrt(count)
    return estimate - half, estimate + half


def fit_slope(widths: Any, errors: Any, confidence: float = 0.95) -> tuple:
    """Least-squares slope of ``log error`` against ``log width`` over all points.

    Parameters
    ----------
    widths : array_like, shape (W,)
    errors : array_like, shape (W, seeds)
        Every point is used (each seed's error at each width).
    confidence : float
        Level of the two-sided interval.

    Returns
    -------
    (slope, (low, high), intercept)
        The interval is ``slope +- t_{n-2} * standard error`` (NaN with fewer than 3
        points or two distinct widths).

    Notes
    -----
    With ``x = log N`` and ``y = log error``, the standard error of the slope is
    ``sqrt(sum r^2 / (n - 2) / sum (x - mean x)^2)`` for the residuals ``r``.
    """
    widths = np.asarray(widths, dtype=float)
    errors = np.asarray(errors, dtype=float)
    x = np.repeat(np.log(widths), errors.shape[1])
    y = np.log(np.maximum(errors.ravel(), 1e-300))
    if np.unique(x).size < 2:
        return float("nan"), (float("nan"), float("nan")), float("nan")
    slope, intercept = np.polyfit(x, y, 1)
    n = x.size
    if n < 3:
        return float(slope), (float("nan"), float("nan")), float(intercept)
    residual = y - (slope * x + intercept)
    sxx = np.sum((x - x.mean()) ** 2)
    se = math.sqrt(float(np.sum(residual**2)) / (n - 2) / sxx)
    low, high = t_interval(slope, se, n - 2, confidence)
    return float(slope), (float(low), float(high)), float(intercept)


def mean_interval(values: ArrayLike, confidence: float, bounds: tuple[float, float] = (0.5, 1.0)) -> tuple[float, tuple[float, float]]:
    """Mean of the finite ``values`` and its t-interval, clipped to ``bounds``.

    Parameters
    ----------
    values : array_like
        One number per independent sample (e.g. per seed); NaN entries are dropped.
    confidence : float
        Level of the two-sided interval.
    bounds : (float, float)
        The feasible range (default that of a two-pathway dominant fraction).

    Returns
    -------
    (mean, (low, high))
        NaN mean without values; a NaN interval with fewer than two.
    """
    finite = np.asarray(values, dtype=float)
    finite = finite[np.isfinite(finite)]
    if finite.size == 0:
        return float("nan"), (float("nan"), float("nan"))
    mean = float(finite.mean())
    if finite.size < 2:
        return mean, (float("nan"), float("nan"))
    low, high = t_interval(mean, float(finite.std(ddof=1)), finite.size - 1, confidence, count=finite.size)
    return mean, (max(low, bounds[0]), min(high, bounds[1]))
