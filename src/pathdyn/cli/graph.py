"""``pathdyn graph-validate``: folded into ``pathdyn validate --architecture GRAPH.toml --init aligned``."""

from __future__ import annotations

import argparse

from pathdyn.cli._alias import add_alias_arguments, moved

COMMAND = "graph-validate"
HELP = "deprecated: use pathdyn validate --architecture FILE.toml --init aligned"
ORDER = 90
DESCRIPTION = """\
Folded into pathdyn validate: the aligned network of a graph against its reduced model is
  pathdyn validate --architecture FILE.toml --init aligned [--widths 16 --learning-rate 0.01 --t-max 6]
with the checks every validate run has (input variances, misalignment, linear nodes).
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Accept the former options (they are not used).

    Parameters
    ----------
    parser : argparse.ArgumentParser
        The subcommand's parser.
    """
    add_alias_arguments(parser)


def run(args: argparse.Namespace) -> int:
    """Refuse with the command that does this work now.

    Parameters
    ----------
    args : argparse.Namespace
        The parsed command line.

    Returns
    -------
    int
        Never returns.

    Raises
    ------
    ConfigError
        Always: one line naming the new command.
    """
    raise moved(COMMAND, "pathdyn validate --architecture FILE.toml --init aligned")
