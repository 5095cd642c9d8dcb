"""One call trains one epoch of mini-batch SGD or Adam.

Two kernels: :func:`train_epoch` runs each mini-batch in two parallel phases,
each over an explicit partition:

1. rows: the batch is split into one contiguous block of rows per thread; each
   thread gathers its rows, runs forward and backward with single-threaded BLAS
   products, and writes its own partial gradient ``ws.grads[t]``;
2. parameters: the flat buffer is split into one range per thread; each thread
   sums the partial gradients of its range and applies the optimizer's step
   (``update.update_chunk``).

No two threads write the same memory, and the result does not depend on thread
scheduling (only on the number of row blocks, through summation order).
:func:`train_epoch_serial` runs the same steps as one block and one range on
the calling thread, for networks and batches too small to repay waking
threads. It opens no parallel region: opening one, even for one iteration,
leaves OpenMP's workers spinning for a while afterwards, and between kernel
calls they then compete with the caller's own work (L-BFGS between two
gradients ran 80x slower that way). Two kernels rather than one with a
serial branch, because Numba compiles a function together with everything it
calls: a first fit compiles only the one it uses.
Subnormal floats are flushed to zero in every piece of work, on the thread
doing it (see ``denormals``).
"""

import numpy as np
from numba import prange

from .._optimizers.base import H_ALPHA
from .backward import NON_FINITE_INPUT, gradient_rows
from .bundles import Rows, read_only
from .denormals import flush_denormals, restore_floating_point
from .firewall import call_compiled
from .jit import internal, kernel
from .losses import sum_block_results
from .partition import block_bounds
from .products import gather_rows, gather_values, reads_input_in_place
from .update import begin_batch, squared_norm_range, update_chunk, update_parameters_serial


# Called through the compile firewall, never inlined: inlined into
# train_epoch's prange body, it once trained to non-finite weights.
@internal()
def gradient_of_block(net, params, data, batch, first, ws, n_blocks, block, dropout_seed,
                      check_input):
    """Gather row block ``block`` of ``n_blocks`` of a batch and back-propagate it.

    ``batch`` holds the batch's sample ids, which start at position ``first`` of
    the epoch's visiting order. Dense rows of ``X`` are copied only when the
    input layer cannot read them in place (``products.reads_input_in_place``).
    Writes the block's partial gradient to ``ws.grads[block]`` and its loss and
    weight sums to ``ws.block_losses[block]`` and ``ws.block_weights[block]``
    (``NON_FINITE_INPUT`` when ``check_input`` found a value that is not finite).
    """
    lo, hi = block_bounds(batch.shape[0], n_blocks, block)
    ids = batch[lo:hi]
    y = ws.y_rows[lo:hi]
    w = ws.w_rows[lo:hi]
    if reads_input_in_place(net, data, hi - lo):
        x = ws.x_rows[lo:lo]
    else:
        x = ws.x_rows[lo:hi]
        if not data.is_sparse:
            gather_rows(data.X, ids, x)
    gather_rows(data.Y, ids, y)
    if data.has_weight:
        gather_values(data.weights, ids, w)
    rows = Rows(ids=read_only(ids), x=read_only(x), y=read_only(y), w=read_only(w), n=hi - lo,
                ws_row=lo, position=first + lo)
    ws.block_losses[block], ws.block_weights[block] = call_compiled(gradient_rows, (
        net, params, data, rows, ws, ws.grads[block], dropout_seed, check_input))


@internal()
def penalised_batch_loss(ws, n_blocks, alpha, coef_norm):
    """The batch's mean loss plus its L2 term, and the batch's weight sum."""
    loss_sum, weight_sum = sum_block_results(ws.block_losses, ws.block_weights, n_blocks)
    return loss_sum / weight_sum + 0.5 * alpha * coef_norm / weight_sum, weight_sum


