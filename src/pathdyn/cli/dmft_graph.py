"""The graph DMFT on the command line: ``integrate --model dmft`` and ``validate --theory dmft`` with a ``[graph]`` TOML."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any


from pathdyn.cli.outputs import FilePlan, print_summary
from pathdyn.numerics.datasets import Dataset

from pathdyn.errors import ConfigError, IntegrationError
from pathdyn.io.jsonio import to_jsonable
from pathdyn.numerics.dmft import solve_dmft, solve_dmft_flow
from pathdyn.numerics.dmft_graph import solve_dmft_graph, solve_dmft_graph_flow
from pathdyn.cli._common import use_file_backend, write_trajectory_outputs
from pathdyn.theory.graph import GraphArchitecture
from pathdyn.theory.models import models_of_kind
from pathdyn.validation.reports.plots import plot_width_reports
from pathdyn.validation.sweep.dmft_graph import validate_dmft_graph_width

if TYPE_CHECKING:  # a type only: integrate builds the settings and imports this module
    from pathdyn.cli.integrate import IntegrateSettings

#: How the per-edge fallback is described in the output file.
PER_EDGE_NOTE = ("per-edge: the graph has too many paths to list (or to march their prefixes), so K holds the flow "
                 "K_e = g_v . W_e f_u through every edge (the sum of K_p over the paths through e), in 'edges' order")


ORTHOGONAL_REFUSAL = ("the orthogonal DMFT is exact only where the hidden-to-hidden edges form parallel chains: at a node "
                      "with two hidden in- or out-edges the products O_e^T O_e' of independent orthogonal matrices leave "
                      "the overlaps unclosed (docs/dmft-graphs.md); use --init gaussian")


def check_graph_dmft_options(args: IntegrateSettings, graph: GraphArchitecture) -> None:
    """Refuse what the graph DMFT does not take, naming the option (once, as the settings are built).

    Parameters
    ----------
    args : IntegrateSettings
        The options of ``integrate --model dmft --architecture g.toml``.
    graph : GraphArchitecture
        The graph read from the file.

    Raises
    ------
    ConfigError
        ``--init`` other than gaussian (orthogonal: parallel chains only), or nonlinear activations.
    """
    parallel = graph.pathway_depths() is not None
    if args.init not in (None, "gaussian") and not (args.init == "orthogonal" and parallel):
        raise ConfigError(f"--init {args.init}: {ORTHOGONAL_REFUSAL}")
    if any(graph.activation(n) != "linear" for n in graph.hidden_nodes):
        raise ConfigError(f"--architecture {args.architecture_file}: the graph has nonlinear activations; the DMFT is "
                          "the linear network's theory (drop 'activations' from the TOML)")


def _solve(args: Any, graph, S, sigma):
    """The graph DMFT of ``args`` (IntegrateSettings, learning rate and steps or t_max checked to go
    together), or for parallel chains with ``--init orthogonal`` the pathway overlap march."""
    if args.init == "orthogonal":  # parallel chains: the exact orthogonal march, one pathway per path
        depths = graph.path_lengths
        if args.learning_rate is not None:
            run = solve_dmft(depths, S, learning_rate=args.learning_rate, steps=args.steps, init_scale=sigma,
                             init="orthogonal")
        else:
            run = solve_dmft_flow(depths, S, t_max=args.t_max, num_points=args.num_points, init_scale=sigma,
                                  tol=args.tol, init="orthogonal")
        run.extras.update(quantity="paths", edges=[list(e) for e in graph.edges], K_total=run.K.sum(axis=1),
                          paths=[[p[0][0]] + [e[1] for e in p] for p in graph.paths])
        return run
    if args.learning_rate is not None:
        return solve_dmft_graph(graph, S, learning_rate=args.learning_rate, steps=args.steps, init_scale=sigma)
    return solve_dmft_graph_flow(graph, S, t_max=args.t_max, num_points=args.num_points, init_scale=sigma, tol=args.tol)


def integrate_graph_dmft(settings: IntegrateSettings, plan: FilePlan) -> int:
    """Solve the graph DMFT and write integrate's JSON: ``t``, ``step``, ``K`` (time, paths, modes), ``paths``.

    Parameters
    ----------
    settings : IntegrateSettings
        The checked inputs of ``pathdyn integrate --model dmft --architecture g.toml``: the
        graph, the (whitened) data's singular values and their provenance.
    plan : FilePlan
        The run's checked output files.

    Returns
    -------
    int
        0, or 1 when the continuous-time solve stopped before ``--tol``.

    Raises
    ------
    ConfigError
        A value the solver refuses (the options were checked as ``settings`` was built).
    IntegrationError
        When ``K`` blows up.
    """
    graph, S, data_note = settings.architecture, settings.S, settings.data_note
    trajectory = _solve(settings, graph, S, settings.sigma)
    if not trajectory.success:  # nothing is written: a result short of --tol is a failure, in one line (exit 2)
        raise IntegrationError(f"--max-steps: {trajectory.message.partition(': ')[2]} (at t_max = {settings.t_max:g})")
    payload = trajectory.to_json_dict()
    extras = trajectory.extras
    payload["provenance"] = dict(payload["provenance"], architecture=graph.to_dict(), **data_note)
    payload.update(singular_values=S.tolist(), model="dmft", quantity=extras["quantity"], edges=extras["edges"],
                   K_total=to_jsonable(extras["K_total"]))
    if extras["quantity"] == "paths":
        payload["paths"] = extras["paths"]
        payload["depths"] = [len(p) - 1 for p in extras["paths"]]
    else:
        payload["note"] = PER_EDGE_NOTE
    write_trajectory_outputs(settings, plan, trajectory, payload, S)
    return 0


def validate_graph_dmft(args: argparse.Namespace, plan: FilePlan, graph: GraphArchitecture, widths: Sequence[int] | None,
                        seeds: Sequence[int] | None, dataset: Dataset | None, summary: Callable) -> int:
    """``pathdyn validate --theory dmft --architecture g.toml``: the seed mean of graph networks against the DMFT.

    Parameters
    ----------
    args : argparse.Namespace
        The parsed command line.
    plan : FilePlan
        Its checked output files.
    graph : GraphArchitecture
    widths, seeds : tuple of int or None
        From ``--widths`` and ``--seeds`` (None: 128..1024 and 0..7).
    dataset : Dataset or None
        From ``--dataset`` (None: the default whitened data).
    summary : callable
        ``summary(name, report)``: the lines printed for the case.

    Returns
    -------
    int
        1 with ``--strict`` when the target is not met, else 0.

    Raises
    ------
    ConfigError
        ``--theory`` other than dmft, ``--init`` other than gaussian, ``--mapping``, bad values.
    """
    if args.theory not in models_of_kind("dmft"):
        raise ConfigError(f"--architecture {args.architecture}: a [graph] architecture is validated against the DMFT "
                          "only here; add --theory dmft")
    if args.init not in (None, "gaussian"):
        raise ConfigError(f"--init {args.init}: graph networks are validated against the Gaussian graph DMFT; use "
                          "--init gaussian (orthogonal parallel chains: --depths)")
    if args.mapping is not None:
        raise ConfigError("--mapping: the DMFT predicts the seed mean and maps no initial state; drop --mapping")
    options = {name: value for name, value in (("init_scale", args.init_scale), ("learning_rate", args.learning_rate),
                                               ("t_max", args.t_max)) if value is not None}
    report = validate_dmft_graph_width(graph, widths or (128, 256, 512, 1024), seeds if seeds is not None else range(8),
                                       dataset=dataset, progress=not args.no_progress, **options)
    stream = sys.stderr if args.output == "-" else sys.stdout
    print(summary(str(args.architecture), report), file=stream, flush=True)
    with plan:
        if args.output:
            plan.stage_text("-o/--output", json.dumps(report.to_json_dict(), indent=1))
        if args.plot:
            use_file_backend()
            plan.stage("--plot", lambda tmp: plot_width_reports([report], tmp, titles=[str(args.architecture)]))
        plan.commit()
        print_summary(plan)
    return 1 if args.strict and report.passed is False else 0
