"""Activation functions and their derivatives, fused with neighbouring work.

Each function branches once on the activation code and then runs a plain loop,
so LLVM sees one simple loop body per activation and can vectorise it.

Formulas (``z`` is the pre-activation, ``a`` the activation):

- identity: ``a = z``, ``da/dz = 1``
- logistic: ``a = 1 / (1 + exp(-z))``, ``da/dz = a (1 - a)``
- tanh: ``a = tanh(z)``, ``da/dz = 1 - a**2``
- relu: ``a = max(z, 0)``, ``da/dz = 1 if a > 0 else 0``
- leaky_relu: ``a = z if z > 0 else 0.01 z``, ``da/dz = 1 if a > 0 else 0.01``
- elu (alpha = 1): ``a = z if z > 0 else exp(z) - 1``, ``da/dz = 1 if a > 0 else a + 1``
- softplus: ``a = log(1 + exp(z))``, ``da/dz = sigmoid(z) = 1 - exp(-a)``
- swish (SiLU): ``a = z sigmoid(z)``, ``da/dz = s + z s (1 - s)`` with ``s = sigmoid(z)``
- gelu, exact (erf) form: ``a = z Phi(z) = 0.5 z (1 + erf(z / sqrt(2)))``,
  ``da/dz = Phi(z) + z phi(z)`` with ``phi`` the standard normal density
- softmax (output only): ``a_k = exp(z_k - max(z)) / sum_j exp(z_j - max(z))``
- exp (output only, Poisson loss): ``a = exp(z)``

Derivatives are taken from the activation's output where it determines them;
swish and gelu are not invertible, so their forward pass also keeps ``z``.
"""

import math

from numba import njit

from .._config import (
    ELU,
    EXP,
    GELU,
    IDENTITY,
    LEAKY_RELU,
    LEAKY_RELU_SLOPE,
    LOGISTIC,
    RELU,
    SOFTMAX,
    SOFTPLUS,
    SWISH,
    TANH,
)

INV_SQRT_2 = 1.0 / math.sqrt(2.0)
INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)


@njit(cache=True, nogil=True, error_model="numpy")
def needs_preactivation(code):
    """Whether the derivative of activation ``code`` needs ``z`` (not just ``a``)."""
    return code == SWISH or code == GELU


@njit(cache=True, nogil=True, error_model="numpy")
def add_bias_and_activate(code, z, bias, n_rows, preact):
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
    preact : ndarray of shape (>= n_rows, n_units)
        Receives ``z + bias`` for the activations that need it
        (``needs_preactivation``); untouched otherwise.
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
    elif code == LEAKY_RELU:
        for i in range(n_rows):
            for j in range(n_units):
                v = z[i, j] + bias[j]
                z[i, j] = v if v > 0 else LEAKY_RELU_SLOPE * v
    elif code == ELU:
        for i in range(n_rows):
            for j in range(n_units):
                v = z[i, j] + bias[j]
                z[i, j] = v if v > 0 else math.expm1(v)
    elif code == SOFTPLUS:
        for i in range(n_rows):
            for j in range(n_units):
                v = z[i, j] + bias[j]
                z[i, j] = max(v, 0.0) + math.log1p(math.exp(-abs(v)))
    elif code == SWISH:
        for i in range(n_rows):
            for j in range(n_units):
                v = z[i, j] + bias[j]
                preact[i, j] = v
                z[i, j] = v / (1.0 + math.exp(-v))
    elif code == GELU:
        for i in range(n_rows):
            for j in range(n_units):
                v = z[i, j] + bias[j]
                preact[i, j] = v
                z[i, j] = 0.5 * v * (1.0 + math.erf(v * INV_SQRT_2))
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
def multiply_by_derivative(code, activation, preact, delta, n_rows):
    """Multiply ``delta`` in place by the activation's derivative.

    The derivative is expressed through the activation's output where it can
    be, as in scikit-learn's ``DERIVATIVES`` table, else through ``preact``.

    Parameters
    ----------
    code : int
        Hidden activation code.
    activation : ndarray of shape (>= n_rows, n_units)
        Output of the activation in the forward pass.
    preact : ndarray of shape (>= n_rows, n_units)
        Pre-activations, read only when ``needs_preactivation(code)``.
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
    elif code == LEAKY_RELU:
        for i in range(n_rows):
            for j in range(n_units):
                if not activation[i, j] > 0.0:
                    delta[i, j] = delta[i, j] * LEAKY_RELU_SLOPE
    elif code == ELU:
        for i in range(n_rows):
            for j in range(n_units):
                a = activation[i, j]
                if not a > 0.0:
                    delta[i, j] = delta[i, j] * (a + 1.0)
    elif code == SOFTPLUS:
        for i in range(n_rows):
            for j in range(n_units):
                delta[i, j] = delta[i, j] * -math.expm1(-activation[i, j])
    elif code == SWISH:
        for i in range(n_rows):
            for j in range(n_units):
                v = preact[i, j]
                sig = 1.0 / (1.0 + math.exp(-v))
                delta[i, j] = delta[i, j] * (sig + v * sig * (1.0 - sig))
    elif code == GELU:
        for i in range(n_rows):
            for j in range(n_units):
                v = preact[i, j]
                cdf = 0.5 * (1.0 + math.erf(v * INV_SQRT_2))
                pdf = INV_SQRT_2PI * math.exp(-0.5 * v * v)
                delta[i, j] = delta[i, j] * (cdf + v * pdf)
