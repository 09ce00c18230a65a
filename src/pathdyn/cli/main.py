"""Entry point of the ``pathdyn`` command.

Subcommands are discovered from the modules of :mod:`pathdyn.cli`: a module that
defines ``COMMAND`` (its name), ``HELP`` (one line), ``ORDER`` (position in the
help), ``add_arguments(parser)`` and ``run(args) -> int`` becomes ``pathdyn COMMAND``;
a module may instead list ``COMMANDS``, objects with the same attributes (the former
graph commands of :mod:`pathdyn.cli.former`).
Domain errors (:class:`pathdyn.errors.PathdynError`) and file errors become one line
on standard error and exit status 2, with no traceback.
"""

from __future__ import annotations

import argparse
import importlib
import math
import pkgutil
import sys
from typing import NoReturn

from pathdyn import __version__
from pathdyn.errors import ConfigError, PathdynError
from pathdyn.cli.options import check_applicable, cli_message, given_options
from pathdyn.cli.outputs import Terminated, terminate_as_interrupt
import pathdyn.cli as package


class OneLineParser(argparse.ArgumentParser):
    """argparse, with usage errors as one line (``pathdyn derive: error: ...``) and exit status 2."""

    def error(self, message: str) -> NoReturn:
        """Print the usage error as one line and exit with status 2.

        Parameters
        ----------
        message : str
            What was wrong with the command line.
        """
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def _subcommand_modules():
    modules = []
    for info in pkgutil.iter_modules(package.__path__):
        if info.name in ("main",) or info.name.startswith("_"):
            continue
        module = importlib.import_module(f"pathdyn.cli.{info.name}")
        if hasattr(module, "COMMAND") and hasattr(module, "run"):
            modules.append(module)
        modules += getattr(module, "COMMANDS", ())  # several commands of one module (the former ones)
    return sorted(modules, key=lambda m: (getattr(m, "ORDER", 100), m.COMMAND))


