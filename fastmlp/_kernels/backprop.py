"""Forward and backward passes of a block of rows over the flat parameter buffer.

Layer ``l`` (``0 <= l < n_layers - 1``) maps ``layer_units[l]`` inputs to
``layer_units[l + 1]`` outputs with coefficients
``params[coef_offsets[l] : coef_offsets[l] + fan_in * fan_out]`` (row-major) and
intercepts ``params[intercept_offsets[l] : intercept_offsets[l] + fan_out]``.

Activations and errors of layers ``1 .. n_layers - 1`` live in flat workspaces:
layer ``l`` owns a row-major ``(capacity, units)`` block starting at
``unit_offsets[l] * capacity``. A block of ``n_rows`` input rows is given a
workspace row range ``[ws_row, ws_row + n_rows)`` and touches only those rows of
every block, so threads given disjoint ranges never write the same memory. Products go through BLAS (``np.dot``
with ``out=``) on contiguous row blocks; everything else through fused loops.
Nothing here allocates array memory.
"""

import numpy as np
from numba import njit

from .activations import add_bias_and_activate, multiply_by_derivative, needs_preactivation
from .losses import output_error, weighted_data_loss


@njit(cache=True, nogil=True, error_model="numpy")
def layer_coefs(params, layer_units, coef_offsets, layer):
    """View of layer ``layer``'s coefficient matrix inside a flat buffer."""
    fan_in = layer_units[layer]
    fan_out = layer_units[layer + 1]
    start = coef_offsets[layer]
    return params[start:start + fan_in * fan_out].reshape((fan_in, fan_out))


@njit(cache=True, nogil=True, error_model="numpy")
def layer_intercepts(params, layer_units, intercept_offsets, layer):
    """View of layer ``layer``'s intercept vector inside a flat buffer."""
    start = intercept_offsets[layer]
    return params[start:start + layer_units[layer + 1]]


@njit(cache=True, nogil=True, error_model="numpy")
def layer_rows(workspace, layer_units, unit_offsets, capacity, layer, ws_row, n_rows):
    """Rows ``[ws_row, ws_row + n_rows)`` of layer ``layer``'s workspace block."""
    units = layer_units[layer]
    start = unit_offsets[layer] * capacity + ws_row * units
    return workspace[start:start + n_rows * units].reshape((n_rows, units))


@njit(cache=True, nogil=True, error_model="numpy")
def block_row_count(x_block, x_sparse):
    """Rows in a block given densely (``x_block``) or as sparse row ids."""
    return x_sparse[4].shape[0] if x_sparse[0] else x_block.shape[0]


@njit(cache=True, nogil=True, error_model="numpy")
def sparse_rows_times_dense(x_sparse, coefs, out):
    """``out = X[rows] @ coefs`` for CSR ``X``, without densifying ``X[rows]``.

    Parameters
    ----------
    x_sparse : tuple (is_sparse, data, indices, indptr, rows)
        CSR arrays of ``X`` and the ids of the block's rows.
    coefs : ndarray of shape (n_features, fan_out)
    out : ndarray of shape (len(rows), fan_out)
    """
    _, data, indices, indptr, rows = x_sparse
    fan_out = coefs.shape[1]
    for i in range(rows.shape[0]):
        row = rows[i]
        for j in range(fan_out):
            out[i, j] = 0.0
        for k in range(indptr[row], indptr[row + 1]):
            value = data[k]
            col = indices[k]
            for j in range(fan_out):
                out[i, j] += value * coefs[col, j]


@njit(cache=True, nogil=True, error_model="numpy")
def sparse_rows_transpose_times_dense(x_sparse, delta, out):
    """``out = X[rows].T @ delta`` for CSR ``X``, without densifying ``X[rows]``.

    Parameters
    ----------
    x_sparse : tuple (is_sparse, data, indices, indptr, rows)
    delta : ndarray of shape (len(rows), fan_out)
    out : ndarray of shape (n_features, fan_out)
        Overwritten.
    """
    _, data, indices, indptr, rows = x_sparse
    fan_out = delta.shape[1]
    for col in range(out.shape[0]):
        for j in range(fan_out):
            out[col, j] = 0.0
    for i in range(rows.shape[0]):
        row = rows[i]
        for k in range(indptr[row], indptr[row + 1]):
            value = data[k]
            col = indices[k]
            for j in range(fan_out):
                out[col, j] += value * delta[i, j]


