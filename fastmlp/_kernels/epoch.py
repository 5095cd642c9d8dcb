"""One call trains one epoch of mini-batch SGD or Adam.

Per mini-batch there are two parallel phases, each over an explicit partition:

1. rows: the batch is split into one contiguous block of rows per thread; each
   thread gathers its rows, runs forward and backward with single-threaded BLAS
   products, and writes its own partial gradient ``raw_grads[t]``;
2. parameters: the flat buffer is split into one range per thread; each thread
   sums the partial gradients of its range, normalises them, and applies the
   optimizer update (``optimizers.update_parameters``).

No two threads write the same memory, and the result does not depend on thread
scheduling (only on the number of row blocks, through summation order).
Subnormal floats are flushed to zero in every piece of work, serial or
parallel, on the thread doing it (see ``denormals``).
"""

import math

from numba import njit, prange

from .backprop import raw_gradient_rows
from .denormals import flush_denormals, restore_floating_point
from .losses import sum_block_results
from .optimizers import H_ALPHA, H_STEP, H_WEIGHT_SUM, squared_coef_norm, update_parameters
from .partition import block_bounds


@njit(cache=True, nogil=True, error_model="numpy")
def gather_rows(source, row_index, target):
    """``target[i] = source[row_index[i]]`` for every ``i`` of ``row_index``."""
    n_cols = source.shape[1]
    for i in range(row_index.shape[0]):
        row = row_index[i]
        for j in range(n_cols):
            target[i, j] = source[row, j]


@njit(cache=True, nogil=True, error_model="numpy")
def gather_values(source, row_index, target):
    """``target[i] = source[row_index[i]]`` for every ``i`` of ``row_index``."""
    for i in range(row_index.shape[0]):
        target[i] = source[row_index[i]]


@njit(cache=True, nogil=True, error_model="numpy")
def gradient_of_block(X, x_sparse, Y, sample_weight, has_weight, batch_order, n_blocks,
                      block,
                      params, raw_grads, layer_units, coef_offsets, intercept_offsets,
                      unit_offsets, hidden_code, output_code, loss_code, eps, x_batch,
                      y_batch, weight_batch, activations, preacts, deltas, block_losses,
                      block_weights):
    """Gather row block ``block`` of ``n_blocks`` of a batch and back-propagate it.

    Writes the block's partial gradient to ``raw_grads[block]`` and its loss and
    weight sums to ``block_losses[block]`` and ``block_weights[block]``.
    """
    lo, hi = block_bounds(batch_order.shape[0], n_blocks, block)
    rows = batch_order[lo:hi]
    x_block = x_batch[lo:hi]
    y_block = y_batch[lo:hi]
    w_block = weight_batch[lo:hi]
    is_sparse, data, indices, indptr, _ = x_sparse
    if not is_sparse:
        gather_rows(X, rows, x_block)
    gather_rows(Y, rows, y_block)
    if has_weight:
        gather_values(sample_weight, rows, w_block)
    block_losses[block], block_weights[block] = raw_gradient_rows(
        x_block, (is_sparse, data, indices, indptr, rows), y_block, w_block,
        has_weight, lo, params, raw_grads[block],
        layer_units, coef_offsets, intercept_offsets, unit_offsets, hidden_code,
        output_code, loss_code, eps, activations, preacts, deltas, y_batch.shape[0])


