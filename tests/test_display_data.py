"""Jupyter summaries (repr, HTML) and labelled data (xarray, netCDF, pandas) of results."""

import os
import sys

import numpy as np
import pytest

from pathdyn.errors import ConfigError
from pathdyn.numerics.trajectory import Trajectory
from pathdyn.validation.compare import compare
from pathdyn.validation.sweep.concentration import ConcentrationResult
from pathdyn.validation.sweep.report import WidthScalingReport


def _xarray():
    """xarray, or a skip; in CI (the Makefile installs the extra) a missing xarray is a failure."""
    try:
        import xarray
    except ImportError:
        if os.environ.get("CI"):
            pytest.fail("xarray is missing but CI is set: install pathdyn's extra, pip install -e '.[test,xarray]'")
        pytest.skip("xarray not installed (pip install 'pathdyn[xarray]')")
    return xarray


def _trajectory(batch=(), T=400, M=2, modes=3, seed=0):
    rng = np.random.default_rng(seed)
    t = np.linspace(0.0, 8.0, T)
    K = rng.normal(size=(T, *batch, M, modes))
    return Trajectory(t=t, K=K, loss=np.abs(rng.normal(size=(T, *batch))), message="reached t_max = 8",
                      state_names=("q_1", "p_1", "q_2", "p_2"), state=rng.normal(size=(T, *batch, 4, modes)),
                      stats={"wall_time_s": 0.25}, provenance={"architecture": {"depths": [2, 3]}, "seed": 0})


def _simulation(T=50, M=2, modes=3, seed=1):
    rng = np.random.default_rng(seed)
    t = np.linspace(0.0, 5.0, T)
    projection = rng.normal(size=(T, M, modes, modes))
    K = np.einsum("tamm->tam", projection)
    return Trajectory(t=t, K=K, loss=np.abs(rng.normal(size=T)), step=np.arange(T) * 10,
                      extras={"UtOmegaV": projection, "singular_values": np.array([3.0, 2.0, 1.0])})


def _report(with_example=True):
    widths, seeds = (64, 128, 256), (0, 1)
    errors = np.array([[0.04, 0.05], [0.02, 0.03], [0.011, 0.012]])
    final = np.arange(3 * 2 * 2 * 4, dtype=float).reshape(3, 2, 2, 4)
    example = {"width": 256, "seed": 0, "t": np.linspace(0, 10, 21), "K_gd": np.ones((21, 2, 4)),
               "K_theory": np.ones((21, 2, 4)) * 1.01} if with_example else None
    return WidthScalingReport(
        depths=(2, 2), widths=widths, seeds=seeds, init="gaussian", init_scale=0.3, theory="qp", mapping="exact",
        dataset="random", singular_values=(2.0, 1.4, 0.9, 0.5), learning_rate=0.005, t_max=10.0, steps=2000,
        errors=errors, slope=-0.9, slope_ci=(-1.2, -0.6), tail_slope=-0.8, confidence=0.95, lr_floor=0.004,
        time_mapping="t = eta * step", limit="infinite-width limit", compared="per-mode K", verdict="TARGET MET",
        passed=True, targets={"max_slope": -0.3}, final_K_gd=final, final_K_theory=final + 0.5, example=example,
        wall_time_s=3.0, mapping_notes=("width 64, seed 0: clipped",), evidence={"tail_slope": -0.8},
        input_variances=(1.0, 1.0, 0.5, 2.0), misalignment=1e-3, warnings=("misaligned inputs compared anyway",),
    )


def _concentration():
    rng = np.random.default_rng(2)
    depths, seeds, modes = (2, 3, 5), (0, 1, 2, 3), 4
    fractions = {a: 0.5 + 0.5 * rng.random((3, 4, modes)) for a in ("linear", "relu")}
    losses = {a: rng.random((3, 4)) * 1e-3 for a in ("linear", "relu")}
    return ConcentrationResult(depths=depths, activations=("linear", "relu"), seeds=seeds,
                               config={"width": 64, "init": "gaussian", "init_scale": 0.5, "learning_rate": 0.03,
                                       "t_max": 90.0, "seeds": 4, "confidence": 0.95, "singular_values": [2.0, 1.0]},
                               fractions=fractions, final_loss_ratio=losses,
                               race_agreement=(rng.random((3, 4, modes)) > 0.3).astype(float),
                               race_fraction=0.5 + 0.5 * rng.random((3, 4, modes)))


# ------------------------------------------------------------------ summaries
def test_trajectory_repr_is_short_and_says_shapes_and_ranges():
    trajectory = _trajectory(batch=(50,), T=2000)
    text = repr(trajectory)
    assert len(text) < 800  # the arrays hold 600,000 numbers
    assert "shape (time=2000, member=50, pathway=2, mode=3)" in text
    assert "2000 points in [0, 8]" in text and "reduced model (q_1, p_1, q_2, p_2)" in text
    K = trajectory.K
    assert f"range [{K.min():.4g}, {K.max():.4g}]" in text
    html = trajectory._repr_html_()
    assert html.startswith("<div>") and "<table>" in html and "time=2000, member=50" in html


