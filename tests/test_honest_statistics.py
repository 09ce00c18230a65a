"""Statistics that cannot be faked (issue 20.3): repeated seeds, a time shorter than one step,
a floor that cannot be measured and a learning rate above the stability limit.

Each test fails on the code before these checks (checked with ``PYTHONPATH`` on the old
tree): ``ValidationCase(seeds=(0, 0, 0))`` and ``TrainingTime(0.005, 0.001)`` were accepted,
``dmft-finite-width`` silently dropped repeated seeds, a zero floor gave "infinitely many
times the O(eta) floor", and no verdict noted an unstable learning rate.
"""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pathdyn._base.settings import TrainingTime
from pathdyn.cli.main import main
from pathdyn.errors import ConfigError
from pathdyn.validation.sweep.cases import ValidationCase
from pathdyn.validation.sweep.verdicts import (
    ROUNDING_ULPS, limit_evidence, richardson_floor, stability_limit, sweep_verdict)

SETTINGS = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def _refused(argv, tmp_path, monkeypatch, capsys, option: str) -> str:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "OLD.json").write_bytes(b"previous result")
    status = main(argv)
    err = capsys.readouterr().err
    assert status == 2 and err.count("\n") == 1 and err.split("error: ")[1].startswith(option), (argv, err)
    assert [p.name for p in tmp_path.iterdir()] == ["OLD.json"]
    assert (tmp_path / "OLD.json").read_bytes() == b"previous result"
    return err


@SETTINGS
@given(seeds=st.lists(st.integers(0, 20), min_size=2, max_size=6).filter(lambda s: len(set(s)) < len(s)))
def test_repeated_seeds_are_refused(seeds, tmp_path, monkeypatch, capsys):
    """``--seeds 0,0,0`` is one network three times: its zero spread would shrink the interval to nothing."""
    text = ",".join(map(str, seeds))
    with pytest.raises(ConfigError, match="repeats seed"):
        ValidationCase(depths=(2, 2), widths=(8, 16, 32), seeds=tuple(seeds))
    _refused(["validate", "--widths", "8,16,32", "--seeds", text, "-o", "OLD.json"], tmp_path, monkeypatch, capsys,
             "--seeds")
    _refused(["dmft-finite-width", "--depths", "2,2", "--widths", "8", "--seeds", text, "-o", "OLD.json"], tmp_path,
             monkeypatch, capsys, "--seeds")


@SETTINGS
@given(eta=st.floats(1e-4, 1.0), fraction=st.floats(1e-6, 0.999))
def test_a_time_shorter_than_one_step_is_refused(eta, fraction, tmp_path, monkeypatch, capsys):
    """Before: ``steps = max(1, ...)`` trained one whole step (up to 1e6 x the time asked) and gave a verdict."""
    t_max = eta * fraction
    with pytest.raises(ConfigError, match="shorter than one gradient step"):
        TrainingTime(eta, t_max)
    err = _refused(["validate", "--learning-rate", repr(eta), "--t-max", repr(t_max), "-o", "OLD.json"], tmp_path,
                   monkeypatch, capsys, "--t-max")
    assert "--learning-rate" in err
    assert TrainingTime(eta, eta).steps == 1  # exactly one step is a time the run can reach


def test_a_floor_at_rounding_is_not_measured():
    """Runs at eta and eta/2 that agree to rounding measure no floor; a verdict then claims nothing against it.

    A deliberately wrong variant (the old ``2 max|dK| / S``) returns 0.0 for identical runs,
    and the verdict said "infinitely many times the O(eta) floor".
    """
    K = np.linspace(1e-60, 2e-60, 50)
    assert richardson_floor(K, K, 2e-60) is None
    assert richardson_floor(K, K * (1 + 4 * np.finfo(float).eps), 2e-60) is None  # a few ulps: rounding
    assert richardson_floor(K, K * (1 + 10 * ROUNDING_ULPS * np.finfo(float).eps), 2e-60) > 0
    assert richardson_floor(K, K + 1e-3 * K, 2e-60) == pytest.approx(2 * 1e-3 * 2e-60 / 2e-60)
    widths, errors = (8, 16, 32), np.array([[0.3, 0.31], [0.2, 0.21], [0.1, 0.11]])
    evidence = limit_evidence(widths, errors, 0.0)
    assert evidence["floor_ratio"] is None and not evidence["well_above_floor"]
    verdict, _ = sweep_verdict(-0.5, (-0.9, -0.1), -0.5, errors, widths, 0.0, {}, expected_exact=False)
    assert "infinitely" not in verdict and "not measurable" in verdict


