"""Who owns the cores during a kernel call.

Kernels split work into explicit per-thread partitions with Numba's ``prange``
and call BLAS from inside those threads on small blocks. BLAS must then run
single-threaded, or every Numba thread would start its own BLAS team and
oversubscribe the machine. :func:`kernel_threads` sets that up for the
duration of one call, and decides how many Numba threads the call gets.

Thread count
------------
``n_jobs=None`` takes the cores the caller is allowed to use: the Numba
threads of the calling thread (``numba.get_num_threads()``, at most
``NUMBA_NUM_THREADS``), bounded by the limits a parent process or the user put
in force: ``OMP_NUM_THREADS`` (joblib's loky workers set it to
``cpu_count // n_workers``) and the BLAS thread limit seen through
threadpoolctl (``threadpool_limits(1)`` makes the kernels single-threaded
too). An explicit ``n_jobs`` overrides those limits as scikit-learn's
``n_jobs`` does: ``k > 0`` asks for ``k`` threads, ``-1`` for every Numba
thread, ``-k`` for all but ``k - 1``; always at most ``NUMBA_NUM_THREADS``.

Concurrency
-----------
Kernel calls may come from several Python threads at once (joblib's
threading backend, a web server's workers). Numba's thread count is
thread-local, so each caller's setting is its own. The BLAS limit is
process-wide: it is set to 1 when the first concurrent call enters and put
back when the last one leaves. The TBB and OpenMP threading layers run
concurrent parallel regions safely; Numba's fallback 'workqueue' layer aborts
the process on them, so under that layer kernel calls take turns.
"""

import os
import threading
from contextlib import contextmanager, nullcontext

import numba
from threadpoolctl import ThreadpoolController

_blas_controller = None

# Process-wide state of the single-threaded BLAS section shared by all
# concurrent kernel calls, guarded by _blas_lock.
_blas_lock = threading.Lock()
_blas_users = 0
_blas_limiter = None
_blas_threads_outside = None

# Serialises kernel calls under a threading layer that is not thread-safe.
_workqueue_lock = threading.Lock()
_THREAD_SAFE_LAYERS = ("tbb", "omp")


def _blas():
    """Controller of the BLAS libraries loaded now (built once, it is slow)."""
    global _blas_controller
    if _blas_controller is None:
        _blas_controller = ThreadpoolController().select(user_api="blas")
    return _blas_controller


def numba_threads():
    """Number of threads the kernels' parallel loops will use."""
    return numba.get_num_threads()


def _blas_thread_limit():
    """Smallest thread count among the loaded BLAS libraries, None without any."""
    counts = [lib.num_threads for lib in _blas().lib_controllers]
    counts = [c for c in counts if c is not None and c > 0]
    return min(counts) if counts else None


def _env_thread_limit():
    """``OMP_NUM_THREADS`` as an int (first level of a nested list), or None."""
    value = os.environ.get("OMP_NUM_THREADS", "").split(",")[0].strip()
    try:
        limit = int(value)
    except ValueError:
        return None
    return limit if limit > 0 else None


def resolve_n_threads(n_jobs=None, blas_limit=None):
    """Numba threads a kernel call gets for an estimator's ``n_jobs``.

    Parameters
    ----------
    n_jobs : int or None
        None: the limits in force (see the module docstring); ``k > 0``:
        ``k`` threads; ``k < 0``: ``NUMBA_NUM_THREADS + 1 + k``.
    blas_limit : int or None
        BLAS thread limit in force outside kernel calls.

    Returns
    -------
    n_threads : int
        Between 1 and ``numba.config.NUMBA_NUM_THREADS``.
    """
    n_max = numba.config.NUMBA_NUM_THREADS
    if n_jobs is None:
        limits = [numba_threads(), _env_thread_limit(), blas_limit]
        n_threads = min(limit for limit in limits if limit is not None)
    elif n_jobs < 0:
        n_threads = n_max + 1 + n_jobs
    else:
        n_threads = n_jobs
    return int(max(1, min(n_threads, n_max)))


@contextmanager
def _single_threaded_blas():
    """BLAS limited to one thread while any kernel call runs.

    Yields
    ------
    blas_threads_outside : int or None
        The BLAS thread limit in force before the first concurrent call entered.
    """
    global _blas_users, _blas_limiter, _blas_threads_outside
    with _blas_lock:
        if _blas_users == 0:
            _blas_threads_outside = _blas_thread_limit()
            _blas_limiter = _blas().limit(limits=1)
        _blas_users += 1
        outside = _blas_threads_outside
    try:
        yield outside
    finally:
        with _blas_lock:
            _blas_users -= 1
            if _blas_users == 0:
                _blas_limiter.restore_original_limits()
                _blas_limiter = None


def _layer_guard():
    """A lock to take around kernel calls when the threading layer needs one."""
    numba_threads()  # launches the threading layer, so it can be named
    if numba.threading_layer() in _THREAD_SAFE_LAYERS:
        return nullcontext()
    return _workqueue_lock


@contextmanager
def kernel_threads(n_jobs=None):
    """Run the enclosed kernel calls with single-threaded BLAS.

    Numba's thread count for the calling thread is set for the duration of
    the block and restored afterwards.

    Parameters
    ----------
    n_jobs : int or None
        The estimator's ``n_jobs``; see :func:`resolve_n_threads`.

    Yields
    ------
    n_threads : int
        Threads available to the kernels' parallel loops.
    """
    with _layer_guard(), _single_threaded_blas() as blas_limit:
        n_threads = resolve_n_threads(n_jobs, blas_limit)
        previous = numba_threads()
        numba.set_num_threads(n_threads)
        try:
            yield n_threads
        finally:
            numba.set_num_threads(previous)