def test_html_escapes_values():
    trajectory = Trajectory(t=np.arange(3.0), K=np.zeros((3, 1, 1)), loss=np.zeros(3), message="<b>stop</b> & go")
    assert "&lt;b&gt;stop&lt;/b&gt; &amp; go" in trajectory._repr_html_()


def test_report_reprs():
    text = repr(_report())
    assert text.startswith("WidthScalingReport(") and len(text) < 1200
    assert "64: 0.045, 128: 0.025, 256: 0.0115" in text  # medians over seeds
    assert "slope: -0.9 [-1.2, -0.6] (95% CI)" in text and "TARGET MET" in text
    assert "warning: misaligned inputs compared anyway" in text and "input variances: [1, 1, 0.5, 2]" in text
    assert "<table>" in _report()._repr_html_()
    result = _concentration()
    text = repr(result)
    means, _ = result.summary("relu")
    assert f"D=5: {means[2]:.3g}" in text and "race agreement" in text
    assert "<table>" in result._repr_html_()
    gd = _simulation()
    theory = Trajectory(t=gd.t, K=gd.K + 0.03, loss=gd.loss)
    comparison = compare(gd, theory)
    text = repr(comparison)
    assert f"{0.03 / 3.0:.4g} (max |K_GD - K_theory| / S_1, S_1 = 3)" in text
    assert "<table>" in comparison._repr_html_()


# --------------------------------------------------------------------- xarray
def test_missing_xarray_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "xarray", None)  # import xarray now raises ImportError
    with pytest.raises(ConfigError, match=r"pip install 'pathdyn\[xarray\]'"):
        _trajectory().to_xarray()
    monkeypatch.setitem(sys.modules, "pandas", None)
    with pytest.raises(ConfigError, match=r"pandas: not installed"):
        _report().to_dataframe()


def test_trajectory_to_xarray_dims_and_values():
    xr = _xarray()
    trajectory = _trajectory(batch=(4, 5))
    ds = trajectory.to_xarray()
    assert ds["K"].dims == ("time", "member_1", "member_2", "pathway", "mode")
    assert ds["state"].dims == ("time", "member_1", "member_2", "variable", "mode")
    assert list(ds["variable"].values) == ["q_1", "p_1", "q_2", "p_2"]
    assert list(ds["pathway"].values) == [1, 2] and list(ds["mode"].values) == [1, 2, 3]
    # labelled selection picks the same numbers as positional indexing
    assert float(ds["K"].sel(pathway=2, mode=3).isel(time=7, member_1=1, member_2=4)) == trajectory.K[7, 1, 4, 1, 2]
    assert isinstance(ds, xr.Dataset) and ds.attrs["success"] == 1
    named = _trajectory(batch=(4,)).to_xarray(batch_dims="seed")
    assert named["K"].dims == ("time", "seed", "pathway", "mode")
    with pytest.raises(ConfigError, match="batch_dims"):
        trajectory.to_xarray(batch_dims="seed")


def test_simulation_to_xarray_keeps_step_projection_and_singular_values(tmp_path):
    xr = _xarray()
    simulation = _simulation()
    ds = simulation.to_xarray()
    assert ds["UtOmegaV"].dims == ("time", "pathway", "mode", "mode_v")
    assert list(ds["singular_values"].values) == [3.0, 2.0, 1.0]
    assert ds["step"].values[-1] == 490
    path = tmp_path / "run.nc"
    simulation.save_netcdf(path)
    with xr.open_dataset(path, engine="scipy") as back:
        np.testing.assert_array_equal(back["K"].values, simulation.K)
        np.testing.assert_array_equal(back["UtOmegaV"].values, simulation.extras["UtOmegaV"])
        assert back["K"].dims == ds["K"].dims


def test_trajectory_netcdf_round_trip(tmp_path):
    xr = _xarray()
    trajectory = _trajectory(batch=(3,))
    path = tmp_path / "traj.nc"
    trajectory.save_netcdf(path)
    assert path.read_bytes()[:3] == b"CDF"  # netCDF3 classic/64-bit, written by scipy
    with xr.open_dataset(path, engine="scipy") as back:
        xr.testing.assert_identical(back.load().drop_attrs(), trajectory.to_xarray().drop_attrs())
        assert back.attrs["message"] == "reached t_max = 8"
        assert '"depths": [2, 3]' in back.attrs["provenance"]
    with pytest.raises(ConfigError, match=r"should end in \.nc"):
        trajectory.save_netcdf(tmp_path / "traj.json")
    assert not (tmp_path / "traj.json").exists()


