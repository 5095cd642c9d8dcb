"""Explicit-SIMD matrix products for narrow outputs, without packing.

BLAS packs both operands on every call. When the product has few columns
(a 16-unit layer), packing costs as much as the multiply-adds, and OpenBLAS
runs a ``(200 x 784) @ (784 x 16)`` product at about 90 GFLOP/s on one core
that can do twice that. These kernels read the operands where they are.

The work is cut into register tiles of a few rows of the output
(``TILE_ROWS``, ``TILE_ROWS_TRANSPOSED``, ``TAIL_ROWS``: see below) by one or
two 512-bit vectors of columns (16 floats or 8 doubles each). A tile keeps
its accumulators in vector registers for the whole inner dimension: each step
loads one row of ``b`` as vectors, broadcasts one value of ``a`` per tile row
and adds their products with ``llvm.fma``. The tile's code is written as LLVM
IR (``numba.extending.intrinsic``) because Numba does not vectorise scalar
accumulators held across a loop.

Tails need no second code path: the tile's last rows repeat a valid row and
are not stored, and columns past the output's width are masked out of every
load and store (``llvm.masked.load`` / ``llvm.masked.store``). A tail of at
most half a vector of columns (W1's 100 units: six vectors of 16 floats and
4 columns) would leave most lanes of its vector idle, so on CPUs with
AVX-512 it goes through ``simd_tails`` instead, group by group of 4 columns.
On CPUs without 512-bit registers LLVM splits the vectors into narrower
ones: slower, still correct.
"""

from numba import types
from numba.core import cgutils
from numba.extending import intrinsic

from .firewall import call_compiled
from .jit import internal
from .simd_ir import VectorIR
from .simd_tails import (
    DOT_TAIL_MAX_STACK_BYTES,
    OUTER_TILE_VECTORS,
    TAIL_GROUP,
    dot_tail,
    outer_tail,
    outer_tail_1,
)

# Register tiles: rows of the output by one vector of columns (two when the
# output is wider than one vector). ``a @ b`` runs 14-row tiles where the CPU
# has 32 vector registers (AVX-512): 14 x 2 accumulators, two rows of ``b``
# and a broadcast fill 31 of them, and each broadcast value of ``a`` then
# feeds two FMAs. One thread on a Xeon with AVX-512, (100 x 784) @ (784 x n)
# float32: 8-row tiles 113 GFLOP/s at n = 100 and 96-100 at n = 16, 14-row
# tiles 123-129 and 106-116. Rows left over after the 14-row tiles go through
# 4-row tiles, so that a 100-row block computes 102 rows, not 112.
# ``a.T @ b`` keeps 8-row tiles: there a tile's rows are adjacent values of a
# row of ``a``, and 8 float32 (half a cache line) keep every tile within one
# line where 14 straddle two; reading rows of ``X`` through their ids, 14-row
# tiles ran at 44-70 GFLOP/s against 111-121 for 8. Its tiles span three
# vectors of columns where the width allows (8 x 3 accumulators): one step
# then issues 24 FMAs for 11 loads, where 8 x 2 issued 16 for 10 and was
# bound by the instruction rate, not the FMA units. One thread, (100 x 784).T
# @ (100 x 96) float32: 117 us (129 GFLOP/s) with two-vector tiles, 100 us
# (151) with three. Without AVX-512 (16 registers, each vector split in two)
# every tile keeps 8 rows and at most two vectors, and tails stay masked
# vectors: the wider tiles would not fit the registers.
TILE_ROWS_TRANSPOSED = 8
TAIL_ROWS = 4


def _has_avx512():
    """Whether Numba compiles for a CPU with AVX-512 (32 vector registers)."""
    try:
        from numba.core import config
        from llvmlite import binding

        if config.CPU_FEATURES is not None:
            return "+avx512f" in config.CPU_FEATURES
        return bool(binding.get_host_cpu_features().get("avx512f", False))
    except Exception:  # a host whose features llvmlite cannot read
        return False


