"""``pathdyn derive``: derive and print the learning equations of an architecture."""

from __future__ import annotations

from pathdyn.cli._common import add_architecture_arguments, architecture_from_args, write_output

COMMAND = "derive"
HELP = "derive the gradient-flow and reduced equations of an architecture"
ORDER = 10


def add_arguments(parser) -> None:
    add_architecture_arguments(parser)
    parser.add_argument("--format", choices=("text",), default="text", help="output format (default text)")
    parser.add_argument("-o", "--output", default=None, help="output file; '-' or omitted prints to standard output")


def run(args) -> int:
    from pathdyn.theory.reduced import derive_qp_equations

    arch = architecture_from_args(args)
    eqs = derive_qp_equations(arch)
    lines = [f"# {arch.describe()}", "# reduced q/p equations of one mode (tau = 1)"]
    for x, f in zip(eqs.state, eqs.rhs):
        lines.append(f"d{x}/dt = {f}")
    lines.append("# conserved")
    lines += [f"{inv.expr}" for inv in eqs.invariants]
    write_output(args.output, "\n".join(lines))
    return 0
