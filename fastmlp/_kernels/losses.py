"""Data losses of a mini-batch and the output-layer error.

With row weights ``w`` (all ones when absent), ``W = sum(w)``, residuals
``r = y - p`` and ``m = n_outputs``:

- squared_error: ``0.5 * sum_i w_i sum_k r_ik**2 / (W * m)``
- huber (``delta > 0``): ``sum_i w_i sum_k h(r_ik) / (W * m)`` with
  ``h(r) = 0.5 r**2`` if ``|r| <= delta`` else ``delta (|r| - 0.5 delta)``
- absolute_error: ``sum_i w_i sum_k |r_ik| / (W * m)``
- poisson: ``sum_i w_i sum_k (y_ik log(y_ik / p_ik) - y_ik + p_ik) / W``
- log_loss (softmax): ``-sum_i w_i sum_k y_ik log(clip(p_ik)) / W``
- binary_log_loss (logistic): ``-sum_i w_i sum_k [y log(clip(p)) + (1 - y) log(1 - clip(p))] / W``

where ``clip`` keeps probabilities in ``[eps, 1 - eps]`` with ``eps`` the
machine epsilon of the working dtype. The first three are the *residual*
losses: a mean over outputs, defined for the identity, logistic and softmax
outputs (``_config.LOSS_OUTPUT_ACTIVATIONS``).

Gradient convention: the error at the output pre-activation ``z`` is ``w_i``
times the derivative of the row's loss *summed*, not averaged, over outputs:

- canonical link/loss pairs (identity/squared_error, exp/poisson,
  softmax/log_loss, logistic/binary_log_loss): ``w_i (p_ik - y_ik)``;
- residual losses: ``g_ik = w_i s(p_ik - y_ik)`` with the slope ``s(e)`` being
  ``e`` (squared_error), ``clip(e, -delta, delta)`` (huber) or ``sign(e)``
  (absolute_error, 0 at 0), taken through the output activation's Jacobian:
  identity ``g``; logistic ``g_k p_k (1 - p_k)``; softmax
  ``p_j (g_j - sum_k p_k g_k)``.

So for a residual loss the data part of the gradient is ``m`` times the
gradient of the reported loss (the L2 term's is not scaled). This is
scikit-learn's ``_backprop`` for squared_error, kept for bit parity with it and
applied to every residual loss alike, so that huber with ``delta >= max |r|``
trains exactly as squared_error. With one output the two coincide.
"""

import math

from numba import njit, types

from .._config import (
    ABSOLUTE_ERROR,
    BINARY_LOG_LOSS,
    HUBER,
    LOG_LOSS,
    POISSON,
    SQUARED_ERROR,
)
from .activations import CODES, SOFTMAX, logistic_backward
from .jit import internal, kernel
from .tables import FunctionTable

LOGISTIC = CODES["logistic"]

_scalar = njit(cache=True, nogil=True, error_model="numpy")

# Each loss is a row of two run-time tables (``tables``), its data loss and its
# output error, compiled when the trainer first prepares it (:func:`prepare`).
# A loss's data loss adds one element's term to its row's running sum; each
# term keeps the order of its additions, so the sums are bit for bit what one
# loop over all the losses gave.


@_scalar
def squared_error_term(row, p, y, loss_param, eps):
    d = y - p
    return row + d * d


@_scalar
def huber_term(row, p, y, loss_param, eps):
    # Twice h(r), halved with the squared error's 0.5 (see ``weighted_rows``):
    # in the quadratic zone the sum is bit for bit the squared error's.
    d = y - p
    if abs(d) <= loss_param:
        return row + d * d
    return row + loss_param * (2.0 * abs(d) - loss_param)


@_scalar
def absolute_error_term(row, p, y, loss_param, eps):
    return row + abs(y - p)


@_scalar
def poisson_term(row, p, y, loss_param, eps):
    if y != 0.0:
        row += y * math.log(y / p)
    return row + (p - y)


@_scalar
def log_loss_term(row, p, y, loss_param, eps):
    if y != 0.0:
        row -= y * math.log(min(max(p, eps), 1.0 - eps))
    return row


