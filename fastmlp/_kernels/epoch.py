"""One call trains one epoch of mini-batch SGD or Adam."""

from numba import njit

from .._config import ADAM
from .backprop import loss_and_gradient_rows
from .optimizers import adam_update, sgd_update


@njit(cache=True, nogil=True)
def gather_rows(source, row_index, start, stop, target):
    """Copy ``source[row_index[start:stop]]`` into the first rows of ``target``."""
    n_cols = source.shape[1]
    for i in range(stop - start):
        row = row_index[start + i]
        for j in range(n_cols):
            target[i, j] = source[row, j]


@njit(cache=True, nogil=True)
def gather_values(source, row_index, start, stop, target):
    """Copy ``source[row_index[start:stop]]`` into the first entries of ``target``."""
    for i in range(stop - start):
        target[i] = source[row_index[start + i]]


@njit(cache=True, nogil=True)
def train_epoch(
    X,
    Y,
    sample_weight,
    has_weight,
    sample_order,
    batch_size,
    params,
    grads,
    layer_units,
    coef_offsets,
    intercept_offsets,
    unit_offsets,
    hidden_code,
    output_code,
    loss_code,
    solver_code,
    alpha,
    eps,
    learning_rate,
    momentum,
    nesterov,
    beta_1,
    beta_2,
    epsilon,
    optimizer_state,
    adam_step,
    x_batch,
    y_batch,
    weight_batch,
    activations,
    deltas,
):
    """Train one epoch: for each mini-batch, gather, forward, backward, update.

    Batches are consecutive runs of ``batch_size`` entries of ``sample_order``
    (the last one shorter), as scikit-learn's ``gen_batches``.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features), C-contiguous
    Y : ndarray of shape (n_samples, n_outputs), C-contiguous, dtype of X
    sample_weight : ndarray of shape (n_samples,)
        Read only when ``has_weight``.
    has_weight : bool
    sample_order : ndarray of int64, shape (n_samples,)
        Order in which rows are visited this epoch.
    batch_size : int
    params, grads : ndarray of shape (n_params,)
        Flat parameters (updated in place) and gradient workspace.
    layer_units, coef_offsets, intercept_offsets, unit_offsets : ndarray of int64
        Network layout (see ``backprop``).
    hidden_code, output_code, loss_code, solver_code : int
    alpha, eps : float
        L2 penalty and probability clipping bound.
    learning_rate : float
        Step size for SGD, initial step size for Adam.
    momentum : float
    nesterov : bool
    beta_1, beta_2, epsilon : float
        Adam's parameters.
    optimizer_state : ndarray of shape (2, n_params)
        SGD velocities in row 0, or Adam's first and second moments.
    adam_step : ndarray of int64, shape (1,)
        Adam's time step, advanced once per batch.
    x_batch, y_batch, weight_batch : ndarray
        Gather workspaces of ``batch_size`` rows.
    activations, deltas : ndarray
        Layer workspaces of capacity ``batch_size``.

    Returns
    -------
    summed_loss : float
        Sum over batches of batch loss times batch length.
    adam_learning_rate : float
        Adam's bias-corrected step of the last batch (``learning_rate`` for SGD).
    """
    n_samples = X.shape[0]
    summed_loss = 0.0
    last_rate = learning_rate
    for start in range(0, n_samples, batch_size):
        stop = min(start + batch_size, n_samples)
        n_rows = stop - start
        gather_rows(X, sample_order, start, stop, x_batch)
        gather_rows(Y, sample_order, start, stop, y_batch)
        if has_weight:
            gather_values(sample_weight, sample_order, start, stop, weight_batch)
        batch_loss = loss_and_gradient_rows(
            x_batch, y_batch, weight_batch, has_weight, n_rows, params, grads,
            layer_units, coef_offsets, intercept_offsets, unit_offsets,
            hidden_code, output_code, loss_code, alpha, eps,
            activations, deltas, batch_size,
        )
        summed_loss += batch_loss * n_rows
        if solver_code == ADAM:
            adam_step[0] += 1
            last_rate = adam_update(
                params, grads, optimizer_state[0], optimizer_state[1], adam_step[0],
                learning_rate, beta_1, beta_2, epsilon,
            )
        else:
            sgd_update(params, grads, optimizer_state[0], learning_rate, momentum, nesterov)
    return summed_loss, last_rate
