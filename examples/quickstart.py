# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # pathdyn quickstart
#
# The three uses in one pass: a **new architecture** -> its learning equations -> LaTeX;
# **integrate** the reduced equations for an ensemble of initial states and check the end
# point with the race oracle; **validate** the theory against finite networks trained by
# gradient descent. Notation and units: `docs/theory.md` (time `t` with `tau = 1`;
# gradient descent with learning rate `eta` reaches `t = eta * step`).

# %% tags=["parameters"]
# Parameters. These are the small CI settings (the notebook runs in about 15 s).
# Full version: WIDTHS = (64, 128, 256, 512, 1024, 2048, 4096), SEEDS = (0, 1, 2),
# ENSEMBLE = 2000 (the default suite's depth-2 case, `pathdyn validate`, takes minutes).
WIDTHS = (64, 256)
SEEDS = (0, 1)
ENSEMBLE = 200

# %%
import matplotlib.pyplot as plt
import numpy as np
import sympy as sp
from IPython.display import Math, display

from pathdyn.numerics import compile_rhs, draw_initial_state, integrate, race_final_strengths
from pathdyn.theory import Architecture, derive_gradient_flow, export_equations, reduce_to_modes
from pathdyn.validation.sweep import validate_width

# %% [markdown]
# ## 1. A new architecture -> equations -> LaTeX
#
# Three pathways of depths 1, 2 and 4, summed at the output. `derive_gradient_flow`
# differentiates the loss `L = 1/2 tr(Omega Sigma_x Omega^T) - tr(Sigma_yx Omega^T)` with
# sympy through every layer; `reduce_to_modes` gives the paper's reduced q/p equations of
# one mode with singular value `S`, with their conserved quantities.

# %%
arch = Architecture(depths=(1, 2, 4))
flow = derive_gradient_flow(arch)
for pathway, layers in enumerate(flow.rhs, start=1):
    for layer, rhs in enumerate(layers, start=1):
        print(f"dW_{pathway}_{layer}/dt =", rhs)

# %%
eqs = reduce_to_modes(arch, model="qp")
for x, rhs in zip(eqs.state, eqs.rhs):
    display(Math(r"\frac{d%s}{dt} = %s" % (sp.latex(x), sp.latex(rhs))))
print("conserved:", [str(inv.expr) for inv in eqs.invariants])

# %% [markdown]
# The same equations as LaTeX: `fragment=True` gives the equations alone, for pasting into
# a paper; without it, a standalone document (`pathdyn derive --depths 1,2,4 --format latex`).

# %%
latex = export_equations(arch, "latex", fragment=True)
print("\n".join(latex.splitlines()[:12]))

# %% [markdown]
# ## 2. Integrate an ensemble, every mode
#
# `compile_rhs` turns the sympy equations into a vectorised `f(t, y, S)`. Initial states
# are drawn as in the paper's code (`p(0) ~ 0.1 N(0, 1)`, `q(0) = sqrt(p(0)^2 + 1)`); the
# whole ensemble, three modes each, is one call.

# %%
f = compile_rhs(eqs)
S = np.array([3.0, 1.5, 0.7])
y0 = draw_initial_state(f, n_modes=3, scale=0.1, seed=0, c=1.0, batch=(ENSEMBLE,))
print("state order:", f.state_names, "initial state:", y0.shape)
traj = integrate(f, y0, S, t_max=20)
print(traj.message, "K:", traj.K.shape, "(times, members, pathways, modes)")

# %%
fig, axes = plt.subplots(1, 3, figsize=(11, 3), sharey=True)
for a, ax in enumerate(axes):
    ax.plot(traj.t, traj.K[:, :30, a, 0], lw=0.6, color=f"C{a}")
    ax.set_title(f"pathway {a + 1} (depth {arch.depths[a]}): $K_{{{a + 1},1}}(t)$")
    ax.set_xlabel("$t$")
    ax.set_xlim(0, 3)  # every member has settled by t = 3; the integration ran to t = 20
axes[0].set_ylabel("mode 1, 30 members")
fig.tight_layout()

# %% [markdown]
# ## 3. The race oracle
#
# With the conserved `c_a = q_a^2 - p_a^2` every pathway races on one common error signal,
# so the final split of each mode solves one scalar equation: no ODE solver. It must agree
# with the integrated end point.

# %%
# q of the depth-1 pathway does not exist; the oracle ignores its row (any positive value).
names = f.state_names
q0 = np.stack([y0[:, names.index(f"q_{a}")] if f"q_{a}" in names else np.ones((ENSEMBLE, 3))
               for a in (1, 2, 3)], axis=1)
p0 = np.stack([y0[:, names.index(f"p_{a}")] for a in (1, 2, 3)], axis=1)
final = race_final_strengths(arch.depths, q0, p0, S)          # (members, pathways, modes)
gap = np.max(np.abs(final - traj.K[-1])) / S[0]
print(f"race oracle vs integrator at t = 20: max |dK| / S_1 = {gap:.1e}")
print("mean share of mode 1 per pathway:", np.round(final[:, :, 0].mean(axis=0) / S[0], 3))

# %% [markdown]
# ## 4. Validate against finite networks
#
# Networks of two depth-2 pathways trained by gradient descent on whitened data with
# singular values 2, 1.4, 0.9, 0.5; each network's own initial weights are mapped to the
# q/p initial state (exact at depth 2) and the error
# `max over t, pathways, modes |K_GD - K_theory| / S_1` is measured against width.

# %%
report = validate_width((2, 2), widths=WIDTHS, seeds=SEEDS, learning_rate=0.005, t_max=10)
print(report.verdict)
for width, errors in zip(report.widths, report.errors):
    print(f"width {width:5d}: errors {np.round(errors, 4)}")

# %%
ex = report.example
fig, ax = plt.subplots(figsize=(6, 3.5))
for a in range(2):
    for m in range(4):
        ax.plot(ex["t"], ex["K_gd"][:, a, m], color=f"C{m}", ls="-" if a == 0 else "--", lw=1.5)
        ax.plot(ex["t"], ex["K_theory"][:, a, m], color="k", ls=":", lw=1)
ax.set_xlabel("$t = \\eta \\cdot$ step")
ax.set_ylabel("$K_{a\\alpha}(t)$")
ax.set_title(f"width {ex['width']}, seed {ex['seed']}: GD (solid: pathway 1, dashed: 2), theory (dotted)", fontsize=10)
fig.tight_layout()