@_scalar
def binary_log_loss_term(row, p, y, loss_param, eps):
    pc = min(max(p, eps), 1.0 - eps)
    if y != 0.0:
        row -= y * math.log(pc)
    if y != 1.0:
        row -= (1.0 - y) * math.log(1.0 - pc)
    return row


@internal(inline="always")
def weighted_rows(term, mean_scale, loss_param, y_pred, y_true, weights, has_weight, eps):
    """Weighted sum of the rows' losses (each row ``mean_scale * row / n_outputs``
    when ``mean_scale`` is positive, its plain sum otherwise), and of the weights."""
    n_rows, n_outputs = y_pred.shape
    total = 0.0
    weight_sum = 0.0
    for i in range(n_rows):
        row = 0.0
        for k in range(n_outputs):
            row = term(row, y_pred[i, k], y_true[i, k], loss_param, eps)
        if mean_scale > 0:
            row = mean_scale * row / n_outputs
        w = weights[i] if has_weight else 1.0
        total += w * row
        weight_sum += w
    return total, weight_sum


@internal()
def squared_error_loss(loss_param, y_pred, y_true, weights, has_weight, eps):
    return weighted_rows(squared_error_term, 0.5, loss_param, y_pred, y_true, weights,
                         has_weight, eps)


@internal()
def huber_loss(loss_param, y_pred, y_true, weights, has_weight, eps):
    return weighted_rows(huber_term, 0.5, loss_param, y_pred, y_true, weights, has_weight, eps)


@internal()
def absolute_error_loss(loss_param, y_pred, y_true, weights, has_weight, eps):
    return weighted_rows(absolute_error_term, 1.0, loss_param, y_pred, y_true, weights,
                         has_weight, eps)


@internal()
def poisson_loss(loss_param, y_pred, y_true, weights, has_weight, eps):
    return weighted_rows(poisson_term, 0.0, loss_param, y_pred, y_true, weights, has_weight,
                         eps)


@internal()
def log_loss_loss(loss_param, y_pred, y_true, weights, has_weight, eps):
    return weighted_rows(log_loss_term, 0.0, loss_param, y_pred, y_true, weights, has_weight,
                         eps)


@internal()
def binary_log_loss_loss(loss_param, y_pred, y_true, weights, has_weight, eps):
    return weighted_rows(binary_log_loss_term, 0.0, loss_param, y_pred, y_true, weights,
                         has_weight, eps)


@_scalar
def difference(e, loss_param):
    return e


@_scalar
def clipped(e, loss_param):
    return min(max(e, -loss_param), loss_param)


@_scalar
def sign(e, loss_param):
    return 1.0 if e > 0 else (-1.0 if e < 0 else 0.0)


@internal()
def through_output_activation(activation, y_pred, delta):
    """Error at ``z`` from the error at the output ``p``, in place (identity: as is)."""
    n_rows, n_outputs = delta.shape
    if activation == SOFTMAX:
        for i in range(n_rows):
            weighted = 0.0
            for k in range(n_outputs):
                weighted += y_pred[i, k] * delta[i, k]
            for k in range(n_outputs):
                delta[i, k] = y_pred[i, k] * (delta[i, k] - weighted)
    elif activation == LOGISTIC:
        for i in range(n_rows):
            for k in range(n_outputs):
                delta[i, k] = logistic_backward(delta[i, k], y_pred[i, k])


@internal(inline="always")
def error_with(slope, loss_param, y_pred, y_true, weights, has_weight, delta):
    """``delta = w_i slope(p - y)``."""
    n_rows, n_outputs = y_pred.shape
    for i in range(n_rows):
        for k in range(n_outputs):
            delta[i, k] = slope(y_pred[i, k] - y_true[i, k], loss_param)
    if has_weight:
        for i in range(n_rows):
            w = weights[i]
            for k in range(n_outputs):
                delta[i, k] = delta[i, k] * w


@internal()
def canonical_error(activation, loss_param, y_pred, y_true, weights, has_weight, delta):
    error_with(difference, loss_param, y_pred, y_true, weights, has_weight, delta)


# The residual losses take their error through the output activation's Jacobian.


