"""Which options apply to which model or mode, per subcommand: one table, checked before any work.

An option that does nothing in the run the command line describes (``integrate --tol``
for the q/p model, ``derive --model dmft --prod``) is refused in one line naming it, the
setting that makes it idle and the fix, never silently ignored: a user who gives an option
believes it changed the result.

:data:`APPLIES` lists **every** option of every subcommand (``tests/test_options.py`` walks
the parser and fails on an option missing here, so an option added later must be placed
in the table). An option maps to :data:`ALWAYS` or to the runs it applies to: a tuple of
alternatives (any one suffices), each a mapping from another option's destination to what
that option must be in the run:

- a frozenset of values: the parsed value (defaults included) is one of them,
- :data:`GIVEN` / :data:`ABSENT`: the option was / was not on the command line,
- :class:`StartsWith`: the parsed value is a string with that prefix.

:func:`check_applicable` compares the table with the options actually given (found by
parsing the command line again with every default suppressed, see :func:`given_options`),
so a default never counts as given.
"""

from __future__ import annotations

import argparse
import re
from dataclasses import dataclass
from typing import Mapping, Union

from pathdyn.errors import ConfigError

__all__ = ["ABSENT", "ALWAYS", "API_ALIASES", "APPLIES", "GIVEN", "StartsWith", "check_applicable", "cli_message",
           "given_options"]


class _Marker:
    """GIVEN or ABSENT: whether an option was on the command line."""

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return self.name


GIVEN = _Marker("GIVEN")
ABSENT = _Marker("ABSENT")


@dataclass(frozen=True)
class StartsWith:
    """The option's value is a string starting with ``prefix`` (``--dataset random:...``)."""

    prefix: str


Requirement = Union[frozenset, _Marker, StartsWith]
#: An option applies in every run of its subcommand.
ALWAYS: tuple = ()

_ODE = frozenset({"layer", "qp"})
_DMFT = frozenset({"dmft"})
_LATEX = frozenset({"latex"})
_NOT_DMFT = frozenset({"layer", "qp", "race", "two-channel"})

_ARCHITECTURE = {"--depths": ALWAYS, "--architecture": ALWAYS, "--n-in": ALWAYS, "--n-out": ALWAYS,
                 "--whitened": ALWAYS, "--general": ALWAYS}
_CLUSTER = {"--workers": ALWAYS, "--scheduler": ALWAYS}

