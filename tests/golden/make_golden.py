"""Regenerate the stored outputs of ``tests/test_golden.py`` (the behaviour lock).

Run from the repository root only when a change of behaviour is intended, and say why in
the commit: ``python tests/golden/make_golden.py``. Every case is built by the same
functions the test calls (:func:`cases`), so the test and the generator cannot drift.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent

#: Architectures whose JSON export is locked, whitened and for aligned general inputs.
EXPORT_DEPTHS = ((1, 2), (2, 3), (3, 3, 5))

#: Times at which integrated strengths are stored.
TIMES = np.array([0.0, 0.5, 2.0, 5.0, 12.0])


def export_json(depths, whitened: bool) -> str:
    """The JSON export of one architecture."""
    from pathdyn.theory.architecture import Architecture
    from pathdyn.theory.export import export_equations

    return export_equations(Architecture(depths=tuple(depths), whitened=whitened), format="json")


#: Text and LaTeX documents whose bytes are locked (the printers of every export):
#: ``name -> (what, format, options)``; ``what`` is a depths tuple, ``"dmft:3,4"`` or a graph file.
DOCUMENT_CASES = {
    "export_2-3_whitened.txt": ((2, 3), "text", {}),
    "export_3-3-5_general.txt": ((3, 3, 5), "text", {"whitened": False}),
    "export_2-3_whitened.tex": ((2, 3), "latex", {}),
    "export_3-3-5_general_prod.tex": ((3, 3, 5), "latex", {"whitened": False, "prod": True, "label_prefix": "deep"}),
    "export_1-4_ungrouped_fragment.tex": ((1, 4), "latex", {"grouped": False, "fragment": True}),
    "dmft_3-4.txt": ("dmft:3,4", "text", {}),
    "dmft_3-4.tex": ("dmft:3,4", "latex", {}),
    "dmft_3-4.json": ("dmft:3,4", "json", {}),
    "graph_visual_cortex.txt": ("examples/visual_cortex.toml", "text", {}),
    "graph_visual_cortex.tex": ("examples/visual_cortex.toml", "latex", {}),
    "graph_visual_cortex_per_edge.tex": ("examples/visual_cortex.toml", "latex", {"per_edge": True}),
    "graph_visual_cortex.json": ("examples/visual_cortex.toml", "json", {}),
    "graph_visual_cortex_path_sums.txt": ("examples/visual_cortex.toml", "text", {"form": "path-sums"}),
}


def export_document(name: str) -> str:
    """The export :data:`DOCUMENT_CASES` names, made by the public export functions."""
    from pathdyn.theory.architecture import Architecture
    from pathdyn.theory.dmft import export_dmft
    from pathdyn.theory.export import export_equations
    from pathdyn.theory.graph import GraphArchitecture

    what, format, options = DOCUMENT_CASES[name]
    options = dict(options)
    if isinstance(what, tuple):
        architecture = Architecture(depths=what, whitened=options.pop("whitened", True))
        return export_equations(architecture, format=format, **options)
    if what.startswith("dmft:"):
        return export_dmft(tuple(int(d) for d in what[5:].split(",")), format=format, **options)
    return export_equations(GraphArchitecture.from_toml(HERE.parents[1] / what), format=format, **options)


def write_documents() -> None:
    """Write every locked text/LaTeX document under ``documents/``."""
    folder = HERE / "documents"
    folder.mkdir(exist_ok=True)
    for name in DOCUMENT_CASES:
        (folder / name).write_text(export_document(name))


def export_name(depths, whitened: bool) -> str:
    return f"export_{'-'.join(map(str, depths))}_{'whitened' if whitened else 'general'}.json"


def _fixed_qp_state(equations, rng_seed: int = 3):
    from pathdyn.numerics.initial import draw_initial_state

    return draw_initial_state(equations, n_modes=2, scale=0.05, seed=rng_seed, c=0.4, batch=(3,))


def _fixed_two_channel_state(equations, rng_seed: int = 4):
    rng = np.random.default_rng(rng_seed)
    return 0.4 * rng.standard_normal((3, len(equations.state), 2))


def integration_cases():
    """``name -> (K at TIMES, state at TIMES, loss at TIMES)`` for fixed initial states."""
    from pathdyn.numerics.integrate import integrate
    from pathdyn.theory.architecture import Architecture
    from pathdyn.theory.reduced import reduce_to_modes

    S = np.array([2.0, 0.9])
    out = {}
    specs = [
        ("qp_2-3", (2, 3), True, "qp"),
        ("qp_1-3_general", (1, 3), False, "qp"),
        ("layer_2-3", (2, 3), True, "layer"),
        ("two-channel_2-3", (2, 3), True, "two-channel"),
        ("two-channel_1-3_general", (1, 3), False, "two-channel"),
    ]
    for name, depths, whitened, model in specs:
        eqs = reduce_to_modes(Architecture(depths=depths, whitened=whitened), model=model)
        y0 = _fixed_two_channel_state(eqs) if model == "two-channel" else _fixed_qp_state(eqs)
        parameters = None if whitened else {"lambda": np.array([1.5, 0.7])}
        for method in ("LSODA", "rosenbrock"):
            traj = integrate(eqs, y0, S, TIMES[-1], t_eval=TIMES, method=method, rtol=1e-10, atol=1e-12,
                             parameters=parameters)
            out[f"{name}_{method}_K"] = traj.K
            out[f"{name}_{method}_loss"] = traj.loss
            out[f"{name}_{method}_state"] = traj.state
    return out


def initial_state_cases():
    """Initial-state builders and mappings: ``name -> array`` (bit-identical)."""
    from pathdyn.numerics.datasets import random_dataset
    from pathdyn.numerics.initial import draw_initial_state, qp_initial_state
    from pathdyn.theory.reduced import reduce_to_modes
    from pathdyn.validation.mapping import map_initial_state
    from pathdyn.validation.network import initialize_weights

    out = {}
    rng = np.random.default_rng(11)
    q0 = 1.0 + 0.1 * rng.standard_normal((2, 3))
    p0 = 0.1 * rng.standard_normal((2, 3))
    for model in ("qp", "layer", "race"):
        eqs = reduce_to_modes((1, 3) if model == "race" else (2, 3), model=model)
        out[f"qp_initial_{model}"] = qp_initial_state(eqs, q0, p0)
        out[f"draw_initial_{model}"] = draw_initial_state(eqs, 3, 0.2, seed=5, c=0.7, batch=(2,))
    data = random_dataset((2.0, 1.4, 0.9), seed=1)
    U, _, Vt = data.modes()
    for depths, theory, method in (((2, 2), "qp", "exact"), ((2, 3), "qp", "growth-matched"),
                                   ((1, 3), "qp", "naive"), ((2, 4), "two-channel", "projection"),
                                   ((1, 3), "two-channel", "projection")):
        weights = initialize_weights(depths, data.n_in, data.n_out, 12, init="orthogonal", init_scale=0.5, seed=2)
        state = map_initial_state(weights, U, Vt.T, theory=theory, method=method, init_scale=0.5)
        eqs = reduce_to_modes(depths, model=theory)
        out[f"mapping_{'-'.join(map(str, depths))}_{method}"] = state.state_array(eqs)
    return out


def phase_plane_cases():
    """The phase-plane vector field on a grid (compared to a tight tolerance)."""
    from pathdyn.numerics.phase_plane import strength_vector_field
    from pathdyn.theory.reduced import reduce_to_modes

    span = np.linspace(-1.0, 11.0, 7)
    K1, K2 = np.meshgrid(span, span)
    out = {}
    for depths in ((2, 2), (1, 3), (3, 5)):
        U, V = strength_vector_field(K1, K2, reduce_to_modes(depths), 1.0, 10.0)
        out[f"field_{'-'.join(map(str, depths))}"] = np.stack([U, V])
    return out


def simulation_cases():
    """Finite-width gradient descent of fixed seeds: ``name -> array`` (bit-identical)."""
    from pathdyn.numerics.datasets import random_dataset
    from pathdyn.validation.network import simulate_gd

    data = random_dataset((2.0, 1.4, 0.9), seed=1)
    out = {}
    specs = [
        ("gauss_2-3", dict(architecture=(2, 3), width=16, init="gaussian", seed=3)),
        ("orth_3-3", dict(architecture=(3, 3), width=12, init="orthogonal", seed=4)),
        ("relu_2-2", dict(architecture=(2, 2), width=10, activation="relu", seed=5)),
        ("seeds_1-2", dict(architecture=(1, 2), width=8, seeds=(6, 7))),
    ]
    for name, spec in specs:
        traj = simulate_gd(dataset=data, learning_rate=0.05, steps=40, record_every=10, **spec)
        out[f"{name}_K"] = traj.K
        out[f"{name}_loss"] = traj.loss
        out[f"{name}_t"] = traj.t
    return out


def main() -> None:
    for depths in EXPORT_DEPTHS:
        for whitened in (True, False):
            (HERE / export_name(depths, whitened)).write_text(export_json(depths, whitened))
    write_documents()
    np.savez_compressed(HERE / "integrations.npz", **integration_cases())
    np.savez_compressed(HERE / "initial_states.npz", **initial_state_cases())
    np.savez_compressed(HERE / "phase_plane.npz", **phase_plane_cases())
    np.savez_compressed(HERE / "simulations.npz", **simulation_cases())


if __name__ == "__main__":
    main()
