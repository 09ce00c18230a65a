"""Concentration with depth, and the validate / concentration command lines."""

import json

import numpy as np
import pytest

from pathdyn.cli.main import main
from pathdyn.errors import ConfigError
from pathdyn.validation.sweep.concentration import dominant_fraction, measure_concentration


def test_dominant_fraction():
    K = np.array([[1.0, 0.5, 0.0], [1.0, 1.5, 2.0]])  # (M=2, modes=3)
    np.testing.assert_allclose(dominant_fraction(K), [0.5, 0.75, 1.0])
    assert np.isnan(dominant_fraction(np.zeros((2, 1))))[0]


@pytest.fixture(scope="module")
def small_concentration():
    return measure_concentration(
        depths=(2, 5), activations=("linear",), seeds=tuple(range(6)), width=32, t_max=40.0,
    )


def test_concentration_grows_with_depth_and_race_names_winners(small_concentration):
    """A reduced version of the headline measurement that can fail.

    Six seeds at width 32: the mean dominant fraction is larger at depth 5 than at
    depth 2 (the paper's claim), every network finished learning, and the race oracle,
    run from each network's own initial state, names the winning pathway of most modes.
    """
    result = small_concentration
    means, cis = result.summary("linear")
    assert means[1] > means[0] + 0.05, (means, cis)
    assert np.all(result.final_loss_ratio["linear"] < 0.01)
    assert np.nanmean(result.race_agreement) > 0.8
    # at depth 2 the q/p race with the exact mapping predicts the split closely
    predicted = np.nanmean(result.race_fraction[0])
    assert abs(predicted - np.nanmean(result.fractions["linear"][0])) < 0.02


def test_concentration_json_schema(small_concentration, tmp_path):
    path = tmp_path / "conc.json"
    small_concentration.save_json(path)
    data = json.loads(path.read_text())
    assert data["depths"] == [2, 5]
    assert set(data["dominant_fraction"]) == {"linear"} and len(data["dominant_fraction"]["linear"]) == 2
    assert len(data["ci"]["linear"]) == 2 and all(len(c) == 2 for c in data["ci"]["linear"])
    for low, high in data["ci"]["linear"]:
        assert 0.5 <= low <= high <= 1.0
    assert set(data["race"]) >= {"winner_agreement", "predicted_fraction_mean"}
    assert data["config"]["width"] == 32


def test_concentration_table_prints_one_row_per_activation_and_the_race(small_concentration):
    lines = small_concentration.table().splitlines()
    assert lines[0].split() == ["depth", "2", "5"]
    means, cis = small_concentration.summary("linear")
    assert lines[1].split()[0] == "linear" and lines[1].count("[") == 2
    assert lines[1].split()[1] == f"{means[0]:.3f}" and f"[{cis[0][0]:.3f},{cis[0][1]:.3f}]" in lines[1]
    assert [line.split()[0] for line in lines[2:]] == ["race", "race"]


def test_concentration_errors():
    with pytest.raises(ConfigError, match="activations"):
        measure_concentration(depths=(2,), activations=("sigmoid",), seeds=(0,))
    with pytest.raises(ConfigError, match="depths"):
        measure_concentration(depths=(0,), activations=("linear",), seeds=(0,))
    with pytest.raises(ConfigError, match="learning_rate"):
        measure_concentration(depths=(2,), activations=("linear",), seeds=(0,), learning_rate=0)


# ----------------------------------------------------------------------------- CLIs
def test_cli_validate_one_case_writes_the_report(tmp_path, capsys):
    out = tmp_path / "report.json"
    plot = tmp_path / "report.png"
    code = main([
        "validate", "--depths", "2", "--widths", "16,32,64", "--seeds", "0,1", "--t-max", "4",
        "--learning-rate", "0.01", "-o", str(out), "--plot", str(plot), "--no-progress",
    ])
    assert code == 0
    data = json.loads(out.read_text())
    for key in ("config", "widths", "errors", "slope", "slope_ci", "verdict"):
        assert key in data
    assert data["widths"] == [16, 32, 64] and len(data["errors"][0]) == 2
    assert plot.stat().st_size > 1000
    assert "verdict" in capsys.readouterr().out


@pytest.mark.parametrize(
    "argv, message",
    [
        (["validate", "--widths", "64,abc"], "--widths"),
        (["validate", "--widths", "0,64"], "--widths"),
        (["validate", "--depths", "3", "--mapping", "exact", "--widths", "8"], "exact q/p mapping"),
        (["validate", "--quick", "--depths", "2"], "--quick"),
        (["validate", "--depths", "2", "-o", "report.txt"], "json"),
        (["validate", "--depths", "2,x"], "--depths"),
        (["validate", "--dataset", "missing.npz"], "not found"),
        (["validate", "--dataset", "random:2,x"], "random:S1"),
        (["validate", "--dataset", "random:2,-1"], "singular_values"),
        (["concentration", "--seeds", "0"], "--seeds"),
        (["concentration", "--activation", "sigmoid", "--seeds", "1", "--depths", "2"], "activations"),
    ],
)
def test_cli_error_paths_are_one_line(argv, message, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1


def test_cli_rejects_unknown_theory(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["validate", "--theory", "race"])
    assert exit_info.value.code == 2


def test_cli_concentration_writes_json(tmp_path, capsys):
    out = tmp_path / "conc.json"
    code = main(["concentration", "--depths", "2,3", "--activation", "linear,tanh", "--seeds", "2", "--width", "16",
                 "--t-max", "20", "-o", str(out), "--plot", str(tmp_path / "conc.png"), "--no-progress"])
    assert code == 0
    data = json.loads(out.read_text())
    assert data["depths"] == [2, 3]
    assert set(data["dominant_fraction"]) == {"linear", "tanh"}
    assert (tmp_path / "conc.png").exists()
    printed = capsys.readouterr().out.splitlines()
    assert printed[0].split() == ["depth", "2", "3"] and [line.split()[0] for line in printed[1:3]] == ["linear", "tanh"]


def test_cli_suite_report_has_the_single_case_keys_per_case(tmp_path, monkeypatch):
    """A suite's report.json carries "widths", "errors", "slope", "slope_ci" per case."""
    import json

    import pathdyn.validation.sweep.cases as cases

    tiny = tuple(case.replace(widths=(16, 32), seeds=(0,), t_max=2.0, learning_rate=0.01) for case in cases.DEFAULT_SUITE[:2])
    monkeypatch.setattr(cases, "QUICK_SUITE", tiny)
    out = tmp_path / "suite.json"
    assert main(["validate", "--quick", "--no-progress", "-o", str(out)]) == 0
    document = json.loads(out.read_text())
    for key in ("config", "verdict", "cases", "widths", "errors", "slope", "slope_ci"):
        assert key in document
    assert document["widths"] == [[16, 32], [16, 32]]
    assert [len(row) for row in document["errors"][0]] == [1, 1]
    assert document["slope"] == [case["slope"] for case in document["cases"]]
