"""Sparse input: CSR and CSC train and predict like their dense equivalents.

The input layer multiplies sparse rows directly (``sparse_rows_times_dense``
and its transpose), so these tests pin the sparse path to both scikit-learn
(which also takes sparse input) and fastmlp's own dense path.
"""

import numpy as np
import pytest
import scipy.sparse as sp
from numpy.testing import assert_allclose
from sklearn.neural_network import MLPClassifier as SkMLPClassifier
from sklearn.neural_network import MLPRegressor as SkMLPRegressor

from fastmlp import MLPClassifier, MLPRegressor

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


@pytest.fixture
def sparse_problem():
    rng = np.random.RandomState(0)
    X = sp.random(240, 30, density=0.1, format="csr", random_state=rng)
    y = rng.randint(0, 3, 240)
    return X, y


@pytest.mark.parametrize("fmt", ["csr", "csc"])
@pytest.mark.parametrize("solver", ["adam", "sgd", "lbfgs"])
def test_sparse_classifier_matches_sklearn(sparse_problem, fmt, solver):
    X, y = sparse_problem
    X = X.asformat(fmt)
    params = dict(hidden_layer_sizes=(8,), solver=solver, max_iter=4, random_state=0)
    ours = MLPClassifier(**params).fit(X, y)
    theirs = SkMLPClassifier(**params).fit(X, y)
    for a, b in zip(ours.coefs_ + ours.intercepts_, theirs.coefs_ + theirs.intercepts_):
        assert_allclose(a, b, rtol=1e-6)
    assert_allclose(ours.predict_proba(X), theirs.predict_proba(X), rtol=1e-9)


@pytest.mark.parametrize("early_stopping", [False, True])
def test_sparse_regressor_matches_dense(sparse_problem, early_stopping):
    X, _ = sparse_problem
    y = np.asarray(X.sum(axis=1)).ravel()
    params = dict(hidden_layer_sizes=(6, 5), max_iter=5, random_state=0,
                  early_stopping=early_stopping)
    sparse_fit = MLPRegressor(**params).fit(X, y)
    dense_fit = MLPRegressor(**params).fit(X.toarray(), y)
    for a, b in zip(sparse_fit.coefs_, dense_fit.coefs_):
        assert_allclose(a, b, rtol=1e-9, atol=1e-14)
    assert_allclose(sparse_fit.predict(X), dense_fit.predict(X.toarray()), rtol=1e-9)
    reference = SkMLPRegressor(**params).fit(X, y)
    assert_allclose(sparse_fit.loss_curve_, reference.loss_curve_, rtol=1e-6)


def test_sparse_float32_stays_sparse_and_float32(sparse_problem, monkeypatch):
    X, y = sparse_problem
    X = X.astype(np.float32)

    def refuse(*args, **kwargs):
        raise AssertionError("the sparse input was densified")

    monkeypatch.setattr(sp.csr_matrix, "toarray", refuse)
    monkeypatch.setattr(sp.csr_matrix, "todense", refuse)
    clf = MLPClassifier((8,), max_iter=3, random_state=0).fit(X, y)
    assert clf.coefs_[0].dtype == np.float32
    assert clf.predict_proba(X).dtype == np.float32
