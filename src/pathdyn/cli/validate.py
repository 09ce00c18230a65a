"""``pathdyn validate``: finite-width networks against the reduced theory, as width grows."""

from __future__ import annotations

import argparse
import json
import sys

from pathdyn.cli.outputs import print_summary
from pathdyn.errors import ConfigError
from pathdyn.theory.models import get_model, validation_theories
from pathdyn.cli._common import (
    add_cluster_arguments,
    add_device_argument,
    add_max_steps_argument,
    check_json_output,
    check_step_count,
    dataset_file,
    file_plan,
    use_file_backend,
)
from pathdyn.numerics.datasets import dataset_option
from pathdyn.cli._graph_runs import validate_graph
from pathdyn.theory.architecture import Architecture, load_architecture_toml, parse_depths
from pathdyn.theory.graph import GraphArchitecture
from pathdyn.cli.dmft_graph import validate_graph_dmft
from pathdyn.validation.network.torch_engine import resolve_device
from pathdyn.validation.reports.plots import plot_width_reports
from pathdyn.validation.sweep.cases import command_case, suite_cases, suite_note
from pathdyn.validation.sweep.distributed import check_cluster_options
from pathdyn.validation.sweep.suite import run_suite, summary_text

COMMAND = "validate"
HELP = "compare finite-width gradient descent with the reduced theory over a sweep of widths"
ORDER = 40
DESCRIPTION = """\
Train networks of several widths and seeds by gradient descent, integrate the reduced
model from each network's own initial state, and report the error
max over t, pathways, modes |K_GD - K_theory| / S_1, its slope against width (with a
95% confidence interval), the O(eta) learning-rate floor and a verdict.

With no case option it runs the default suite (the targets of the validation issue):
  depth 2,2 Gaussian q/p (exact mapping), widths 64..4096, target slope <= -0.35, error <= 1%;
  depth 3,3 and 4,4 orthogonal two-channel, widths 64..1024, target slope <= -0.3, error <= 2%;
  depth 3,3 Gaussian q/p (growth-matched): the error floor, a known limit of the theory;
  depth 3,3 and 4,4 Gaussian DMFT: the seed mean of 16 networks, widths 128..2048, target slope <= -0.3, error <= 0.5%.
On 2 cores the default suite takes 6-25 minutes, --quick 30-90 s (each says so as it starts).
--quick runs the same cases at smaller widths and fewer seeds; its verdicts are indicative,
and a case whose seed noise is above its error target (the DMFT cases at 4 seeds) says
"indicative: noise X above target Y; more seeds decide", never that the target was missed.

A convergence or limit verdict needs at least 3 widths and 2 seeds (otherwise it is
"inconclusive" and says what to add); a "limit of the reduced model" claim needs the error
at least 5x the O(eta) floor and no N^-1/2 decrease over the larger widths, both shown by
the numbers in the report's "evidence". Data with aligned non-whitened inputs is compared
with the theory of its input variances; misaligned inputs are refused unless
--allow-misaligned (docs/non-whitened.md).

Examples:
  pathdyn validate -o report.json --plot report.png
  pathdyn validate --quick -o quick.json --plot quick.png
  pathdyn validate --depths 3,3 --widths 64,256,1024 --seeds 0,1 --init orthogonal \\
      --init-scale 0.5 --theory two-channel --learning-rate 0.005 -o d3.json
  pathdyn validate --theory dmft --architecture examples/trunk_cross_skip.toml --widths 128,256,512,1024 \\
      --seeds 0,1,2,3,4,5,6,7 --init-scale 0.5 --learning-rate 0.05 --t-max 8 -o graph.json   (a [graph]: the graph DMFT)
  pathdyn validate --workers 2 -o report.json          (a local Dask cluster, the same report)
  pathdyn validate --scheduler tcp://HOST:8786 -o report.json   (an existing Dask cluster)

report.json of one case holds "config", "widths", "errors" (per width, the per-seed
errors), "median_errors", "slope", "slope_ci", "tail_slope", "lr_floor", "time_mapping",
"limit", "compared", "verdict", "passed", "evidence" (the numbers behind the verdict),
"warnings", per-network final K and one K(t) example; "config" records the data's
"input_variances" and "misalignment".
A suite writes {"suite", "config", "verdict", "cases": [one such report per case]} and
"widths", "errors", "slope", "slope_ci" as lists with one entry per case.
"""

