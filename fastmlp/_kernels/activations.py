"""Activation functions and their derivatives, fused with neighbouring work.

Each function branches once on the activation code and then runs a plain loop,
so LLVM sees one simple loop body per activation and can vectorise it.

Formulas (``z`` is the pre-activation, ``a`` the activation):

- identity: ``a = z``, ``da/dz = 1``
- logistic: ``a = 1 / (1 + exp(-z))``, ``da/dz = a (1 - a)``
- tanh: ``a = tanh(z)``, ``da/dz = 1 - a**2``
- relu: ``a = max(z, 0)``, ``da/dz = 1 if a > 0 else 0``
- softmax (output only): ``a_k = exp(z_k - max(z)) / sum_j exp(z_j - max(z))``
- exp (output only, Poisson loss): ``a = exp(z)``
"""

import math

from numba import njit

from .._config import EXP, IDENTITY, LOGISTIC, RELU, SOFTMAX, TANH


@njit(cache=True, nogil=True, error_model="numpy")
def add_bias_and_activate(code, z, bias, n_rows):
    """Add ``bias`` to each of the first ``n_rows`` rows of ``z`` and activate in place.

    Parameters
    ----------
    code : int
        Activation code from ``fastmlp._config``.
    z : ndarray of shape (>= n_rows, n_units)
        Products ``A_prev @ W``; overwritten with the activations.
    bias : ndarray of shape (n_units,)
        Intercepts of the layer.
    n_rows : int
        Number of rows of ``z`` in use.
    """
    n_units = z.shape[1]
    if code == IDENTITY:
        for i in range(n_rows):
            for j in range(n_units):
                z[i, j] = z[i, j] + bias[j]
    elif code == RELU:
        for i in range(n_rows):
            for j in range(n_units):
                v = z[i, j] + bias[j]
                z[i, j] = v if v > 0 else 0.0
    elif code == TANH:
        for i in range(n_rows):
            for j in range(n_units):
                z[i, j] = math.tanh(z[i, j] + bias[j])
    elif code == LOGISTIC:
        for i in range(n_rows):
            for j in range(n_units):
                z[i, j] = 1.0 / (1.0 + math.exp(-(z[i, j] + bias[j])))
    elif code == EXP:
        for i in range(n_rows):
            for j in range(n_units):
                z[i, j] = math.exp(z[i, j] + bias[j])
    elif code == SOFTMAX:
        for i in range(n_rows):
            row_max = z[i, 0] + bias[0]
            for j in range(n_units):
                v = z[i, j] + bias[j]
                z[i, j] = v
                if v > row_max:
                    row_max = v
            total = 0.0
            for j in range(n_units):
                e = math.exp(z[i, j] - row_max)
                z[i, j] = e
                total += e
            for j in range(n_units):
                z[i, j] = z[i, j] / total


@njit(cache=True, nogil=True, error_model="numpy")
def multiply_by_derivative(code, activation, delta, n_rows):
    """Multiply ``delta`` in place by the activation's derivative.

    The derivative is expressed through the activation's output, as in
    scikit-learn's ``DERIVATIVES`` table.

    Parameters
    ----------
    code : int
        Hidden activation code (identity, logistic, tanh or relu).
    activation : ndarray of shape (>= n_rows, n_units)
        Output of the activation in the forward pass.
    delta : ndarray of shape (>= n_rows, n_units)
        Back-propagated error, overwritten.
    n_rows : int
        Number of rows in use.
    """
    n_units = delta.shape[1]
    if code == RELU:
        for i in range(n_rows):
            for j in range(n_units):
                if activation[i, j] == 0.0:
                    delta[i, j] = 0.0
    elif code == TANH:
        for i in range(n_rows):
            for j in range(n_units):
                a = activation[i, j]
                delta[i, j] = delta[i, j] * (1.0 - a * a)
    elif code == LOGISTIC:
        for i in range(n_rows):
            for j in range(n_units):
                a = activation[i, j]
                delta[i, j] = delta[i, j] * a * (1.0 - a)