#: subcommand -> option (its long spellings joined by '/') -> the runs it applies to.
APPLIES: dict[str, dict[str, tuple[Mapping[str, Requirement], ...]]] = {
    "derive": {
        **_ARCHITECTURE,
        # the DMFT site equations hold depths only: dimensions and input covariance do not enter
        "--n-in": ({"model": _NOT_DMFT},), "--n-out": ({"model": _NOT_DMFT},),
        "--whitened": ({"model": _NOT_DMFT},), "--general": ({"model": _NOT_DMFT},),
        "--format": ALWAYS, "--model": ALWAYS, "--output": ALWAYS,
        "--fragment": ({"format": _LATEX},),
        # the DMFT export has its own fixed layout; these shape the gradient-flow LaTeX only
        "--ungrouped": ({"format": _LATEX, "model": _NOT_DMFT},),
        "--prod": ({"format": _LATEX, "model": _NOT_DMFT},),
        "--label-prefix": ({"format": _LATEX, "model": _NOT_DMFT},),
        "--path-sums": ({"architecture": GIVEN},),
        # the one equation for every edge is a LaTeX layout of the node form
        "--per-edge": ({"format": _LATEX, "model": _NOT_DMFT, "architecture": GIVEN, "path_sums": ABSENT},),
    },
    "integrate": {
        **_ARCHITECTURE,
        "--n-in": ({"model": _ODE},), "--n-out": ({"model": _ODE},),
        "--model": ALWAYS, "--output": ALWAYS, "--plot": ALWAYS, "--init": ALWAYS,
        "--singular-values": ALWAYS, "--dataset": ALWAYS,
        "--input-variances": ALWAYS,  # without --singular-values: its own message ("goes with --singular-values")
        "--allow-misaligned": ({"singular_values": ABSENT},),
        # --init FILE fixes the q/p state; the drawing settings then do nothing
        "--init-scale": ({"model": _DMFT}, {"init": ABSENT}),
        "--c": ({"model": _ODE, "init": ABSENT},),
        "--seed": ({"model": _ODE, "init": ABSENT},),
        "--method": ({"model": _ODE},), "--rtol": ({"model": _ODE},), "--atol": ({"model": _ODE},),
        "--loss-tol": ({"model": _ODE},),
        # the DMFT in gradient descent runs --steps steps: no horizon, grid or flow tolerance
        "--t-max": ({"model": _ODE}, {"learning_rate": ABSENT}),
        "--num-points": ({"model": _ODE}, {"learning_rate": ABSENT}),
        "--learning-rate": ({"model": _DMFT},), "--steps": ({"model": _DMFT},),
        "--tol": ({"model": _DMFT, "learning_rate": ABSENT},),
        # the discrete march may hold K once learned; the flow has a step budget
        "--hold-below": ({"model": _DMFT, "learning_rate": GIVEN},),
        "--max-steps": ({"model": _DMFT, "learning_rate": ABSENT},),
    },
    "simulate": {
        "--depths": ALWAYS, "--architecture": ALWAYS, "--width": ALWAYS, "--activation": ALWAYS,
        "--activate-last": ({"activation": frozenset({"relu", "tanh"})},),
        "--init": ({"init_from": ABSENT},), "--init-scale": ({"init_from": ABSENT},),
        "--seed": ({"init_from": ABSENT},),
        "--init-from": ALWAYS, "--dataset": ALWAYS,
        "--data-seed": ({"dataset": StartsWith("random")},),
        "--learning-rate": ALWAYS, "--steps": ALWAYS, "--record-every": ALWAYS, "--loss": ALWAYS,
        "--float32": ALWAYS, "--threads": ALWAYS, "--device": ALWAYS, "--output": ALWAYS,
        "--save-weights": ALWAYS, "--plot": ALWAYS, "--no-progress": ALWAYS,
    },
    "validate": {
        "--max-steps": ALWAYS, "--quick": ALWAYS, "--device": ALWAYS, "--strict": ALWAYS, "--output": ALWAYS,
        "--plot": ALWAYS, "--no-progress": ALWAYS, **_CLUSTER,
        # the case options describe one case; --quick runs the built-in suite (validate says which)
        "--depths": ALWAYS, "--architecture": ALWAYS, "--widths": ALWAYS, "--seeds": ALWAYS, "--init": ALWAYS, "--init-scale": ALWAYS,
        "--theory": ALWAYS, "--mapping": ALWAYS, "--learning-rate": ALWAYS, "--t-max": ALWAYS, "--dataset": ALWAYS,
        "--allow-misaligned": ({"dataset": GIVEN},),
    },
    "concentration": {
        "--depths": ALWAYS, "--architecture": ALWAYS, "--activation": ALWAYS, "--seeds": ALWAYS, "--width": ALWAYS,
        "--init": ALWAYS,
        "--init-scale": ALWAYS, "--learning-rate": ALWAYS, "--t-max": ALWAYS, "--max-steps": ALWAYS,
        "--no-race": ALWAYS, "--device": ALWAYS, "--output": ALWAYS, "--plot": ALWAYS, "--no-progress": ALWAYS,
        **_CLUSTER,
    },
    "figures phase-plane": {
        "--output": ALWAYS, "--depths": ALWAYS, "--architecture": ALWAYS, "--scales": ALWAYS, "--singular-value": ALWAYS, "--t-max": ALWAYS,
        "--num-trajectories": ALWAYS, "--c": ALWAYS, "--seed": ALWAYS,
    },
    # the former graph commands take no options: each answers with the command that does its work now
    "graph-validate": {},
    "graph-concentration": {},
    "graph-sweep": {},
    "dmft-finite-width": {
        "--summarize": ALWAYS,
        # --summarize only prints a saved report: every setting of a run does nothing with it
        **{flag: ({"summarize": ABSENT},) for flag in ("--depths", "--widths", "--seeds", "--init-scale",
                                                         "--learning-rate", "--t-max", "--mode-alone", "--output")},
    },
}


def option_name(action: argparse.Action) -> str:
    """An option's name in :data:`APPLIES`: its long spellings joined by ``/`` (``-o/--output`` is ``--output``).

    Parameters
    ----------
    action : argparse.Action
        One option of a parser.

    Returns
    -------
    str
        The name.
    """
    return "/".join(s for s in action.option_strings if s.startswith("--"))


def given_options(parser: argparse.ArgumentParser, argv: list) -> set:
    """The destinations of the options written on the command line ``argv`` (defaults not counted).

    Parameters
    ----------
    parser : argparse.ArgumentParser
        A freshly built ``pathdyn`` parser; its defaults are suppressed in place.
    argv : list of str
        The command line, already parsed successfully once.

    Returns
    -------
    set of str
        ``action.dest`` of every option given, whatever its spelling (``--opt=v``, an
        abbreviation, a short flag).

    Notes
    -----
    argparse fills every default into the namespace, so "given" cannot be read from the
    values (``--seed 0`` equals the default). With every default set to ``SUPPRESS`` a
    second parse holds only what the command line wrote.
    """
    for child in _all_parsers(parser):
        for action in child._actions:
            if action.option_strings:
                action.default = argparse.SUPPRESS
    return set(vars(parser.parse_args(argv)))


def _all_parsers(parser):
    yield parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for child in action.choices.values():
                yield from _all_parsers(child)


