"""``pathdyn integrate --model dmft`` and ``pathdyn validate --theory dmft``."""

import json

import numpy as np
import pytest

from pathdyn.cli.main import main
from pathdyn.numerics.dmft import solve_dmft


def test_integrate_dmft_gradient_descent_writes_t_step_K(tmp_path):
    out = tmp_path / "out.json"
    code = main(["integrate", "--model", "dmft", "--depths", "3,4", "--singular-values", "2,1", "--init", "gaussian",
                 "--init-scale", "0.5", "--learning-rate", "0.05", "--steps", "80", "-o", str(out)])
    assert code == 0
    data = json.loads(out.read_text())
    K = np.array(data["K"])
    assert K.shape == (81, 2, 2) and data["step"] == list(range(81))
    np.testing.assert_allclose(data["t"], 0.05 * np.arange(81))  # t = eta * step
    direct = solve_dmft((3, 4), [2.0, 1.0], learning_rate=0.05, steps=80, init_scale=0.5)
    np.testing.assert_allclose(K, direct.K, rtol=0, atol=1e-14)
    assert np.all(np.abs(K[-1].sum(axis=0) - [2.0, 1.0]) < 0.05)  # both modes learned


def test_integrate_dmft_init_orthogonal_chooses_the_orthogonal_march(tmp_path):
    from pathdyn.numerics.dmft_orthogonal import solve_orthogonal_dmft

    K = {}
    for init in ("orthogonal", "gaussian"):
        out = tmp_path / f"{init}.json"
        assert main(["integrate", "--model", "dmft", "--depths", "3,4", "--singular-values", "2,1", "--init", init,
                     "--init-scale", "0.7", "--learning-rate", "0.05", "--steps", "60", "-o", str(out)]) == 0
        data = json.loads(out.read_text())
        assert data["provenance"]["init"] == init
        K[init] = np.array(data["K"])
    direct = solve_orthogonal_dmft((3, 4), [2.0, 1.0], learning_rate=0.05, steps=60, init_scale=0.7)
    np.testing.assert_allclose(K["orthogonal"], direct.K, rtol=0, atol=1e-14)
    assert np.max(np.abs(K["orthogonal"] - K["gaussian"])) > 0.01  # the option is not ignored


def test_integrate_dmft_flow_close_to_small_step_descent(tmp_path):
    out = tmp_path / "flow.json"
    assert main(["integrate", "--model", "dmft", "--depths", "3", "--singular-values", "2", "--init-scale", "0.5",
                 "--t-max", "3", "--num-points", "7", "--tol", "1e-2", "-o", str(out)]) == 0
    data = json.loads(out.read_text())
    assert data["success"] and len(data["t"]) == 7 and "step" not in data
    descent = solve_dmft((3,), [2.0], learning_rate=0.01, steps=300, init_scale=0.5)
    # O(eta) apart: eta = 0.01 against the flow (a wrong time unit, t = 2 eta k, is off by O(1))
    assert np.max(np.abs(np.array(data["K"])[:, 0, 0] - descent.K[::50, 0, 0])) < 0.03


@pytest.mark.parametrize(
    "argv, match",
    [
        (["--init", "haar"], "--init"),
        (["--learning-rate", "0.01"], "--learning-rate/--steps"),
        (["--learning-rate", "-1", "--steps", "3"], "--learning-rate"),
        (["--init-scale", "0"], "--init-scale"),
    ],
)
def test_integrate_dmft_bad_options_exit_2(tmp_path, capsys, argv, match):
    out = tmp_path / "bad.json"
    code = main(["integrate", "--model", "dmft", "--depths", "3", "--singular-values", "2", *argv, "-o", str(out)])
    assert code == 2 and match in capsys.readouterr().err and not out.exists()


def test_learning_rate_only_with_dmft(capsys):
    assert main(["integrate", "--depths", "2,2", "--singular-values", "2", "--learning-rate", "0.1"]) == 2
    assert "--model dmft" in capsys.readouterr().err


def test_validate_theory_dmft_small_sweep(tmp_path):
    """A CI-sized sweep that can fail: 6 seeds, widths 96 and 384, depth 3."""
    out = tmp_path / "v.json"
    code = main(["validate", "--depths", "3", "--widths", "96,384", "--seeds", "0,1,2,3,4,5", "--init-scale", "0.5",
                 "--theory", "dmft", "--learning-rate", "0.04", "--t-max", "6", "--no-progress", "-o", str(out)])
    assert code == 0
    data = json.loads(out.read_text())
    assert data["config"]["theory"] == "dmft" and data["config"]["dmft_time"] == "discrete at the learning rate"
    mean, noise = np.array(data["ensemble_errors"]), np.array(data["standard_errors"])
    assert mean[-1] < 3 * noise[-1] + 0.005
    assert data["scatter"][-1] < data["scatter"][0]
    # single networks scatter around the mean: each is further from the DMFT than the mean is
    assert np.median(data["errors"][-1]) > mean[-1]


