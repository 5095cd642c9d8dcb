"""Helpers shared by the tests that compare fastmlp with scikit-learn, fit for fit."""

import warnings

import numpy as np
from numpy.testing import assert_allclose
from sklearn.exceptions import ConvergenceWarning

RTOL = 1e-6


def fit_pair(sk_class, fm_class, X, y, sample_weight=None, **params):
    """Fit scikit-learn's and fastmlp's estimator with the same parameters."""
    sk, fm = sk_class(**params), fm_class(**params)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        sk.fit(X, y, sample_weight=sample_weight)
        fm.fit(X, y, sample_weight=sample_weight)
    return sk, fm


def weights_for(X, seed=0):
    """Positive sample weights with some zeros, one per row of ``X``."""
    rng = np.random.RandomState(seed)
    sample_weight = rng.uniform(0.2, 3.0, X.shape[0])
    sample_weight[::9] = 0.0
    return sample_weight


def assert_same_weights(sk, fm, rtol=RTOL):
    """Every coefficient and intercept equal to ``rtol`` (no absolute slack)."""
    assert len(fm.coefs_) == len(sk.coefs_)
    assert len(fm.intercepts_) == len(sk.intercepts_)
    for fm_array, sk_array in zip(fm.coefs_ + fm.intercepts_, sk.coefs_ + sk.intercepts_):
        assert fm_array.shape == sk_array.shape
        assert fm_array.dtype == sk_array.dtype
        assert_allclose(fm_array, sk_array, rtol=rtol, atol=0)


def assert_same_losses(sk, fm, rtol=RTOL):
    """``loss_curve_``, ``loss_`` and ``best_loss_`` equal to ``rtol``."""
    assert len(fm.loss_curve_) == len(sk.loss_curve_)
    assert type(fm.loss_) is type(sk.loss_)
    assert {type(v) for v in fm.loss_curve_} == {type(v) for v in sk.loss_curve_}
    assert_allclose(fm.loss_curve_, sk.loss_curve_, rtol=rtol, atol=0)
    assert_allclose(fm.loss_, sk.loss_, rtol=rtol, atol=0)
    if sk.best_loss_ is None:
        assert fm.best_loss_ is None
    else:
        assert_allclose(fm.best_loss_, sk.best_loss_, rtol=rtol, atol=0)
