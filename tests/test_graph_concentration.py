"""Concentration over the paths of graphs, and the random-initialisation width sweep (small, fast cases)."""

from pathlib import Path

import numpy as np
import pytest

from pathdyn.errors import ConfigError
from pathdyn.numerics.datasets import random_dataset
from pathdyn.theory.graph import GraphArchitecture
from pathdyn.validation.sweep.graph_concentration import measure_graph_concentration, stream_shares
from pathdyn.validation.sweep.graph import graph_width_sweep, half_times

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def example(name) -> GraphArchitecture:
    return GraphArchitecture(edges=GraphArchitecture.from_toml(EXAMPLES / f"{name}.toml").edges)


def test_stream_shares_group_paths_by_first_and_last_edge():
    graph = example("two_stream_cross")
    assert [(p[0][1], p[-1][0]) for p in graph.paths] == [("a1", "a2"), ("a1", "b2"), ("b1", "b2"), ("b1", "a2")]
    K = np.array([[1.0], [3.0], [-4.0], [0.0]])  # (paths, modes)
    np.testing.assert_allclose(stream_shares(K, graph, "path")[:, 0], [0.125, 0.375, 0.5, 0.0])
    np.testing.assert_allclose(stream_shares(K, graph, "input")[:, 0], [0.5, 0.5])
    np.testing.assert_allclose(stream_shares(K, graph, "output")[:, 0], [0.125, 0.875])
    with pytest.raises(ConfigError, match="grouping"):
        stream_shares(K, graph, "edge")


def test_concentration_summary_on_a_small_run():
    data = random_dataset([2.0, 1.0], n_in=3, n_out=3, seed=0)
    result = measure_graph_concentration(example("shared_trunk"), data, seeds=(0, 1), width=8, t_max=30)
    assert result.finished.all() and result.final_K.shape == (2, 2, 2)
    summary = result.summary
    assert summary["input"]["trivial"] and summary["input"]["mean"] == 1.0  # one edge out of x
    assert 0.5 <= summary["output"]["ci"][0] <= summary["output"]["mean"] <= summary["output"]["ci"][1] <= 1.0
    np.testing.assert_allclose(result.final_K.sum(axis=1), [[2.0, 1.0]] * 2, rtol=2e-2)


def test_width_sweep_reports_half_times_and_distances():
    assert np.allclose(half_times([0, 1, 2], [[0.0, 0.0], [0.6, 0.1], [1.0, 0.2]], [1.0, 1.0]), [1.0, np.nan],
                       equal_nan=True)
    data = random_dataset([2.0, 1.0], n_in=3, n_out=3, seed=0)
    report = graph_width_sweep(example("visual_cortex"), data, [8, 16], seeds=(0, 1), t_max=4, record_dt=0.5)
    assert report["per_width"][-1]["distance_to_widest"] == 0.0
    assert all(np.isfinite(h["mean"]) for h in report["per_width"][0]["half_time"])


@pytest.mark.parametrize("init, model, mapping", [("gaussian", "qp", "growth-matched"),
                                                 ("orthogonal", "two-channel", "projection")])
def test_width_sweep_compares_parallel_graphs_with_a_reduced_model(init, model, mapping):
    data = random_dataset([2.0, 1.0], n_in=3, n_out=3, seed=0)
    report = graph_width_sweep(example("two_pathways"), data, [8], seeds=(0,), init=init, t_max=3, record_dt=0.5)
    theory = report["per_width"][0]["theory_error"]
    assert (theory["model"], theory["mapping"]) == (model, mapping) and np.isfinite(theory["median"])
    assert "theory_error" not in graph_width_sweep(example("visual_cortex"), data, [8], seeds=(0,), t_max=1)["per_width"][0]


def test_width_sweep_verdict_follows_the_rules_of_validate():
    """Issue 18.10: the same verdict rules as ``pathdyn validate`` (sweep_verdict), its numbers in the JSON.

    Two widths are "inconclusive" and name the width to add; three widths and two seeds give a
    slope with its interval and never a limit claim (no O(eta) floor is measured).
    """
    import json

    from pathdyn.validation.sweep.verdicts import sweep_verdict

    data = random_dataset([2.0, 1.0], n_in=3, n_out=3, seed=0)
    few = graph_width_sweep(example("two_pathways"), data, [8, 16], seeds=(0, 1), t_max=2, record_dt=0.5)
    assert few["verdict"].startswith("inconclusive: 2 width(s) and 2 seed(s)") and "add 1 more width(s)" in few["verdict"]
    assert few["passed"] is None and few["evidence"]["enough_data"] is False
    report = graph_width_sweep(example("two_stream_cross"), data, [8, 16, 32], seeds=(0, 1), t_max=2, record_dt=0.5)
    assert report["evidence"]["enough_data"] and "seed mean" in report["compared"]
    assert "O(eta) floor not measured" in report["verdict"] and "no claim about a limit" in report["verdict"] and "limit of" not in report["verdict"]
    errors = [entry["seed_deviation"] for entry in report["per_width"]]
    expected, _ = sweep_verdict(report["slope"], tuple(report["slope_ci"]), report["evidence"]["tail_slope"], errors,
                                [8, 16, 32], None, {}, expected_exact=False)
    assert report["verdict"] == expected
    json.dumps({key: report[key] for key in ("verdict", "slope", "slope_ci", "evidence")}, allow_nan=False)
