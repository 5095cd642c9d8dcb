"""Parity with :class:`sklearn.neural_network.MLPRegressor`, epoch for epoch.

In float64 with the same parameters and ``random_state``, fastmlp's regressor
must end where scikit-learn's does: the same weights (``rtol=1e-6``, no absolute
tolerance), loss curve and bookkeeping attributes after a few epochs of adam and
sgd (constant, inverse-scaling and adaptive step sizes, with and without
Nesterov's momentum), for the squared error and the Poisson loss, one and
several outputs, with and without ``sample_weight``, and through every path of
the fit loop (early stopping, warm starts, partial fits).

L-BFGS is compared on its final ``loss_`` (``rtol=1e-6``) and ``n_iter_``. Over
hundreds of iterations on a non-convex loss, L-BFGS amplifies rounding
differences until two runs part ways: scikit-learn against itself with ``X``
perturbed by 1e-15 relative already ends 1e-4 apart, at a different
``n_iter_``. The runs compared here are those where that perturbation changes
neither: runs that stop at ``max_iter`` (where the weights are compared too) and
strongly penalised runs that converge before it.
"""

import warnings

import numpy as np
import pytest
from numpy.testing import assert_allclose
from sklearn.exceptions import ConvergenceWarning
from sklearn.neural_network import MLPRegressor as SkMLPRegressor

import naive
from parity import assert_same_losses, assert_same_weights, fit_pair, weights_for
from fastmlp import MLPRegressor

RTOL = 1e-6

# Step sizes small enough for the exponential output of the Poisson loss.
SOLVERS = {
    "adam": dict(solver="adam", learning_rate_init=0.01),
    "sgd-nesterov": dict(solver="sgd", learning_rate_init=0.02, nesterovs_momentum=True),
    "sgd-momentum": dict(solver="sgd", learning_rate_init=0.02, nesterovs_momentum=False),
    "sgd-invscaling": dict(solver="sgd", learning_rate="invscaling", power_t=0.3,
                           learning_rate_init=0.05),
    "sgd-invscaling-momentum": dict(solver="sgd", learning_rate="invscaling",
                                    learning_rate_init=0.05, nesterovs_momentum=False),
}


def on_problem(*ids):
    """Run a test on the named ``regression_problem`` targets only."""
    return pytest.mark.parametrize("regression_problem", ids, indirect=True)


def make_pair(**params):
    return SkMLPRegressor(**params), MLPRegressor(**params)


def fit_both(X, y, sample_weight=None, **params):
    return fit_pair(SkMLPRegressor, MLPRegressor, X, y, sample_weight, **params)


def assert_same_attributes(sk, fm):
    for name in ["n_iter_", "t_", "n_layers_", "n_outputs_", "out_activation_",
                 "n_features_in_"]:
        assert getattr(fm, name) == getattr(sk, name), name


def assert_same_fit(sk, fm):
    """Weights, loss curve and every fitted attribute agree (stochastic solvers)."""
    assert_same_weights(sk, fm)
    assert_same_attributes(sk, fm)
    assert_same_losses(sk, fm)
    # Validation scores are R² of predictions equal to rounding: close, not equal.
    if sk.validation_scores_ is None:
        assert fm.validation_scores_ is None
        assert fm.best_validation_score_ is None
    else:
        assert len(fm.validation_scores_) == len(sk.validation_scores_)
        assert_allclose(fm.validation_scores_, sk.validation_scores_, rtol=RTOL, atol=0)
        assert_allclose(fm.best_validation_score_, sk.best_validation_score_, rtol=RTOL,
                        atol=0)


def assert_same_predictions(sk, fm, X, y):
    assert_allclose(fm.predict(X), sk.predict(X), rtol=RTOL, atol=0)
    assert fm.predict(X).shape == sk.predict(X).shape
    assert_allclose(fm.score(X, y), sk.score(X, y), rtol=RTOL, atol=0)


# ------------------------------------------------------------- stochastic solvers


