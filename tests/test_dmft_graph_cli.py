"""``pathdyn integrate --model dmft`` and ``pathdyn validate --theory dmft`` with a ``[graph]`` architecture."""

import json
from pathlib import Path

import numpy as np

from pathdyn.cli.main import main
from pathdyn.numerics.dmft import solve_dmft
from pathdyn.numerics.dmft_graph import solve_dmft_graph
from pathdyn.theory.graph import GraphArchitecture

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def test_integrate_graph_dmft_writes_t_step_K_and_paths(tmp_path):
    out = tmp_path / "out.json"
    toml = EXAMPLES / "trunk_cross_skip.toml"
    assert main(["integrate", "--model", "dmft", "--architecture", str(toml), "--singular-values", "2,1", "--init",
                 "gaussian", "--init-scale", "0.5", "--learning-rate", "0.05", "--steps", "40", "-o", str(out)]) == 0
    data = json.loads(out.read_text())
    K = np.array(data["K"])
    assert K.shape == (41, 4, 2) and data["step"] == list(range(41)) and data["quantity"] == "paths"
    np.testing.assert_allclose(data["t"], 0.05 * np.arange(41))
    assert data["paths"] == [["x", "t1", "a1", "a2", "y"], ["x", "t1", "a1", "b2", "y"], ["x", "t1", "b1", "b2", "y"],
                             ["x", "t1", "y"]]
    direct = solve_dmft_graph(GraphArchitecture.from_toml(toml), [2.0, 1.0], learning_rate=0.05, steps=40, init_scale=0.5)
    np.testing.assert_allclose(K, direct.K, rtol=0, atol=1e-14)


def test_integrate_graph_dmft_of_parallel_chains_is_the_pathway_run(tmp_path):
    """A [graph] TOML of two chains gives the numbers ``--depths 3,4`` gives (two different solvers)."""
    toml = tmp_path / "chains.toml"
    toml.write_text('[graph]\nedges = [["x", "a1"], ["a1", "a2"], ["a2", "y"], ["x", "b1"], ["b1", "b2"], '
                    '["b2", "b3"], ["b3", "y"]]\n')
    out = tmp_path / "out.json"
    assert main(["integrate", "--model", "dmft", "--architecture", str(toml), "--singular-values", "2,1",
                 "--init-scale", "0.5", "--learning-rate", "0.05", "--steps", "60", "-o", str(out)]) == 0
    pathway = solve_dmft((3, 4), [2.0, 1.0], learning_rate=0.05, steps=60, init_scale=0.5)
    assert np.max(np.abs(np.array(json.loads(out.read_text())["K"]) - pathway.K)) < 1e-12


def test_graph_dmft_refuses_orthogonal_and_other_theories(tmp_path, capsys):
    toml = str(EXAMPLES / "shared_trunk.toml")
    out = tmp_path / "out.json"
    assert main(["integrate", "--model", "dmft", "--architecture", toml, "--init", "orthogonal", "--learning-rate",
                 "0.05", "--steps", "10", "-o", str(out)]) == 2
    assert "--init orthogonal" in capsys.readouterr().err and not out.exists()
    # another theory on a graph: one line (without --theory, validate runs the graph's width sweep)
    assert main(["validate", "--architecture", toml, "--theory", "two-channel", "--widths", "16,32"]) == 2
    assert "--theory two-channel" in capsys.readouterr().err


def test_validate_graph_dmft_writes_a_dmft_report(tmp_path):
    out = tmp_path / "v.json"
    assert main(["validate", "--theory", "dmft", "--architecture", str(EXAMPLES / "shared_trunk.toml"), "--widths",
                 "32,64,128", "--seeds", "0,1,2", "--learning-rate", "0.05", "--t-max", "2", "--no-progress",
                 "-o", str(out)]) == 0
    data = json.loads(out.read_text())
    assert data["record"] == "GraphDMFTWidthReport"
    assert data["paths"] == ["x>t1>t2>a1>y", "x>t1>t2>b1>y"]
    assert len(data["ensemble_errors"]) == 3 and "verdict" in data


def test_orthogonal_parallel_chains_use_the_exact_overlap_march(tmp_path):
    """``--init orthogonal`` on a [graph] of parallel chains is the pathway overlap march; on a graph
    with a hidden fan-out (shared_trunk) it is refused (the overlaps do not close there)."""
    from pathdyn.numerics.dmft_orthogonal import solve_orthogonal_dmft

    out = tmp_path / "o.json"
    assert main(["integrate", "--model", "dmft", "--architecture", str(EXAMPLES / "two_stream.toml"), "--init",
                 "orthogonal", "--singular-values", "2,1", "--init-scale", "0.7", "--learning-rate", "0.05", "--steps",
                 "30", "-o", str(out)]) == 0
    data = json.loads(out.read_text())
    direct = solve_orthogonal_dmft((3, 3), [2.0, 1.0], learning_rate=0.05, steps=30, init_scale=0.7)
    np.testing.assert_allclose(np.array(data["K"]), direct.K, rtol=0, atol=1e-14)
    assert data["provenance"]["init"] == "orthogonal" and len(data["paths"]) == 2


def test_graphs_with_many_paths_get_per_edge_flows_and_say_so(tmp_path):
    """The mouse-visual-cortex-like graph (96 paths, 2440 prefix matrices) is solved per edge."""
    out = tmp_path / "out.json"
    assert main(["integrate", "--model", "dmft", "--architecture", str(EXAMPLES / "mouse_visual_cortex.toml"),
                 "--singular-values", "2,1", "--init-scale", "0.5", "--learning-rate", "0.1", "--steps", "30",
                 "-o", str(out)]) == 0
    data = json.loads(out.read_text())
    assert data["quantity"] == "edges" and "per-edge" in data["note"] and "paths" not in data
    K = np.array(data["K"])
    assert K.shape == (31, len(data["edges"]), 2)
    into_y = [i for i, e in enumerate(data["edges"]) if e[1] == "y"]
    np.testing.assert_allclose(K[:, into_y].sum(axis=1), np.array(data["K_total"]), atol=1e-12)
