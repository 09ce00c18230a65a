"""``pathdyn derive``: derive and export the learning equations of an architecture."""

from __future__ import annotations

import argparse
from pathdyn.cli._common import add_architecture_arguments, architecture_from_args, file_plan
from pathdyn.theory.models import MODELS, get_model
from pathdyn.errors import ArchitectureError, ConfigError
from pathdyn.theory.export import DerivedEquations, export_equations
from pathdyn.theory.architecture import Architecture
from pathdyn.theory.graph import GraphArchitecture
from pathdyn.theory.gradient_flow import derive_gradient_flow

COMMAND = "derive"
HELP = "derive the gradient-flow and reduced equations of an architecture"
ORDER = 10
DESCRIPTION = """\
Derive, with sympy, the matrix gradient flow tau dW_a^d/dt = -dL/dW_a^d of every layer
and the paper's reduced q/p equations of one mode, and print or write them.

examples:
  pathdyn derive --depths 2,3
  pathdyn derive --depths 2,3 --n-in 8 --n-out 15 --general --format latex -o eqs.tex
  pathdyn derive --architecture arch.toml --format json -o eqs.json
  pathdyn derive --depths 13,2,5 --format latex --fragment
  pathdyn derive --depths 13,2 --format latex --prod --label-prefix deep -o deep.tex
  pathdyn derive --model dmft --depths 3,4 --format latex -o dmft.tex   (DMFT site equations, Gaussian hidden layers)
"""


#: Largest ``M * sum_a D_a^2`` derive accepts. The exported equations hold about
#: ``sum_a D_a^2`` weight factors and the symbolic work grows with the number of pathways
#: M as well; at this bound every format finishes in well under a minute even on a busy
#: machine (docs/reliability.md has the measurements), while 8 pathways of depth 200
#: (2.6e6) already take minutes.
MAX_DERIVE_SIZE = 400_000
#: Most pathways derive accepts: the text form of the reduced equations sorts sums over all
#: pathways in every equation, so its cost grows faster than the number of pathways
#: (docs/reliability.md has the measurements).
MAX_DERIVE_PATHWAYS = 100


def check_derive_size(architecture: Architecture | GraphArchitecture) -> None:
    """Refuse an architecture whose derivation would run for minutes (see :data:`MAX_DERIVE_SIZE`).

    Parameters
    ----------
    architecture : Architecture
        The architecture to derive.

    Raises
    ------
    ArchitectureError
        When it has more than :data:`MAX_DERIVE_PATHWAYS` pathways or its size passes
        :data:`MAX_DERIVE_SIZE`.
    """

    # a graph's paths from x to y play the part of the pathways (their lengths of the depths)
    if isinstance(architecture, GraphArchitecture):
        depths = tuple(len(path) for path in architecture.paths)
    else:
        depths = architecture.depths
    if len(depths) > MAX_DERIVE_PATHWAYS:
        raise ArchitectureError(
            f"--depths: {len(depths)} pathways, above the {MAX_DERIVE_PATHWAYS} that derive finishes in reasonable time; "
            "use fewer pathways (pathdyn integrate takes more)"
        )
    size = len(depths) * sum(d * d for d in depths)
    if size > MAX_DERIVE_SIZE:
        raise ArchitectureError(
            f"--depths: {len(depths)} pathway(s) of depth up to {max(depths)} give pathways x sum of squared depths = "
            f"{size:,}, above the {MAX_DERIVE_SIZE:,} that derive finishes in reasonable time; use fewer or shallower "
            "pathways (pathdyn integrate takes any depth up to 1000)"
        )


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add this subcommand's options to ``parser``.

    Parameters
    ----------
    parser : argparse.ArgumentParser
        The subcommand's parser, to which its options are added.
    """
    add_architecture_arguments(parser)
    parser.add_argument(
        "--format", choices=("text", "latex", "json"), default="text",
        help="text (sympy notation), latex (standalone document) or json (srepr, see README); default text",
    )
    parser.add_argument("--model", choices=tuple(MODELS), default="qp",
                        help="the reduced model (default qp): " + ", ".join(MODELS)
                             + "; a per-mode model comes with the gradient flow, the DMFT as its site equations")
    parser.add_argument("--fragment", action="store_true", help="LaTeX only: print the equations without the document")
    latex = parser.add_argument_group("LaTeX layout")
    latex.add_argument("--ungrouped", action="store_true",
                       help="one environment per equation (default: related equations share one align)")
    latex.add_argument("--prod", action="store_true",
                       help="write products of 3 or more consecutive layers as \\prod_{k=i}^{j} W_a^{(k)}")
    latex.add_argument("--label-prefix", metavar="WORD", default=None,
                       help="labels eq:WORD:W-1-1 instead of eq:W-1-1 (two architectures in one paper)")
    parser.add_argument("-o", "--output", default=None, help="output file; '-' or omitted prints to standard output")


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
    ConfigError
        When a LaTeX-only option is given with another format.
    """

    latex_flags = {"--fragment": args.fragment, "--ungrouped": args.ungrouped, "--prod": args.prod,
                   "--label-prefix": args.label_prefix is not None}
    for flag, given in latex_flags.items():
        if given and args.format != "latex":
            raise ConfigError(f"{flag}: applies to --format latex only, not --format {args.format}; drop {flag}")
    plan = file_plan("derive", {"--architecture": args.architecture}, {"-o/--output": (args.output or "-", "text", True)})
    arch = architecture_from_args(args)
    check_derive_size(arch)
    # everything is derived and formatted before the output file is touched
    model = get_model(args.model)
    if model.export is not None:  # equations of another form than per-mode ODEs export themselves
        text = model.export(arch, format=args.format, fragment=args.fragment)
    else:
        options = ({"grouped": not args.ungrouped, "prod": args.prod, "label_prefix": args.label_prefix or ""}
                   if args.format == "latex" else {})
        # a graph (a TOML [graph] table) has its own exporter; pathways: the flow and the model's equations
        equations = DerivedEquations(arch, derive_gradient_flow(arch), model.derive(arch)) if isinstance(arch, Architecture) else arch
        text = export_equations(equations, format=args.format, fragment=args.fragment, **options)
    with plan:
        plan.stage_text("-o/--output", text)
        plan.commit()
    return 0
