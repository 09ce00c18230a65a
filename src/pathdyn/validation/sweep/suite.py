"""Several cases at once: the suites of ``pathdyn validate``, their summary lines and their document.

:func:`run_case` runs one :class:`~pathdyn.validation.sweep.cases.ValidationCase` with the
sweep its model needs; :func:`run_suite` runs several on one task runner and returns a
:class:`SuiteReport`, which writes the JSON document and the summary lines of ``pathdyn validate``.
"""

from __future__ import annotations

from collections.abc import Sequence
import dataclasses
from dataclasses import dataclass
from typing import Any, Callable

from pathdyn.errors import ConfigError
from pathdyn.validation.compare import SUBSPACE
from pathdyn.validation.sweep.cases import QUICK_PREFIX, ValidationCase
from pathdyn.validation.sweep.distributed import run_cases
from pathdyn.validation.sweep.report import WidthScalingReport
from pathdyn.validation.sweep.width import validate_width

__all__ = ["SuiteReport", "run_suite", "summary_text", "validate_suite"]


def summary_text(name: str, report: WidthScalingReport) -> str:
    """The lines ``pathdyn validate`` prints for one case: errors by width, notes, the verdict.

    Parameters
    ----------
    name : str
        The case's name (first line).
    report : WidthScalingReport

    Returns
    -------
    str
        Several lines, without a final newline.
    """
    medians = ", ".join(f"{w}:{e:.4f}" for w, e in zip(report.widths, report.median_errors))
    lines = [name, f"  {report.ERROR_LABEL}  {medians}"]
    if report.compared == SUBSPACE:
        lines.append(f"  compared: {report.compared} (degenerate singular values)")
    if any(abs(v - 1.0) > 1e-10 for v in report.input_variances):
        variances = ", ".join(f"{v:.4g}" for v in report.input_variances)
        lines.append(f"  inputs: not whitened; theory with input variances {variances} (misalignment {report.misalignment:.3g})")
    for warning in report.warnings:
        lines.append(f"  warning: {warning}")
    if report.mapping_notes:
        lines.append(f"  mapping: {len(report.mapping_notes)} network(s) approximated, e.g. {report.mapping_notes[0]}")
    lines.append(f"  verdict: {report.verdict}")
    return "\n".join(lines)


@dataclass(frozen=True)
class SuiteReport:
    """The reports of several cases, and the document ``pathdyn validate -o`` writes.

    Attributes
    ----------
    suite : str or None
        ``"default"`` or ``"quick"``; None for one custom case (its document is that
        case's report alone).
    cases : tuple of ValidationCase
    reports : tuple of WidthScalingReport
        One per case, in the same order; a quick suite's verdicts start with
        :data:`QUICK_PREFIX`.
    """

    suite: str | None
    cases: tuple
    reports: tuple

    def __post_init__(self) -> None:
        if self.suite not in (None, "default", "quick"):
            raise ConfigError(f"suite: {self.suite!r} is not a suite; give 'default', 'quick' or None (one case)")
        if len(self.cases) != len(self.reports):
            raise ConfigError(f"reports: {len(self.reports)} reports for {len(self.cases)} cases; give one per case")
        if self.suite is None and len(self.cases) != 1:
            raise ConfigError(f"cases: {len(self.cases)} cases without a suite name; give suite='default' or 'quick'")

    @property
    def passed(self) -> bool | None:
        """False if a case missed its targets, True if every case with targets met them, None without targets."""
        met = [report.passed for report in self.reports if report.passed is not None]
        return None if not met else all(met)

    def summary(self) -> str:
        """What ``pathdyn validate`` prints: :func:`summary_text` of every case, one after another.

        Returns
        -------
        str
        """
        return "\n".join(summary_text(case.name, report) for case, report in zip(self.cases, self.reports))

    def to_json_dict(self) -> dict:
        """The document ``pathdyn validate -o`` writes.

        Returns
        -------
        dict
            One case: its report's ``to_json_dict()``. A suite: ``{"suite", "config",
            "verdict", "cases"}`` (each case's report with its ``"name"``) and
            ``"widths"``, ``"errors"``, ``"slope"``, ``"slope_ci"`` as lists with one entry
            per case.
        """
        if self.suite is None:
            return self.reports[0].to_json_dict()
        met = [report.passed for report in self.reports if report.passed is not None]
        quick = "indicative only (--quick): " if self.suite == "quick" else ""
        document: dict[str, Any] = {
            "suite": self.suite,
            "config": {"suite": self.suite, "cases": [case.name for case in self.cases]},
            "verdict": quick + f"{sum(met)} of {len(met)} targets met",
            "cases": [dict(report.to_json_dict(), name=case.name) for case, report in zip(self.cases, self.reports)],
        }
        # The single-case keys, one entry per case (same order as "cases").
        for key in ("widths", "errors", "slope", "slope_ci"):
            document[key] = [case_document[key] for case_document in document["cases"]]
        return document