def test_width_report_to_xarray_netcdf_and_dataframe(tmp_path):
    xr = _xarray()
    report = _report()
    ds = report.to_xarray()
    assert ds["error"].dims == ("width", "seed")
    assert ds["final_K_gd"].dims == ("width", "seed", "pathway", "mode")
    assert ds["example_K_gd"].dims == ("time", "pathway", "mode")
    assert list(ds["width"].values) == [64, 128, 256] and list(ds["mode"].values) == [1, 2, 3, 4]
    assert float(ds["error"].sel(width=128, seed=1)) == 0.03
    np.testing.assert_allclose(ds["median_error"].values, [0.045, 0.025, 0.0115])
    assert ds.attrs["slope"] == -0.9 and ds.attrs["passed"] == "true"
    assert list(ds["input_variances"].values) == [1.0, 1.0, 0.5, 2.0]
    path = tmp_path / "sweep.nc"
    report.save_netcdf(path)
    with xr.open_dataset(path, engine="scipy") as back:
        np.testing.assert_array_equal(back["error"].values, report.errors)
        assert back.attrs["verdict"] == "TARGET MET"
    assert "time" not in _report(with_example=False).to_xarray().dims
    table = report.to_dataframe(name="d2")
    assert list(table["width"]) == [64, 128, 256]
    np.testing.assert_allclose(table["median_error"], [0.045, 0.025, 0.0115])
    np.testing.assert_allclose(table["max_error"], [0.05, 0.03, 0.012])
    assert set(table["case"]) == {"d2"} and (table["slope"] == -0.9).all()


def test_concentration_to_xarray_and_dataframe(tmp_path):
    xr = _xarray()
    result = _concentration()
    ds = result.to_xarray()
    assert ds["fraction"].dims == ("activation", "depth", "seed", "mode")
    assert float(ds["fraction"].sel(activation="relu", depth=3, seed=2, mode=4)) == result.fractions["relu"][1, 2, 3]
    path = tmp_path / "conc.nc"
    result.save_netcdf(path)
    with xr.open_dataset(path, engine="scipy") as back:
        assert list(back["activation"].values) == ["linear", "relu"]
        np.testing.assert_array_equal(back["race_agreement"].values, result.race_agreement)
    table = result.to_dataframe()
    means, cis = result.summary("linear")
    linear = table[table["activation"] == "linear"]
    np.testing.assert_allclose(linear["mean_fraction"], means)
    np.testing.assert_allclose(linear["ci_low"], [c[0] for c in cis])
    assert table[table["activation"] == "relu"]["race_agreement"].isna().all()


def test_width_report_json_round_trip():
    report = _report()
    back = WidthScalingReport.from_json_dict(report.to_json_dict())
    np.testing.assert_array_equal(back.errors, report.errors)
    np.testing.assert_array_equal(back.final_K_theory, report.final_K_theory)
    np.testing.assert_array_equal(back.example["K_gd"], report.example["K_gd"])
    for name in ("depths", "widths", "seeds", "slope", "slope_ci", "lr_floor", "verdict", "passed", "mapping_notes",
                 "input_variances", "misalignment", "warnings", "evidence"):
        assert getattr(back, name) == getattr(report, name), name
    with pytest.raises(ConfigError, match="WidthScalingReport JSON: missing entry"):
        WidthScalingReport.from_json_dict({"widths": [1]})


def test_load_width_reports_of_a_suite(tmp_path):
    import json

    from pathdyn.validation.sweep.report import load_width_reports

    path = tmp_path / "suite.json"
    path.write_text(json.dumps({"suite": "quick", "cases": [dict(_report().to_json_dict(), name="depth 2")] * 2}))
    reports, names = load_width_reports(path)
    assert names == ["depth 2", "depth 2"] and len(reports) == 2
    np.testing.assert_array_equal(reports[1].errors, _report().errors)
    with pytest.raises(ConfigError, match="not found"):
        load_width_reports(tmp_path / "missing.json")


def test_integrate_command_writes_netcdf(tmp_path):
    xr = _xarray()
    from pathdyn.cli.main import main

    out, json_out = tmp_path / "out.nc", tmp_path / "out.json"
    argv = ["integrate", "--depths", "2,3", "--singular-values", "3,1", "--t-max", "10", "--num-points", "21"]
    assert main([*argv, "-o", str(out)]) == 0 and main([*argv, "-o", str(json_out)]) == 0
    import json

    data = json.loads(json_out.read_text())
    with xr.open_dataset(out, engine="scipy") as ds:
        assert ds["K"].dims == ("time", "pathway", "mode")
        np.testing.assert_array_equal(ds["K"].values, np.array(data["K"]))
        np.testing.assert_array_equal(ds["singular_values"].values, [3.0, 1.0])
