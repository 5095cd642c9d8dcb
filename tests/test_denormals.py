"""Subnormal floats are flushed to zero inside kernel calls, and only there."""

import warnings
from pathlib import Path

import numba
import numpy as np
import pytest
from numba import njit, prange

from fastmlp import MLPClassifier, MLPRegressor
from fastmlp._kernels.denormals import (
    FLUSH_TO_ZERO_BITS,
    IS_X86,
    flush_denormals,
    read_floating_point_state,
    restore_floating_point,
)

pytestmark = pytest.mark.skipif(not IS_X86, reason="MXCSR exists on x86 only")


@njit(parallel=True)
def _worker_states(n_items):
    states = np.zeros(n_items, dtype=np.uint32)
    for i in prange(n_items):
        states[i] = read_floating_point_state()
    return states


def _flush_bits_anywhere():
    """FTZ/DAZ bits seen by the calling thread and by Numba's worker threads."""
    bits = {int(read_floating_point_state()) & FLUSH_TO_ZERO_BITS}
    bits.update(int(s) & FLUSH_TO_ZERO_BITS for s in _worker_states(64))
    return bits


def test_flush_and_restore_round_trip():
    before = read_floating_point_state()
    state = flush_denormals()
    assert state == before
    assert read_floating_point_state() & FLUSH_TO_ZERO_BITS == FLUSH_TO_ZERO_BITS
    restore_floating_point(state)
    assert read_floating_point_state() == before


@pytest.mark.parametrize("solver", ["adam", "sgd", "lbfgs"])
@pytest.mark.parametrize("n_jobs", [1, 2])
def test_kernel_calls_leave_every_thread_as_it_was(multiclass_data, solver, n_jobs):
    X, y = multiclass_data
    previous = numba.get_num_threads()
    numba.set_num_threads(numba.config.NUMBA_NUM_THREADS)
    try:
        assert _flush_bits_anywhere() == {0}
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            clf = MLPClassifier((64,), solver=solver, max_iter=3, batch_size=64,
                                random_state=0, n_jobs=n_jobs).fit(X, y)
        clf.predict_proba(np.repeat(X, 20, axis=0))
        assert _flush_bits_anywhere() == {0}
    finally:
        numba.set_num_threads(previous)
    # NumPy, outside the kernels, still produces subnormals.
    assert np.float32(1e-20) * np.float32(1e-20) > 0


def test_subnormal_values_are_zero_inside_kernels():
    X = np.ones((4, 1), dtype=np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        reg = MLPRegressor(hidden_layer_sizes=(1,), activation="identity", max_iter=1,
                           random_state=0)
        reg.fit(X, np.ones(4, dtype=np.float32))
    # 1e-10 * 1e-10 * 1e-20 = 1e-40 is subnormal in float32; the kernels
    # flush it (or its inputs' product) to zero where NumPy keeps it.
    reg.coefs_[0][:] = 1e-10
    reg.coefs_[1][:] = 1e-20
    reg.intercepts_[0][:] = 0.0
    reg.intercepts_[1][:] = 0.0
    x = np.full((3, 1), 1e-10, dtype=np.float32)
    expected_without_flush = (x @ reg.coefs_[0]) @ reg.coefs_[1]
    assert 0 < expected_without_flush[0, 0] < np.finfo(np.float32).tiny
    np.testing.assert_array_equal(reg.predict(x), 0.0)


FRESH_PROCESS_PROBE = """
import sys
import warnings
import numba
from sklearn.datasets import make_classification
from fastmlp import MLPClassifier

numba.set_num_threads(2)
X, y = make_classification(n_samples=400, n_features=50, random_state=0)
with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    # The first parallel regions of the process: OpenMP creates its threads
    # inside kernel calls, copying the MXCSR of the thread that starts them.
    MLPClassifier((300,), max_iter=2, batch_size=200, n_jobs=2, random_state=0).fit(X, y)

sys.path.insert(0, sys.argv[1])
from test_denormals import _flush_bits_anywhere
print(sorted(_flush_bits_anywhere()))
"""


def test_threads_created_during_a_kernel_call_are_left_clean(tmp_path):
    import subprocess
    import sys

    if numba.config.NUMBA_NUM_THREADS < 2:
        pytest.skip("needs two Numba threads")
    tests_dir = str(Path(__file__).resolve().parent)
    result = subprocess.run([sys.executable, "-c", FRESH_PROCESS_PROBE, tests_dir],
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "[0]"
