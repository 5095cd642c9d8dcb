"""The dense products of ``fastmlp._kernels.products`` and ``simd`` against NumPy."""

import numpy as np
import pytest

from fastmlp._config import SIMD_MAX_COLUMNS, SIMD_MAX_WEIGHT_BYTES
from fastmlp._kernels.products import times, transpose_times
from fastmlp._kernels.simd import simd_times, simd_transpose_times
from shims import from_python

# (m, k, n): tails of the row tiles and of one or two vectors of 16
# floats or 8 doubles, an empty inner dimension, and W2's shapes.
# Column tails of at most half a vector (5, 36, 100, 104, 8) go through
# ``simd_tails``; W1's shapes run the dot tail's inner dimension in whole
# vectors and the outer tail's 784 rows through whole and one-vector tiles;
# 96 and 160 columns take the three-vector transposed tiles.
SHAPES = [(1, 1, 1), (7, 3, 5), (8, 16, 16), (9, 2, 17), (13, 5, 33), (17, 40, 10),
          (3, 0, 4), (100, 784, 16), (100, 16, 10), (31, 20, 100), (5, 9, 129),
          (100, 784, 100), (784, 100, 100), (23, 19, 36), (41, 33, 104), (6, 7, 8),
          (20, 12, 96), (9, 30, 160), (37, 50, 256)]


def rounding_bound(a, b, dtype):
    """Bound on the round-off of ``a @ b`` in ``dtype`` (any summation order)."""
    k = a.shape[1]
    return 2 * (k + 1) * np.finfo(dtype).eps * (np.abs(a) @ np.abs(b)) + np.finfo(dtype).tiny


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", SHAPES)
def test_simd_times_matches_numpy(dtype, shape):
    m, k, n = shape
    rng = np.random.default_rng(m * 1000 + k * 10 + n)
    a = rng.standard_normal((m, k)).astype(dtype)
    b = rng.standard_normal((k, n)).astype(dtype)
    out = np.full((m, n), np.nan, dtype)
    from_python(simd_times)(a, b, out)
    expected = a.astype(np.float64) @ b.astype(np.float64)
    assert np.all(np.abs(out - expected) <= rounding_bound(a, b, dtype))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", SHAPES)
def test_simd_transpose_times_matches_numpy(dtype, shape):
    m, k, n = shape
    rng = np.random.default_rng(m * 1000 + k * 10 + n + 1)
    a_t = rng.standard_normal((k, m)).astype(dtype)
    b = rng.standard_normal((k, n)).astype(dtype)
    out = np.full((m, n), np.nan, dtype)
    from_python(simd_transpose_times)(a_t, b, out)
    expected = a_t.T.astype(np.float64) @ b.astype(np.float64)
    assert np.all(np.abs(out - expected) <= rounding_bound(a_t.T, b, dtype))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("n", [21, 36])
def test_simd_reads_row_strided_views_and_writes_only_out(dtype, n):
    # Row blocks of a workspace: rows padded wider than the matrix, and
    # columns beyond ``out``'s width that must stay untouched (36 columns end
    # in a 4-column tail, computed by ``simd_tails``).
    rng = np.random.default_rng(0)
    a = rng.standard_normal((11, 30)).astype(dtype)[:, :19]
    b = rng.standard_normal((19, 48)).astype(dtype)[:, :n]
    target = np.full((11, 48), 7.0, dtype)
    from_python(simd_times)(a, b, target[:, :n])
    np.testing.assert_allclose(target[:, :n], a @ b, rtol=1e-4 if dtype == np.float32 else 1e-12,
                               atol=1e-4 if dtype == np.float32 else 1e-12)
    assert np.all(target[:, n:] == 7.0)
    a_t = rng.standard_normal((19, 25)).astype(dtype)[:, :11]
    transpose_target = np.full((11, 48), 7.0, dtype)
    from_python(simd_transpose_times)(a_t, b, transpose_target[:, :n])
    np.testing.assert_allclose(transpose_target[:, :n], a_t.T @ b,
                               rtol=1e-4 if dtype == np.float32 else 1e-12,
                               atol=1e-4 if dtype == np.float32 else 1e-12)
    assert np.all(transpose_target[:, n:] == 7.0)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("one_more_vector", [0, 1])
def test_dot_tail_either_side_of_its_stack_buffer(dtype, one_more_vector):
    # A 4-column tail of a @ b packs 4 columns of b, padded to whole vectors,
    # on the stack while they fit DOT_TAIL_MAX_STACK_BYTES; a longer inner
    # dimension keeps the masked column tile. Both must agree with NumPy.
    from fastmlp._kernels.simd_tails import DOT_TAIL_MAX_STACK_BYTES, TAIL_GROUP

    itemsize = np.dtype(dtype).itemsize
    k = DOT_TAIL_MAX_STACK_BYTES // (TAIL_GROUP * itemsize) + one_more_vector
    rng = np.random.default_rng(k)
    a = rng.standard_normal((9, k)).astype(dtype)
    b = rng.standard_normal((k, 36)).astype(dtype)
    out = np.full((9, 36), np.nan, dtype)
    from_python(simd_times)(a, b, out)
    assert np.all(np.abs(out - a.astype(np.float64) @ b) <= rounding_bound(a, b, dtype))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("n", [10, SIMD_MAX_COLUMNS, SIMD_MAX_COLUMNS + 1])
