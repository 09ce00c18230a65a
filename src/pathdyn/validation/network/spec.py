"""The settings of a finite-width network: choices, layer sizes and the checks of seeds and dtypes.

Part of :mod:`pathdyn.validation.network` (import from there).
"""

from __future__ import annotations

from typing import Any
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import DTypeLike

from pathdyn._base.checks import is_whole_number
from pathdyn.errors import ArchitectureError, ConfigError
from pathdyn.theory.architecture import Architecture

ACTIVATIONS = ("linear", "relu", "tanh")
INITS = ("gaussian", "orthogonal", "paper")
LOSSES = ("mean", "paper")
DEFAULT_INIT_SCALE = {"gaussian": 0.3, "orthogonal": 0.3, "paper": 0.01}
#: A run stops as diverged when the loss exceeds this factor times
#: ``max(initial loss, loss of the zero network)`` (or is not finite).
DIVERGENCE_FACTOR = 1e4


def network_widths(architecture: Architecture | Sequence[int] | str, n_in: int, n_out: int, width: Any = None) -> list[list[int]]:
    """Layer sizes of every pathway: ``sizes[a] = [n_in, N_1, ..., N_{D_a - 1}, n_out]``.

    Parameters
    ----------
    architecture : Architecture, sequence of int or str
    n_in, n_out : int
    width : int, sequence, or None
        One hidden width for every hidden layer (int); or one entry per pathway, each an
        int or a list of ``D_a - 1`` widths; ``None`` takes the Architecture's
        ``hidden_widths``.

    Returns
    -------
    list of list of int
        The sizes of every pathway.

    Raises
    ------
    ArchitectureError
        If a width is not a positive whole number or the lists do not match the depths.
    """
    depths = Architecture.coerce(architecture).depths
    if isinstance(architecture, Architecture):
        problems = []
        for name, value in (("n_in", n_in), ("n_out", n_out)):
            declared = getattr(architecture, name)
            if declared is not None and declared != value:
                problems.append(f"architecture {name}={declared} but the dataset has {name}={value}")
        if problems:
            raise ArchitectureError("; ".join(problems) + "; make them agree or leave them unset")
        if width is None and architecture.hidden_widths is not None:
            width = [
                [architecture.hidden_width(a + 1, d + 1) for d in range(depth - 1)]
                for a, depth in enumerate(depths)
            ]
    if width is None:
        if all(d == 1 for d in depths):
            width = 1
        else:
            raise ArchitectureError("width: no hidden width given; pass width=N (e.g. width=1000)")
    # Validate through Architecture, which reports every problem at once.
    if is_whole_number(width):
        if width < 1:
            raise ArchitectureError(f"width: {width} is not a positive width; use an integer >= 1, e.g. width=1000")
        hidden: int | tuple = int(width)
    elif isinstance(width, (list, tuple)) and len(width) == len(depths):
        hidden = tuple((w,) * (d - 1) if is_whole_number(w) else tuple(w) for w, d in zip(width, depths))
    else:
        hidden = width
    try:
        arch = Architecture(depths=depths, hidden_widths=hidden)
    except ArchitectureError as error:
        raise ArchitectureError(f"width: {error}".replace("hidden_widths", "width")) from None
    sizes: list[list[Any]] = []  # every hidden width is set here (hidden_width's None is for unset ones)
    for a, depth in enumerate(depths):
        inner = [arch.hidden_width(a + 1, d + 1) for d in range(depth - 1)]
        sizes.append([int(n_in)] + inner + [int(n_out)])
    return sizes


