"""Fitting a memory-mapped float32 array makes no copy of X.

A scaled-down version of ``bench/memory_memmap.py`` (which measures the full
1,000,000 x 784 case): a 20,000 x 784 read-only memory map, whose fit and
predict must allocate far less than X's size, as traced by tracemalloc
(NumPy reports its allocations to it).
"""

import tracemalloc
import warnings

import numpy as np
import pytest

from fastmlp import MLPClassifier, MLPRegressor

N_ROWS, N_COLS = 20_000, 784


@pytest.fixture(scope="module")
def memmapped(tmp_path_factory):
    path = tmp_path_factory.mktemp("memmap") / "X.npy"
    rng = np.random.default_rng(0)
    X = np.lib.format.open_memmap(path, mode="w+", dtype=np.float32, shape=(N_ROWS, N_COLS))
    X[:] = rng.random((N_ROWS, N_COLS), dtype=np.float32)
    y = np.argmax(X[:, :10], axis=1)
    X.flush()
    del X
    return np.load(path, mmap_mode="r"), y


def _peak_allocation(function):
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        result = function()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return result, peak


@pytest.mark.parametrize("Estimator", [MLPClassifier, MLPRegressor])
def test_fit_on_memmap_makes_no_copy(Estimator, memmapped):
    X, y = memmapped
    assert isinstance(X, np.memmap) and not X.flags.writeable
    params = dict(hidden_layer_sizes=(16,), max_iter=1, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        Estimator(**params).fit(X[:500], y[:500])  # kernels loaded outside the trace
        estimator, peak = _peak_allocation(lambda: Estimator(**params).fit(X, y))
    assert estimator.coefs_[0].dtype == np.float32
    # A copy of X would be 62.7 MB (125 MB as float64); the labels, their
    # one-hot targets and the visiting order take about 2 MB.
    assert peak < X.nbytes / 10, f"fit allocated {peak / 1e6:.1f} MB at peak"

    prediction, peak = _peak_allocation(lambda: estimator.predict(X))
    assert prediction.shape == (N_ROWS,)
    assert peak < X.nbytes / 10, f"predict allocated {peak / 1e6:.1f} MB at peak"
