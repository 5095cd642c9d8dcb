"""Loss and gradient over a whole data set, for L-BFGS, parallel over rows."""

import numpy as np
from numba import prange

from .backward import gradient_rows
from .bundles import Rows
from .denormals import flush_denormals, restore_floating_point
from .firewall import call_compiled
from .jit import internal, kernel
from .losses import sum_block_results
from .partition import block_bounds
from .update import finalize_gradient, finalize_gradient_serial, squared_norm_range


@internal()
def gradient_of_rows_block(net, params, data, ws, block_rows, n_blocks, block,
                           dropout_seed):
    """Partial gradient, loss and weight sums of row block ``block`` of ``n_blocks``.

    The block is walked in pieces of ``block_rows`` rows in its own workspace
    rows; results go to ``ws.grads[block]``, ``ws.block_losses[block]`` and
    ``ws.block_weights[block]``.
    """
    n_samples = data.Y.shape[0]
    lo, hi = block_bounds(n_samples, n_blocks, block)
    grad = ws.grads[block]
    scratch = ws.scratch_grads[block]
    loss_sum = 0.0
    weight_sum = 0.0
    for piece in range(lo, hi, block_rows):
        end = min(piece + block_rows, hi)
        rows = Rows(
            ids=data.ids[piece:end] if data.is_sparse else data.ids,
            x=data.X[0:0] if data.is_sparse else data.X[piece:end],
            y=data.Y[piece:end],
            w=data.weights[piece:end] if data.has_weight else data.weights,
            n=end - piece, ws_row=block * block_rows, position=piece,
        )
        target = grad if piece == lo else scratch
        piece_loss, piece_weight = call_compiled(gradient_rows, (net, params, data, rows, ws,
                                                                 target, dropout_seed, False))
        loss_sum += piece_loss
        weight_sum += piece_weight
        if piece != lo:
            for p in range(grad.shape[0]):
                grad[p] += scratch[p]
    ws.block_losses[block] = loss_sum
    ws.block_weights[block] = weight_sum


@kernel(parallel=True)
def loss_and_gradient(net, params, data, ws, block_rows, alpha, grad, dropout_seed):
    """Penalised mean loss over every row of the data; its gradient goes to ``grad``.

    The rows are split into one contiguous block per thread; each thread walks
    its block in pieces of ``block_rows`` rows (bounding the workspace) and
    accumulates its partial gradient, which ``finalize_gradient`` then sums in
    block order and normalises as scikit-learn's ``_backprop``.

    Parameters
    ----------
    net : Network
    params : ndarray of shape (n_params,)
    data : Data
        Every row; ``data.ids`` is ``arange(n_samples)`` for sparse input.
    ws : Workspace
        Capacity ``n_blocks * block_rows``; ``ws.grads`` and ``ws.scratch_grads``
        have one row per block.
    block_rows : int
    alpha : float
        L2 penalty.
    grad : ndarray of shape (n_params,)
        Receives the gradient.
    dropout_seed : int
        Negative for no dropout; a seed gives a fixed mask per row (positions
        are row numbers), which the gradient checks use.

    Returns
    -------
    loss : float
    """
    n_blocks = min(ws.grads.shape[0], data.Y.shape[0])
    for block in prange(n_blocks):
        fp_state = flush_denormals()
        call_compiled(gradient_of_rows_block, (net, params, data, ws, block_rows, n_blocks,
                                               np.int64(block), dropout_seed))
        restore_floating_point(fp_state)
    loss, weight_sum = penalised_loss(net, params, ws, n_blocks, alpha)
    call_compiled(finalize_gradient, (net, params, ws, n_blocks, alpha, weight_sum, grad))
    return loss


@kernel()
def loss_and_gradient_serial(net, params, data, ws, block_rows, alpha, grad, dropout_seed):
    """:func:`loss_and_gradient` as one block on the calling thread.

    Same parameters and result, with one row block in ``ws`` (see ``epoch``
    for why this is a kernel of its own).
    """
    n_blocks = ws.grads.shape[0]
    fp_state = flush_denormals()
    call_compiled(gradient_of_rows_block, (net, params, data, ws, block_rows, n_blocks,
                                           n_blocks - 1, dropout_seed))
    restore_floating_point(fp_state)
    loss, weight_sum = penalised_loss(net, params, ws, n_blocks, alpha)
    finalize_gradient_serial(net, params, ws, n_blocks, alpha, weight_sum, grad)
    return loss


@internal()
def penalised_loss(net, params, ws, n_blocks, alpha):
    """Mean loss over the blocks' rows plus the L2 term, and the weight sum."""
    loss_sum, weight_sum = sum_block_results(ws.block_losses, ws.block_weights, n_blocks)
    loss = loss_sum / weight_sum
    if alpha != 0.0:
        loss += 0.5 * alpha * squared_norm_range(params, 0, net.n_coefs) / weight_sum
    return loss, weight_sum
