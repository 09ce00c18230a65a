"""Concentration over paths with the graph DMFT beside the networks' seed mean."""

import numpy as np
import pytest

from pathdyn.errors import ConfigError
from pathdyn.validation.sweep.cases import default_dataset
from pathdyn.validation.sweep.graph_concentration import measure_graph_concentration, shortcut_graph


def test_dmft_shares_sit_on_the_seed_mean_of_a_chain_with_a_skip():
    """Chain of depth 4 with the skip h1 -> y: the seed mean of 8 width-256 networks gives each
    path the DMFT's K within 4 standard errors plus 1% of S_1 (measured: share gap 0.007).

    A wrong prediction fails: the shares of the reversed paths (the skip taking the deep path's
    share) are off by 0.5.
    """
    dataset = default_dataset()
    graph = shortcut_graph(4, leaves=1)
    result = measure_graph_concentration(graph, dataset, range(8), width=256, learning_rate=0.05, t_max=20, dmft=True)
    assert result.finished.all()
    summary = result.summary["dmft"]
    mean, noise = np.array(summary["seed_mean_K"]), np.array(summary["standard_error_K"])
    assert np.all(np.abs(mean - result.dmft_final_K) <= 4 * noise + 0.01 * 2.0)
    assert summary["path"]["largest_gap"] < 0.02
    shares = np.array(summary["path"]["dmft_shares"])
    assert np.all(shares[1] > 0.75)  # the skip (path length 2) takes most of every mode
    assert np.max(np.abs(mean / mean.sum(axis=0) - shares[::-1])) > 0.4


def test_shortcut_graphs():
    assert shortcut_graph(4, enters=2).path_lengths == (4, 3)
    assert shortcut_graph(5, leaves=2).path_lengths == (5, 3)
    with pytest.raises(ConfigError, match="leaves"):
        shortcut_graph(4, leaves=3)
    with pytest.raises(ConfigError, match="exactly one"):
        shortcut_graph(4)


def test_dmft_beside_concentration_refuses_what_it_does_not_model():
    with pytest.raises(ConfigError, match="dmft"):
        measure_graph_concentration(shortcut_graph(4, leaves=1), default_dataset(), (0,), width=8, activation="relu",
                                    t_max=1, dmft=True)
