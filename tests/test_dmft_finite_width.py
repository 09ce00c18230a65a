"""The finite-width gap study: conditioning the DMFT on each network's own initial overlaps."""

import json

import numpy as np
import pytest

from pathdyn.errors import ConfigError
from pathdyn.numerics.datasets import Dataset, random_dataset
from pathdyn.numerics.dmft import DMFTInitialOverlaps, solve_dmft
from pathdyn.validation.sweep import dmft_finite_width
from pathdyn.validation.sweep.dmft import network_overlaps
from pathdyn.cli.main import main as pathdyn_main
from pathdyn.validation.sweep.dmft_finite_width import finite_width_gap


def main(argv):
    """``pathdyn dmft-finite-width ARGV`` (the study's command line)."""
    return pathdyn_main(["dmft-finite-width", *argv])

# One mode, two depth-2 pathways: a network's a, b of each pathway stay in the plane they
# span, so the DMFT conditioned on |a|^2, |b|^2, a.b is that network's exact recursion.
ONE_MODE = random_dataset((2.0,))
SMALL = dict(init_scale=0.5, learning_rate=0.05, t_max=1.5, dataset=ONE_MODE)


def test_depth2_conditioning_is_exact_per_network_and_the_ensemble_is_not():
    report = finite_width_gap((2, 2), (16, 64), (0, 1, 2), **SMALL)
    assert report.per_network_conditioned.shape == report.per_network_ensemble.shape == (2, 3)
    assert np.max(report.per_network_conditioned) < 1e-10
    assert np.max(report.conditioned_gap) < 1e-10 and np.max(report.total_conditioned_gap) < 1e-10
    # the ensemble DMFT misses each finite network (its own start) by far more than rounding
    assert np.min(report.per_network_ensemble) > 1e-3
    assert np.min(report.ensemble_gap) > 1e-4
    assert np.allclose(report.total_explained, 1.0)
    data = json.loads(json.dumps(report.to_json_dict()))
    assert data["widths"] == [16, 64] and data["seeds"] == [0, 1, 2] and data["steps"] == 30
    assert set(data["slopes"]) == {"ensemble_gap", "conditioned_gap", "total_ensemble_gap", "total_conditioned_gap"}
    assert data["total_worst"][0]["mode"] == 0


def test_a_wrong_conditioning_fails_the_exactness_check(monkeypatch):
    """Deliberately wrong variant: drop the network's own a.b; the depth-2 check above must fail on it."""

    def without_overlap(weights, dataset, *, init_scale, learning_rate, steps, gains=True):
        U, S, Vt = dataset.modes()
        own = network_overlaps(weights, U, Vt.T)
        wrong = DMFTInitialOverlaps(own.input_norm2, own.output_norm2, np.zeros_like(own.overlap))
        depths = tuple(len(layers) for layers in weights)
        return solve_dmft(depths, S, learning_rate=learning_rate, steps=steps, init_scale=init_scale, initial_overlaps=wrong)

    monkeypatch.setattr(dmft_finite_width, "predict_network", without_overlap)
    report = finite_width_gap((2, 2), (16,), (0, 1), **SMALL)
    assert np.max(report.per_network_conditioned) > 1e-4


@pytest.mark.parametrize("kwargs, word", [
    (dict(widths=(0,)), "widths"),
    (dict(seeds=(3, 3)), "seeds"),
    (dict(seeds="ab"), "seeds"),
    (dict(init_scale=-0.5), "init_scale"),
    (dict(t_max=float("nan")), "t_max"),
    (dict(dataset="default"), "dataset"),
    (dict(dataset=Dataset(X=np.diag([1.0, 2.0]), Y=np.eye(2))), "whitened"),
])
def test_bad_input_names_the_argument(kwargs, word):
    arguments = dict(depths=(3, 3), widths=(8,), seeds=(0, 1), **SMALL)
    arguments.update(kwargs)
    with pytest.raises(ConfigError, match=word):
        finite_width_gap(**arguments)


def test_command_line_writes_json_or_fails_with_status_2(tmp_path, capsys):
    out = tmp_path / "gap.json"
    assert main(["--depths", "2,3", "--widths", "8", "--seeds", "0-1", "--t-max", "0.2", "-o", str(out)]) == 0
    assert json.loads(out.read_text())["depths"] == [2, 3]
    bad = tmp_path / "bad.json"
    assert main(["--depths", "2,3", "--widths", "8", "--seeds", "0", "-o", str(bad)]) == 2
    assert not bad.exists()
    assert capsys.readouterr().err.count("\n") == 1


