"""Figures: returned, backend untouched, labels in mathtext, integer ticks, no colliding labels, dynamics in range."""

import json
import re
from pathlib import Path
from types import SimpleNamespace

import matplotlib
import numpy as np
import pytest
from matplotlib.figure import Figure

from pathdyn.cli.main import main
from pathdyn.numerics.plotting import plot_mode_trajectories, plot_phase_planes
from pathdyn.numerics.trajectory import Trajectory
from pathdyn.validation.reports.plots import plot_concentration, plot_width_reports
from pathdyn.validation.reports.simulation_plots import plot_simulation

from tests.test_display_data import _concentration, _report, _simulation

ROOT = Path(__file__).resolve().parents[1] / "src" / "pathdyn"


def test_library_never_chooses_a_backend():
    offenders = []
    for path in ROOT.rglob("*.py"):
        relative = path.relative_to(ROOT)
        if relative.parts[0] == "cli":
            continue
        if re.search(r"matplotlib\.use\(|\.switch_backend\(", path.read_text()):
            offenders.append(str(relative))
    assert offenders == []


def test_plots_keep_the_callers_backend():
    original = matplotlib.get_backend()
    matplotlib.use("svg")
    try:
        figure = plot_mode_trajectories(_learning_curve())
        assert matplotlib.get_backend() == "svg"  # the old code switched to Agg here
        assert isinstance(figure, Figure)
    finally:
        matplotlib.use(original)


def _learning_curve(T=200):
    t = np.linspace(0, 10, T)
    K = np.stack([np.stack([2 * (1 - np.exp(-t)), 1 - np.exp(-t / 2)], axis=-1)] * 2, axis=1) / 2  # (T, 2, 2)
    return Trajectory(t=t, K=K, loss=np.exp(-t))


def _tick_labels_overlap(fig, axis):
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    boxes = [label.get_window_extent(renderer) for label in axis.get_ticklabels(which="both") if label.get_visible() and label.get_text()]
    return any(a.overlaps(b) for i, a in enumerate(boxes) for b in boxes[i + 1:])