WIDE_TILES = _has_avx512()
TILE_ROWS = 14 if WIDE_TILES else 8
# Rows of ``a`` that come from memory (a prediction chunk, a batch's rows read
# through their ids) arrived at the pace of the FMAs. The first column tile of
# each group of rows (``j0 == 0``) asks, once per cache line of its inner loop,
# for the line this many lines ahead in each of its rows, and past a row's end
# for the next group's rows. Into the level-2 cache: into level 1 the hints
# evicted the rows the next column tiles read. trainer.predict on 10,000 rows
# of W1's network, two threads: 6.0-6.3 ms against 7.6-7.9 without hints.
PREFETCH_LINES = 16


def _make_tile(tile_rows, n_vectors, a_transposed):
    """An intrinsic computing one ``tile_rows x n_vectors`` tile of the output.

    ``tile(a, ids, b, out, i0, j0, n_rows)`` writes rows ``[i0, i0 + n_rows)``
    (``n_rows <= tile_rows``) and columns ``[j0, j0 + n_vectors * lanes)``
    (those below ``out.shape[1]``) of ``op(a) @ b`` into ``out``, with
    ``op(a) = a.T`` when ``a_transposed``, else ``a``; when ``ids`` is an
    array rather than None, ``a`` stands for ``a[ids]`` (its rows read in
    place). Rows of every array are contiguous; their strides are read from
    the arrays. Tiles of ``a @ b`` with ``j0 == 0`` prefetch rows of ``a``
    (see ``PREFETCH_LINES``).
    """

    @intrinsic
    def tile(typingctx, a, ids, b, out, i0, j0, n_rows):
        sig = types.void(a, ids, b, out, types.intp, types.intp, types.intp)

        def codegen(context, builder, signature, args):
            i0v, j0v, n_rows_v = args[4:]
            ops = VectorIR(context, builder, signature.args[0].dtype)
            fa, fids, fb, fout, lda, ldb, ldo, n_inner, _, n_cols = ops.product_operands(
                signature, args)
            const, lanes = ops.const, ops.lanes

            # Lane masks: the columns below the output's width.
            masks = [ops.lanes_below(builder.add(j0v, const(lanes * v)), n_cols)
                     for v in range(n_vectors)]
            rows = ops.clamped_rows(i0v, n_rows_v, tile_rows)
            if not a_transposed:
                a_rows = [builder.mul(ops.row_of(fids, i), lda) for i in rows]

            acc = [[cgutils.alloca_once_value(builder, ops.zero) for _ in range(n_vectors)]
                   for _ in range(tile_rows)]
            if not a_transposed:
                m_out = builder.extract_value(fout.shape, 0)
                last_row = builder.sub(m_out, const(1))
                first_columns = builder.icmp_signed("==", j0v, const(0))
                next_rows = []
                for r in range(tile_rows):
                    i_next = builder.add(i0v, const(tile_rows + r))
                    i_next = builder.select(builder.icmp_signed("<", i_next, m_out), i_next,
                                            last_row)
                    next_rows.append(builder.sub(builder.mul(ops.row_of(fids, i_next), lda),
                                                 n_inner))
            with cgutils.for_range(builder, n_inner) as loop:
                k = loop.index
                if not a_transposed:
                    line_start = builder.and_(first_columns, builder.icmp_signed(
                        "==", builder.and_(k, const(ops.line_elements - 1)), const(0)))
                    with builder.if_then(line_start):
                        ahead = builder.add(k, const(PREFETCH_LINES * ops.line_elements))
                        inside = builder.icmp_signed("<", ahead, n_inner)
                        for r in range(tile_rows):
                            base = builder.select(inside, a_rows[r], next_rows[r])
                            ops.prefetch(fa.data, builder.add(base, ahead))
                b_row = builder.mul(k, ldb)
                b_vecs = [ops.load(fb.data, builder.add(b_row, builder.add(j0v,
                                                                           const(lanes * v))),
                                   masks[v])
                          for v in range(n_vectors)]
                if a_transposed:
                    a_row = builder.mul(ops.row_of(fids, k), lda)
                for r in range(tile_rows):
                    if a_transposed:
                        off = builder.add(a_row, rows[r])
                    else:
                        off = builder.add(a_rows[r], k)
                    bcast = ops.broadcast(builder.load(builder.gep(fa.data, [off])))
                    for v in range(n_vectors):
                        builder.store(ops.fma(bcast, b_vecs[v], builder.load(acc[r][v])),
                                      acc[r][v])
            for r in range(tile_rows):
                with builder.if_then(builder.icmp_signed("<", const(r), n_rows_v),
                                     likely=True):
                    out_row = builder.mul(builder.add(i0v, const(r)), ldo)
                    for v in range(n_vectors):
                        ops.store(builder.load(acc[r][v]), fout.data,
                                  builder.add(out_row, builder.add(j0v, const(lanes * v))),
                                  masks[v])
            return context.get_dummy_value()

        return sig, codegen

    return tile