def synthetic_report(bias: float, seeds: int = 400, seed: int = 0) -> dict:
    """A saved report whose networks are the ensemble curve plus ``bias`` plus unit-variance seed noise."""
    rng = np.random.default_rng(seed)
    t = np.linspace(0.0, 1.0, 1000)
    a = np.outer(t, [2.0, 1.0])
    samples = a + bias + rng.normal(size=(seeds, *a.shape))
    c = samples.mean(axis=0)
    curves = {"network": c.tolist(), "conditioned": a.tolist(), "network_std": samples.std(axis=0, ddof=1).tolist(),
              "paired_std": samples.std(axis=0, ddof=1).tolist()}
    return {"seeds": list(range(seeds)), "singular_values": [2.0, 1.0], "widths": [64], "t": t.tolist(),
            "total_ensemble_curve": a.tolist(), "total_curves": [curves]}


def test_rms_gaps_remove_the_sampling_noise_and_keep_a_bias():
    from pathdyn.validation.sweep.dmft_finite_width import rms_gaps

    pure_noise = rms_gaps(synthetic_report(0.0))
    # raw rms of c - a is the noise, 1 / sqrt(400) / S_1 = 0.025; the corrected gap is far below it
    assert pure_noise["ensemble_noise"][0] == pytest.approx(0.025, rel=0.05)
    assert pure_noise["ensemble"][0] < 0.01
    biased = rms_gaps(synthetic_report(0.1))
    assert biased["ensemble"][0] == pytest.approx(0.1 / 2.0, rel=0.1)
    assert biased["conditioned"][0] == pytest.approx(0.1 / 2.0, rel=0.1)  # b = a here: nothing explained


def test_summary_of_a_saved_report(tmp_path, capsys):
    out = tmp_path / "gap.json"
    assert main(["--depths", "2,2", "--widths", "8,16", "--seeds", "0-2", "--t-max", "0.2", "-o", str(out)]) == 0
    assert main(["--summarize", str(out)]) == 0
    text = capsys.readouterr().out
    assert "pathway sum rms c - a, noise removed" in text and "| width | 8 | 16 |" in text
    assert main(["--summarize", str(tmp_path / "missing.json")]) == 2


def test_half_times_read_the_escape_shift():
    from pathdyn.validation.sweep.dmft_finite_width import half_times

    t = np.linspace(0.0, 6.0, 601)
    S = np.array([2.0, 1.0])
    rise = lambda centre: S / (1.0 + np.exp(-4.0 * (t[:, None] - centre)))  # noqa: E731
    curves = {"network": rise(np.array([2.5, 4.0])), "conditioned": rise(np.array([3.0, 4.5])),
              "network_std": np.full((t.size, 2), 0.1)}
    data = {"t": t, "singular_values": S, "seeds": list(range(4)), "total_ensemble_curve": rise(np.array([3.0, 9.0])),
            "total_curves": [curves]}
    halves = half_times(data)
    assert halves["ensemble"][0] == pytest.approx(3.0, abs=1e-3) and np.isnan(halves["ensemble"][1])  # not reached by t = 6
    assert halves["network"][0] == pytest.approx([2.5, 4.0], abs=1e-3)
    assert halves["conditioned"][0] == pytest.approx([3.0, 4.5], abs=1e-3)
    # noise = std / sqrt(n) / slope, slope S / 4 * 4 = S at the half point
    assert halves["network_noise"][0] == pytest.approx([0.05 / 2.0, 0.05 / 1.0], rel=1e-2)


def test_mode_alone_study_and_the_dmft_decoupling_it_relies_on():
    from pathdyn.validation.sweep.dmft_finite_width import escape_with_and_without_other_modes

    result = escape_with_and_without_other_modes((3, 3), (8,), (0, 1), mode=2, t_max=2.0)
    # the DMFT's modes decouple: mode 2's half time is the same with the other modes and alone
    assert result["dmft_half_time"] == pytest.approx(result["dmft_half_time_alone"], abs=1e-9)
    assert np.isfinite(result["dmft_half_time"])
    assert len(result["with_all_modes"][0]) == len(result["alone"][0]) == 2
    alone_only = escape_with_and_without_other_modes((3, 3), (8,), (0, 1), mode=2, t_max=2.0, with_all_modes=False)
    assert alone_only["with_all_modes"] is None and alone_only["alone"] == result["alone"]
    with pytest.raises(ConfigError, match="mode"):
        escape_with_and_without_other_modes((3, 3), (8,), (0, 1), mode=5)
