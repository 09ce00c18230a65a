"""Theory against finite networks: comparison, slope fits, and reduced width sweeps that can fail."""

import json

import numpy as np
import pytest

from pathdyn.errors import ConfigError
from pathdyn.numerics.datasets import hierarchical_dataset
from pathdyn.numerics.trajectory import Trajectory
from pathdyn.validation.compare import PER_MODE, SUBSPACE, compare
from pathdyn.validation.sweep import WidthScalingReport, fit_slope, validate_width


def _traj(t, K, **extras):
    return Trajectory(t=np.asarray(t, float), K=np.asarray(K, float), loss=np.zeros(len(t)), extras=dict(extras))


# ----------------------------------------------------------------------------- compare
def test_compare_measures_the_largest_scaled_difference(rng):
    t = np.linspace(0, 1, 11)
    K = rng.standard_normal((11, 2, 3))
    other = K.copy()
    other[7, 1, 2] += 0.3
    result = compare(_traj(t, K), _traj(t, other), singular_values=[3.0, 2.0, 1.0])
    assert result.error == pytest.approx(0.1)
    assert result.time_of_max == pytest.approx(0.7)
    assert result.per_pathway.tolist() == pytest.approx([0.0, 0.1])
    assert result.quantity == PER_MODE
    assert compare(_traj(t, K), _traj(t, K), singular_values=[3.0, 2.0, 1.0]).error == 0.0


def test_compare_interpolates_a_finer_theory_grid():
    t = np.linspace(0, 2, 5)
    fine = np.linspace(0, 2, 401)
    K = np.stack([np.sin(t)] * 2, axis=-1)[:, None, :]
    K_fine = np.stack([np.sin(fine)] * 2, axis=-1)[:, None, :]
    assert compare(_traj(t, K), _traj(fine, K_fine), singular_values=[1, 1]).error < 1e-4


def test_compare_degenerate_blocks_use_subspace_invariants(rng):
    """A network that splits a degenerate block in a rotated basis still matches."""
    T, M, modes = 6, 2, 3
    theory = np.abs(rng.standard_normal((T, M, modes)))
    rotation = np.array([[np.cos(0.4), -np.sin(0.4)], [np.sin(0.4), np.cos(0.4)]])
    proj = np.zeros((T, M, modes, modes))
    for a in range(M):
        for k in range(T):
            block = rotation @ np.diag(theory[k, a, 1:]) @ rotation.T
            proj[k, a, 0, 0] = theory[k, a, 0]
            proj[k, a, 1:, 1:] = block
    diag = np.diagonal(proj, axis1=-2, axis2=-1)
    gd = _traj(np.arange(T), diag, UtOmegaV=proj)
    per_mode = compare(gd, _traj(np.arange(T), theory), singular_values=[2, 1, 1])
    invariant = compare(gd, _traj(np.arange(T), theory), singular_values=[2, 1, 1], blocks=[[0], [1, 2]])
    assert per_mode.error > 0.05  # the diagonal depends on the arbitrary basis
    assert invariant.error < 1e-12
    assert invariant.quantity == SUBSPACE


def test_compare_errors():
    t = np.arange(3.0)
    with pytest.raises(ConfigError, match="same architecture"):
        compare(_traj(t, np.zeros((3, 2, 2))), _traj(t, np.zeros((3, 1, 2))), singular_values=[1, 1])
    with pytest.raises(ConfigError, match="one network at a time"):
        compare(_traj(t, np.zeros((3, 4, 2, 2))), _traj(t, np.zeros((3, 2, 2))), singular_values=[1, 1])
    with pytest.raises(ConfigError, match="no common times"):
        compare(_traj(t, np.zeros((3, 1, 2))), _traj(t + 10, np.zeros((3, 1, 2))), singular_values=[1, 1])
    with pytest.raises(ConfigError, match="UtOmegaV"):
        compare(_traj(t, np.zeros((3, 1, 2))), _traj(t, np.zeros((3, 1, 2))), singular_values=[1, 1], blocks=[[0, 1]])
    with pytest.raises(ConfigError, match="singular_values"):
        compare(_traj(t, np.zeros((3, 1, 2))), _traj(t, np.zeros((3, 1, 2))))