def test_dispatch_either_side_of_the_threshold(dtype, n):
    rng = np.random.default_rng(n)
    a = rng.standard_normal((37, 50)).astype(dtype)
    b = rng.standard_normal((50, n)).astype(dtype)
    out = np.empty((37, n), dtype)
    from_python(times)(a, b, out)
    tol = dict(rtol=1e-4, atol=1e-4) if dtype == np.float32 else dict(rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(out, a @ b, **tol)
    a_t = rng.standard_normal((50, 37)).astype(dtype)
    from_python(transpose_times)(a_t, b, out)
    np.testing.assert_allclose(out, a_t.T @ b, **tol)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("one_more_row", [0, 1])
def test_wide_forward_product_either_side_of_the_weight_size(dtype, one_more_row):
    # Past SIMD_MAX_COLUMNS, a @ b stays on the tiles while b fits in
    # SIMD_MAX_WEIGHT_BYTES, and goes to BLAS beyond: both must agree with NumPy.
    itemsize = np.dtype(dtype).itemsize
    n = 2 * SIMD_MAX_COLUMNS + 3
    k = SIMD_MAX_WEIGHT_BYTES // (n * itemsize) + one_more_row
    assert (k * n * itemsize <= SIMD_MAX_WEIGHT_BYTES) == (one_more_row == 0)
    rng = np.random.default_rng(k)
    a = rng.standard_normal((31, k)).astype(dtype)
    b = rng.standard_normal((k, n)).astype(dtype)
    out = np.full((31, n), np.nan, dtype)
    from_python(times)(a, b, out)
    assert np.all(np.abs(out - a.astype(np.float64) @ b) <= rounding_bound(a, b, dtype))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", SHAPES)
def test_simd_rows_products_read_rows_through_ids(dtype, shape):
    from fastmlp._kernels.simd import simd_rows_times, simd_rows_transpose_times

    m, k, n = shape
    rng = np.random.default_rng(m * 1000 + k * 10 + n + 2)
    source = rng.standard_normal((m + 7, k)).astype(dtype)
    ids = rng.permutation(m + 7)[:m].astype(np.int64)
    b = rng.standard_normal((k, n)).astype(dtype)
    out = np.full((m, n), np.nan, dtype)
    from_python(simd_rows_times)(source, ids, b, out)
    assert np.all(np.abs(out - source[ids].astype(np.float64) @ b) <= rounding_bound(
        source[ids], b, dtype))

    # Transposed: the ids pick the inner dimension's rows (a weight gradient).
    source_t = rng.standard_normal((k + 5, m)).astype(dtype)
    ids_t = rng.permutation(k + 5)[:k].astype(np.int64)
    delta = rng.standard_normal((k, n)).astype(dtype)
    out_t = np.full((m, n), np.nan, dtype)
    from_python(simd_rows_transpose_times)(source_t, ids_t, delta, out_t)
    picked = source_t[ids_t]
    assert np.all(np.abs(out_t - picked.T.astype(np.float64) @ delta) <= rounding_bound(
        picked.T, delta, dtype))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_every_row_count_through_full_and_leftover_tiles(dtype):
    """Row counts 1-45 cover full tiles, leftovers run as one more tile and as
    4-row tiles (``simd.tiled_times``), in both product layouts."""
    rng = np.random.default_rng(3)
    for m in range(1, 46):
        for n in (5, 40):
            a = rng.standard_normal((m, 7)).astype(dtype)
            b = rng.standard_normal((7, n)).astype(dtype)
            out = np.full((m, n), np.nan, dtype)
            from_python(simd_times)(a, b, out)
            np.testing.assert_array_less(np.abs(out - a @ b), rounding_bound(a, b, dtype))
            at = np.ascontiguousarray(a.T)
            c = rng.standard_normal((7, n)).astype(dtype)
            out_t = np.full((m, n), np.nan, dtype)
            from_python(simd_transpose_times)(at, c, out_t)
            np.testing.assert_array_less(np.abs(out_t - a @ c), rounding_bound(a, c, dtype))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_input_layer_reads_rows_in_place_up_to_its_width_and_weight_size(dtype):
    """A block reads its rows of dense X in place while both input-layer
    products can run on the tiles: up to SIMD_MAX_INPUT_COLUMNS units, and
    past SIMD_MAX_COLUMNS only while the weights fit SIMD_MAX_WEIGHT_BYTES."""
    from fastmlp._config import SIMD_MAX_INPUT_COLUMNS
    from fastmlp._kernels.layout import DENSE, LayerSpec
    from fastmlp._kernels.products import reads_input_in_place
    from fastmlp._trainer import Trainer, kernel_data

    itemsize = np.dtype(dtype).itemsize

    def in_place(n_features, units, residual=False):
        specs = [LayerSpec(DENSE, "relu", units, 1, residual, False),
                 LayerSpec(DENSE, "softmax", 3, 1, False, False)]
        trainer = Trainer(n_features, specs, dtype, "log_loss")
        data = kernel_data(np.zeros((5, n_features), dtype), dtype)
        return from_python(reads_input_in_place)(trainer.network, data, 100)

    assert in_place(20, SIMD_MAX_COLUMNS)
    assert in_place(20, SIMD_MAX_INPUT_COLUMNS)
    assert not in_place(20, SIMD_MAX_INPUT_COLUMNS + 1)
    assert not in_place(8, 8, residual=True)
    # Wider than SIMD_MAX_COLUMNS: only while the weights fit.
    units = SIMD_MAX_INPUT_COLUMNS
    fits = SIMD_MAX_WEIGHT_BYTES // (units * itemsize)
    assert in_place(fits, units)
    assert not in_place(fits + 1, units)
    assert in_place(fits + 1, SIMD_MAX_COLUMNS)
