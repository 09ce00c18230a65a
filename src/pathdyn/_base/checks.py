"""Validators shared by the public API and the command line: one place per class of bad input.

Each returns the cleaned value or raises a :class:`~pathdyn.errors.ConfigError` (or
:class:`~pathdyn.errors.DatasetError` for data) whose one-line message names the
argument, the bad value and the fix. ``bool`` is never accepted as a number.
"""

from __future__ import annotations

import math
import numbers
from typing import Any, Literal, TypeVar, overload
import os

import numpy as np

from pathdyn.errors import ConfigError, DatasetError

__all__ = [
    "MAX_MAGNITUDE",
    "available_memory_bytes",
    "check_memory",
    "real_array",
    "real_number",
    "seed_value",
    "whole_number",
]

#: Largest singular value or data entry accepted. Squares of these values enter the
#: right-hand sides and the loss, and float64 overflows at about 1.8e308: the
#: integrator already stalls (without finishing) at 1e150, while 1e100 integrates in
#: seconds. Anything larger is refused up front.
MAX_MAGNITUDE = 1e100

GIB = 1024.0**3


#: A seed: a whole number, or a generator used as it is.
SeedT = TypeVar("SeedT", int, np.random.Generator)


def is_whole_number(value: Any) -> bool:
    """Whether ``value`` is an integer (a Python or numpy integer, not a bool).

    Parameters
    ----------
    value : object

    Returns
    -------
    bool
    """
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def whole_number(name: str, value: Any, minimum: int = 0, maximum: int | None = None) -> int:
    """``value`` as an ``int`` >= ``minimum`` (and <= ``maximum``); integral floats like 3.0 pass, 2.7 does not.

    Parameters
    ----------
    name : str
        The argument's name, for the message.
    value : int or float
        The value to check; integral floats such as ``3.0`` are accepted.
    minimum : int
        Smallest value allowed.
    maximum : int, optional
        Largest value allowed (no limit by default).

    Returns
    -------
    int
        ``value`` as an ``int``.

    Raises
    ------
    ConfigError
        When ``value`` is not a whole number (booleans included) or lies outside
        ``[minimum, maximum]``.
    """
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise ConfigError(f"{name}: {value!r} is not a whole number; give an integer >= {minimum}")
    if isinstance(value, numbers.Integral):
        number = int(value)
    elif math.isfinite(float(value)) and float(value).is_integer():
        number = int(float(value))
    else:
        raise ConfigError(f"{name}: {value!r} is not a whole number; give an integer >= {minimum}")
    if number < minimum:
        raise ConfigError(f"{name}: {number} is below {minimum}; give an integer >= {minimum}")
    if maximum is not None and number > maximum:
        raise ConfigError(f"{name}: {number} is above the limit {maximum}; give an integer <= {maximum}")
    return number


@overload
def real_number(name: str, value: Any, *, positive: bool = ..., nonnegative: bool = ..., below: float | None = ...,
                allow_none: Literal[False] = ..., example: str = ...) -> float: ...
@overload
def real_number(name: str, value: Any, *, positive: bool = ..., nonnegative: bool = ..., below: float | None = ...,
                allow_none: bool = ..., example: str = ...) -> float | None: ...
def real_number(name: str, value: Any, *, positive: bool = False, nonnegative: bool = False, below: float | None = None,
                allow_none: bool = False, example: str = "") -> float | None:
    """``value`` as a finite ``float`` with the given sign (and ``< below``); ``None`` only if ``allow_none``.

    Parameters
    ----------
    name : str
        The argument's name, for the message.
    value : float or None
        The value to check.
    positive, nonnegative : bool
        Require ``value > 0`` or ``value >= 0``.
    below : float, optional
        Require ``value < below``.
    allow_none : bool
        Accept ``None`` (and return it).
    example : str
        An example value, shown in the message as ``; e.g. name=example``.

    Returns
    -------
    float or None
        ``value`` as a ``float`` (``None`` only when allowed and given).

    Raises
    ------
    ConfigError
        When ``value`` is not a real number, not finite, or has the wrong sign or size.
    """
    if value is None and allow_none:
        return None
    hint = f"; e.g. {name}={example}" if example else ""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise ConfigError(f"{name}: {value!r} is not a real number{hint}")
    try:
        number = float(value)
    except OverflowError:  # an int beyond float range (10**400)
        raise ConfigError(f"{name}: a number of {len(str(value).lstrip('-'))} digits is beyond floating point; give a "
                          f"finite number{hint}") from None
    if not math.isfinite(number):
        raise ConfigError(f"{name}: {number} is not finite; give a finite number{hint}")
    if positive and number <= 0:
        raise ConfigError(f"{name}: {number} is not positive; give a number > 0{hint}")
    if nonnegative and number < 0:
        raise ConfigError(f"{name}: {number} is negative; give a number >= 0{hint}")
    if below is not None and number >= below:
        raise ConfigError(f"{name}: {number} is not below {below:g}; give a number < {below:g}{hint}")
    return number


def seed_value(name: str, value: SeedT) -> SeedT:
    """A seed: a whole number >= 0 or a ``numpy.random.Generator`` (returned unchanged).

    Parameters
    ----------
    name : str
        The argument's name, for the message.
    value : int or numpy.random.Generator
        The seed.

    Returns
    -------
    int or numpy.random.Generator
        The whole number, or the generator unchanged.
    """
    if isinstance(value, np.random.Generator):
        return value
    return whole_number(name, value, minimum=0)


