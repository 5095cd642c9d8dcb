"""Register tiles for the last few columns of a product, vectorised the other way.

The tiles of ``simd`` hold vectors of output columns. When the output's width
leaves a few columns after its full vectors (W1's 100 units are six vectors
of 16 floats and 4 columns), the last vector is mostly masked lanes, yet
costs as much as a full one: one thread, ``(100 x 784) @ (784 x 100)``
float32 with rows read through their ids took as long as at 112 columns,
17% more than at 96. The kernels here compute those columns with vectors
along the inner dimension or along the output's rows instead, so that every
lane does useful work:

- :data:`dot_tail` (``a @ b``): each output value is a dot product of a row of
  ``a`` (contiguous) with a column of ``b``. The tail columns of ``b`` are first
  copied, transposed and zero-padded, into a buffer on the stack; each tile of
  rows then multiplies whole vectors of both and sums each accumulator's lanes
  at the end.
- :data:`outer_tail` (``a.T @ b``, a weight gradient): each step adds a row of
  ``a`` (contiguous: a vector of output rows) times a broadcast value of ``b``
  per tail column; at the end the vectors are transposed into rows of at most
  ``TAIL_GROUP`` values.

Both work on one group of at most ``TAIL_GROUP`` columns; ``simd`` calls them
group by group.
"""

import llvmlite.ir as ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic

from .simd_ir import VectorIR

# Columns computed together by one call: the accumulators of a tile are
# ``TAIL_GROUP`` per row (dot) or per vector of rows (outer).
TAIL_GROUP = 4
# Rows of ``a`` per dot-tile: 6 rows x 4 columns of accumulators, the 4
# vectors of packed ``b`` and a vector of ``a`` fill 29 of 32 registers.
DOT_TILE_ROWS = 6
# Vectors of output rows per outer-tile: 6 x 4 accumulators, the 4
# broadcasts and a vector of ``a`` fill 29 of 32 registers. Rows left over
# after these tiles go one vector at a time.
OUTER_TILE_VECTORS = 6
# Bytes of stack for the packed tail columns of ``b`` (TAIL_GROUP columns of
# its whole inner dimension); products with a longer inner dimension keep the
# masked column tiles.
DOT_TAIL_MAX_STACK_BYTES = 65536


def _transpose_reduce(builder, accs, lanes):
    """Sum each of ``TAIL_GROUP`` vectors' lanes: one vector of ``TAIL_GROUP``
    sums, in order. Pairs of vectors are folded into one by adding their
    halves side by side, then the groups inside one vector, so that every
    shuffle and add works on all the lanes at once."""
    i32 = ir.IntType(32)

    def shuffle(x, y, indices):
        return builder.shuffle_vector(x, y, ir.Constant(ir.VectorType(i32, len(indices)),
                                                        indices))

    # Level 1: (a0, a1) -> one vector, lanes [0, L/2) from a0, [L/2, L) from a1.
    half = lanes // 2
    lo = list(range(half)) + [lanes + i for i in range(half)]
    hi = [half + i for i in range(half)] + [lanes + half + i for i in range(half)]
    pairs = [builder.fadd(shuffle(accs[0], accs[1], lo), shuffle(accs[0], accs[1], hi)),
             builder.fadd(shuffle(accs[2], accs[3], lo), shuffle(accs[2], accs[3], hi))]
    # Level 2: two vectors of two groups of L/2 -> one vector of four groups of L/4.
    quarter = lanes // 4
    lo = [g * half + i for g in range(2) for i in range(quarter)]
    lo = lo + [lanes + x for x in lo]
    hi = [x + quarter for x in lo]
    v = builder.fadd(shuffle(pairs[0], pairs[1], lo), shuffle(pairs[0], pairs[1], hi))
    # Then halve each group in place until one lane per group is left.
    group = quarter
    while group > 1:
        g = group // 2
        lo = [c * group + i for c in range(TAIL_GROUP) for i in range(g)]
        hi = [x + g for x in lo]
        undef = ir.Constant(v.type, ir.Undefined)
        v = builder.fadd(shuffle(v, undef, lo), shuffle(v, undef, hi))
        group = g
    return v


