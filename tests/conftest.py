"""Shared data fixtures: small deterministic classification problems.

Every fixture returns fresh arrays, so a test may modify what it receives.
The data sets are built once per session and copied per test.

Fixtures
--------
multiclass_data, binary_data : (X, y)
    float64 ``X`` of shape (120, 8) and integer labels (3 and 2 classes).
string_label_data : (X, y)
    The multiclass problem with labels ``"ant"``, ``"bee"``, ``"cat"``.
classification_data : (X, y)
    Parametrized over the binary and multiclass problems.
multilabel_data : (X, Y)
    The multiclass problem's ``X`` with an integer indicator matrix ``Y`` of
    shape (120, 3) (every label present and absent, some rows with none).
any_classification_data : (X, y)
    Parametrized over the binary, multiclass and multilabel problems.
float_dtype : numpy dtype
    Parametrized over float32 and float64.
numba_threads : int
    Parametrized over one thread and every Numba thread: the kernels' parallel
    loops run with that many threads during the test.
regression_problem : (loss, X, y)
    float64 ``X`` of shape (120, 8) with targets for each regression loss and
    output count: real targets (1 and 3 outputs) for ``"squared_error"``,
    counts (1 and 2 outputs, ``y >= 0``) for ``"poisson"``; 1-D ``y`` for one
    output.
"""

import functools

import numba
import numpy as np
import pytest
from sklearn.datasets import make_classification

N_SAMPLES = 120
N_FEATURES = 8


@functools.lru_cache(maxsize=None)
def _classification(n_classes, seed):
    X, y = make_classification(
        n_samples=N_SAMPLES,
        n_features=N_FEATURES,
        n_informative=5,
        n_redundant=1,
        n_classes=n_classes,
        n_clusters_per_class=1,
        class_sep=1.5,
        random_state=seed,
    )
    return X, y


def _fresh(n_classes, seed=0):
    X, y = _classification(n_classes, seed)
    return X.copy(), y.copy()


@pytest.fixture
def multiclass_data():
    return _fresh(3)


@pytest.fixture
def binary_data():
    return _fresh(2, seed=1)


@pytest.fixture
def string_label_data():
    X, y = _fresh(3)
    return X, np.array(["ant", "bee", "cat"])[y]


@pytest.fixture(params=["binary", "multiclass"])
def classification_data(request):
    return request.getfixturevalue(f"{request.param}_data")


@pytest.fixture
def multilabel_data():
    X, y = _fresh(3)
    Y = np.column_stack([y == 0, y != 1, X[:, 0] > 0]).astype(int)
    return X, Y


@pytest.fixture(params=["binary", "multiclass", "multilabel"])
def any_classification_data(request):
    return request.getfixturevalue(f"{request.param}_data")


@pytest.fixture(params=[np.float32, np.float64], ids=["float32", "float64"])
def float_dtype(request):
    return np.dtype(request.param)


@pytest.fixture(params=[1, "all"], ids=["1thread", "all-threads"])
def numba_threads(request):
    previous = numba.get_num_threads()
    n_threads = 1 if request.param == 1 else numba.config.NUMBA_NUM_THREADS
    numba.set_num_threads(n_threads)
    yield n_threads
    numba.set_num_threads(previous)


@functools.lru_cache(maxsize=None)
def _regression(loss, n_outputs, seed=0):
    rng = np.random.RandomState(seed)
    X = rng.uniform(-1.0, 1.0, (N_SAMPLES, N_FEATURES))
    W = rng.uniform(-1.0, 1.0, (N_FEATURES, n_outputs))
    z = np.tanh(X @ W) + 0.5 * X[:, :n_outputs] ** 2
    if loss == "poisson":
        # Counts with a log-linear mean between about 0.4 and 3.
        y = rng.poisson(np.exp(0.3 + 0.8 * z)).astype(np.float64)
    else:
        y = 2.0 * z + 0.1 * rng.standard_normal(z.shape)
    return X, (y.ravel() if n_outputs == 1 else y)


REGRESSION_PROBLEMS = {
    "squared_error-1output": ("squared_error", 1),
    "squared_error-3outputs": ("squared_error", 3),
    "poisson-1output": ("poisson", 1),
    "poisson-2outputs": ("poisson", 2),
}


@pytest.fixture(params=list(REGRESSION_PROBLEMS))
def regression_problem(request):
    loss, n_outputs = REGRESSION_PROBLEMS[request.param]
    X, y = _regression(loss, n_outputs)
    return loss, X.copy(), y.copy()
