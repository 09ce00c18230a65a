"""``pathdyn graph-sweep``: random-initialisation width sweeps of [graph] architectures."""

from __future__ import annotations

import argparse
import sys
from pathdyn.cli.outputs import print_summary
from pathdyn.cli._common import (add_max_steps_argument, check_json_output, check_step_count, file_plan, parse_floats,
                                 repeated_inputs, use_file_backend)
from pathdyn.validation.reports.graph_plots import plot_graph_sweeps
from pathdyn.io.jsonio import json_text
from pathdyn._base.checks import whole_number
from pathdyn.errors import ArchitectureError
from pathdyn.numerics.datasets import random_dataset
from pathdyn.theory.graph import GraphArchitecture, load_architecture_toml
from pathdyn.validation.sweep.graph import graph_width_sweep

COMMAND = "graph-sweep"
HELP = "train graph networks from random weights at several widths and report the measured width limit"
ORDER = 47
DESCRIPTION = """\
For each graph, train networks from random weights at every width and seed, and report per
width the mean total mode strengths, their seed spread, each mode's half-time with a
confidence interval, and the distance of the mean trajectory to the widest width's
(docs/graphs.md). Each graph's verdict follows the rules of `pathdyn validate` on the error of
every network against the reduced model from its own weights (parallel graphs) or, for other
graphs, against the seed mean: "error falls with width" needs a slope interval below zero, at
least 3 widths and 2 seeds (else "inconclusive", naming what to add); no O(eta) floor is
measured, so no limit is claimed. The verdict, "slope", "slope_ci", "compared" and "evidence"
are in the JSON of each graph.

example:
  pathdyn graph-sweep --architecture examples/visual_cortex.toml --widths 32,128,512 --seeds 4 -o sweep.json \\
      --plot sweep.png
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add this subcommand's options to ``parser``.

    Parameters
    ----------
    parser : argparse.ArgumentParser
        The subcommand's parser, to which its options are added.
    """
    parser.add_argument("--architecture", metavar="FILE.toml", action="append", required=True,
                        help="TOML file with a [graph] table (repeat for several graphs)")
    parser.add_argument("--widths", default="32,128,512", help="comma-separated widths (default 32,128,512)")
    parser.add_argument("--seeds", type=int, default=4, help="number of seeds 0..n-1 (default 4)")
    parser.add_argument("--init", default="gaussian", choices=("gaussian", "orthogonal"), help="initialisation")
    parser.add_argument("--init-scale", type=float, default=0.3, help="sigma (default 0.3)")
    parser.add_argument("--learning-rate", type=float, default=0.02, help="eta (default 0.02)")
    parser.add_argument("--t-max", type=float, default=20.0, help="training time (default 20)")
    parser.add_argument("--dataset-singular-values", default="2,1.4,0.9,0.5",
                        help="whitened random data with these singular values (default 2,1.4,0.9,0.5)")
    add_max_steps_argument(parser)
    parser.add_argument("-o", "--output", default=None, help="JSON report; '-' or omitted prints it")
    parser.add_argument("--plot", metavar="FILE.png", default=None, help="draw each graph's error against width and K(t) per width")


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
        When an architecture file has no ``[graph]`` table.
    """

    check_json_output(args.output)
    check_step_count(args.t_max, args.learning_rate, args.max_steps)
    plan = file_plan("graph-sweep", repeated_inputs("--architecture", args.architecture), {"-o/--output": (args.output or "-", "json", True),
                                                                                               "--plot": (args.plot, "plot", False)})

    widths = [whole_number("--widths", w, minimum=1) for w in parse_floats(args.widths, "--widths")]
    dataset = random_dataset(parse_floats(args.dataset_singular_values, "--dataset-singular-values"), seed=0)
    reports = []
    for path in args.architecture:
        graph = load_architecture_toml(path)
        if not isinstance(graph, GraphArchitecture):
            raise ArchitectureError(f"--architecture {path}: no [graph] table")
        graph = GraphArchitecture(edges=graph.edges, whitened=graph.whitened)  # widths come from --widths
        reports.append({"architecture": path, **graph_width_sweep(
            graph, dataset, widths, range(args.seeds), init=args.init, init_scale=args.init_scale,
            learning_rate=args.learning_rate, t_max=args.t_max, progress=True)})
        print(f"{path}: {reports[-1]['verdict']}", file=sys.stderr if plan.output("-o/--output") == "-" else sys.stdout)
    with plan:
        plan.stage_text("-o/--output", json_text({"results": reports}))
        if args.plot:
            use_file_backend()
            plan.stage("--plot", lambda tmp: plot_graph_sweeps(reports, tmp, titles=args.architecture))
        plan.commit()
        print_summary(plan)
    return 0