def _make_dot_tail(tile_rows):
    @intrinsic
    def dot_tail(typingctx, a, ids, b, out, j0, n_tail):
        sig = types.void(a, ids, b, out, types.intp, types.intp)

        def codegen(context, builder, signature, args):
            j0v, n_tail_v = args[4:]
            ops = VectorIR(context, builder, signature.args[0].dtype)
            fa, fids, fb, fout, lda, ldb, ldo, n_inner, m, _ = ops.product_operands(
                signature, args)
            const, lanes = ops.const, ops.lanes
            n_full = builder.sdiv(n_inner, const(lanes))
            n_padded = builder.mul(builder.sdiv(builder.add(n_inner, const(lanes - 1)),
                                                const(lanes)), const(lanes))

            saved = ops.stack_save()
            packed = builder.alloca(ops.elt, size=builder.mul(n_padded, const(TAIL_GROUP)))
            packed.align = 64
            # packed[c * n_padded + k] = b[k, j0 + c], zero past the inner
            # dimension and past the group's columns.
            for c in range(TAIL_GROUP):
                column_ok = builder.icmp_signed("<", const(c), n_tail_v)
                with cgutils.for_range(builder, n_padded) as loop:
                    k = loop.index
                    ok = builder.and_(column_ok, builder.icmp_signed("<", k, n_inner))
                    at = builder.select(ok, builder.add(builder.mul(k, ldb),
                                                        builder.add(j0v, const(c))), const(0))
                    value = builder.select(ok, builder.load(builder.gep(fb.data, [at])),
                                           ops.scalar_zero)
                    builder.store(value, builder.gep(packed, [builder.add(
                        builder.mul(const(c), n_padded), k)]))

            n_tiles = builder.sdiv(builder.add(m, const(tile_rows - 1)), const(tile_rows))
            with cgutils.for_range(builder, n_tiles) as tiles:
                i0 = builder.mul(tiles.index, const(tile_rows))
                rows = ops.clamped_rows(i0, builder.sub(m, i0), tile_rows)
                a_rows = [builder.mul(ops.row_of(fids, r), lda) for r in rows]
                acc = [[cgutils.alloca_once_value(builder, ops.zero) for _ in range(TAIL_GROUP)]
                       for _ in range(tile_rows)]

                def step(k, mask):
                    b_vecs = [ops.load(packed, builder.add(builder.mul(const(c), n_padded), k))
                              for c in range(TAIL_GROUP)]
                    for r in range(tile_rows):
                        a_vec = ops.load(fa.data, builder.add(a_rows[r], k), mask)
                        for c in range(TAIL_GROUP):
                            builder.store(ops.fma(a_vec, b_vecs[c], builder.load(acc[r][c])),
                                          acc[r][c])

                with cgutils.for_range(builder, n_full) as inner:
                    step(builder.mul(inner.index, const(lanes)), None)
                k_last = builder.mul(n_full, const(lanes))
                with builder.if_then(builder.icmp_signed("<", k_last, n_inner)):
                    step(k_last, ops.lanes_below(k_last, n_inner))

                store_mask = ops.small_mask(n_tail_v, TAIL_GROUP)
                for r in range(tile_rows):
                    with builder.if_then(builder.icmp_signed("<", builder.add(i0, const(r)), m),
                                         likely=True):
                        sums = _transpose_reduce(builder, [builder.load(x) for x in acc[r]],
                                                 lanes)
                        at = builder.add(builder.mul(builder.add(i0, const(r)), ldo), j0v)
                        ops.store(sums, fout.data, at, store_mask)
            ops.stack_restore(saved)
            return context.get_dummy_value()

        return sig, codegen

    return dot_tail


def _make_outer_tail(n_vectors):
    @intrinsic
    def outer_tail(typingctx, a, ids, b, out, i0, j0, n_tail):
        sig = types.void(a, ids, b, out, types.intp, types.intp, types.intp)

        def codegen(context, builder, signature, args):
            i0v, j0v, n_tail_v = args[4:]
            ops = VectorIR(context, builder, signature.args[0].dtype)
            fa, fids, fb, fout, lda, ldb, ldo, n_inner, m, _ = ops.product_operands(
                signature, args)
            const, lanes = ops.const, ops.lanes
            masks = [ops.lanes_below(builder.add(i0v, const(v * lanes)), m)
                     for v in range(n_vectors)]
            # Columns past the group's repeat its last valid one (not stored).
            last = builder.sub(n_tail_v, const(1))
            cols = [builder.add(j0v, builder.select(builder.icmp_signed("<", const(c), n_tail_v),
                                                    const(c), last))
                    for c in range(TAIL_GROUP)]
            acc = [[cgutils.alloca_once_value(builder, ops.zero) for _ in range(TAIL_GROUP)]
                   for _ in range(n_vectors)]
            with cgutils.for_range(builder, n_inner) as loop:
                k = loop.index
                a_row = builder.add(builder.mul(ops.row_of(fids, k), lda), i0v)
                b_row = builder.mul(k, ldb)
                bcasts = [ops.broadcast(builder.load(builder.gep(fb.data, [builder.add(b_row,
                                                                                       col)])))
                          for col in cols]
                for v in range(n_vectors):
                    a_vec = ops.load(fa.data, builder.add(a_row, const(v * lanes)), masks[v])
                    for c in range(TAIL_GROUP):
                        builder.store(ops.fma(a_vec, bcasts[c], builder.load(acc[v][c])),
                                      acc[v][c])
            store_mask = ops.small_mask(n_tail_v, TAIL_GROUP)
            for v in range(n_vectors):
                rows_of_group = ops.transpose_to_rows([builder.load(x) for x in acc[v]],
                                                      TAIL_GROUP)
                for i, values in enumerate(rows_of_group):
                    row = builder.add(i0v, const(v * lanes + i))
                    with builder.if_then(builder.icmp_signed("<", row, m), likely=True):
                        ops.store(values, fout.data,
                                        builder.add(builder.mul(row, ldo), j0v), store_mask)
            return context.get_dummy_value()

        return sig, codegen

    return outer_tail


dot_tail = _make_dot_tail(DOT_TILE_ROWS)
outer_tail = _make_outer_tail(OUTER_TILE_VECTORS)
outer_tail_1 = _make_outer_tail(1)
