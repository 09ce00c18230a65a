"""Former subcommands kept as names: each answers with one line naming the command that does its work now.

``graph-validate``, ``graph-sweep`` and ``graph-concentration`` were the graph stack's own
commands; graphs now go through ``validate`` and ``concentration`` with ``--architecture``
(docs/graphs.md). Each former name stays in ``pathdyn --help`` and answers, whatever options
it is given, with one line naming its replacement (exit status 2, nothing run or written).
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass

from pathdyn.errors import ConfigError

__all__ = ["COMMANDS", "FormerCommand", "moved"]


def moved(name: str, replacement: str) -> ConfigError:
    """The one-line error of a former subcommand (exit status 2, nothing run or written).

    Parameters
    ----------
    name : str
        The former subcommand.
    replacement : str
        The command line that does its work now.

    Returns
    -------
    ConfigError
        To be raised.
    """
    return ConfigError(f"{name} is folded into the general commands; run {replacement} (docs/graphs.md)")


@dataclass(frozen=True)
class FormerCommand:
    """A former subcommand, with what :mod:`pathdyn.cli.main` reads of a subcommand module.

    Attributes
    ----------
    COMMAND : str
        The former name.
    HELP : str
        Its line in ``pathdyn --help``.
    ORDER : int
        Its position there.
    DESCRIPTION : str
        Its ``--help`` text: the command that does the work now, with an example.
    replacement : str
        The command line its one-line answer names.
    """

    COMMAND: str
    HELP: str
    ORDER: int
    DESCRIPTION: str
    replacement: str

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        """Accept whatever the former command took, so that the answer is the pointer, not a usage error.

        Parameters
        ----------
        parser : argparse.ArgumentParser
            The former subcommand's parser.
        """
        parser.set_defaults(_former_command=True)

    def run(self, args: argparse.Namespace) -> int:
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
        raise moved(self.COMMAND, self.replacement)


COMMANDS = (
    FormerCommand(
        "graph-validate", "deprecated: use pathdyn validate --architecture FILE.toml --init aligned", 90,
        """\
Folded into pathdyn validate: the aligned network of a graph against its reduced model is
  pathdyn validate --architecture FILE.toml --init aligned [--widths 16 --learning-rate 0.01 --t-max 6]
with the checks every validate run has (input variances, misalignment, linear nodes).
""",
        "pathdyn validate --architecture FILE.toml --init aligned"),
    FormerCommand(
        "graph-concentration", "deprecated: use pathdyn concentration --architecture FILE.toml [--architecture ...]", 91,
        """\
Folded into pathdyn concentration: how the modes of graph networks split over their paths is
  pathdyn concentration --architecture A.toml --architecture B.toml --seeds 20 [--activation linear,relu]
with the [graph] tables' activations honoured (--activation only for graphs that give none).
""",
        "pathdyn concentration --architecture FILE.toml"),
    FormerCommand(
        "graph-sweep", "deprecated: use pathdyn validate --architecture FILE.toml (one graph per run)", 92,
        """\
Folded into pathdyn validate: the random-initialisation width sweep of a graph is
  pathdyn validate --architecture FILE.toml [--widths 32,128,512 --seeds 0,1,2,3 --init gaussian]
one graph per run, with the checks every validate run has.
""",
        "pathdyn validate --architecture FILE.toml --widths 32,128,512 (one graph per run)"),
)