# ----------------------------------------------------------------------------- slope fit
def test_fit_slope_recovers_a_power_law_and_its_interval_covers_it(rng):
    widths = np.array([32, 64, 128, 256, 512, 1024])
    errors = 0.4 * widths[:, None] ** -0.5 * np.exp(0.1 * rng.standard_normal((6, 3)))
    slope, (low, high), _ = fit_slope(widths, errors)
    assert low < -0.5 < high
    assert abs(slope + 0.5) < 0.1
    exact, ci, _ = fit_slope(widths, 2.0 * widths[:, None] ** -1.0 * np.ones((6, 2)))
    assert exact == pytest.approx(-1.0) and ci[0] == pytest.approx(-1.0) and ci[1] == pytest.approx(-1.0)
    assert np.isnan(fit_slope([64], [[0.1, 0.2]])[0])


# ----------------------------------------------------------------------------- sweeps
SMALL_WIDTHS = (32, 64, 128, 256, 512)


@pytest.fixture(scope="module")
def exact_d2_sweep():
    return validate_width(
        (2, 2), SMALL_WIDTHS, seeds=(0, 1), init="gaussian", init_scale=0.3, theory="qp",
        learning_rate=0.002, t_max=10.0, targets={"max_slope": -0.35, "max_error": 0.01},
    )


def test_depth_2_exact_mapping_converges_with_width(exact_d2_sweep):
    """Reduced version of the first target: slope in a band, small error, CI excludes 0."""
    report = exact_d2_sweep
    assert report.mapping == "exact"
    assert -1.6 <= report.slope <= -0.35, report.verdict
    assert report.slope_ci[1] < 0
    median = report.median_errors
    assert median[-1] < 0.003
    assert median[-1] < median[0] / 3
    assert report.passed is True and report.verdict.startswith("TARGET MET")
    # the O(eta) floor is measured and is below the largest-width error's order
    assert 0 < report.lr_floor < 0.003
    # per-network split of every mode between the pathways is predicted
    split_gd = report.final_K_gd[-1] / report.final_K_gd[-1].sum(axis=-2, keepdims=True)
    split_th = report.final_K_theory[-1] / report.final_K_theory[-1].sum(axis=-2, keepdims=True)
    assert np.max(np.abs(split_gd - split_th)) < 0.01


def test_naive_mapping_is_caught_as_not_converging(exact_d2_sweep):
    """The documented counter-example: same networks, naive initial state, no convergence."""
    naive = validate_width(
        (2, 2), SMALL_WIDTHS, seeds=(0, 1), init="gaussian", init_scale=0.3, theory="qp", mapping="naive",
        learning_rate=0.002, t_max=10.0, measure_lr_floor=False, targets={"max_slope": -0.35, "max_error": 0.01},
    )
    assert np.all(naive.errors > 0.04)
    assert naive.slope_ci[1] > -0.35 or naive.tail_slope > -0.3
    assert naive.median_errors[-1] > 20 * exact_d2_sweep.median_errors[-1]
    assert naive.passed is False and "TARGET NOT MET" in naive.verdict
    assert "counter-example" in naive.limit


def test_depth_3_orthogonal_two_channel_converges():
    report = validate_width(
        (3, 3), (32, 64, 128, 256), seeds=(0, 1), init="orthogonal", init_scale=0.5, theory="two-channel",
        learning_rate=0.005, t_max=12.0, measure_lr_floor=False,
    )
    assert report.mapping == "projection"
    assert report.slope <= -0.3 and report.slope_ci[1] < 0, report.verdict
    assert report.median_errors[-1] < 0.01


def test_report_json_schema(exact_d2_sweep, tmp_path):
    path = tmp_path / "report.json"
    exact_d2_sweep.save_json(path)
    data = json.loads(path.read_text())
    for key in ("config", "widths", "errors", "slope", "slope_ci", "verdict", "lr_floor", "time_mapping", "limit", "compared"):
        assert key in data
    assert data["widths"] == list(SMALL_WIDTHS)
    assert len(data["errors"]) == len(SMALL_WIDTHS) and all(len(row) == 2 for row in data["errors"])
    assert len(data["slope_ci"]) == 2
    assert data["config"]["theory"] == "qp" and data["config"]["depths"] == [2, 2]
    assert "t = eta * step" in data["time_mapping"]
    assert set(data["example"]) == {"width", "seed", "t", "K_gd", "K_theory"}


