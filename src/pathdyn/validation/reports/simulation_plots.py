"""Figures of a finite-network simulation (the paper's figures 4-8).

matplotlib is imported inside the function and its backend left alone (see
:mod:`pathdyn.numerics.plotting`), so importing this module costs nothing.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from pathdyn.numerics.plotting import finish_figure, mode_colours, pyplot

if TYPE_CHECKING:  # types only: matplotlib is imported on first use
    from matplotlib.figure import Figure

    from pathdyn.numerics.trajectory import Trajectory

__all__ = ["plot_simulation"]


def plot_simulation(trajectory: Trajectory, path: str | Path | None = None, title: str | None = None) -> Figure:
    """Draw ``K_{a alpha}(t)`` per pathway and the final ``U^T Omega_a V`` per pathway.

    Top row: one panel per pathway, one line per mode, then their sum over pathways
    with the singular values ``S_alpha`` dashed. Bottom row: the final ``U^T Omega_a V`` of each pathway as a heatmap (a
    shared, symmetric colour scale). The file is written atomically; its type follows the
    suffix (``.png``, ``.pdf``, ``.svg``).

    Parameters
    ----------
    trajectory : Trajectory
        From :func:`pathdyn.validation.network.simulate_gd` (single run, no batch axis;
        for a batch the first member is drawn).
    path : str or Path, optional
        Image file (written atomically).
    title : str, optional
        What was run (depths, activation, width, initialisation, learning rate).

    Returns
    -------
    matplotlib.figure.Figure
    """
    plt = pyplot()
    K = np.asarray(trajectory.K)
    proj = np.asarray(trajectory.extras["UtOmegaV"])
    while K.ndim > 3:  # batch axis: draw the first member
        K, proj = K[:, 0], proj[:, 0]
    S = np.asarray(trajectory.extras.get("singular_values", []))
    t = np.asarray(trajectory.t)
    M, modes = K.shape[1], K.shape[2]
    # top row: each pathway, then their sum against the targets S_alpha (a pathway alone need not reach S_alpha)
    fig, axes = plt.subplots(2, M + 1, figsize=(3.4 * (M + 1) + 0.6, 6.4), squeeze=False, constrained_layout=True)
    colours = mode_colours(plt, modes)
    total = K.sum(axis=1)
    top = max(float(np.max(np.abs(K))), float(np.max(np.abs(total))), float(S.max()) if S.size else 0.0) * 1.08 or 1.0
    for a in range(M + 1):
        ax = axes[0, a]
        values = K[:, a] if a < M else total
        for alpha in range(modes):
            ax.plot(t, values[:, alpha], color=colours[alpha], lw=1.4, label=rf"$\alpha = {alpha + 1}$")
            if a == M and alpha < S.size:
                ax.axhline(S[alpha], color=colours[alpha], lw=0.6, ls="--")
        ax.set_ylim(min(0.0, float(values.min()) * 1.08), top)
        ax.set_xlim(t[0], t[-1])
        ax.set_xlabel(r"$t = \eta \cdot \mathrm{step}$")
        if a < M:
            ax.set_title(f"pathway {a + 1}", fontsize=10)
            ax.set_ylabel(rf"$K_{{{a + 1}\alpha}} = u_\alpha^\top \Omega_{{{a + 1}}} v_\alpha$")
        else:
            ax.set_title(r"all pathways (dashed: $S_\alpha$)", fontsize=10)
            ax.set_ylabel("$" + " + ".join(rf"K_{{{b + 1}\alpha}}" for b in range(M)) + "$" if M <= 3
                          else r"$\Sigma_a K_{a\alpha}$")
    axes[0, M].legend(fontsize=7, ncol=2, title="mode", title_fontsize=7, loc="lower right")
    scale = float(np.max(np.abs(proj[-1]))) or 1.0
    for a in range(M):
        ax = axes[1, a]
        image = ax.imshow(proj[-1, a], cmap="RdBu_r", vmin=-scale, vmax=scale)
        ax.set_title(f"pathway {a + 1}: final $U^\\top \\Omega_{{{a + 1}}} V$", fontsize=10)
        ticks = np.arange(0, modes, max(1, modes // 8))
        ax.set_xticks(ticks, [str(i + 1) for i in ticks])
        ax.set_yticks(ticks, [str(i + 1) for i in ticks])
        ax.set_xlabel(r"mode $\beta$ (v)")
        ax.set_ylabel(r"mode $\alpha$ (u)")
    axes[1, M].set_axis_off()
    fig.colorbar(image, ax=list(axes[1, :M]), shrink=0.8)
    if title:
        fig.suptitle(title, fontsize=10)
    return finish_figure(fig, path, dpi=110)
