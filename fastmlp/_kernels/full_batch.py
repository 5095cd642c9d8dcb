"""Loss and gradient over a whole data set, for L-BFGS, parallel over rows."""

from numba import njit, prange

from .backprop import raw_gradient_rows
from .denormals import flush_denormals, restore_floating_point
from .losses import sum_block_results
from .optimizers import finalize_gradient, squared_coef_norm
from .partition import block_bounds


@njit(cache=True, nogil=True, error_model="numpy")
def gradient_of_rows_block(X, x_sparse, Y, sample_weight, has_weight, params, raw_grads,
                           scratch_grads, layer_units, coef_offsets, intercept_offsets,
                           unit_offsets, hidden_code, output_code, loss_code, eps,
                           activations, preacts, deltas, block_rows, block_losses,
                           block_weights, n_blocks, block):
    """Partial gradient, loss and weight sums of row block ``block`` of ``n_blocks``.

    The block is walked in pieces of ``block_rows`` rows in its own workspace
    rows; results go to ``raw_grads[block]``, ``block_losses[block]`` and
    ``block_weights[block]``.
    """
    is_sparse, data, indices, indptr, all_rows = x_sparse
    n_samples = Y.shape[0]
    n_params = params.shape[0]
    capacity = raw_grads.shape[0] * block_rows
    lo, hi = block_bounds(n_samples, n_blocks, block)
    ws_row = block * block_rows
    loss_sum = 0.0
    weight_sum = 0.0
    for piece in range(lo, hi, block_rows):
        end = min(piece + block_rows, hi)
        target = raw_grads[block] if piece == lo else scratch_grads[block]
        w_piece = sample_weight[piece:end] if has_weight else sample_weight
        x_piece = X[0:0] if is_sparse else X[piece:end]
        piece_loss, piece_weight = raw_gradient_rows(
            x_piece, (is_sparse, data, indices, indptr, all_rows[piece:end]), Y[piece:end],
            w_piece, has_weight, ws_row, params, target, layer_units, coef_offsets,
            intercept_offsets, unit_offsets, hidden_code, output_code, loss_code, eps,
            activations, preacts, deltas, capacity)
        loss_sum += piece_loss
        weight_sum += piece_weight
        if piece != lo:
            for p in range(n_params):
                raw_grads[block, p] += scratch_grads[block, p]
    block_losses[block] = loss_sum
    block_weights[block] = weight_sum


@njit(cache=True, nogil=True, error_model="numpy", parallel=True)
def loss_and_gradient(X, x_sparse, Y, sample_weight, has_weight, params, grad, raw_grads,
                      scratch_grads, layer_units, coef_offsets, intercept_offsets,
                      unit_offsets, hidden_code, output_code, loss_code, alpha, eps,
                      activations, preacts, deltas, block_rows, block_losses,
                      block_weights):
    """Penalised mean loss over every row of ``X``; its gradient goes to ``grad``.

    The rows are split into one contiguous block per thread; each thread walks
    its block in pieces of ``block_rows`` rows (bounding the workspace) and
    accumulates its partial gradient, which ``finalize_gradient`` then sums in
    block order and normalises as scikit-learn's ``_backprop``.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features), C-contiguous
        Dense input (a ``(0, n_features)`` placeholder for sparse input).
    x_sparse : tuple (is_sparse, data, indices, indptr, rows)
        Sparse input: CSR arrays of ``X`` and ``rows = arange(n_samples)``.
    Y : ndarray of shape (n_samples, n_outputs), C-contiguous
    sample_weight : ndarray of shape (n_samples,)
        Read only when ``has_weight``.
    has_weight : bool
    params : ndarray of shape (n_params,)
    grad : ndarray of shape (n_params,)
        Receives the gradient.
    raw_grads, scratch_grads : ndarray of shape (n_blocks, n_params)
        Per-thread partial gradients and their scratch space.
    layer_units, coef_offsets, intercept_offsets, unit_offsets : ndarray of int64
    hidden_code, output_code, loss_code : int
    alpha, eps : float
    activations, preacts, deltas : ndarray of shape (unit_offsets[-1] * n_blocks * block_rows,)
    block_rows : int
    block_losses, block_weights : ndarray of float64, shape (n_blocks,)

    Returns
    -------
    loss : float
    """
    n_blocks = min(raw_grads.shape[0], Y.shape[0])
    if n_blocks == 1:
        # Small data: a parallel region costs more than it saves.
        fp_state = flush_denormals()
        gradient_of_rows_block(X, x_sparse, Y, sample_weight, has_weight, params,
                               raw_grads, scratch_grads, layer_units, coef_offsets,
                               intercept_offsets, unit_offsets, hidden_code, output_code,
                               loss_code, eps, activations, preacts, deltas, block_rows,
                               block_losses, block_weights, 1, 0)
        restore_floating_point(fp_state)
    else:
        for block in prange(n_blocks):
            worker_fp_state = flush_denormals()
            gradient_of_rows_block(X, x_sparse, Y, sample_weight, has_weight, params,
                                   raw_grads, scratch_grads, layer_units, coef_offsets,
                                   intercept_offsets, unit_offsets, hidden_code,
                                   output_code, loss_code, eps, activations, preacts,
                                   deltas, block_rows, block_losses, block_weights,
                                   n_blocks, block)
            restore_floating_point(worker_fp_state)

    loss_sum, weight_sum = sum_block_results(block_losses, block_weights, n_blocks)
    n_coefs = coef_offsets[-1]
    loss = loss_sum / weight_sum
    if alpha != 0.0:
        loss += 0.5 * alpha * squared_coef_norm(params, n_coefs) / weight_sum
    finalize_gradient(raw_grads, n_blocks, n_coefs, params, alpha, weight_sum, grad)
    return loss
