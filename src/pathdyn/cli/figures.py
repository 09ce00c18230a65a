"""``pathdyn figures <figure>``: make the project's figures.

Each figure is one entry of :data:`FIGURES`: ``name -> (help, add_arguments, run)``.
To add a figure, write its two functions and add one entry; ``pathdyn figures NAME``
then exists.
"""

from __future__ import annotations

import argparse
from pathdyn.cli.outputs import print_summary
from pathdyn.errors import ConfigError
from pathdyn.cli._common import file_plan, parse_floats, use_file_backend
from pathdyn.cli._graph import check_linear_graph
from pathdyn.numerics.compile import compile_rhs
from pathdyn.numerics.phase_plane import compute_phase_panel
from pathdyn.numerics.plotting import plot_phase_planes
from pathdyn.theory.architecture import parse_depths
from pathdyn.theory.architecture import load_architecture_toml
from pathdyn.theory.graph import GraphArchitecture
from pathdyn.theory.models import reduce_to_modes

COMMAND = "figures"
HELP = "make figures (phase-plane, ...)"
ORDER = 60
DESCRIPTION = """\
Make a figure. Figures:
  phase-plane   two pathways, one mode: trajectories in the (K_1, K_2) plane over the
                reduced flow's vector field, one panel per depth and initial scale

example:
  pathdyn figures phase-plane -o docs/phase_plane.png
"""


def _add_phase_plane(parser) -> None:
    parser.add_argument("-o", "--output", default="phase_plane.png", help="image file (default phase_plane.png)")
    parser.add_argument("--depths", default=None, help="one panel column per depth D (both pathways D); default 2,3,8,13")
    parser.add_argument("--architecture", metavar="FILE.toml", default=None,
                        help="one panel column for the two pathways of this file (pathways, or a [graph] of two "
                             "parallel chains)")
    parser.add_argument("--scales", default="0.5,0.05", help="initial scales, one panel row each (default 0.5,0.05)")
    parser.add_argument("--singular-value", type=float, default=10.0, help="S of the mode (default 10)")
    parser.add_argument("--t-max", type=float, default=10.0, help="final time (default 10)")
    parser.add_argument("--num-trajectories", type=int, default=100, help="initial conditions per panel (default 100)")
    parser.add_argument("--c", type=float, default=1.0, help="conserved q^2 - p^2 of every initial state (default 1)")
    parser.add_argument("--seed", type=int, default=0, help="seed (default 0)")


def _pathway_pairs(args) -> list:
    """The depths of each panel column: ``(D, D)`` per ``--depths`` entry, or the two pathways of ``--architecture``."""
    if args.architecture and args.depths:
        raise ConfigError("--depths, --architecture: give one of them, not both")
    if not args.architecture:
        return [(d, d) for d in parse_depths(args.depths or "2,3,8,13", argument="--depths")]
    architecture = load_architecture_toml(args.architecture)
    depths = architecture.pathway_depths() if isinstance(architecture, GraphArchitecture) else architecture.depths
    if depths is None or len(depths) != 2:
        found = "a graph that is not parallel chains" if depths is None else f"{len(depths)} pathways"
        raise ConfigError(f"--architecture {args.architecture}: the phase plane is (K_1, K_2) of two parallel pathways, "
                          f"got {found}; give a file of two pathways (or use --depths)")
    if isinstance(architecture, GraphArchitecture):
        check_linear_graph(architecture, f"--architecture {args.architecture}", "the phase plane is the linear theory's")
    if not architecture.whitened:
        raise ConfigError(f"--architecture {args.architecture}: whitened = false, but the phase plane is drawn for "
                          "whitened inputs (one mode, S alone); remove whitened = false or integrate the general "
                          "equations with pathdyn integrate --input-variances")
    return [tuple(depths)]


def _run_phase_plane(args) -> int:
    plan = file_plan("figures", {"--architecture": args.architecture}, {"-o/--output": (args.output, "plot", False)})
    pairs = _pathway_pairs(args)
    scales = parse_floats(args.scales, "--scales")
    problems = []
    if any(s <= 0 for s in scales):
        problems.append(f"--scales: must be positive, got {scales}")
    if not args.singular_value > 0:
        problems.append(f"--singular-value: must be positive, got {args.singular_value}")
    if not args.t_max > 0:
        problems.append(f"--t-max: must be positive, got {args.t_max}")
    if args.num_trajectories < 1:
        problems.append(f"--num-trajectories: need at least 1, got {args.num_trajectories}")
    if not args.c > 0:
        problems.append(f"--c: must be positive, got {args.c}")
    if problems:
        raise ConfigError("; ".join(problems))
    panels = []
    for pair in pairs:
        compiled = compile_rhs(reduce_to_modes(pair))
        race = compile_rhs(reduce_to_modes(pair, model="race"))
        for row, scale in enumerate(scales):
            panels.append(
                compute_phase_panel(
                    compiled, scale, S=args.singular_value, t_max=args.t_max, num_members=args.num_trajectories,
                    c=args.c, seed=args.seed + row, race_equations=race,
                )
            )

    use_file_backend()
    with plan:
        plan.stage("-o/--output", lambda tmp: plot_phase_planes(panels, tmp))
        plan.commit()
        print_summary(plan)
    return 0


#: name -> (help, add_arguments(parser), run(args) -> int)
FIGURES = {
    "phase-plane": ("two-pathway phase planes per depth and initial scale", _add_phase_plane, _run_phase_plane),
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add this subcommand's options to ``parser``.

    Parameters
    ----------
    parser : argparse.ArgumentParser
        The subcommand's parser, to which its options are added.
    """
    sub = parser.add_subparsers(dest="figure", metavar="FIGURE")
    sub.required = True
    for name, (help_text, add, run_figure) in FIGURES.items():
        child = sub.add_parser(name, help=help_text, description=help_text)
        add(child)
        child.set_defaults(_figure_run=run_figure)


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
    """
    return int(args._figure_run(args) or 0)