@pytest.mark.parametrize("solver", SOLVERS)
@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
def test_three_epochs_match(regression_problem, solver, weighted):
    loss, X, y = regression_problem
    sample_weight = weights_for(X) if weighted else None
    sk, fm = fit_both(X, y, sample_weight=sample_weight, loss=loss,
                      hidden_layer_sizes=(7, 5), activation="tanh", batch_size=32,
                      max_iter=3, alpha=0.01, random_state=0, **SOLVERS[solver])
    assert fm.n_iter_ == 3
    assert fm.out_activation_ == ("exp" if loss == "poisson" else "identity")
    assert_same_fit(sk, fm)
    assert_same_predictions(sk, fm, X, y)


@pytest.mark.parametrize("activation", ["identity", "logistic", "relu"])
def test_hidden_activations_match(regression_problem, activation):
    loss, X, y = regression_problem
    sk, fm = fit_both(X, y, loss=loss, activation=activation, hidden_layer_sizes=(6,),
                      batch_size=25, max_iter=3, random_state=2, **SOLVERS["adam"])
    assert_same_fit(sk, fm)


@on_problem("squared_error-3outputs")
def test_parallel_epoch_matches(regression_problem, numba_threads):
    """A network large enough for the kernels to split batches and updates."""
    _, X, y = regression_problem
    sk, fm = fit_both(X, y, hidden_layer_sizes=(256, 256), batch_size=64, max_iter=2,
                      random_state=0, **SOLVERS["adam"])
    assert_same_fit(sk, fm)
    if numba_threads > 1:
        n_row_blocks, n_param_chunks = fm._trainer.parallel_split(64, numba_threads)
        assert n_row_blocks > 1 and n_param_chunks > 1


@pytest.mark.filterwarnings("ignore:Got `batch_size`:UserWarning")
@pytest.mark.parametrize(
    "params",
    [
        dict(shuffle=False),
        dict(batch_size=1),
        dict(batch_size=50),  # 120 rows: batches of 50, 50, 20
        dict(batch_size=500),  # clipped to the sample count, with a warning
        dict(alpha=0.0),
        dict(alpha=1.0),
        dict(hidden_layer_sizes=()),  # no hidden layer
    ],
    ids=lambda p: "-".join(f"{k}={v}" for k, v in p.items()),
)
@pytest.mark.parametrize("solver", ["adam", "sgd-nesterov"])
def test_fit_options_match(regression_problem, solver, params):
    loss, X, y = regression_problem
    params = {"batch_size": 16, "hidden_layer_sizes": (5,), **params}
    sk, fm = fit_both(X, y, loss=loss, max_iter=2, random_state=1, **SOLVERS[solver],
                      **params)
    assert_same_fit(sk, fm)


@on_problem("squared_error-1output")
@pytest.mark.parametrize("early_stopping", [False, True])
@pytest.mark.parametrize("nesterovs_momentum", [False, True])
def test_adaptive_schedule_drops_rate_like_sklearn(regression_problem, early_stopping,
                                                   nesterovs_momentum):
    _, X, y = regression_problem
    sk, fm = fit_both(X, y, solver="sgd", learning_rate="adaptive", learning_rate_init=0.05,
                      nesterovs_momentum=nesterovs_momentum, tol=0.05, n_iter_no_change=2,
                      max_iter=25, hidden_layer_sizes=(6,), batch_size=20,
                      early_stopping=early_stopping, random_state=0)
    # The schedule was exercised: the rate dropped in both.
    assert sk._optimizer.learning_rate < 0.05
    assert fm._optimizer.learning_rate == pytest.approx(sk._optimizer.learning_rate)
    assert_same_fit(sk, fm)


def test_invscaling_rate_matches(regression_problem):
    loss, X, y = regression_problem
    sk, fm = fit_both(X, y, loss=loss, hidden_layer_sizes=(6,), batch_size=25, max_iter=4,
                      random_state=0, **SOLVERS["sgd-invscaling"])
    assert fm._optimizer.learning_rate == pytest.approx(sk._optimizer.learning_rate)
    assert fm._optimizer.learning_rate < SOLVERS["sgd-invscaling"]["learning_rate_init"]
    assert_same_fit(sk, fm)


