"""Matrix products of a block of rows, on dense (BLAS) or CSR input.

Dense products go through BLAS (``np.dot`` with ``out=``) on contiguous row
blocks. The input layer may instead read sparse CSR rows in place: nothing is
densified. Nothing here allocates array memory.
"""

import numpy as np
from numba import njit


@njit(cache=True, nogil=True, error_model="numpy")
def gather_rows(source, ids, target):
    """``target[i] = source[ids[i]]`` for every ``i`` of ``ids``."""
    n_cols = source.shape[1]
    for i in range(ids.shape[0]):
        row = ids[i]
        for j in range(n_cols):
            target[i, j] = source[row, j]


@njit(cache=True, nogil=True, error_model="numpy")
def gather_values(source, ids, target):
    """``target[i] = source[ids[i]]`` for every ``i`` of ``ids``."""
    for i in range(ids.shape[0]):
        target[i] = source[ids[i]]


@njit(cache=True, nogil=True, error_model="numpy")
def input_times(data, rows, coefs, out):
    """``out = X[rows] @ coefs``, reading sparse rows of ``X`` in place.

    Parameters
    ----------
    data : Data
    rows : Rows
        Dense input: ``rows.x`` holds the rows. Sparse input: ``rows.ids``.
    coefs : ndarray of shape (n_features, n_columns)
    out : ndarray of shape (rows.n, n_columns)
    """
    if not data.is_sparse:
        np.dot(rows.x, coefs, out)
        return
    n_columns = coefs.shape[1]
    for i in range(rows.n):
        row = rows.ids[i]
        for j in range(n_columns):
            out[i, j] = 0.0
        for k in range(data.indptr[row], data.indptr[row + 1]):
            value = data.values[k]
            col = data.indices[k]
            for j in range(n_columns):
                out[i, j] += value * coefs[col, j]


@njit(cache=True, nogil=True, error_model="numpy")
def input_transpose_times(data, rows, delta, out):
    """``out = X[rows].T @ delta`` (overwritten), reading sparse rows in place."""
    if not data.is_sparse:
        np.dot(rows.x.T, delta, out)
        return
    n_columns = delta.shape[1]
    for col in range(out.shape[0]):
        for j in range(n_columns):
            out[col, j] = 0.0
    for i in range(rows.n):
        row = rows.ids[i]
        for k in range(data.indptr[row], data.indptr[row + 1]):
            value = data.values[k]
            col = data.indices[k]
            for j in range(n_columns):
                out[col, j] += value * delta[i, j]


@njit(cache=True, nogil=True, error_model="numpy")
def add_input(data, rows, out):
    """``out += X[rows]``: the skip connection of a residual first layer."""
    n_units = out.shape[1]
    if not data.is_sparse:
        for i in range(rows.n):
            for j in range(n_units):
                out[i, j] += rows.x[i, j]
        return
    for i in range(rows.n):
        row = rows.ids[i]
        for k in range(data.indptr[row], data.indptr[row + 1]):
            out[i, data.indices[k]] += data.values[k]


@njit(cache=True, nogil=True, error_model="numpy")
def sum_columns(values, n_rows, out):
    """``out = values[:n_rows].sum(axis=0)``, rows added in order."""
    n_columns = out.shape[0]
    for j in range(n_columns):
        out[j] = 0.0
    for i in range(n_rows):
        for j in range(n_columns):
            out[j] += values[i, j]
