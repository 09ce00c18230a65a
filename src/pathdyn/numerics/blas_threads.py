"""Pin the thread count of every loaded OpenBLAS (numpy's and scipy's) without threadpoolctl.

numpy and scipy each ship their own OpenBLAS with its own thread pool; left alone, both
pools start one thread per core and fight over the cores, which made the thin products
of a gradient-descent step 20-100x slower at width <= 1000. threadpoolctl
would do this job but is not a dependency, so this module calls OpenBLAS's own
``*_set_num_threads`` through ctypes on the libraries mapped into the process. Where that
is impossible (not Linux, another BLAS) it does nothing and :func:`blas_thread_control`
says so; then set ``OPENBLAS_NUM_THREADS`` (or ``OMP_NUM_THREADS``) in the environment
before starting Python.
"""

from __future__ import annotations

import ctypes
import os
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["blas_thread_control", "set_blas_threads", "blas_threads"]

_SETTERS = ("scipy_openblas_set_num_threads64_", "scipy_openblas_set_num_threads", "openblas_set_num_threads64_",
            "openblas_set_num_threads")
_GETTERS = ("scipy_openblas_get_num_threads64_", "scipy_openblas_get_num_threads", "openblas_get_num_threads64_",
            "openblas_get_num_threads")
_cache: list | None = None


def _loaded_openblas() -> list:
    """``[(path, setter, getter)]`` for every OpenBLAS mapped into this process."""
    global _cache
    import numpy  # noqa: F401  (load both libraries before looking)
    import scipy.linalg  # noqa: F401

    paths = set()
    try:
        with open("/proc/self/maps") as handle:
            for line in handle:
                parts = line.split()
                if len(parts) >= 6 and "openblas" in os.path.basename(parts[-1]).lower():
                    paths.add(parts[-1])
    except OSError:
        return []
    if _cache is not None and {p for p, _, _ in _cache} == paths:
        return _cache
    found = []
    for path in sorted(paths):
        try:
            lib = ctypes.CDLL(path)
        except OSError:
            continue
        setter = next((getattr(lib, n) for n in _SETTERS if hasattr(lib, n)), None)
        getter = next((getattr(lib, n) for n in _GETTERS if hasattr(lib, n)), None)
        if setter is not None and getter is not None:
            setter.argtypes = [ctypes.c_int]
            getter.restype = ctypes.c_int
            found.append((path, setter, getter))
    _cache = found
    return found


def blas_thread_control() -> dict:
    """``{library path: current thread count}`` of the OpenBLAS libraries this module can pin.

    Returns
    -------
    dict
        File name -> thread count (empty when no OpenBLAS can be pinned).
    """
    return {os.path.basename(path): int(getter()) for path, _, getter in _loaded_openblas()}


def set_blas_threads(threads: int) -> dict:
    """Set every loaded OpenBLAS to ``threads`` threads; return the previous counts.

    Parameters
    ----------
    threads : int
        Threads per library.

    Returns
    -------
    dict
        Library path -> the thread count before the call.
    """
    previous = {}
    for path, setter, getter in _loaded_openblas():
        previous[path] = int(getter())
        setter(int(threads))
    return previous


@contextmanager
def blas_threads(threads: int | None) -> Iterator[None]:
    """Context manager: every loaded OpenBLAS uses ``threads`` threads inside, restored after.

    ``None`` leaves the libraries alone.

    Parameters
    ----------
    threads : int or None
        Threads per library inside the block.

    Yields
    ------
    None
        Control returns to the block; the previous counts are restored after it.
    """
    if threads is None:
        yield
        return
    previous = set_blas_threads(threads)
    try:
        yield
    finally:
        for path, setter, _ in _loaded_openblas():
            if path in previous:
                setter(previous[path])
