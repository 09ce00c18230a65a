"""Sweeps and verdicts: what a validation measures, how it runs, and what it concludes.

The front door of the sweeps (import public names from here):
:mod:`~pathdyn.validation.sweep.cases` (one frozen :class:`ValidationCase` per case, the
suites), :mod:`~pathdyn.validation.sweep.width` (width sweeps against a model started
from each network's own weights), :mod:`~pathdyn.validation.sweep.dmft` (width sweeps of
the seed mean against the DMFT), :mod:`~pathdyn.validation.sweep.concentration`
(concentration with depth), the graph sweeps, the statistics they share, and
:mod:`~pathdyn.validation.sweep.distributed` (the task runner, local or on Dask).
"""

from __future__ import annotations

from pathdyn.validation.sweep.cases import DEFAULT_SUITE, QUICK_SUITE, ValidationCase, default_dataset
from pathdyn.validation.sweep.concentration import ConcentrationResult, measure_concentration
from pathdyn.validation.sweep.dmft import validate_dmft_width
from pathdyn.validation.sweep.report import DMFTWidthReport, WidthScalingReport, load_width_reports
from pathdyn.validation.sweep.statistics import fit_slope
from pathdyn.validation.sweep.suite import SuiteReport, run_suite, validate_suite
from pathdyn.validation.sweep.width import validate_width

__all__ = [
    "ConcentrationResult",
    "DEFAULT_SUITE",
    "DMFTWidthReport",
    "QUICK_SUITE",
    "SuiteReport",
    "ValidationCase",
    "WidthScalingReport",
    "default_dataset",
    "fit_slope",
    "load_width_reports",
    "measure_concentration",
    "run_suite",
    "validate_dmft_width",
    "validate_suite",
    "validate_width",
]