@njit(cache=True, nogil=True, error_model="numpy")
def forward_rows(x_block, x_sparse, ws_row, params, layer_units, coef_offsets,
                 intercept_offsets, unit_offsets, hidden_code, output_code,
                 activations, preacts, capacity):
    """Forward pass of a block of rows; fills their activations.

    Parameters
    ----------
    x_block : ndarray of shape (n_rows, n_features), C-contiguous
        Input rows (dense input; ignored for sparse input).
    x_sparse : tuple (is_sparse, data, indices, indptr, rows)
        For sparse input (``is_sparse`` true): CSR arrays of ``X`` and the ids
        of this block's rows; the input layer then multiplies sparse rows
        directly.
    ws_row : int
        First workspace row of this block.
    params : ndarray of shape (n_params,)
        Flat parameter buffer.
    layer_units, coef_offsets, intercept_offsets, unit_offsets : ndarray of int64
        Network layout (see module docstring).
    hidden_code, output_code : int
        Activation codes of hidden layers and of the output layer.
    activations : ndarray of shape (unit_offsets[-1] * capacity,)
        Workspace receiving the activations of layers 1 .. n_layers - 1.
    preacts : ndarray of shape (unit_offsets[-1] * capacity,)
        Workspace receiving hidden pre-activations when the hidden activation
        needs them for its derivative (never read by the forward pass).
    capacity : int
        Row capacity of each workspace block.

    Returns
    -------
    output : ndarray of shape (n_rows, n_outputs)
        View of these rows' output activations.
    """
    n_weight_layers = layer_units.shape[0] - 1
    n_rows = block_row_count(x_block, x_sparse)
    a_in = x_block
    for layer in range(n_weight_layers):
        coefs = layer_coefs(params, layer_units, coef_offsets, layer)
        intercepts = layer_intercepts(params, layer_units, intercept_offsets, layer)
        a_out = layer_rows(activations, layer_units, unit_offsets, capacity, layer + 1,
                           ws_row, n_rows)
        if layer == 0 and x_sparse[0]:
            sparse_rows_times_dense(x_sparse, coefs, a_out)
        else:
            np.dot(a_in, coefs, a_out)
        code = output_code if layer == n_weight_layers - 1 else hidden_code
        z_out = a_out
        if needs_preactivation(code):
            z_out = layer_rows(preacts, layer_units, unit_offsets, capacity, layer + 1,
                               ws_row, n_rows)
        add_bias_and_activate(code, a_out, intercepts, n_rows, z_out)
        a_in = a_out
    return a_in


@njit(cache=True, nogil=True, error_model="numpy")
def raw_gradient_rows(x_block, x_sparse, y_block, weight_block, has_weight, ws_row,
                      params, raw_grad, layer_units, coef_offsets, intercept_offsets,
                      unit_offsets, hidden_code, output_code, loss_code, eps,
                      activations, preacts, deltas, capacity):
    """Forward and backward pass of a block of rows.

    Writes the *unnormalised* data gradient of these rows to ``raw_grad``:
    ``A_l.T @ delta_l`` for each coefficient matrix and ``sum(delta_l, axis=0)``
    for each intercept vector, where ``delta`` at the output is
    ``w_i (p_i - y_i)`` (scikit-learn's ``_backprop`` before its division by the
    weight sum and its L2 term; see ``finalize_gradient``).

    Parameters
    ----------
    x_block, y_block : ndarray, C-contiguous
        Inputs ``(n_rows, n_features)`` (dense input) and targets
        ``(n_rows, n_outputs)``.
    x_sparse : tuple (is_sparse, data, indices, indptr, rows)
        Sparse input, as in ``forward_rows``.
    weight_block : ndarray of shape (n_rows,)
        Row weights, read only when ``has_weight``.
    has_weight : bool
    ws_row : int
        First workspace row of this block.
    params : ndarray of shape (n_params,)
    raw_grad : ndarray of shape (n_params,)
        Overwritten with this block's unnormalised gradient.
    layer_units, coef_offsets, intercept_offsets, unit_offsets : ndarray of int64
    hidden_code, output_code, loss_code : int
    eps : float
        Probability clipping bound for the log losses.
    activations, preacts, deltas : ndarray
        Workspaces (see module docstring and ``forward_rows``).
    capacity : int

    Returns
    -------
    loss_sum : float
        Weighted sum of the rows' data losses (see ``losses.weighted_data_loss``).
    weight_sum : float
        Sum of the rows' weights (their count without weights).
    """
    n_weight_layers = layer_units.shape[0] - 1
    n_rows = block_row_count(x_block, x_sparse)
    y_pred = forward_rows(x_block, x_sparse, ws_row, params, layer_units, coef_offsets,
                          intercept_offsets, unit_offsets, hidden_code, output_code,
                          activations, preacts, capacity)
    loss_sum, weight_sum = weighted_data_loss(loss_code, y_pred, y_block, weight_block,
                                              has_weight, eps)

    delta = layer_rows(deltas, layer_units, unit_offsets, capacity, n_weight_layers,
                       ws_row, n_rows)
    output_error(y_pred, y_block, weight_block, has_weight, delta)

    for layer in range(n_weight_layers - 1, -1, -1):
        if layer == 0:
            a_in = x_block
        else:
            a_in = layer_rows(activations, layer_units, unit_offsets, capacity, layer,
                              ws_row, n_rows)
        coef_grad = layer_coefs(raw_grad, layer_units, coef_offsets, layer)
        if layer == 0 and x_sparse[0]:
            sparse_rows_transpose_times_dense(x_sparse, delta, coef_grad)
        else:
            np.dot(a_in.T, delta, coef_grad)

        intercept_grad = layer_intercepts(raw_grad, layer_units, intercept_offsets, layer)
        fan_out = intercept_grad.shape[0]
        for j in range(fan_out):
            intercept_grad[j] = 0.0
        for i in range(n_rows):
            for j in range(fan_out):
                intercept_grad[j] += delta[i, j]

        if layer > 0:
            coefs = layer_coefs(params, layer_units, coef_offsets, layer)
            delta_in = layer_rows(deltas, layer_units, unit_offsets, capacity, layer,
                                  ws_row, n_rows)
            np.dot(delta, coefs.T, delta_in)
            z_in = a_in
            if needs_preactivation(hidden_code):
                z_in = layer_rows(preacts, layer_units, unit_offsets, capacity, layer,
                                  ws_row, n_rows)
            multiply_by_derivative(hidden_code, a_in, z_in, delta_in, n_rows)
            delta = delta_in
    return loss_sum, weight_sum