_CASE_OPTIONS = ("depths", "architecture", "widths", "seeds", "init", "init_scale", "theory", "mapping", "learning_rate", "t_max", "dataset",
                 "allow_misaligned")


def _int_list(text: str, option: str, minimum: int) -> tuple:
    items = [item.strip() for item in str(text).split(",")]
    try:
        values = tuple(int(item) for item in items)
    except ValueError:
        raise ConfigError(f"{option}: {text!r} is not a comma-separated list of whole numbers, e.g. 64,256,1024") from None
    if not values or any(v < minimum for v in values):
        raise ConfigError(f"{option}: {text!r}: every value must be >= {minimum}")
    return values


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add this subcommand's options to ``parser``.

    Parameters
    ----------
    parser : argparse.ArgumentParser
        The subcommand's parser, to which its options are added.
    """
    case = parser.add_argument_group("one case (any of these replaces the default suite)")
    case.add_argument("--depths", default=None, help="comma-separated depth per pathway (default 2,2)")
    case.add_argument("--architecture", metavar="FILE.toml", default=None,
                      help="pathways (depths) or a [graph] from a TOML file; a graph is swept from random weights or, "
                           "with --init aligned, compared with its reduced model (docs/graphs.md)")
    case.add_argument("--widths", default=None, help="comma-separated hidden widths (default 64,256,1024)")
    case.add_argument("--seeds", default=None, help="comma-separated seeds (default 0,1; 0..7 with --theory dmft)")
    case.add_argument("--init", default=None, choices=("gaussian", "orthogonal", "paper", "aligned"),
                      help="initialisation (default gaussian); aligned: the decoupled initial condition, network against "
                           "the graph's reduced model (graphs and pathways, the graph engine)")
    case.add_argument("--init-scale", type=float, default=None, help="sigma (default 0.3)")
    case.add_argument("--theory", default=None, choices=validation_theories(),
                      help="reduced model (default qp); dmft compares the seed mean with the infinite-width DMFT")
    case.add_argument("--mapping", default=None, choices=("exact", "growth-matched", "naive", "projection"),
                      help="initial-state mapping (default: exact for depth 2, growth-matched for deeper q/p, projection for two-channel)")
    case.add_argument("--learning-rate", type=float, default=None, help="eta (default 0.005)")
    case.add_argument("--t-max", type=float, default=None, help="training time, t = eta * step (default 12)")
    case.add_argument("--dataset", default=None,
                      help="random (default: whitened, singular values 2, 1.4, 0.9, 0.5), random:S1,S2,... (whitened, "
                           "these singular values), hierarchical (degenerate: subspace-invariant comparison) or FILE.npz/.csv")
    case.add_argument("--allow-misaligned", action="store_true", default=None,
                      help="compare per mode even when the dataset's inputs are misaligned with its modes (a warning in the report)")
    add_max_steps_argument(parser)
    parser.add_argument("--quick", action="store_true", help="run the quick default suite (smaller widths, fewer seeds; indicative verdicts)")
    add_device_argument(parser)
    parser.add_argument("--strict", action="store_true", help="exit with status 1 when a target is not met")
    parser.add_argument("-o", "--output", default=None, help="report.json ('-' prints the JSON; default: summary only)")
    parser.add_argument("--plot", metavar="FILE.png", default=None, help="draw error vs width and one K(t) overlay per case")
    parser.add_argument("--no-progress", action="store_true", help="never draw the progress bar")
    add_cluster_arguments(parser)


def _custom_case(args, depths):
    """The one case the case options describe (the library fills in the command's defaults)."""

    return command_case(
        depths=depths,
        widths=_int_list(args.widths, "--widths", 1) if args.widths else None,
        seeds=_int_list(args.seeds, "--seeds", 0) if args.seeds else None,
        init=args.init, init_scale=args.init_scale, theory=args.theory, mapping=args.mapping,
        learning_rate=args.learning_rate, t_max=args.t_max, dataset=_dataset(args.dataset),
        allow_misaligned=args.allow_misaligned,
    )


def _case_architecture(args):
    """The depths of ``--depths`` or a pathway ``--architecture`` (None: the default), or the graph to run.

    ``--init aligned`` runs pathways as the graph they are (``Architecture.graph``).
    """
    if args.architecture and args.depths:
        raise ConfigError("--depths, --architecture: give one of them, not both")
    if not args.architecture:
        depths = parse_depths(args.depths, argument="--depths") if args.depths else None
        if args.init == "aligned":
            return Architecture.coerce(depths or (2, 2)).graph
        return depths
    architecture = load_architecture_toml(args.architecture)
    if isinstance(architecture, GraphArchitecture):
        return architecture
    if args.init == "aligned":
        return Architecture.coerce(architecture).graph
    unused = [key for key in ("hidden_widths", "n_in", "n_out") if key in architecture.to_dict()]
    if unused:
        raise ConfigError(f"--architecture {args.architecture}: {', '.join(unused)} given, but validate sweeps --widths "
                          "and takes the dimensions from --dataset; remove them from the file")
    return architecture.depths


def _dataset(spec):
    """The ``--dataset`` option's data; None for the default (``random`` or not given)."""
    return dataset_option(spec, None, default_names=("random",))


def run(args: argparse.Namespace) -> int:
    """Run the subcommand with the parsed ``args``: one case or a suite, summaries as they finish, then the files.

    Parameters
    ----------
    args : argparse.Namespace
        The parsed command line.

    Returns
    -------
    int
        The exit status: 1 with ``--strict`` when a case's target is not met, else 0.

    Raises
    ------
    ConfigError
        If ``--quick`` is given with a case option, ``-o`` is neither a ``.json`` file nor
        ``-``, an output file is refused by its checks, the cluster or ``--device`` options are
        bad, a case asks for more than ``--max-steps`` steps (counting the half-rate run
        of the learning-rate floor), or a case option is bad.
    ArchitectureError
        If ``--depths`` is not a list of whole numbers.
    DatasetError
        If ``--dataset`` is malformed or cannot be read.
    PathdynError
        From the simulations and integrations (:func:`pathdyn.validation.sweep.cases.run_suite`).
    OSError
        If an output file cannot be written or moved into place.
    """

    given = [name for name in _CASE_OPTIONS if getattr(args, name) is not None]
    if given and args.quick:
        raise ConfigError(
            f"--quick runs the quick default suite; drop --quick or the case option(s) "
            f"{', '.join('--' + g.replace('_', '-') for g in given)}"
        )
    check_json_output(args.output)
    plan = file_plan("validate", {"--architecture": args.architecture, "--dataset": dataset_file(args.dataset)},
                     {"-o/--output": (args.output, "json", True), "--plot": (args.plot, "plot", False)})
    architecture = _case_architecture(args)
    if isinstance(architecture, GraphArchitecture):
        widths = _int_list(args.widths, "--widths", 1) if args.widths else None
        seeds = _int_list(args.seeds, "--seeds", 0) if args.seeds else None
        if args.theory is not None and get_model(args.theory).predicts_seed_mean:  # the graph DMFT
            return validate_graph_dmft(args, plan, architecture, widths, seeds, _dataset(args.dataset), summary_text)
        return validate_graph(args, plan, architecture, widths, seeds)
    check_cluster_options(args.workers, args.scheduler)
    device = resolve_device(args.device)  # before any work: a missing GPU fails at once
    cases = [_custom_case(args, architecture)] if given else list(suite_cases("quick" if args.quick else "default"))
    for case in cases:  # the learning-rate floor runs at eta / 2 for twice the steps
        check_step_count(case.t_max, case.learning_rate, args.max_steps, factor=2)
    stream = sys.stderr if args.output == "-" else sys.stdout
    if not given:  # a suite says how long it takes before it starts
        print(f"pathdyn validate: {suite_note('quick' if args.quick else 'default')}", file=stream, flush=True)
    suite = run_suite(cases, suite=None if given else "quick" if args.quick else "default", device=device,
                      workers=args.workers, scheduler=args.scheduler, progress=not args.no_progress,
                      on_report=lambda case, report: print(summary_text(case.name, report), file=stream, flush=True))
    with plan:
        if args.output:
            plan.stage_text("-o/--output", json.dumps(suite.to_json_dict(), indent=1))
        if args.plot:
            use_file_backend()
            plan.stage("--plot", lambda tmp: plot_width_reports(list(suite.reports), tmp, titles=[c.name for c in cases]))
        plan.commit()
        print_summary(plan)
    return 1 if args.strict and suite.passed is False else 0
