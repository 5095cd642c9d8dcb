"""``fastmlp._export.to_sklearn``: fitted fastmlp estimators as fitted scikit-learn ones.

The scikit-learn estimator must predict as fastmlp's does (to round-off), own
its copies of the weights and fitted attributes, continue training from them
(``partial_fit`` exactly as fastmlp would, optimizer state included), and
refuse, naming the feature, networks whose forward pass it cannot represent.
"""

import pickle

import numpy as np
import pytest
import sklearn.neural_network as sknn
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.exceptions import NotFittedError

from fastmlp import MLPClassifier, MLPRegressor
from fastmlp._export import to_sklearn

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

SKLEARN_ACTIVATIONS = ["identity", "logistic", "tanh", "relu"]
OTHER_ACTIVATIONS = ["leaky_relu", "elu", "swish", "gelu", "softplus"]


def fit(Estimator, X, y, **params):
    params = {"hidden_layer_sizes": (7, 5), "max_iter": 5, "random_state": 0, **params}
    return Estimator(**params).fit(X, y)


def rtol_for(dtype):
    return 1e-5 if np.dtype(dtype) == np.float32 else 1e-12


def assert_same_weights(fm, sk, rtol=0.0):
    assert len(sk.coefs_) == len(fm.coefs_)
    for fm_array, sk_array in zip(fm.coefs_ + fm.intercepts_, sk.coefs_ + sk.intercepts_):
        assert sk_array.dtype == fm_array.dtype
        assert_allclose(sk_array, fm_array, rtol=rtol, atol=0)


def test_classifier_predicts_as_fastmlp(any_classification_data, float_dtype):
    X, y = any_classification_data
    X = X.astype(float_dtype)
    fm = fit(MLPClassifier, X, y)
    sk = to_sklearn(fm)
    assert type(sk) is sknn.MLPClassifier
    assert_array_equal(sk.predict(X), fm.predict(X))
    proba = sk.predict_proba(X)
    assert proba.dtype == float_dtype
    assert_allclose(proba, fm.predict_proba(X), rtol=rtol_for(float_dtype), atol=1e-7)
    assert_array_equal(sk.classes_, fm.classes_)
    assert sk._label_binarizer.y_type_ == fm._label_binarizer.y_type_


def test_regressor_predicts_as_fastmlp(regression_problem, float_dtype):
    loss, X, y = regression_problem
    X = X.astype(float_dtype)
    fm = fit(MLPRegressor, X, y, loss=loss)
    sk = to_sklearn(fm)
    assert type(sk) is sknn.MLPRegressor
    assert sk.loss == loss
    assert sk.out_activation_ == fm.out_activation_ == ("exp" if loss == "poisson" else "identity")
    prediction = sk.predict(X)
    assert prediction.shape == fm.predict(X).shape
    assert_allclose(prediction, fm.predict(X), rtol=rtol_for(float_dtype), atol=1e-6)


@pytest.mark.parametrize("activation", SKLEARN_ACTIVATIONS + [["tanh", "tanh"]],
                         ids=SKLEARN_ACTIVATIONS + ["list-of-equal"])
def test_every_sklearn_activation(activation, multiclass_data):
    X, y = multiclass_data
    fm = fit(MLPClassifier, X, y, activation=activation)
    sk = to_sklearn(fm)
    assert sk.activation == (activation if isinstance(activation, str) else activation[0])
    assert_allclose(sk.predict_proba(X), fm.predict_proba(X), rtol=1e-12)


def test_weights_and_attributes_are_independent_copies(multiclass_data):
    X, y = multiclass_data
    fm = fit(MLPClassifier, X, y)
    sk = to_sklearn(fm)
    assert_same_weights(fm, sk)
    for fm_array, sk_array in zip(fm.coefs_ + fm.intercepts_, sk.coefs_ + sk.intercepts_):
        assert not np.shares_memory(fm_array, sk_array)
        assert sk_array.flags.c_contiguous and sk_array.flags.writeable
    for name in ["n_features_in_", "n_outputs_", "n_layers_", "out_activation_", "loss_",
                 "best_loss_", "loss_curve_", "validation_scores_",
                 "best_validation_score_", "t_", "n_iter_", "_no_improvement_count"]:
        assert getattr(sk, name) == getattr(fm, name), name
    assert sk.loss_curve_ is not fm.loss_curve_
    assert sk.classes_ is not fm.classes_
    assert sk._label_binarizer is not fm._label_binarizer

    before = fm.predict_proba(X)
    sk.coefs_[0][:] = 0.0
    sk.loss_curve_.append(0.0)
    assert_array_equal(fm.predict_proba(X), before)
    assert len(fm.loss_curve_) == fm.n_iter_


def test_parameters_are_sklearn_ones_from_get_params(multiclass_data):
    X, y = multiclass_data
    fm = fit(MLPClassifier, X, y, alpha=0.01, learning_rate_init=0.003, batch_size=32,
             beta_1=0.8, tol=1e-3, n_iter_no_change=4, hidden_layer_sizes=[7, 5],
             random_state=np.random.RandomState(3), n_jobs=1)
    params = to_sklearn(fm).get_params()
    assert set(params) == set(sknn.MLPClassifier().get_params())
    fm_params = fm.get_params()
    for name in ["alpha", "learning_rate_init", "batch_size", "beta_1", "tol",
                 "n_iter_no_change", "max_iter", "solver"]:
        assert params[name] == fm_params[name], name
    assert params["hidden_layer_sizes"] == (7, 5)
    assert params["random_state"] is not fm_params["random_state"]  # copied, as clone does


