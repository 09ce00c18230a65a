"""``pathdyn dmft-finite-width``: why a finite network's seed mean is off the DMFT (docs/dmft-finite-width.md)."""

from __future__ import annotations

import argparse
import json

from pathdyn.cli._common import check_json_output, file_plan
from pathdyn.cli.outputs import print_summary
from pathdyn.errors import ConfigError
from pathdyn.io.jsonio import save_json
from pathdyn.validation.sweep.dmft_finite_width import escape_with_and_without_other_modes, finite_width_gap, summarize

COMMAND = "dmft-finite-width"
HELP = "measure the finite-width gap of the seed mean to the DMFT, conditioned on each network's start"
ORDER = 75
DESCRIPTION = """\
Per width, train networks from random weights and compare their seed mean with the ensemble
DMFT and with the mean of the DMFT conditioned on each network's own initial overlaps
(docs/dmft-finite-width.md). The JSON report is written after every width (atomically), so
a long run can be read while it goes on.

examples:
  pathdyn dmft-finite-width --depths 7,7 --widths 256,512 --seeds 0-7 -o gap.json
  pathdyn dmft-finite-width --summarize gap.json      # the tables of a saved report
  pathdyn dmft-finite-width --mode-alone 2 --depths 7,7 --widths 256,512 --seeds 0-7 -o alone.json
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add this subcommand's options to ``parser``.

    Parameters
    ----------
    parser : argparse.ArgumentParser
        The subcommand's parser, to which its options are added.
    """
    parser.add_argument("--summarize", metavar="REPORT.json", help="print the tables of a saved report and exit")
    parser.add_argument("--depths", help="comma-separated depth per pathway, e.g. 7,7")
    parser.add_argument("--widths", help="comma-separated widths, e.g. 256,512,1024")
    parser.add_argument("--seeds", help="seeds as ranges or lists, e.g. 0-7 or 0,3,5")
    parser.add_argument("--init-scale", type=float, default=0.5, help="sigma (default 0.5)")
    parser.add_argument("--learning-rate", type=float, default=0.02, help="eta (default 0.02)")
    parser.add_argument("--t-max", type=float, default=8.0, help="training time (default 8)")
    parser.add_argument("--mode-alone", type=int, metavar="MODE",
                        help="instead: that mode's half time with all modes and alone")
    parser.add_argument("-o", "--output", help="JSON report")


def whole_number_list(text: str, flag: str) -> list[int]:
    """``"0-7"`` or ``"256,512"`` (ranges inclusive) as a list of int.

    Parameters
    ----------
    text : str
        The option's value.
    flag : str
        The option, for the error message.

    Returns
    -------
    list of int

    Raises
    ------
    ConfigError
        For anything but whole numbers and inclusive ranges.
    """
    values: list[int] = []
    for part in text.split(","):
        low, _, high = part.partition("-")
        try:
            values.extend(range(int(low), int(high) + 1) if high else [int(low)])
        except ValueError:
            raise ConfigError(f"{flag}: expected whole numbers like 0-7 or 256,512, got {text!r}") from None
    return values


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
        For a missing option, an unreadable report or a bad value.
    """
    if args.summarize:
        unused = [name for name in ("depths", "widths", "seeds", "mode_alone", "output") if getattr(args, name) is not None]
        if unused:
            raise ConfigError(f"--summarize only reads a report; drop --{', --'.join(n.replace('_', '-') for n in unused)}")
        return _print_summary(args.summarize)
    missing = [name for name in ("depths", "widths", "seeds", "output") if getattr(args, name) is None]
    if missing:
        raise ConfigError(f"give --{', --'.join(missing)} (e.g. --depths 7,7 --widths 256,512 --seeds 0-7 -o gap.json)")
    check_json_output(args.output)
    plan = file_plan(f"pathdyn {COMMAND}", {}, {"-o/--output": (args.output, "data", False)})
    depths = whole_number_list(args.depths, "--depths")
    widths = whole_number_list(args.widths, "--widths")
    seeds = whole_number_list(args.seeds, "--seeds")
    if args.mode_alone is not None:
        result = escape_with_and_without_other_modes(depths, widths, seeds, mode=args.mode_alone, init_scale=args.init_scale,
                                                     learning_rate=args.learning_rate, t_max=args.t_max)
        save_json(args.output, result, indent=1)
    else:
        finite_width_gap(depths, widths, seeds, init_scale=args.init_scale, learning_rate=args.learning_rate,
                         t_max=args.t_max, on_width=lambda report: save_json(args.output, report.to_json_dict(), indent=1))
    print_summary(plan, also_written=[args.output])  # saved after every width, outside the plan
    return 0


def _print_summary(path: str) -> int:
    try:
        with open(path) as handle:
            data = json.load(handle)
        print(summarize(data))
    except (OSError, ValueError, KeyError) as error:
        raise ConfigError(f"--summarize {path}: not a readable finite-width report ({type(error).__name__}: {error})") from None
    return 0
