"""Matrix products of a block of rows, on dense or CSR input.

Dense products with a narrow output (at most ``SIMD_MAX_COLUMNS`` columns, a
narrow layer) run on the register-tile kernels of ``simd``, and so do forward
products of wider layers whose weights stay in the level-2 cache
(``SIMD_MAX_WEIGHT_BYTES``); the others go through BLAS (``np.dot`` with
``out=``), whose packing pays off there. An
input layer of up to ``SIMD_MAX_INPUT_COLUMNS`` units whose forward product
runs on the tiles reads a mini-batch's rows of ``X`` in place, through their
ids, instead of from a gathered copy (:func:`reads_input_in_place`); sparse
CSR rows are read in place too: nothing is densified. Nothing here allocates
array memory.
"""

import numpy as np

from .._config import (
    SIMD_MAX_COLUMNS,
    SIMD_MAX_INNER_TRANSPOSED,
    SIMD_MAX_INPUT_COLUMNS,
    SIMD_MAX_WEIGHT_BYTES,
)
from .jit import internal
from .simd import (
    simd_rows_times,
    simd_rows_transpose_times,
    simd_times,
    simd_transpose_times,
)


@internal()
def unit_stride(values):
    """Whether the elements of each row of 2-D ``values`` are adjacent."""
    return values.shape[1] <= 1 or values.strides[1] == values.itemsize


@internal()
def times_on_tiles(a, b, n_columns):
    """Whether :func:`times` computes ``a @ b`` into ``n_columns`` adjacent columns
    on the register tiles (a narrow output or a small ``b``), not BLAS."""
    return ((n_columns <= SIMD_MAX_COLUMNS or b.size * b.itemsize <= SIMD_MAX_WEIGHT_BYTES)
            and unit_stride(a) and unit_stride(b))


@internal()
def times(a, b, out):
    """``out = a @ b``: register tiles for a narrow ``out`` or a small ``b``, else BLAS."""
    if times_on_tiles(a, b, out.shape[1]) and unit_stride(out):
        simd_times(a, b, out)
    else:
        np.dot(a, b, out)


@internal()
def transpose_times(a, b, out):
    """``out = a.T @ b``: register tiles for a narrow ``out``, else BLAS.

    The tiles read ``a`` down its columns, a cache line per row for every
    tile: past ``SIMD_MAX_INNER_TRANSPOSED`` rows those lines no longer stay
    cached between tiles and BLAS's packed copy is faster.
    """
    if (out.shape[1] <= SIMD_MAX_COLUMNS and a.shape[0] <= SIMD_MAX_INNER_TRANSPOSED
            and unit_stride(a) and unit_stride(b) and unit_stride(out)):
        simd_transpose_times(a, b, out)
    else:
        np.dot(a.T, b, out)


@internal()
def gather_rows(source, ids, target):
    """``target[i] = source[ids[i]]`` for every ``i`` of ``ids``."""
    n_cols = source.shape[1]
    for i in range(ids.shape[0]):
        row = ids[i]
        for j in range(n_cols):
            target[i, j] = source[row, j]


@internal()
def gather_values(source, ids, target):
    """``target[i] = source[ids[i]]`` for every ``i`` of ``ids``."""
    for i in range(ids.shape[0]):
        target[i] = source[ids[i]]


@internal()
def reads_input_in_place(net, data, n_rows):
    """Whether a block of ``n_rows`` dense rows needs no gathered copy of ``X``.

    True when both input-layer products can run on register tiles, which read
    ``X``'s rows through their ids: a narrow layer, or one of at most
    ``SIMD_MAX_INPUT_COLUMNS`` units whose weights fit ``SIMD_MAX_WEIGHT_BYTES``
    (the forward product's condition for tiles). Copying the rows first costs
    a pass the in-place tiles do not make. A residual input layer adds the
    rows to its output, and reads the copy.
    """
    first = net.layers[0]
    units = first.units * first.pieces
    forward_on_tiles = (units <= SIMD_MAX_COLUMNS or data.X.shape[1] * units * data.X.itemsize
                        <= SIMD_MAX_WEIGHT_BYTES)
    return (not data.is_sparse and not first.residual
            and units <= SIMD_MAX_INPUT_COLUMNS and forward_on_tiles
            and n_rows <= SIMD_MAX_INNER_TRANSPOSED and unit_stride(data.X))


@internal()
def input_on_tiles(rows, coefs):
    """Whether :func:`input_times` multiplies a block of dense rows by ``coefs``
    on the register tiles (rows read in place, or a gathered copy that
    :func:`times` sends to the tiles), not BLAS."""
    return rows.x.shape[0] < rows.n or times_on_tiles(rows.x, coefs, coefs.shape[1])


@internal()
def input_times(data, rows, coefs, out):
    """``out = X[rows] @ coefs``, reading sparse rows of ``X`` in place.

    Parameters
    ----------
    data : Data
    rows : Rows
        Dense input: ``rows.x`` holds the rows, or is empty when they are read
        from ``data.X`` through ``rows.ids``. Sparse input: ``rows.ids``.
    coefs : ndarray of shape (n_features, n_columns)
    out : ndarray of shape (rows.n, n_columns)
    """
    if not data.is_sparse:
        if rows.x.shape[0] < rows.n:
            simd_rows_times(data.X, rows.ids, coefs, out)
        else:
            times(rows.x, coefs, out)
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


@internal()
def input_transpose_times(data, rows, delta, out):
    """``out = X[rows].T @ delta`` (overwritten), reading sparse rows in place."""
    if not data.is_sparse:
        if rows.x.shape[0] < rows.n:
            simd_rows_transpose_times(data.X, rows.ids, delta, out)
        else:
            transpose_times(rows.x, delta, out)
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


@internal()
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


@internal()
def sum_columns(values, n_rows, out):
    """``out = values[:n_rows].sum(axis=0)``, rows added in order."""
    n_columns = out.shape[0]
    for j in range(n_columns):
        out[j] = 0.0
    for i in range(n_rows):
        for j in range(n_columns):
            out[j] += values[i, j]