def check_applicable(command: str, parser: argparse.ArgumentParser, args: argparse.Namespace, given: set) -> None:
    """Refuse an option given on the command line that does nothing in this run (one line).

    Parameters
    ----------
    command : str
        The subcommand, as a key of :data:`APPLIES` (``"figures phase-plane"`` for a nested one).
    parser : argparse.ArgumentParser
        The subcommand's own parser (its actions name the options).
    args : argparse.Namespace
        The parsed command line, defaults included.
    given : set of str
        The destinations written on the command line (:func:`given_options`).

    Raises
    ------
    ConfigError
        Naming the idle option, what makes it idle and the fix, for the first one found.
    """
    table = APPLIES.get(command, {})
    for action in parser._actions:
        name = option_name(action)
        if not _was_given(action, args, given) or name not in table or not table[name]:
            continue
        alternatives = table[name]
        if not any(_holds(requirements, args, given) for requirements in alternatives):
            raise ConfigError(f"{name}: does nothing here, it applies only {_describe(alternatives, parser)} "
                              f"({_this_run(alternatives, args, given, parser)}); drop {name}")


def _was_given(action: argparse.Action, args, given: set) -> bool:
    # --whitened and --general share one destination: the flag given is the one whose constant was stored
    if isinstance(action, argparse._StoreConstAction):
        return action.dest in given and getattr(args, action.dest, None) == action.const
    return action.dest in given


def _holds(requirements: Mapping[str, Requirement], args, given: set) -> bool:
    return all(_meets(dest, need, args, given) for dest, need in requirements.items())


def _meets(dest: str, need: Requirement, args, given: set) -> bool:
    value = getattr(args, dest, None)
    if need is GIVEN:
        return dest in given
    if need is ABSENT:
        return dest not in given
    if isinstance(need, StartsWith):
        return isinstance(value, str) and value.startswith(need.prefix)
    return isinstance(need, frozenset) and value in need


def _flag(dest: str, parser) -> str:
    for action in parser._actions:
        if action.dest == dest and action.option_strings:
            return option_name(action)
    return "--" + dest.replace("_", "-")


def _describe(alternatives, parser) -> str:
    def one(dest, need):
        flag = _flag(dest, parser)
        if need is GIVEN:
            return f"with {flag}"
        if need is ABSENT:
            return f"without {flag}"
        if isinstance(need, StartsWith):
            return f"with {flag} {need.prefix}..."
        return f"with {flag} " + "|".join(sorted(need))

    return " or ".join(" and ".join(one(d, n) for d, n in requirements.items()) for requirements in alternatives)


def _this_run(alternatives, args, given: set, parser) -> str:
    dests = dict.fromkeys(dest for requirements in alternatives for dest in requirements)
    parts = []
    for dest in dests:
        flag = _flag(dest, parser)
        value = getattr(args, dest, None)
        if dest not in given:
            parts.append(f"{flag} not given" if value in (None, False) else f"{flag} {value} by default")
        else:
            parts.append(f"{flag} given" if isinstance(value, bool) or value is None else f"{flag} {value}")
    return "this run: " + ", ".join(parts)


#: API argument names that differ from the option's destination: name -> destination
#: (applied only where the subcommand has that option and no option of the API name).
API_ALIASES = {"scale": "init_scale", "method": "mapping", "sigma": "init_scale", "eta": "learning_rate"}


def cli_message(message: str, parser: argparse.ArgumentParser) -> str:
    """``message`` of a library error with its API argument names replaced by the subcommand's options.

    Parameters
    ----------
    message : str
        A :class:`~pathdyn.errors.PathdynError` message from the library, which names its
        arguments (``init_scale: -1.0 is not positive; ... e.g. init_scale=0.3``).
    parser : argparse.ArgumentParser
        The subcommand's parser.

    Returns
    -------
    str
        The same message naming options (``--init-scale: ... e.g. --init-scale 0.3``).

    Notes
    -----
    A name with an underscore (``t_max``, ``learning_rate``) is an identifier wherever it
    appears, and is replaced everywhere; a plain word (``seeds``, ``widths``) is an argument
    name only where it starts the message or a ``; ``-separated part, followed by ``:`` (or
    ``[...]:``), so prose such as "more seeds" is left alone. ``name=value`` becomes
    ``--name value``. Aliases (:data:`API_ALIASES`: ``scale`` is ``--init-scale``,
    ``method`` is ``--mapping``) apply where the option exists and the API name is not an
    option of its own.
    """
    flags: dict[str, str] = {}
    for action in parser._actions:
        if action.option_strings and action.dest != "help":
            flags.setdefault(action.dest, option_name(action).split("/")[0] or action.option_strings[-1])
    for alias, dest in API_ALIASES.items():
        if dest in flags and alias not in flags:
            flags[alias] = flags[dest]
    for name in sorted(flags, key=len, reverse=True):
        flag = flags[name]
        message = re.sub(rf"(?<![\w-]){re.escape(name)}=", f"{flag} ", message)
        if "_" in name:
            message = re.sub(rf"(?<![\w-]){re.escape(name)}(?![\w-])", flag, message)
        else:
            message = re.sub(rf"(^|; ){re.escape(name)}(?=(\[[^\]]*\])?:)", rf"\g<1>{flag}", message)
    return message
