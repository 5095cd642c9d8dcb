"""Compiled forward pass for prediction, in blocks of rows."""

import numpy as np
from numba import njit

from .backprop import forward_rows


@njit(cache=True, nogil=True)
def predict_rows(X, params, layer_units, coef_offsets, intercept_offsets,
                 unit_offsets, hidden_code, output_code, chunk_rows, out):
    """Output-layer activations of every row of ``X``, written to ``out``.

    Rows are processed in blocks of ``chunk_rows`` so the workspace stays
    bounded whatever the size of ``X``.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features), C-contiguous
    params : ndarray of shape (n_params,)
    layer_units, coef_offsets, intercept_offsets, unit_offsets : ndarray of int64
        Network layout (see ``backprop``).
    hidden_code, output_code : int
    chunk_rows : int
    out : ndarray of shape (n_samples, n_outputs)
        Receives the predictions.
    """
    n_samples = X.shape[0]
    capacity = min(chunk_rows, max(n_samples, 1))
    activations = np.empty(unit_offsets[-1] * capacity, dtype=params.dtype)
    for start in range(0, n_samples, capacity):
        stop = min(start + capacity, n_samples)
        block = forward_rows(
            X[start:stop], stop - start, params, layer_units, coef_offsets,
            intercept_offsets, unit_offsets, hidden_code, output_code,
            activations, capacity,
        )
        out[start:stop] = block