def _numeric_sharpness(depths, shares, k, lam=1.0) -> float:
    """Largest Hessian eigenvalue of ``lam/2 (sum_a prod_i w_ai - k)^2`` at balanced layers carrying ``shares``."""
    weights = np.concatenate([np.full(d, (share * k) ** (1.0 / d)) for d, share in zip(depths, shares)])
    bounds = np.cumsum([0, *depths])

    def gradient_factors(w):
        g = []
        for a, d in enumerate(depths):
            layer = w[bounds[a]:bounds[a + 1]]
            g += [np.prod(np.delete(layer, i)) for i in range(d)]
        return np.array(g)

    g = gradient_factors(weights)  # at the solution the Hessian is lam g g^T
    return float(lam * g @ g)


@settings(max_examples=40, deadline=None)
@given(depths=st.lists(st.integers(1, 6), min_size=1, max_size=4), k=st.floats(0.05, 20.0), lam=st.floats(0.2, 5.0),
       split=st.lists(st.floats(0.0, 1.0), min_size=4, max_size=4))
def test_stability_limit_is_two_over_the_largest_sharpness(depths, k, lam, split):
    """``2 / stability_limit`` bounds the sharpness of every split of the mode, and a one-pathway split reaches it.

    Independent of the formula: the Hessian at the solution is ``lam g g^T`` with ``g`` the
    products of the other layers, computed here from the weights. A variant without the
    depth-1 pathways' constant term (or with exponent 2 instead of 2 - 2/D) fails.
    """
    shares = np.array(split[:len(depths)]) + 1e-9
    shares = shares / shares.sum()
    bound = 2.0 / stability_limit(depths, [k * lam], [lam])
    assert _numeric_sharpness(depths, shares, k, lam) <= bound * (1 + 1e-9)
    one_pathway = [_numeric_sharpness(depths, np.eye(len(depths))[a], k, lam) for a in range(len(depths))]
    assert max(one_pathway) == pytest.approx(bound, rel=1e-9)


def test_gradient_descent_diverges_just_above_the_limit_and_not_below():
    """The limit is where a scalar chain's perturbation at the solution stops shrinking (the estimate is tight)."""
    for depths, k in itertools.product([(2,), (3,), (2, 4)], [0.5, 2.0]):
        limit = stability_limit(depths, [k])
        deepest = max(range(len(depths)), key=lambda a: depths[a] * k ** (2 - 2 / depths[a]))
        for factor, grows in ((0.95, False), (1.05, True)):
            eta = factor * limit
            w = [np.full(d, (k if a == deepest else 0.0) ** (1 / d)) for a, d in enumerate(depths)]
            w[deepest] = w[deepest] * (1 + 1e-6)
            start = abs(sum(np.prod(x) for x in w) - k)
            for _ in range(400):
                residual = sum(np.prod(x) for x in w) - k
                w = [x - eta * residual * np.array([np.prod(np.delete(x, i)) for i in range(len(x))]) for x in w]
            assert (abs(sum(np.prod(x) for x in w) - k) > start) == grows, (depths, k, factor)


def test_a_verdict_notes_an_unstable_learning_rate(tmp_path, monkeypatch, capsys):
    """Above the limit (about 0.5 for depths 2,2 and S_1 = 2) the verdict says so; below it says nothing."""
    from pathdyn.validation.sweep.width import validate_width

    common = dict(seeds=(0, 1), measure_lr_floor=False, init_scale=0.3)
    above = validate_width((2, 2), (8, 16, 32), learning_rate=0.6, t_max=3.0, **common)
    below = validate_width((2, 2), (8, 16, 32), learning_rate=0.2, t_max=3.0, **common)
    assert "stability limit" in above.verdict and "0.5" in above.verdict
    assert "stability limit" not in below.verdict