_tile_1 = _make_tile(TILE_ROWS, 1, False)
_tile_2 = _make_tile(TILE_ROWS, 2, False)
_tail_1 = _make_tile(TAIL_ROWS, 1, False)
_tail_2 = _make_tile(TAIL_ROWS, 2, False)
_tile_1t = _make_tile(TILE_ROWS_TRANSPOSED, 1, True)
_tile_2t = _make_tile(TILE_ROWS_TRANSPOSED, 2, True)
_tile_3t = _make_tile(TILE_ROWS_TRANSPOSED, 3, True)


@internal()
def vector_lanes(values):
    """Elements of ``values``' dtype in one 512-bit vector."""
    return 64 // values.itemsize


@internal()
def last_full_column(n, lanes):
    """End of the columns that whole pairs of vectors cover: all but at most
    one vector's worth, the tail (the result may pass ``n``: masked lanes)."""
    j_tail = 0
    while n - j_tail > lanes:
        j_tail += 2 * lanes
    return j_tail


@internal()
def tail_by_group(n, j_tail, lanes):
    """Whether the tail columns ``[j_tail, n)`` are few enough (at most half a
    vector) to go through ``simd_tails`` rather than a mostly masked vector."""
    return WIDE_TILES and j_tail < n and n - j_tail <= lanes // 2


@internal()
def packed_tail_fits(b):
    """Whether ``TAIL_GROUP`` padded columns of ``b`` fit the dot tail's stack buffer."""
    lanes = vector_lanes(b)
    padded = (b.shape[0] + lanes - 1) // lanes * lanes
    return padded * TAIL_GROUP * b.itemsize <= DOT_TAIL_MAX_STACK_BYTES


@internal(boundscheck=False)
def tiled_times(a, ids, b, out):
    """``out = a @ b``, or ``a[ids] @ b`` when ``ids`` is not None."""
    m, n = out.shape
    lanes = vector_lanes(out)
    j_tail = last_full_column(n, lanes)
    by_group = tail_by_group(n, j_tail, lanes) and packed_tail_fits(b)
    vector_tail = j_tail < n and not by_group
    # Rows: full tiles, then a remainder of more than 2 * TAIL_ROWS rows as one
    # more tile, a smaller one as TAIL_ROWS-row tiles.
    m_full = m - m % TILE_ROWS
    if m - m_full > 2 * TAIL_ROWS:
        m_full = m
    for i0 in range(0, m_full, TILE_ROWS):
        n_rows = min(TILE_ROWS, m - i0)
        for j0 in range(0, j_tail, 2 * lanes):
            _tile_2(a, ids, b, out, i0, j0, n_rows)
        if vector_tail:
            _tile_1(a, ids, b, out, i0, j_tail, n_rows)
    for i0 in range(m_full, m, TAIL_ROWS):
        n_rows = min(TAIL_ROWS, m - i0)
        for j0 in range(0, j_tail, 2 * lanes):
            _tail_2(a, ids, b, out, i0, j0, n_rows)
        if vector_tail:
            _tail_1(a, ids, b, out, i0, j_tail, n_rows)
    if by_group:
        for j0 in range(j_tail, n, TAIL_GROUP):
            dot_tail(a, ids, b, out, j0, min(TAIL_GROUP, n - j0))


