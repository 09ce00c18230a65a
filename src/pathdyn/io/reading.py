"""Reading JSON and TOML text into plain values: every failure of the parser is one error.

Python's parsers fail in more ways than their ``DecodeError``: deeply nested arrays raise
``RecursionError`` (``[[[[...`` of a few thousand levels), and an integer literal of more
than 4300 digits a ``ValueError`` from the int conversion limit. :func:`parse_json` and
:func:`read_toml` turn each into the caller's error naming the file; :func:`read_toml` reads
the file once, so a TOML piped through ``/dev/stdin`` or a process substitution arrives whole.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pathdyn.errors import ConfigError

__all__ = ["parse_json", "read_toml"]


def parse_json(text: str, what: str, error: type[Exception] = ConfigError) -> Any:
    """``json.loads(text)``, with every parser failure as one ``error`` naming ``what``.

    Parameters
    ----------
    text : str
        The JSON text.
    what : str
        What the text is (``"--init 'init.json'"``), named in the message.
    error : type
        The exception raised.

    Returns
    -------
    object
        The parsed value.

    Raises
    ------
    error
        For invalid JSON (with the line), nesting too deep for the parser, or an integer
        literal too long to convert.
    """
    try:
        return json.loads(text)
    except json.JSONDecodeError as failure:
        raise error(f"{what} is not valid JSON ({failure.msg} at line {failure.lineno})") from None
    except RecursionError:
        raise error(f"{what} is nested too deeply for the JSON parser; write plain arrays and objects") from None
    except ValueError as failure:  # the int conversion limit on an integer literal of thousands of digits
        raise error(f"{what} holds a number the JSON parser refuses ({str(failure)[:80]}); write it as a float") from None


def read_toml(path: str | Path, what: str, error: type[Exception] = ConfigError) -> dict:
    """The TOML file ``path``, read once and parsed, with every failure as one ``error`` naming ``what``.

    Parameters
    ----------
    path : str or Path
        The file (a pipe such as ``/dev/stdin`` too: its bytes are read once).
    what : str
        What the file is (``"architecture file 'a.toml'"``), named in the message.
    error : type
        The exception raised.

    Returns
    -------
    dict
        The parsed table.

    Raises
    ------
    error
        If the file is missing or unreadable, not UTF-8, not TOML, or nested too deeply.
    """
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        import tomli as tomllib
    try:
        data = Path(path).read_bytes()
    except FileNotFoundError:
        raise error(f"{what} not found; check the path") from None
    except OSError as failure:
        raise error(f"{what} cannot be read ({failure.strerror or failure})") from None
    try:
        return tomllib.loads(data.decode("utf-8"))
    except UnicodeDecodeError as failure:
        raise error(f"{what} is not UTF-8 text (byte {failure.start}); save it as UTF-8") from None
    except tomllib.TOMLDecodeError as failure:
        raise error(f"{what} is not valid TOML: {failure}") from None
    except RecursionError:
        raise error(f"{what} is nested too deeply for the TOML parser; write plain tables and arrays") from None
