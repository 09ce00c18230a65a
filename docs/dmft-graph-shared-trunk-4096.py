"""The seed mean of shared_trunk networks at one width against the graph DMFT.

Run from the repository root: ``python docs/dmft-graph-shared-trunk-4096.py 4096 32`` (width, seeds) writes
``docs/dmft-graph-shared-trunk-4096.json``.
"""
import json
import sys
import time

import numpy as np

from pathdyn.numerics.dmft_graph import solve_dmft_graph
from pathdyn.theory.graph import GraphArchitecture
from pathdyn.validation.network.graph import simulate_graph_gd
from pathdyn.validation.sweep.cases import default_dataset
from pathdyn.validation.sweep.dmft import seed_mean_statistics

ETA, STEPS, SIGMA = 0.05, 160, 0.5


def main(width, num_seeds):
    graph = GraphArchitecture.from_toml("examples/shared_trunk.toml")
    dataset = default_dataset()
    S = dataset.modes()[1]
    theory = solve_dmft_graph(graph, S, learning_rate=ETA, steps=STEPS, init_scale=SIGMA).K
    started = time.time()
    stack = np.stack([simulate_graph_gd(graph, dataset, width, init="gaussian", init_scale=SIGMA, learning_rate=ETA,
                                        steps=STEPS, seed=seed).K for seed in range(num_seeds)])
    stats = seed_mean_statistics([stack], theory, float(S[0]))
    out = {"width": width, "seeds": num_seeds, "ensemble": float(stats.ensemble[0]), "noise": float(stats.standard[0]),
           "total": float(stats.total_errors[0]), "total_noise": float(stats.total_standard[0]),
           "wall_s": time.time() - started}
    print(json.dumps(out))
    with open(f"docs/dmft-graph-shared-trunk-{width}.json", "w") as handle:
        json.dump(out, handle)


if __name__ == "__main__":
    main(int(sys.argv[1]), int(sys.argv[2]))
