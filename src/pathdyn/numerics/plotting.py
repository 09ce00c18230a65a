"""Figures of integrated trajectories.

matplotlib is imported on first use and its backend is left alone: in a notebook the
figures show inline, in a script ``plt.show()`` opens them. Only the command line
chooses a non-interactive backend (:func:`pathdyn.cli._common.use_file_backend`).
Every ``plot_*`` function returns its :class:`matplotlib.figure.Figure`; given a path it
also writes the image atomically and releases the figure from pyplot.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import ArrayLike

from pathdyn.io.jsonio import atomic_write

if TYPE_CHECKING:  # types only: matplotlib is imported on first use
    from matplotlib.axis import Axis
    from matplotlib.figure import Figure
    from matplotlib.ticker import FuncFormatter

    from pathdyn.numerics.phase_plane import PhasePanel
    from pathdyn.numerics.trajectory import Trajectory

__all__ = ["plot_mode_trajectories", "plot_phase_planes", "finish_figure"]


def pyplot() -> ModuleType:
    """``matplotlib.pyplot``, imported on first use (whatever backend the user chose).

    Returns
    -------
    module
        ``matplotlib.pyplot``.
    """
    import matplotlib.pyplot as plt

    return plt


def save_figure(fig: Figure, path: str | Path, dpi: int = 120) -> None:
    """Save ``fig`` atomically (format from the suffix, PNG by default) and release it from pyplot.

    Parameters
    ----------
    fig : matplotlib.figure.Figure
        The figure.
    path : str or Path
        Destination; its suffix chooses the format.
    dpi : int
        Resolution of raster formats.
    """
    path = Path(path)
    fmt = path.suffix.lstrip(".") or "png"
    try:
        atomic_write(path, lambda tmp: fig.savefig(tmp, dpi=dpi, format=fmt, bbox_inches="tight"))
    finally:
        # closing only unregisters the figure from pyplot: the returned object can still be drawn or saved
        pyplot().close(fig)


def finish_figure(fig: Figure, path: str | Path | None = None, dpi: int = 120) -> Figure:
    """Save ``fig`` when ``path`` is given; return it either way.

    Parameters
    ----------
    fig : matplotlib.figure.Figure
        The figure.
    path : str or Path, optional
        Where to save it.
    dpi : int
        Resolution of raster formats.

    Returns
    -------
    matplotlib.figure.Figure
        ``fig``.
    """
    if path is not None:
        save_figure(fig, path, dpi=dpi)
    return fig


def integer_ticks(axis: Axis, values: Iterable[int]) -> None:
    """Put ticks exactly at the integers ``values`` (depths, widths), labelled plainly.

    Parameters
    ----------
    axis : matplotlib.axis.Axis
        The x or y axis.
    values : iterable of int
        Where the ticks go.
    """
    from matplotlib.ticker import FixedLocator, NullFormatter, NullLocator

    values = [int(v) for v in values]
    axis.set_major_locator(FixedLocator(values))
    axis.set_major_formatter(_plain_integer_formatter())
    axis.set_minor_locator(NullLocator())
    axis.set_minor_formatter(NullFormatter())


def _plain_integer_formatter() -> FuncFormatter:
    from matplotlib.ticker import FuncFormatter

    return FuncFormatter(lambda value, _: f"{int(round(value))}")


def mode_colours(plt: ModuleType, modes: int) -> np.ndarray:
    """One colour per mode, dark to light (viridis, stopping before pale yellow).

    Parameters
    ----------
    plt : module
        ``matplotlib.pyplot``.
    modes : int
        Number of modes.

    Returns
    -------
    ndarray, shape ``(max(modes, 1), 4)``
        RGBA colours.
    """
    return plt.get_cmap("viridis")(np.linspace(0, 0.85, max(modes, 1)))


def _first_member(K: ArrayLike, loss: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """``K`` of shape (T, M, modes) and ``loss`` (T,) of the first ensemble member."""
    K = np.asarray(K)
    loss = np.asarray(loss)
    T = K.shape[0]
    if K.ndim != 3:
        K = K.reshape(T, -1, *K.shape[-2:])[:, 0]
    return K, loss.reshape(T, -1)[:, 0]


def plot_mode_trajectories(trajectory: Trajectory, path: str | Path | None = None, singular_values: ArrayLike | None = None,
                           depths: Sequence[int] | None = None, title: str | None = None) -> Figure:
    """``K_{a alpha}(t)`` of one run: one panel per pathway, one line per mode, plus the loss.

    Parameters
    ----------
    trajectory : Trajectory
        ``K`` of shape (T, M, modes); for an ensemble the first member is drawn.
    path : str or Path, optional
        Image file (written atomically; type from the suffix).
    singular_values : array_like, optional
        ``S_alpha``, named in the legend.
    depths : sequence of int, optional
        Named in the panel titles.
    title : str, optional
        Figure title (say what was run).

    Returns
    -------
    matplotlib.figure.Figure
    """
    plt = pyplot()
    K, loss = _first_member(trajectory.K, trajectory.loss)
    t = np.asarray(trajectory.t)
    T, M, modes = K.shape
    fig, axes = plt.subplots(1, M + 1, figsize=(3.3 * (M + 1), 3.1), squeeze=False, constrained_layout=True)
    colours = mode_colours(plt, modes)
    S = None if singular_values is None else np.asarray(singular_values, dtype=float)
    for a in range(M):
        ax = axes[0, a]
        for alpha in range(modes):
            label = rf"$\alpha={alpha + 1}$" + (rf", $S_{{{alpha + 1}}}={S[alpha]:.3g}$" if S is not None else "")
            ax.plot(t, K[:, a, alpha], color=colours[alpha], lw=1.4, label=label if a == 0 else None)
        ax.set_title(f"pathway {a + 1}" + (f" (depth {depths[a]})" if depths is not None else ""), fontsize=10)
        ax.set_xlabel(r"$t$ ($\tau = 1$)")
        ax.set_ylabel(rf"$K_{{{a + 1}\alpha}}(t)$")
        ax.set_xlim(t[0], t[-1])
    # one legend beside the panels: inside, eight modes would hide the curves
    fig.legend(loc="outside right upper", fontsize=7, title="mode", title_fontsize=7)
    ax = axes[0, M]
    ax.semilogy(t, np.maximum(loss, 1e-300), color="k", lw=1.2)
    ax.set_title("loss", fontsize=10)
    ax.set_xlabel(r"$t$ ($\tau = 1$)")
    ax.set_ylabel(r"$\mathcal{L}(t)$")
    ax.set_xlim(t[0], t[-1])
    if title:
        fig.suptitle(title, fontsize=10)
    return finish_figure(fig, path)


def plot_phase_planes(panels: Sequence[PhasePanel], path: str | Path | None = None, max_trajectories: int = 100) -> Figure:
    """Grid of phase planes: rows = initial scales, columns = depths.

    Each panel shows the normalised vector field of its own depth, the fixed-point line
    ``K_1 + K_2 = S``, and the trajectories (start dot, end cross).

    Parameters
    ----------
    panels : sequence of PhasePanel
    path : str or Path, optional
        Image file (written atomically).
    max_trajectories : int
        At most this many trajectories drawn per panel.

    Returns
    -------
    matplotlib.figure.Figure
    """
    plt = pyplot()
    scales = sorted({p.init_scale for p in panels}, reverse=True)
    depth_keys = []
    for p in panels:
        if p.depths not in depth_keys:
            depth_keys.append(p.depths)
    fig, axes = plt.subplots(len(scales), len(depth_keys), figsize=(3.1 * len(depth_keys), 3.2 * len(scales) + 0.5),
                             squeeze=False, constrained_layout=True)
    for panel in panels:
        ax = axes[scales.index(panel.init_scale), depth_keys.index(panel.depths)]
        K1, K2, U, V = panel.grid
        norm = np.hypot(U, V)
        norm[norm == 0] = 1.0
        ax.quiver(K1, K2, U / norm, V / norm, color="0.7", angles="xy", scale=30, width=0.004)
        S = panel.S
        ax.plot([-0.15 * S, 1.15 * S], [1.15 * S, -0.15 * S], color="k", lw=1.2, ls="--",
                label=r"$K_{1\alpha}+K_{2\alpha}=S_\alpha$")
        for m in range(min(panel.K.shape[1], max_trajectories)):
            ax.plot(panel.K[:, m, 0], panel.K[:, m, 1], color="tab:blue", lw=0.6, alpha=0.6)
        ax.plot(panel.K[0, :, 0], panel.K[0, :, 1], ".", color="tab:green", ms=2, label="$t = 0$")
        ax.plot(panel.K[-1, :, 0], panel.K[-1, :, 1], "x", color="tab:red", ms=3, label=f"$t = {panel.t[-1]:g}$")
        ax.set_xlim(-0.15 * S, 1.15 * S)
        ax.set_ylim(-0.15 * S, 1.15 * S)
        ax.set_aspect("equal")
        ax.set_title(rf"$D_1 = D_2 = {panel.depths[0]}$, scale {panel.init_scale:g}" if panel.depths[0] == panel.depths[1]
                     else rf"$D = ({panel.depths[0]}, {panel.depths[1]})$, scale {panel.init_scale:g}", fontsize=9)
        ax.set_xlabel(r"$K_{1\alpha}$")
        ax.set_ylabel(r"$K_{2\alpha}$")
    axes[0, 0].legend(fontsize=7, loc="upper right", markerscale=2)
    c_values = sorted({p.c for p in panels})
    fig.suptitle(
        rf"Two pathways, one mode ($S_\alpha = {panels[0].S:g}$): flow of each panel's depth on "
        rf"$q^2 - p^2 = {', '.join(f'{c:g}' for c in c_values)}$; $p(0) \sim$ scale $\cdot\, \mathcal{{N}}(0, 1)$",
        fontsize=9,
    )
    return finish_figure(fig, path)


def supported_plot_suffixes() -> tuple:
    """File suffixes (without the dot) matplotlib can save figures as, e.g. ``("eps", "pdf", "png", ...)``.

    Returns
    -------
    tuple of str
        Sorted suffixes.
    """
    from matplotlib.backend_bases import FigureCanvasBase

    return tuple(sorted(FigureCanvasBase.get_supported_filetypes()))
