"""Who owns the cores during a kernel call.

Kernels split work into explicit per-thread partitions with Numba's ``prange``
and call BLAS from inside those threads on small blocks. BLAS must then run
single-threaded, or every Numba thread would start its own BLAS team and
oversubscribe the machine. :func:`kernel_threads` sets that up for the
duration of one call.
"""

from contextlib import contextmanager

import numba
from threadpoolctl import ThreadpoolController

_blas_controller = None


def _blas():
    """Controller of the BLAS libraries loaded now (built once, it is slow)."""
    global _blas_controller
    if _blas_controller is None:
        _blas_controller = ThreadpoolController().select(user_api="blas")
    return _blas_controller


def numba_threads():
    """Number of threads the kernels' parallel loops will use."""
    return numba.get_num_threads()


@contextmanager
def kernel_threads():
    """Run the enclosed kernel calls with single-threaded BLAS.

    Yields
    ------
    n_threads : int
        Threads available to the kernels' parallel loops.
    """
    with _blas().limit(limits=1):
        yield numba_threads()
