"""Fitted fastmlp estimators as the equivalent fitted scikit-learn estimators."""

import copy

import numpy as np
from sklearn.base import is_classifier
from sklearn.neural_network import MLPClassifier, MLPRegressor
from sklearn.neural_network._stochastic_optimizers import (
    AdamOptimizer as SklearnAdam,
    SGDOptimizer as SklearnSGD,
)
from sklearn.utils.validation import check_is_fitted

from .._optimizers import AdamOptimizer, SGDOptimizer
from ._network import MAXOUT, hidden_layers

SKLEARN_ACTIVATIONS = ("identity", "logistic", "tanh", "relu")
# scikit-learn's regressor loss for each output activation; fastmlp's other
# losses (training only) share the identity output of 'squared_error'.
SKLEARN_REGRESSOR_LOSSES = {"identity": "squared_error", "exp": "poisson"}
FITTED_ATTRIBUTES = (
    "n_features_in_", "feature_names_in_", "n_outputs_", "n_layers_", "out_activation_",
    "classes_", "_label_binarizer", "loss_", "best_loss_", "loss_curve_",
    "validation_scores_", "best_validation_score_", "t_", "n_iter_",
    "_no_improvement_count",
)


def to_sklearn(estimator):
    """The fitted scikit-learn estimator that predicts as ``estimator`` does.

    Returns a :class:`sklearn.neural_network.MLPClassifier` or
    :class:`~sklearn.neural_network.MLPRegressor` with independent copies of
    the weights (in the model's dtype) and of every fitted attribute
    scikit-learn reads, so that its ``predict`` and ``predict_proba`` equal
    fastmlp's to round-off, and ``partial_fit`` or a ``warm_start`` fit
    continue from the same weights (``partial_fit`` with the same optimizer
    state).

    The returned estimator has scikit-learn's parameters only, copied from
    ``estimator.get_params()`` (``hidden_layer_sizes`` and ``activation`` as
    the fitted network has them). What fastmlp adds for training alone is not
    carried over: after ``dropout`` or a loss scikit-learn lacks (the
    regressor gets the loss of its output activation: 'squared_error' for
    identity, 'poisson' for exp), the weights are exported as trained, and
    refitting the returned estimator trains scikit-learn's way.

    Parameters
    ----------
    estimator : fastmlp.MLPClassifier or fastmlp.MLPRegressor
        A fitted estimator.

    Returns
    -------
    sklearn_estimator : sklearn.neural_network.MLPClassifier or MLPRegressor

    Raises
    ------
    sklearn.exceptions.NotFittedError
        If ``estimator`` is not fitted.
    ValueError
        If its forward pass has no scikit-learn equivalent: Maxout layers, an
        activation scikit-learn lacks, hidden layers with different
        activations, or skip connections (``residual=True`` with a layer whose
        input and output widths agree).
    """
    check_is_fitted(estimator)
    activation = _sklearn_activation(estimator)
    sklearn_class = MLPClassifier if is_classifier(estimator) else MLPRegressor
    model = sklearn_class(**_sklearn_params(estimator, sklearn_class, activation))

    dtype = np.result_type(*estimator.coefs_)
    model.coefs_ = [np.array(c, dtype=dtype, order="C") for c in estimator.coefs_]
    model.intercepts_ = [np.array(b, dtype=dtype, order="C") for b in estimator.intercepts_]
    for name in FITTED_ATTRIBUTES:
        if hasattr(estimator, name):
            setattr(model, name, copy.deepcopy(getattr(estimator, name)))
    # scikit-learn's early stopping returns to these; the weights exported are
    # already the best ones when fastmlp stopped early.
    model._best_coefs = [c.copy() for c in model.coefs_]
    model._best_intercepts = [b.copy() for b in model.intercepts_]
    optimizer = _sklearn_optimizer(getattr(estimator, "_optimizer", None), model)
    if optimizer is not None:
        model._optimizer = optimizer
    return model


def _sklearn_activation(estimator):
    """scikit-learn's single ``activation`` for the fitted hidden layers.

    Raises ValueError, naming the feature, where there is none.
    """
    layers = hidden_layers(estimator)
    names = [layer.activation for layer in layers]
    if MAXOUT in names:
        raise ValueError(
            "Maxout layers (activation='maxout') have no scikit-learn equivalent; "
            "scikit-learn's MLPs have one affine map per unit."
        )
    lacking = [name for name in names if name not in SKLEARN_ACTIVATIONS]
    if lacking:
        raise ValueError(
            f"activation {lacking[0]!r} has no scikit-learn equivalent; scikit-learn's "
            f"MLPs support {', '.join(repr(a) for a in SKLEARN_ACTIVATIONS)}."
        )
    if len(set(names)) > 1:
        raise ValueError(
            f"The hidden layers use different activations {names}; scikit-learn's MLPs "
            "use one activation for every hidden layer."
        )
    skipping = [l for l, layer in enumerate(layers) if layer.skip]
    if skipping:
        raise ValueError(
            f"residual=True gives hidden layer(s) {skipping} a skip connection "
            "(h_next = f(h W + b) + h), which scikit-learn's MLPs do not have."
        )
    if names:
        return names[0]
    # No hidden layer: the activation only sets the initialisation of a refit.
    return estimator.activation if estimator.activation in SKLEARN_ACTIVATIONS else "relu"


def _sklearn_params(estimator, sklearn_class, activation):
    """The estimator's parameters that ``sklearn_class`` has, copied as ``clone`` does."""
    names = sklearn_class._get_param_names()
    params = {name: copy.deepcopy(value)
              for name, value in estimator.get_params(deep=False).items() if name in names}
    params["activation"] = activation
    params["hidden_layer_sizes"] = tuple(layer.units for layer in hidden_layers(estimator))
    if "loss" in names:
        params["loss"] = SKLEARN_REGRESSOR_LOSSES[estimator.out_activation_]
    return params


def _sklearn_optimizer(optimizer, model):
    """scikit-learn's optimizer in the state of fastmlp's ``optimizer``, or None.

    fastmlp keeps an optimizer's per-parameter state in its flat parameter
    layout, scikit-learn's ``_pack`` order (every coefficient matrix, then
    every intercept vector); scikit-learn keeps one array per weight array.
    """
    if not isinstance(optimizer, (AdamOptimizer, SGDOptimizer)):
        return None
    params = model.coefs_ + model.intercepts_

    def unpacked(flat):
        arrays, start = [], 0
        for param in params:
            arrays.append(np.array(flat[start:start + param.size], dtype=param.dtype)
                          .reshape(param.shape))
            start += param.size
        return arrays

    if isinstance(optimizer, AdamOptimizer):
        result = SklearnAdam(params, optimizer.learning_rate_init, optimizer.beta_1,
                             optimizer.beta_2, optimizer.epsilon)
        result.t = int(optimizer.step[0])
        result.ms = unpacked(optimizer.state[0])
        result.vs = unpacked(optimizer.state[1])
    else:
        result = SklearnSGD(params, optimizer.learning_rate_init, optimizer.lr_schedule,
                            optimizer.momentum, optimizer.nesterov, optimizer.power_t)
        result.velocities = unpacked(optimizer.state[0])
    result.learning_rate = float(optimizer.learning_rate)
    return result