@kernel(parallel=True)
def train_epoch(net, params, data, order, batch_size, solver, ws, dropout_seed, check_input):
    """Train one epoch: for each mini-batch, gather, forward, backward, update.

    Batches are consecutive runs of ``batch_size`` entries of ``order`` (the
    last one shorter), as scikit-learn's ``gen_batches``. Each batch's loss is
    computed with the weights before its update, as scikit-learn does.

    Parameters
    ----------
    net : Network
    params : ndarray of shape (n_params,)
        Flat parameters, updated in place.
    data : Data
    order : ndarray of int64, shape (n_train,)
        Rows of ``X`` visited this epoch, in order; may be a subset of the rows
        (early stopping holds the validation rows out).
    batch_size : int
    solver : Solver
        Updated in place (state, step count, step size).
    ws : Workspace
        Capacity ``batch_size``; ``ws.grads`` has one row per row block,
        ``ws.chunk_norms`` one entry per parameter range.
    dropout_seed : int
        This epoch's dropout seed (negative without dropout).
    check_input : bool
        Test each batch's dense input for NaN and infinity as the input layer
        reads it (see ``forward.forward_rows``): the first epoch of a fit
        stands in for scikit-learn's separate pass over ``X``.

    Returns
    -------
    summed_loss : float
        Sum over batches of batch loss times batch length.
    input_finite : bool
        False when ``check_input`` found a value that is not finite. The epoch
        then stopped before that batch's update, and the parameters hold the
        updates of the batches before it.
    """
    n_samples = order.shape[0]
    alpha = solver.hyper[H_ALPHA]
    max_blocks = ws.grads.shape[0]
    n_chunks = ws.chunk_norms.shape[0]
    coef_norm = squared_norm_range(params, 0, net.n_coefs)
    summed_loss = 0.0
    for first in range(0, n_samples, batch_size):
        n_rows = min(batch_size, n_samples - first)
        n_blocks = min(max_blocks, n_rows)
        batch = order[first:first + n_rows]
        for block in prange(n_blocks):
            fp_state = flush_denormals()
            call_compiled(gradient_of_block, (net, params, data, batch, first, ws, n_blocks,
                                              np.int64(block), dropout_seed, check_input))
            restore_floating_point(fp_state)
        batch_loss, weight_sum = penalised_batch_loss(ws, n_blocks, alpha, coef_norm)
        if weight_sum == NON_FINITE_INPUT:
            return summed_loss, False
        summed_loss += batch_loss * n_rows
        if n_chunks == 1:  # no parallel region for one range
            coef_norm = call_compiled(update_parameters_serial, (net, params, ws, n_blocks, solver,
                                                                 weight_sum))
            continue
        begin_batch(solver, weight_sum)
        for chunk in prange(n_chunks):
            fp_state = flush_denormals()
            call_compiled(update_chunk, (params, ws.grads, n_blocks, net.n_coefs, solver,
                                         ws.chunk_norms, np.int64(chunk)))
            restore_floating_point(fp_state)
        coef_norm = 0.0
        for chunk in range(n_chunks):
            coef_norm += ws.chunk_norms[chunk]
    return summed_loss, True


@kernel()
def train_epoch_serial(net, params, data, order, batch_size, solver, ws, dropout_seed,
                       check_input):
    """:func:`train_epoch` on the calling thread, without parallel regions.

    Same parameters and result; ``ws`` must hold one row block and one
    parameter range (``ws.grads`` of one row, ``ws.chunk_norms`` of one entry).
    """
    n_samples = order.shape[0]
    alpha = solver.hyper[H_ALPHA]
    n_blocks = ws.grads.shape[0]
    coef_norm = squared_norm_range(params, 0, net.n_coefs)
    summed_loss = 0.0
    for first in range(0, n_samples, batch_size):
        n_rows = min(batch_size, n_samples - first)
        batch = order[first:first + n_rows]
        fp_state = flush_denormals()
        call_compiled(gradient_of_block, (net, params, data, batch, first, ws, n_blocks,
                                          n_blocks - 1, dropout_seed, check_input))
        restore_floating_point(fp_state)
        batch_loss, weight_sum = penalised_batch_loss(ws, n_blocks, alpha, coef_norm)
        if weight_sum == NON_FINITE_INPUT:
            return summed_loss, False
        summed_loss += batch_loss * n_rows
        coef_norm = call_compiled(update_parameters_serial, (net, params, ws, n_blocks, solver,
                                                             weight_sum))
    return summed_loss, True