def test_small_sweep_catches_the_wrong_dmft(monkeypatch):
    """The same check fails when the DMFT drops its response terms (gradient independence)."""
    import functools

    import pathdyn.validation.sweep.dmft as module
    from pathdyn.validation.sweep.width import validate_width

    monkeypatch.setattr(module, "solve_dmft", functools.partial(solve_dmft, responses=False))
    report = validate_width((3,), (96, 384), seeds=range(6), init_scale=0.5, theory="dmft", learning_rate=0.04, t_max=6.0)
    assert not report.ensemble_errors[-1] < 3 * report.standard_errors[-1] + 0.005


def test_integrate_dmft_flow_short_of_tol_is_one_line_and_exit_2(tmp_path, capsys):
    """A flow that cannot reach --tol within --max-steps writes nothing, prints one line naming
    --max-steps, and exits 2 (it used to exit 1 silently, with the message only in the JSON)."""
    out = tmp_path / "flow.json"
    code = main(["integrate", "--model", "dmft", "--depths", "3,3", "--singular-values", "2,1", "--init-scale", "0.5",
                 "--t-max", "6", "--tol", "1e-7", "--max-steps", "256", "-o", str(out)])
    err = capsys.readouterr().err
    assert code == 2 and not out.exists()
    assert err.count("\n") == 1 and "--max-steps" in err and "tol" in err


@pytest.mark.parametrize("argv, match", [
    (["--t-max", "4", "--max-steps", "10"], "--max-steps"),
    (["--learning-rate", "0.1", "--steps", "10", "--max-steps", "4096"], "--max-steps"),
    (["--t-max", "4", "--tol", "0"], "--tol"),
])
def test_integrate_dmft_bad_budget_exit_2(tmp_path, capsys, argv, match):
    out = tmp_path / "bad.json"
    code = main(["integrate", "--model", "dmft", "--depths", "3", "--singular-values", "2", *argv, "-o", str(out)])
    err = capsys.readouterr().err
    assert code == 2 and match in err and err.count("\n") == 1 and not out.exists()


def test_integrate_dmft_flow_reaches_t_200(tmp_path):
    """The continuous-time DMFT reaches t = 200 (it stopped with "max_steps reached" at t = 40 before):
    the marches hold K once the modes are learned, so the long tail costs nothing."""
    out = tmp_path / "long.json"
    assert main(["integrate", "--model", "dmft", "--depths", "3,3", "--singular-values", "2,0.5", "--init-scale", "0.5",
                 "--t-max", "200", "--num-points", "11", "-o", str(out)]) == 0
    data = json.loads(out.read_text())
    assert data["success"] and data["stats"]["error_estimate"] <= 1e-3
    # both modes learned and shared equally by the two pathways
    assert np.allclose(np.array(data["K"])[-1], [[1.0, 0.25], [1.0, 0.25]], atol=2e-3)


def test_integrate_dmft_long_descent_with_hold_below(tmp_path, capsys):
    """10,000 gradient steps (t = 200): the full march is refused (it would need GiB per mode), in one
    line naming --hold-below; with --hold-below the march stops once learned and K is held."""
    out = tmp_path / "long.json"
    argv = ["integrate", "--model", "dmft", "--depths", "3,3", "--singular-values", "2,0.5", "--init-scale", "0.5",
            "--learning-rate", "0.02", "--steps", "10000", "-o", str(out)]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "GiB" in err and "--hold-below" in err and err.count("\n") == 1 and not out.exists()
    assert main([*argv, "--hold-below", "1e-4"]) == 0
    data = json.loads(out.read_text())
    assert len(data["t"]) == 10001 and data["stats"]["marched_steps"] < 1500
    assert np.allclose(np.array(data["K"])[-1], [[1.0, 0.25], [1.0, 0.25]], atol=1e-4)
    assert main([*argv[:-6], "--t-max", "4", "--hold-below", "1e-4", "-o", str(out)]) == 2
    assert "--hold-below" in capsys.readouterr().err
