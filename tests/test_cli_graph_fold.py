"""Every command takes ``--architecture`` of either form: a ``[graph]`` goes through the pathway checks.

Issue 19.3: ``integrate``, ``simulate``, ``validate``, ``concentration`` and ``figures`` run a
``[graph]`` TOML (``derive`` did already), with the checks a pathway run has: whitening and
input variances, misalignment refused with its measured value, activations honoured or
refused where the theory is linear. The old ``graph-*`` commands answer with one line
naming the command that does their work now.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from pathdyn.cli.main import main
from pathdyn.io.simulation_files import load_run_file
from pathdyn.numerics.datasets import Dataset, dataset_from_spec, random_dataset
from pathdyn.numerics.integrate import integrate
from pathdyn.theory.graph import GraphArchitecture
from pathdyn.theory.graph_reduced import derive_graph_mode_equations
from pathdyn.validation.compare import compare
from pathdyn.validation.sweep.graph_validate import validate_graph_aligned

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
CORTEX = str(EXAMPLES / "visual_cortex.toml")


def _one_line_error(capsys, *needles):
    err = capsys.readouterr().err
    assert err.count("\n") == 1, err
    for needle in needles:
        assert needle in err, err
    return err


def _relu_graph(tmp_path) -> str:
    path = tmp_path / "relu.toml"
    path.write_text('[graph]\nedges = [["x", "h"], ["h", "y"], ["x", "y"]]\nactivations = { h = "relu" }\n')
    return str(path)


def test_integrate_graph_uses_the_input_variances(tmp_path):
    """Non-whitened modes end at ``K = S / lambda`` per mode, summed over the graph's paths.

    With the whitened equations the totals would end at ``S`` (2 and 1), not 4 and 0.5, so a
    run that dropped the input variances fails here.
    """
    out = tmp_path / "g.json"
    assert main(["integrate", "--architecture", CORTEX, "--singular-values", "2,1", "--input-variances", "0.5,2",
                 "--t-max", "80", "-o", str(out)]) == 0
    data = json.loads(out.read_text())
    K = np.array(data["K"])  # (T, paths, modes)
    assert K.shape[1:] == (3, 2)
    assert data["graph"]["paths"] == [["x", "V1", "LM", "y"], ["x", "V1", "AL", "y"], ["x", "V1", "y"]]
    np.testing.assert_allclose(K[-1].sum(axis=0), [4.0, 0.5], rtol=1e-4)
    assert data["provenance"]["architecture"]["whitened"] is False


def test_integrate_graph_refuses_whitened_with_variances_and_pathway_options(tmp_path, capsys):
    base = ["integrate", "--architecture", CORTEX, "-o", str(tmp_path / "x.json")]
    assert main(base + ["--singular-values", "2,1", "--input-variances", "0.5,2", "--whitened"]) == 2
    _one_line_error(capsys, "--whitened", "[0.5, 2.0]")
    assert main(base + ["--c", "2"]) == 2
    _one_line_error(capsys, "--c", "[graph]")
    assert main(base + ["--model", "layer"]) == 2
    _one_line_error(capsys, "--model layer", "per-edge")
    assert not list(tmp_path.iterdir())


def misaligned_dataset(rho: float = 0.4, n: int = 3) -> Dataset:
    """Inputs whose first two modes are correlated by ``rho`` (misalignment ``rho``)."""
    sigma_x = np.eye(n)
    sigma_x[0, 1] = sigma_x[1, 0] = rho
    X = np.linalg.cholesky(sigma_x) @ np.eye(n) * np.sqrt(n)
    Y = np.diag([3.0, 2.0, 1.0]) @ np.linalg.solve(sigma_x, X)  # Sigma_yx = diag(S)
    return Dataset(X=X, Y=Y, name=f"misaligned(rho={rho})")


def test_integrate_graph_refuses_misaligned_data_with_the_measured_value(tmp_path, capsys):
    data = tmp_path / "mis.npz"
    dataset = misaligned_dataset()
    np.savez(data, X=dataset.X, Y=dataset.Y)
    assert main(["integrate", "--architecture", CORTEX, "--dataset", str(data), "-o", str(tmp_path / "x.json")]) == 2
    _one_line_error(capsys, "misalignment 0.4")


def test_simulate_graph_writes_paths_and_honours_the_tables_activations(tmp_path, capsys):
    out = tmp_path / "run.npz"
    assert main(["simulate", "--architecture", CORTEX, "--learning-rate", "0.02", "--steps", "40", "--record-every", "10",
                 "--dataset", "random:3,2,1", "-o", str(out)]) == 0
    arrays, config = load_run_file(out)
    assert arrays["K"].shape == (5, 3, 3) and config["paths"][2] == ["x", "V1", "y"]
    # a linear graph: the paths add up to the network's diag(U^T Omega V)
    np.testing.assert_allclose(arrays["K"].sum(axis=1), arrays["K_total"], atol=1e-12)

    relu = _relu_graph(tmp_path)
    out = tmp_path / "relu.npz"
    assert main(["simulate", "--architecture", relu, "--width", "6", "--learning-rate", "0.02", "--steps", "5",
                 "-o", str(out)]) == 0
    assert load_run_file(out)[1]["activations"] == {"h": "relu"}
    assert main(["simulate", "--architecture", relu, "--width", "6", "--learning-rate", "0.02", "--steps", "5",
                 "--activation", "tanh", "-o", str(tmp_path / "other.npz")]) == 2
    _one_line_error(capsys, "--activation tanh", "h = relu")
    assert main(["simulate", "--architecture", relu, "--learning-rate", "0.02", "--steps", "5",
                 "-o", str(tmp_path / "other.npz")]) == 2
    _one_line_error(capsys, "--width", "h")
    assert main(["simulate", "--architecture", relu, "--width", "6", "--learning-rate", "0.02", "--steps", "5",
                 "--init-from", "w.npz", "-o", str(tmp_path / "other.npz")]) == 2
    _one_line_error(capsys, "--init-from")
    assert not (tmp_path / "other.npz").exists()


def test_simulate_graph_trains_in_float32_on_blas_threads(tmp_path):
    # one engine for graphs and pathways: a graph gets float32 and --threads as pathways do
    runs = {}
    for name, extra in (("f64", []), ("f32", ["--float32", "--threads", "2"])):
        out = tmp_path / f"{name}.npz"
        assert main(["simulate", "--architecture", CORTEX, "--learning-rate", "0.02", "--steps", "40",
                     "--record-every", "10", "--dataset", "random:3,2,1", "-o", str(out), *extra]) == 0
        runs[name] = load_run_file(out)[0]["K"]
    gap = np.max(np.abs(runs["f64"] - runs["f32"]))
    assert 0 < gap < 1e-5, gap


# ------------------------------------------------------------------ validate

def _aligned_nonwhitened(tmp_path) -> str:
    dataset = random_dataset([2.0, 1.4, 0.9, 0.5], input_variances=[0.6, 1.8, 1.2, 0.8], seed=0)
    path = tmp_path / "general.npz"
    np.savez(path, X=dataset.X, Y=dataset.Y)
    return str(path)


def test_validate_aligned_graph_compares_non_whitened_data_with_its_input_variances(tmp_path, capsys):
    """The intro of issue 19: graph-validate compared such data with the whitened theory (0.26 of S_1 here).

    The report's error is gradient descent's O(eta) step (below 0.01); the whitened reduced model,
    integrated from the same strengths, misses the same network by more than 10x that, so a
    validate that dropped the input variances fails here.
    """
    data = _aligned_nonwhitened(tmp_path)
    out = tmp_path / "report.json"
    assert main(["validate", "--architecture", CORTEX, "--init", "aligned", "--dataset", data, "-o", str(out)]) == 0
    report = json.loads(out.read_text())
    assert report["error"] < 0.01
    np.testing.assert_allclose(report["runs"][0][0]["input_variances"], [0.6, 1.8, 1.2, 0.8], rtol=1e-9)
    # the deliberately wrong variant: the whitened model against the same network
    graph = GraphArchitecture.from_toml(CORTEX)
    result = validate_graph_aligned(graph, dataset_from_spec(data), 16, learning_rate=0.01, t_max=6.0)
    whitened = integrate(derive_graph_mode_equations(graph, invariants=False), result.initial_strengths,
                         result.simulation.extras["singular_values"], float(result.simulation.t[-1]),
                         t_eval=result.simulation.t, rtol=1e-10, atol=1e-12)
    assert compare(result.simulation, whitened).error > 10 * report["error"]


@pytest.mark.parametrize("extra", [["--init", "aligned"], ["--widths", "8,16", "--seeds", "0"]])
def test_validate_graph_refuses_misaligned_data_with_the_measured_value(extra, tmp_path, capsys):
    data = tmp_path / "mis.npz"
    dataset = misaligned_dataset()
    np.savez(data, X=dataset.X, Y=dataset.Y)
    graph = str(EXAMPLES / "two_stream.toml")
    assert main(["validate", "--architecture", graph, *extra, "--dataset", str(data), "-o", str(tmp_path / "r.json")]) == 2
    _one_line_error(capsys, "misalignment 0.4", "--allow-misaligned")
    assert not (tmp_path / "r.json").exists()


def test_validate_graph_refuses_activations_against_the_linear_theory_and_honours_them_in_the_sweep(tmp_path, capsys):
    relu = _relu_graph(tmp_path)
    assert main(["validate", "--architecture", relu, "--init", "aligned", "-o", str(tmp_path / "a.json")]) == 2
    _one_line_error(capsys, "h = relu", "linear reduced model")
    linear = tmp_path / "linear.toml"
    linear.write_text('[graph]\nedges = [["x", "h"], ["h", "y"], ["x", "y"]]\n')
    means = {}
    for name, path in (("relu", relu), ("linear", str(linear))):
        out = tmp_path / f"{name}.json"
        assert main(["validate", "--architecture", path, "--widths", "8,16", "--seeds", "0,1", "--t-max", "3",
                     "-o", str(out)]) == 0
        report = json.loads(out.read_text())
        means[name] = np.array(report["per_width"][0]["mean_K"])
    assert report["per_width"][0]["theory_error"]["model"] == "qp"  # linear parallel graph: the q/p model too
    # same seeds, same weights: only the ReLU at h makes the runs differ (graph-sweep used to drop it)
    assert np.abs(means["relu"] - means["linear"]).max() > 0.01


def test_validate_takes_a_pathway_file_and_refuses_what_it_would_ignore(tmp_path, capsys):
    toml = tmp_path / "p.toml"
    toml.write_text("depths = [2, 2]\nhidden_widths = 8\n")
    assert main(["validate", "--architecture", str(toml), "--widths", "8,16", "-o", str(tmp_path / "r.json")]) == 2
    _one_line_error(capsys, "hidden_widths", "--widths")
    assert main(["validate", "--architecture", str(toml), "--depths", "2,2", "-o", str(tmp_path / "r.json")]) == 2
    _one_line_error(capsys, "--depths, --architecture")
    assert main(["validate", "--architecture", CORTEX, "--widths", "8,16", "-o", str(tmp_path / "r.json")]) == 2
    _one_line_error(capsys, "--widths 8,16", "own width")
    assert main(["validate", "--architecture", CORTEX, "--theory", "two-channel", "-o", str(tmp_path / "r.json")]) == 2
    _one_line_error(capsys, "--theory", "[graph]")
    assert not (tmp_path / "r.json").exists()


# ------------------------------------------------------------------ concentration, figures, former commands

def test_concentration_of_graphs_honours_the_tables_activations(tmp_path, capsys):
    relu = _relu_graph(tmp_path)
    out = tmp_path / "c.json"
    assert main(["concentration", "--architecture", relu, "--architecture", str(EXAMPLES / "two_stream.toml"),
                 "--seeds", "2", "--width", "8", "--t-max", "20", "-o", str(out)]) == 0
    results = json.loads(out.read_text())["results"]
    assert [r["settings"]["activation"] for r in results] == ["h = relu", "linear"]
    assert main(["concentration", "--architecture", relu, "--activation", "tanh", "-o", str(tmp_path / "d.json")]) == 2
    _one_line_error(capsys, "--activation tanh", "h = relu")
    assert main(["concentration", "--architecture", relu, "--plot", "c.png", "-o", str(tmp_path / "d.json")]) == 2
    _one_line_error(capsys, "--plot")
    assert not (tmp_path / "d.json").exists()


def test_figures_phase_plane_takes_two_parallel_chains_of_either_form(tmp_path, capsys):
    assert main(["figures", "phase-plane", "--architecture", str(EXAMPLES / "two_pathways.toml"),
                 "--num-trajectories", "4", "-o", str(tmp_path / "g.png")]) == 0
    toml = tmp_path / "p.toml"
    toml.write_text("depths = [2, 3]\n")
    assert main(["figures", "phase-plane", "--architecture", str(toml), "--num-trajectories", "4",
                 "-o", str(tmp_path / "p.png")]) == 0
    assert main(["figures", "phase-plane", "--architecture", CORTEX, "-o", str(tmp_path / "c.png")]) == 2
    _one_line_error(capsys, "two parallel pathways")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["g.png", "p.png", "p.toml"]


@pytest.mark.parametrize("former, new", [("graph-validate", "pathdyn validate --architecture FILE.toml --init aligned"),
                                         ("graph-sweep", "pathdyn validate --architecture FILE.toml"),
                                         ("graph-concentration", "pathdyn concentration --architecture FILE.toml")])
def test_former_graph_commands_answer_with_one_line(former, new, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main([former, "--architecture", CORTEX, "--width", "4", "-o", "out.json"]) == 2
    _one_line_error(capsys, new)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("table", ['[graph]\nedges = [["x", "h"], ["h", "y"], ["x", "y"]]\n', "depths = [2, 3]\n"])
def test_integrate_a_files_general_inputs_need_variances(table, tmp_path, capsys):
    """``whitened = false`` in either form asks for input variances, as --general does (was: 'parameters: missing lambda')."""
    toml = tmp_path / "general.toml"
    toml.write_text(table + "whitened = false\n")
    out = tmp_path / "x.json"
    assert main(["integrate", "--architecture", str(toml), "--singular-values", "2,1", "-o", str(out)]) == 2
    _one_line_error(capsys, "whitened = false", "--input-variances")
    assert main(["integrate", "--architecture", str(toml), "--singular-values", "2,1", "--input-variances", "2,0.5",
                 "--t-max", "60", "-o", str(out)]) == 0
    K = np.array(json.loads(out.read_text())["K"])
    np.testing.assert_allclose(K[-1].sum(axis=0), [1.0, 2.0], rtol=1e-4)  # S / lambda
