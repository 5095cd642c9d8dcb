"""The losses fastmlp adds, through the estimators: every solver and dtype,
the loss they report against the NumPy reference, and their parameters.

The kernels' gradients for these losses (finite differences, NumPy epochs)
are checked in ``test_losses.py``.
"""

import numpy as np
import pytest
from numpy.testing import assert_allclose
from sklearn.utils._param_validation import InvalidParameterError

import naive
from fastmlp import MLPClassifier, MLPRegressor

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

CASES = [
    (MLPClassifier, "squared_error", "multiclass"),
    (MLPClassifier, "squared_error", "binary"),
    (MLPClassifier, "squared_error", "multilabel"),
    (MLPRegressor, "huber", "single"),
    (MLPRegressor, "huber", "multi"),
    (MLPRegressor, "absolute_error", "single"),
    (MLPRegressor, "absolute_error", "multi"),
]


def problem(target, rng):
    X = rng.normal(size=(90, 5))
    if target == "multiclass":
        return X, (X[:, 0] > 0).astype(int) + (X[:, 1] > 0.5)
    if target == "binary":
        return X, np.where(X[:, 0] + X[:, 2] > 0, "yes", "no")
    if target == "multilabel":
        return X, np.column_stack([X[:, 0] > 0, X[:, 1] > 0, X[:, 2] > 1]).astype(int)
    y = X[:, :2] @ [1.5, -2.0] + rng.standard_t(2, size=90)
    return X, (y if target == "single" else np.column_stack([y, -0.5 * y + X[:, 3]]))


def kernel_targets(model, y):
    if isinstance(model, MLPClassifier):
        return model._label_binarizer.transform(y).astype(float)
    return y.reshape(y.shape[0], -1)


def reference_loss(model, X, y, alpha):
    """The penalised loss the NumPy reference gives at the model's weights."""
    loss = model._loss_name()
    value, _, _ = naive.loss_and_gradient(
        X, kernel_targets(model, y), [c.astype(float) for c in model.coefs_],
        [b.astype(float) for b in model.intercepts_], model.activation,
        model.out_activation_, loss, alpha=alpha,
        huber_delta=getattr(model, "huber_delta", 1.0))
    return value


@pytest.mark.parametrize("Estimator, loss, target", CASES)
@pytest.mark.parametrize("solver", ["sgd", "adam", "lbfgs"])
def test_every_solver_minimises_the_loss(Estimator, loss, target, solver):
    X, y = problem(target, np.random.RandomState(0))
    params = dict(hidden_layer_sizes=(6,), solver=solver, loss=loss, alpha=1e-3,
                  random_state=0, max_iter=60, learning_rate_init=0.05)
    if loss == "huber":
        params["huber_delta"] = 0.7
    model = Estimator(**params).fit(X, y)
    start = Estimator(**{**params, "max_iter": 1, "solver": "sgd",
                         "learning_rate_init": 1e-12}).fit(X, y)
    assert reference_loss(model, X, y, 1e-3) < 0.8 * reference_loss(start, X, y, 1e-3)
    if solver == "lbfgs":
        # L-BFGS reports the penalised loss at its final weights.
        assert model.loss_ == pytest.approx(reference_loss(model, X, y, 1e-3), rel=1e-9)


@pytest.mark.parametrize("Estimator, loss, target", CASES)
def test_float32_trains_in_float32(Estimator, loss, target):
    X, y = problem(target, np.random.RandomState(1))
    params = dict(hidden_layer_sizes=(6,), loss=loss, random_state=0, max_iter=5)
    model32 = Estimator(**params).fit(X.astype(np.float32), y)
    model64 = Estimator(**params).fit(X, y)
    assert model32.coefs_[0].dtype == np.float32
    for a, b in zip(model32.coefs_, model64.coefs_):
        assert_allclose(a, b, rtol=1e-3, atol=1e-4)


def test_huge_huber_delta_trains_as_squared_error():
    X, y = problem("multi", np.random.RandomState(2))
    params = dict(hidden_layer_sizes=(6,), random_state=0, max_iter=5)
    huber = MLPRegressor(loss="huber", huber_delta=1e300, **params).fit(X, y)
    squared = MLPRegressor(loss="squared_error", **params).fit(X, y)
    for a, b in zip(huber.coefs_ + huber.intercepts_, squared.coefs_ + squared.intercepts_):
        np.testing.assert_array_equal(a, b)


def test_huber_is_robust_to_outliers():
    rng = np.random.RandomState(3)
    X = rng.normal(size=(400, 3))
    y = X @ [1.0, -1.0, 0.5]
    dirty = y.copy()
    dirty[::10] += 50.0
    params = dict(hidden_layer_sizes=(8,), random_state=0, max_iter=200,
                  learning_rate_init=0.01)
    errors = {}
    for loss in ("squared_error", "huber", "absolute_error"):
        model = MLPRegressor(loss=loss, **params).fit(X, dirty)
        errors[loss] = np.median(np.abs(model.predict(X) - y))
    assert errors["huber"] < 0.5 * errors["squared_error"]
    assert errors["absolute_error"] < 0.5 * errors["squared_error"]


@pytest.mark.parametrize("Estimator, params, name", [
    (MLPClassifier, dict(loss="huber"), "loss"),
    (MLPClassifier, dict(loss="poisson"), "loss"),
    (MLPRegressor, dict(loss="log_loss"), "loss"),
    (MLPRegressor, dict(huber_delta=0.0), "huber_delta"),
    (MLPRegressor, dict(huber_delta=-1.0), "huber_delta"),
])
def test_loss_parameters_are_validated(Estimator, params, name):
    X, y = problem("single", np.random.RandomState(0))
    with pytest.raises(InvalidParameterError, match=name):
        Estimator(**params).fit(X, (y > 0).astype(int))


def test_warm_start_follows_a_changed_loss():
    X, y = problem("single", np.random.RandomState(4))
    model = MLPRegressor(hidden_layer_sizes=(5,), random_state=0, max_iter=3,
                         warm_start=True).fit(X, y)
    model.set_params(loss="absolute_error").fit(X, y)
    assert model._trainer.loss == "absolute_error"
    # The epoch's reported loss is now a mean absolute error, not half a square.
    residual = np.abs(y - model.predict(X))
    assert model.loss_curve_[-1] == pytest.approx(residual.mean(), rel=0.2)
