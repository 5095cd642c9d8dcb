"""Measurement primitives: who owns the cores, the GEMM peak, FLOP counts, timers."""

import os
import statistics
import sys
import time
from contextlib import contextmanager

import numpy as np
from threadpoolctl import threadpool_limits

GEMM_REPEATS = 8
# Idle pause before each timed call. BLAS and OpenMP worker threads spin for a
# while after their last task; two thread pools (NumPy's OpenBLAS, SciPy's
# OpenBLAS behind Numba, PyTorch's OpenMP) taking turns on few cores can stall
# each other for tens of milliseconds. The pause lets the previous library's
# threads go to sleep so that each is timed on its own. ``--settle`` sets it.
SETTLE_SECONDS = 0.3


def available_cores():
    """Cores this process may run on (its CPU affinity), else ``os.cpu_count()``."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


def thread_counts(max_threads):
    """1, 2, 4, ... below ``max_threads``, then ``max_threads`` itself."""
    counts, n = [], 1
    while n < max_threads:
        counts.append(n)
        n *= 2
    return counts + [max_threads]


@contextmanager
def thread_count(n_threads):
    """Give ``n_threads`` threads to every BLAS library loaded, to Numba and to PyTorch.

    BLAS libraries are limited through threadpoolctl, which only sees the
    libraries loaded when the block starts: warm the kernels up first so that
    the BLAS Numba calls into (SciPy's) is among them.
    """
    import numba

    torch = sys.modules.get("torch")
    numba_before = numba.get_num_threads()
    torch_before = torch.get_num_threads() if torch is not None else None
    numba.set_num_threads(max(1, min(n_threads, numba.config.NUMBA_NUM_THREADS)))
    if torch is not None:
        torch.set_num_threads(n_threads)
    try:
        with threadpool_limits(limits=n_threads):
            yield
    finally:
        numba.set_num_threads(numba_before)
        if torch is not None:
            torch.set_num_threads(torch_before)


def epoch_flops(layer_units, n_samples):
    """Matmul FLOPs of one training epoch over ``n_samples`` rows.

    Forward: ``2 n fan_in fan_out`` per layer. Backward: the same again for the
    weight gradients of every layer, plus the error propagated to the layer
    below for every layer except the first (no delta is computed for the input).
    Bias, activation, loss and optimizer work are not counted.

    Parameters
    ----------
    layer_units : sequence of int
        Units per layer, input and output included.
    n_samples : int

    Returns
    -------
    flops : float
    """
    products = [a * b for a, b in zip(layer_units[:-1], layer_units[1:])]
    forward = 2.0 * n_samples * sum(products)
    weight_gradients = forward
    deltas = 2.0 * n_samples * sum(products[1:])
    return forward + weight_gradients + deltas


def gemm_peak(dtype, size, repeats=GEMM_REPEATS):
    """GFLOP/s of ``np.matmul`` on two ``size x size`` matrices, best of ``repeats``.

    Call it inside :func:`thread_count` so it runs with the workload's threads.
    Each timed product follows an idle pause (:func:`settle`).

    Returns
    -------
    peak : dict
        ``gflops`` (best), ``median_gflops`` and ``worst_gflops`` (the spread),
        ``best_seconds``, ``size``, ``dtype`` and ``repeats``.
    """
    rng = np.random.default_rng(0)
    a = rng.standard_normal((size, size)).astype(dtype)
    b = rng.standard_normal((size, size)).astype(dtype)
    out = np.empty((size, size), dtype=dtype)
    np.matmul(a, b, out=out)  # warm-up: thread pool start, page faults
    seconds = []
    for _ in range(repeats):
        settle()
        start = time.perf_counter()
        np.matmul(a, b, out=out)
        seconds.append(time.perf_counter() - start)
    best = min(seconds)
    flop = 2.0 * size**3
    return {
        "gflops": flop / best / 1e9,
        "median_gflops": flop / statistics.median(seconds) / 1e9,
        "worst_gflops": flop / max(seconds) / 1e9,
        "best_seconds": best,
        "size": size,
        "dtype": np.dtype(dtype).name,
        "repeats": repeats,
    }


def settle():
    """Sleep :data:`SETTLE_SECONDS` (see there) before a timed call."""
    time.sleep(SETTLE_SECONDS)


def timed(function, *args, **kwargs):
    """Call ``function`` and return ``(seconds, result)``."""
    start = time.perf_counter()
    result = function(*args, **kwargs)
    return time.perf_counter() - start, result


def summarize(seconds, keep_all=True):
    """Median, min and max of a list of timings, plus the list itself.

    With ``keep_all=False`` (many short calls) the list is replaced by its
    10th and 90th percentiles.
    """
    summary = {"median": statistics.median(seconds), "min": min(seconds), "max": max(seconds)}
    if keep_all:
        summary["all"] = list(seconds)
    else:
        summary["p10"], summary["p90"] = (float(q) for q in np.percentile(seconds, [10, 90]))
    return summary
