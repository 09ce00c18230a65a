"""``pathdyn concentration``: how strongly one pathway dominates each mode, against depth."""

from __future__ import annotations

import argparse
import sys

from pathdyn.cli.outputs import print_summary
from pathdyn.errors import ConfigError
from pathdyn.io.jsonio import json_text
from pathdyn.cli._common import (
    add_cluster_arguments,
    add_device_argument,
    add_max_steps_argument,
    check_json_output,
    check_step_count,
    file_plan,
    repeated_inputs,
    use_file_backend,
)
from pathdyn.cli._graph_runs import concentration_graphs
from pathdyn.theory.architecture import load_architecture_toml
from pathdyn.theory.graph import GraphArchitecture
from pathdyn.theory.architecture import Architecture, parse_depths
from pathdyn.validation.reports.plots import plot_concentration
from pathdyn.validation.sweep.concentration import CONCENTRATION_DEFAULTS, measure_concentration

COMMAND = "concentration"
HELP = "measure the dominant pathway's share of each mode against depth, per activation, over many seeds"
ORDER = 45
DESCRIPTION = f"""\
Train two-pathway networks (both pathways of depth D) for every depth, activation and
seed; for each mode, the fraction max_a |K_a| / sum_a |K_a| carried by the dominant
pathway at the end of training. Reports the mean over seeds (each seed's mean over modes)
with a 95% t-interval, per depth and activation. For linear networks also the race
oracle's prediction from each network's own initial state (q/p mapping: exact at depth 2,
growth-matched beyond) and how often it names the winning pathway.

Defaults: width {CONCENTRATION_DEFAULTS['width']}, Gaussian init with variance sigma^2/N,
sigma = {CONCENTRATION_DEFAULTS['init_scale']}, learning rate {CONCENTRATION_DEFAULTS['learning_rate']},
t_max {CONCENTRATION_DEFAULTS['t_max']:g} (t = eta * step), whitened random data with singular
values 2, 1.4, 0.9, 0.5.

Example:
  pathdyn concentration --depths 2,3,4,5,7 --activation linear,relu,tanh --seeds 20 \\
      -o conc.json --plot conc.png
  pathdyn concentration --seeds 100 --workers 4 -o conc.json   (a local Dask cluster)

conc.json holds "config", "depths", "dominant_fraction" ({{"linear": [mean per depth], ...}}),
"ci" ({{"linear": [[low, high] per depth], ...}}), per-mode and per-seed fractions, the final
loss ratios and, for linear networks, "race" (winner agreement, predicted fractions).
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add this subcommand's options to ``parser``.

    Parameters
    ----------
    parser : argparse.ArgumentParser
        The subcommand's parser, to which its options are added.
    """
    parser.add_argument("--depths", default=None, help="comma-separated depths D (default 2,3,4,5,7)")
    parser.add_argument("--architecture", metavar="FILE.toml", action="append", default=None,
                        help="a [graph] (repeat for several): how each mode splits over its paths and streams; or "
                             "pathways: one depth per file, all its pathways of that depth")
    parser.add_argument("--activation", default=None,
                        help="comma-separated activations (default linear,relu,tanh; a [graph]: its table's, else linear)")
    parser.add_argument("--seeds", type=int, default=20, help="number of seeds per point (seeds 0..n-1; default 20)")
    parser.add_argument("--width", type=int, default=CONCENTRATION_DEFAULTS["width"], help=f"hidden width (default {CONCENTRATION_DEFAULTS['width']})")
    parser.add_argument("--init", default=CONCENTRATION_DEFAULTS["init"], choices=("gaussian", "orthogonal", "paper"),
                        help=f"initialisation (default {CONCENTRATION_DEFAULTS['init']})")
    parser.add_argument("--init-scale", type=float, default=CONCENTRATION_DEFAULTS["init_scale"], help=f"sigma (default {CONCENTRATION_DEFAULTS['init_scale']})")
    parser.add_argument("--learning-rate", type=float, default=CONCENTRATION_DEFAULTS["learning_rate"], help=f"eta (default {CONCENTRATION_DEFAULTS['learning_rate']})")
    parser.add_argument("--t-max", type=float, default=CONCENTRATION_DEFAULTS["t_max"], help=f"training time (default {CONCENTRATION_DEFAULTS['t_max']:g})")
    add_max_steps_argument(parser)
    parser.add_argument("--no-race", action="store_true", help="skip the race oracle")
    add_device_argument(parser)
    parser.add_argument("-o", "--output", default=None, help="conc.json ('-' prints the JSON; default: summary only)")
    parser.add_argument("--plot", metavar="FILE.png", default=None, help="draw the mean fraction and its interval against depth")
    parser.add_argument("--no-progress", action="store_true", help="never draw the progress bar")
    add_cluster_arguments(parser)