def build_parser() -> argparse.ArgumentParser:
    """The ``pathdyn`` parser: one subcommand per module of :mod:`pathdyn.cli`.

    Returns
    -------
    argparse.ArgumentParser
        The ``pathdyn`` parser with every subcommand.
    """
    parser = OneLineParser(
        prog="pathdyn",
        description="Learning dynamics of deep linear networks with parallel pathways.",
    )
    parser.add_argument("--version", action="version", version=f"pathdyn {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for module in _subcommand_modules():
        child = sub.add_parser(
            module.COMMAND,
            help=module.HELP,
            description=getattr(module, "DESCRIPTION", module.HELP),
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        module.add_arguments(child)
        child.set_defaults(_run=module.run)
    return parser


def _chosen_actions(parser, args):
    """The option actions of the (sub)command that ``args`` came from."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            child = action.choices.get(getattr(args, action.dest, None))
            if child is not None:
                yield from _chosen_actions(child, args)
        elif action.option_strings:
            yield action


def check_option_values(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """Refuse, for every option, an explicit empty string, a negative whole number or a non-finite number.

    Every string option of pathdyn names something (a file, a list, a choice), every
    whole-number option is a count, size or seed, and every float option a finite
    quantity; so these checks hold for all of them, including options added later.

    Parameters
    ----------
    parser : argparse.ArgumentParser
        The parser that produced ``args``.
    args : argparse.Namespace
        The parsed command line.

    Raises
    ------
    ConfigError
        For the first bad value: an empty string, a negative whole number, a non-finite
        float, a whole number above :data:`MAX_OPTION_INTEGER` (alone or in a list), or a
        count of seeds above :data:`MAX_SEED_COUNT`.
    """
    for action in _chosen_actions(parser, args):
        value = getattr(args, action.dest, None)
        flag = "/".join(action.option_strings)
        # a repeatable option (action="append", e.g. graph-sweep --architecture) holds a list
        for item in value if isinstance(value, list) else [value]:
            _check_option_value(flag, action.option_strings[-1], item)
        if action.dest == "seeds" and isinstance(value, int) and value > MAX_SEED_COUNT:
            # a count of seeds becomes range(n), trained one network after another
            raise ConfigError(f"{flag}: {value:,} seeds would train for weeks; give at most {MAX_SEED_COUNT:,}")


def chosen_subcommand(parser: argparse.ArgumentParser, args: argparse.Namespace) -> tuple:
    """``(name, parser)`` of the (nested) subcommand ``args`` came from: ``("figures phase-plane", ...)``.

    Parameters
    ----------
    parser : argparse.ArgumentParser
        The ``pathdyn`` parser.
    args : argparse.Namespace
        The parsed command line.

    Returns
    -------
    tuple of (str, argparse.ArgumentParser)
        The subcommand's words joined by a space, and its own parser.
    """
    words = []
    for action in list(parser._actions):
        if isinstance(action, argparse._SubParsersAction):
            name = getattr(args, action.dest, None)
            if name in action.choices:
                words.append(name)
                inner, parser = chosen_subcommand(action.choices[name], args)
                words += [inner] if inner else []
                break
    return " ".join(words), parser


#: Largest whole number any option takes, alone or in a list (2**53, where float64 stops
#: counting by ones): every count, size or seed of pathdyn is far below; above it numpy fails
#: with OverflowError or "Maximum allowed dimension exceeded" instead of the memory check.
MAX_OPTION_INTEGER = 2**53
#: Most seeds a count option (``concentration --seeds N``) may ask for.
MAX_SEED_COUNT = 100_000
_LIST_CHARACTERS = frozenset("0123456789, -\t")


def _whole_numbers_in(text: str) -> list:
    """The whole numbers of a list or range value (``8,16,1024``, ``0-7``); none for any other text."""
    text = text.strip()
    if not text[:1].isdigit() or not set(text) <= _LIST_CHARACTERS:
        return []  # a file name, a choice, a float list: not a list of counts
    return [int(part) for part in "".join(c if c.isdigit() else " " for c in text).split()]


def _check_option_value(flag: str, spelling: str, value) -> None:
    if isinstance(value, str) and not value.strip():
        raise ConfigError(f"{flag}: empty value; give a value or drop {spelling} to use the default")
    if isinstance(value, int) and not isinstance(value, bool) and value < 0:
        raise ConfigError(f"{flag}: {value} is negative; give a whole number >= 0")
    numbers = ([value] if isinstance(value, int) and not isinstance(value, bool) else
               _whole_numbers_in(value) if isinstance(value, str) else [])
    if any(number > MAX_OPTION_INTEGER for number in numbers):
        raise ConfigError(f"{flag}: {_shorten(value)} holds a number above 2**53; give whole numbers below "
                          f"{MAX_OPTION_INTEGER:,}")
    if isinstance(value, float) and not math.isfinite(value):
        raise ConfigError(f"{flag}: {value} is not a finite number")


def _shorten(value) -> str:
    text = str(value)
    return text if len(text) <= 40 else f"{text[:18]}...{text[-18:]} ({len(text)} characters)"


def main(argv: list | None = None) -> int:
    """The ``pathdyn`` command: parse, check the options (values, and that each applies), run the subcommand.

    Parameters
    ----------
    argv : list of str, optional
        The arguments (default ``sys.argv[1:]``).

    Returns
    -------
    int
        The exit status: 0 on success, 2 for a usage or domain error, 130 on
        interruption, 128 + the signal on termination (143 for SIGTERM, 129 for SIGHUP).
    """
    parser = build_parser()
    argv = sys.argv[1:] if argv is None else list(argv)
    args, unknown = parser.parse_known_args(argv)
    former = getattr(args, "_former_command", False)  # a former command's pointer is its only answer
    if unknown and not former:
        parser.parse_args(argv)  # the usage error, one line
    command, command_parser = chosen_subcommand(parser, args)
    try:
        if not former:
            check_option_values(parser, args)
            check_applicable(command, command_parser, args, given_options(build_parser(), argv))
        with terminate_as_interrupt():
            return int(args._run(args) or 0)
    except PathdynError as error:
        # the library names its arguments (t_max); the user typed options (--t-max)
        print(f"pathdyn {args.command}: error: {cli_message(str(error), command_parser)}", file=sys.stderr)
        return 2
    except OSError as error:
        print(f"pathdyn {args.command}: error: {error.strerror or error}: {error.filename or ''}".rstrip(": "), file=sys.stderr)
        return 2
    except MemoryError:
        print(f"pathdyn {args.command}: error: out of memory; use smaller sizes (width, steps, points, seeds)", file=sys.stderr)
        return 2
    except Terminated as stop:
        print(f"pathdyn {args.command}: terminated", file=sys.stderr)
        return 128 + stop.signum
    except KeyboardInterrupt:
        print(f"pathdyn {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
