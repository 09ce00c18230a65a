"""Weight files of a finite-width network (.npz arrays ``W_<a>_<d>``, 1-based) and the check of given weights.

Part of :mod:`pathdyn.validation.network` (import from there).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
import re
from pathlib import Path

import numpy as np
from numpy.typing import ArrayLike, DTypeLike

from pathdyn._base.checks import real_array
from pathdyn.errors import ArchitectureError, ConfigError
from pathdyn.io.jsonio import save_npz
from pathdyn.io.npz import read_npz


def save_weights(path: str | Path, weights: list[list[Any]]) -> None:
    """Write ``weights[a][d]`` atomically to ``path`` (.npz) as arrays ``W_<a>_<d>`` (1-based).

    Parameters
    ----------
    path : str or Path
        Destination (.npz).
    weights : list of list of array_like
        ``weights[a][d]``.
    """
    arrays = {f"W_{a + 1}_{d + 1}": np.asarray(w) for a, path_w in enumerate(weights) for d, w in enumerate(path_w)}
    save_npz(path, arrays)


def load_weights(path: str | Path) -> list:
    """Read a weight file written by :func:`save_weights` (arrays ``W_<a>_<d>``, 1-based).

    Parameters
    ----------
    path : str or Path
        A file written by :func:`save_weights`.

    Returns
    -------
    list of list of ndarray
        ``weights[a][d]``.

    Raises
    ------
    ConfigError
        If the file is missing, unreadable, or its names do not form complete pathways.
    """
    path = Path(path)
    if not path.exists():
        raise ConfigError(f"weights file {str(path)!r} not found; check the path")
    what = f"weights file {str(path)!r}"
    arrays = read_npz(path, what, check=lambda headers: _check_weight_headers(what, headers))
    found = {}
    for name in arrays:
        match = re.fullmatch(r"W_(\d+)_(\d+)", name)
        if not match:
            raise ConfigError(f"weights file {str(path)!r}: unexpected array {name!r}; arrays must be named W_<pathway>_<layer> (1-based)")
        found[(int(match.group(1)), int(match.group(2)))] = real_array(f"weights file {str(path)!r}: {name}", arrays[name])
    if not found:
        raise ConfigError(f"weights file {str(path)!r} holds no W_<pathway>_<layer> arrays")
    num_paths = max(a for a, _ in found)
    weights = []
    for a in range(1, num_paths + 1):
        layers = sorted(d for b, d in found if b == a)
        if not layers or layers != list(range(1, len(layers) + 1)):
            raise ConfigError(f"weights file {str(path)!r}: pathway {a} has layers {layers}; expected 1, 2, ..., D")
        weights.append([found[(a, d)] for d in layers])
    return weights


def _check_weight_headers(what: str, headers: dict) -> None:
    for name, header in headers.items():
        if len(header.shape) != 2 or header.dtype.kind not in "fiu":
            raise ConfigError(f"{what}: {name} is {header.shape} of {header.dtype}; each W_<pathway>_<layer> is a 2-D real "
                              "matrix")


def hidden_widths_from_weights(weights: Sequence[Sequence[ArrayLike]]) -> list[list[int]] | None:
    """The hidden widths that given weights imply, in the form ``simulate_gd(width=...)`` takes.

    Parameters
    ----------
    weights : list of lists of array_like
        ``weights[a][d]`` of shape ``(outputs, inputs)``, as :func:`load_weights` returns.

    Returns
    -------
    list of lists of int, or None
        ``widths[a]`` = the output sizes of the layers of pathway ``a`` but its last;
        ``None`` when no pathway has a hidden layer (every pathway of depth 1).
        The sizes are checked against the architecture later, by ``simulate_gd``.
    """
    widths = [[np.shape(w)[0] for w in path_w[:-1]] for path_w in weights]
    return widths if any(widths) else None


def check_weights(weights: Sequence[Sequence[ArrayLike]], sizes: Sequence[Sequence[int]], dtype: DTypeLike) -> list[list[np.ndarray]]:
    """Validate user-given weights against the layer sizes.

    Parameters
    ----------
    weights : sequence of sequence of array_like
        ``weights[a][d]`` per pathway and layer.
    sizes : sequence of sequence of int
        The layer sizes of each pathway, input first.
    dtype : numpy.dtype

    Returns
    -------
    list of list of ndarray
        Fortran-ordered copies in ``dtype``.

    Raises
    ------
    ArchitectureError
        For a wrong number of pathways or layers, a wrong shape or values that are not
        finite real numbers.
    """
    problems = []
    if len(weights) != len(sizes):
        raise ArchitectureError(
            f"weights: {len(weights)} pathway(s) given but the architecture has {len(sizes)}; give weights[a][d] per pathway"
        )
    out = []
    for a, (path_w, s) in enumerate(zip(weights, sizes)):
        if len(path_w) != len(s) - 1:
            problems.append(f"pathway {a + 1} has {len(path_w)} layer(s), expected depth {len(s) - 1}")
            continue
        layers = []
        for d, w in enumerate(path_w):
            w = real_array(f"weights: W_{a + 1}_{d + 1}", w, error=ArchitectureError)
            expected = (s[d + 1], s[d])
            if w.shape != expected:
                problems.append(f"W_{a + 1}_{d + 1} has shape {w.shape}, expected {expected} (outputs, inputs)")
            elif not np.all(np.isfinite(w)):
                problems.append(f"W_{a + 1}_{d + 1} holds NaN or infinite values")
            layers.append(np.array(w, dtype=dtype, order="F", copy=True))
        out.append(layers)
    if problems:
        raise ArchitectureError("weights: " + "; ".join(problems))
    return out