@njit(cache=True, nogil=True, error_model="numpy", parallel=True)
def train_epoch(X, x_sparse, Y, sample_weight, has_weight, sample_order, batch_size,
                params,
                raw_grads, layer_units, coef_offsets, intercept_offsets, unit_offsets,
                hidden_code, output_code, loss_code, solver_is_adam, nesterov,
                learning_rate, beta_1, beta_2, eps, hyper, optimizer_state, adam_step,
                x_batch, y_batch, weight_batch, activations, preacts, deltas,
                block_losses, block_weights, chunk_norms):
    """Train one epoch: for each mini-batch, gather, forward, backward, update.

    Batches are consecutive runs of ``batch_size`` entries of ``sample_order``
    (the last one shorter), as scikit-learn's ``gen_batches``. Each batch's loss
    is computed with the weights before its update, as scikit-learn does.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
        Dense input (a ``(0, n_features)`` placeholder for sparse input).
    x_sparse : tuple (is_sparse, data, indices, indptr, rows)
        Sparse input: CSR arrays of ``X`` (``rows`` unused); see ``backprop``.
    Y : ndarray of shape (n_samples, n_outputs), dtype of the parameters
    sample_weight : ndarray of shape (n_samples,)
        Read only when ``has_weight``.
    has_weight : bool
    sample_order : ndarray of int64, shape (n_train,)
        Rows of ``X`` visited this epoch, in order; may be a subset of the rows
        (early stopping holds the validation rows out).
    batch_size : int
    params : ndarray of shape (n_params,)
        Flat parameters, updated in place.
    raw_grads : ndarray of shape (max_blocks, n_params)
        Per-thread partial gradients; each batch is cut into
        ``min(max_blocks, batch rows)`` row blocks, processed in parallel.
    layer_units, coef_offsets, intercept_offsets, unit_offsets : ndarray of int64
        Network layout (see ``backprop``).
    hidden_code, output_code, loss_code : int
    solver_is_adam, nesterov : bool
    learning_rate : float
        SGD's step size, or Adam's initial step size.
    beta_1, beta_2 : float
        Adam's decay rates (for its bias correction).
    eps : float
        Probability clipping bound of the log losses.
    hyper : ndarray of shape (N_HYPER,), dtype of the parameters
        Optimizer constants (see ``optimizers``); ``H_STEP`` and
        ``H_WEIGHT_SUM`` are overwritten per batch.
    optimizer_state : ndarray of shape (2, n_params) or (1, n_params)
    adam_step : ndarray of int64, shape (1,)
        Adam's time step, advanced once per batch.
    x_batch, y_batch, weight_batch : ndarray
        Gather workspaces of ``batch_size`` rows.
    activations, preacts, deltas : ndarray
        Layer workspaces of capacity ``batch_size``.
    block_losses, block_weights : ndarray of float64, shape (n_blocks,)
    chunk_norms : ndarray of float64, shape (n_chunks,)
        One entry per parameter range of the update (``n_chunks`` ranges).

    Returns
    -------
    summed_loss : float
        Sum over batches of batch loss times batch length.
    learning_rate : float
        The step size of the last batch (Adam's is bias-corrected).
    """
    n_samples = sample_order.shape[0]
    n_coefs = coef_offsets[-1]
    alpha = hyper[H_ALPHA]
    max_blocks = raw_grads.shape[0]
    coef_norm = squared_coef_norm(params, n_coefs)
    summed_loss = 0.0
    step_size = learning_rate
    for start in range(0, n_samples, batch_size):
        n_rows = min(batch_size, n_samples - start)
        n_blocks = min(max_blocks, n_rows)
        batch_order = sample_order[start:start + n_rows]
        if n_blocks == 1:
            # A parallel region costs more than it saves on small batches.
            fp_state = flush_denormals()
            gradient_of_block(X, x_sparse, Y, sample_weight, has_weight, batch_order, 1, 0,
                              params, raw_grads, layer_units, coef_offsets,
                              intercept_offsets, unit_offsets, hidden_code,
                              output_code, loss_code, eps, x_batch, y_batch,
                              weight_batch, activations, preacts, deltas,
                              block_losses, block_weights)
            restore_floating_point(fp_state)
        else:
            for block in prange(n_blocks):
                worker_fp_state = flush_denormals()
                gradient_of_block(X, x_sparse, Y, sample_weight, has_weight,
                                  batch_order, n_blocks, block, params, raw_grads, layer_units,
                                  coef_offsets, intercept_offsets, unit_offsets,
                                  hidden_code, output_code, loss_code, eps, x_batch,
                                  y_batch, weight_batch, activations, preacts,
                                  deltas, block_losses, block_weights)
                restore_floating_point(worker_fp_state)

        loss_sum, weight_sum = sum_block_results(block_losses, block_weights, n_blocks)
        batch_loss = loss_sum / weight_sum + 0.5 * alpha * coef_norm / weight_sum
        summed_loss += batch_loss * n_rows

        if solver_is_adam:
            adam_step[0] += 1
            t = adam_step[0]
            step_size = (learning_rate * math.sqrt(1.0 - beta_2**t)
                         / (1.0 - beta_1**t))
        hyper[H_STEP] = step_size
        hyper[H_WEIGHT_SUM] = weight_sum
        coef_norm = update_parameters(params, raw_grads, n_blocks, n_coefs,
                                      solver_is_adam, nesterov, optimizer_state,
                                      hyper, chunk_norms)
    return summed_loss, step_size