def _marked(report: WidthScalingReport, suite: str | None) -> WidthScalingReport:
    """A quick suite's report, its verdict prefixed with :data:`QUICK_PREFIX` (it is indicative only)."""
    return dataclasses.replace(report, verdict=QUICK_PREFIX + report.verdict) if suite == "quick" else report


def run_suite(cases: Sequence[ValidationCase], *, suite: str | None = None, device: str = "numpy", workers: int | None = None,
              scheduler: str | None = None, progress: bool = False, on_report: Callable[..., Any] | None=None) -> SuiteReport:
    """Run every case (:func:`validate_suite`) and gather the suite's report.

    Parameters
    ----------
    cases : sequence of ValidationCase
    suite : {"default", "quick"} or None
        The suite's name; None for one custom case. A quick suite's verdicts say they are
        indicative.
    device : str
        Where the networks train (:func:`pathdyn.validation.sweep.width.validate_width`).
    workers, scheduler : optional
        A local or existing Dask cluster (:func:`pathdyn.validation.sweep.distributed.task_runner`).
    progress : bool
        Draw a progress bar on standard error (terminals only).
    on_report : callable, optional
        ``on_report(case, report)`` as each case is done, in case order (with the quick
        prefix already on the verdict).

    Returns
    -------
    SuiteReport

    Raises
    ------
    ConfigError
        Bad cases or cluster options.
    PathdynError
        From the simulations or integrations.
    """
    cases = tuple(cases)
    if not all(isinstance(case, ValidationCase) for case in cases):
        raise ConfigError("cases: expected ValidationCase objects; build them with ValidationCase(...)")
    def report_marked(case: ValidationCase, report: WidthScalingReport) -> None:
        if on_report is not None:
            on_report(case, _marked(report, suite))

    reports = validate_suite(cases, workers=workers, scheduler=scheduler, progress=progress, device=device,
                             on_report=report_marked)
    return SuiteReport(suite=suite, cases=cases, reports=tuple(_marked(report, suite) for report in reports))


def validate_suite(cases: Sequence[ValidationCase | dict[str, Any]], *, workers: int | None = None, scheduler: str | None = None,
                   progress: Any = False, device: str = "numpy", on_report: Callable[[Any, Any], object] | None = None,
                   runner: Any = None) -> list[WidthScalingReport]:
    """:func:`pathdyn.validation.sweep.width.validate_width` of every case, on one task runner.

    Parameters
    ----------
    cases : sequence of ValidationCase or dict
        The cases; a dict is read as ``ValidationCase(**case)``.
    workers, scheduler, runner : optional
        As :func:`pathdyn.validation.sweep.distributed.run_cases`.
    progress : bool
        One progress bar for all networks (per case on the serial path).
    device : str
        Where the networks train (``"numpy"``, or a PyTorch device).
    on_report : callable, optional
        ``on_report(case, report)`` in case order, as soon as each case is done.

    Returns
    -------
    list of WidthScalingReport
        In case order; bit-identical whichever path ran them.
    """
    cases = [case if isinstance(case, ValidationCase) else ValidationCase(**case) for case in cases]

    def run(case: ValidationCase, **extra: Any) -> WidthScalingReport:
        return validate_width(case, device=device, **extra)

    return run_cases(cases, run, workers=workers, scheduler=scheduler, progress=progress, on_report=on_report, runner=runner)