def distinct_seeds(name: str, seeds: Any) -> tuple:
    """``seeds`` as a tuple, refused when a seed repeats.

    Parameters
    ----------
    name : str
        The argument, named in the message.
    seeds : sequence of int
        Seeds of independent networks (already checked as whole numbers).

    Returns
    -------
    tuple of int

    Raises
    ------
    ConfigError
        If a seed appears twice.

    Notes
    -----
    A statistic over seeds (a median, a confidence interval, a seed mean) treats each seed as
    an independent network. A repeated seed trains the same network again: ``0,0,0`` counts
    three networks with no spread, the interval shrinks to zero width and the verdict flips.
    """
    seeds = tuple(seeds)
    repeated = sorted({s for s in seeds if seeds.count(s) > 1})
    if repeated:
        raise ConfigError(f"{name}: {list(seeds)} repeats seed(s) {', '.join(map(str, repeated))}; a repeated seed is the "
                          "same network again, not another sample: give distinct seeds")
    return seeds


def real_array(name: str, value: Any, error: type[Exception] = ConfigError) -> np.ndarray:
    """``value`` as a float64 array; strings, objects, complex numbers and booleans are refused.

    Parameters
    ----------
    name : str
        The argument's name, for the message.
    value : array_like
        The values.
    error : type
        The exception class raised on bad input (a :mod:`pathdyn.errors` class).

    Returns
    -------
    ndarray
        ``value`` as float64 (no copy when it already is).

    Raises
    ------
    error
        When ``value`` is not an array of real numbers.
    """
    if np.ma.isMaskedArray(value):
        # numpy computes with the values under the mask: refuse, rather than use what was masked out
        if np.ma.is_masked(value):
            raise error(f"{name}: a masked array with {int(np.ma.count_masked(value))} masked entries; fill them "
                        "(.filled(...)) or drop them first")
        value = np.ma.getdata(value)
    array = value if isinstance(value, np.ndarray) else None
    if array is None:
        try:
            array = np.asarray(value)
        except (TypeError, ValueError) as problem:
            raise error(f"{name}: not an array of numbers ({problem}); give real numbers") from None
        if array.dtype.kind in "iuf" and _holds_booleans(value):
            # np.asarray([True, 1]) is the integer array [1, 1]: a boolean among numbers is a mistake
            raise error(f"{name}: {value!r} mixes booleans with numbers; give real numbers")
    kind = array.dtype.kind
    if kind == "c":
        raise error(f"{name}: complex values (dtype {array.dtype}); give real numbers (take .real only if the imaginary part is noise)")
    if kind not in "iuf":
        raise error(f"{name}: dtype {array.dtype} is not numeric; give real numbers (check for strings, ragged rows or booleans)")
    return array.astype(float, copy=False)


def _holds_booleans(value: object) -> bool:
    """Whether a nested list or tuple holds a ``bool`` anywhere (numpy would take it as 0 or 1)."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, (bool, np.bool_)):
            return True
        if isinstance(item, (list, tuple)):
            stack.extend(item)
    return False


def available_memory_bytes() -> int | None:
    """Memory the system can still give, from ``/proc/meminfo`` (``MemAvailable``) or ``os.sysconf``; ``None`` if unknown.

    Returns
    -------
    int or None
        Available bytes, or ``None`` when neither source answers.
    """
    try:
        with open("/proc/meminfo", encoding="ascii") as handle:
            for line in handle:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return int(os.sysconf("SC_AVPHYS_PAGES")) * int(os.sysconf("SC_PAGE_SIZE"))
    except (OSError, ValueError, AttributeError):
        return None


def check_memory(what: str, nbytes: float, fix: str, available: int | None = None) -> None:
    """Refuse, before allocating, a run whose arrays need more memory than is available.

    Parameters
    ----------
    what : str
        What needs the memory, e.g. ``"width 100000: weights and buffers"``.
    nbytes : float
        The estimate in bytes.
    fix : str
        What to change, e.g. ``"use a smaller --width"``.
    available : int, optional
        Bytes available (default :func:`available_memory_bytes`).

    Raises
    ------
    ConfigError
        If ``nbytes`` exceeds the available memory.
    """
    available = available_memory_bytes() if available is None else available
    if available is not None and nbytes > available:
        raise ConfigError(
            f"{what} needs about {nbytes / GIB:.3g} GiB but {available / GIB:.3g} GiB of memory are available; {fix}"
        )


def check_magnitude(name: str, array: np.ndarray, error: type[Exception] = DatasetError) -> None:
    """Refuse entries beyond :data:`MAX_MAGNITUDE` (the integrator stalls and squares overflow).

    Parameters
    ----------
    name : str
        The argument's name, for the message.
    array : ndarray
        The values to check.
    error : type
        The exception class raised (a :mod:`pathdyn.errors` class).

    Raises
    ------
    error
        When an entry's magnitude exceeds :data:`MAX_MAGNITUDE`.
    """
    if array.size:
        largest = float(np.max(np.abs(array)))
        if largest > MAX_MAGNITUDE:
            raise error(f"{name}: an entry of magnitude {largest:.3g} exceeds {MAX_MAGNITUDE:g}; rescale the data (the dynamics only scale with it)")