def test_mapping_notes_reach_the_report(monkeypatch):
    """A mapping that had to approximate (e.g. clipped growth-matched modes) is reported, not dropped."""
    from dataclasses import replace

    from pathdyn.validation.sweep import tasks as sweep

    original = sweep.map_initial_state

    def clipping(weights, *args, **kwargs):
        state = original(weights, *args, **kwargs)
        return replace(state, notes="pathway 1: 1 mode(s) with growth below the q/p minimum (clipped)")

    monkeypatch.setattr(sweep, "map_initial_state", clipping)
    report = validate_width((2,), (64,), seeds=(0, 1), learning_rate=0.01, t_max=1.0, measure_lr_floor=False)
    assert report.mapping_notes == tuple(f"width 64, seed {s}: pathway 1: 1 mode(s) with growth below the q/p "
                                         "minimum (clipped)" for s in (0, 1))
    assert report.to_json_dict()["mapping_notes"] == list(report.mapping_notes)
    monkeypatch.setattr(sweep, "map_initial_state", original)
    assert validate_width((2,), (64,), seeds=(0,), learning_rate=0.01, t_max=1.0,
                          measure_lr_floor=False).mapping_notes == ()


def test_degenerate_hierarchical_data_is_compared_by_subspace():
    report = validate_width(
        (2,), (64, 128), seeds=(0,), dataset=hierarchical_dataset(), learning_rate=0.01, t_max=3.0,
        measure_lr_floor=False,
    )
    assert report.compared == SUBSPACE
    assert report.errors.shape == (2, 1)


def test_validate_width_errors():
    with pytest.raises(ConfigError, match="widths"):
        validate_width((2,), (0, 64))
    with pytest.raises(ConfigError, match="seeds"):
        validate_width((2,), (64,), seeds=())
    with pytest.raises(ConfigError, match="theory"):
        validate_width((2,), (64,), theory="race")
    with pytest.raises(ConfigError, match="mapping"):
        validate_width((2,), (64,), theory="two-channel", mapping="exact")
    with pytest.raises(ConfigError, match="learning_rate"):
        validate_width((2,), (64,), learning_rate=-1)


def test_report_validates_its_shape():
    with pytest.raises(ConfigError, match="errors"):
        WidthScalingReport(
            depths=(2,), widths=(64, 128), seeds=(0,), init="gaussian", init_scale=0.3, theory="qp", mapping="exact",
            dataset="d", singular_values=(1.0,), learning_rate=0.01, t_max=1.0, steps=100, errors=np.zeros((3, 1)),
            slope=-0.5, slope_ci=(-1, 0), tail_slope=-0.5, confidence=0.95, lr_floor=None, time_mapping="",
            limit="", compared="", verdict="",
        )


@pytest.mark.slow
@pytest.mark.parametrize("index", [0, 1, 2, 3])
def test_default_suite_targets(index):
    """The full default suite of ``pathdyn validate`` (about 5 CPU minutes in all)."""
    from pathdyn.validation.sweep import DEFAULT_SUITE

    case = DEFAULT_SUITE[index]
    report = validate_width(case)
    if case.targets:
        assert report.passed, report.verdict
    else:  # the known limit: a floor well above the O(eta) floor that does not fall at large width
        assert report.lr_floor is not None, "the O(eta) floor was not measured"
        assert report.median_errors[-1] > 5 * report.lr_floor
        assert report.tail_slope > -0.3


def test_verdict_says_when_only_the_point_estimates_meet_the_target():
    from pathdyn.validation.sweep.verdicts import sweep_verdict as _verdict

    widths = [64, 128, 256]
    targets = {"max_slope": -0.3, "max_error": 0.02}
    errors = [[0.006, 0.0062], [0.005, 0.0051], [0.004, 0.0041]]  # 3 widths, 2 seeds: enough for a verdict
    wide, passed = _verdict(-0.5, (-1.8, 0.7), -0.5, errors, widths, 0.001, targets, expected_exact=True)
    assert passed and wide.startswith("TARGET MET by the point estimates") and "includes no decrease" in wide
    tight, passed = _verdict(-0.5, (-0.7, -0.3), -0.5, errors, widths, 0.001, targets, expected_exact=True)
    assert passed and tight.startswith("TARGET MET;")
    failed, passed = _verdict(-0.1, (-0.2, 0.0), -0.1, errors, widths, 0.001, targets, expected_exact=True)
    assert passed is False and failed.startswith("TARGET NOT MET (slope -0.10 > -0.3)")
