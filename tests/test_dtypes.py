"""Working precision and memory layout of the input.

float32 input is trained and predicted in float32 end to end, float64 stays
float64 and integer input is converted to float64, as scikit-learn does; the
memory layout of ``X`` (C, Fortran, strided, read-only) never changes a result.
"""

import warnings

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.exceptions import ConvergenceWarning
from sklearn.neural_network import MLPClassifier as SkMLPClassifier

import naive
from fastmlp import MLPClassifier

PARAMS = dict(hidden_layer_sizes=(8, 5), batch_size=16, max_iter=5, random_state=0)


def fit(X, y, estimator_class=MLPClassifier, **params):
    est = estimator_class(**{**PARAMS, **params})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return est.fit(X, y)


def weights(est):
    return est.coefs_ + est.intercepts_


@pytest.mark.parametrize("solver", ["adam", "sgd"])
def test_fit_and_predict_in_input_precision(classification_data, float_dtype, solver):
    X, y = classification_data
    X = X.astype(float_dtype)
    est = fit(X, y, solver=solver)
    assert all(w.dtype == float_dtype for w in weights(est))
    assert est._trainer.params.dtype == float_dtype
    assert est.predict_proba(X).dtype == float_dtype
    assert est.predict_log_proba(X).dtype == float_dtype
    assert np.isfinite(est.loss_curve_).all()
    assert est.loss_curve_[-1] < est.loss_curve_[0]


@pytest.mark.parametrize("dtype", [np.int64, np.int32, np.uint8, bool])
def test_integer_and_bool_input_becomes_float64(multiclass_data, dtype):
    X, y = multiclass_data
    X = (X > 0).astype(dtype) if dtype is bool else np.round(3 * X).astype(dtype)
    est, sk = fit(X, y), fit(X, y, estimator_class=SkMLPClassifier)
    assert all(w.dtype == np.float64 for w in weights(est))
    assert est.predict_proba(X).dtype == np.float64
    for a, b in zip(weights(est), weights(sk)):
        assert_allclose(a, b, rtol=1e-6, atol=0)


def test_float64_input_to_float32_model_is_predicted_in_float64(multiclass_data):
    # As in scikit-learn: float32 weights times float64 input gives float64,
    # computed with the weights cast up (nothing of the input is cast down).
    X, y = multiclass_data
    est = fit(X.astype(np.float32), y)
    sk = fit(X.astype(np.float32), y, estimator_class=SkMLPClassifier)
    proba = est.predict_proba(X)
    assert proba.dtype == sk.predict_proba(X).dtype == np.float64
    assert est.predict_proba(X.astype(np.float32)).dtype == np.float32
    coefs = [c.astype(np.float64) for c in est.coefs_]
    intercepts = [b.astype(np.float64) for b in est.intercepts_]
    expected = naive.forward(X, coefs, intercepts, "relu", "softmax")[-1]
    assert_allclose(proba, expected, rtol=1e-12, atol=1e-15)
    assert_array_equal(est.predict(X), est.classes_[expected.argmax(axis=1)])


@pytest.mark.parametrize("sparse", [False, True])
def test_float32_input_to_float64_model_is_predicted_in_float64(multiclass_data, sparse):
    # As in scikit-learn: the float32 input is read in float64.
    import scipy.sparse

    X, y = multiclass_data
    est = fit(X, y)
    sk = fit(X, y, estimator_class=SkMLPClassifier)
    X32 = X.astype(np.float32)
    X_in = scipy.sparse.csr_matrix(X32) if sparse else X32
    proba = est.predict_proba(X_in)
    assert proba.dtype == sk.predict_proba(X_in).dtype == np.float64
    assert_allclose(proba, est.predict_proba(X32.astype(np.float64)), rtol=1e-12, atol=1e-15)
    assert_array_equal(est.predict(X_in), sk.predict(X_in))


def test_float64_input_beyond_float32_range_gives_no_overflow(multiclass_data):
    X, y = multiclass_data
    est = fit(X.astype(np.float32), y)
    X_big = X.copy()
    X_big[0, 0] = 1e300
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        proba = est.predict_proba(X_big)
    assert proba.dtype == np.float64 and np.isfinite(proba).all()


def test_float32_fit_tracks_sklearn_float32(classification_data):
    X, y = classification_data
    X = X.astype(np.float32)
    est, sk = fit(X, y), fit(X, y, estimator_class=SkMLPClassifier)
    for a, b in zip(weights(est), weights(sk)):
        assert a.dtype == b.dtype == np.float32
        assert_allclose(a, b, rtol=1e-3, atol=1e-5)


def test_float32_and_float64_reach_similar_accuracy(multiclass_data):
    X, y = multiclass_data
    train, test = slice(0, 80), slice(80, None)
    fits = {
        dtype: fit(X[train].astype(dtype), y[train], max_iter=60, learning_rate_init=0.01)
        for dtype in (np.float32, np.float64)
    }
    accuracy = {dtype: est.score(X[test].astype(dtype), y[test])
                for dtype, est in fits.items()}
    assert accuracy[np.float64] > 0.8
    assert abs(accuracy[np.float32] - accuracy[np.float64]) <= 0.05
    # The whole training trajectory agrees to float32 precision.
    assert_allclose(fits[np.float32].loss_curve_, fits[np.float64].loss_curve_, rtol=1e-3)


def layouts(X):
    """``X`` in other memory layouts, with the same values."""
    wide = np.zeros((X.shape[0] * 2, X.shape[1] * 3), dtype=X.dtype)
    wide[::2, ::3] = X
    read_only = X.copy()
    read_only.flags.writeable = False
    return {
        "fortran": np.asfortranarray(X),
        "strided": wide[::2, ::3],
        "reversed-columns": X[:, ::-1].copy()[:, ::-1],
        "read-only": read_only,
    }


@pytest.mark.parametrize("layout", ["fortran", "strided", "reversed-columns", "read-only"])
def test_memory_layout_does_not_change_results(multiclass_data, float_dtype, layout):
    X, y = multiclass_data
    X = X.astype(float_dtype)
    other = layouts(X)[layout]
    assert_array_equal(other, X)
    if layout != "read-only":
        assert not other.flags.c_contiguous
    reference, est = fit(X, y), fit(other, y)
    for a, b in zip(weights(reference), weights(est)):
        assert_array_equal(a, b)
    assert_array_equal(reference.predict_proba(other), reference.predict_proba(X))
    assert_array_equal(est.predict_proba(other), reference.predict_proba(X))


def test_input_is_not_modified(multiclass_data, float_dtype):
    X, y = multiclass_data
    X = X.astype(float_dtype)
    X_before, y_before = X.copy(), y.copy()
    est = fit(X, y)
    est.predict_proba(X)
    est.partial_fit(X, y)
    assert_array_equal(X, X_before)
    assert_array_equal(y, y_before)