@pytest.mark.parametrize("solver", ["adam", "sgd-nesterov", "sgd-momentum"])
@pytest.mark.parametrize("early_stopping", [False, True])
def test_no_improvement_stops_at_same_epoch(regression_problem, solver, early_stopping):
    loss, X, y = regression_problem
    max_iter = 200
    sk, fm = fit_both(X, y, loss=loss, tol=1e-2, n_iter_no_change=3, max_iter=max_iter,
                      hidden_layer_sizes=(6,), batch_size=40, early_stopping=early_stopping,
                      random_state=0, **SOLVERS[solver])
    assert sk.n_iter_ < max_iter, "the stopping rule was not exercised"
    assert_same_fit(sk, fm)


# ------------------------------------------------------------------ early stopping


@pytest.mark.parametrize("solver", ["adam", "sgd-nesterov", "sgd-momentum"])
@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
def test_early_stopping_restores_best_weights_like_sklearn(regression_problem, solver,
                                                          weighted):
    loss, X, y = regression_problem
    sample_weight = weights_for(X, seed=1) if weighted else None
    sk, fm = fit_both(X, y, sample_weight=sample_weight, loss=loss, early_stopping=True,
                      validation_fraction=0.25, n_iter_no_change=3, tol=0.0, max_iter=80,
                      hidden_layer_sizes=(12,), batch_size=10, alpha=0.0, random_state=0,
                      **{**SOLVERS[solver], "learning_rate_init": 0.05})
    best_epoch = int(np.argmax(sk.validation_scores_)) + 1
    # Restoring was exercised: the returned weights are not the last epoch's.
    assert best_epoch < sk.n_iter_
    assert fm.best_loss_ is None
    assert fm.best_validation_score_ == max(fm.validation_scores_)
    assert int(np.argmax(fm.validation_scores_)) + 1 == best_epoch
    assert_same_fit(sk, fm)
    # The restored weights are the ones predictions use.
    assert_same_predictions(sk, fm, X, y)


@on_problem("squared_error-3outputs")
def test_early_stopping_split_is_sklearns(regression_problem):
    """Multi-output targets are split without stratification, like scikit-learn."""
    _, X, y = regression_problem
    sk, fm = fit_both(X, y, early_stopping=True, validation_fraction=0.3, max_iter=3,
                      hidden_layer_sizes=(5,), random_state=4, **SOLVERS["adam"])
    assert len(fm.validation_scores_) == 3
    assert_same_fit(sk, fm)


# --------------------------------------------------------- warm starts and partial fits


@pytest.mark.parametrize("solver", ["adam", "sgd-nesterov", "sgd-invscaling"])
def test_warm_start_second_fit_matches(regression_problem, solver):
    loss, X, y = regression_problem
    sk, fm = make_pair(loss=loss, warm_start=True, hidden_layer_sizes=(6,), max_iter=3,
                       batch_size=30, random_state=0, **SOLVERS[solver])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        for est in (sk, fm):
            est.fit(X, y)
        assert_same_fit(sk, fm)
        for est in (sk, fm):
            est.set_params(max_iter=2, learning_rate_init=0.5 * est.learning_rate_init)
            est.fit(X[::-1], y[::-1], sample_weight=weights_for(X))
    assert fm.t_ == 5 * X.shape[0] and fm.n_iter_ == 2
    assert_same_fit(sk, fm)


@on_problem("squared_error-1output")
def test_warm_start_with_early_stopping_matches(regression_problem):
    """The second fit keeps the validation history and improves on the first."""
    _, X, y = regression_problem
    params = dict(warm_start=True, early_stopping=True, validation_fraction=0.25,
                  n_iter_no_change=50, tol=0.0, hidden_layer_sizes=(8,), batch_size=20,
                  random_state=0, **SOLVERS["adam"])
    sk, fm = make_pair(max_iter=4, **params)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        for est in (sk, fm):
            est.fit(X, y)
        assert_same_fit(sk, fm)
        first_best = fm.best_validation_score_
        for est in (sk, fm):
            est.fit(X, y)
    assert len(fm.validation_scores_) == 8
    assert fm.best_validation_score_ > first_best
    assert_same_fit(sk, fm)


