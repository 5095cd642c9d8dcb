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

from .._config import (
    ABSOLUTE_ERROR,
    BINARY_LOG_LOSS,
    HUBER,
    LOG_LOSS,
    POISSON,
    SQUARED_ERROR,
)
from .activations import CODES, IDENTITY, SOFTMAX, logistic_backward
from .jit import internal, kernel

LOGISTIC = CODES["logistic"]


@internal()
def is_residual_loss(code):
    """Whether the loss is a mean over outputs of a function of ``y - p``."""
    return code == SQUARED_ERROR or code == HUBER or code == ABSOLUTE_ERROR


@kernel()
def weighted_data_loss(code, loss_param, y_pred, y_true, weights, has_weight, eps):
    """Weighted sum of per-row data losses, and the sum of weights.

    The mean loss of a set of rows is ``loss_sum / weight_sum``; blocks of rows
    can be summed separately and combined.

    Parameters
    ----------
    code : int
        Loss code from ``fastmlp._config``.
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
    n_rows, n_outputs = y_pred.shape
    total = 0.0
    weight_sum = 0.0
    for i in range(n_rows):
        row = 0.0
        for k in range(n_outputs):
            p = y_pred[i, k]
            y = y_true[i, k]
            if code == SQUARED_ERROR:
                d = y - p
                row += d * d
            elif code == HUBER:
                # Twice h(r), halved with the squared error's 0.5 below: in the
                # quadratic zone the sum is bit for bit the squared error's.
                d = y - p
                if abs(d) <= loss_param:
                    row += d * d
                else:
                    row += loss_param * (2.0 * abs(d) - loss_param)
            elif code == ABSOLUTE_ERROR:
                row += abs(y - p)
            elif code == POISSON:
                if y != 0.0:
                    row += y * math.log(y / p)
                row += p - y
            elif code == LOG_LOSS:
                if y != 0.0:
                    row -= y * math.log(min(max(p, eps), 1.0 - eps))
            else:
                pc = min(max(p, eps), 1.0 - eps)
                if y != 0.0:
                    row -= y * math.log(pc)
                if y != 1.0:
                    row -= (1.0 - y) * math.log(1.0 - pc)
        if code == SQUARED_ERROR or code == HUBER:
            row = 0.5 * row / n_outputs
        elif code == ABSOLUTE_ERROR:
            row = row / n_outputs
        w = weights[i] if has_weight else 1.0
        total += w * row
        weight_sum += w
    return total, weight_sum


@internal()
def residual_slopes(code, loss_param, delta):
    """Turn ``delta = p - y`` into the loss's slope: clipped (huber) or its sign
    (absolute_error); squared_error's slope is ``p - y`` itself."""
    n_rows, n_outputs = delta.shape
    if code == HUBER:
        for i in range(n_rows):
            for k in range(n_outputs):
                delta[i, k] = min(max(delta[i, k], -loss_param), loss_param)
    elif code == ABSOLUTE_ERROR:
        for i in range(n_rows):
            for k in range(n_outputs):
                e = delta[i, k]
                delta[i, k] = 1.0 if e > 0 else (-1.0 if e < 0 else 0.0)


@internal()
def through_output_activation(activation, y_pred, delta):
    """Error at ``z`` from the error at the output ``p``, in place (logistic, softmax)."""
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


@internal()
def output_error(code, activation, loss_param, y_pred, y_true, weights, has_weight, delta):
    """Error at the output pre-activation, as the module docstring defines it.

    Parameters
    ----------
    code : int
        Loss code from ``fastmlp._config``.
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
    n_rows, n_outputs = y_pred.shape
    for i in range(n_rows):
        for k in range(n_outputs):
            delta[i, k] = y_pred[i, k] - y_true[i, k]
    residual_slopes(code, loss_param, delta)
    if has_weight:
        for i in range(n_rows):
            w = weights[i]
            for k in range(n_outputs):
                delta[i, k] = delta[i, k] * w
    if is_residual_loss(code) and activation != IDENTITY:
        through_output_activation(activation, y_pred, delta)


@internal()
def sum_block_results(block_losses, block_weights, n_blocks):
    """Loss and weight sums over the first ``n_blocks`` row blocks, in block order."""
    loss_sum = 0.0
    weight_sum = 0.0
    for block in range(n_blocks):
        loss_sum += block_losses[block]
        weight_sum += block_weights[block]
    return loss_sum, weight_sum
