"""The network options fastmlp adds: per-layer activations, residual
connections, Maxout units and dropout, through the estimators.

Their kernels' gradients are checked in ``test_trainer.py``; here: defaults that
keep scikit-learn's results bit for bit, the documented formulas and shapes
seen through ``coefs_``/``predict``, parameter validation, and every option
with every solver, dtype, sparse input, ``partial_fit``, ``warm_start``,
early stopping, pickling and ``n_jobs``.
"""

import pickle
import warnings

import numpy as np
import pytest
import scipy.sparse
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.base import clone
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils._param_validation import InvalidParameterError

import naive
from fastmlp import MLPClassifier, MLPRegressor

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

ESTIMATORS = [MLPClassifier, MLPRegressor]

OPTIONS = {
    "list": dict(activation=["tanh", "relu"]),
    "residual": dict(hidden_layer_sizes=(8, 8), residual=True),
    "maxout": dict(activation="maxout", maxout_pieces=3),
    "maxout-in-list": dict(activation=["maxout", "gelu"], maxout_pieces=2),
    "dropout": dict(dropout=0.3),
    "all": dict(hidden_layer_sizes=(8, 8), activation=["maxout", "elu"], residual=True,
                dropout=0.2),
}


def data_for(Estimator, X, y):
    return (X, y) if Estimator is MLPClassifier else (X, y + X[:, 0])


def fit(Estimator, X, y, **params):
    """Fit on ``X`` (targets from ``data_for``, computed on dense ``X``)."""
    params = {"hidden_layer_sizes": (6, 5), "max_iter": 4, "random_state": 0, **params}
    dense = X.toarray() if scipy.sparse.issparse(X) else X
    return Estimator(**params).fit(X, data_for(Estimator, dense, y)[1])


def output_activation(est):
    return naive.ACTIVATIONS[est.out_activation_]


