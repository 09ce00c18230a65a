"""``pathdyn derive``: derive and export the learning equations of an architecture."""

from __future__ import annotations

from pathdyn.cli._common import add_architecture_arguments, architecture_from_args, write_output

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


def add_arguments(parser) -> None:
    add_architecture_arguments(parser)
    parser.add_argument(
        "--format", choices=("text", "latex", "json"), default="text",
        help="text (sympy notation), latex (standalone document) or json (srepr, see README); default text",
    )
    parser.add_argument("--model", choices=("qp", "dmft"), default="qp",
                        help="qp (default: gradient flow and q/p equations) or dmft (the DMFT site equations)")
    parser.add_argument("--fragment", action="store_true", help="LaTeX only: print the equations without the document")
    latex = parser.add_argument_group("LaTeX layout")
    latex.add_argument("--ungrouped", action="store_true",
                       help="one environment per equation (default: related equations share one align)")
    latex.add_argument("--prod", action="store_true",
                       help="write products of 3 or more consecutive layers as \\prod_{k=i}^{j} W_a^{(k)}")
    latex.add_argument("--label-prefix", metavar="WORD", default="",
                       help="labels eq:WORD:W-1-1 instead of eq:W-1-1 (two architectures in one paper)")
    parser.add_argument("-o", "--output", default=None, help="output file; '-' or omitted prints to standard output")


def run(args) -> int:
    from pathdyn.errors import ConfigError
    from pathdyn.theory.export import export_equations

    latex_flags = {"--fragment": args.fragment, "--ungrouped": args.ungrouped, "--prod": args.prod,
                   "--label-prefix": bool(args.label_prefix)}
    for flag, given in latex_flags.items():
        if given and args.format != "latex":
            raise ConfigError(f"{flag}: applies to --format latex only, not --format {args.format}; drop {flag}")
    arch = architecture_from_args(args)
    # everything is derived and formatted before the output file is touched
    if args.model == "dmft":
        from pathdyn.theory.dmft import export_dmft

        text = export_dmft(arch, format=args.format, fragment=args.fragment)
    else:
        options = {"grouped": not args.ungrouped, "prod": args.prod, "label_prefix": args.label_prefix} if args.format == "latex" else {}
        text = export_equations(arch, format=args.format, fragment=args.fragment, **options)
    write_output(args.output, text)
    return 0