def test_feature_names_are_kept():
    pd = pytest.importorskip("pandas")
    rng = np.random.RandomState(0)
    X = pd.DataFrame(rng.randn(40, 3), columns=["a", "b", "c"])
    y = X["a"] - X["b"]
    fm = fit(MLPRegressor, X, y)
    sk = to_sklearn(fm)
    assert_array_equal(sk.feature_names_in_, ["a", "b", "c"])
    assert sk.feature_names_in_ is not fm.feature_names_in_
    assert_allclose(sk.predict(X), fm.predict(X), rtol=1e-12)
    with pytest.raises(ValueError, match="feature names"):
        sk.predict(X[["c", "b", "a"]])


@pytest.mark.parametrize("solver", ["adam", "sgd"])
@pytest.mark.parametrize("Estimator", [MLPClassifier, MLPRegressor])
def test_partial_fit_continues_as_fastmlp(Estimator, solver, multiclass_data, float_dtype):
    X, y = multiclass_data
    X = X.astype(float_dtype)
    if Estimator is MLPRegressor:
        y = y + X[:, 0]
    fm = fit(Estimator, X, y, solver=solver, learning_rate_init=0.01)
    sk = to_sklearn(fm)
    for _ in range(2):
        fm.partial_fit(X, y)
        sk.partial_fit(X, y)
    assert_same_weights(fm, sk, rtol=100 * rtol_for(float_dtype))
    assert sk.t_ == fm.t_
    assert_allclose(sk.loss_, fm.loss_, rtol=100 * rtol_for(float_dtype))


def test_warm_start_fit_continues_as_fastmlp(multiclass_data):
    X, y = multiclass_data
    fm = fit(MLPClassifier, X, y)
    sk = to_sklearn(fm)
    fm.set_params(warm_start=True, max_iter=3).fit(X, y)
    sk.set_params(warm_start=True, max_iter=3).fit(X, y)
    assert_same_weights(fm, sk, rtol=1e-9)
    assert_allclose(sk.loss_curve_, fm.loss_curve_, rtol=1e-9)


def test_early_stopping_model_exports_and_continues(multiclass_data):
    X, y = multiclass_data
    fm = fit(MLPClassifier, X, y, early_stopping=True, max_iter=8)
    sk = to_sklearn(fm)
    assert sk.validation_scores_ == fm.validation_scores_
    assert sk.best_validation_score_ == fm.best_validation_score_
    assert sk.best_loss_ is None
    assert_allclose(sk.predict_proba(X), fm.predict_proba(X), rtol=1e-12)
    sk.set_params(warm_start=True, max_iter=2).fit(X, y)
    assert len(sk.validation_scores_) == len(fm.validation_scores_) + 2


def test_lbfgs_model_exports(multiclass_data):
    X, y = multiclass_data
    fm = fit(MLPRegressor, X, y.astype(float), solver="lbfgs", max_iter=20)
    sk = to_sklearn(fm)
    assert_allclose(sk.predict(X), fm.predict(X), rtol=1e-12)
    assert sk.n_iter_ == fm.n_iter_
    assert sk.loss_ == fm.loss_


def test_unpickled_model_exports(multiclass_data):
    X, y = multiclass_data
    fm = pickle.loads(pickle.dumps(fit(MLPClassifier, X, y, activation=["relu", "relu"])))
    assert_allclose(to_sklearn(fm).predict_proba(X), fm.predict_proba(X), rtol=1e-12)


def test_exports_the_fitted_network_not_later_parameters(multiclass_data):
    X, y = multiclass_data
    fm = fit(MLPClassifier, X, y, activation="tanh")
    fm.set_params(activation="gelu", hidden_layer_sizes=(3,))
    sk = to_sklearn(fm)
    assert sk.activation == "tanh"
    assert sk.hidden_layer_sizes == (7, 5)
    assert_allclose(sk.predict_proba(X), fm.predict_proba(X), rtol=1e-12)


@pytest.mark.parametrize("params", [
    dict(dropout=0.3),
    dict(residual=True),  # widths 8 -> 7 -> 5: no layer has a skip connection
], ids=["dropout", "residual-without-skips"])
def test_training_only_options_are_exported(params, multiclass_data):
    X, y = multiclass_data
    fm = fit(MLPClassifier, X, y, **params)
    sk = to_sklearn(fm)
    assert not set(params) & set(sk.get_params())
    assert_allclose(sk.predict_proba(X), fm.predict_proba(X), rtol=1e-12)


@pytest.mark.parametrize("params, message", [
    (dict(activation="maxout"), "Maxout"),
    (dict(activation=["relu", "maxout"]), "Maxout"),
    *[(dict(activation=name), f"activation '{name}'") for name in OTHER_ACTIVATIONS],
    (dict(activation=["relu", "gelu"]), "activation 'gelu'"),
    (dict(activation=["relu", "tanh"]), "different activations"),
    (dict(hidden_layer_sizes=(7, 7), residual=True), r"residual=True .* layer\(s\) \[1\]"),
    (dict(hidden_layer_sizes=(8, 5), residual=True), r"residual=True .* layer\(s\) \[0\]"),
], ids=lambda p: p if isinstance(p, str) else "-".join(map(str, p.values())))
def test_forward_passes_sklearn_lacks_raise(params, message, multiclass_data):
    X, y = multiclass_data  # 8 features
    fm = fit(MLPClassifier, X, y, **params)
    with pytest.raises(ValueError, match=message):
        to_sklearn(fm)


@pytest.mark.parametrize("Estimator", [MLPClassifier, MLPRegressor])
def test_unfitted_model_raises_not_fitted(Estimator):
    with pytest.raises(NotFittedError):
        to_sklearn(Estimator())