def _depths_or_graphs(args) -> tuple:
    """``(depths, graphs)``: the depths of ``--depths`` or of pathway files, or the ``[graph]`` files with their graphs."""
    if args.architecture and args.depths:
        raise ConfigError("--depths, --architecture: give one of them, not both")
    if not args.architecture:
        return parse_depths(args.depths or "2,3,4,5,7", argument="--depths"), []
    loaded = [(path, load_architecture_toml(path)) for path in args.architecture]
    graphs = [(path, a) for path, a in loaded if isinstance(a, GraphArchitecture)]
    if graphs and len(graphs) < len(loaded):
        raise ConfigError("--architecture: give [graph] files or pathway files, not both in one run")
    if graphs:
        return (), graphs
    depths = []
    pathways = [(path, a) for path, a in loaded if isinstance(a, Architecture)]  # all of them: no [graph] file
    for path, architecture in pathways:
        if len(set(architecture.depths)) != 1 or architecture.num_pathways != 2:
            raise ConfigError(f"--architecture {path}: concentration trains two pathways of one depth, got depths "
                              f"{architecture.depths}; use two equal depths, or write the network as a [graph]")
        depths.append(architecture.depths[0])
    return tuple(depths), []


def run(args: argparse.Namespace) -> int:
    """Run the subcommand with the parsed ``args``: measure, print the table, write the files.

    Parameters
    ----------
    args : argparse.Namespace
        The parsed command line.

    Returns
    -------
    int
        The exit status: 0 (a failure raises instead).

    Raises
    ------
    ConfigError
        If ``--seeds`` is below 1, ``-o`` is neither a ``.json`` file nor ``-``,
        ``--t-max`` or ``--learning-rate`` is not positive or asks for more than
        ``--max-steps`` steps, an output file is refused by its checks, or a setting of
        :func:`pathdyn.validation.sweep.concentration.measure_concentration` is bad.
    ArchitectureError
        If ``--depths`` is not a list of whole numbers.
    OSError
        If an output file cannot be written or moved into place.
    """

    if args.seeds < 1:
        raise ConfigError(f"--seeds: {args.seeds} is not a positive count; e.g. --seeds 20")
    check_json_output(args.output)
    check_step_count(args.t_max, args.learning_rate, args.max_steps)
    plan = file_plan("concentration", repeated_inputs("--architecture", args.architecture),
                     {"-o/--output": (args.output, "json", True), "--plot": (args.plot, "plot", False)})
    depths, graphs = _depths_or_graphs(args)
    if graphs:
        return concentration_graphs(args, plan, graphs)
    activations = tuple(a.strip() for a in (args.activation or "linear,relu,tanh").split(",") if a.strip())
    result = measure_concentration(
        depths, activations, tuple(range(args.seeds)), width=args.width, init=args.init, init_scale=args.init_scale,
        learning_rate=args.learning_rate, t_max=args.t_max, race=not args.no_race, progress=not args.no_progress,
        device=args.device,
        workers=args.workers, scheduler=args.scheduler,
    )
    document = result.to_json_dict()
    print(result.table(), file=sys.stderr if args.output == "-" else sys.stdout)
    with plan:
        if args.output:
            plan.stage_text("-o/--output", json_text(document, indent=1))
        if args.plot:
            use_file_backend()
            plan.stage("--plot", lambda tmp: plot_concentration(document, tmp))
        plan.commit()
        print_summary(plan)
    return 0
