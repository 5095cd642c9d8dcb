"""Thread policy (fastmlp/_threads.py): how many threads a kernel call gets,
that limits in force are honoured and restored, and that fits and predictions
from several Python threads at once neither abort nor deadlock."""

import os
import subprocess
import sys
import textwrap
import threading
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager

import joblib
import numba
import numpy as np
import pytest
from sklearn.model_selection import GridSearchCV
from sklearn.utils._param_validation import InvalidParameterError
from threadpoolctl import threadpool_info, threadpool_limits

import fastmlp._trainer
from fastmlp import MLPClassifier, MLPRegressor
from fastmlp._threads import kernel_threads, resolve_n_threads

N_MAX = numba.config.NUMBA_NUM_THREADS


def _blas_threads():
    return [i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"]


@pytest.fixture
def no_omp_limit(monkeypatch):
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)


@pytest.mark.parametrize(
    "n_jobs, expected",
    [(1, 1), (-1, N_MAX), (10_000, N_MAX), (-10_000, 1), (-2, max(1, N_MAX - 1))],
)
def test_explicit_n_jobs(n_jobs, expected, no_omp_limit):
    assert resolve_n_threads(n_jobs) == expected


def test_default_uses_numba_threads_of_the_caller(no_omp_limit):
    previous = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        assert resolve_n_threads(None) == 1
    finally:
        numba.set_num_threads(previous)
    assert resolve_n_threads(None) == min(previous, min(_blas_threads(), default=N_MAX))


def test_default_honours_omp_num_threads(monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    assert resolve_n_threads(None) == 1
    # An explicit request overrides inherited limits, as scikit-learn's n_jobs.
    assert resolve_n_threads(N_MAX) == N_MAX


def test_default_honours_threadpoolctl_blas_limit(no_omp_limit):
    with threadpool_limits(limits=1, user_api="blas"):
        with kernel_threads() as n_threads:
            assert n_threads == 1


def test_kernel_threads_sets_and_restores(no_omp_limit):
    numba_before, blas_before = numba.get_num_threads(), _blas_threads()
    with kernel_threads(1) as n_threads:
        assert n_threads == 1
        assert numba.get_num_threads() == 1
        assert set(_blas_threads()) == {1}
    assert numba.get_num_threads() == numba_before
    assert _blas_threads() == blas_before


def test_blas_limit_restored_after_overlapping_calls(no_omp_limit):
    # Two threads whose kernel sections overlap must not leave BLAS at 1.
    blas_before = _blas_threads()
    inside = threading.Barrier(2)

    def call():
        with kernel_threads():
            inside.wait(timeout=30)

    with ThreadPoolExecutor(2) as pool:
        for future in [pool.submit(call) for _ in range(2)]:
            future.result()
    assert _blas_threads() == blas_before


@pytest.mark.parametrize("Estimator", [MLPClassifier, MLPRegressor])
@pytest.mark.parametrize("n_jobs", [0, 1.5, "2"])
def test_invalid_n_jobs(Estimator, n_jobs, multiclass_data):
    X, y = multiclass_data
    with pytest.raises(InvalidParameterError, match="n_jobs"):
        Estimator(n_jobs=n_jobs, max_iter=1).fit(X, y)


class ThreadRecordingClassifier(MLPClassifier):
    """Records the Numba thread count inside each kernel call of ``fit``."""

    def fit(self, X, y):
        seen = []
        original = fastmlp._trainer.kernel_threads

        @contextmanager
        def recording(n_jobs=None):
            with original(n_jobs) as n_threads:
                seen.append(numba.get_num_threads())
                yield n_threads

        fastmlp._trainer.kernel_threads = recording
        try:
            super().fit(X, y)
        finally:
            fastmlp._trainer.kernel_threads = original
        self.threads_seen_ = seen
        self.omp_env_ = os.environ.get("OMP_NUM_THREADS")
        return self


def _max_threads_seen(estimator, X, y):
    return max(estimator.threads_seen_)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_n_jobs_passed_to_kernels(multiclass_data):
    X, y = multiclass_data
    clf = ThreadRecordingClassifier((8,), max_iter=2, n_jobs=1).fit(X, y)
    assert clf.threads_seen_ == [1, 1]


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_grid_search_loky_workers_do_not_oversubscribe(multiclass_data):
    X, y = multiclass_data
    n_workers = 2
    search = GridSearchCV(
        ThreadRecordingClassifier((8,), max_iter=2, random_state=0),
        {"alpha": [1e-4, 1e-3]},
        cv=2,
        scoring=_max_threads_seen,
        n_jobs=n_workers,
        refit=False,
    )
    with joblib.parallel_backend("loky"):
        search.fit(X, y)
    threads_per_worker = max(1, joblib.cpu_count() // n_workers)
    seen = search.cv_results_["mean_test_score"]
    assert np.all(seen >= 1)
    assert np.all(seen <= threads_per_worker), seen


# ------------------------------------------------------------------ concurrency


def _fit_predict(seed, X, y):
    clf = MLPClassifier((16,), max_iter=3, random_state=seed).fit(X, y)
    return clf.predict_proba(X)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_concurrent_fit_and_predict_from_threads(multiclass_data):
    X, y = multiclass_data
    X = np.tile(X, (20, 1))  # enough rows for the kernels to go parallel
    y = np.tile(y, 20)
    expected = [_fit_predict(seed, X, y) for seed in range(4)]
    shared = MLPClassifier((16,), max_iter=3, random_state=0).fit(X, y)
    blas_before = _blas_threads()

    with ThreadPoolExecutor(4) as pool:
        fits = [pool.submit(_fit_predict, seed, X, y) for seed in range(4)]
        predictions = [pool.submit(shared.predict_proba, X) for _ in range(8)]
        results = [f.result(timeout=120) for f in fits]
        shared_results = [f.result(timeout=120) for f in predictions]
    for got, want in zip(results, expected):
        np.testing.assert_array_equal(got, want)
    for got in shared_results:
        np.testing.assert_array_equal(got, expected[0])

    results = joblib.Parallel(n_jobs=4, backend="threading")(
        joblib.delayed(_fit_predict)(seed, X, y) for seed in range(4)
    )
    for got, want in zip(results, expected):
        np.testing.assert_array_equal(got, want)
    assert _blas_threads() == blas_before


@pytest.mark.parametrize("layer", ["workqueue"])
def test_concurrent_calls_under_unsafe_threading_layer(layer):
    # Numba's workqueue layer aborts the process on concurrent parallel
    # regions; fastmlp serialises its kernel calls there instead.
    script = textwrap.dedent(
        """
        import warnings
        from concurrent.futures import ThreadPoolExecutor
        import numba, numpy as np
        from fastmlp import MLPClassifier
        warnings.simplefilter("ignore")
        rng = np.random.RandomState(0)
        X = rng.rand(2000, 20); y = (X[:, 0] > 0.5).astype(int)
        def work(seed):
            return MLPClassifier((32,), max_iter=3, random_state=seed).fit(X, y).predict(X)
        with ThreadPoolExecutor(4) as pool:
            list(pool.map(work, range(8)))
        print(numba.threading_layer())
        """
    )
    env = dict(os.environ, NUMBA_THREADING_LAYER=layer)
    result = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip() == layer
