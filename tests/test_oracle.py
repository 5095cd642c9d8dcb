"""Parity with :class:`sklearn.neural_network.MLPClassifier`, epoch for epoch.

fastmlp draws from the random state exactly as scikit-learn does and follows
the same update rules, so in float64 both estimators fitted with the same
parameters must end with the same weights (to ``rtol=1e-6``, no absolute
tolerance), the same loss curve and the same bookkeeping attributes: after a
few epochs of adam and sgd (with and without Nesterov's momentum) for every
activation, and through each code path of the fit loop (schedules, early
termination, warm starts, partial fits, early stopping, sample weights).
"""

import warnings

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.exceptions import ConvergenceWarning
from sklearn.neural_network import MLPClassifier as SkMLPClassifier

from parity import assert_same_losses, assert_same_weights, fit_pair
from fastmlp import MLPClassifier

RTOL = 1e-6

SOLVERS = {
    "adam": dict(solver="adam", learning_rate_init=0.01),
    "sgd-nesterov": dict(solver="sgd", learning_rate_init=0.1, nesterovs_momentum=True),
    "sgd-momentum": dict(solver="sgd", learning_rate_init=0.1, nesterovs_momentum=False),
}
ACTIVATIONS = ["identity", "logistic", "tanh", "relu"]


def make_pair(**params):
    return SkMLPClassifier(**params), MLPClassifier(**params)


def fit_both(X, y, sample_weight=None, **params):
    return fit_pair(SkMLPClassifier, MLPClassifier, X, y, sample_weight, **params)


def assert_same_fit(sk, fm):
    """Weights, loss curve and every fitted attribute agree."""
    assert_same_weights(sk, fm)
    for name in ["n_iter_", "t_", "n_layers_", "n_outputs_", "out_activation_",
                 "n_features_in_"]:
        assert getattr(fm, name) == getattr(sk, name), name
    assert_array_equal(fm.classes_, sk.classes_)
    assert_same_losses(sk, fm)
    # Validation scores are accuracies of identical predictions: exact.
    assert fm.validation_scores_ == sk.validation_scores_
    assert fm.best_validation_score_ == sk.best_validation_score_


@pytest.mark.parametrize("solver", SOLVERS)
@pytest.mark.parametrize("activation", ACTIVATIONS)
@pytest.mark.parametrize("hidden_layer_sizes", [(7,), (6, 5)], ids=["1layer", "2layers"])
def test_three_epochs_match(classification_data, solver, activation, hidden_layer_sizes):
    X, y = classification_data
    sk, fm = fit_both(
        X, y, hidden_layer_sizes=hidden_layer_sizes, activation=activation,
        batch_size=32, max_iter=3, random_state=0, **SOLVERS[solver],
    )
    assert fm.n_iter_ == 3
    assert_same_fit(sk, fm)


@pytest.mark.parametrize("solver", ["adam", "sgd-nesterov"])
def test_parallel_epoch_matches(multiclass_data, numba_threads, solver):
    """A network large enough for the kernels to split batches and updates."""
    X, y = multiclass_data
    hidden_layer_sizes, batch_size = (256, 256), 64
    sk, fm = fit_both(X, y, hidden_layer_sizes=hidden_layer_sizes, batch_size=batch_size,
                      max_iter=2, random_state=0, **SOLVERS[solver])
    assert_same_fit(sk, fm)
    if numba_threads > 1:
        # Guards this test's purpose: both parallel phases really ran.
        n_row_blocks, n_param_chunks = fm._trainer.parallel_split(batch_size,
                                                                  numba_threads)
        assert n_row_blocks > 1 and n_param_chunks > 1


@pytest.mark.filterwarnings("ignore:Got `batch_size`:UserWarning")
@pytest.mark.parametrize("solver", SOLVERS)
@pytest.mark.parametrize(
    "params",
    [
        dict(shuffle=False),
        dict(batch_size=1),
        dict(batch_size=50),  # 120 rows: batches of 50, 50, 20
        dict(batch_size=500),  # clipped to the sample count, with a warning
        dict(batch_size="auto"),
        dict(alpha=0.0),
        dict(alpha=0.5),
        dict(momentum=0.0),
        dict(hidden_layer_sizes=4),
        dict(hidden_layer_sizes=()),  # no hidden layer
    ],
    ids=lambda p: "-".join(f"{k}={v}" for k, v in p.items()),
)
def test_fit_options_match(multiclass_data, solver, params):
    X, y = multiclass_data
    params = {"batch_size": 16, "hidden_layer_sizes": (5,), **params}
    sk, fm = fit_both(X, y, max_iter=3, random_state=1, **SOLVERS[solver], **params)
    assert_same_fit(sk, fm)


