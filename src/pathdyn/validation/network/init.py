"""Random initial weights of a finite-width multi-pathway network.

Part of :mod:`pathdyn.validation.network` (import from there).
"""

from __future__ import annotations

import math
import numbers

from collections.abc import Sequence

import numpy as np
from numpy.typing import DTypeLike

from pathdyn.errors import ConfigError
from pathdyn.theory.architecture import Architecture
from pathdyn.validation.network.blas_threads import blas_threads
from pathdyn.validation.network.spec import (
    DEFAULT_INIT_SCALE,
    INITS,
    check_choice,
    check_dtype,
    check_seed,
    NetworkSpec,
)


def haar_orthogonal(rng: np.random.Generator, rows: int, cols: int) -> np.ndarray:
    """A Haar-random matrix with orthonormal rows or columns (whichever is fewer).

    Parameters
    ----------
    rng : numpy.random.Generator
    rows, cols : int

    Returns
    -------
    ndarray, shape (rows, cols)
    """
    big, small = max(rows, cols), min(rows, cols)
    A = rng.standard_normal((big, small))
    with blas_threads(1):  # two BLAS pools on two busy cores fight: pin
        Q, R = np.linalg.qr(A)
    Q *= np.sign(np.where(np.diag(R) == 0, 1.0, np.diag(R)))
    return Q if rows >= cols else Q.T


def initialize_weights(
    architecture: Architecture | Sequence[int] | str,
    n_in: int,
    n_out: int,
    width: int | Sequence[int | Sequence[int]] | None = None,
    init: str = "gaussian",
    init_scale: float | None = None,
    seed: int = 0,
    dtype: DTypeLike = np.float64,
) -> list[list[np.ndarray]]:
    """Random initial weights of a multi-pathway network.

    Parameters
    ----------
    architecture : Architecture, sequence of int or str
        Depth of each pathway.
    n_in, n_out : int
        Input and output dimensions.
    width : int or sequence
        Hidden width ``N`` (see :func:`network_widths`).
    init : {"gaussian", "orthogonal", "paper"}
        ``gaussian``: every entry of every layer (first, hidden, last, and a depth-1
        pathway's single matrix) is normal with variance ``sigma^2 / N``, ``N`` the
        hidden width (the ``width`` argument; the largest hidden width when widths differ),
        not the layer's fan-in. ``orthogonal``: hidden layers are ``sigma * O`` with ``O``
        Haar-orthogonal (semi-orthogonal when a hidden layer is not square); first and
        last layers Gaussian as above. ``paper``: every entry normal with fixed standard
        deviation ``sigma`` (default 0.01), as the paper's code.
    init_scale : float, optional
        ``sigma``; default 0.3 for gaussian/orthogonal, 0.01 for paper.
    seed : int
        Seed of ``numpy.random.default_rng``; weights are drawn pathway by pathway,
        layer by layer, in float64 and then cast, so float32 and float64 runs start from
        the same network.
    dtype : numpy dtype
        float64 (default) or float32.

    Returns
    -------
    list of list of ndarray
        ``weights[a][d]`` of shape (outputs, inputs), Fortran-ordered.

    Raises
    ------
    ConfigError, ArchitectureError
    """
    check_choice("init", init, INITS)
    sigma = init_sigma(init, init_scale)
    dtype = check_dtype(dtype)
    spec = NetworkSpec.build(architecture, n_in, n_out, width)
    return draw_weights(spec, init, sigma, check_seed(seed), dtype)


def init_sigma(init: str, init_scale: float | None) -> float:
    """The ``sigma`` of ``init``: ``init_scale``, or the default of ``init`` when it is ``None``.

    Parameters
    ----------
    init : str
        The initialisation's name.
    init_scale : float or None
        The scale asked for.

    Returns
    -------
    float
        ``sigma``.

    Raises
    ------
    ConfigError
        If ``init_scale`` is not a finite number >= 0.
    """
    sigma = DEFAULT_INIT_SCALE[init] if init_scale is None else init_scale
    if not isinstance(sigma, numbers.Real) or not math.isfinite(sigma) or sigma < 0:
        raise ConfigError(f"init_scale: {init_scale!r} is not a finite number >= 0; e.g. init_scale=0.3")
    return float(sigma)


def draw_weights(spec: NetworkSpec, init: str, sigma: float, seed: int, dtype: DTypeLike) -> list[list[np.ndarray]]:
    """The weights of :func:`initialize_weights` for checked settings (``spec`` validated, ``seed`` a whole number).

    Parameters
    ----------
    spec : NetworkSpec
        The validated layer sizes.
    init : str
        ``gaussian``, ``orthogonal`` or ``paper``.
    sigma : float
        The scale.
    seed : int
        Seed of the generator.
    dtype : numpy.dtype
        float64 or float32.

    Returns
    -------
    list of list of ndarray
        ``weights[a][d]``, Fortran-ordered.
    """
    N = spec.reference_width
    rng = np.random.default_rng(seed)
    weights = []
    for s in spec.sizes:
        depth = len(s) - 1
        layers = []
        for d in range(depth):
            rows, cols = s[d + 1], s[d]
            hidden = 0 < d < depth - 1
            if init == "paper":
                w = sigma * rng.standard_normal((rows, cols))
            elif init == "orthogonal" and hidden:
                w = sigma * haar_orthogonal(rng, rows, cols)
            else:
                w = (sigma / math.sqrt(N)) * rng.standard_normal((rows, cols))
            layers.append(np.asfortranarray(w, dtype=dtype))
        weights.append(layers)
    return weights