@internal()
def squared_error_error(activation, loss_param, y_pred, y_true, weights, has_weight, delta):
    error_with(difference, loss_param, y_pred, y_true, weights, has_weight, delta)
    through_output_activation(activation, y_pred, delta)


@internal()
def huber_error(activation, loss_param, y_pred, y_true, weights, has_weight, delta):
    error_with(clipped, loss_param, y_pred, y_true, weights, has_weight, delta)
    through_output_activation(activation, y_pred, delta)


@internal()
def absolute_error_error(activation, loss_param, y_pred, y_true, weights, has_weight, delta):
    error_with(sign, loss_param, y_pred, y_true, weights, has_weight, delta)
    through_output_activation(activation, y_pred, delta)


DATA_LOSSES = FunctionTable(__name__, "DATA_LOSSES", {
    SQUARED_ERROR: squared_error_loss, HUBER: huber_loss, ABSOLUTE_ERROR: absolute_error_loss,
    POISSON: poisson_loss, LOG_LOSS: log_loss_loss, BINARY_LOG_LOSS: binary_log_loss_loss,
}, return_type=types.UniTuple(types.float64, 2))
OUTPUT_ERRORS = FunctionTable(__name__, "OUTPUT_ERRORS", {
    SQUARED_ERROR: squared_error_error, HUBER: huber_error, ABSOLUTE_ERROR: absolute_error_error,
    POISSON: canonical_error, LOG_LOSS: canonical_error, BINARY_LOG_LOSS: canonical_error,
})
call_data_loss = DATA_LOSSES.call
call_output_error = OUTPUT_ERRORS.call


def prepare(code):
    """Compile (or load) the data loss and output error of loss ``code``.

    Call this before a kernel runs with this loss (``Trainer`` does).

    Parameters
    ----------
    code : int
        Loss code from ``fastmlp._config``.
    """
    DATA_LOSSES.prepare([code])
    OUTPUT_ERRORS.prepare([code])


@kernel()
def weighted_data_loss(code, loss_param, y_pred, y_true, weights, has_weight, eps):
    """Weighted sum of per-row data losses, and the sum of weights.

    The mean loss of a set of rows is ``loss_sum / weight_sum``; blocks of rows
    can be summed separately and combined.

    Parameters
    ----------
    code : int
        Loss code from ``fastmlp._config`` (prepared: see :func:`prepare`).
    loss_param : float
        Huber's ``delta``; unused by the other losses.
    y_pred : ndarray of shape (n_rows, n_outputs)
        Output activations.
    y_true : ndarray of shape (n_rows, n_outputs)
        Targets (binarised labels for classifiers).
    weights : ndarray of shape (n_rows,)
        Row weights; read only when ``has_weight``.
    has_weight : bool
        Whether ``weights`` apply.
    eps : float
        Probability clipping bound for the log losses.

    Returns
    -------
    loss_sum : float
    weight_sum : float
    """
    return call_data_loss(code, (loss_param, y_pred, y_true, weights, has_weight, eps))


@internal()
def output_error(code, activation, loss_param, y_pred, y_true, weights, has_weight, delta):
    """Error at the output pre-activation, as the module docstring defines it.

    Parameters
    ----------
    code : int
        Loss code from ``fastmlp._config`` (prepared: see :func:`prepare`).
    activation : int
        Output activation code (``activations``).
    loss_param : float
        Huber's ``delta``; unused by the other losses.
    y_pred, y_true : ndarray of shape (n_rows, n_outputs)
    weights : ndarray of shape (n_rows,)
    has_weight : bool
    delta : ndarray of shape (n_rows, n_outputs)
        Overwritten with the error.
    """
    call_output_error(code, (activation, loss_param, y_pred, y_true, weights, has_weight, delta))


@internal()
def sum_block_results(block_losses, block_weights, n_blocks):
    """Loss and weight sums over the first ``n_blocks`` row blocks, in block order."""
    loss_sum = 0.0
    weight_sum = 0.0
    for block in range(n_blocks):
        loss_sum += block_losses[block]
        weight_sum += block_weights[block]
    return loss_sum, weight_sum
