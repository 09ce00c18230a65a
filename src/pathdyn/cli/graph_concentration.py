"""``pathdyn graph-concentration``: folded into ``pathdyn concentration --architecture GRAPH.toml``."""

from __future__ import annotations

import argparse

from pathdyn.cli._alias import add_alias_arguments, moved

COMMAND = "graph-concentration"
HELP = "deprecated: use pathdyn concentration --architecture FILE.toml [--architecture ...]"
ORDER = 91
DESCRIPTION = """\
Folded into pathdyn concentration: how the modes of graph networks split over their paths is
  pathdyn concentration --architecture A.toml --architecture B.toml --seeds 20 [--activation linear,relu]
with the [graph] tables' activations honoured (--activation only for graphs that give none).
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
    raise moved(COMMAND, "pathdyn concentration --architecture FILE.toml")