def test_the_dmft_verdict_notes_an_unstable_learning_rate_too(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    argv = ["validate", "--theory", "dmft", "--depths", "2,2", "--widths", "16,32,64", "--seeds", "0,1", "--t-max", "1.1",
            "--no-progress"]
    assert main([*argv, "--learning-rate", "0.55"]) == 0
    assert "stability limit" in capsys.readouterr().out
    assert main([*argv, "--learning-rate", "0.1"]) == 0
    assert "stability limit" not in capsys.readouterr().out


GRAPHS = Path(__file__).resolve().parent.parent / "examples"


def _graph_sharpness_on_one_path(graph, path, k: float) -> float:
    """``|dK/ds|^2`` at the solution where ``path`` carries ``k`` with balanced edges, every other edge 0.

    Independent of the formula: ``K`` is the sum over the listed paths of the products of their
    edge strengths, differentiated here edge by edge.
    """
    strength = {edge: (k ** (1 / len(path)) if edge in path else 0.0) for edge in graph.edges}
    gradient = [sum(np.prod([strength[f] for f in p if f != edge]) for p in graph.paths if edge in p)
                for edge in graph.edges]
    return float(np.dot(gradient, gradient))


@pytest.mark.parametrize("name", ["two_stream", "trunk_cross_skip", "shared_trunk", "two_stream_cross", "mouse_visual_cortex"])
def test_the_graph_limit_is_never_below_a_one_path_solution_s_own(name):
    """The note's promise: above the graph's limit every one-path solution of the deepest kind is
    unstable. A path's own edges give the pathway's sharpness, edges between its nodes add to it,
    so ``2 / limit`` is at most the sharpest one-path solution's and equal to it without such edges."""
    from pathdyn.theory.graph import GraphArchitecture

    graph = GraphArchitecture.from_toml(GRAPHS / f"{name}.toml")
    assert graph.distinct_path_lengths == tuple(sorted(set(graph.path_lengths)))  # against the listed paths
    for k in (0.5, 2.0):
        bound = 2.0 / stability_limit(graph.distinct_path_lengths, [k])
        sharpest = max(_graph_sharpness_on_one_path(graph, path, k) for path in graph.paths)
        assert sharpest >= bound * (1 - 1e-9)
        if name == "two_stream":  # parallel chains: the bound is reached
            assert sharpest == pytest.approx(bound, rel=1e-9)


def test_path_depths_of_a_long_chain_without_listing_or_recursion():
    from pathdyn.theory.graph import GraphArchitecture

    chain = ["x", *[f"h{i}" for i in range(1, 1200)], "y"]
    graph = GraphArchitecture(edges=list(zip(chain[:-1], chain[1:])))
    assert graph.distinct_path_lengths == (1200,)


def test_a_graph_verdict_notes_an_unstable_learning_rate():
    """two_stream (depth-3 paths, S_1 = 2): limit about 0.26; a few steps above it get the note, below not."""
    from pathdyn.theory.graph import GraphArchitecture
    from pathdyn.validation.sweep.cases import default_dataset
    from pathdyn.validation.sweep.graph import graph_width_sweep

    graph = GraphArchitecture.from_toml(GRAPHS / "two_stream.toml")
    common = dict(seeds=(0, 1), t_max=1.2, record_dt=0.3)
    above = graph_width_sweep(graph, default_dataset(), (4, 8), learning_rate=0.3, **common)
    below = graph_width_sweep(graph, default_dataset(), (4, 8), learning_rate=0.1, **common)
    assert "stability limit" in above["verdict"] and "0.265" in above["verdict"]
    assert "stability limit" not in below["verdict"]


def test_the_graph_dmft_verdict_notes_an_unstable_learning_rate_too():
    from pathdyn.theory.graph import GraphArchitecture
    from pathdyn.validation.sweep.dmft_graph import validate_dmft_graph_width

    graph = GraphArchitecture.from_toml(GRAPHS / "two_stream.toml")
    common = dict(widths=(8, 16), seeds=(0, 1), init_scale=0.5)
    above = validate_dmft_graph_width(graph, learning_rate=0.3, t_max=0.6, **common)
    below = validate_dmft_graph_width(graph, learning_rate=0.1, t_max=0.6, **common)
    assert "stability limit" in above.verdict and "stability limit" not in below.verdict
