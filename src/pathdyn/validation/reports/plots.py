"""Figures of width sweeps and concentration.

matplotlib is imported on first use and its backend left alone (see
:mod:`pathdyn.numerics.plotting`); every function returns its figure and, given a
path, also writes it atomically.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

import numpy as np

from pathdyn.numerics.plotting import finish_figure, integer_ticks, pyplot
from pathdyn.validation.sweep.statistics import fit_slope

if TYPE_CHECKING:  # types only: matplotlib is imported on first use, and the sweeps import this module
    from matplotlib.axes import Axes
    from matplotlib.axis import Axis
    from matplotlib.figure import Figure

    from pathdyn.validation.sweep.concentration import ConcentrationResult
    from pathdyn.validation.sweep.report import WidthScalingReport

__all__ = ["plot_width_reports", "plot_concentration"]

#: Line style of pathway a (GD curves); the theory is drawn thin and black on top.
PATHWAY_STYLES = ("-", "--", "-.", (0, (1, 1)), (0, (5, 1, 1, 1)))
ERROR_LABEL = r"$\max_{t,a,\alpha} |K_{a\alpha}^{\mathrm{GD}} - K_{a\alpha}^{\mathrm{th}}| \,/\, S_1$"


def case_title(report: WidthScalingReport) -> str:
    """What a sweep ran: depths, initialisation and scale, reduced model, learning rate, seeds.

    Parameters
    ----------
    report : WidthScalingReport
        The sweep.

    Returns
    -------
    str
        Two lines of matplotlib mathtext.
    """
    depths = ", ".join(map(str, report.depths))
    return (f"$D = ({depths})$, {report.init} $\\sigma = {report.init_scale:g}$, {report.theory} theory\n"
            f"$\\eta = {report.learning_rate:g}$, $t \\leq {report.t_max:g}$, {len(report.seeds)} seeds")


def _log_axis_labels(axis: Axis) -> None:
    """Ticks at 1, 2 and 5 times the powers of ten, written plainly (``0.002``).

    matplotlib's default labels either every decade only (one label on a short axis)
    or every minor tick (colliding labels).
    """
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    axis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
    axis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:g}"))
    axis.set_minor_formatter(NullFormatter())


def _error_panel(ax: Axes, report: WidthScalingReport, title: str) -> None:

    widths = np.asarray(report.widths, dtype=float)
    # A DMFT report's slope is fitted on the error of the seed mean (the quantity the theory
    # predicts), not on single networks: draw the fitted line through what was fitted.
    ensemble = getattr(report, "ensemble_errors", None)
    points, summary = ("single networks", "seed mean") if ensemble is not None else ("per seed", "median over seeds")
    for j in range(report.errors.shape[1]):
        ax.loglog(widths, report.errors[:, j], "o", color="C0", alpha=0.5, ms=4, label=points if j == 0 else None)
    ax.loglog(widths, report.median_errors, "-", color="C0", label=summary)
    if np.isfinite(report.slope):
        fitted = report.errors if ensemble is None else np.asarray(ensemble, dtype=float)[:, None]
        _, _, intercept = fit_slope(report.widths, fitted)
        low, high = report.slope_ci
        ax.loglog(widths, np.exp(intercept) * widths**report.slope, "--", color="C1",
                  label=f"slope {report.slope:.2f} [{low:.2f}, {high:.2f}]")
    if report.lr_floor:
        ax.axhline(report.lr_floor, color="gray", ls=":", label=rf"$O(\eta)$ floor {report.lr_floor:.1e}")
    integer_ticks(ax.xaxis, report.widths)
    ax.tick_params(axis="x", labelrotation=45 if len(report.widths) > 5 else 0, labelsize=8)
    _log_axis_labels(ax.yaxis)
    ax.set_xlabel("hidden width $N$")
    ax.set_ylabel(ERROR_LABEL)
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=7)
    ax.grid(True, which="both", alpha=0.3)


def _overlay_panel(ax: Axes, report: WidthScalingReport, plt: ModuleType) -> None:
    example = report.example
    assert example is not None  # drawn only for a report with an example
    t = np.asarray(example["t"])
    K_gd = np.asarray(example["K_gd"])
    K_th = np.asarray(example["K_theory"])
    M, modes = K_gd.shape[1], K_gd.shape[2]
    # light, distinct colours: the black theory line must stay visible on top of every mode
    colours = [f"C{m % 10}" for m in range(modes)]
    for a in range(M):
        for m in range(modes):
            ax.plot(t, K_gd[:, a, m], linestyle=PATHWAY_STYLES[a % len(PATHWAY_STYLES)], color=colours[m], lw=2.2, alpha=0.55)
            ax.plot(t, K_th[:, a, m], ":", color="k", lw=1.0)
    handles = [plt.Line2D([], [], color="0.4", lw=2.2, alpha=0.55, linestyle=PATHWAY_STYLES[a % len(PATHWAY_STYLES)],
                          label=f"GD, pathway {a + 1}") for a in range(M)]
    handles.append(plt.Line2D([], [], color="k", lw=1.0, linestyle=":", label=f"{report.theory} theory"))
    handles += [plt.Line2D([], [], color=colours[m], lw=2.2, label=rf"$\alpha = {m + 1}$, $S = {report.singular_values[m]:.3g}$")
                for m in range(modes)]
    ax.legend(handles=handles, fontsize=6.5, ncol=2, loc="lower right")
    ax.set_title(f"$N = {example['width']}$, seed {example['seed']}", fontsize=9)
    ax.set_xlabel(r"$t = \eta \cdot \mathrm{step}$")
    ax.set_ylabel(r"$K_{a\alpha}(t)$")
    ax.set_xlim(t[0], t[-1])


def plot_width_reports(reports: Sequence[WidthScalingReport], path: str | Path | None = None, titles: Sequence[str] | None = None) -> Figure:
    """Error against width (top row) and ``K(t)`` of one network against the theory (bottom row).

    Parameters
    ----------
    reports : sequence of WidthScalingReport
    path : str or Path, optional
        Output image (format from the suffix, e.g. ``.png``).
    titles : sequence of str, optional
        Case names, shown above what each case ran.

    Returns
    -------
    matplotlib.figure.Figure
    """
    plt = pyplot()
    n = len(reports)
    fig, axes = plt.subplots(2, n, figsize=(4.3 * n, 7.8), squeeze=False, constrained_layout=True)
    for k, report in enumerate(reports):
        title = case_title(report) if not titles else f"{titles[k]}\n{case_title(report)}"
        _error_panel(axes[0, k], report, title)
        if report.example is not None:
            _overlay_panel(axes[1, k], report, plt)
        else:
            axes[1, k].set_axis_off()
    return finish_figure(fig, path, dpi=110)


def plot_concentration(result: ConcentrationResult | dict[str, Any], path: str | Path | None = None) -> Figure:
    """Mean dominant-pathway fraction with its confidence interval against depth, per activation.

    Parameters
    ----------
    result : ConcentrationResult or dict
        The result, or its :meth:`~pathdyn.validation.sweep.concentration.ConcentrationResult.to_json_dict`.
    path : str or Path, optional

    Returns
    -------
    matplotlib.figure.Figure
    """
    if hasattr(result, "to_json_dict"):
        result = result.to_json_dict()
    plt = pyplot()
    depths = np.asarray(result["depths"])
    config = result["config"]
    race = result.get("race")
    fig, axes = plt.subplots(1, 2 if race else 1, figsize=(10 if race else 5.5, 4.2), squeeze=False,
                             constrained_layout=True)
    ax = axes[0, 0]
    activations = list(result["dominant_fraction"])
    for k, activation in enumerate(activations):
        means = np.asarray([np.nan if m is None else m for m in result["dominant_fraction"][activation]], dtype=float)
        ci = np.asarray([[np.nan if v is None else v for v in c] for c in result["ci"][activation]], dtype=float)
        offset = 0.06 * (k - (len(activations) - 1) / 2)  # side by side, so the error bars do not overlap
        ax.errorbar(depths + offset, means, yerr=[means - ci[:, 0], ci[:, 1] - means], fmt="o-",
                    capsize=3, label=activation)
    ax.set_xlabel("depth $D$ of both pathways")
    ax.set_ylabel(r"dominant fraction $|K_{\mathrm{dom}\,\alpha}| \,/\, \sum_a |K_{a\alpha}|$")
    ax.set_ylim(0.45, 1.02)
    integer_ticks(ax.xaxis, depths)
    ax.set_title(
        f"{config['seeds']} seeds, {config.get('confidence', 0.95):.0%} CI; width {config.get('width', '?')}, "
        f"{config.get('init', '?')} $\\sigma = {config.get('init_scale', float('nan')):g}$, "
        f"$\\eta = {config.get('learning_rate', float('nan')):g}$, $t = {config.get('t_max', float('nan')):g}$",
        fontsize=8.5)
    ax.legend(fontsize=8, title="activation", title_fontsize=8)
    ax.grid(True, alpha=0.3)
    if race:
        ax = axes[0, 1]
        ax.plot(depths, race["winner_agreement"], "o-", label="race names the winning pathway")
        ax.plot(depths, race["predicted_fraction_mean"], "s--", label="race: mean dominant fraction")
        if "linear" in result["dominant_fraction"]:
            ax.plot(depths, result["dominant_fraction"]["linear"], "^:", label="linear GD: mean dominant fraction")
        ax.set_xlabel("depth $D$ of both pathways")
        ax.set_ylim(0.45, 1.02)
        integer_ticks(ax.xaxis, depths)
        ax.set_title("race oracle from each linear network's own initial state", fontsize=8.5)
        ax.legend(fontsize=8)
        ax.grid(True, alpha=0.3)
    return finish_figure(fig, path, dpi=110)
