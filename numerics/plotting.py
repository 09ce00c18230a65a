"""Figures of integrated trajectories. matplotlib is imported lazily (Agg backend)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from pathdyn.numerics.trajectory import atomic_write

__all__ = ["plot_mode_trajectories", "plot_phase_planes"]


def pyplot():
    """matplotlib.pyplot with the non-interactive Agg backend (imported on first use)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save_figure(fig, path, dpi: int = 120) -> None:
    """Save ``fig`` atomically (format from the suffix, PNG by default) and close it."""
    path = Path(path)
    fmt = path.suffix.lstrip(".") or "png"
    try:
        atomic_write(path, lambda tmp: fig.savefig(tmp, dpi=dpi, format=fmt, bbox_inches="tight"))
    finally:
        pyplot().close(fig)


def plot_mode_trajectories(trajectory, path, singular_values=None, depths=None) -> None:
    """``K_{a alpha}(t)`` of one run: one panel per pathway, one line per mode, plus the loss.

    Parameters
    ----------
    trajectory : Trajectory
        Without batch axes (``K`` of shape (T, M, modes)).
    path : str or Path
        Image file (written atomically).
    """
    plt = pyplot()
    K = np.asarray(trajectory.K)
    if K.ndim != 3:
        K = K.reshape(K.shape[0], -1, *K.shape[-2:])[:, 0]
    T, M, modes = K.shape
    fig, axes = plt.subplots(1, M + 1, figsize=(3.4 * (M + 1), 3.0), squeeze=False)
    colors = plt.cm.viridis(np.linspace(0, 0.9, modes))
    for a in range(M):
        ax = axes[0, a]
        for alpha in range(modes):
            label = f"mode {alpha + 1}" + (f" (S={singular_values[alpha]:.3g})" if singular_values is not None else "")
            ax.plot(trajectory.t, K[:, a, alpha], color=colors[alpha], label=label)
        ax.set_title(f"pathway {a + 1}" + (f" (depth {depths[a]})" if depths is not None else ""))
        ax.set_xlabel("t")
        ax.set_ylabel(r"$K_{a\alpha}(t)$")
    axes[0, 0].legend(fontsize=7)
    loss = np.asarray(trajectory.loss).reshape(T, -1)[:, 0]
    axes[0, M].semilogy(trajectory.t, np.maximum(loss, 1e-300))
    axes[0, M].set_title("loss")
    axes[0, M].set_xlabel("t")
    fig.tight_layout()
    save_figure(fig, path)


def plot_phase_planes(panels, path, max_trajectories: int = 100) -> None:
    """Grid of phase planes: rows = initial scales, columns = depths.

    Each panel shows the normalised vector field of its own depth, the fixed-point line
    ``K_1 + K_2 = S``, and the trajectories (start dot, end cross).
    """
    plt = pyplot()
    scales = sorted({p.init_scale for p in panels}, reverse=True)
    depth_keys = []
    for p in panels:
        if p.depths not in depth_keys:
            depth_keys.append(p.depths)
    fig, axes = plt.subplots(len(scales), len(depth_keys), figsize=(3.3 * len(depth_keys), 3.4 * len(scales)),
                             squeeze=False)
    for panel in panels:
        ax = axes[scales.index(panel.init_scale), depth_keys.index(panel.depths)]
        K1, K2, U, V = panel.grid
        norm = np.hypot(U, V)
        norm[norm == 0] = 1.0
        ax.quiver(K1, K2, U / norm, V / norm, color="0.7", angles="xy", scale=30, width=0.004)
        S = panel.S
        ax.plot([-0.15 * S, 1.15 * S], [1.15 * S, -0.15 * S], color="k", lw=1.2, ls="--", label=r"$K_1+K_2=S$")
        for m in range(min(panel.K.shape[1], max_trajectories)):
            ax.plot(panel.K[:, m, 0], panel.K[:, m, 1], color="tab:blue", lw=0.6, alpha=0.6)
        ax.plot(panel.K[0, :, 0], panel.K[0, :, 1], ".", color="tab:green", ms=2)
        ax.plot(panel.K[-1, :, 0], panel.K[-1, :, 1], "x", color="tab:red", ms=3)
        ax.set_xlim(-0.15 * S, 1.15 * S)
        ax.set_ylim(-0.15 * S, 1.15 * S)
        ax.set_aspect("equal")
        ax.set_title(f"D = {panel.depths[0]}, {panel.depths[1]}; scale {panel.init_scale:g}", fontsize=9)
        ax.set_xlabel(r"$K_1$")
        ax.set_ylabel(r"$K_2$")
    axes[0, 0].legend(fontsize=7, loc="upper right")
    c_values = sorted({p.c for p in panels})
    fig.suptitle(
        f"Two-pathway phase planes of one mode (S = {panels[0].S:g}); field for each panel's depth on "
        f"q^2 - p^2 = c = {', '.join(f'{c:g}' for c in c_values)} (the c of the drawn initial states); "
        f"p(0) ~ scale N(0,1); start dots, end crosses",
        fontsize=9,
    )
    fig.tight_layout()
    save_figure(fig, path)


def supported_plot_suffixes() -> tuple:
    """File suffixes (without the dot) matplotlib can save figures as, e.g. ``("eps", "pdf", "png", ...)``."""
    from matplotlib.backend_bases import FigureCanvasBase

    return tuple(sorted(FigureCanvasBase.get_supported_filetypes()))
