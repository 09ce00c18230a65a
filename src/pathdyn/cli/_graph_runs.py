"""``pathdyn validate`` and ``pathdyn concentration`` given a ``[graph]`` architecture.

They do what the former ``graph-validate``, ``graph-sweep`` and ``graph-concentration``
commands did, behind the general commands' options and with the pathway runs' checks
(:mod:`pathdyn.cli._graph`): data misaligned with its modes refused with the measured value,
non-whitened data compared with the theory of its input variances, non-linear nodes refused
where the comparison is with the linear theory and honoured where networks are only measured.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from pathdyn.cli._common import check_step_count, use_file_backend
from pathdyn.cli.outputs import print_summary
from pathdyn.cli._graph import check_graph_model, check_linear_graph, graph_activation, refuse_graph
from pathdyn.errors import ConfigError
from pathdyn.io.jsonio import json_text
from pathdyn.numerics.datasets import Dataset, dataset_option
from pathdyn.theory.graph import GraphArchitecture
from pathdyn.validation.reports.graph_plots import plot_graph_sweeps, plot_graph_validation
from pathdyn.validation.sweep.cases import default_dataset
from pathdyn.validation.sweep.graph import graph_width_sweep
from pathdyn.validation.sweep.graph_concentration import measure_graph_concentration
from pathdyn.validation.sweep.graph_validate import validate_graph_aligned

__all__ = ["GRAPH_ALIGNED_DEFAULTS", "GRAPH_SWEEP_DEFAULTS", "concentration_graphs", "validate_graph"]

#: ``validate --init aligned``'s settings where the options give none (those of the former
#: graph-validate): the error is gradient descent's O(eta) step at every width, so one
#: narrow width and one seed show it.
GRAPH_ALIGNED_DEFAULTS: dict[str, Any] = {"widths": (16,), "seeds": (0,), "init_scale": 0.2, "learning_rate": 0.01, "t_max": 6.0,
                          "dataset": "random:3,2,1"}
#: ``validate --architecture GRAPH.toml``'s settings (random initialisation, the former graph-sweep's).
GRAPH_SWEEP_DEFAULTS: dict[str, Any] = {"widths": (32, 128, 512), "seeds": (0, 1, 2, 3), "init_scale": 0.3, "learning_rate": 0.02,
                        "t_max": 20.0, "dataset": "random:2,1.4,0.9,0.5"}
#: validate's options that a graph does not have: (flag, attribute, value meaning "not given", why).
_PATHWAY_ONLY_VALIDATE = (
    ("--mapping", "mapping", None, "a graph's network is compared without an initial-state mapping (parallel graphs "
                                   "get the default one)"),
    ("--strict", "strict", False, "a graph's runs have no targets to meet"),
    ("--workers", "workers", None, "graph networks train in this process"),
    ("--scheduler", "scheduler", None, "graph networks train in this process"),
    ("--device", "device", "numpy", "a graph network trains on numpy's engine"),
)


def _setting(value, default):
    return default if value is None else value


def _graph_dataset(spec: str | None, default: str) -> Dataset:
    """``--dataset``: ``random`` (or none) is the run's default random data, else any dataset spec."""
    return dataset_option(spec, default, default_names=("random",))


def _check_widths(graph: GraphArchitecture, widths: tuple) -> None:
    if len(set(widths)) > 1 and all(graph.width(n) is not None for n in graph.hidden_nodes):
        raise ConfigError(f"--widths {','.join(map(str, widths))}: every hidden node of the [graph] has its own width, "
                          "so the widths would all train the same network; give one width or drop widths from the table")