@on_problem("squared_error-1output")
def test_warm_start_early_stopping_keeps_best_weights(regression_problem):
    """A warm fit that never beats the best validation score returns the best weights.

    scikit-learn returns the last epoch's weights here instead: after an early
    stop its ``coefs_`` *is* ``_best_coefs`` (the same list of arrays), and the
    next warm fit updates those arrays in place, so its "restore" is a no-op.
    fastmlp keeps a copy and restores the weights ``best_validation_score_``
    belongs to.
    """
    _, X, y = regression_problem
    sk, fm = make_pair(warm_start=True, early_stopping=True, validation_fraction=0.25,
                       n_iter_no_change=3, tol=1e-3, max_iter=60, hidden_layer_sizes=(6,),
                       batch_size=20, random_state=0, solver="adam",
                       learning_rate_init=0.05)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        for est in (sk, fm):
            est.fit(X, y)
        assert_same_fit(sk, fm)
        best = [a.copy() for a in fm.coefs_ + fm.intercepts_]
        best_score = fm.best_validation_score_
        n_scores = len(fm.validation_scores_)
        for est in (sk, fm):
            est.fit(X, y)
    # The second fit ran, did not improve, and stopped.
    assert fm.n_iter_ >= 1
    assert len(fm.validation_scores_) == n_scores + fm.n_iter_
    assert max(fm.validation_scores_[n_scores:]) <= best_score
    assert fm.best_validation_score_ == best_score
    assert_allclose(fm.validation_scores_, sk.validation_scores_, rtol=RTOL, atol=0)
    for a, b in zip(fm.coefs_ + fm.intercepts_, best):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("solver", ["adam", "sgd-nesterov", "sgd-invscaling"])
@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
def test_partial_fit_sequence_matches(regression_problem, solver, weighted):
    loss, X, y = regression_problem
    sample_weight = weights_for(X, seed=2) if weighted else None
    chunks = np.array_split(np.arange(X.shape[0]), [30, 75, 100])  # uneven sizes
    sk, fm = make_pair(loss=loss, hidden_layer_sizes=(6, 4), batch_size=16, random_state=0,
                       **SOLVERS[solver])
    for rows in chunks:
        w = None if sample_weight is None else sample_weight[rows]
        for est in (sk, fm):
            est.partial_fit(X[rows], y[rows], sample_weight=w)
        assert_same_fit(sk, fm)
    assert fm.n_iter_ == 1 and fm.t_ == X.shape[0]
    assert len(fm.loss_curve_) == len(chunks)
    assert_same_predictions(sk, fm, X, y)


@pytest.mark.parametrize("solver", ["adam", "sgd-momentum"])
def test_partial_fit_after_fit_matches(regression_problem, solver):
    loss, X, y = regression_problem
    sample_weight = weights_for(X, seed=3)
    sk, fm = make_pair(loss=loss, hidden_layer_sizes=(6,), max_iter=2, batch_size=25,
                       random_state=0, **SOLVERS[solver])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        for est in (sk, fm):
            est.fit(X, y)
            est.partial_fit(X[:50], y[:50], sample_weight=sample_weight[:50])
            est.partial_fit(X[50:], y[50:])
    assert fm.t_ == 3 * X.shape[0]
    assert_same_fit(sk, fm)


def test_partial_fit_needs_a_stochastic_solver():
    """As ``MLPClassifier`` (and scikit-learn's documentation) say.

    scikit-learn's ``MLPRegressor`` tests ``est._check_solver`` without calling
    it, so its ``partial_fit`` stays available with L-BFGS and runs a full
    L-BFGS fit; fastmlp hides it for both estimators.
    """
    assert not hasattr(MLPRegressor(solver="lbfgs"), "partial_fit")
    assert hasattr(MLPRegressor(solver="sgd"), "partial_fit")
    with pytest.raises(AttributeError, match="has no attribute 'partial_fit'"):
        MLPRegressor(solver="lbfgs").partial_fit


