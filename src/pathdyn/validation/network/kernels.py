"""The optional C kernels for the thin products of a gradient-descent step.

``validation/network/_kernels.c`` computes ``W X`` and ``W^T G`` for a wide column-major weight
``W`` and a thin block of at most 8 columns, streaming ``W`` once from memory instead of
letting BLAS pack it (see that file). It is built with the package when a C compiler is
present and is optional: :func:`available` says whether it loaded, and without it the
simulator does every product through BLAS. ``PATHDYN_KERNELS=0`` in the environment turns
it off (to compare, or to rule it out).

The thin operands travel as row-major ``(rows, 8)`` arrays of the weight's dtype: row
``i`` holds the ``P <= 8`` samples of row ``i`` (padded with zeros), one vector register.
"""

from __future__ import annotations

import ctypes
import importlib
import os

import numpy as np

__all__ = ["LANES", "available", "nn", "tn"]

LANES = 8  # samples per kernel call (one vector register)
_lib = None
_loaded = False


def _load():
    global _lib, _loaded
    if _loaded:
        return _lib
    _loaded = True
    if os.environ.get("PATHDYN_KERNELS", "1").strip().lower() in ("0", "no", "off", "false"):
        return None
    try:
        path = importlib.import_module("pathdyn.validation.network._kernels").__file__
        lib = ctypes.CDLL(path)
    except (ImportError, OSError, AttributeError, TypeError):
        return None
    ptr, size, integer = ctypes.c_void_p, ctypes.c_ssize_t, ctypes.c_int
    for name in ("pd_nn_d", "pd_tn_d", "pd_nn_s", "pd_tn_s"):
        fn = getattr(lib, name)
        fn.argtypes = [integer, integer, ptr, size, ptr, ptr]
        fn.restype = None
    _lib = lib
    return lib


def available() -> bool:
    """Whether the C kernels are built, loadable and not switched off.

    Returns
    -------
    bool
        Whether :func:`nn` and :func:`tn` can run.
    """
    return _load() is not None


def _call(kind, W, thin, out):
    lib = _load()
    if lib is None:
        raise RuntimeError("the C kernels are not available (check pathdyn.validation.network.kernels.available() first)")
    dtype = W.dtype
    if dtype not in (np.float64, np.float32) or not W.flags.f_contiguous:
        raise ValueError("W must be a Fortran-ordered float64 or float32 array")
    m, n = W.shape
    rows_in, rows_out = (n, m) if kind == "nn" else (m, n)
    for name, arr, rows in (("thin", thin, rows_in), ("out", out, rows_out)):
        if arr.dtype != dtype or arr.shape != (rows, LANES) or not arr.flags.c_contiguous:
            raise ValueError(f"{name} must be a C-ordered ({rows}, {LANES}) array of dtype {dtype}")
    if not out.flags.writeable:
        raise ValueError("out must be writeable")
    fn = getattr(lib, f"pd_{kind}_{'d' if dtype == np.float64 else 's'}")
    fn(m, n, W.ctypes.data, m, thin.ctypes.data, out.ctypes.data)
    return out


def nn(W: np.ndarray, X: np.ndarray, out: np.ndarray) -> np.ndarray:
    """``out = W X`` for ``W`` (m, n) Fortran-ordered, ``X`` (n, 8) and ``out`` (m, 8) C-ordered.

    Parameters
    ----------
    W : ndarray, shape ``(m, n)``
        Fortran-ordered weight.
    X : ndarray, shape ``(n, 8)``
        C-ordered thin block.
    out : ndarray, shape ``(m, 8)``
        C-ordered output, overwritten.

    Returns
    -------
    ndarray
        ``out``.
    """
    return _call("nn", W, X, out)


def tn(W: np.ndarray, G: np.ndarray, out: np.ndarray) -> np.ndarray:
    """``out = W^T G`` for ``W`` (m, n) Fortran-ordered, ``G`` (m, 8) and ``out`` (n, 8) C-ordered.

    Parameters
    ----------
    W : ndarray, shape ``(m, n)``
        Fortran-ordered weight.
    G : ndarray, shape ``(m, 8)``
        C-ordered thin block.
    out : ndarray, shape ``(n, 8)``
        C-ordered output, overwritten.

    Returns
    -------
    ndarray
        ``out``.
    """
    return _call("tn", W, G, out)
