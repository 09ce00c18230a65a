"""``pathdyn graph-sweep``: folded into ``pathdyn validate --architecture GRAPH.toml``."""

from __future__ import annotations

import argparse

from pathdyn.cli._alias import add_alias_arguments, moved

COMMAND = "graph-sweep"
HELP = "deprecated: use pathdyn validate --architecture FILE.toml (one graph per run)"
ORDER = 92
DESCRIPTION = """\
Folded into pathdyn validate: the random-initialisation width sweep of a graph is
  pathdyn validate --architecture FILE.toml [--widths 32,128,512 --seeds 0,1,2,3 --init gaussian]
one graph per run, with the checks every validate run has.
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
    raise moved(COMMAND, "pathdyn validate --architecture FILE.toml --widths 32,128,512 (one graph per run)")
