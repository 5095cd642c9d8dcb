"""Property tests (hypothesis) over shapes, dtypes, memory layouts and label types.

For any input, fitting a strided or Fortran-ordered view gives the same model,
bit for bit, as fitting its C-contiguous copy; predictions take the labels'
values and stay in ``classes_``; probabilities are rows summing to one; float32
input trains in float32 and everything else in float64.
"""

import warnings

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from fastmlp import MLPClassifier, MLPRegressor

SETTINGS = settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

DTYPES = [np.float32, np.float64, np.int32, np.int64]
LAYOUTS = ["C", "F", "row-stride", "col-stride", "reversed"]
LABEL_KINDS = {
    "int": lambda k: np.arange(k) * 3 - 2,
    "str": lambda k: np.array(["cat", "ant", "dog", "bee", "emu"][:k]),
    "float": lambda k: np.arange(k) * 2.0 - 1.0,  # integral, or they are not classes
    "bool": lambda k: np.array([False, True][:k]),
    "object": lambda k: np.array(["x", "y", "z", "w", "v"][:k], dtype=object),
}


@st.composite
def feature_matrices(draw, max_rows=40, max_features=6):
    """(X as laid out, X as a C-contiguous copy); values exact in float32."""
    n_rows = draw(st.integers(4, max_rows))
    n_features = draw(st.integers(1, max_features))
    dtype = draw(st.sampled_from(DTYPES))
    layout = draw(st.sampled_from(LAYOUTS))
    # Integers scaled by a power of two are exact in every dtype drawn.
    values = draw(arrays(np.int32, (2 * n_rows, 2 * n_features), elements=st.integers(-64, 64)))
    base = (values / 16).astype(dtype) if np.dtype(dtype).kind == "f" else values.astype(dtype)
    if layout == "C":
        X = base[:n_rows, :n_features]
        X = np.ascontiguousarray(X)
    elif layout == "F":
        X = np.asfortranarray(base[:n_rows, :n_features])
    elif layout == "row-stride":
        X = base[::2, :n_features]
    elif layout == "col-stride":
        X = base[:n_rows, ::2]
    else:
        X = base[:n_rows, :n_features][::-1, ::-1]
    return X, np.ascontiguousarray(X)


@st.composite
def classification_targets(draw, n_rows):
    kind = draw(st.sampled_from(sorted(LABEL_KINDS)))
    max_classes = 2 if kind == "bool" else min(4, n_rows)
    n_classes = draw(st.integers(2, max_classes))
    labels = LABEL_KINDS[kind](n_classes)
    order = draw(st.permutations(range(n_rows)))
    return labels[np.arange(n_rows)[list(order)] % n_classes]


def _same_model(a, b):
    for x, y in zip(a.coefs_ + a.intercepts_, b.coefs_ + b.intercepts_):
        assert x.dtype == y.dtype
        assert x.tobytes() == y.tobytes()


def _expected_dtype(X):
    return np.float32 if X.dtype == np.float32 else np.float64


@SETTINGS
@given(data=st.data(), solver=st.sampled_from(["adam", "sgd", "lbfgs"]))
def test_classifier_layouts_dtypes_labels(data, solver):
    X, X_c = data.draw(feature_matrices())
    y = data.draw(classification_targets(len(X)))
    params = dict(hidden_layer_sizes=(5,), solver=solver, max_iter=3, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        clf = MLPClassifier(**params).fit(X, y)
        reference = MLPClassifier(**params).fit(X_c, y)

    _same_model(clf, reference)
    assert clf.coefs_[0].dtype == _expected_dtype(X)
    assert clf._trainer_in_sync()

    predicted = clf.predict(X)
    assert predicted.shape == y.shape
    # Labels come back as classes_ holds them (object strings become str, as
    # in scikit-learn's LabelBinarizer), with the values of y.
    assert predicted.dtype == clf.classes_.dtype
    assert set(clf.classes_) == set(y)
    assert np.isin(predicted, clf.classes_).all()
    np.testing.assert_array_equal(predicted, reference.predict(X_c))

    proba = clf.predict_proba(X)
    assert proba.shape == (len(X), len(clf.classes_))
    assert np.all((proba >= 0) & (proba <= 1))
    tolerance = 1e-5 if clf.coefs_[0].dtype == np.float32 else 1e-12
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=tolerance)
    np.testing.assert_array_equal(clf.classes_[np.argmax(proba, axis=1)], predicted)


@SETTINGS
@given(
    data=st.data(),
    n_outputs=st.integers(1, 3),
    solver=st.sampled_from(["adam", "lbfgs"]),
)
def test_regressor_layouts_dtypes_outputs(data, n_outputs, solver):
    X, X_c = data.draw(feature_matrices())
    coefficients = data.draw(
        arrays(np.float64, (X.shape[1], n_outputs), elements=st.floats(-2, 2, width=32))
    )
    y = X_c.astype(np.float64) @ coefficients
    if n_outputs == 1:
        y = y.ravel()
    layout = data.draw(st.sampled_from(["C", "F"]))
    y_laid_out = np.asfortranarray(y) if layout == "F" else y
    params = dict(hidden_layer_sizes=(4,), solver=solver, max_iter=3, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        reg = MLPRegressor(**params).fit(X, y_laid_out)
        reference = MLPRegressor(**params).fit(X_c, y)

    _same_model(reg, reference)
    assert reg.coefs_[0].dtype == _expected_dtype(X)
    predicted = reg.predict(X)
    assert predicted.shape == y.shape
    assert np.isfinite(predicted).all()
    assert predicted.tobytes() == reference.predict(X_c).tobytes()


@SETTINGS
@given(data=st.data())
def test_prediction_is_row_wise(data):
    """A row's prediction does not depend on the rows predicted with it."""
    X, X_c = data.draw(feature_matrices(max_rows=30))
    y = data.draw(classification_targets(len(X)))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        clf = MLPClassifier((5,), max_iter=2, random_state=0).fit(X, y)
    whole = clf.predict_proba(X)
    rows = data.draw(st.lists(st.integers(0, len(X) - 1), min_size=1, max_size=len(X)))
    np.testing.assert_allclose(clf.predict_proba(X[rows]), whole[rows], rtol=1e-5, atol=1e-6)