@on_problem("squared_error-3outputs")
def test_partial_fit_changing_output_count_raises(regression_problem):
    """The network's output layer is fixed after the first fit."""
    _, X, Y = regression_problem
    fm = MLPRegressor(hidden_layer_sizes=(5,), max_iter=2, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        fm.fit(X, Y)
    before = [a.copy() for a in fm.coefs_ + fm.intercepts_]
    for y in (Y[:, 0], Y[:, :2], np.column_stack([Y, Y])):
        with pytest.raises(ValueError, match="output"):
            fm.partial_fit(X, y)
    with pytest.raises(ValueError, match="output"):
        fm.set_params(warm_start=True).fit(X, Y[:, :2])
    assert fm.n_outputs_ == 3
    for a, b in zip(fm.coefs_ + fm.intercepts_, before):
        np.testing.assert_array_equal(a, b)


# ------------------------------------------------------------------------ L-BFGS
#
# These run the kernels on one thread (the ``numba_threads`` fixture narrowed to
# its first value): on a busy machine, waking the threads for each of the
# hundreds of full-batch evaluations costs far more than these small problems.
# ``test_lbfgs_parallel_matches`` covers the split over every thread.

one_thread = pytest.mark.parametrize("numba_threads", [1], indirect=True, ids=["1thread"])


def assert_loss_is_penalised_loss_at_weights(fm, X, y, sample_weight=None):
    """``loss_`` is the objective at the returned weights (NumPy reference)."""
    Y = y.reshape(X.shape[0], -1)
    value, _, _ = naive.loss_and_gradient(
        X, Y, fm.coefs_, fm.intercepts_, fm.activation, fm.out_activation_, fm.loss,
        alpha=fm.alpha, sample_weight=sample_weight)
    assert_allclose(fm.loss_, value, rtol=1e-10)


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


@one_thread
@pytest.mark.parametrize("activation", ["relu", "tanh", "logistic"])
@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
def test_lbfgs_stopped_at_max_iter_matches(regression_problem, activation, weighted,
                                           numba_threads):
    loss, X, y = regression_problem
    sample_weight = weights_for(X, seed=4) if weighted else None
    sk, fm, (sk_warnings, fm_warnings) = fit_lbfgs_both(
        X, y, sample_weight=sample_weight, loss=loss, activation=activation,
        hidden_layer_sizes=(5,), max_iter=15, random_state=0)
    assert fm.n_iter_ == sk.n_iter_ == 15
    assert type(fm.loss_) is type(sk.loss_)
    assert_allclose(fm.loss_, sk.loss_, rtol=RTOL, atol=0)
    assert_same_weights(sk, fm)
    assert_same_attributes(sk, fm)
    assert_same_predictions(sk, fm, X, y)
    # The same ConvergenceWarning, word for word.
    assert fm_warnings == sk_warnings
    assert [c for c, _ in fm_warnings] == [ConvergenceWarning]
    assert_loss_is_penalised_loss_at_weights(fm, X, y, sample_weight)


# Strongly penalised runs that converge before max_iter; each one stops at the
# same iteration, with a loss within 1e-9, in scikit-learn when X is perturbed
# by 1e-15 relative (three perturbations tried).
LBFGS_CONVERGED = [
    # (regression_problem, activation, weighted, alpha)
    ("squared_error-3outputs", "tanh", False, 1.0),
    ("squared_error-3outputs", "relu", False, 1.0),
    ("squared_error-1output", "logistic", True, 1.0),
    ("squared_error-1output", "identity", True, 1.0),
    ("poisson-1output", "relu", False, 10.0),
    ("poisson-1output", "tanh", True, 10.0),
    ("poisson-2outputs", "logistic", False, 10.0),
    ("poisson-2outputs", "identity", True, 1.0),
]


@one_thread
@pytest.mark.parametrize(
    "regression_problem, activation, weighted, alpha", LBFGS_CONVERGED,
    indirect=["regression_problem"],
    ids=["-".join(map(str, case)) for case in LBFGS_CONVERGED],
)
def test_lbfgs_converged_matches(regression_problem, activation, weighted, alpha,
                                 numba_threads):
    loss, X, y = regression_problem
    sample_weight = weights_for(X, seed=4) if weighted else None
    max_iter = 300
    sk, fm, (sk_warnings, fm_warnings) = fit_lbfgs_both(
        X, y, sample_weight=sample_weight, loss=loss, activation=activation, alpha=alpha,
        hidden_layer_sizes=(5,), max_iter=max_iter, random_state=0)
    assert sk.n_iter_ < max_iter, "the convergence test was not exercised"
    assert fm.n_iter_ == sk.n_iter_
    assert type(fm.loss_) is type(sk.loss_)
    assert_allclose(fm.loss_, sk.loss_, rtol=RTOL, atol=0)
    assert fm_warnings == sk_warnings == []  # converged: no warning
    assert_same_attributes(sk, fm)
    assert_loss_is_penalised_loss_at_weights(fm, X, y, sample_weight)


@on_problem("squared_error-1output")
@one_thread
@pytest.mark.parametrize("max_fun", [1, 8])
def test_lbfgs_max_fun_matches(regression_problem, max_fun, numba_threads):
    _, X, y = regression_problem
    sk, fm, (sk_warnings, fm_warnings) = fit_lbfgs_both(
        X, y, max_fun=max_fun, hidden_layer_sizes=(5,), max_iter=100, random_state=0)
    assert fm.n_iter_ == sk.n_iter_ < 100
    assert type(fm.loss_) is type(sk.loss_)
    assert_allclose(fm.loss_, sk.loss_, rtol=RTOL, atol=0)
    assert_same_weights(sk, fm)
    assert fm_warnings == sk_warnings
    assert [c for c, _ in fm_warnings] == [ConvergenceWarning]


@on_problem("squared_error-1output")
@one_thread
def test_lbfgs_tol_matches(regression_problem, numba_threads):
    """A loose ``tol`` (L-BFGS-B's ``gtol``) ends both runs at the same iteration."""
    _, X, y = regression_problem
    sk, fm, _ = fit_lbfgs_both(X, y, tol=5e-2, hidden_layer_sizes=(5,), max_iter=200,
                               random_state=0)
    assert fm.n_iter_ == sk.n_iter_ < 20
    assert type(fm.loss_) is type(sk.loss_)
    assert_allclose(fm.loss_, sk.loss_, rtol=RTOL, atol=0)
    assert_same_weights(sk, fm)


@on_problem("squared_error-3outputs")
def test_lbfgs_parallel_matches(regression_problem, numba_threads):
    """Rows split over every thread; partial gradients summed in block order."""
    _, X, y = regression_problem
    sk, fm, _ = fit_lbfgs_both(X, y, hidden_layer_sizes=(64,), max_iter=15,
                               random_state=0)
    assert fm.n_iter_ == sk.n_iter_ == 15
    assert type(fm.loss_) is type(sk.loss_)
    assert_allclose(fm.loss_, sk.loss_, rtol=RTOL, atol=0)
    assert_same_weights(sk, fm)


@on_problem("squared_error-1output", "poisson-1output")
@one_thread
def test_lbfgs_warm_start_matches(regression_problem, numba_threads):
    loss, X, y = regression_problem
    sk, fm = make_pair(solver="lbfgs", loss=loss, warm_start=True, hidden_layer_sizes=(5,),
                       max_iter=10, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        for est in (sk, fm):
            est.fit(X, y)
        assert type(fm.loss_) is type(sk.loss_)
        assert_allclose(fm.loss_, sk.loss_, rtol=RTOL, atol=0)
        for est in (sk, fm):
            est.fit(X, y, sample_weight=weights_for(X))
    assert fm.n_iter_ == sk.n_iter_ == 10
    assert type(fm.loss_) is type(sk.loss_)
    assert_allclose(fm.loss_, sk.loss_, rtol=RTOL, atol=0)
    assert_same_weights(sk, fm)