def test_random_state_instance_matches(multiclass_data):
    X, y = multiclass_data
    sk = SkMLPClassifier(hidden_layer_sizes=(5,), max_iter=3,
                         random_state=np.random.RandomState(3))
    fm = MLPClassifier(hidden_layer_sizes=(5,), max_iter=3,
                       random_state=np.random.RandomState(3))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        sk.fit(X, y)
        fm.fit(X, y)
        assert_same_fit(sk, fm)
        # A second fit continues drawing from the same generator.
        sk.fit(X, y)
        fm.fit(X, y)
    assert_same_fit(sk, fm)


def test_multilabel_targets_match(multiclass_data):
    X, y = multiclass_data
    Y = np.column_stack([y == 0, y != 1, X[:, 0] > 0]).astype(int)
    sk, fm = fit_both(X, Y, hidden_layer_sizes=(6,), max_iter=3, batch_size=20,
                      random_state=0, **SOLVERS["adam"])
    assert fm.out_activation_ == "logistic" and fm.n_outputs_ == 3
    assert_same_fit(sk, fm)


def test_invscaling_schedule_matches(binary_data):
    X, y = binary_data
    sk, fm = fit_both(X, y, solver="sgd", learning_rate="invscaling", power_t=0.3,
                      learning_rate_init=0.5, hidden_layer_sizes=(6,), batch_size=25,
                      max_iter=4, random_state=0)
    assert_same_fit(sk, fm)
    assert fm._optimizer.learning_rate == pytest.approx(sk._optimizer.learning_rate)
    assert fm._optimizer.learning_rate < 0.5


@pytest.mark.parametrize("early_stopping", [False, True])
def test_adaptive_schedule_drops_rate_like_sklearn(multiclass_data, early_stopping):
    X, y = multiclass_data
    sk, fm = fit_both(X, y, solver="sgd", learning_rate="adaptive", learning_rate_init=0.2,
                      tol=0.05, n_iter_no_change=2, max_iter=25, hidden_layer_sizes=(6,),
                      batch_size=20, early_stopping=early_stopping, random_state=0)
    # The schedule was exercised: the rate dropped in both.
    assert sk._optimizer.learning_rate < 0.2
    assert fm._optimizer.learning_rate < 0.2
    assert fm._optimizer.learning_rate == pytest.approx(sk._optimizer.learning_rate)
    assert_same_fit(sk, fm)


@pytest.mark.parametrize("solver", SOLVERS)
@pytest.mark.parametrize("early_stopping", [False, True])
def test_no_improvement_stops_at_same_epoch(classification_data, solver, early_stopping):
    X, y = classification_data
    max_iter = 200
    sk, fm = fit_both(X, y, tol=1e-2, n_iter_no_change=3, max_iter=max_iter,
                      hidden_layer_sizes=(6,), batch_size=40, early_stopping=early_stopping,
                      random_state=0, **SOLVERS[solver])
    assert sk.n_iter_ < max_iter, "the stopping rule was not exercised"
    assert_same_fit(sk, fm)


@pytest.mark.parametrize("solver", SOLVERS)
def test_warm_start_second_fit_matches(classification_data, solver):
    X, y = classification_data
    sk, fm = make_pair(warm_start=True, hidden_layer_sizes=(6,), max_iter=3, batch_size=30,
                       random_state=0, **SOLVERS[solver])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        for est in (sk, fm):
            est.fit(X, y)
        assert_same_fit(sk, fm)
        for est in (sk, fm):
            est.set_params(max_iter=2, learning_rate_init=0.5 * est.learning_rate_init)
            est.fit(X[::-1], y[::-1])
    assert fm.t_ == 5 * X.shape[0] and fm.n_iter_ == 2
    assert_same_fit(sk, fm)


