"""Forward and backward passes of one block of rows over the flat parameter buffer.

Layer ``l`` (``0 <= l < n_layers - 1``) maps ``layer_units[l]`` inputs to
``layer_units[l + 1]`` outputs with coefficients
``params[coef_offsets[l] : coef_offsets[l] + fan_in * fan_out]`` (row-major) and
intercepts ``params[intercept_offsets[l] : intercept_offsets[l] + fan_out]``.

Activations and errors of layers ``1 .. n_layers - 1`` live in flat workspaces
at ``unit_offsets[l] * capacity``, each a row-major ``(capacity, units)`` block
of which the first ``n_rows`` rows are in use. Products go through BLAS
(``np.dot`` with ``out=``), everything else through fused loops; nothing here
allocates array memory.
"""

import numpy as np
from numba import njit

from .activations import add_bias_and_activate, multiply_by_derivative
from .losses import data_loss, output_error


@njit(cache=True, nogil=True)
def layer_coefs(params, layer_units, coef_offsets, layer):
    """View of layer ``layer``'s coefficient matrix inside ``params``."""
    fan_in = layer_units[layer]
    fan_out = layer_units[layer + 1]
    start = coef_offsets[layer]
    return params[start : start + fan_in * fan_out].reshape((fan_in, fan_out))


@njit(cache=True, nogil=True)
def layer_intercepts(params, layer_units, intercept_offsets, layer):
    """View of layer ``layer``'s intercept vector inside ``params``."""
    start = intercept_offsets[layer]
    return params[start : start + layer_units[layer + 1]]


@njit(cache=True, nogil=True)
def layer_block(workspace, layer_units, unit_offsets, capacity, layer, n_rows):
    """The first ``n_rows`` rows of layer ``layer``'s block of a workspace."""
    units = layer_units[layer]
    start = unit_offsets[layer] * capacity
    return workspace[start : start + n_rows * units].reshape((n_rows, units))


@njit(cache=True, nogil=True)
def forward_rows(
    x_rows,
    n_rows,
    params,
    layer_units,
    coef_offsets,
    intercept_offsets,
    unit_offsets,
    hidden_code,
    output_code,
    activations,
    capacity,
):
    """Forward pass of ``x_rows[:n_rows]``; fills every layer's activations.

    Parameters
    ----------
    x_rows : ndarray of shape (>= n_rows, n_features), C-contiguous
        Input rows.
    n_rows : int
        Rows in use.
    params : ndarray of shape (n_params,)
        Flat parameter buffer.
    layer_units, coef_offsets, intercept_offsets, unit_offsets : ndarray of int64
        Network layout (see module docstring).
    hidden_code, output_code : int
        Activation codes for hidden layers and the output layer.
    activations : ndarray of shape (unit_offsets[-1] * capacity,)
        Workspace receiving the activations of layers 1 .. n_layers - 1.
    capacity : int
        Row capacity of each workspace block.

    Returns
    -------
    output : ndarray of shape (n_rows, n_outputs)
        View of the output layer's activations.
    """
    n_weight_layers = layer_units.shape[0] - 1
    a_in = x_rows[:n_rows]
    for layer in range(n_weight_layers):
        coefs = layer_coefs(params, layer_units, coef_offsets, layer)
        intercepts = layer_intercepts(params, layer_units, intercept_offsets, layer)
        a_out = layer_block(activations, layer_units, unit_offsets, capacity, layer + 1, n_rows)
        np.dot(a_in, coefs, a_out)
        code = output_code if layer == n_weight_layers - 1 else hidden_code
        add_bias_and_activate(code, a_out, intercepts, n_rows)
        a_in = a_out
    return a_in


@njit(cache=True, nogil=True)
def squared_coef_norm(params, coef_offsets):
    """Sum of squares of every coefficient (intercepts excluded)."""
    total = 0.0
    for p in range(coef_offsets[-1]):
        total += params[p] * params[p]
    return total


