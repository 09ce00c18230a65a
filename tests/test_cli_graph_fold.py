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

from pathdyn.cli.main import main
from pathdyn.io.simulation_files import load_run_file
from pathdyn.numerics.datasets import Dataset

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


def test_integrate_graph_dmft_is_one_line_not_an_attribute_error(tmp_path, capsys):
    assert main(["integrate", "--model", "dmft", "--architecture", CORTEX, "--init-scale", "0.5", "--t-max", "4",
                 "-o", str(tmp_path / "x.json")]) == 2
    _one_line_error(capsys, "--model dmft", "[graph]")


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
