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
load and store (``llvm.masked.load`` / ``llvm.masked.store``). On CPUs
without 512-bit registers LLVM splits the vectors into narrower ones: slower,
still correct.
"""

import llvmlite.ir as ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic

from .jit import internal

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
# tiles ran at 44-70 GFLOP/s against 111-121 for 8. Without AVX-512 (16
# registers, each vector split in two) every tile keeps 8 rows, as before.
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


TILE_ROWS = 14 if _has_avx512() else 8

VECTOR_BYTES = 64


def _lanes(dtype):
    return VECTOR_BYTES // dtype.bitwidth * 8


def _make_tile(tile_rows, n_vectors, a_transposed):
    """An intrinsic computing one ``tile_rows x n_vectors`` tile of the output.

    ``tile(a, ids, b, out, i0, j0, n_rows)`` writes rows ``[i0, i0 + n_rows)``
    (``n_rows <= tile_rows``) and columns ``[j0, j0 + n_vectors * lanes)``
    (those below ``out.shape[1]``) of ``op(a) @ b`` into ``out``, with
    ``op(a) = a.T`` when ``a_transposed``, else ``a``; when ``ids`` is an
    array rather than None, ``a`` stands for ``a[ids]`` (its rows read in
    place). Rows of every array are contiguous; their strides are read from
    the arrays.
    """

    @intrinsic
    def tile(typingctx, a, ids, b, out, i0, j0, n_rows):
        sig = types.void(a, ids, b, out, types.intp, types.intp, types.intp)
        indexed = not isinstance(ids, types.NoneType)

        def codegen(context, builder, signature, args):
            a_arg, ids_arg, b_arg, out_arg, i0v, j0v, n_rows_v = args
            fa, fb, fout = [context.make_array(signature.args[i])(context, builder, args[i])
                            for i in (0, 2, 3)]
            if indexed:
                fids = context.make_array(signature.args[1])(context, builder, ids_arg)
            dtype = signature.args[0].dtype
            lanes = _lanes(dtype)
            elt = context.get_value_type(dtype)
            vty = ir.VectorType(elt, lanes)
            vptr = vty.as_pointer()
            intp = i0v.type
            i1 = ir.IntType(1)
            i32 = ir.IntType(32)
            mty = ir.VectorType(i1, lanes)
            itemsize = ir.Constant(intp, context.get_abi_sizeof(elt))

            def const(v):
                return ir.Constant(intp, v)

            def row_stride(f):
                return builder.sdiv(builder.extract_value(f.strides, 0), itemsize)

            lda, ldb, ldo = row_stride(fa), row_stride(fb), row_stride(fout)
            n_inner = builder.extract_value(fb.shape, 0)
            n_cols = builder.extract_value(fout.shape, 1)

            suffix = f"v{lanes}{'f64' if dtype.bitwidth == 64 else 'f32'}"
            fma = cgutils.get_or_insert_function(
                builder.module, ir.FunctionType(vty, [vty] * 3), f"llvm.fma.{suffix}")
            mload = cgutils.get_or_insert_function(
                builder.module, ir.FunctionType(vty, [vptr, i32, mty, vty]),
                f"llvm.masked.load.{suffix}.p0")
            mstore = cgutils.get_or_insert_function(
                builder.module, ir.FunctionType(ir.VoidType(), [vty, vptr, i32, mty]),
                f"llvm.masked.store.{suffix}.p0")
            align = ir.Constant(i32, dtype.bitwidth // 8)

            zero = ir.Constant(vty, [0.0] * lanes)
            undef = ir.Constant(vty, ir.Undefined)
            splat0 = ir.Constant(ir.VectorType(i32, lanes), [0] * lanes)
            ivty = ir.VectorType(intp, lanes)
            lane_ids = ir.Constant(ivty, [i for i in range(lanes)])

            def splat_int(v):
                vec = builder.insert_element(ir.Constant(ivty, ir.Undefined), v,
                                             ir.Constant(i32, 0))
                return builder.shuffle_vector(vec, ir.Constant(ivty, ir.Undefined), splat0)

            # Lane masks: the columns below the output's width.
            masks = []
            for v in range(n_vectors):
                first = builder.add(j0v, const(lanes * v))
                cols = builder.add(splat_int(first), lane_ids)
                masks.append(builder.icmp_signed("<", cols, splat_int(n_cols)))

            # Rows past n_rows repeat the last valid row (their results are dropped).
            last = builder.sub(n_rows_v, const(1))
            rows = []
            for r in range(tile_rows):
                clamped = builder.select(builder.icmp_signed("<", const(r), n_rows_v),
                                         const(r), last)
                rows.append(builder.add(i0v, clamped))

            def row_of_a(i):
                """Row ``i`` of ``a``, or row ``ids[i]`` when reading through ids."""
                if not indexed:
                    return i
                index = builder.load(builder.gep(fids.data, [i]))
                return builder.sext(index, intp) if index.type.width < intp.width else index

            if not a_transposed:
                a_rows = [builder.mul(row_of_a(i), lda) for i in rows]

            acc = [[cgutils.alloca_once_value(builder, zero) for _ in range(n_vectors)]
                   for _ in range(tile_rows)]
            with cgutils.for_range(builder, n_inner) as loop:
                k = loop.index
                b_row = builder.mul(k, ldb)
                b_vecs = []
                for v in range(n_vectors):
                    p = builder.gep(fb.data, [builder.add(b_row, builder.add(j0v,
                                                                             const(lanes * v)))])
                    b_vecs.append(builder.call(mload, [builder.bitcast(p, vptr), align,
                                                       masks[v], zero]))
                if a_transposed:
                    a_row = builder.mul(row_of_a(k), lda)
                for r in range(tile_rows):
                    if a_transposed:
                        off = builder.add(a_row, rows[r])
                    else:
                        off = builder.add(a_rows[r], k)
                    s = builder.load(builder.gep(fa.data, [off]))
                    bcast = builder.shuffle_vector(
                        builder.insert_element(undef, s, ir.Constant(i32, 0)), undef, splat0)
                    for v in range(n_vectors):
                        builder.store(builder.call(fma, [bcast, b_vecs[v],
                                                         builder.load(acc[r][v])]),
                                      acc[r][v])
            for r in range(tile_rows):
                with builder.if_then(builder.icmp_signed("<", const(r), n_rows_v),
                                     likely=True):
                    out_row = builder.mul(builder.add(i0v, const(r)), ldo)
                    for v in range(n_vectors):
                        p = builder.gep(fout.data, [builder.add(out_row, builder.add(
                            j0v, const(lanes * v)))])
                        builder.call(mstore, [builder.load(acc[r][v]),
                                              builder.bitcast(p, vptr), align, masks[v]])
            return context.get_dummy_value()

        return sig, codegen

    return tile


_tile_1 = _make_tile(TILE_ROWS, 1, False)
_tile_2 = _make_tile(TILE_ROWS, 2, False)
_tail_1 = _make_tile(TAIL_ROWS, 1, False)
_tail_2 = _make_tile(TAIL_ROWS, 2, False)
_tile_1t = _make_tile(TILE_ROWS_TRANSPOSED, 1, True)
_tile_2t = _make_tile(TILE_ROWS_TRANSPOSED, 2, True)


@internal()
def vector_lanes(values):
    """Elements of ``values``' dtype in one 512-bit vector."""
    return 64 // values.itemsize


