"""Data losses of a mini-batch and the output-layer error, as scikit-learn defines them.

With row weights ``w`` (all ones when absent) and ``W = sum(w)``:

- squared_error: ``0.5 * sum_i w_i sum_k (y_ik - p_ik)**2 / (W * n_outputs)``
- poisson: ``sum_i w_i sum_k (y_ik log(y_ik / p_ik) - y_ik + p_ik) / W``
- log_loss (softmax): ``-sum_i w_i sum_k y_ik log(clip(p_ik)) / W``
- binary_log_loss (logistic): ``-sum_i w_i sum_k [y log(clip(p)) + (1 - y) log(1 - clip(p))] / W``

where ``clip`` keeps probabilities in ``[eps, 1 - eps]`` with ``eps`` the
machine epsilon of the working dtype. For each of these canonical link/loss
pairs the error at the output pre-activation is ``w_i (p_ik - y_ik)``.
"""

import math

from numba import njit

from .._config import BINARY_LOG_LOSS, LOG_LOSS, POISSON, SQUARED_ERROR


@njit(cache=True, nogil=True, error_model="numpy")
def weighted_data_loss(code, y_pred, y_true, weights, has_weight, eps):
    """Weighted sum of per-row data losses, and the sum of weights.

    The mean loss of a set of rows is ``loss_sum / weight_sum``; blocks of rows
    can be summed separately and combined.

    Parameters
    ----------
    code : int
        Loss code from ``fastmlp._config``.
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
        if code == SQUARED_ERROR:
            row = 0.5 * row / n_outputs
        w = weights[i] if has_weight else 1.0
        total += w * row
        weight_sum += w
    return total, weight_sum


@njit(cache=True, nogil=True, error_model="numpy")
def output_error(y_pred, y_true, weights, has_weight, delta):
    """Error at the output pre-activation: ``delta = w * (y_pred - y_true)``.

    Parameters
    ----------
    y_pred, y_true : ndarray of shape (n_rows, n_outputs)
    weights : ndarray of shape (n_rows,)
    has_weight : bool
    delta : ndarray of shape (n_rows, n_outputs)
        Overwritten with the error.
    """
    n_rows, n_outputs = y_pred.shape
    for i in range(n_rows):
        if has_weight:
            w = weights[i]
            for k in range(n_outputs):
                delta[i, k] = (y_pred[i, k] - y_true[i, k]) * w
        else:
            for k in range(n_outputs):
                delta[i, k] = y_pred[i, k] - y_true[i, k]


@njit(cache=True, nogil=True, error_model="numpy")
def sum_block_results(block_losses, block_weights, n_blocks):
    """Loss and weight sums over the first ``n_blocks`` row blocks, in block order."""
    loss_sum = 0.0
    weight_sum = 0.0
    for block in range(n_blocks):
        loss_sum += block_losses[block]
        weight_sum += block_weights[block]
    return loss_sum, weight_sum