@njit(cache=True, nogil=True)
def loss_and_gradient_rows(
    x_rows,
    y_rows,
    weight_rows,
    has_weight,
    n_rows,
    params,
    grads,
    layer_units,
    coef_offsets,
    intercept_offsets,
    unit_offsets,
    hidden_code,
    output_code,
    loss_code,
    alpha,
    eps,
    activations,
    deltas,
    capacity,
):
    """Loss and gradient of the mean penalised loss over ``n_rows`` rows.

    Follows scikit-learn's ``_backprop``: the loss is the (weighted) mean data
    loss plus ``0.5 * alpha * ||coefs||**2 / W``, and the gradient of layer ``l``
    is ``(A_l.T @ delta_l + alpha * coefs_l) / W`` for coefficients and
    ``sum(delta_l, axis=0) / W`` for intercepts, where ``W`` is the sum of the
    row weights (the row count without weights).

    Parameters
    ----------
    x_rows, y_rows : ndarray, C-contiguous
        Inputs ``(>= n_rows, n_features)`` and targets ``(>= n_rows, n_outputs)``.
    weight_rows : ndarray of shape (>= n_rows,)
        Row weights, read only when ``has_weight``.
    has_weight : bool
    n_rows : int
    params : ndarray of shape (n_params,)
    grads : ndarray of shape (n_params,)
        Overwritten with the gradient, in the layout of ``params``.
    layer_units, coef_offsets, intercept_offsets, unit_offsets : ndarray of int64
    hidden_code, output_code, loss_code : int
    alpha : float
        L2 penalty.
    eps : float
        Probability clipping bound for log losses.
    activations, deltas : ndarray
        Workspaces (see module docstring).
    capacity : int

    Returns
    -------
    loss : float
    """
    n_weight_layers = layer_units.shape[0] - 1
    y_pred = forward_rows(
        x_rows, n_rows, params, layer_units, coef_offsets, intercept_offsets,
        unit_offsets, hidden_code, output_code, activations, capacity,
    )
    loss = data_loss(loss_code, y_pred, y_rows, weight_rows, has_weight, n_rows, eps)

    if has_weight:
        weight_sum = 0.0
        for i in range(n_rows):
            weight_sum += weight_rows[i]
    else:
        weight_sum = float(n_rows)
    if alpha != 0.0:
        loss += 0.5 * alpha * squared_coef_norm(params, coef_offsets) / weight_sum

    delta = layer_block(deltas, layer_units, unit_offsets, capacity, n_weight_layers, n_rows)
    output_error(y_pred, y_rows, weight_rows, has_weight, n_rows, delta)

    for layer in range(n_weight_layers - 1, -1, -1):
        if layer == 0:
            a_in = x_rows[:n_rows]
        else:
            a_in = layer_block(activations, layer_units, unit_offsets, capacity, layer, n_rows)
        coefs = layer_coefs(params, layer_units, coef_offsets, layer)
        coef_grad = layer_coefs(grads, layer_units, coef_offsets, layer)
        np.dot(a_in.T, delta, coef_grad)
        fan_in, fan_out = coef_grad.shape
        for i in range(fan_in):
            for j in range(fan_out):
                coef_grad[i, j] = (coef_grad[i, j] + alpha * coefs[i, j]) / weight_sum

        intercept_grad = layer_intercepts(grads, layer_units, intercept_offsets, layer)
        intercept_grad[:] = 0.0
        for i in range(n_rows):
            for j in range(fan_out):
                intercept_grad[j] += delta[i, j]
        for j in range(fan_out):
            intercept_grad[j] = intercept_grad[j] / weight_sum

        if layer > 0:
            delta_in = layer_block(deltas, layer_units, unit_offsets, capacity, layer, n_rows)
            np.dot(delta, coefs.T, delta_in)
            multiply_by_derivative(hidden_code, a_in, delta_in, n_rows)
            delta = delta_in
    return loss
