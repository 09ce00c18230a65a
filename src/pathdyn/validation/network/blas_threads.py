"""Pin the thread count of every loaded OpenBLAS: :mod:`pathdyn.numerics.blas_threads`, under its older name.

The module moved to the numerics layer so that the DMFT marches (whose thin triangular
products are 20-80x slower on a multi-threaded OpenBLAS) can use it too.
"""

from pathdyn.numerics.blas_threads import blas_thread_control, blas_threads, set_blas_threads

__all__ = ["blas_thread_control", "set_blas_threads", "blas_threads"]
