"""Slow, obviously-correct NumPy reference of an MLP's forward and backward pass.

Definitions follow scikit-learn's ``neural_network/_base.py`` and
``BaseMultilayerPerceptron._backprop`` exactly, written for readability over
speed and without any fastmlp code:

- layer ``l``: ``z = a_prev @ coefs[l] + intercepts[l]``, ``a = f(z)``, with the
  hidden activation for every layer but the last and the output activation last;
- loss: the (weighted) mean data loss plus ``0.5 * alpha * sum ||coefs||**2 / W``
  where ``W`` is the sum of the sample weights (the row count without weights);
- output error: ``delta = w * (a_out - y)`` (exact for the canonical pairs
  identity/squared_error, exp/poisson, softmax/log_loss, logistic/binary_log_loss;
  scikit-learn uses it for the multi-output squared error too);
- gradients: ``(a_prev.T @ delta + alpha * coefs) / W`` and
  ``delta.sum(axis=0) / W``; ``delta_prev = (delta @ coefs.T) * f'(a_prev)``.

Flat parameter vectors follow scikit-learn's ``_pack``: every coefficient
matrix raveled row-major, then every intercept vector.
"""

import numpy as np
from scipy.special import erf

# --------------------------------------------------------------- activations


def identity(z):
    return z.copy()


def logistic(z):
    return 1.0 / (1.0 + np.exp(-z))


def tanh(z):
    return np.tanh(z)


def relu(z):
    return np.maximum(z, 0.0)


def leaky_relu(z):
    return np.where(z > 0, z, 0.01 * z)


def elu(z):
    return np.where(z > 0, z, np.expm1(np.minimum(z, 0.0)))


def swish(z):
    return z * logistic(z)


def gelu(z):
    return 0.5 * z * (1.0 + erf(z / np.sqrt(2.0)))


def softplus(z):
    return np.logaddexp(0.0, z)


def softmax(z):
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def exp(z):
    return np.exp(z)


ACTIVATIONS = {
    "identity": identity,
    "logistic": logistic,
    "tanh": tanh,
    "relu": relu,
    "leaky_relu": leaky_relu,
    "elu": elu,
    "swish": swish,
    "gelu": gelu,
    "softplus": softplus,
    "softmax": softmax,
    "exp": exp,
}

# Derivatives as functions of the pre-activation ``z``, written from the
# textbook formulas (the kernels mostly work from the output ``a`` instead).
DERIVATIVES = {
    "identity": lambda z: np.ones_like(z),
    "logistic": lambda z: logistic(z) * (1.0 - logistic(z)),
    "tanh": lambda z: 1.0 - np.tanh(z) ** 2,
    "relu": lambda z: (z > 0).astype(z.dtype),
    "leaky_relu": lambda z: np.where(z > 0, 1.0, 0.01),
    "elu": lambda z: np.where(z > 0, 1.0, np.exp(np.minimum(z, 0.0))),
    "swish": lambda z: logistic(z) + z * logistic(z) * (1.0 - logistic(z)),
    "gelu": lambda z: 0.5 * (1.0 + erf(z / np.sqrt(2.0)))
    + z * np.exp(-0.5 * z**2) / np.sqrt(2.0 * np.pi),
    "softplus": lambda z: logistic(z),
}

# ---------------------------------------------------------------------- losses


def _xlogy(x, y):
    """``x * log(y)`` with ``0 * log(0) = 0``."""
    x, y = np.broadcast_arrays(x, y)
    out = np.zeros(x.shape)
    nonzero = x != 0
    out[nonzero] = x[nonzero] * np.log(y[nonzero])
    return out


def _clip_probability(p):
    eps = np.finfo(p.dtype).eps
    return np.clip(p, eps, 1 - eps)


def squared_error(y, p, sample_weight=None):
    """``0.5 * mean over outputs of the weighted mean of (y - p)**2``."""
    return 0.5 * np.average((y - p) ** 2, weights=sample_weight, axis=0).mean()


def poisson(y, p, sample_weight=None):
    """Half Poisson deviance, summed over outputs."""
    per_entry = _xlogy(y, y / p) - y + p
    return np.average(per_entry, weights=sample_weight, axis=0).sum()


def log_loss(y, p, sample_weight=None):
    """Categorical cross-entropy of softmax outputs ``p`` (one column per class)."""
    per_entry = _xlogy(y, _clip_probability(p))
    return -np.average(per_entry, weights=sample_weight, axis=0).sum()