def test_mode_trajectories_figure(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    figure = plot_mode_trajectories(_learning_curve(), singular_values=[2.0, 1.0], depths=(2, 5), title="q/p theory")
    assert list(tmp_path.iterdir()) == []  # no path: nothing written
    axes = figure.axes
    assert axes[0].get_ylabel() == r"$K_{1\alpha}(t)$" and axes[1].get_ylabel() == r"$K_{2\alpha}(t)$"
    assert axes[0].get_title() == "pathway 1 (depth 2)"
    legend_texts = [t.get_text() for t in figure.legends[0].get_texts()]
    assert legend_texts == [r"$\alpha=1$, $S_{1}=2$", r"$\alpha=2$, $S_{2}=1$"]
    assert figure._suptitle.get_text() == "q/p theory"
    assert axes[0].get_xlim() == (0.0, 10.0)
    figure = plot_mode_trajectories(_learning_curve(), tmp_path / "out.png")
    assert (tmp_path / "out.png").stat().st_size > 1000 and isinstance(figure, Figure)


def test_width_report_figure_labels_and_ticks():
    from dataclasses import replace

    widths = (64, 128, 256, 512, 1024, 2048, 4096)
    errors = np.linspace(0.05, 0.0003, 7)[:, None] * np.array([1.0, 1.1])
    report = replace(_report(), widths=widths, errors=errors, final_K_gd=None, final_K_theory=None)
    figure = plot_width_reports([report], titles=["depth 2"])  # panels are sized per case: one shows what four would
    top, bottom = figure.axes[0], figure.axes[1]
    assert [int(v) for v in top.get_xticks()] == list(widths)
    assert [t.get_text() for t in top.get_xticklabels()] == [str(w) for w in widths]
    assert r"K_{a\alpha}^{\mathrm{GD}} - K_{a\alpha}^{\mathrm{th}}" in top.get_ylabel() and "S_1" in top.get_ylabel()
    assert top.get_title().startswith("depth 2\n$D = (2, 2)$, gaussian $\\sigma = 0.3$, qp theory")
    assert r"$\eta = 0.005$" in top.get_title() and "2 seeds" in top.get_title()
    assert not _tick_labels_overlap(figure, top.xaxis)
    # matplotlib's minor labels (LogFormatterSciNotation(labelOnlyBase=False)) on this axis overlap: checked by hand
    assert not _tick_labels_overlap(figure, top.yaxis)
    assert len([t for t in top.get_yticklabels() if t.get_text()]) >= 3  # more than one decade label
    labels = [t.get_text() for t in bottom.get_legend().get_texts()]
    assert labels[:3] == ["GD, pathway 1", "GD, pathway 2", "qp theory"]
    assert labels[3] == r"$\alpha = 1$, $S = 2$"  # modes are named too, by colour
    assert bottom.get_ylabel() == r"$K_{a\alpha}(t)$"


def test_concentration_figure_integer_depth_ticks():
    result = _concentration()
    figure = plot_concentration(result)
    for ax in figure.axes:
        assert list(ax.get_xticks()) == [2, 3, 5]  # the measured depths only, no 2.5 or 4
        assert [t.get_text() for t in ax.get_xticklabels()] == ["2", "3", "5"]
    title = figure.axes[0].get_title()
    assert "4 seeds" in title and "width 64" in title and r"$\eta = 0.03$" in title
    # the JSON document draws the same figure
    again = plot_concentration(result.to_json_dict())
    assert [t.get_text() for t in again.axes[0].get_legend().get_texts()] == ["linear", "relu"]


def test_simulation_figure():
    figure = plot_simulation(_simulation(), title="depths 2,2, linear")
    assert figure.axes[0].get_ylabel() == r"$K_{1\alpha} = u_\alpha^\top \Omega_{1} v_\alpha$"
    assert figure._suptitle.get_text() == "depths 2,2, linear"
    assert figure.axes[2].get_ylabel() == r"$K_{1\alpha} + K_{2\alpha}$"  # the sum meets the dashed S_alpha


def test_phase_plane_figure_labels():
    K1, K2 = np.meshgrid(np.linspace(0, 1, 3), np.linspace(0, 1, 3))
    panel = SimpleNamespace(init_scale=0.5, depths=(3, 3), grid=(K1, K2, K1, K2), S=1.0, c=1.0,
                            K=np.zeros((5, 2, 2)), t=np.linspace(0, 10, 5))
    figure = plot_phase_planes([panel])
    ax = figure.axes[0]
    assert ax.get_xlabel() == r"$K_{1\alpha}$" and ax.get_ylabel() == r"$K_{2\alpha}$"
    assert ax.get_title() == "$D_1 = D_2 = 3$, scale 0.5"
    assert [t.get_text() for t in ax.get_legend().get_texts()] == [r"$K_{1\alpha}+K_{2\alpha}=S_\alpha$", "$t = 0$", "$t = 10$"]


def test_settling_time():
    t = np.linspace(0, 20, 2001)
    K = (1 - np.exp(-t))[:, None, None] * np.ones((1, 2, 3))
    trajectory = Trajectory(t=t, K=K, loss=np.zeros_like(t))
    # |K - K_final| = exp(-t) - exp(-20) falls below 1e-3 of K_final at t = ln(1000)
    assert trajectory.settling_time(1e-3) == pytest.approx(np.log(1000), abs=0.011)
    moving = Trajectory(t=t, K=t[:, None, None] * np.ones((1, 1, 1)), loss=np.zeros_like(t))
    assert moving.settling_time(1e-4) == 20.0  # still moving: the last time


def test_integrate_default_t_max_shows_the_dynamics(tmp_path):
    out, plot = tmp_path / "auto.json", tmp_path / "auto.png"
    assert main(["integrate", "--depths", "2,8", "--dataset", "hierarchical", "--init-scale", "0.1", "-o", str(out),
                 "--plot", str(plot)]) == 0
    data = json.loads(out.read_text())
    t, K = np.array(data["t"]), np.array(data["K"])
    assert "automatic" in data["provenance"]["t_max"]
    assert 1.0 < t[-1] < 40.0
    # the learning fills the window: K is still 10% of S_1 away from its end after the first 10% of it
    scale = np.max(np.abs(K[-1]))
    early = np.max(np.abs(K[: len(t) // 10] - K[-1]), axis=(1, 2))
    assert early[-1] > 0.1 * scale
    # and it has settled by the end, like the 40-unit run
    long = tmp_path / "long.json"
    assert main(["integrate", "--depths", "2,8", "--dataset", "hierarchical", "--init-scale", "0.1", "--t-max", "40",
                 "-o", str(long)]) == 0
    np.testing.assert_allclose(K[-1], np.array(json.loads(long.read_text())["K"])[-1], atol=2e-3 * scale)
    assert plot.stat().st_size > 1000
