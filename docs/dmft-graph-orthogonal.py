"""Run from the repository root: orthogonal graph networks against the Gaussian graph DMFT (and parallel chains against the orthogonal march)."""
import json, numpy as np
from pathdyn.theory.graph import GraphArchitecture as G
from pathdyn.numerics.dmft_graph import solve_dmft_graph
from pathdyn.numerics.dmft import solve_dmft
from pathdyn.validation.network.graph import simulate_graph_gd
from pathdyn.validation.sweep.cases import default_dataset
ds = default_dataset(); S = ds.modes()[1]
eta, steps, sigma, seeds = 0.05, 160, 0.5, range(8)
out = {}
for name in ("shared_trunk", "two_stream"):
    g = G.from_toml(f"examples/{name}.toml")
    gauss = solve_dmft_graph(g, S, learning_rate=eta, steps=steps, init_scale=sigma).K
    orth = solve_dmft(g.path_lengths, S, learning_rate=eta, steps=steps, init_scale=sigma, init="orthogonal").K if g.pathway_depths() else None
    rows = []
    for width in (128, 256, 512, 1024):
        K = np.stack([simulate_graph_gd(g, ds, width, init="orthogonal", init_scale=sigma, learning_rate=eta, steps=steps, seed=s).K for s in seeds])
        m = K.mean(0); noise = K.std(0, ddof=1).max() / np.sqrt(len(seeds)) / S[0]
        row = {"width": width, "vs_gaussian_dmft": float(np.abs(m - gauss).max() / S[0]), "noise": float(noise)}
        if orth is not None:
            row["vs_orthogonal_march"] = float(np.abs(m - orth).max() / S[0])
        rows.append(row); print(name, row, flush=True)
    out[name] = rows
json.dump({"settings": {"eta": eta, "steps": steps, "sigma": sigma, "seeds": list(seeds), "dataset": ds.name}, "results": out},
          open("docs/dmft-graph-orthogonal.json", "w"), indent=1)
