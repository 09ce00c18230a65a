"""Former subcommands kept as names: each answers with one line naming the command that does its work now."""

from __future__ import annotations

import argparse

from pathdyn.errors import ConfigError

__all__ = ["add_alias_arguments", "moved"]


def add_alias_arguments(parser: argparse.ArgumentParser) -> None:
    """Accept whatever the former command took, so that the answer is the pointer, not a usage error.

    Parameters
    ----------
    parser : argparse.ArgumentParser
        The former subcommand's parser.
    """
    parser.set_defaults(_former_command=True)


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
