"""``pathdyn graph-validate``: an aligned network of a graph against the graph's reduced model."""

from __future__ import annotations

import argparse
from pathdyn.cli.outputs import print_summary
from pathdyn.io.jsonio import json_text
from pathdyn.cli._common import (
    add_max_steps_argument,
    check_json_output,
    check_step_count,
    dataset_file,
    file_plan,
    use_file_backend,
)
from pathdyn.errors import ArchitectureError
from pathdyn.numerics.datasets import dataset_from_spec
from pathdyn.theory.graph import GraphArchitecture, load_architecture_toml
from pathdyn.validation.reports.graph_plots import plot_graph_validation
from pathdyn.validation.sweep.graph_validate import validate_graph_aligned

COMMAND = "graph-validate"
HELP = "train an aligned network of a [graph] architecture and compare it with the graph's reduced model"
ORDER = 45
DESCRIPTION = """\
Build a finite network of the graph in FILE.toml on the aligned (decoupled) initial
condition, train it by gradient descent, integrate the graph's per-edge reduced
equations from the same edge strengths, and report max over t, paths, modes
|K_GD - K_theory| / S_1 (the O(eta) discretisation error at any width).

examples:
  pathdyn graph-validate --architecture examples/visual_cortex.toml --plot vc.png
  pathdyn graph-validate --architecture examples/two_stream_cross.toml --width 16 \\
      --learning-rate 0.005 --t-max 8 -o report.json
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add this subcommand's options to ``parser``.

    Parameters
    ----------
    parser : argparse.ArgumentParser
        The subcommand's parser, to which its options are added.
    """
    parser.add_argument("--architecture", metavar="FILE.toml", required=True, help="TOML file with a [graph] table")
    parser.add_argument("--width", type=int, default=16, help="width of hidden nodes the graph gives none (default 16)")
    parser.add_argument("--dataset", default="random:3,2,1", help="random:S1,S2,... (whitened) or a data file (default random:3,2,1)")
    parser.add_argument("--learning-rate", type=float, default=0.01, help="eta (default 0.01)")
    parser.add_argument("--t-max", type=float, default=6.0, help="training time, t = eta * steps (default 6)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the initial strengths and node bases")
    add_max_steps_argument(parser)
    parser.add_argument("--plot", default=None, help="write the figure (.png, .pdf, .svg)")
    parser.add_argument("-o", "--output", default=None, help="JSON report; '-' or omitted prints it")


def run(args: argparse.Namespace) -> int:
    """Run the subcommand with the parsed ``args``.

    Parameters
    ----------
    args : argparse.Namespace
        The parsed command line.

    Returns
    -------
    int
        The exit status (0 on success).

    Raises
    ------
    ArchitectureError
        When the architecture file has no ``[graph]`` table.
    """

    check_json_output(args.output)
    check_step_count(args.t_max, args.learning_rate, args.max_steps)
    plan = file_plan(
        "graph-validate",
        {"--architecture": args.architecture, "--dataset": dataset_file(args.dataset)},
        {"-o/--output": (args.output or "-", "json", True), "--plot": (args.plot, "plot", False)},
    )
    graph = load_architecture_toml(args.architecture)
    if not isinstance(graph, GraphArchitecture):
        raise ArchitectureError(f"--architecture {args.architecture}: no [graph] table; graph-validate needs a graph")
    dataset = dataset_from_spec(args.dataset, seed=args.seed)
    result = validate_graph_aligned(graph, dataset, args.width, learning_rate=args.learning_rate, t_max=args.t_max,
                                    seed=args.seed)
    report = {"graph": graph.to_dict(), "dataset": dataset.name, "width": args.width,
              "learning_rate": args.learning_rate, "t_max": args.t_max, "seed": args.seed, **result.summary()}
    with plan:
        plan.stage_text("-o/--output", json_text(report))
        if args.plot:
            use_file_backend()
            plan.stage("--plot", lambda tmp: plot_graph_validation(result, graph, tmp))
        plan.commit()
        print_summary(plan)
    return 0
