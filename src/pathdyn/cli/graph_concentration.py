"""``pathdyn graph-concentration``: how each mode splits over the paths of graph networks."""

from __future__ import annotations

import argparse
from pathdyn.cli.outputs import print_summary
from pathdyn.cli._common import (add_max_steps_argument, check_json_output, check_step_count, file_plan, parse_floats,
                                 repeated_inputs)
from pathdyn.io.jsonio import json_text
from pathdyn.errors import ArchitectureError, ConfigError
from pathdyn.numerics.datasets import random_dataset
from pathdyn.theory.graph import GraphArchitecture, load_architecture_toml
from pathdyn.validation.sweep.graph_concentration import measure_graph_concentration

COMMAND = "graph-concentration"
HELP = "measure how modes distribute over the paths and streams of [graph] architectures, over seeds"
ORDER = 46
DESCRIPTION = """\
Train one network per seed for each graph (random initial weights, gradient descent) and
report, with confidence intervals over seeds, the dominant path fraction and the dominant
output- and input-stream fractions of the learned modes (docs/graphs.md).

example:
  pathdyn graph-concentration --architecture examples/two_stream.toml \\
      --architecture examples/two_stream_cross.toml --architecture examples/shared_trunk.toml \\
      --seeds 20 -o docs/graph-concentration.json
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
    parser.add_argument("--seeds", type=int, default=20, help="number of seeds 0..n-1 (default 20)")
    parser.add_argument("--width", type=int, default=64, help="width of hidden nodes the graph gives none (default 64)")
    parser.add_argument("--activations", default="linear", help="comma-separated: linear, relu, tanh (default linear)")
    parser.add_argument("--init-scale", type=float, default=0.5, help="sigma of the Gaussian init (default 0.5)")
    parser.add_argument("--learning-rate", type=float, default=0.03, help="eta (default 0.03)")
    parser.add_argument("--t-max", type=float, default=90.0, help="training time (default 90)")
    parser.add_argument("--dataset-singular-values", default="2,1.4,0.9,0.5",
                        help="whitened random data with these singular values (default 2,1.4,0.9,0.5)")
    add_max_steps_argument(parser)
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
        When an architecture file has no ``[graph]`` table.
    ConfigError
        When ``--seeds`` is below 1.
    """

    check_json_output(args.output)
    check_step_count(args.t_max, args.learning_rate, args.max_steps)
    plan = file_plan("graph-concentration", repeated_inputs("--architecture", args.architecture), {"-o/--output": (args.output or "-", "json", True)})
    if args.seeds < 1:
        raise ConfigError(f"--seeds: {args.seeds} must be >= 1")
    graphs = []
    for path in args.architecture:
        graph = load_architecture_toml(path)
        if not isinstance(graph, GraphArchitecture):
            raise ArchitectureError(f"--architecture {path}: no [graph] table")
        graphs.append((path, graph))
    dataset = random_dataset(parse_floats(args.dataset_singular_values, "--dataset-singular-values"), seed=0)
    results = []
    for activation in [a.strip() for a in args.activations.split(",") if a.strip()]:
        for path, graph in graphs:
            result = measure_graph_concentration(
                graph, dataset, range(args.seeds), width=args.width, activation=activation, init_scale=args.init_scale,
                learning_rate=args.learning_rate, t_max=args.t_max, progress=True)
            results.append({"architecture": path, **result.to_json_dict()})
    with plan:
        plan.stage_text("-o/--output", json_text({"results": results}))
        plan.commit()
        print_summary(plan)
    return 0