def binary_log_loss(y, p, sample_weight=None):
    """Binary cross-entropy of each logistic output, summed over outputs."""
    p = _clip_probability(p)
    per_entry = _xlogy(y, p) + _xlogy(1 - y, 1 - p)
    return -np.average(per_entry, weights=sample_weight, axis=0).sum()


LOSSES = {
    "squared_error": squared_error,
    "poisson": poisson,
    "log_loss": log_loss,
    "binary_log_loss": binary_log_loss,
}

# ------------------------------------------------------------------- network


def forward(X, coefs, intercepts, hidden_activation, output_activation):
    """Activations of every layer, input included.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
    coefs : list of ndarray of shape (fan_in, fan_out)
    intercepts : list of ndarray of shape (fan_out,)
    hidden_activation, output_activation : str
        Keys of :data:`ACTIVATIONS`.

    Returns
    -------
    activations : list of ndarray
        ``activations[0]`` is ``X``; ``activations[-1]`` the network's output.
    """
    activations = [X]
    n_weight_layers = len(coefs)
    for layer in range(n_weight_layers):
        z = activations[-1] @ coefs[layer] + intercepts[layer]
        last = layer == n_weight_layers - 1
        f = ACTIVATIONS[output_activation if last else hidden_activation]
        activations.append(f(z))
    return activations


def pre_activations(X, coefs, intercepts, hidden_activation):
    """Pre-activations ``z`` of every hidden layer (to keep relu off its kink)."""
    zs = []
    a = X
    for coef, intercept in zip(coefs[:-1], intercepts[:-1]):
        z = a @ coef + intercept
        zs.append(z)
        a = ACTIVATIONS[hidden_activation](z)
    return zs


def loss_and_gradient(X, Y, coefs, intercepts, hidden_activation, output_activation,
                      loss, alpha=0.0, sample_weight=None):
    """Penalised loss and its gradient with respect to every coef and intercept.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
    Y : ndarray of shape (n_samples, n_outputs)
    coefs, intercepts : list of ndarray
    hidden_activation, output_activation : str
    loss : str
        Key of :data:`LOSSES`.
    alpha : float
        L2 penalty.
    sample_weight : ndarray of shape (n_samples,) or None

    Returns
    -------
    loss : float
    coef_grads : list of ndarray, shapes of ``coefs``
    intercept_grads : list of ndarray, shapes of ``intercepts``
    """
    activations = forward(X, coefs, intercepts, hidden_activation, output_activation)
    zs = pre_activations(X, coefs, intercepts, hidden_activation)
    if sample_weight is None:
        weight_sum = X.shape[0]
        row_weight = np.ones((X.shape[0], 1))
    else:
        weight_sum = sample_weight.sum()
        row_weight = sample_weight.reshape(-1, 1)

    value = LOSSES[loss](Y, activations[-1], sample_weight)
    value += 0.5 * alpha * sum(np.sum(c**2) for c in coefs) / weight_sum

    n_weight_layers = len(coefs)
    coef_grads = [None] * n_weight_layers
    intercept_grads = [None] * n_weight_layers
    delta = (activations[-1] - Y) * row_weight
    for layer in range(n_weight_layers - 1, -1, -1):
        a_prev = activations[layer]
        coef_grads[layer] = (a_prev.T @ delta + alpha * coefs[layer]) / weight_sum
        intercept_grads[layer] = delta.sum(axis=0) / weight_sum
        if layer > 0:
            delta = (delta @ coefs[layer].T) * DERIVATIVES[hidden_activation](zs[layer - 1])
    return value, coef_grads, intercept_grads


# ------------------------------------------------------------- flat layout


def pack(coefs, intercepts):
    """Flat vector: all coefs raveled row-major, then all intercepts."""
    return np.concatenate([np.ravel(c) for c in coefs] + [np.ravel(b) for b in intercepts])


def unpack(flat, layer_units):
    """Inverse of :func:`pack` for a network with ``layer_units``."""
    coefs, intercepts = [], []
    start = 0
    for fan_in, fan_out in zip(layer_units[:-1], layer_units[1:]):
        coefs.append(flat[start:start + fan_in * fan_out].reshape(fan_in, fan_out))
        start += fan_in * fan_out
    for fan_out in layer_units[1:]:
        intercepts.append(flat[start:start + fan_out])
        start += fan_out
    assert start == flat.shape[0]
    return coefs, intercepts
