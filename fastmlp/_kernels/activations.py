"""The activation table: every activation's code, formula and derivative, in one place.

Each row of :data:`ACTIVATIONS` names an activation and gives

- ``forward(z)``: the activation of one pre-activation value;
- ``backward(delta, s)``: the error at the pre-activation, ``delta * f'(z)``,
  from the error at the output and the stored value ``s``;
- ``derivative_of``: what ``s`` is: ``OUTPUT`` (``a = f(z)``; the derivative is
  written through it, as scikit-learn's ``DERIVATIVES`` are) or ``INPUT`` (``z``
  itself, for activations whose output does not determine their slope);
- ``hidden``: whether hidden layers may use it (softmax and exp are output
  activations only).

An activation's code is its row number. The estimators' parameter validation,
the trainer's workspace sizing, the kernels' dispatch (``literal_unroll`` over
the table, so each activation gets its own plain loop that LLVM vectorises) and
the tests' reference all read this table: adding an activation is one row here
and its two formulas.

Formulas (``z`` the pre-activation, ``a`` the activation):

- identity: ``a = z``, ``da/dz = 1``
- logistic: ``a = 1 / (1 + exp(-z))``, ``da/dz = a (1 - a)``
- tanh: ``a = tanh(z)``, ``da/dz = 1 - a**2``
- relu: ``a = max(z, 0)``, ``da/dz = 1 if a > 0 else 0``
- leaky_relu: ``a = z if z > 0 else 0.01 z``, ``da/dz = 1 if a > 0 else 0.01``
- elu (alpha = 1): ``a = z if z > 0 else exp(z) - 1``, ``da/dz = 1 if a > 0 else a + 1``
- swish (SiLU): ``a = z sigmoid(z)``, ``da/dz = s + z s (1 - s)`` with ``s = sigmoid(z)``
- gelu, exact (erf) form: ``a = z Phi(z) = 0.5 z (1 + erf(z / sqrt(2)))``,
  ``da/dz = Phi(z) + z phi(z)`` with ``phi`` the standard normal density
- softplus: ``a = log(1 + exp(z))``, ``da/dz = sigmoid(z) = 1 - exp(-a)``
- softmax (output only, row-wise): ``a_k = exp(z_k - max(z)) / sum_j exp(z_j - max(z))``
- exp (output only, Poisson loss): ``a = exp(z)``

Maxout is not an element-wise activation but a layer kind (see ``layout``).
"""

import math
from collections import namedtuple

from numba import literal_unroll, njit

OUTPUT = 0  # backward reads a = f(z)
INPUT = 1   # backward reads z

LEAKY_RELU_SLOPE = 0.01
INV_SQRT_2 = 1.0 / math.sqrt(2.0)
INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)

_scalar = njit(cache=True, nogil=True, error_model="numpy")


@_scalar
def identity(z):
    return z


@_scalar
def identity_backward(delta, a):
    return delta


@_scalar
def logistic(z):
    return 1.0 / (1.0 + math.exp(-z))


@_scalar
def logistic_backward(delta, a):
    return delta * a * (1.0 - a)


@_scalar
def tanh(z):
    return math.tanh(z)


@_scalar
def tanh_backward(delta, a):
    return delta * (1.0 - a * a)


@_scalar
def relu(z):
    return z if z > 0 else 0.0


@_scalar
def relu_backward(delta, a):
    return delta if a > 0 else 0.0


@_scalar
def leaky_relu(z):
    return z if z > 0 else LEAKY_RELU_SLOPE * z


@_scalar
def leaky_relu_backward(delta, a):
    return delta if a > 0 else delta * LEAKY_RELU_SLOPE


@_scalar
def elu(z):
    return z if z > 0 else math.expm1(z)


@_scalar
def elu_backward(delta, a):
    return delta if a > 0 else delta * (a + 1.0)


@_scalar
def swish(z):
    return z / (1.0 + math.exp(-z))


@_scalar
def swish_backward(delta, z):
    s = 1.0 / (1.0 + math.exp(-z))
    return delta * (s + z * s * (1.0 - s))


@_scalar
def gelu(z):
    return 0.5 * z * (1.0 + math.erf(z * INV_SQRT_2))


@_scalar
def gelu_backward(delta, z):
    cdf = 0.5 * (1.0 + math.erf(z * INV_SQRT_2))
    pdf = INV_SQRT_2PI * math.exp(-0.5 * z * z)
    return delta * (cdf + z * pdf)


@_scalar
def softplus(z):
    return max(z, 0.0) + math.log1p(math.exp(-abs(z)))


