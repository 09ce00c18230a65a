"""Orthogonal graph networks against the Gaussian graph DMFT (and parallel chains against the orthogonal march).

Run from the repository root: ``python docs/dmft-graph-orthogonal.py`` writes ``docs/dmft-graph-orthogonal.json``.
"""
import json

import numpy as np

from pathdyn.numerics.dmft import solve_dmft
from pathdyn.numerics.dmft_graph import solve_dmft_graph
from pathdyn.theory.graph import GraphArchitecture
from pathdyn.validation.network.graph import simulate_graph_gd
from pathdyn.validation.sweep.cases import default_dataset

ETA, STEPS, SIGMA, SEEDS, WIDTHS = 0.05, 160, 0.5, range(8), (128, 256, 512, 1024)


def study(name, dataset, S):
    """Per width: the seed mean's distance from the Gaussian DMFT (and the orthogonal march), with its noise."""
    graph = GraphArchitecture.from_toml(f"examples/{name}.toml")
    gauss = solve_dmft_graph(graph, S, learning_rate=ETA, steps=STEPS, init_scale=SIGMA).K
    orth = None
    if graph.pathway_depths():
        orth = solve_dmft(graph.path_lengths, S, learning_rate=ETA, steps=STEPS, init_scale=SIGMA, init="orthogonal").K
    rows = []
    for width in WIDTHS:
        K = np.stack([simulate_graph_gd(graph, dataset, width, init="orthogonal", init_scale=SIGMA, learning_rate=ETA,
                                        steps=STEPS, seed=seed).K for seed in SEEDS])
        mean = K.mean(0)
        noise = K.std(0, ddof=1).max() / np.sqrt(len(SEEDS)) / S[0]
        row = {"width": width, "vs_gaussian_dmft": float(np.abs(mean - gauss).max() / S[0]), "noise": float(noise)}
        if orth is not None:
            row["vs_orthogonal_march"] = float(np.abs(mean - orth).max() / S[0])
        rows.append(row)
        print(name, row, flush=True)
    return rows


def main():
    dataset = default_dataset()
    S = dataset.modes()[1]
    results = {name: study(name, dataset, S) for name in ("shared_trunk", "two_stream")}
    settings = {"eta": ETA, "steps": STEPS, "sigma": SIGMA, "seeds": list(SEEDS), "dataset": dataset.name}
    with open("docs/dmft-graph-orthogonal.json", "w") as handle:
        json.dump({"settings": settings, "results": results}, handle, indent=1)


if __name__ == "__main__":
    main()
