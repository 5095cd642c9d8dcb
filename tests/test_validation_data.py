"""Class weights, a validation set of one's own, the validation loss curve and
``scoring``: the training controls scikit-learn's MLP lacks, through the
estimators.

The loss kernels are checked in ``test_losses.py``; here: the equalities the
parameters promise (class weights as sample weights, the validation loss as
the training loss's formula, the score as the scorer's), and scikit-learn's
conventions for their errors.
"""

import warnings

import numpy as np
import pytest
import scipy.sparse
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.datasets import make_classification, make_multilabel_classification
from sklearn.metrics import balanced_accuracy_score, get_scorer, log_loss, r2_score
from sklearn.utils._param_validation import InvalidParameterError
from sklearn.utils.class_weight import compute_sample_weight

from fastmlp import MLPClassifier, MLPRegressor

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


@pytest.fixture(scope="module")
def imbalanced():
    X, y = make_classification(n_samples=300, n_features=8, n_informative=5, n_classes=3,
                               weights=[0.7, 0.2, 0.1], random_state=0)
    return X, y


@pytest.fixture(scope="module")
def regression():
    rng = np.random.RandomState(0)
    X = rng.normal(size=(240, 5))
    y = X @ rng.normal(size=5) + 0.1 * rng.normal(size=240)
    return X, y


def small(Estimator, **params):
    return Estimator(**{"hidden_layer_sizes": (7,), "max_iter": 6, "random_state": 0,
                        **params})


def same_weights(a, b):
    return all(np.array_equal(p, q) for p, q in zip(a.coefs_ + a.intercepts_,
                                                    b.coefs_ + b.intercepts_))


# ------------------------------------------------------------------ class_weight


