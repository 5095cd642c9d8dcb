"""Validation data of a fit and how it is scored after each epoch.

The data is either the share of the training rows that early stopping holds
out (scikit-learn's split, drawn as scikit-learn draws it) or the caller's
``X_val``/``y_val``. After each epoch one forward pass over it gives both the
validation loss (``validation_loss_curve_``) and, unless a scorer needs its
own predictions, the validation score.
"""

import warnings
from collections import namedtuple

import numpy as np
from sklearn.metrics import check_scoring

ValidationSet = namedtuple("ValidationSet", ["X", "y", "Y", "weights"])
ValidationSet.__doc__ = """Validation rows in the forms their uses need.

X : ndarray or scipy.sparse CSR matrix
    Inputs in the kernels' form (C-contiguous or CSR, the parameters' dtype).
y : ndarray
    Targets as ``score`` takes them (class labels for a classifier).
Y : ndarray of shape (n_rows, n_outputs)
    Targets as the loss reads them (binarised labels for a classifier).
weights : ndarray of shape (n_rows,) or None
    Sample weights (class weights included), in the parameters' dtype.
"""


def make_scorer_for(estimator):
    """The callable that scores a validation set, from ``estimator.scoring``.

    Returns None for ``scoring=None`` (the estimator's own ``score``) and for
    ``"loss"``; otherwise scikit-learn's scorer, built once per fit so that an
    unknown name fails before training starts.
    """
    if estimator.scoring is None or estimator.scoring == "loss":
        return None
    return check_scoring(estimator, scoring=estimator.scoring)


def validation_loss(estimator, validation):
    """Weighted mean data loss of the current parameters on ``validation``.

    Returns
    -------
    loss : numpy.float64
        The training loss's formula without its L2 term.
    outputs : ndarray of shape (n_rows, n_outputs)
        The output layer's activations it was computed from.
    """
    trainer = estimator._trainer
    outputs = trainer.predict(validation.X, n_jobs=estimator.n_jobs)
    return np.float64(trainer.data_loss(outputs, validation.Y, validation.weights)), outputs


def evaluate(estimator, validation, scorer):
    """Validation loss and score of the estimator's current parameters.

    Parameters
    ----------
    estimator : BaseMultilayerPerceptron
        Mid-fit; its trainer holds the parameters to evaluate.
    validation : ValidationSet
    scorer : callable or None
        From :func:`make_scorer_for`.

    Returns
    -------
    loss : numpy.float64
        Weighted mean data loss (the training loss without its L2 term).
    score : float
        Higher is better: accuracy or R² (``scoring=None``), minus the loss
        (``"loss"``), or the scorer's value.
    """
    loss, outputs = validation_loss(estimator, validation)
    if estimator.scoring is None:
        score = estimator._score_outputs(outputs, validation.y, validation.weights)
    elif scorer is None:
        score = -loss
    else:
        kwargs = {} if validation.weights is None else {"sample_weight": validation.weights}
        with warnings.catch_warnings():
            # The held-out rows are an array even when the model was fitted on
            # a DataFrame; that is expected here.
            warnings.filterwarnings("ignore", message="X does not have valid feature names")
            score = scorer(estimator, validation.X, validation.y, **kwargs)
    return loss, score
