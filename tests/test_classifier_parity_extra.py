"""Parity with :class:`sklearn.neural_network.MLPClassifier` beyond ``test_oracle.py``.

``test_oracle.py`` compares the stochastic solvers epoch by epoch on binary and
multiclass targets. This file covers the rest: L-BFGS (final ``loss_`` to
``rtol=1e-6`` and the same ``n_iter_`` and warnings), multilabel indicator
targets (logistic outputs) with every solver, sample weights with early
stopping, ``partial_fit`` after ``fit`` and with sample weights, and the errors
``partial_fit`` raises, which must match scikit-learn's type and message.

As in ``test_regressor_oracle.py``, the L-BFGS runs compared to convergence are
ones where scikit-learn itself stops at the same iteration when ``X`` is
perturbed by 1e-15 relative; on the others, L-BFGS turns rounding differences
into different iterates, in scikit-learn against itself as well.
"""

import warnings

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.exceptions import ConvergenceWarning
from sklearn.neural_network import MLPClassifier as SkMLPClassifier

import naive
from parity import assert_same_losses, assert_same_weights, fit_pair, weights_for
from fastmlp import MLPClassifier

RTOL = 1e-6

SOLVERS = {
    "adam": dict(solver="adam", learning_rate_init=0.01),
    "sgd-nesterov": dict(solver="sgd", learning_rate_init=0.1, nesterovs_momentum=True),
    "sgd-momentum": dict(solver="sgd", learning_rate_init=0.1, nesterovs_momentum=False),
    "sgd-invscaling": dict(solver="sgd", learning_rate="invscaling", power_t=0.3,
                           learning_rate_init=0.3),
}


def make_pair(**params):
    return SkMLPClassifier(**params), MLPClassifier(**params)


def fit_both(X, y, sample_weight=None, **params):
    return fit_pair(SkMLPClassifier, MLPClassifier, X, y, sample_weight, **params)


def assert_same_attributes(sk, fm):
    for name in ["n_iter_", "t_", "n_layers_", "n_outputs_", "out_activation_",
                 "n_features_in_"]:
        assert getattr(fm, name) == getattr(sk, name), name
    assert_array_equal(fm.classes_, sk.classes_)


def assert_same_fit(sk, fm):
    """Weights, loss curve and every fitted attribute agree (stochastic solvers)."""
    assert_same_weights(sk, fm)
    assert_same_attributes(sk, fm)
    assert_same_losses(sk, fm)
    # Validation scores are accuracies of identical predictions: exact.
    assert fm.validation_scores_ == sk.validation_scores_
    assert fm.best_validation_score_ == sk.best_validation_score_


def assert_same_predictions(sk, fm, X):
    assert_array_equal(fm.predict(X), sk.predict(X))
    assert_allclose(fm.predict_proba(X), sk.predict_proba(X), rtol=RTOL, atol=1e-12)


# ------------------------------------------------------------------------ L-BFGS
#
# The L-BFGS comparisons run the kernels on one thread (the ``numba_threads``
# fixture narrowed to its first value): on a busy machine, waking the threads
# for each of the hundreds of full-batch evaluations costs far more than these
# small problems. ``test_lbfgs_parallel_matches`` splits rows over every thread.

one_thread = pytest.mark.parametrize("numba_threads", [1], indirect=True, ids=["1thread"])


def fit_lbfgs_both(X, y, sample_weight=None, **params):
    """Fit both; return them and the warnings each raised."""
    sk, fm = make_pair(solver="lbfgs", **params)
    caught = []
    for est in (sk, fm):
        with warnings.catch_warnings(record=True) as record:
            warnings.simplefilter("always")
            est.fit(X, y, sample_weight=sample_weight)
        caught.append([(w.category, str(w.message)) for w in record])
    return sk, fm, caught


def assert_loss_is_penalised_loss_at_weights(fm, X, y, sample_weight=None):
    """``loss_`` is the objective at the returned weights (NumPy reference)."""
    Y = fm._label_binarizer.transform(y).astype(np.float64)
    loss = "binary_log_loss" if fm.out_activation_ == "logistic" else "log_loss"
    value, _, _ = naive.loss_and_gradient(
        X, Y, fm.coefs_, fm.intercepts_, fm.activation, fm.out_activation_, loss,
        alpha=fm.alpha, sample_weight=sample_weight)
    assert_allclose(fm.loss_, value, rtol=1e-10)