def plain_forward(est, X):
    """The documented formulas, from ``coefs_`` and ``intercepts_`` alone."""
    names = est.activation
    n_hidden = len(est.coefs_) - 1
    names = [names] * n_hidden if isinstance(names, str) else names
    h = X
    for coef, intercept, name in zip(est.coefs_[:-1], est.intercepts_[:-1], names):
        z = h @ coef + intercept
        if name == "maxout":
            p = est.maxout_pieces
            g = np.stack([z[:, [j * p + k for k in range(p)]].max(axis=1)
                          for j in range(z.shape[1] // p)], axis=1)
        else:
            g = naive.ACTIVATIONS[name](z)
        h = g + h if est.residual and g.shape == h.shape else g
    return output_activation(est)(h @ est.coefs_[-1] + est.intercepts_[-1])


def raw_output(est, X):
    if isinstance(est, MLPClassifier):
        proba = est.predict_proba(X)
        return proba if proba.shape[1] > 2 else proba[:, 1:]
    return est.predict(X).reshape(X.shape[0], -1)


# ----------------------------------------------------------- defaults unchanged


@pytest.mark.parametrize("Estimator", ESTIMATORS)
@pytest.mark.parametrize("solver", ["sgd", "adam", "lbfgs"])
def test_equivalent_spellings_of_the_default_are_bit_identical(Estimator, solver,
                                                               multiclass_data):
    X, y = multiclass_data
    base = fit(Estimator, X, y, solver=solver)
    spelled = [
        fit(Estimator, X, y, solver=solver, activation=["relu", "relu"]),
        fit(Estimator, X, y, solver=solver, activation=("relu", "relu"), dropout=0.0,
            maxout_pieces=5),
        # No hidden layer is as wide as its input (8 -> 6 -> 5): nothing to skip.
        fit(Estimator, X, y, solver=solver, residual=True),
    ]
    for est in spelled:
        for a, b in zip(est.coefs_ + est.intercepts_, base.coefs_ + base.intercepts_):
            assert_array_equal(a, b)
        assert est.n_iter_ == base.n_iter_


# ------------------------------------------------------- formulas and shapes


@pytest.mark.parametrize("Estimator", ESTIMATORS)
@pytest.mark.parametrize("option", OPTIONS)
def test_predictions_follow_the_documented_formulas(Estimator, option, multiclass_data):
    X, y = multiclass_data
    est = fit(Estimator, X, y, **OPTIONS[option])
    assert_allclose(raw_output(est, X), plain_forward(est, X), rtol=1e-10, atol=1e-12)


def test_maxout_shapes(multiclass_data):
    X, y = multiclass_data
    est = fit(MLPClassifier, X, y, hidden_layer_sizes=(6, 5),
              activation=["maxout", "relu"], maxout_pieces=3)
    assert [c.shape for c in est.coefs_] == [(8, 18), (6, 5), (5, 3)]
    assert [b.shape for b in est.intercepts_] == [(18,), (5,), (3,)]


def test_residual_changes_only_equal_width_layers(multiclass_data):
    X, y = multiclass_data
    plain = fit(MLPRegressor, X, y, hidden_layer_sizes=(8, 8, 4))
    skip = fit(MLPRegressor, X, y, hidden_layer_sizes=(8, 8, 4), residual=True)
    # Same initial weights, different function: the skips are in use.
    assert not np.allclose(plain.predict(X), skip.predict(X))
    # The skip also reaches the first layer: its input has 8 features.
    est = clone(skip).set_params(max_iter=1)
    est.fit(*data_for(MLPRegressor, X, y))
    without_first_skip = plain_forward(est, X)
    assert_allclose(est.predict(X).reshape(-1, 1), without_first_skip, rtol=1e-10)


def test_dropout_trains_differently_but_predicts_with_every_unit(multiclass_data):
    X, y = multiclass_data
    plain = fit(MLPClassifier, X, y)
    dropped = fit(MLPClassifier, X, y, dropout=0.5)
    assert not np.allclose(plain.coefs_[0], dropped.coefs_[0])
    first = dropped.predict_proba(X)
    assert_array_equal(dropped.predict_proba(X), first)
    assert_allclose(first, plain_forward(dropped, X), rtol=1e-10)


@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_dropout_fit_depends_on_random_state_not_threads(Estimator):
    rng = np.random.RandomState(0)
    X = rng.normal(size=(600, 64))
    y = (X[:, :3].sum(axis=1) > 0).astype(int)
    params = dict(hidden_layer_sizes=(128,), dropout=0.3, max_iter=2, random_state=3)
    # Large enough that each batch is cut into one row block per thread.
    one = Estimator(n_jobs=1, **params).fit(*data_for(Estimator, X, y))
    many = Estimator(n_jobs=-1, **params).fit(*data_for(Estimator, X, y))
    again = Estimator(n_jobs=1, **params).fit(*data_for(Estimator, X, y))
    other = Estimator(n_jobs=1, **{**params, "random_state": 4}).fit(
        *data_for(Estimator, X, y))
    assert_allclose(many.coefs_[0], one.coefs_[0], rtol=1e-9, atol=1e-12)
    assert_array_equal(again.coefs_[0], one.coefs_[0])
    assert not np.allclose(other.coefs_[0], one.coefs_[0])


# -------------------------------------------------------------- validation


@pytest.mark.parametrize("Estimator", ESTIMATORS)
@pytest.mark.parametrize("param, value", [
    ("activation", ["relu", "bogus"]),
    ("activation", []),
    ("activation", ["softmax"]),
    ("activation", [1, 2]),
    ("activation", "maxout2"),
    ("residual", "yes"),
    ("maxout_pieces", 1),
    ("maxout_pieces", 2.5),
    ("dropout", 1.0),
    ("dropout", -0.1),
    ("dropout", "0.2"),
])
def test_bad_option_values_raise_invalid_parameter_error(Estimator, param, value,
                                                         multiclass_data):
    X, y = data_for(Estimator, *multiclass_data)
    est = fit(Estimator, X, y)
    before = [c.copy() for c in est.coefs_]
    with pytest.raises(InvalidParameterError, match=param):
        est.set_params(**{param: value}).fit(X, y)
    for a, b in zip(est.coefs_, before):
        assert_array_equal(a, b)


@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_activation_list_length_must_match(Estimator, multiclass_data):
    X, y = data_for(Estimator, *multiclass_data)
    with pytest.raises(ValueError, match="one activation per hidden layer"):
        Estimator(hidden_layer_sizes=(5, 4), activation=["relu"]).fit(X, y)


@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_lbfgs_refuses_dropout_without_touching_the_model(Estimator, multiclass_data):
    X, y = data_for(Estimator, *multiclass_data)
    est = fit(Estimator, X, y, solver="lbfgs")
    before = [c.copy() for c in est.coefs_]
    with pytest.raises(ValueError, match="dropout"):
        est.set_params(dropout=0.2).fit(X, y)
    for a, b in zip(est.coefs_, before):
        assert_array_equal(a, b)
    with pytest.raises(ValueError, match="dropout"):
        Estimator(solver="lbfgs", dropout=0.2).fit(X, y)


# -------------------------------------------- every option, everywhere


@pytest.mark.parametrize("Estimator", ESTIMATORS)
@pytest.mark.parametrize("option", OPTIONS)
@pytest.mark.parametrize("solver", ["sgd", "adam", "lbfgs"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("sparse", [False, True], ids=["dense", "sparse"])
def test_options_train_with_every_solver_dtype_and_input(Estimator, option, solver, dtype,
                                                         sparse, multiclass_data):
    params = OPTIONS[option]
    if solver == "lbfgs" and params.get("dropout", 0) > 0:
        pytest.skip("L-BFGS refuses dropout (tested above)")
    X, y = data_for(Estimator, *multiclass_data)
    X = X.astype(dtype)
    X_fit = scipy.sparse.csr_matrix(X) if sparse else X
    est = fit(Estimator, X_fit, y, solver=solver, **params)
    assert all(c.dtype == dtype for c in est.coefs_)
    out = raw_output(est, X_fit)
    assert out.dtype == dtype and np.isfinite(out).all()
    assert_allclose(out, plain_forward(est, X.astype(np.float64)),
                    rtol=1e-4 if dtype == np.float32 else 1e-10, atol=1e-6)
    if solver != "lbfgs":
        assert len(est.loss_curve_) == est.n_iter_ and np.isfinite(est.loss_curve_).all()


@pytest.mark.parametrize("Estimator", ESTIMATORS)
@pytest.mark.parametrize("option", OPTIONS)
def test_options_with_partial_fit_warm_start_early_stopping_pickle(Estimator, option,
                                                                   multiclass_data):
    X, y = data_for(Estimator, *multiclass_data)
    params = {"hidden_layer_sizes": (6, 5), "random_state": 0, **OPTIONS[option]}

    est = Estimator(**params)
    classes = {"classes": np.unique(y)} if Estimator is MLPClassifier else {}
    for _ in range(3):
        est.partial_fit(X, y, **classes)
    assert est.n_iter_ == 1 and est.t_ == 3 * len(X)

    warm = Estimator(max_iter=2, warm_start=True, **params).fit(X, y)
    first = [c.copy() for c in warm.coefs_]
    warm.fit(X, y)
    assert not np.allclose(warm.coefs_[0], first[0])

    early = Estimator(max_iter=30, early_stopping=True, n_iter_no_change=2, **params)
    early.fit(X, y)
    assert len(early.validation_scores_) == early.n_iter_

    assert_array_equal(raw_output(pickle.loads(pickle.dumps(early)), X), raw_output(early, X))
    restored = pickle.loads(pickle.dumps(warm))
    assert_array_equal(raw_output(restored, X), raw_output(warm, X))
    # Training goes on from the unpickled network, dropout and all.
    restored.fit(X, y)
    warm.fit(X, y)
    assert_array_equal(raw_output(restored, X), raw_output(warm, X))
    assert clone(early).get_params() == early.get_params()


def test_warm_start_adopts_a_new_activation_but_not_a_new_shape(multiclass_data):
    X, y = multiclass_data
    est = fit(MLPClassifier, X, y, warm_start=True)
    est.set_params(activation="tanh").fit(X, y)
    assert_allclose(est.predict_proba(X), plain_forward(est, X), rtol=1e-10)
    with pytest.raises(ValueError, match="shape changed"):
        est.set_params(activation="maxout").fit(X, y)


def test_n_layers_and_attributes_as_sklearn(multiclass_data):
    X, y = multiclass_data
    est = fit(MLPClassifier, X, y, activation=["maxout", "relu"], residual=True,
              dropout=0.1)
    assert est.n_layers_ == 4 and est.out_activation_ == "softmax"
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        est.set_params(max_iter=200).fit(X, y)
