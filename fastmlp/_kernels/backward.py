"""Backward pass of a block of rows through the layer records.

From the error at the network's output, each layer (last to first) turns the
error at its output ``h_{l+1}`` into the error at its pre-activation ``z``
(dropout mask, then the activation's derivative from the table, or the Maxout
argmax), writes its coefficient and intercept gradients, and passes
``delta_z W.T`` (plus the error at its output, for a skip connection) down to
the layer below. Nothing here allocates array memory.
"""

import numpy as np

from .activations import backpropagate
from .bundles import read_only
from .firewall import call_compiled
from .forward import (
    call_add_into,
    call_scale_by_mask,
    forward_rows,
    layer_mask,
    layer_output,
    layer_scratch,
    layer_stored,
)
from .jit import internal
from .layout import MAXOUT, STORED_NONE, block_rows, coefs_of, intercepts_of
from .losses import output_error, weighted_data_loss
from .products import input_transpose_times, sum_columns, transpose_times
from .tables import LazyFunction

# The weight sum ``gradient_rows`` returns for a block whose input is not
# finite. Real weight sums are finite and never negative (sample weights are
# checked), so a batch's sum over its blocks is this value exactly when one of
# its blocks found a non-finite input.
NON_FINITE_INPUT = -np.inf


@internal()
def error_at_output(ws, layer, rows):
    """This block's rows of the error at the layer's output ``h_{l+1}``."""
    return block_rows(ws.deltas, layer.delta_offset, layer.units, ws.capacity, rows.ws_row,
                      rows.n)


@internal()
def error_at_preactivation(ws, layer, rows):
    """This block's rows of the error at the layer's ``z`` (may alias its output error)."""
    return block_rows(ws.deltas, layer.delta_z_offset, layer.units * layer.pieces,
                      ws.capacity, rows.ws_row, rows.n)


@internal()
def route_to_max_piece(z, delta, mask, masked, pieces, n_rows, delta_z):
    """Maxout's derivative: each unit's error (times its dropout mask when
    ``masked``) goes to its first largest piece; the other pieces get zero."""
    units = delta.shape[1]
    for i in range(n_rows):
        for j in range(units):
            best_k = 0
            best = z[i, j * pieces]
            for k in range(pieces):
                delta_z[i, j * pieces + k] = 0.0
                v = z[i, j * pieces + k]
                if v > best:
                    best = v
                    best_k = k
            d = delta[i, j] * mask[i, j] if masked else delta[i, j]
            delta_z[i, j * pieces + best_k] = d


ROUTE_TO_MAX_PIECE = LazyFunction(__name__, "ROUTE_TO_MAX_PIECE", route_to_max_piece)
call_route_to_max_piece = ROUTE_TO_MAX_PIECE.call


@internal()
def hidden_error_at_z(net, ws, layer, rows, dropout_seed):
    """Turn a hidden layer's output error into its pre-activation error."""
    n = rows.n
    delta = error_at_output(ws, layer, rows)
    delta_z = error_at_preactivation(ws, layer, rows)
    masked = layer.dropout and dropout_seed >= 0
    if layer.kind == MAXOUT:
        mask = layer_mask(ws, layer, rows) if masked else delta
        call_route_to_max_piece((layer_stored(ws, layer, rows), delta, mask, masked,
                                 layer.pieces, n, delta_z))
        return
    source = delta
    if masked:
        call_scale_by_mask((delta, layer_mask(ws, layer, rows), n, delta_z))
        source = delta_z
    scratch = layer_scratch(ws, rows)
    if layer.stored == STORED_NONE:
        backpropagate(layer.activation, source, layer_output(ws, layer, rows), n, delta_z,
                      scratch)
    else:
        backpropagate(layer.activation, source, layer_stored(ws, layer, rows), n, delta_z,
                      scratch)


@internal(inline="always")
def backward_rows(net, params, data, rows, ws, grad, dropout_seed):
    """Back-propagate a block's output error; writes the block's raw gradient.

    Expects :func:`forward_rows` to have run on the same block with the same
    ``dropout_seed`` and the error at the output pre-activation in the last
    layer's ``deltas`` block. Writes ``h_l.T @ delta_z`` for each coefficient
    matrix and ``sum(delta_z, axis=0)`` for each intercept vector into ``grad``
    (unnormalised: see ``update.finalize_gradient``).
    """
    n = rows.n
    n_layers = net.layers.shape[0]
    for l in range(n_layers - 1, -1, -1):
        layer = net.layers[l]
        if l < n_layers - 1:
            call_compiled(hidden_error_at_z, (net, ws, layer, rows, dropout_seed))
        delta_z = error_at_preactivation(ws, layer, rows)
        coef_grad = coefs_of(grad, layer)
        if l == 0:
            call_compiled(input_transpose_times, (data, rows, delta_z, coef_grad))
        else:
            call_compiled(transpose_times, (read_only(layer_output(ws, net.layers[l - 1], rows)),
                                            delta_z, coef_grad))
        sum_columns(delta_z, n, intercepts_of(grad, layer))
        if l > 0:
            below = error_at_output(ws, net.layers[l - 1], rows)
            np.dot(delta_z, coefs_of(params, layer).T, below)
            if layer.residual:
                call_add_into((error_at_output(ws, layer, rows), n, below))


@internal()
def gradient_rows(net, params, data, rows, ws, grad, dropout_seed, check_input):
    """Forward pass, loss and backward pass of a block of rows.

    Parameters
    ----------
    net : Network
    params : ndarray of shape (n_params,)
    data : Data
    rows : Rows
        The block, with its targets ``rows.y`` and weights ``rows.w``.
    ws : Workspace
    grad : ndarray of shape (n_params,)
        Overwritten with the block's unnormalised gradient.
    dropout_seed : int
        Negative for no dropout.
    check_input : bool
        Test the block's dense input for NaN and infinity (see ``forward_rows``).

    Returns
    -------
    loss_sum, weight_sum : float
        Weighted sum of the rows' data losses, and of their weights; a weight
        sum of ``NON_FINITE_INPUT`` when ``check_input`` found a value that is
        not finite (``grad`` is then left unwritten).
    """
    if not forward_rows(net, params, data, rows, ws, dropout_seed, check_input):
        return 0.0, NON_FINITE_INPUT
    last = net.layers[net.layers.shape[0] - 1]
    y_pred = layer_output(ws, last, rows)
    loss_sum, weight_sum = call_compiled(weighted_data_loss, (
        net.loss, net.loss_param, y_pred, rows.y, rows.w, data.has_weight, net.eps))
    call_compiled(output_error, (net.loss, last.activation, net.loss_param, y_pred, rows.y,
                                 rows.w, data.has_weight, error_at_output(ws, last, rows)))
    backward_rows(net, params, data, rows, ws, grad, dropout_seed)
    return loss_sum, weight_sum