# (data, activation, weighted, alpha): each converges before max_iter, at the
# same iteration and within 1e-9 of the loss, in scikit-learn under three
# 1e-15 relative perturbations of X.
LBFGS_CONVERGED = [
    (data, activation, weighted, 1e-4)
    for data in ["binary", "multiclass"]
    for activation in ["relu", "tanh", "logistic"]
    for weighted in [False, True]
] + [
    ("multilabel", "relu", False, 1e-4),
    ("multilabel", "relu", True, 1e-4),
    ("multilabel", "tanh", True, 1e-4),
    ("multilabel", "logistic", True, 1e-4),
    ("multilabel", "identity", False, 1e-4),
    ("multilabel", "tanh", False, 1.0),
    ("multilabel", "logistic", False, 1.0),
]


@one_thread
@pytest.mark.parametrize(
    "any_classification_data, activation, weighted, alpha", LBFGS_CONVERGED,
    indirect=["any_classification_data"],
    ids=["-".join(map(str, case)) for case in LBFGS_CONVERGED],
)
def test_lbfgs_converged_matches(any_classification_data, activation, weighted, alpha,
                                 numba_threads):
    X, y = any_classification_data
    sample_weight = weights_for(X, seed=4) if weighted else None
    max_iter = 300
    sk, fm, (sk_warnings, fm_warnings) = fit_lbfgs_both(
        X, y, sample_weight=sample_weight, activation=activation, alpha=alpha,
        hidden_layer_sizes=(5,), max_iter=max_iter, random_state=0)
    assert sk.n_iter_ < max_iter, "the convergence test was not exercised"
    assert fm.n_iter_ == sk.n_iter_
    assert type(fm.loss_) is type(sk.loss_)
    assert_allclose(fm.loss_, sk.loss_, rtol=RTOL, atol=0)
    assert fm_warnings == sk_warnings == []  # converged: no warning
    assert_same_attributes(sk, fm)
    assert not hasattr(fm, "loss_curve_") and not hasattr(sk, "loss_curve_")
    assert_array_equal(fm.predict(X), sk.predict(X))
    assert_loss_is_penalised_loss_at_weights(fm, X, y, sample_weight)


@one_thread
@pytest.mark.parametrize("activation", ["relu", "logistic"])
@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
def test_lbfgs_stopped_at_max_iter_matches(any_classification_data, activation, weighted,
                                           numba_threads):
    X, y = any_classification_data
    sample_weight = weights_for(X, seed=4) if weighted else None
    sk, fm, (sk_warnings, fm_warnings) = fit_lbfgs_both(
        X, y, sample_weight=sample_weight, activation=activation,
        hidden_layer_sizes=(6, 4), max_iter=8, random_state=0)
    assert fm.n_iter_ == sk.n_iter_ == 8
    assert type(fm.loss_) is type(sk.loss_)
    assert_allclose(fm.loss_, sk.loss_, rtol=RTOL, atol=0)
    assert_same_weights(sk, fm)
    assert_same_attributes(sk, fm)
    assert_same_predictions(sk, fm, X)
    # The same ConvergenceWarning, word for word.
    assert fm_warnings == sk_warnings
    assert [c for c, _ in fm_warnings] == [ConvergenceWarning]
    assert_loss_is_penalised_loss_at_weights(fm, X, y, sample_weight)


@one_thread
def test_lbfgs_string_labels_match(string_label_data, numba_threads):
    X, y = string_label_data
    sk, fm, _ = fit_lbfgs_both(X, y, hidden_layer_sizes=(5,), max_iter=300, random_state=0)
    assert fm.n_iter_ == sk.n_iter_ < 300
    assert type(fm.loss_) is type(sk.loss_)
    assert_allclose(fm.loss_, sk.loss_, rtol=RTOL, atol=0)
    assert_array_equal(fm.predict(X), sk.predict(X))
    assert fm.predict(X).dtype == sk.predict(X).dtype


@one_thread
@pytest.mark.parametrize("max_fun", [1, 6])
def test_lbfgs_max_fun_matches(multiclass_data, max_fun, numba_threads):
    X, y = multiclass_data
    sk, fm, (sk_warnings, fm_warnings) = fit_lbfgs_both(
        X, y, max_fun=max_fun, hidden_layer_sizes=(5,), max_iter=100, random_state=0)
    assert fm.n_iter_ == sk.n_iter_ < 100
    assert type(fm.loss_) is type(sk.loss_)
    assert_allclose(fm.loss_, sk.loss_, rtol=RTOL, atol=0)
    assert_same_weights(sk, fm)
    assert fm_warnings == sk_warnings
    assert [c for c, _ in fm_warnings] == [ConvergenceWarning]


