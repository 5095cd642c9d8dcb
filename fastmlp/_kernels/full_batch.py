"""Loss and gradient over a whole data set, for L-BFGS."""

from numba import njit

from .backprop import loss_and_gradient_rows


@njit(cache=True, nogil=True)
def loss_and_gradient(X, Y, sample_weight, has_weight, params, grads, layer_units,
                      coef_offsets, intercept_offsets, unit_offsets, hidden_code,
                      output_code, loss_code, alpha, eps, activations, deltas):
    """Penalised mean loss over every row of ``X``; its gradient goes to ``grads``.

    Same definition as ``backprop.loss_and_gradient_rows`` with all rows in one
    block; the workspaces hold ``X.shape[0]`` rows.

    Returns
    -------
    loss : float
    """
    return loss_and_gradient_rows(
        X, Y, sample_weight, has_weight, X.shape[0], params, grads, layer_units,
        coef_offsets, intercept_offsets, unit_offsets, hidden_code, output_code,
        loss_code, alpha, eps, activations, deltas, X.shape[0],
    )
