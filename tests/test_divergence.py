"""Training that cannot finish: divergent weights and KeyboardInterrupt.

A divergent fit raises scikit-learn's ValueError and leaves the estimator as
it was (the previous model, or unfitted); an interrupted fit ends at its last
complete epoch, or as it was when no epoch completed, with no threads left
behind.
"""

import os
import pickle
import signal
import threading
import time

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning, NotFittedError
from sklearn.utils.validation import check_is_fitted

from fastmlp import MLPClassifier, MLPRegressor
from fastmlp._trainer import Trainer

NON_FINITE = "Solver produced non-finite parameter weights"


def fitted_state(estimator):
    params = estimator.get_params(deep=False)
    state = {k: v for k, v in estimator.__getstate__().items() if k not in params}
    return pickle.dumps(state)


def _regression(n=200, seed=0):
    rng = np.random.RandomState(seed)
    X = rng.uniform(-1, 1, (n, 5))
    return X, X @ rng.uniform(-1, 1, 5)


def _all_finite(estimator):
    return all(np.isfinite(a).all() for a in estimator.coefs_ + estimator.intercepts_)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.filterwarnings("ignore::RuntimeWarning")
@pytest.mark.parametrize("solver", ["sgd", "adam"])
def test_divergence_raises_and_keeps_previous_model(solver):
    X, y = _regression()
    reg = MLPRegressor(hidden_layer_sizes=(8,), solver=solver, max_iter=5, random_state=0)
    reg.fit(X, y)
    before = fitted_state(reg)
    prediction = reg.predict(X)

    reg.set_params(learning_rate_init=1e300, warm_start=True)
    with pytest.raises(ValueError, match=NON_FINITE):
        reg.fit(X, y * 1e10)
    assert fitted_state(reg) == before
    assert _all_finite(reg)
    np.testing.assert_array_equal(reg.predict(X), prediction)

    # partial_fit keeps its optimizer's step size: diverge from the start.
    reg = MLPRegressor(hidden_layer_sizes=(8,), solver=solver, learning_rate_init=1e300,
                       batch_size=20)
    with pytest.raises(ValueError, match=NON_FINITE):
        reg.partial_fit(X, y * 1e10)
    assert vars(reg).keys() == vars(MLPRegressor()).keys()


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.filterwarnings("ignore::RuntimeWarning")
@pytest.mark.parametrize("Estimator", [MLPClassifier, MLPRegressor])
def test_divergence_on_first_fit_leaves_estimator_unfitted(Estimator):
    X, y = _regression()
    if Estimator is MLPClassifier:
        y = (y > 0).astype(int)
        X = X * 1e300
    else:
        y = y * 1e10
    est = Estimator(hidden_layer_sizes=(8,), solver="sgd", learning_rate_init=1e300, max_iter=3)
    with pytest.raises(ValueError, match=NON_FINITE):
        est.fit(X, y)
    assert vars(est).keys() == vars(Estimator()).keys()
    with pytest.raises(NotFittedError):
        check_is_fitted(est)


def _interrupting_run_epoch(monkeypatch, at_call):
    """Make the ``at_call``-th epoch raise KeyboardInterrupt after its kernel ran."""
    original = Trainer.run_epoch
    calls = []

    def run_epoch(self, *args, **kwargs):
        result = original(self, *args, **kwargs)
        calls.append(1)
        if len(calls) == at_call:
            raise KeyboardInterrupt
        return result

    monkeypatch.setattr(Trainer, "run_epoch", run_epoch)