@one_thread
def test_lbfgs_warm_start_matches(any_classification_data, numba_threads):
    X, y = any_classification_data
    sk, fm = make_pair(solver="lbfgs", warm_start=True, hidden_layer_sizes=(5,), max_iter=5,
                       random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        for est in (sk, fm):
            est.fit(X, y)
        assert type(fm.loss_) is type(sk.loss_)
        assert_allclose(fm.loss_, sk.loss_, rtol=RTOL, atol=0)
        for est in (sk, fm):
            est.fit(X[::-1], y[::-1], sample_weight=weights_for(X))
    assert fm.n_iter_ == sk.n_iter_ == 5
    assert type(fm.loss_) is type(sk.loss_)
    assert_allclose(fm.loss_, sk.loss_, rtol=RTOL, atol=0)
    assert_same_weights(sk, fm)


def test_lbfgs_parallel_matches(multiclass_data, numba_threads):
    """Rows split over every thread; partial gradients summed in block order."""
    X, y = multiclass_data
    sk, fm, _ = fit_lbfgs_both(X, y, hidden_layer_sizes=(64,), max_iter=10,
                               random_state=0)
    assert fm.n_iter_ == sk.n_iter_ == 10
    assert type(fm.loss_) is type(sk.loss_)
    assert_allclose(fm.loss_, sk.loss_, rtol=RTOL, atol=0)
    assert_same_weights(sk, fm)


# ------------------------------------------------------------------- multilabel


@pytest.mark.parametrize("solver", SOLVERS)
@pytest.mark.parametrize("activation", ["relu", "logistic"])
@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
def test_multilabel_three_epochs_match(multilabel_data, solver, activation, weighted):
    X, Y = multilabel_data
    sample_weight = weights_for(X, seed=5) if weighted else None
    sk, fm = fit_both(X, Y, sample_weight=sample_weight, activation=activation,
                      hidden_layer_sizes=(7, 5), batch_size=24, max_iter=3, alpha=0.01,
                      random_state=0, **SOLVERS[solver])
    assert fm.out_activation_ == "logistic" and fm.n_outputs_ == Y.shape[1]
    assert_same_fit(sk, fm)
    assert_same_predictions(sk, fm, X)


@pytest.mark.parametrize("solver", ["adam", "sgd-nesterov"])
@pytest.mark.parametrize("early_stopping", [False, True])
def test_multilabel_no_improvement_stops_at_same_epoch(multilabel_data, solver,
                                                       early_stopping):
    X, Y = multilabel_data
    max_iter = 200
    sk, fm = fit_both(X, Y, tol=1e-2, n_iter_no_change=3, max_iter=max_iter,
                      hidden_layer_sizes=(6,), batch_size=40, early_stopping=early_stopping,
                      random_state=0, **SOLVERS[solver])
    assert sk.n_iter_ < max_iter, "the stopping rule was not exercised"
    assert_same_fit(sk, fm)


# --------------------------------------------------- early stopping with weights


@pytest.mark.parametrize("solver", ["adam", "sgd-nesterov", "sgd-momentum"])
@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
def test_multilabel_early_stopping_matches(multilabel_data, solver, weighted):
    """Multilabel targets are split without stratification, like scikit-learn."""
    X, Y = multilabel_data
    sample_weight = weights_for(X, seed=6) if weighted else None
    sk, fm = fit_both(X, Y, sample_weight=sample_weight, early_stopping=True,
                      validation_fraction=0.25, n_iter_no_change=4, tol=1e-3, max_iter=60,
                      hidden_layer_sizes=(6,), batch_size=20, random_state=0,
                      **SOLVERS[solver])
    # Restoring was exercised: the returned weights are not the last epoch's.
    assert int(np.argmax(sk.validation_scores_)) + 1 < sk.n_iter_
    assert fm.best_loss_ is None
    assert fm.best_validation_score_ == max(fm.validation_scores_)
    assert_same_fit(sk, fm)
    assert_same_predictions(sk, fm, X)


@pytest.mark.parametrize("solver", ["adam", "sgd-momentum", "sgd-invscaling"])
def test_weighted_early_stopping_restores_best_weights(string_label_data, solver):
    """Weighted validation accuracy picks the epoch; zero-weight rows in both splits."""
    X, y = string_label_data
    sample_weight = weights_for(X, seed=7)
    sample_weight[::4] = 0.0
    sk, fm = fit_both(X, y, sample_weight=sample_weight, early_stopping=True,
                      validation_fraction=0.3, n_iter_no_change=3, tol=1e-3, max_iter=60,
                      hidden_layer_sizes=(6,), batch_size=15, random_state=3,
                      **SOLVERS[solver])
    assert int(np.argmax(sk.validation_scores_)) + 1 < sk.n_iter_
    assert fm.best_validation_score_ == max(fm.validation_scores_)
    assert_same_fit(sk, fm)
    assert_same_predictions(sk, fm, X)
    # Weighted and unweighted validation accuracies differ: the weights were used.
    unweighted = MLPClassifier(early_stopping=True, validation_fraction=0.3,
                               n_iter_no_change=3, tol=1e-3, max_iter=60,
                               hidden_layer_sizes=(6,), batch_size=15, random_state=3,
                               **SOLVERS[solver])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        unweighted.fit(X, y)
    assert unweighted.validation_scores_ != fm.validation_scores_


# ----------------------------------------------------------------- partial_fit


@pytest.mark.parametrize("solver", ["adam", "sgd-momentum", "sgd-invscaling"])
@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
def test_partial_fit_after_fit_matches(any_classification_data, solver, weighted):
    X, y = any_classification_data
    sample_weight = weights_for(X, seed=8) if weighted else None
    sk, fm = make_pair(hidden_layer_sizes=(6,), max_iter=2, batch_size=25, random_state=0,
                       **SOLVERS[solver])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        for est in (sk, fm):
            est.fit(X, y, sample_weight=sample_weight)
        assert_same_fit(sk, fm)
        # No ``classes`` needed after fit; a chunk may lack some classes.
        chunks = [np.arange(0, 40), np.arange(40, 120)]
        if y.ndim == 1:
            chunks[0] = np.flatnonzero(y == y[0])[:30]
        for rows in chunks:
            w = None if sample_weight is None else sample_weight[rows]
            for est in (sk, fm):
                est.partial_fit(X[rows], y[rows], sample_weight=w)
            assert_same_fit(sk, fm)
    assert fm.n_iter_ == 1
    assert_same_predictions(sk, fm, X)


def test_partial_fit_after_fit_keeps_optimizer_state(multiclass_data):
    """partial_fit continues fit's Adam moments and step count, as scikit-learn."""
    X, y = multiclass_data
    sk, fm = make_pair(hidden_layer_sizes=(6,), max_iter=2, batch_size=30, random_state=0,
                       **SOLVERS["adam"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        for est in (sk, fm):
            est.fit(X, y)
            est.partial_fit(X, y)
    assert fm._optimizer.step[0] == sk._optimizer.t == 3 * 4
    assert fm._optimizer.learning_rate == pytest.approx(sk._optimizer.learning_rate,
                                                        rel=1e-12)
    assert_same_fit(sk, fm)


@pytest.mark.parametrize("solver", ["adam", "sgd-nesterov"])
@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
def test_multilabel_partial_fit_sequence_matches(multilabel_data, solver, weighted):
    X, Y = multilabel_data
    sample_weight = weights_for(X, seed=9) if weighted else None
    chunks = np.array_split(np.arange(X.shape[0]), [35, 70])
    sk, fm = make_pair(hidden_layer_sizes=(6, 4), batch_size=16, random_state=0,
                       **SOLVERS[solver])
    for i, rows in enumerate(chunks):
        kwargs = {"classes": np.arange(Y.shape[1])} if i == 0 else {}
        w = None if sample_weight is None else sample_weight[rows]
        for est in (sk, fm):
            est.partial_fit(X[rows], Y[rows], sample_weight=w, **kwargs)
        assert_same_fit(sk, fm)
    assert fm.out_activation_ == "logistic"
    assert_same_predictions(sk, fm, X)


@pytest.mark.parametrize("solver", ["adam", "sgd-momentum"])
def test_partial_fit_sample_weight_matches(binary_data, solver):
    """Weights per call: none, then fractional, then integer, then a zero-weight row."""
    X, y = binary_data
    rng = np.random.RandomState(10)
    chunks = np.array_split(rng.permutation(X.shape[0]), 4)
    weights = [None, rng.uniform(0.1, 5.0, chunks[1].shape[0]),
               rng.randint(1, 4, chunks[2].shape[0]),
               np.where(np.arange(chunks[3].shape[0]) == 0, 0.0, 1.5)]
    sk, fm = make_pair(hidden_layer_sizes=(5,), batch_size=10, random_state=0,
                       **SOLVERS[solver])
    for i, (rows, w) in enumerate(zip(chunks, weights)):
        kwargs = {"classes": np.unique(y)} if i == 0 else {}
        for est in (sk, fm):
            est.partial_fit(X[rows], y[rows], sample_weight=w, **kwargs)
        assert_same_fit(sk, fm)


def test_partial_fit_sample_weight_changes_the_update(binary_data):
    """Unit weights equal no weights; other weights give another step."""
    X, y = binary_data
    params = dict(hidden_layer_sizes=(5,), batch_size=20, random_state=0, **SOLVERS["adam"])
    plain = MLPClassifier(**params).partial_fit(X, y, classes=[0, 1])
    ones = MLPClassifier(**params).partial_fit(X, y, classes=[0, 1],
                                               sample_weight=np.ones(X.shape[0]))
    heavy = MLPClassifier(**params).partial_fit(X, y, classes=[0, 1],
                                                sample_weight=weights_for(X))
    for a, b in zip(plain.coefs_, ones.coefs_):
        assert_allclose(a, b, rtol=1e-12, atol=1e-15)
    assert not np.allclose(plain.coefs_[0], heavy.coefs_[0], rtol=1e-4)


def _outcome(estimator_class, params, calls):
    """Run ``calls`` on a new estimator; return the (type, message) it raised."""
    est = estimator_class(hidden_layer_sizes=(4,), max_iter=2, random_state=0, **params)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        try:
            for method, args, kwargs in calls:
                getattr(est, method)(*args, **kwargs)
        except Exception as exc:  # noqa: BLE001 - the exception is what we compare
            return type(exc), str(exc)
    return None


def _error_cases(X, y):
    """Error cases on multiclass data ``X``, ``y`` (labels 0, 1, 2), by name."""
    two = y < 2
    names = np.array(["ant", "bee", "cat"])
    Y = np.column_stack([y == 0, y != 1]).astype(int)
    return {
        "first call without classes": (
            {}, [("partial_fit", (X, y), {})]),
        "multilabel first call without classes": (
            {}, [("partial_fit", (X, Y), {})]),
        "y has a label missing from classes": (
            {}, [("partial_fit", (X, y), {"classes": [0, 1]})]),
        "unseen label on a later call": (
            {}, [("partial_fit", (X[two], y[two]), {"classes": [0, 1]}),
                 ("partial_fit", (X, y), {})]),
        "unseen string label on a later call": (
            {}, [("partial_fit", (X, names[y]), {"classes": names}),
                 ("partial_fit", (X, np.where(y == 2, "dog", names[y])), {})]),
        "other classes on a later call": (
            {}, [("partial_fit", (X, y), {"classes": [0, 1, 2]}),
                 ("partial_fit", (X, y), {"classes": [0, 1]})]),
        "unseen label after fit": (
            {}, [("fit", (X[two], y[two]), {}), ("partial_fit", (X, y), {})]),
        "classes other than fit's": (
            {}, [("fit", (X[two], y[two]), {}),
                 ("partial_fit", (X, y), {"classes": [0, 1, 2]})]),
        "warm_start with other classes": (
            {"warm_start": True}, [("fit", (X[two], y[two]), {}), ("fit", (X, y), {})]),
        "early_stopping": (
            {"early_stopping": True}, [("partial_fit", (X, y), {"classes": [0, 1, 2]})]),
        "sample_weight of the wrong length": (
            {}, [("partial_fit", (X, y), {"classes": [0, 1, 2],
                                          "sample_weight": np.ones(X.shape[0] - 1)})]),
        "other feature count after fit": (
            {}, [("fit", (X, y), {}), ("partial_fit", (X[:, :5], y), {})]),
        "lbfgs has no partial_fit": (
            {"solver": "lbfgs"}, [("partial_fit", (X, y), {"classes": [0, 1, 2]})]),
    }


ERROR_CASES = list(_error_cases(np.zeros((6, 8)), np.arange(6) % 3))


@pytest.mark.parametrize("case", ERROR_CASES)
def test_partial_fit_errors_match(multiclass_data, case):
    params, calls = _error_cases(*multiclass_data)[case]
    expected = _outcome(SkMLPClassifier, params, calls)
    assert expected is not None, "scikit-learn raised nothing: not an error case"
    assert _outcome(MLPClassifier, params, calls) == expected