@internal(boundscheck=False)
def tiled_transpose_times(a, ids, b, out):
    """``out = a.T @ b``, or ``a[ids].T @ b`` when ``ids`` is not None."""
    m, n = out.shape
    lanes = vector_lanes(out)
    j_tail = last_full_column(n, lanes)
    by_group = tail_by_group(n, j_tail, lanes)
    # Three-vector tiles where the columns allow, else two-vector ones.
    n_vectors = j_tail // lanes
    j_three = 0
    if WIDE_TILES and n_vectors >= 3:
        j_three = (n_vectors - 2 * ((3 - n_vectors % 3) % 3)) * lanes
    for i0 in range(0, m, TILE_ROWS_TRANSPOSED):
        n_rows = min(TILE_ROWS_TRANSPOSED, m - i0)
        for j0 in range(0, j_three, 3 * lanes):
            _tile_3t(a, ids, b, out, i0, j0, n_rows)
        for j0 in range(j_three, j_tail, 2 * lanes):
            _tile_2t(a, ids, b, out, i0, j0, n_rows)
        if j_tail < n and not by_group:
            _tile_1t(a, ids, b, out, i0, j_tail, n_rows)
    if by_group:
        for j0 in range(j_tail, n, TAIL_GROUP):
            n_cols = min(TAIL_GROUP, n - j0)
            i0 = 0
            # Whole tiles while more than five vectors of rows are left, then
            # one vector at a time.
            while m - i0 > (OUTER_TILE_VECTORS - 1) * lanes:
                outer_tail(a, ids, b, out, i0, j0, n_cols)
                i0 += OUTER_TILE_VECTORS * lanes
            while i0 < m:
                outer_tail_1(a, ids, b, out, i0, j0, n_cols)
                i0 += lanes


@internal()
def simd_times(a, b, out):
    """``out = a @ b`` by register tiles; rows of every array contiguous.

    Parameters
    ----------
    a : ndarray of shape (m, k)
    b : ndarray of shape (k, n)
    out : ndarray of shape (m, n)
        Overwritten.
    """
    call_compiled(tiled_times, (a, None, b, out))


@internal()
def simd_transpose_times(a, b, out):
    """``out = a.T @ b`` by register tiles; rows of every array contiguous.

    Parameters
    ----------
    a : ndarray of shape (k, m)
    b : ndarray of shape (k, n)
    out : ndarray of shape (m, n)
        Overwritten.
    """
    call_compiled(tiled_transpose_times, (a, None, b, out))


@internal()
def simd_rows_times(a, ids, b, out):
    """``out = a[ids] @ b`` reading the rows of ``a`` in place (no gathered copy).

    Parameters
    ----------
    a : ndarray of shape (n_samples, k)
    ids : ndarray of int64, shape (m,)
    b : ndarray of shape (k, n)
    out : ndarray of shape (m, n)
        Overwritten.
    """
    call_compiled(tiled_times, (a, ids, b, out))


@internal()
def simd_rows_transpose_times(a, ids, b, out):
    """``out = a[ids].T @ b`` reading the rows of ``a`` in place (no gathered copy).

    Parameters
    ----------
    a : ndarray of shape (n_samples, m)
    ids : ndarray of int64, shape (k,)
    b : ndarray of shape (k, n)
    out : ndarray of shape (m, n)
        Overwritten.
    """
    call_compiled(tiled_transpose_times, (a, ids, b, out))