def validate_graph(args: argparse.Namespace, plan, graph: GraphArchitecture, widths: tuple | None,
                   seeds: tuple | None) -> int:
    """``pathdyn validate`` of a graph: the aligned check (``--init aligned``) or the random-init width sweep.

    Parameters
    ----------
    args : argparse.Namespace
        validate's parsed command line.
    plan : FilePlan
        Its checked output files.
    graph : GraphArchitecture
        The network (a pathway architecture converted by ``Architecture.graph``).
    widths, seeds : tuple of int or None
        The parsed ``--widths`` and ``--seeds`` (None: the defaults).

    Returns
    -------
    int
        0 (a failure raises).

    Raises
    ------
    ConfigError
        For an option a graph does not have, or a bad value.
    ArchitectureError
        For non-linear nodes in the aligned check.
    DatasetError
        For data misaligned with its modes without ``--allow-misaligned``.
    """
    source = args.architecture or f"--depths {args.depths}"
    for flag, name, unset, why in _PATHWAY_ONLY_VALIDATE:
        if getattr(args, name) != unset:
            raise refuse_graph(flag, source, f"{why}; drop {flag}")
    if args.theory is not None:  # the graph DMFT (--theory dmft) is validate_graph_dmft's
        check_graph_model(args.theory, "--theory")
    if args.init == "paper":
        raise refuse_graph("--init paper", source, "a graph is compared with its own reduced model (--init aligned) "
                                                   "or swept from gaussian or orthogonal weights")
    aligned = args.init == "aligned"
    defaults = GRAPH_ALIGNED_DEFAULTS if aligned else GRAPH_SWEEP_DEFAULTS
    widths = tuple(widths or defaults["widths"])
    seeds = tuple(seeds or defaults["seeds"])
    eta, t_max = _setting(args.learning_rate, defaults["learning_rate"]), _setting(args.t_max, defaults["t_max"])
    check_step_count(t_max, eta, args.max_steps)
    _check_widths(graph, widths)
    dataset = _graph_dataset(args.dataset, defaults["dataset"])
    scale = _setting(args.init_scale, defaults["init_scale"])
    misaligned = bool(args.allow_misaligned)
    if aligned:
        check_linear_graph(graph, f"--architecture {source}", "validate --init aligned compares the network with "
                                                              "the linear reduced model")
        results = [[validate_graph_aligned(graph, dataset, w, learning_rate=eta, t_max=t_max, initial_strength=scale,
                                           seed=s, allow_misaligned=misaligned) for s in seeds] for w in widths]
        report = _aligned_report(results, widths, seeds)
        line = (f"graph {source}, aligned initial condition: max error {report['error']:.3g} of S_1 over K "
                f"({report['compared']}), {report['edge_error']:.3g} over the edge strengths; widths "
                f"{','.join(map(str, widths))}, eta {eta:g} (the O(eta) step of gradient descent)")
    else:
        report = graph_width_sweep(graph, dataset, widths, seeds, init=args.init or "gaussian", init_scale=scale,
                                   learning_rate=eta, t_max=t_max, allow_misaligned=misaligned,
                                   progress=not args.no_progress)
        line = f"graph {source}, {args.init or 'gaussian'} init sigma {scale:g}: " + ", ".join(
            f"N = {e['width']}: spread {e['spread']:.3g}, distance to widest {e['distance_to_widest']:.3g}"
            for e in report["per_width"]) + f" (of S_1); {report['verdict']}"
    document = {"architecture": source, "check": "aligned" if aligned else "width sweep", "graph": graph.to_dict(),
                "dataset": dataset.name, "learning_rate": eta, "t_max": t_max, "init_scale": scale, **report}
    print(line, file=sys.stderr if args.output == "-" else sys.stdout, flush=True)
    with plan:
        if args.output:
            plan.stage_text("-o/--output", json_text(document, indent=1))
        if args.plot:
            use_file_backend()
            if aligned:
                plan.stage("--plot", lambda tmp: plot_graph_validation(results[-1][0], graph, tmp))
            else:
                plan.stage("--plot", lambda tmp: plot_graph_sweeps([report], tmp, titles=[source]))
        plan.commit()
        print_summary(plan)
    return 0


def _aligned_report(results, widths, seeds) -> dict:
    """Errors per width and seed of the aligned check, and their maxima."""
    errors = [[r.comparison.error for r in row] for row in results]
    edge_errors = [[r.edge_error for r in row] for row in results]
    return {"widths": list(widths), "seeds": list(seeds), "errors": errors, "edge_errors": edge_errors,
            "error": max(max(row) for row in errors), "edge_error": max(max(row) for row in edge_errors),
            "compared": results[0][0].summary()["compared"],
            "runs": [[r.summary() for r in row] for row in results]}


def concentration_graphs(args: argparse.Namespace, plan, graphs: list) -> int:
    """``pathdyn concentration --architecture GRAPH.toml ...``: how the modes split over each graph's paths.

    Parameters
    ----------
    args : argparse.Namespace
        concentration's parsed command line.
    plan : FilePlan
        Its checked output files.
    graphs : list of (str, GraphArchitecture)
        Each ``--architecture`` file and its graph.

    Returns
    -------
    int
        0 (a failure raises).

    Raises
    ------
    ConfigError
        For an option a graph does not have, or activations given by both ``--activation``
        and a ``[graph]`` table.
    """
    for flag, name, unset, why in (("--plot", "plot", None, "the figure draws fractions against pathway depth"),
                                   ("--init", "init", "gaussian", "graph networks start gaussian here"),
                                   ("--device", "device", "numpy", "a graph network trains on numpy's engine"),
                                   ("--workers", "workers", None, "graph networks train in this process"),
                                   ("--scheduler", "scheduler", None, "graph networks train in this process")):
        if getattr(args, name) != unset:
            raise refuse_graph(flag, graphs[0][0], f"{why}; drop {flag}")
    dataset = default_dataset()  # the pathway runs' data: whitened, singular values 2, 1.4, 0.9, 0.5
    given = None if args.activation is None else [a.strip() for a in args.activation.split(",") if a.strip()]
    results = []
    for path, graph in graphs:
        for activation in given or [None]:
            graph_activation(graph, activation)  # one of the two, never both
            result = measure_graph_concentration(
                graph, dataset, range(args.seeds), width=args.width, activation=activation,
                init_scale=args.init_scale, learning_rate=args.learning_rate, t_max=args.t_max,
                progress=not args.no_progress)
            results.append({"architecture": path, **result.to_json_dict()})
            share = result.summary["path"]
            low, high = share["ci"]
            print(f"{path}, {result.settings['activation']}: dominant path fraction {share['mean']:.3g} "
                  f"[{low:.3g}, {high:.3g}] (even split {share['even']:.3g})",
                  file=sys.stderr if args.output == "-" else sys.stdout)
    with plan:
        if args.output:
            plan.stage_text("-o/--output", json_text({"results": results}))
        plan.commit()
        print_summary(plan)
    return 0
