"""Entry point of the ``pathdyn`` command.

Subcommands are discovered from the modules of :mod:`pathdyn.cli`: a module that
defines ``COMMAND`` (its name), ``HELP`` (one line), ``ORDER`` (position in the
help), ``add_arguments(parser)`` and ``run(args) -> int`` becomes ``pathdyn COMMAND``.
Domain errors (:class:`pathdyn.errors.PathdynError`) and file errors become one line
on standard error and exit status 2, with no traceback.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys

from pathdyn import __version__
from pathdyn.errors import PathdynError


def _subcommand_modules():
    import pathdyn.cli as package

    modules = []
    for info in pkgutil.iter_modules(package.__path__):
        if info.name in ("main",) or info.name.startswith("_"):
            continue
        module = importlib.import_module(f"pathdyn.cli.{info.name}")
        if hasattr(module, "COMMAND") and hasattr(module, "run"):
            modules.append(module)
    return sorted(modules, key=lambda m: (getattr(m, "ORDER", 100), m.COMMAND))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
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


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args._run(args) or 0)
    except PathdynError as error:
        print(f"pathdyn {args.command}: error: {error}", file=sys.stderr)
        return 2
    except OSError as error:
        print(f"pathdyn {args.command}: error: {error.strerror or error}: {error.filename or ''}".rstrip(": "), file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"pathdyn {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
