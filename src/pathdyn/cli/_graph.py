"""What the general commands do with a ``[graph]`` architecture (``--architecture FILE.toml``).

Every command takes ``--architecture`` of either form; the pathway code paths stay where
they are and these helpers hold what differs for a graph: its reduced per-edge model,
its initial strengths, its checks (linear theory, options that only pathways have) and
its outputs (the paths, listed when they are few enough). The data checks are the ones
pathway runs get (:func:`pathdyn.cli._common.modes_from_options`,
:func:`pathdyn.numerics.mode_inputs.dataset_modes`): whitened or not, input variances,
misalignment refused with its measured value.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from pathdyn._base.checks import real_array
from pathdyn.cli._common import use_file_backend
from pathdyn.cli.outputs import print_summary
from pathdyn.errors import ArchitectureError, ConfigError, SimulationError
from pathdyn.io.simulation_files import run_config, save_run_file
from pathdyn.numerics.plotting import plot_mode_trajectories
from pathdyn.theory.graph import GraphArchitecture
from pathdyn.validation.network.graph import GRAPH_INITS, simulate_graph_gd

__all__ = [
    "GRAPH_MODEL",
    "check_graph_model",
    "check_graph_widths",
    "check_linear_graph",
    "draw_edge_strengths",
    "graph_activation",
    "graph_paths_note",
    "load_edge_strengths",
    "refuse_graph",
    "simulate_graph",
    "total_only",
]

#: The reduced model of a graph: per-edge strengths of one mode (``derive_graph_mode_equations``).
#: ``--model qp`` (every command's default) names it for a graph: on parallel pathways it is
#: the paper's q/p model written per edge.
GRAPH_MODEL = "qp"
#: Paths drawn one panel each in a figure; above, the figure shows the total ``K``.
MAX_PLOTTED_PATHS = 6


def check_graph_model(model: str, option: str = "--model") -> None:
    """Refuse a reduced model other than the graph's per-edge one, naming the option.

    Parameters
    ----------
    model : str
        The ``--model`` (or ``--theory``) value.
    option : str
        The option, for the message.

    Raises
    ------
    ConfigError
        For any model but :data:`GRAPH_MODEL`.
    """
    if model != GRAPH_MODEL:
        raise ConfigError(f"{option} {model}: a [graph] architecture has one per-mode reduced model, the per-edge "
                          f"strengths of each mode ({option} {GRAPH_MODEL}, the default), and the DMFT ({option} dmft); "
                          f"drop {option} or use --depths for pathways")


def check_linear_graph(graph: GraphArchitecture, source: str, why: str) -> None:
    """Refuse a graph whose TOML gives a hidden node a non-linear activation where the theory is linear.

    Parameters
    ----------
    graph : GraphArchitecture
        The graph.
    source : str
        Where it came from (``"--architecture FILE"``).
    why : str
        What needs the linear network (``"validate compares with the linear reduced model"``).

    Raises
    ------
    ArchitectureError
        Naming the non-linear nodes and the fix.
    """
    nonlinear = {n: graph.activation(n) for n in graph.hidden_nodes if graph.activation(n) != "linear"}
    if nonlinear:
        nodes = ", ".join(f"{n} = {a}" for n, a in nonlinear.items())
        raise ArchitectureError(f"{source}: activations {nodes}, but {why}; remove the activations from the [graph] "
                                "table (pathdyn simulate and concentration train non-linear graphs)")


def draw_edge_strengths(num_edges: int, n_modes: int, scale: float, seed: int) -> np.ndarray:
    """Random initial edge strengths ``s_e ~ scale N(0, 1)``, independently per edge and mode.

    Parameters
    ----------
    num_edges, n_modes : int
        The state's shape.
    scale : float
        Standard deviation (> 0).
    seed : int
        Seed of the draw.

    Returns
    -------
    ndarray, shape (num_edges, n_modes)

    Raises
    ------
    ConfigError
        If ``scale`` is not positive.

    Notes
    -----
    The mode strengths of a Gaussian network with entries of variance ``sigma^2 / N`` are, per
    edge and mode, of order ``sigma`` with either sign; this draws that, without the
    balance a network started at small weights would have (give ``--init FILE.json`` for a
    chosen start).
    """
    if not scale > 0:
        raise ConfigError(f"--init-scale: the edge strengths' standard deviation must be positive, got {scale}")
    return scale * np.random.default_rng(seed).standard_normal((num_edges, n_modes))


def load_edge_strengths(path: str, graph: GraphArchitecture, n_modes: int) -> np.ndarray:
    """The initial edge strengths of ``--init FILE.json``: ``{"s0": [[...], ...]}``, shape (edges, modes).

    Parameters
    ----------
    path : str
        The file; rows in the order of the graph's ``edges``.
    graph : GraphArchitecture
        The graph.
    n_modes : int
        The number of modes.

    Returns
    -------
    ndarray, shape (edges, modes)

    Raises
    ------
    ConfigError
        If the file is not UTF-8 JSON with a real array ``s0`` of that shape.
    """
    file = Path(path)
    try:
        data = json.loads(file.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ConfigError(f"--init: {path!r} is not UTF-8 JSON ({type(error).__name__}); "
                          'give {"s0": [[...], ...]}, one row per edge') from None
    if not isinstance(data, dict) or "s0" not in data:
        raise ConfigError(f'--init: {path!r} must hold {{"s0": [[...], ...]}} for a [graph]: one row of initial '
                          "strengths per edge, in the file's edge order")
    s0 = real_array("--init: s0", data["s0"])
    expected = (len(graph.edges), n_modes)
    if s0.shape != expected or not np.all(np.isfinite(s0)):
        raise ConfigError(f"--init: s0 has shape {s0.shape}, expected (edges, modes) = {expected} of finite numbers")
    return s0


def graph_paths_note(graph: GraphArchitecture) -> dict:
    """What a graph run's output says about its paths: the edges, and the paths when listed.

    Parameters
    ----------
    graph : GraphArchitecture
        The graph.

    Returns
    -------
    dict
        ``edges`` (pairs), ``paths`` (node sequences, in the order of ``K``'s path axis) or,
        above :data:`~pathdyn.theory.graph.MAX_LISTED_PATHS` paths, ``paths: None`` with
        ``K_axis`` saying that ``K`` holds the total alone.
    """
    note: dict[str, Any] = {"edges": [list(e) for e in graph.edges], "num_paths": graph.num_paths}
    if graph.paths_listed:
        note["paths"] = [[path[0][0]] + [edge[1] for edge in path] for path in graph.paths]
        note["K_axis"] = "paths"
    else:
        note["paths"] = None
        note["K_axis"] = "total K of each mode (too many paths to list)"
    return note


def total_only(trajectory):
    """``trajectory`` with ``K`` summed over its paths (shape (T, 1, modes)) when it has more than a figure shows.

    Parameters
    ----------
    trajectory : Trajectory
        ``K`` of shape (T, paths, modes), or (T, members, paths, modes).

    Returns
    -------
    Trajectory
        Itself, or a copy with the total.
    """
    if trajectory.K.shape[-2] <= MAX_PLOTTED_PATHS:
        return trajectory
    return replace(trajectory, K=trajectory.K.sum(axis=-2, keepdims=True))


def refuse_graph(option: str, architecture: str, what: str) -> ArchitectureError:
    """The one-line error for an option or model that a ``[graph]`` architecture does not have.

    Parameters
    ----------
    option : str
        The option refused.
    architecture : str
        The ``--architecture`` file.
    what : str
        Why and the fix.

    Returns
    -------
    ArchitectureError
        To be raised.
    """
    return ArchitectureError(f"{option}: --architecture {architecture} is a [graph]; {what}")


def check_graph_widths(graph: GraphArchitecture, width: int | None, option: str = "--width") -> None:
    """Refuse a graph with hidden nodes of no width when ``option`` gives none either.

    Parameters
    ----------
    graph : GraphArchitecture
        The graph.
    width : int or None
        The option's value.
    option : str
        The option, for the message.

    Raises
    ------
    ConfigError
        Naming the nodes and the fix.
    """
    missing = [n for n in graph.hidden_nodes if graph.width(n) is None]
    if missing and width is None:
        raise ConfigError(f"{option}: hidden node(s) {', '.join(missing)} have no width in the [graph] table; "
                          f"give {option} N (or widths in the table)")


def graph_activation(graph: GraphArchitecture, activation: str | None, option: str = "--activation") -> str | None:
    """The activation that overrides the graph's own, or None to honour the ``[graph]`` table's.

    Parameters
    ----------
    graph : GraphArchitecture
        The graph.
    activation : str or None
        The option's value (None: not given).
    option : str
        The option, for the message.

    Returns
    -------
    str or None
        ``activation`` when the table gives none, else None.

    Raises
    ------
    ConfigError
        When both the option and the table give activations (one would silently win).
    """
    if activation is not None and graph.activations:
        raise ConfigError(f"{option} {activation}: the [graph] table gives activations "
                          f"({', '.join(f'{n} = {a}' for n, a in graph.activations)}); drop {option} to use them, "
                          "or remove them from the table")
    return activation


#: simulate's options that only pathway networks have: (flag, attribute, value that means "not given", why).
_PATHWAY_ONLY_SIMULATE = (
    ("--activate-last", "activate_last", False, "a graph's output sums its incoming edges without an activation"),
    ("--init-from", "init_from", None, "weight files hold pathway layers W_<a>_<d>"),
    ("--save-weights", "save_weights", None, "weight files hold pathway layers W_<a>_<d>"),
    ("--loss", "loss", "mean", "a graph trains on the mean loss"),
    ("--device", "device", "numpy", "a graph network trains on numpy's engine"),
)


def simulate_graph(args, plan, graph: GraphArchitecture, dataset) -> int:
    """``pathdyn simulate --architecture GRAPH.toml``: train one graph network and write its run file.

    Parameters
    ----------
    args : argparse.Namespace
        simulate's parsed command line.
    plan : FilePlan
        Its checked output files.
    graph : GraphArchitecture
        The network.
    dataset : Dataset
        The training data.

    Returns
    -------
    int
        0 (a diverging run raises).

    Raises
    ------
    ConfigError
        For an option that pathway networks alone have, an initialisation a graph does not
        have, activations given twice, or hidden nodes without a width.
    SimulationError
        If gradient descent diverges.
    """
    for flag, name, unset, why in _PATHWAY_ONLY_SIMULATE:
        if getattr(args, name) != unset:
            raise refuse_graph(flag, args.architecture, f"{why}; drop {flag}")
    if args.init not in GRAPH_INITS:
        raise ConfigError(f"--init {args.init}: a [graph] network starts gaussian or orthogonal; choose one of those")
    check_graph_widths(graph, args.width)
    result = simulate_graph_gd(graph, dataset, args.width, init=args.init, init_scale=args.init_scale,
                               activation=graph_activation(graph, args.activation), learning_rate=args.learning_rate,
                               steps=args.steps, record_every=args.record_every, seed=args.seed,
                               dtype=np.float32 if args.float32 else np.float64, threads=args.threads,
                               progress=not args.no_progress)
    if not result.success:
        raise SimulationError(f"--learning-rate, --init-scale: the network {result.message}")
    result.extras.pop("final_weights", None)  # not part of a run file
    config = run_config(result, {"command": "simulate", "architecture": args.architecture, "dataset_spec": args.dataset,
                                 "data_seed": args.data_seed, "output": args.output, "plot": args.plot,
                                 **graph_paths_note(graph)})
    with plan:
        plan.stage("-o/--output", lambda tmp: save_run_file(tmp, result, config))
        if args.plot:
            use_file_backend()
            title = (f"{graph.describe()}, width {args.width}, {args.init} init, $\\eta = {args.learning_rate:g}$, "
                     f"{args.steps} steps, data {dataset.name}")
            drawn = total_only(result)
            plan.stage("--plot", lambda tmp: plot_mode_trajectories(
                drawn, tmp, singular_values=result.extras["singular_values"], title=title,
                depths=graph.path_lengths if drawn is result and graph.paths_listed else None))
        plan.commit()
        print_summary(plan)
    return 0
