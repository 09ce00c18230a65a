"""Figures of graphs: a validation (the network's mode strengths over the reduced model's) and width sweeps.

matplotlib is imported inside the function (through :func:`pathdyn.numerics.plotting.pyplot`).
Labels are matplotlib math text (``$K_{p\\alpha}$``, node names upright and escaped).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from pathdyn.numerics.plotting import finish_figure, integer_ticks, pyplot, save_figure

if TYPE_CHECKING:  # types only: the sweeps import this module
    from pathdyn.theory.graph import GraphArchitecture
    from pathdyn.validation.sweep.graph_validate import GraphValidation

__all__ = ["MAX_PATH_PANELS", "math_name", "path_label", "plot_graph_sweeps", "plot_graph_validation"]

_MATH_SPECIAL = set("_$%&#{}^~\\")
#: Graphs with at most this many paths get one panel per path; larger ones a panel of the
#: total and one of the edge strengths.
MAX_PATH_PANELS = 6


def math_name(name: str) -> str:
    """A node name as upright math text, its special characters escaped (``V1`` -> ``\\mathrm{V1}``).

    Parameters
    ----------
    name : str

    Returns
    -------
    str
        Without the surrounding ``$``.
    """
    escaped = "".join("\\" + c if c in _MATH_SPECIAL else c for c in str(name))
    return rf"\mathrm{{{escaped}}}"


def path_label(path: Sequence[tuple[str, str]]) -> str:
    """``$\\mathrm{x} \\to \\mathrm{V1} \\to \\mathrm{y}$`` for a path given as a tuple of edges.

    Parameters
    ----------
    path : tuple of (str, str)

    Returns
    -------
    str
    """
    nodes = [path[0][0]] + [v for _, v in path]
    return "$" + r" \to ".join(math_name(n) for n in nodes) + "$"


def _panels(validation: GraphValidation, graph: GraphArchitecture) -> list[tuple[Any, ...]]:
    """``(network, theory, title, y label, levels)`` per panel: arrays of shape (T, lines), one line per mode
    (``levels``: the singular values, or None), or (``levels`` False) one line per edge."""
    gd, theory = validation.simulation, validation.theory
    K_gd, K_th = np.asarray(gd.K), np.asarray(theory.K)
    panels: list[tuple[Any, ...]] = []
    if validation.paths_listed and K_gd.shape[1] <= MAX_PATH_PANELS:
        panels += [(K_gd[:, p], K_th[:, p], path_label(graph.paths[p]), r"$K_{p\alpha}(t)$", None)
                   for p in range(K_gd.shape[1])]
    S = np.asarray(gd.extras["singular_values"])
    panels.append((K_gd.sum(axis=1), K_th.sum(axis=1), r"total $K_{\alpha} = \sum_p K_{p\alpha}$", r"$K_{\alpha}(t)$", S))
    if len(panels) == 1 and "edge_strengths" in gd.extras:
        edges_gd, edges_th = np.asarray(gd.extras["edge_strengths"])[:, :, 0], np.asarray(theory.state)[:, :, 0]
        panels.append((edges_gd, edges_th, rf"every edge strength $s_{{e\alpha}}$, mode 1 ({edges_gd.shape[1]} edges)",
                       r"$s_{e1}(t)$", False))
    return panels


def plot_graph_validation(validation: GraphValidation, graph: GraphArchitecture, path: str | Path, title: str | None = None) -> None:
    """Network (dots) against the reduced model (lines): per path, the total, or every edge.

    Graphs with at most :data:`MAX_PATH_PANELS` paths get one panel per path
    (``K_{p alpha}(t)``, one colour per mode) and one of the total against
    ``S_alpha / lambda_alpha`` (dashed: the singular values); larger graphs the total and
    a panel of every edge strength of mode 1. The file type follows the suffix.

    Parameters
    ----------
    validation : GraphValidation
    graph : GraphArchitecture
    path : str or Path
    title : str, optional
    """
    plt = pyplot()
    t = np.asarray(validation.simulation.t)
    panels = _panels(validation, graph)
    fig, axes = plt.subplots(1, len(panels), figsize=(3.4 * len(panels), 3.4), squeeze=False, constrained_layout=True)
    every = max(1, t.size // 40)
    for ax, (sim, th, label, ylabel, levels) in zip(axes[0], panels):
        colours = plt.get_cmap("viridis")(np.linspace(0, 0.9, th.shape[1]))
        for k in range(th.shape[1]):
            per_mode = levels is not False
            ax.plot(t, th[:, k], color=colours[k], lw=1.3, label=f"theory, mode {k + 1}" if per_mode else None)
            ax.plot(t[::every], sim[::every, k], "o", ms=2.5, color=colours[k], label=f"GD, mode {k + 1}" if per_mode else None)
            if per_mode and levels is not None:
                ax.axhline(levels[k], color=colours[k], lw=0.6, ls="--")
        ax.set_title(label, fontsize=9)
        ax.set_xlabel("$t$")
        ax.set_ylabel(ylabel)
    axes[0, 0].legend(fontsize=6, ncol=1)
    error = validation.comparison.error
    fig.suptitle(title or f"aligned network (dots) against the reduced model (lines): max error {error:.3g} of $S_1$",
                 fontsize=10)
    save_figure(fig, path, dpi=110)


def _sweep_errors(report: dict[str, Any]) -> tuple[np.ndarray, str]:
    """The per-seed errors of a graph sweep (widths x seeds) and the label of what they measure."""
    entries = report["per_width"]
    if all("theory_error" in entry for entry in entries):
        model = entries[0]["theory_error"]["model"]
        label = rf"$\max_{{t,p,\alpha}} |K^{{\mathrm{{GD}}}} - K^{{\mathrm{{{model}}}}}| \,/\, S_1$"
        return np.array([entry["theory_error"]["per_seed"] for entry in entries], dtype=float), label
    label = r"$\max_{t,\alpha} |K_\alpha - \langle K_\alpha \rangle_{\mathrm{seeds}}| \,/\, S_1$"
    return np.array([entry["seed_deviation"] for entry in entries], dtype=float), label


def plot_graph_sweeps(reports: Sequence[dict], path: str | Path | None = None,
                      titles: Sequence[str] | None = None) -> Any:
    """Per graph: its sweep's error against width (top) and the seed-mean total ``K(t)`` per width (bottom).

    Parameters
    ----------
    reports : sequence of dict
        Documents of :func:`pathdyn.validation.sweep.graph.graph_width_sweep` (with ``verdict``).
    path : str or Path, optional
        Output image (format from the suffix).
    titles : sequence of str, optional
        One per report (e.g. the architecture file).

    Returns
    -------
    matplotlib.figure.Figure
    """
    plt = pyplot()
    n = len(reports)
    fig, axes = plt.subplots(2, n, figsize=(4.3 * n, 7.4), squeeze=False, constrained_layout=True)
    for k, report in enumerate(reports):
        widths = np.asarray(report["widths"], dtype=float)
        errors, label = _sweep_errors(report)
        top, bottom = axes[0, k], axes[1, k]
        for j in range(errors.shape[1]):
            top.loglog(widths, errors[:, j], "o", color="C0", alpha=0.5, ms=4, label="per seed" if j == 0 else None)
        top.loglog(widths, np.median(errors, axis=1), "-", color="C0", label="median over seeds")
        if report.get("slope") is not None:
            low, high = report["slope_ci"]
            shown = f"slope {report['slope']:.2f}" + (f" [{low:.2f}, {high:.2f}]" if low is not None else "")
            top.plot([], [], " ", label=shown)
        integer_ticks(top.xaxis, report["widths"])
        top.set_xlabel("hidden width $N$")
        top.set_ylabel(label)
        top.legend(fontsize=7)
        top.grid(True, which="both", alpha=0.3)
        top.set_title((titles[k] + "\n" if titles else "") + f"{len(report['seeds'])} seeds, "
                      rf"$\eta = {report['settings']['learning_rate']:g}$", fontsize=9)
        t = np.asarray(report["t"])
        S = np.asarray(report["singular_values"])
        styles = ["-", "--", "-.", ":"]
        for i, entry in enumerate(report["per_width"]):
            mean_K = np.asarray(entry["mean_K"])
            for m in range(mean_K.shape[1]):
                bottom.plot(t, mean_K[:, m], styles[i % len(styles)], color=f"C{m % 10}", lw=1.3,
                            label=f"$N = {entry['width']}$" if m == 0 else None)
        for m, level in enumerate(S):
            bottom.axhline(level, color=f"C{m % 10}", lw=0.5, ls=":")
        bottom.set_xlabel(r"$t = \eta \cdot \mathrm{step}$")
        bottom.set_ylabel(r"$\langle \sum_p K_{p\alpha}(t) \rangle_{\mathrm{seeds}}$")
        bottom.legend(fontsize=7)
    return finish_figure(fig, path, dpi=110)
