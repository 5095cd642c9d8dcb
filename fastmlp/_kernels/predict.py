"""Compiled forward pass for prediction, parallel over blocks of rows."""

import numpy as np
from numba import njit, prange

from .activations import needs_preactivation
from .backprop import forward_rows
from .denormals import flush_denormals, restore_floating_point
from .finite import all_finite


@njit(cache=True, nogil=True, error_model="numpy")
def predict_worker_chunks(worker, n_workers, n_chunks, chunk_rows, X, x_sparse, params,
                          layer_units, coef_offsets, intercept_offsets, unit_offsets,
                          hidden_code, output_code, check_finite, activations, preacts,
                          out):
    """Forward pass of chunks ``worker, worker + n_workers, ...`` into ``out``.

    With ``check_finite`` (dense input), each chunk's inputs are tested first;
    returns False, leaving the rest of ``out`` unwritten, at the first chunk
    holding a NaN or an infinity.
    """
    is_sparse, data, indices, indptr, all_rows = x_sparse
    n_samples = out.shape[0]
    capacity = n_workers * chunk_rows
    for chunk in range(worker, n_chunks, n_workers):
        lo = chunk * chunk_rows
        hi = min(lo + chunk_rows, n_samples)
        x_block = X[0:0] if is_sparse else X[lo:hi]
        if check_finite and not is_sparse and not all_finite(x_block.ravel()):
            return False
        block = forward_rows(x_block, (is_sparse, data, indices, indptr, all_rows[lo:hi]),
                             worker * chunk_rows, params, layer_units, coef_offsets,
                             intercept_offsets, unit_offsets, hidden_code, output_code,
                             activations, preacts, capacity)
        out[lo:hi] = block
    return True


@njit(cache=True, nogil=True, error_model="numpy", parallel=True)
def predict_rows(X, x_sparse, params, layer_units, coef_offsets, intercept_offsets,
                 unit_offsets, hidden_code, output_code, chunk_rows, n_threads,
                 check_finite, out):
    """Output-layer activations of every row of ``X``, written to ``out``.

    Rows are cut into chunks of at most ``chunk_rows``; thread ``t`` handles
    chunks ``t, t + n_threads, ...`` in its own workspace rows, so the
    workspace stays bounded whatever the size of ``X``.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features), C-contiguous
        Dense input (a ``(0, n_features)`` placeholder for sparse input).
    x_sparse : tuple (is_sparse, data, indices, indptr, rows)
        Sparse input: CSR arrays of ``X`` and ``rows = arange(n_samples)``.
    params : ndarray of shape (n_params,)
    layer_units, coef_offsets, intercept_offsets, unit_offsets : ndarray of int64
        Network layout (see ``backprop``).
    hidden_code, output_code : int
    chunk_rows : int
    n_threads : int
    check_finite : bool
        Test dense inputs for NaN and infinity on the way: one extra read of each
        chunk, just before its product.
    out : ndarray of shape (n_samples, n_outputs)
        Receives the predictions.

    Returns
    -------
    finite : bool
        False when ``check_finite`` found a non-finite input; ``out`` is then
        incomplete.
    """
    n_samples = out.shape[0]
    if n_samples == 0:
        return True
    n_chunks = (n_samples + chunk_rows - 1) // chunk_rows
    n_workers = max(1, min(n_threads, n_chunks))
    capacity = n_workers * chunk_rows
    activations = np.empty(unit_offsets[-1] * capacity, dtype=params.dtype)
    preacts = np.empty(unit_offsets[-1] * capacity if needs_preactivation(hidden_code)
                       else 0, dtype=params.dtype)
    if n_workers == 1:
        # Small predictions (one row, say) must not pay for a parallel region.
        fp_state = flush_denormals()
        finite = predict_worker_chunks(0, 1, n_chunks, chunk_rows, X, x_sparse, params,
                                       layer_units, coef_offsets, intercept_offsets,
                                       unit_offsets, hidden_code, output_code,
                                       check_finite, activations, preacts, out)
        restore_floating_point(fp_state)
    else:
        worker_finite = np.ones(n_workers, dtype=np.bool_)
        for worker in prange(n_workers):
            worker_fp_state = flush_denormals()
            worker_finite[worker] = predict_worker_chunks(
                worker, n_workers, n_chunks, chunk_rows, X, x_sparse, params, layer_units,
                coef_offsets, intercept_offsets, unit_offsets, hidden_code, output_code,
                check_finite, activations, preacts, out)
            restore_floating_point(worker_fp_state)
        finite = worker_finite.all()
    return finite
