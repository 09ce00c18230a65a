"""The optional C kernels for the thin products of a gradient-descent step.

``validation/network/_kernels.c`` computes ``W X`` and ``W^T G`` for a wide column-major weight
``W`` and a thin block of at most 8 columns, streaming ``W`` once from memory instead of
letting BLAS pack it (see that file). It is built with the package when a C compiler is
present and is optional: without it the simulator does every product through BLAS.

The extension holds one variant per instruction set, and the products take one *path*:

``avx512``
    8 lanes in one 512-bit (float64) or 256-bit (float32) register (CPUs with AVX-512F and VL).
``avx2``
    8 lanes in two (float64) or one (float32) 256-bit registers (CPUs with AVX2 and FMA).
``blas``
    no kernel: BLAS does every product (any other CPU, or no C compiler at install).

Which path runs is decided once per process (at the first product), from the CPU and the
environment:

- ``PATHDYN_KERNELS`` unset, empty or ``auto``: the widest variant the CPU runs, else ``blas``.
  The CPU's features come from the extension's own cpuid check (``__builtin_cpu_supports``,
  which also requires the operating system to save the wide registers), not from numpy.
- ``PATHDYN_KERNELS=blas`` (or ``0``, ``off``, ``no``, ``false``): ``blas``.
- ``PATHDYN_KERNELS=avx2`` or ``avx512``: that variant, to test or compare it;
  :class:`~pathdyn.errors.ConfigError` where the CPU or the build lacks it.
- ``NPY_DISABLE_CPU_FEATURES``, numpy's switch to behave as on a lesser CPU, is honoured
  too: naming ``AVX``, ``AVX2``, ``FMA3`` or ``X86_V3`` rules out both variants, naming
  ``AVX512F``, ``AVX512VL``, ``AVX512_SKX`` or ``X86_V4`` rules out ``avx512``. A run that emulates a lesser CPU for numpy
  thus takes the path that CPU would take.

Results agree between paths to rounding only (each path has its own summation order);
one path on one machine gives the same bits every time.

The thin operands travel as row-major ``(rows, 8)`` arrays of the weight's dtype: row
``i`` holds the ``P <= 8`` samples of row ``i`` (padded with zeros).
"""

from __future__ import annotations

import ctypes
import importlib
import os

import numpy as np

from pathdyn.errors import ConfigError

__all__ = ["LANES", "PATHS", "available", "built", "nn", "path", "supported", "tn"]

LANES = 8  # samples per kernel call
#: Every path, the one without a kernel first.
PATHS = ("blas", "avx2", "avx512")
_CPU_BITS = {"avx2": 1, "avx512": 2}  # pd_cpu_paths() in _kernels.c
_NEEDS = {"avx2": "AVX2 and FMA", "avx512": "AVX-512F and AVX-512VL"}
_AUTO_WORDS = ("", "auto", "1", "on", "yes", "true")
_BLAS_WORDS = ("blas", "0", "off", "no", "false")
# Names in NPY_DISABLE_CPU_FEATURES (numpy < 2.4 and >= 2.4 spellings) that rule a path out.
_NUMPY_FEATURES = {"avx2": {"AVX", "AVX2", "FMA3", "X86_V3"},
                   "avx512": {"AVX", "AVX2", "FMA3", "X86_V3", "AVX512F", "AVX512VL", "AVX512_SKX", "X86_V4"}}
_state: dict = {}


def _load_library() -> ctypes.CDLL | None:
    """The extension as a ctypes library with its functions typed, or None where it is not built."""
    try:
        lib = ctypes.CDLL(importlib.import_module("pathdyn.validation.network._kernels").__file__)
        lib.pd_cpu_paths.restype = ctypes.c_int
    except (ImportError, OSError, AttributeError, TypeError):
        return None
    ptr, size, integer = ctypes.c_void_p, ctypes.c_ssize_t, ctypes.c_int
    for variant in PATHS[1:]:
        for product in ("nn", "tn"):
            for letter in ("d", "s"):
                fn = getattr(lib, f"pd_{product}_{letter}_{variant}", None)
                if fn is not None:
                    fn.argtypes = [integer, integer, ptr, size, ptr, ptr]
                    fn.restype = None
    return lib


def _numpy_disabled() -> set:
    return set(os.environ.get("NPY_DISABLE_CPU_FEATURES", "").replace(",", " ").upper().split())


def _cpu_runs(variant: str) -> bool:
    """Whether the extension is built with ``variant`` and this CPU (and its OS) can run it."""
    lib = _library()
    return lib is not None and hasattr(lib, f"pd_nn_d_{variant}") and bool(lib.pd_cpu_paths() & _CPU_BITS[variant])


def _library() -> ctypes.CDLL | None:
    if "lib" not in _state:
        _state["lib"] = _load_library()
    return _state["lib"]