@internal(boundscheck=False)
def tiled_times(a, ids, b, out):
    """``out = a @ b``, or ``a[ids] @ b`` when ``ids`` is not None."""
    m, n = out.shape
    lanes = vector_lanes(out)
    # Two-vector tiles while more than one vector of columns is left.
    j_tail = 0
    while n - j_tail > lanes:
        j_tail += 2 * lanes
    # Rows: full tiles, then a remainder of more than 2 * TAIL_ROWS rows as one
    # more tile, a smaller one as TAIL_ROWS-row tiles.
    m_full = m - m % TILE_ROWS
    if m - m_full > 2 * TAIL_ROWS:
        m_full = m
    for i0 in range(0, m_full, TILE_ROWS):
        n_rows = min(TILE_ROWS, m - i0)
        for j0 in range(0, j_tail, 2 * lanes):
            _tile_2(a, ids, b, out, i0, j0, n_rows)
        if j_tail < n:
            _tile_1(a, ids, b, out, i0, j_tail, n_rows)
    for i0 in range(m_full, m, TAIL_ROWS):
        n_rows = min(TAIL_ROWS, m - i0)
        for j0 in range(0, j_tail, 2 * lanes):
            _tail_2(a, ids, b, out, i0, j0, n_rows)
        if j_tail < n:
            _tail_1(a, ids, b, out, i0, j_tail, n_rows)


@internal(boundscheck=False)
def tiled_transpose_times(a, ids, b, out):
    """``out = a.T @ b``, or ``a[ids].T @ b`` when ``ids`` is not None."""
    m, n = out.shape
    lanes = vector_lanes(out)
    for i0 in range(0, m, TILE_ROWS_TRANSPOSED):
        n_rows = min(TILE_ROWS_TRANSPOSED, m - i0)
        j0 = 0
        while n - j0 > lanes:
            _tile_2t(a, ids, b, out, i0, j0, n_rows)
            j0 += 2 * lanes
        if j0 < n:
            _tile_1t(a, ids, b, out, i0, j0, n_rows)


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
    tiled_times(a, None, b, out)


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
    tiled_transpose_times(a, None, b, out)


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
    tiled_times(a, ids, b, out)


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
    tiled_transpose_times(a, ids, b, out)