@pytest.mark.parametrize("solver", ["adam", "sgd", "lbfgs"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("early_stopping", [False, True])
def test_balanced_equals_equivalent_sample_weight(imbalanced, solver, dtype, early_stopping):
    X, y = imbalanced
    X = X.astype(dtype)
    params = dict(solver=solver, early_stopping=early_stopping)
    balanced = small(MLPClassifier, class_weight="balanced", **params).fit(X, y)
    weighted = small(MLPClassifier, **params).fit(
        X, y, sample_weight=compute_sample_weight("balanced", y))
    assert same_weights(balanced, weighted)
    assert balanced.loss_curve_ == weighted.loss_curve_ if solver != "lbfgs" else True
    unweighted = small(MLPClassifier, **params).fit(X, y)
    assert not same_weights(balanced, unweighted)


def test_class_weight_multiplies_sample_weight(imbalanced):
    X, y = imbalanced
    sample_weight = np.random.RandomState(1).uniform(0.5, 2.0, size=y.shape[0])
    class_weight = {0: 0.5, 1: 2.0, 2: 3.0}
    both = small(MLPClassifier, class_weight=class_weight).fit(X, y, sample_weight=sample_weight)
    product = small(MLPClassifier).fit(
        X, y, sample_weight=sample_weight * compute_sample_weight(class_weight, y))
    assert same_weights(both, product)


def test_multilabel_class_weight_is_per_column_product():
    X, Y = make_multilabel_classification(n_samples=120, n_features=6, n_classes=3,
                                          random_state=0)
    for class_weight in ["balanced", [{0: 1.0, 1: 2.0}, {0: 1.0, 1: 0.5}, {0: 3.0, 1: 1.0}]]:
        model = small(MLPClassifier, class_weight=class_weight).fit(X, Y)
        expected = small(MLPClassifier).fit(
            X, Y, sample_weight=compute_sample_weight(class_weight, Y))
        assert same_weights(model, expected)
    with pytest.raises(ValueError, match="number of outputs"):
        small(MLPClassifier, class_weight=[{0: 1.0, 1: 2.0}]).fit(X, Y)


def test_partial_fit_takes_a_dict_and_refuses_balanced(imbalanced):
    X, y = imbalanced
    class_weight = {0: 1.0, 1: 3.0, 2: 5.0}
    model = small(MLPClassifier, class_weight=class_weight)
    expected = small(MLPClassifier)
    for start in range(0, 300, 100):
        rows = slice(start, start + 100)
        model.partial_fit(X[rows], y[rows], classes=[0, 1, 2])
        expected.partial_fit(X[rows], y[rows], classes=[0, 1, 2],
                             sample_weight=compute_sample_weight(class_weight, y[rows]))
    assert same_weights(model, expected)
    with pytest.raises(ValueError, match="balanced' is not supported for partial_fit"):
        small(MLPClassifier, class_weight="balanced").partial_fit(X, y, classes=[0, 1, 2])


def test_class_weight_is_validated(imbalanced):
    X, y = imbalanced
    with pytest.raises(InvalidParameterError, match="class_weight"):
        small(MLPClassifier, class_weight="uniform").fit(X, y)


def test_balanced_weights_reach_the_validation_score(imbalanced):
    """The held-out rows keep their (class) weights in the validation score."""
    X, y = imbalanced
    model = small(MLPClassifier, class_weight="balanced", solver="sgd").fit(
        X[:200], y[:200], X_val=X[200:], y_val=y[200:])
    weights = compute_sample_weight("balanced", y[:200])
    # Validation rows weigh as training rows of their class would.
    by_class = {c: weights[y[:200] == c][0] for c in range(3)}
    val_weights = np.array([by_class[c] for c in y[200:]])
    proba = model.predict_proba(X[200:])
    assert model.validation_scores_[-1] == pytest.approx(
        np.average(model.predict(X[200:]) == y[200:], weights=val_weights))
    assert model.validation_loss_curve_[-1] == pytest.approx(
        log_loss(y[200:], proba, sample_weight=val_weights), rel=1e-10)


# ------------------------------------------------------------------ X_val / y_val


@pytest.mark.parametrize("solver", ["adam", "sgd"])
def test_given_validation_set_replaces_the_split(imbalanced, solver):
    X, y = imbalanced
    model = small(MLPClassifier, solver=solver, early_stopping=True,
                  n_iter_no_change=2, max_iter=30).fit(
        X[:200], y[:200], X_val=X[200:], y_val=y[200:])
    # Every training row is trained on: no share is held out.
    assert model.t_ == 200 * model.n_iter_
    assert len(model.validation_scores_) == model.n_iter_
    assert len(model.validation_loss_curve_) == model.n_iter_
    # The best epoch's weights are restored, and score as recorded.
    assert model.best_validation_score_ == max(model.validation_scores_)
    assert model.score(X[200:], y[200:]) == pytest.approx(model.best_validation_score_)
    assert model.best_loss_ is None


def test_validation_set_without_early_stopping_is_monitored(imbalanced):
    X, y = imbalanced
    plain = small(MLPClassifier).fit(X[:200], y[:200])
    monitored = small(MLPClassifier).fit(X[:200], y[:200], X_val=X[200:], y_val=y[200:])
    # Monitoring changes nothing in training.
    assert same_weights(plain, monitored)
    assert plain.validation_loss_curve_ is None and plain.validation_scores_ is None
    assert len(monitored.validation_loss_curve_) == monitored.n_iter_
    assert monitored.validation_loss_curve_[-1] == pytest.approx(
        log_loss(y[200:], monitored.predict_proba(X[200:])), rel=1e-10)
    assert monitored.validation_scores_[-1] == monitored.score(X[200:], y[200:])
    assert monitored.best_validation_score_ is None


def test_split_validation_loss_curve(imbalanced):
    X, y = imbalanced
    model = small(MLPClassifier, early_stopping=True, max_iter=5).fit(X, y)
    assert len(model.validation_loss_curve_) == len(model.validation_scores_) == 5
    assert all(isinstance(v, np.float64) for v in model.validation_loss_curve_)


@pytest.mark.parametrize("loss", ["squared_error", "poisson", "huber", "absolute_error"])
def test_regressor_validation_loss_is_the_training_formula(regression, loss):
    X, y = regression
    if loss == "poisson":
        y = np.exp(y / 4)
    model = small(MLPRegressor, loss=loss, huber_delta=0.5).fit(
        X[:180], y[:180], X_val=X[180:], y_val=y[180:])
    p, t = model.predict(X[180:]), y[180:]
    r = t - p
    expected = {
        "squared_error": lambda: 0.5 * np.mean(r**2),
        "poisson": lambda: np.mean(t * np.log(t / p) - t + p),
        "huber": lambda: np.mean(np.where(np.abs(r) <= 0.5, 0.5 * r**2,
                                          0.5 * (np.abs(r) - 0.25))),
        "absolute_error": lambda: np.mean(np.abs(r)),
    }[loss]()
    assert model.validation_loss_curve_[-1] == pytest.approx(expected, rel=1e-10)
    assert model.validation_scores_[-1] == pytest.approx(r2_score(t, p))


def test_lbfgs_records_validation_loss_per_iteration(regression):
    X, y = regression
    model = small(MLPRegressor, solver="lbfgs", max_iter=15).fit(
        X[:180], y[:180], X_val=X[180:], y_val=y[180:])
    assert len(model.validation_loss_curve_) == model.n_iter_ == 15
    assert model.validation_loss_curve_[-1] == pytest.approx(
        0.5 * np.mean((y[180:] - model.predict(X[180:])) ** 2), rel=1e-10)
    plain = small(MLPRegressor, solver="lbfgs", max_iter=15).fit(X[:180], y[:180])
    assert same_weights(model, plain)


def test_validation_data_in_other_forms(imbalanced):
    pd = pytest.importorskip("pandas")
    X, y = imbalanced
    frame = pd.DataFrame(X, columns=[f"f{i}" for i in range(X.shape[1])])
    with warnings.catch_warnings():
        warnings.filterwarnings("error", message=".*feature names")
        model = small(MLPClassifier, early_stopping=True, scoring="f1_macro").fit(
            frame[:200], y[:200], X_val=frame[200:], y_val=y[200:])
    sparse = small(MLPClassifier).fit(scipy.sparse.csr_matrix(X[:200]), y[:200],
                                      X_val=scipy.sparse.csr_matrix(X[200:]), y_val=y[200:])
    dense = small(MLPClassifier).fit(X[:200], y[:200], X_val=X[200:], y_val=y[200:])
    assert_allclose(sparse.validation_loss_curve_, dense.validation_loss_curve_, rtol=1e-12)
    assert len(model.validation_scores_) == model.n_iter_


def test_validation_sample_weight(regression):
    X, y = regression
    weights = np.linspace(0.1, 2.0, 60)
    model = small(MLPRegressor).fit(X[:180], y[:180], X_val=X[180:], y_val=y[180:],
                                    sample_weight_val=weights)
    p = model.predict(X[180:])
    assert model.validation_loss_curve_[-1] == pytest.approx(
        0.5 * np.average((y[180:] - p) ** 2, weights=weights), rel=1e-10)
    assert model.validation_scores_[-1] == pytest.approx(
        r2_score(y[180:], p, sample_weight=weights))


@pytest.mark.parametrize("kwargs, message", [
    (dict(X_val="X"), "X_val is provided, but y_val was not provided"),
    (dict(y_val="y"), "y_val is provided, but X_val was not provided"),
    (dict(sample_weight_val="w"), "sample_weight_val is provided, but X_val and y_val"),
])
def test_validation_arguments_come_together(imbalanced, kwargs, message):
    X, y = imbalanced
    values = {"X": X[:10], "y": y[:10], "w": np.ones(10)}
    kwargs = {k: values[v] for k, v in kwargs.items()}
    with pytest.raises(ValueError, match=message):
        small(MLPClassifier).fit(X, y, **kwargs)


def test_bad_validation_data_raises_and_keeps_the_model(imbalanced, regression):
    X, y = imbalanced
    model = small(MLPClassifier).fit(X, y)
    coefs = [c.copy() for c in model.coefs_]
    with pytest.raises(ValueError, match="features"):
        model.fit(X, y, X_val=X[:, :3], y_val=y)
    with pytest.raises(ValueError, match="classes not in"):
        model.fit(X, y, X_val=X[:5], y_val=[0, 1, 2, 7, 0])
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        model.fit(X, y, X_val=X[:5], y_val=y[:4])
    with pytest.raises(ValueError, match="NaN"):
        model.fit(X, y, X_val=np.full((3, 8), np.nan), y_val=y[:3])
    assert all(np.array_equal(a, b) for a, b in zip(coefs, model.coefs_))
    Xr, yr = regression
    with pytest.raises(ValueError, match="y_val has 2 outputs"):
        small(MLPRegressor).fit(Xr, yr, X_val=Xr[:4], y_val=np.ones((4, 2)))


# ------------------------------------------------------------------ scoring


def test_scoring_loss_stops_on_the_validation_loss(imbalanced):
    X, y = imbalanced
    model = small(MLPClassifier, early_stopping=True, scoring="loss").fit(X, y)
    assert_array_equal(model.validation_scores_, -np.array(model.validation_loss_curve_))
    assert model.best_validation_score_ == -min(model.validation_loss_curve_)


@pytest.mark.parametrize("scoring", ["balanced_accuracy", balanced_accuracy_score])
def test_scorer_names_and_callables(imbalanced, scoring):
    X, y = imbalanced
    if callable(scoring) and not hasattr(scoring, "_score_func"):
        def scoring(estimator, X, y, sample_weight=None):  # noqa: F811
            return balanced_accuracy_score(y, estimator.predict(X))
    model = small(MLPClassifier, scoring=scoring).fit(
        X[:200], y[:200], X_val=X[200:], y_val=y[200:])
    assert model.validation_scores_[-1] == pytest.approx(
        get_scorer("balanced_accuracy")(model, X[200:], y[200:]))


def test_unknown_scorer_fails_before_training(imbalanced):
    X, y = imbalanced
    model = small(MLPClassifier, early_stopping=True, scoring="no-such-score")
    with pytest.raises(ValueError, match="no-such-score"):
        model.fit(X, y)
    assert not hasattr(model, "coefs_")
    with pytest.raises(InvalidParameterError, match="scoring"):
        small(MLPClassifier, scoring=3).fit(X, y)
