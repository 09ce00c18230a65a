"""Figures of a finite-network simulation (the paper's figures 4-8).

matplotlib is imported inside the function and its backend left alone (see
:mod:`pathdyn.numerics.plotting`), so importing this module costs nothing.
"""

from __future__ import annotations


import numpy as np

from pathdyn.numerics.plotting import finish_figure, mode_colours, pyplot

__all__ = ["plot_simulation"]


def plot_simulation(trajectory, path=None, title: str | None = None):
    """Draw ``K_{a alpha}(t)`` per pathway and the final ``U^T Omega_a V`` per pathway.

    Top row: one panel per pathway, one line per mode, the singular values ``S_alpha``
    dashed. Bottom row: the final ``U^T Omega_a V`` of each pathway as a heatmap (a
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
    fig, axes = plt.subplots(2, M, figsize=(3.6 * M + 0.8, 6.4), squeeze=False, constrained_layout=True)
    colours = mode_colours(plt, modes)
    top = max(float(np.max(np.abs(K))), float(S.max()) if S.size else 0.0) * 1.08 or 1.0
    for a in range(M):
        ax = axes[0, a]
        for alpha in range(modes):
            ax.plot(t, K[:, a, alpha], color=colours[alpha], lw=1.4, label=rf"$\alpha = {alpha + 1}$")
            if alpha < S.size:
                ax.axhline(S[alpha], color=colours[alpha], lw=0.6, ls="--")
        ax.set_ylim(min(0.0, float(K[:, a].min()) * 1.08), top)
        ax.set_xlim(t[0], t[-1])
        ax.set_xlabel(r"$t = \eta \cdot \mathrm{step}$")
        ax.set_title(f"pathway {a + 1}", fontsize=10)
        ax.set_ylabel(rf"$K_{{{a + 1}\alpha}} = u_\alpha^\top \Omega_{{{a + 1}}} v_\alpha$")
    axes[0, 0].legend(fontsize=7, ncol=2, title=r"mode (dashed: $S_\alpha$)", title_fontsize=7)
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
    fig.colorbar(image, ax=list(axes[1]), shrink=0.8)
    if title:
        fig.suptitle(title, fontsize=10)
    return finish_figure(fig, path, dpi=110)
