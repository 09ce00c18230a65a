"""Student's t intervals: the one helper against scipy, and the two intervals built on it."""

import math

import numpy as np
import pytest
from scipy import stats

from pathdyn.validation.sweep.statistics import fit_slope, mean_interval, t_interval


def test_t_interval_matches_scipy_for_a_mean_of_ten_samples():
    low, high = t_interval(10.0, 2.0, dof=9, confidence=0.95, count=10)
    expected = stats.t.interval(0.95, 9, loc=10.0, scale=2.0 / math.sqrt(10))
    assert (low, high) == pytest.approx(expected, rel=1e-13)
    # The check can fail: the normal quantile 1.96 in place of t_9 (2.262) misses it.
    normal_half = 1.96 * 2.0 / math.sqrt(10)
    assert abs((10.0 + normal_half) - expected[1]) > 1e-2


def test_fit_slope_interval_matches_scipy_linregress(rng):
    widths = np.array([64, 128, 256, 512, 1024])
    errors = 0.3 * widths[:, None] ** -0.7 * np.exp(0.1 * rng.standard_normal((5, 3)))
    slope, (low, high), intercept = fit_slope(widths, errors, confidence=0.9)
    fit = stats.linregress(np.repeat(np.log(widths), 3), np.log(errors.ravel()))
    half = stats.t.ppf(0.95, 15 - 2) * fit.stderr
    assert slope == pytest.approx(fit.slope, rel=1e-10) and intercept == pytest.approx(fit.intercept, rel=1e-10)
    assert (low, high) == pytest.approx((fit.slope - half, fit.slope + half), rel=1e-10)


def test_mean_interval_matches_scipy_and_clips_to_the_feasible_range():
    values = np.array([0.61, 0.72, 0.68, 0.9, np.nan, 0.55])
    mean, (low, high) = mean_interval(values, 0.95, bounds=(0.0, 10.0))
    finite = values[np.isfinite(values)]
    expected = stats.t.interval(0.95, finite.size - 1, loc=finite.mean(), scale=stats.sem(finite))
    assert mean == pytest.approx(finite.mean()) and (low, high) == pytest.approx(expected, rel=1e-12)
    clipped = mean_interval(values, 0.95)  # the two-pathway range [1/2, 1]
    assert clipped[1] == (max(expected[0], 0.5), min(expected[1], 1.0))
    assert math.isnan(mean_interval([0.7], 0.95)[1][0]) and math.isnan(mean_interval([], 0.95)[0])
