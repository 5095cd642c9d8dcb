"""Slow, obviously-correct NumPy reference of an MLP's forward and backward pass.

Definitions follow scikit-learn's ``neural_network/_base.py`` and
``BaseMultilayerPerceptron._backprop`` exactly, written for readability over
speed and without any fastmlp code:

- layer ``l``: ``z = a_prev @ coefs[l] + intercepts[l]``, ``a = f(z)``, with the
  hidden activation for every layer but the last and the output activation last
  (and fastmlp's additions: one activation per layer, Maxout layers, skip
  connections and dropout masks; see the network section);
- loss: the (weighted) mean data loss plus ``0.5 * alpha * sum ||coefs||**2 / W``
  where ``W`` is the sum of the sample weights (the row count without weights);
- output error: ``delta = w * (a_out - y)`` for the canonical pairs
  identity/squared_error, exp/poisson, softmax/log_loss, logistic/binary_log_loss
  (scikit-learn uses it for the multi-output squared error too); for the
  residual losses (squared_error, huber, absolute_error) on other outputs,
  ``w`` times the slope of the loss summed over outputs, times the output
  activation's Jacobian (see :func:`output_error`);
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


def huber(y, p, sample_weight=None, delta=1.0):
    """Mean over outputs of the weighted mean of the Huber function of ``y - p``."""
    r = np.abs(y - p)
    per_entry = np.where(r <= delta, 0.5 * r**2, delta * (r - 0.5 * delta))
    return np.average(per_entry, weights=sample_weight, axis=0).mean()


def absolute_error(y, p, sample_weight=None):
    """Mean over outputs of the weighted mean of ``|y - p|``."""
    return np.average(np.abs(y - p), weights=sample_weight, axis=0).mean()


LOSSES = {
    "squared_error": squared_error,
    "poisson": poisson,
    "log_loss": log_loss,
    "binary_log_loss": binary_log_loss,
    "huber": huber,
    "absolute_error": absolute_error,
}


def data_loss(loss, y, p, sample_weight=None, huber_delta=1.0):
    """The loss ``loss`` of outputs ``p`` (Huber's with ``huber_delta``)."""
    if loss == "huber":
        return huber(y, p, sample_weight, huber_delta)
    return LOSSES[loss](y, p, sample_weight)


CANONICAL_PAIRS = {("identity", "squared_error"), ("exp", "poisson"),
                   ("softmax", "log_loss"), ("logistic", "binary_log_loss")}

# Derivative with respect to ``p`` of each residual loss summed over outputs,
# as a function of ``e = p - y``: ``n_outputs`` times that of the loss itself,
# which averages over outputs (scikit-learn's convention for squared_error).
SLOPES = {
    "squared_error": lambda e, delta: e,
    "huber": lambda e, delta: np.clip(e, -delta, delta),
    "absolute_error": lambda e, delta: np.sign(e),
}
MEAN_OVER_OUTPUTS = set(SLOPES)


def output_error(Y, p, z, output_activation, loss, row_weight, huber_delta=1.0):
    """Error at the output pre-activation ``z`` (outputs ``p``, row weights ``(n, 1)``)."""
    if (output_activation, loss) in CANONICAL_PAIRS:
        return (p - Y) * row_weight
    g = SLOPES[loss](p - Y, huber_delta) * row_weight
    if output_activation == "softmax":
        # jacobians[i, k, j] = dp_ik / dz_ij = p_ik (1[k == j] - p_ij)
        jacobians = p[:, :, None] * (np.eye(p.shape[1]) - p[:, None, :])
        return np.einsum("ik,ikj->ij", g, jacobians)
    return g * DERIVATIVES[output_activation](z)

# ------------------------------------------------------------------- network
#
# Hidden layer ``k`` maps ``h_k`` to ``h_{k+1} = m_k * g_k + [h_k]``: ``g_k = f(z_k)``
# with ``z_k = h_k @ coefs[k] + intercepts[k]``, or for Maxout
# ``g_k[:, j] = max_p z_k[:, j * pieces + p]``; ``m_k`` the dropout mask (ones
# without dropout); ``[h_k]`` the skip connection, present when ``residual``
# and the widths of ``h_k`` and ``h_{k+1}`` agree.


def hidden_names(hidden_activation, n_hidden):
    """One activation name per hidden layer."""
    if isinstance(hidden_activation, str):
        return [hidden_activation] * n_hidden
    assert len(hidden_activation) == n_hidden
    return list(hidden_activation)


def _branch(z, name, pieces):
    if name == "maxout":
        return z.reshape(z.shape[0], -1, pieces).max(axis=2)
    return ACTIVATIONS[name](z)


def _has_skip(residual, h_in, h_out):
    return residual and h_in.shape[1] == h_out.shape[1]


def forward_with_preactivations(X, coefs, intercepts, hidden_activation, output_activation,
                                residual=False, pieces=2, masks=None):
    """Outputs ``h`` of every layer (``h[0] = X``) and pre-activations ``z``."""
    n_hidden = len(coefs) - 1
    names = hidden_names(hidden_activation, n_hidden)
    hs, zs = [X], []
    for k in range(n_hidden):
        z = hs[-1] @ coefs[k] + intercepts[k]
        g = _branch(z, names[k], pieces)
        h = g if masks is None else g * masks[k]
        if _has_skip(residual, hs[-1], h):
            h = h + hs[-1]
        zs.append(z)
        hs.append(h)
    z = hs[-1] @ coefs[-1] + intercepts[-1]
    zs.append(z)
    hs.append(ACTIVATIONS[output_activation](z))
    return hs, zs


def forward(X, coefs, intercepts, hidden_activation, output_activation, residual=False,
            pieces=2, masks=None):
    """Outputs of every layer, input included.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
    coefs : list of ndarray of shape (fan_in, fan_out)
    intercepts : list of ndarray of shape (fan_out,)
    hidden_activation : str or list of str
        Keys of :data:`ACTIVATIONS`, or 'maxout'; one for all or one per layer.
    output_activation : str
    residual : bool
    pieces : int
        Pieces per Maxout unit.
    masks : list of ndarray of shape (n_samples, units), optional
        Dropout mask of each hidden layer.

    Returns
    -------
    outputs : list of ndarray
        ``outputs[0]`` is ``X``; ``outputs[-1]`` the network's output.
    """
    return forward_with_preactivations(X, coefs, intercepts, hidden_activation,
                                       output_activation, residual, pieces, masks)[0]


def pre_activations(X, coefs, intercepts, hidden_activation, residual=False, pieces=2):
    """Pre-activations ``z`` of every hidden layer (to keep kinks out of reach)."""
    return forward_with_preactivations(X, coefs, intercepts, hidden_activation, "identity",
                                       residual, pieces)[1][:-1]


def _error_at_z(delta, z, name, pieces):
    """Error at the pre-activation from the error at the branch ``g``."""
    if name != "maxout":
        return delta * DERIVATIVES[name](z)
    n, width = z.shape
    grouped = z.reshape(n, width // pieces, pieces)
    winner = grouped.argmax(axis=2)  # the first largest piece
    out = np.zeros_like(grouped)
    rows, units = np.meshgrid(np.arange(n), np.arange(width // pieces), indexing="ij")
    out[rows, units, winner] = delta
    return out.reshape(n, width)


def loss_and_gradient(X, Y, coefs, intercepts, hidden_activation, output_activation,
                      loss, alpha=0.0, sample_weight=None, residual=False, pieces=2,
                      masks=None, huber_delta=1.0):
    """Penalised loss and its gradient with respect to every coef and intercept.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
    Y : ndarray of shape (n_samples, n_outputs)
    coefs, intercepts : list of ndarray
    hidden_activation, output_activation : see :func:`forward`
    loss : str
        Key of :data:`LOSSES`.
    alpha : float
        L2 penalty.
    sample_weight : ndarray of shape (n_samples,) or None
    residual, pieces, masks : see :func:`forward`
    huber_delta : float
        Huber's ``delta`` (``loss="huber"`` only).

    Returns
    -------
    loss : float
    coef_grads : list of ndarray, shapes of ``coefs``
    intercept_grads : list of ndarray, shapes of ``intercepts``
    """
    hs, zs = forward_with_preactivations(X, coefs, intercepts, hidden_activation,
                                         output_activation, residual, pieces, masks)
    names = hidden_names(hidden_activation, len(coefs) - 1)
    if sample_weight is None:
        weight_sum = X.shape[0]
        row_weight = np.ones((X.shape[0], 1))
    else:
        weight_sum = sample_weight.sum()
        row_weight = sample_weight.reshape(-1, 1)

    value = data_loss(loss, Y, hs[-1], sample_weight, huber_delta)
    value += 0.5 * alpha * sum(np.sum(c**2) for c in coefs) / weight_sum

    n_weight_layers = len(coefs)
    coef_grads = [None] * n_weight_layers
    intercept_grads = [None] * n_weight_layers
    delta_z = output_error(Y, hs[-1], zs[-1], output_activation, loss, row_weight,
                           huber_delta)
    delta_out = None  # error at the current layer's output h_{l+1}
    for layer in range(n_weight_layers - 1, -1, -1):
        coef_grads[layer] = (hs[layer].T @ delta_z + alpha * coefs[layer]) / weight_sum
        intercept_grads[layer] = delta_z.sum(axis=0) / weight_sum
        if layer == 0:
            break
        delta_in = delta_z @ coefs[layer].T
        if layer < n_weight_layers - 1 and _has_skip(residual, hs[layer], hs[layer + 1]):
            delta_in = delta_in + delta_out
        k = layer - 1  # the hidden layer that produced hs[layer]
        delta_g = delta_in if masks is None else delta_in * masks[k]
        delta_out = delta_in
        delta_z = _error_at_z(delta_g, zs[k], names[k], pieces)
    return value, coef_grads, intercept_grads


# --------------------------------------------------------------------- dropout

_GOLDEN_GAMMA = np.uint64(0x9E3779B97F4A7C15)
_MIX_1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX_2 = np.uint64(0x94D049BB133111EB)


def _uniform(seed, counters):
    """SplitMix64 of ``seed + (counter + 1) * golden``, top 53 bits as [0, 1)."""
    with np.errstate(over="ignore"):
        z = np.uint64(seed) + (counters.astype(np.uint64) + np.uint64(1)) * _GOLDEN_GAMMA
        z = (z ^ (z >> np.uint64(30))) * _MIX_1
        z = (z ^ (z >> np.uint64(27))) * _MIX_2
        z = z ^ (z >> np.uint64(31))
    return (z >> np.uint64(11)).astype(np.float64) / 2.0**53


def dropout_masks(seed, rate, positions, hidden_units, dtype=np.float64):
    """Masks of every hidden layer for rows at ``positions`` of the visiting order.

    Unit ``j`` of layer ``k`` at position ``r`` is kept when
    ``uniform(seed, r * sum(hidden_units) + sum(hidden_units[:k]) + j) >= rate``,
    and a kept unit is scaled by ``1 / (1 - rate)``.
    """
    positions = np.asarray(positions, dtype=np.int64).reshape(-1, 1)
    stride = sum(hidden_units)
    masks, base = [], 0
    for units in hidden_units:
        counters = positions * stride + base + np.arange(units)
        keep = _uniform(seed, counters) >= rate
        masks.append(np.where(keep, dtype(1.0 / (1.0 - rate)), dtype(0.0)).astype(dtype))
        base += units
    return masks


# ------------------------------------------------------------- flat layout


def pack(coefs, intercepts):
    """Flat vector: all coefs raveled row-major, then all intercepts."""
    return np.concatenate([np.ravel(c) for c in coefs] + [np.ravel(b) for b in intercepts])


def unpack(flat, layer_units, widths=None):
    """Inverse of :func:`pack` for a network with ``layer_units``.

    ``widths`` gives each weight layer's number of columns when it differs
    from its units (Maxout: ``units * pieces``).
    """
    coefs, intercepts = [], []
    start = 0
    widths = layer_units[1:] if widths is None else widths
    for fan_in, fan_out in zip(layer_units[:-1], widths):
        coefs.append(flat[start:start + fan_in * fan_out].reshape(fan_in, fan_out))
        start += fan_in * fan_out
    for fan_out in widths:
        intercepts.append(flat[start:start + fan_out])
        start += fan_out
    assert start == flat.shape[0]
    return coefs, intercepts
