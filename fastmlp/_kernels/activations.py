"""The activation table: every activation's code, formula and derivative, in one place.

Each row of :data:`ACTIVATIONS` names an activation and gives

- ``forward(z)``: the activation of one pre-activation value;
- ``backward(delta, s)``: the error at the pre-activation, ``delta * f'(z)``,
  from the error at the output and the stored value ``s``;
- ``derivative_of``: what ``s`` is: ``OUTPUT`` (``a = f(z)``; the derivative is
  written through it, as scikit-learn's ``DERIVATIVES`` are) or ``INPUT`` (``z``
  itself, for activations whose output does not determine their slope);
- ``hidden``: whether hidden layers may use it (softmax and exp are output
  activations only);
- ``forward_block``, ``backward_block``: the same formulas over a block of
  rows, which the kernels call. Element-wise rows map their scalar formula in
  one fused loop; rows whose scalar form is a slow libm call per element use
  the vector ``exp``/``expm1``/``log1p``/``tanh``/``erf`` of ``vector_math``.
  Output-only rows have no ``backward_block``. The tests hold every block form
  to the NumPy reference.

An activation's code is its row number. The estimators' parameter validation,
the trainer's workspace sizing, the kernels' dispatch and the tests' reference
all read this table: adding an activation is one row here and its formulas.
The kernels dispatch through a run-time table (``tables``): a network's
activations are compiled when the trainer first prepares them (:func:`prepare`),
and no kernel holds the code of the others.

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

from numba import njit

from .jit import internal
from .tables import FunctionTable
from .vector_math import ERF, EXP, EXPM1, LOG1P, TANH, apply_inplace

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


# Block forms: the same formulas over a block of rows, with the transcendental
# part through the vector functions of ``vector_math`` (a libm call per element
# costs 20 ns; a vector call 0.4 ns per element). ``out`` and ``delta`` hold
# ``n_rows`` contiguous rows (the kernels' row blocks); ``scratch`` is a flat
# array of at least ``2 * n_rows * n_units`` values that the call may overwrite.


@internal()
def same_memory(a, b):
    """Whether arrays ``a`` and ``b`` start at the same address.

    The block forms run in place (``out`` is ``z``, or ``delta``) as often
    as not. LLVM vectorises a loop that reads one array and writes another
    only after a run-time test that they do not overlap, which an in-place
    call fails: the loop then runs scalar, four times slower (relu on a
    250 x 100 float32 block: 8.1 us against 2.0). So each form writes in
    place through the array it reads.
    """
    return a.ctypes.data == b.ctypes.data


@internal()
def _biased(z, bias, n_rows, keep_z, out):
    """``out = z + bias`` (and ``z = out`` with ``keep_z``); returns ``out`` flat."""
    n_units = z.shape[1]
    if same_memory(out, z):
        for i in range(n_rows):
            for j in range(n_units):
                z[i, j] += bias[j]
        return out.reshape(out.shape[0] * n_units), n_rows * n_units
    for i in range(n_rows):
        for j in range(n_units):
            v = z[i, j] + bias[j]
            if keep_z:
                z[i, j] = v
            out[i, j] = v
    return out.reshape(out.shape[0] * n_units), n_rows * n_units


@internal()
def _flat(a, n_rows):
    return a.reshape(a.shape[0] * a.shape[1]), n_rows * a.shape[1]


@internal()
def logistic_block(z, bias, n_rows, keep_z, out, scratch):
    a, n = _biased(z, bias, n_rows, keep_z, out)
    for k in range(n):
        a[k] = -a[k]
    apply_inplace(EXP, a, n)
    for k in range(n):
        a[k] = 1.0 / (1.0 + a[k])


@internal()
def tanh_block(z, bias, n_rows, keep_z, out, scratch):
    a, n = _biased(z, bias, n_rows, keep_z, out)
    apply_inplace(TANH, a, n)


@internal()
def exp_block(z, bias, n_rows, keep_z, out, scratch):
    a, n = _biased(z, bias, n_rows, keep_z, out)
    apply_inplace(EXP, a, n)


@internal()
def elu_block(z, bias, n_rows, keep_z, out, scratch):
    a, n = _biased(z, bias, n_rows, keep_z, out)
    for k in range(n):
        scratch[k] = min(a[k], 0.0)
    apply_inplace(EXPM1, scratch, n)
    for k in range(n):
        a[k] = a[k] if a[k] > 0 else scratch[k]


@internal()
def softplus_block(z, bias, n_rows, keep_z, out, scratch):
    a, n = _biased(z, bias, n_rows, keep_z, out)
    for k in range(n):
        scratch[k] = -abs(a[k])
    apply_inplace(EXP, scratch, n)
    apply_inplace(LOG1P, scratch, n)
    for k in range(n):
        a[k] = max(a[k], 0.0) + scratch[k]


@internal()
def swish_block(z, bias, n_rows, keep_z, out, scratch):
    a, n = _biased(z, bias, n_rows, keep_z, out)
    for k in range(n):
        scratch[k] = -a[k]
    apply_inplace(EXP, scratch, n)
    for k in range(n):
        a[k] = a[k] / (1.0 + scratch[k])


@internal()
def gelu_block(z, bias, n_rows, keep_z, out, scratch):
    a, n = _biased(z, bias, n_rows, keep_z, out)
    for k in range(n):
        scratch[k] = a[k] * INV_SQRT_2
    apply_inplace(ERF, scratch, n)
    for k in range(n):
        a[k] = 0.5 * a[k] * (1.0 + scratch[k])


@internal()
def swish_backward_block(delta, z, n_rows, out, scratch):
    d, n = _flat(delta, n_rows)
    zs, _ = _flat(z, n_rows)
    o, _ = _flat(out, n_rows)
    for k in range(n):
        scratch[k] = -zs[k]
    apply_inplace(EXP, scratch, n)
    if same_memory(out, delta):
        for k in range(n):
            s = 1.0 / (1.0 + scratch[k])
            d[k] = d[k] * (s + zs[k] * s * (1.0 - s))
        return
    for k in range(n):
        s = 1.0 / (1.0 + scratch[k])
        o[k] = d[k] * (s + zs[k] * s * (1.0 - s))


@internal()
def gelu_backward_block(delta, z, n_rows, out, scratch):
    d, n = _flat(delta, n_rows)
    zs, _ = _flat(z, n_rows)
    o, _ = _flat(out, n_rows)
    cdf = scratch[:n]
    pdf = scratch[n:2 * n]
    for k in range(n):
        cdf[k] = zs[k] * INV_SQRT_2
        pdf[k] = -0.5 * zs[k] * zs[k]
    apply_inplace(ERF, cdf, n)
    apply_inplace(EXP, pdf, n)
    if same_memory(out, delta):
        for k in range(n):
            d[k] = d[k] * (0.5 * (1.0 + cdf[k]) + zs[k] * INV_SQRT_2PI * pdf[k])
        return
    for k in range(n):
        o[k] = d[k] * (0.5 * (1.0 + cdf[k]) + zs[k] * INV_SQRT_2PI * pdf[k])


@internal()
def softplus_backward_block(delta, a, n_rows, out, scratch):
    d, n = _flat(delta, n_rows)
    av, _ = _flat(a, n_rows)
    o, _ = _flat(out, n_rows)
    for k in range(n):
        scratch[k] = -av[k]
    apply_inplace(EXPM1, scratch, n)
    if same_memory(out, delta):
        for k in range(n):
            d[k] = d[k] * -scratch[k]
        return
    for k in range(n):
        o[k] = d[k] * -scratch[k]


# The element-wise rows: one fused loop over the block per formula, which LLVM
# vectorises. The formula is a compile-time argument; the maps are inlined as
# Numba IR, because passing a compiled function as a value would embed its
# process-local address, and Numba cannot cache such code.


@internal(inline="always")
def map_forward(forward, z, bias, n_rows, keep_z, out):
    """``out = forward(z + bias)`` element-wise (and ``z = z + bias`` with ``keep_z``)."""
    n_units = z.shape[1]
    if same_memory(out, z):  # keep_z is then moot (an identity: Maxout)
        for i in range(n_rows):
            for j in range(n_units):
                z[i, j] = forward(z[i, j] + bias[j])
    elif keep_z:
        for i in range(n_rows):
            for j in range(n_units):
                v = z[i, j] + bias[j]
                z[i, j] = v
                out[i, j] = forward(v)
    else:
        for i in range(n_rows):
            for j in range(n_units):
                out[i, j] = forward(z[i, j] + bias[j])


@internal(inline="always")
def map_backward(backward, delta, stored, n_rows, out):
    """``out = backward(delta, stored)`` element-wise."""
    n_units = delta.shape[1]
    if same_memory(out, delta):
        for i in range(n_rows):
            for j in range(n_units):
                delta[i, j] = backward(delta[i, j], stored[i, j])
        return
    for i in range(n_rows):
        for j in range(n_units):
            out[i, j] = backward(delta[i, j], stored[i, j])


@internal()
def identity_block(z, bias, n_rows, keep_z, out, scratch):
    map_forward(identity, z, bias, n_rows, keep_z, out)


@internal()
def relu_block(z, bias, n_rows, keep_z, out, scratch):
    map_forward(relu, z, bias, n_rows, keep_z, out)


@internal()
def leaky_relu_block(z, bias, n_rows, keep_z, out, scratch):
    map_forward(leaky_relu, z, bias, n_rows, keep_z, out)


@internal()
def softmax_block(z, bias, n_rows, keep_z, out, scratch):
    n_units = z.shape[1]
    for i in range(n_rows):
        row_max = z[i, 0] + bias[0]
        for j in range(n_units):
            v = z[i, j] + bias[j]
            if keep_z:
                z[i, j] = v
            out[i, j] = v
            if v > row_max:
                row_max = v
        for j in range(n_units):
            out[i, j] = out[i, j] - row_max
    # One vector exp over the whole block: rows are narrower than a vector.
    apply_inplace(EXP, out.reshape(out.shape[0] * n_units), n_rows * n_units)
    for i in range(n_rows):
        total = 0.0
        for j in range(n_units):
            total += out[i, j]
        for j in range(n_units):
            out[i, j] = out[i, j] / total


@internal()
def identity_backward_block(delta, stored, n_rows, out, scratch):
    map_backward(identity_backward, delta, stored, n_rows, out)


@internal()
def logistic_backward_block(delta, stored, n_rows, out, scratch):
    map_backward(logistic_backward, delta, stored, n_rows, out)


@internal()
def tanh_backward_block(delta, stored, n_rows, out, scratch):
    map_backward(tanh_backward, delta, stored, n_rows, out)


@internal()
def relu_backward_block(delta, stored, n_rows, out, scratch):
    map_backward(relu_backward, delta, stored, n_rows, out)


@internal()
def leaky_relu_backward_block(delta, stored, n_rows, out, scratch):
    map_backward(leaky_relu_backward, delta, stored, n_rows, out)


@internal()
def elu_backward_block(delta, stored, n_rows, out, scratch):
    map_backward(elu_backward, delta, stored, n_rows, out)


Activation = namedtuple("Activation", ["name", "forward", "backward", "derivative_of", "hidden",
                                       "forward_block", "backward_block"])

ACTIVATIONS = (
    Activation("identity", identity, identity_backward, OUTPUT, True, identity_block,
               identity_backward_block),
    Activation("logistic", logistic, logistic_backward, OUTPUT, True, logistic_block,
               logistic_backward_block),
    Activation("tanh", tanh, tanh_backward, OUTPUT, True, tanh_block, tanh_backward_block),
    Activation("relu", relu, relu_backward, OUTPUT, True, relu_block, relu_backward_block),
    Activation("softmax", None, None, OUTPUT, False, softmax_block, None),
    Activation("exp", exp, None, OUTPUT, False, exp_block, None),
    Activation("leaky_relu", leaky_relu, leaky_relu_backward, OUTPUT, True, leaky_relu_block,
               leaky_relu_backward_block),
    Activation("elu", elu, elu_backward, OUTPUT, True, elu_block, elu_backward_block),
    Activation("swish", swish, swish_backward, INPUT, True, swish_block, swish_backward_block),
    Activation("gelu", gelu, gelu_backward, INPUT, True, gelu_block, gelu_backward_block),
    Activation("softplus", softplus, softplus_backward, OUTPUT, True, softplus_block,
               softplus_backward_block),
)

CODES = {activation.name: code for code, activation in enumerate(ACTIVATIONS)}
HIDDEN_ACTIVATIONS = tuple(a.name for a in ACTIVATIONS if a.hidden)
IDENTITY = CODES["identity"]
SOFTMAX = CODES["softmax"]

# What the kernels dispatch through: each row is compiled when first prepared.
FORWARD_BLOCKS = FunctionTable(__name__, "FORWARD_BLOCKS", [a.forward_block for a in ACTIVATIONS])
BACKWARD_BLOCKS = FunctionTable(__name__, "BACKWARD_BLOCKS",
                                [a.backward_block for a in ACTIVATIONS])
call_forward_block = FORWARD_BLOCKS.call
call_backward_block = BACKWARD_BLOCKS.call


def code_of(name):
    """Run-time code of the activation ``name``."""
    return CODES[name]


def backward_reads_input(name):
    """Whether the derivative of ``name`` is written through ``z`` rather than ``a``."""
    return ACTIVATIONS[CODES[name]].derivative_of == INPUT


def prepare(codes):
    """Compile (or load) the block forms of the activations ``codes``.

    The kernels reach an activation's block forms through a table filled at
    run time (``tables``), so a network compiles only its own activations.
    Call this before any kernel runs a network with these codes (Maxout
    layers run the identity).

    Parameters
    ----------
    codes : iterable of int
        Activation codes; negative values (layers without one) are skipped.
    """
    codes = {int(c) for c in codes if c >= 0}
    FORWARD_BLOCKS.prepare(codes)
    BACKWARD_BLOCKS.prepare(c for c in codes if ACTIVATIONS[c].backward_block is not None)


@internal()
def activate(code, z, bias, n_rows, keep_z, out, scratch):
    """``out = f(z + bias)`` on the first ``n_rows`` rows; ``out`` may be ``z``.

    Parameters
    ----------
    code : int
        Row of :data:`ACTIVATIONS` (prepared: see :func:`prepare`).
    z : ndarray of shape (>= n_rows, n_units)
        Products ``A_prev @ W``. With ``keep_z`` it is overwritten with
        ``z + bias`` (for the backward pass of activations that read ``z``).
    bias : ndarray of shape (n_units,)
    n_rows : int
    keep_z : bool
    out : ndarray of shape (n_rows, n_units)
        Receives the activations; the same array as ``z`` for in-place use.
    scratch : ndarray of shape (>= 2 * n_rows * n_units,)
        Overwritten by the block forms.
    """
    call_forward_block(code, (z, bias, n_rows, keep_z, out, scratch))


@internal()
def backpropagate(code, delta, stored, n_rows, out, scratch):
    """``out = delta * f'(z)`` on the first ``n_rows`` rows; ``out`` may be ``delta``.

    Parameters
    ----------
    code : int
        Row of :data:`ACTIVATIONS` (a hidden activation, prepared: see
        :func:`prepare`).
    delta : ndarray of shape (>= n_rows, n_units)
        Error at the activation's output.
    stored : ndarray of shape (>= n_rows, n_units)
        ``a`` or ``z``, as the row's ``derivative_of`` says.
    n_rows : int
    out : ndarray of shape (n_rows, n_units)
        Receives the error at the pre-activation.
    scratch : ndarray of shape (>= 2 * n_rows * n_units,)
        Overwritten by the block forms.
    """
    call_backward_block(code, (delta, stored, n_rows, out, scratch))
