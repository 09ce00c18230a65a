"""Figure of a graph validation: the network's per-path mode strengths over the reduced model's.

matplotlib is imported inside the function (through :func:`pathdyn.numerics.plotting.pyplot`).
"""

from __future__ import annotations

import numpy as np

from pathdyn.numerics.plotting import pyplot, save_figure

__all__ = ["plot_graph_validation"]


def _path_label(path) -> str:
    return " → ".join([path[0][0]] + [v for _, v in path])


def plot_graph_validation(validation, graph, path, title: str | None = None) -> None:
    """One panel per path: ``K_{p alpha}(t)`` of the network (dots) and the reduced model (lines).

    A last panel shows the total ``sum_p K_{p alpha}`` against ``S_alpha / lambda_alpha``
    (dashed: the singular values). The file type follows the suffix.

    Parameters
    ----------
    validation : GraphValidation
    graph : GraphArchitecture
    path : str or Path
    title : str, optional
    """
    plt = pyplot()
    gd, theory = validation.simulation, validation.theory
    t, K_gd, K_th = np.asarray(gd.t), np.asarray(gd.K), np.asarray(theory.K)
    S = np.asarray(gd.extras["singular_values"])
    paths, modes = K_gd.shape[1], K_gd.shape[2]
    fig, axes = plt.subplots(1, paths + 1, figsize=(3.2 * (paths + 1), 3.4), squeeze=False, constrained_layout=True)
    colours = plt.get_cmap("viridis")(np.linspace(0, 0.9, modes))
    every = max(1, t.size // 40)
    panels = [(K_gd[:, p], K_th[:, p], _path_label(graph.paths[p])) for p in range(paths)]
    panels.append((K_gd.sum(axis=1), K_th.sum(axis=1), "total over paths"))
    for ax, (sim, th, label) in zip(axes[0], panels):
        for alpha in range(modes):
            ax.plot(t, th[:, alpha], color=colours[alpha], lw=1.3, label=f"theory, mode {alpha + 1}")
            ax.plot(t[::every], sim[::every, alpha], "o", ms=2.5, color=colours[alpha], label=f"GD, mode {alpha + 1}")
        ax.set_title(label, fontsize=9)
        ax.set_xlabel("t")
    for alpha in range(modes):
        axes[0, -1].axhline(S[alpha], color=colours[alpha], lw=0.6, ls="--")
    axes[0, 0].set_ylabel(r"$K_{p\alpha}(t)$")
    axes[0, 0].legend(fontsize=6, ncol=1)
    error = validation.comparison.error
    fig.suptitle(title or f"aligned network vs reduced model: max error {error:.3g} of S_1", fontsize=10)
    save_figure(fig, path, dpi=110)