@pytest.mark.parametrize("Estimator", [MLPClassifier, MLPRegressor])
def test_interrupt_keeps_last_complete_epoch(Estimator, monkeypatch, multiclass_data):
    X, y = multiclass_data
    params = dict(hidden_layer_sizes=(8,), random_state=0, early_stopping=False)
    with pytest.warns(ConvergenceWarning):
        reference = Estimator(max_iter=3, **params).fit(X, y)

    _interrupting_run_epoch(monkeypatch, at_call=4)
    with pytest.warns(UserWarning, match="Training interrupted by user"):
        interrupted = Estimator(max_iter=10, **params).fit(X, y)

    assert interrupted.n_iter_ == 3
    assert interrupted.loss_curve_ == reference.loss_curve_
    assert interrupted.t_ == reference.t_
    for got, want in zip(interrupted.coefs_ + interrupted.intercepts_,
                         reference.coefs_ + reference.intercepts_):
        np.testing.assert_array_equal(got, want)


def test_interrupt_during_bookkeeping_drops_the_epoch(multiclass_data):
    X, y = multiclass_data

    class InterruptedInBookkeeping(MLPClassifier):
        def _update_no_improvement_count(self, *args):
            if len(self.loss_curve_) == 3:  # epoch 3's loss recorded, rest not
                raise KeyboardInterrupt
            super()._update_no_improvement_count(*args)

    params = dict(hidden_layer_sizes=(8,), random_state=0)
    with pytest.warns(ConvergenceWarning):
        reference = MLPClassifier(max_iter=2, **params).fit(X, y)
    with pytest.warns(UserWarning, match="Training interrupted by user"):
        clf = InterruptedInBookkeeping(max_iter=10, **params).fit(X, y)
    assert clf.n_iter_ == 2 and clf.loss_curve_ == reference.loss_curve_
    np.testing.assert_array_equal(clf.coefs_[0], reference.coefs_[0])


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_interrupt_before_any_complete_epoch(monkeypatch, multiclass_data):
    X, y = multiclass_data
    fitted = MLPClassifier((8,), max_iter=300, random_state=0).fit(X, y)
    before = fitted_state(fitted)
    _interrupting_run_epoch(monkeypatch, at_call=1)
    with pytest.raises(KeyboardInterrupt):
        fitted.fit(X, y)
    assert fitted_state(fitted) == before

    unfitted = MLPClassifier((8,), random_state=0)
    _interrupting_run_epoch(monkeypatch, at_call=1)
    with pytest.raises(KeyboardInterrupt):
        unfitted.fit(X, y)
    with pytest.raises(NotFittedError):
        check_is_fitted(unfitted)


def _threads_of_process():
    return len(os.listdir("/proc/self/task"))


@pytest.mark.skipif(not os.path.isdir("/proc/self/task"), reason="needs Linux /proc")
@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_sigint_during_fit():
    rng = np.random.RandomState(0)
    X = rng.rand(4000, 40)
    y = (X[:, 0] + X[:, 1] > 1).astype(int)
    params = dict(hidden_layer_sizes=(64,), random_state=0, tol=0.0, n_iter_no_change=10**6)
    MLPClassifier(max_iter=2, **params).fit(X, y)  # thread pools up, kernels loaded
    threads_before = _threads_of_process()

    clf = MLPClassifier(max_iter=100_000, **params)
    timer = threading.Timer(1.0, os.kill, (os.getpid(), signal.SIGINT))
    start = time.perf_counter()
    timer.start()
    try:
        with pytest.warns(UserWarning, match="Training interrupted by user"):
            clf.fit(X, y)
    finally:
        timer.cancel()
        timer.join()
    assert time.perf_counter() - start < 60
    assert _threads_of_process() == threads_before

    assert clf.n_iter_ == len(clf.loss_curve_) > 0
    assert clf.t_ == clf.n_iter_ * len(X)
    assert _all_finite(clf) and clf._trainer_in_sync()
    # The state is that of a fit stopped after n_iter_ epochs.
    reference = MLPClassifier(max_iter=clf.n_iter_, **params).fit(X, y)
    np.testing.assert_array_equal(clf.coefs_[0], reference.coefs_[0])
    np.testing.assert_array_equal(clf.predict_proba(X), reference.predict_proba(X))
