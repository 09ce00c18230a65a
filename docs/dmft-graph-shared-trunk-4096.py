"""Run from the repository root: python docs/dmft-graph-shared-trunk-4096.py 4096 32 (the seed mean of shared_trunk networks at one width vs the DMFT)."""
import json, math, sys, time
import numpy as np
from pathdyn.theory.graph import GraphArchitecture as G
from pathdyn.numerics.dmft_graph import solve_dmft_graph
from pathdyn.validation.network.graph import simulate_graph_gd
from pathdyn.validation.sweep.cases import default_dataset
from pathdyn.validation.sweep.dmft import seed_mean_statistics
g = G.from_toml("examples/shared_trunk.toml"); ds = default_dataset(); S = ds.modes()[1]
width, seeds = int(sys.argv[1]), range(int(sys.argv[2]))
theory = solve_dmft_graph(g, S, learning_rate=0.05, steps=160, init_scale=0.5).K
started = time.time()
stack = np.stack([simulate_graph_gd(g, ds, width, init="gaussian", init_scale=0.5, learning_rate=0.05, steps=160, seed=s).K for s in seeds])
st = seed_mean_statistics([stack], theory, float(S[0]))
out = {"width": width, "seeds": len(seeds), "ensemble": float(st.ensemble[0]), "noise": float(st.standard[0]),
       "total": float(st.total_errors[0]), "total_noise": float(st.total_standard[0]), "wall_s": time.time() - started}
print(json.dumps(out)); json.dump(out, open(f"docs/dmft-graph-shared-trunk-{width}.json", "w"))