@dataclass(frozen=True)
class NetworkSpec:
    """The layer sizes of a network, validated once (by :func:`network_widths`).

    Attributes
    ----------
    sizes : tuple of tuple of int
        ``sizes[a] = (n_in, N_1, ..., N_{D_a - 1}, n_out)``.
    width : int, tuple or None
        The width as the caller gave it when it was one int or ``None``; otherwise the
        hidden widths per pathway (the form runs record in their provenance).
    """

    sizes: tuple
    width: object

    @classmethod
    def build(cls, architecture: Architecture | Sequence[int] | str, n_in: int, n_out: int, width: Any = None) -> NetworkSpec:
        """Validate ``architecture`` and ``width`` against the data's sizes (see :func:`network_widths`).

        Parameters
        ----------
        architecture : Architecture, sequence of int or str
            The pathways' depths.
        n_in, n_out : int
            The data's dimensions.
        width : int, sequence, or None
            Hidden widths, as in :func:`network_widths`.

        Returns
        -------
        NetworkSpec
            The validated sizes.

        Raises
        ------
        ArchitectureError
            If a width is not a positive whole number or the lists do not match the depths.
        """
        sizes = tuple(tuple(s) for s in network_widths(architecture, n_in, n_out, width))
        if width is not None and not is_whole_number(width):
            width = tuple(s[1:-1] for s in sizes)
        return cls(sizes, width)

    @property
    def depths(self) -> tuple:
        """Depth ``D_a`` of each pathway."""
        return tuple(len(s) - 1 for s in self.sizes)

    @property
    def layer_sizes(self) -> list:
        """``sizes`` as lists (the form of :func:`network_widths`)."""
        return [list(s) for s in self.sizes]

    @property
    def provenance_width(self) -> object:
        """The width as a run records it: the given int or ``None``, else lists of hidden widths."""
        return self.width if self.width is None or is_whole_number(self.width) else [list(s[1:-1]) for s in self.sizes]

    @property
    def reference_width(self) -> int:
        """The ``N`` of ``sigma^2 / N``: the hidden width (the given int, else the largest hidden width)."""
        if is_whole_number(self.width):
            return int(self.width)  # type: ignore[call-overload]  # an integer, checked
        hidden = [n for s in self.sizes for n in s[1:-1]]
        return max(hidden) if hidden else 1

    @property
    def widest(self) -> int:
        """The widest layer, inputs and outputs included."""
        return max(n for s in self.sizes for n in s)

    @property
    def widest_hidden(self) -> int:
        """The widest hidden layer (0 when every pathway has depth 1)."""
        return max((n for s in self.sizes for n in s[1:-1]), default=0)


def check_choice(name: str, value: Any, choices: Sequence[str]) -> None:
    """Refuse a value that is not one of the choices.

    Parameters
    ----------
    name : str
        The argument, for the message.
    value : object
    choices : sequence of str

    Raises
    ------
    ConfigError
        Naming the argument, the value and the choices.
    """
    if value not in choices:
        raise ConfigError(f"{name}: unknown value {value!r}; choose one of {', '.join(choices)}")


def check_dtype(dtype: DTypeLike) -> np.dtype:
    """The float dtype of a simulation (float64 or float32).

    Parameters
    ----------
    dtype : object
        Anything ``numpy.dtype`` reads.

    Returns
    -------
    numpy.dtype

    Raises
    ------
    ConfigError
        For anything else.
    """
    # a string goes to numpy's parser only as one type name: numpy reads "f8,f4" as a record type
    # and raises SyntaxError on ","
    if isinstance(dtype, str) and not dtype.lstrip("<>=|").isalnum():
        raise ConfigError(f"dtype: {dtype!r} is not a float type name; use float64 (default) or float32")
    try:
        dtype = np.dtype(dtype)
    except (TypeError, ValueError, SyntaxError):
        raise ConfigError(f"dtype: {dtype!r} is not a dtype; use float64 (default) or float32") from None
    if dtype not in (np.dtype(np.float64), np.dtype(np.float32)):
        raise ConfigError(f"dtype: {dtype} is not supported; use float64 (default) or float32")
    return dtype


def check_seed(seed: int) -> int:
    """A seed as a whole number >= 0.

    Parameters
    ----------
    seed : int

    Returns
    -------
    int

    Raises
    ------
    ConfigError
        For anything else.
    """
    if not is_whole_number(seed) or seed < 0:
        raise ConfigError(f"seed: {seed!r} is not a whole number >= 0")
    return int(seed)