@_scalar
def softplus_backward(delta, a):
    return delta * -math.expm1(-a)


@_scalar
def exp(z):
    return math.exp(z)


Activation = namedtuple("Activation", ["name", "forward", "backward", "derivative_of", "hidden"])

ACTIVATIONS = (
    Activation("identity", identity, identity_backward, OUTPUT, True),
    Activation("logistic", logistic, logistic_backward, OUTPUT, True),
    Activation("tanh", tanh, tanh_backward, OUTPUT, True),
    Activation("relu", relu, relu_backward, OUTPUT, True),
    Activation("softmax", None, None, OUTPUT, False),
    Activation("exp", exp, None, OUTPUT, False),
    Activation("leaky_relu", leaky_relu, leaky_relu_backward, OUTPUT, True),
    Activation("elu", elu, elu_backward, OUTPUT, True),
    Activation("swish", swish, swish_backward, INPUT, True),
    Activation("gelu", gelu, gelu_backward, INPUT, True),
    Activation("softplus", softplus, softplus_backward, OUTPUT, True),
)

CODES = {activation.name: code for code, activation in enumerate(ACTIVATIONS)}
HIDDEN_ACTIVATIONS = tuple(a.name for a in ACTIVATIONS if a.hidden)
IDENTITY = CODES["identity"]
SOFTMAX = CODES["softmax"]

# What the kernels unroll over: (code, formula) pairs of the element-wise rows.
_FORWARDS = tuple((code, a.forward) for code, a in enumerate(ACTIVATIONS)
                  if a.forward is not None)
_BACKWARDS = tuple((code, a.backward) for code, a in enumerate(ACTIVATIONS)
                   if a.backward is not None)


def code_of(name):
    """Run-time code of the activation ``name``."""
    return CODES[name]


def backward_reads_input(name):
    """Whether the derivative of ``name`` is written through ``z`` rather than ``a``."""
    return ACTIVATIONS[CODES[name]].derivative_of == INPUT


@njit(cache=True, nogil=True, error_model="numpy")
def activate(code, z, bias, n_rows, keep_z, out):
    """``out = f(z + bias)`` on the first ``n_rows`` rows; ``out`` may be ``z``.

    Parameters
    ----------
    code : int
        Row of :data:`ACTIVATIONS`.
    z : ndarray of shape (>= n_rows, n_units)
        Products ``A_prev @ W``. With ``keep_z`` it is overwritten with
        ``z + bias`` (for the backward pass of activations that read ``z``).
    bias : ndarray of shape (n_units,)
    n_rows : int
    keep_z : bool
    out : ndarray of shape (>= n_rows, n_units)
        Receives the activations; the same array as ``z`` for in-place use.
    """
    n_units = z.shape[1]
    if code == SOFTMAX:
        for i in range(n_rows):
            row_max = z[i, 0] + bias[0]
            for j in range(n_units):
                v = z[i, j] + bias[j]
                if keep_z:
                    z[i, j] = v
                out[i, j] = v
                if v > row_max:
                    row_max = v
            total = 0.0
            for j in range(n_units):
                e = math.exp(out[i, j] - row_max)
                out[i, j] = e
                total += e
            for j in range(n_units):
                out[i, j] = out[i, j] / total
        return
    for entry in literal_unroll(_FORWARDS):
        if entry[0] == code:
            forward = entry[1]
            if keep_z:
                for i in range(n_rows):
                    for j in range(n_units):
                        v = z[i, j] + bias[j]
                        z[i, j] = v
                        out[i, j] = forward(v)
            else:
                for i in range(n_rows):
                    for j in range(n_units):
                        out[i, j] = forward(z[i, j] + bias[j])


@njit(cache=True, nogil=True, error_model="numpy")
def backpropagate(code, delta, stored, n_rows, out):
    """``out = delta * f'(z)`` on the first ``n_rows`` rows; ``out`` may be ``delta``.

    Parameters
    ----------
    code : int
        Row of :data:`ACTIVATIONS` (a hidden activation).
    delta : ndarray of shape (>= n_rows, n_units)
        Error at the activation's output.
    stored : ndarray of shape (>= n_rows, n_units)
        ``a`` or ``z``, as the row's ``derivative_of`` says.
    n_rows : int
    out : ndarray of shape (>= n_rows, n_units)
        Receives the error at the pre-activation.
    """
    n_units = delta.shape[1]
    for entry in literal_unroll(_BACKWARDS):
        if entry[0] == code:
            backward = entry[1]
            for i in range(n_rows):
                for j in range(n_units):
                    out[i, j] = backward(delta[i, j], stored[i, j])