def test_refit_without_warm_start_starts_over(multiclass_data):
    X, y = multiclass_data
    fm = MLPClassifier(hidden_layer_sizes=(5,), max_iter=3, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        first = [c.copy() for c in fm.fit(X, y).coefs_]
        second = fm.fit(X, y).coefs_
    for a, b in zip(first, second):
        assert_array_equal(a, b)
    assert fm.t_ == 3 * X.shape[0]


@pytest.mark.parametrize("solver", SOLVERS)
@pytest.mark.parametrize("weighted", [False, True])
def test_partial_fit_sequence_matches(multiclass_data, solver, weighted):
    X, y = multiclass_data
    rng = np.random.RandomState(0)
    sample_weight = rng.uniform(0.5, 2.0, X.shape[0]) if weighted else None
    # The first chunk lacks class 2; chunks have uneven sizes.
    order = np.concatenate([np.flatnonzero(y != 2)[:30], np.flatnonzero(y == 2),
                            np.flatnonzero(y != 2)[30:]])
    chunks = np.array_split(order, [30, 75, 100])
    sk, fm = make_pair(hidden_layer_sizes=(6, 4), batch_size=16, random_state=0,
                       **SOLVERS[solver])
    for i, rows in enumerate(chunks):
        kwargs = {"classes": np.unique(y)} if i == 0 else {}
        w = None if sample_weight is None else sample_weight[rows]
        for est in (sk, fm):
            est.partial_fit(X[rows], y[rows], sample_weight=w, **kwargs)
        assert_same_fit(sk, fm)
    assert fm.n_iter_ == 1 and fm.t_ == X.shape[0]


def test_partial_fit_after_fit_matches(binary_data):
    X, y = binary_data
    sk, fm = make_pair(hidden_layer_sizes=(6,), max_iter=2, batch_size=25, random_state=0,
                       **SOLVERS["sgd-nesterov"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        for est in (sk, fm):
            est.fit(X, y)
            est.partial_fit(X[:50], y[:50])
            est.partial_fit(X[50:], y[50:])
    assert_same_fit(sk, fm)


@pytest.mark.parametrize("solver", SOLVERS)
@pytest.mark.parametrize("weighted", [False, True])
def test_early_stopping_restores_best_weights_like_sklearn(classification_data, solver,
                                                          weighted):
    X, y = classification_data
    sample_weight = None
    if weighted:
        sample_weight = np.random.RandomState(0).uniform(0.2, 3.0, X.shape[0])
    sk, fm = fit_both(X, y, sample_weight=sample_weight, early_stopping=True,
                      validation_fraction=0.25, n_iter_no_change=4, tol=1e-3, max_iter=60,
                      hidden_layer_sizes=(6,), batch_size=20, random_state=0,
                      **SOLVERS[solver])
    best_epoch = int(np.argmax(sk.validation_scores_)) + 1
    # Restoring was exercised: the returned weights are not the last epoch's.
    assert best_epoch < sk.n_iter_
    assert fm.best_loss_ is None
    assert fm.best_validation_score_ == max(fm.validation_scores_)
    assert_same_fit(sk, fm)
    # The restored weights are the ones predictions use.
    assert_array_equal(fm.predict(X), sk.predict(X))


@pytest.mark.parametrize("solver", SOLVERS)
@pytest.mark.parametrize("activation", ["logistic", "relu"])
def test_sample_weight_matches(classification_data, solver, activation):
    X, y = classification_data
    rng = np.random.RandomState(0)
    sample_weight = rng.uniform(0.1, 3.0, X.shape[0])
    sample_weight[::7] = 0.0
    sk, fm = fit_both(X, y, sample_weight=sample_weight, activation=activation,
                      hidden_layer_sizes=(6,), max_iter=3, batch_size=24, alpha=0.01,
                      random_state=0, **SOLVERS[solver])
    assert_same_fit(sk, fm)
    unweighted = MLPClassifier(activation=activation, hidden_layer_sizes=(6,), max_iter=3,
                               batch_size=24, alpha=0.01, random_state=0, **SOLVERS[solver])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        unweighted.fit(X, y)
    # The weights changed the fit.
    assert not np.allclose(unweighted.coefs_[0], fm.coefs_[0], rtol=1e-3)


def test_integer_sample_weight_equals_repeated_rows(multiclass_data):
    """With whole batches and no shuffling, weight 2 is the same as a repeated row."""
    X, y = multiclass_data
    sample_weight = np.where(np.arange(X.shape[0]) % 3 == 0, 2, 1)
    params = dict(hidden_layer_sizes=(5,), max_iter=4, shuffle=False, random_state=0,
                  **SOLVERS["adam"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        weighted = MLPClassifier(batch_size=X.shape[0], **params).fit(
            X, y, sample_weight=sample_weight)
        n_repeated = int(sample_weight.sum())
        repeated = MLPClassifier(batch_size=n_repeated, **params).fit(
            np.repeat(X, sample_weight, axis=0), np.repeat(y, sample_weight))
    # Sums over rows run in a different order, hence the tiny absolute tolerance.
    for a, b in zip(weighted.coefs_ + weighted.intercepts_,
                    repeated.coefs_ + repeated.intercepts_):
        assert_allclose(a, b, rtol=1e-9, atol=1e-12)