def supported() -> tuple:
    """The paths this build can take on this CPU, ``"blas"`` first and the widest last.

    Returns
    -------
    tuple of str
        A subsequence of :data:`PATHS`: ``"blas"`` always; a variant where the extension
        is built with it, the CPU runs it and ``NPY_DISABLE_CPU_FEATURES`` does not rule
        it out.
    """
    if "supported" not in _state:
        disabled = _numpy_disabled()
        _state["supported"] = ("blas",) + tuple(p for p in PATHS[1:] if _cpu_runs(p) and not disabled & _NUMPY_FEATURES[p])
    return _state["supported"]


def _requested() -> str:
    """The path ``PATHDYN_KERNELS`` asks for: a name from :data:`PATHS`, or ``"auto"``."""
    word = os.environ.get("PATHDYN_KERNELS", "").strip().lower()
    if word in _AUTO_WORDS:
        return "auto"
    if word in _BLAS_WORDS:
        return "blas"
    if word in PATHS:
        return word
    raise ConfigError(f"PATHDYN_KERNELS={word!r} is not a kernel path; use one of auto, {', '.join(PATHS)} "
                      "(or unset it)")


def path() -> str:
    """The path every thin product of this process takes (see the module's notes).

    Returns
    -------
    str
        ``"blas"``, ``"avx2"`` or ``"avx512"``.

    Raises
    ------
    ConfigError
        If ``PATHDYN_KERNELS`` is not a path name, or names a variant that this build or
        this CPU cannot run.
    """
    if "path" in _state:
        return _state["path"]
    can = supported()
    want = _requested()
    if want == "auto":
        want = can[-1]
    elif want not in can:
        why = ("the C kernels are not built (no C compiler at install)" if not built()
               else f"this CPU lacks {_NEEDS[want]}" if not _cpu_runs(want)
               else f"NPY_DISABLE_CPU_FEATURES={os.environ.get('NPY_DISABLE_CPU_FEATURES')!r} rules it out")
        raise ConfigError(f"PATHDYN_KERNELS={want}: {why}; the paths this machine supports: {', '.join(can)} "
                          "(unset PATHDYN_KERNELS to pick the fastest)")
    _state["path"] = want
    return want


def built() -> bool:
    """Whether the extension was built at install and loads (whatever path is in use).

    Returns
    -------
    bool
        False where no C compiler was present at install: then only ``"blas"`` runs.
    """
    return _library() is not None


def available() -> bool:
    """Whether a C kernel runs the thin products (:func:`path` is not ``"blas"``).

    Returns
    -------
    bool
        Whether :func:`nn` and :func:`tn` can run with the default path.

    Raises
    ------
    ConfigError
        As :func:`path`.
    """
    return path() != "blas"


def _call(kind: str, W: np.ndarray, thin: np.ndarray, out: np.ndarray, variant: str | None) -> np.ndarray:
    variant = path() if variant is None else variant
    if variant not in supported()[1:]:
        raise RuntimeError(f"no C kernel runs as {variant!r} here (supported: {supported()}); "
                           "check pathdyn.validation.network.kernels.available() first")
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
    fn = getattr(_library(), f"pd_{kind}_{'d' if dtype == np.float64 else 's'}_{variant}")
    fn(m, n, W.ctypes.data, m, thin.ctypes.data, out.ctypes.data)
    return out


def nn(W: np.ndarray, X: np.ndarray, out: np.ndarray, variant: str | None = None) -> np.ndarray:
    """``out = W X`` for ``W`` (m, n) Fortran-ordered, ``X`` (n, 8) and ``out`` (m, 8) C-ordered.

    Parameters
    ----------
    W : ndarray, shape ``(m, n)``
        Fortran-ordered weight.
    X : ndarray, shape ``(n, 8)``
        C-ordered thin block.
    out : ndarray, shape ``(m, 8)``
        C-ordered output, overwritten.
    variant : str, optional
        ``"avx2"`` or ``"avx512"``; default :func:`path`.

    Returns
    -------
    ndarray
        ``out``.

    Raises
    ------
    RuntimeError
        If the variant cannot run here (:func:`supported`).
    ValueError
        If an operand has the wrong dtype, shape or layout.
    """
    return _call("nn", W, X, out, variant)


def tn(W: np.ndarray, G: np.ndarray, out: np.ndarray, variant: str | None = None) -> np.ndarray:
    """``out = W^T G`` for ``W`` (m, n) Fortran-ordered, ``G`` (m, 8) and ``out`` (n, 8) C-ordered.

    Parameters
    ----------
    W : ndarray, shape ``(m, n)``
        Fortran-ordered weight.
    G : ndarray, shape ``(m, 8)``
        C-ordered thin block.
    out : ndarray, shape ``(n, 8)``
        C-ordered output, overwritten.
    variant : str, optional
        ``"avx2"`` or ``"avx512"``; default :func:`path`.

    Returns
    -------
    ndarray
        ``out``.

    Raises
    ------
    RuntimeError
        If the variant cannot run here (:func:`supported`).
    ValueError
        If an operand has the wrong dtype, shape or layout.
    """
    return _call("tn", W, G, out, variant)
