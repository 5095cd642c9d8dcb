"""LLVM IR building blocks shared by the register-tile kernels.

:class:`VectorIR` wraps, for one dtype, the 512-bit vector type and the
operations the tiles of ``simd`` and ``simd_tails`` emit: loads and stores
(masked where lanes fall outside the array), broadcasts, ``llvm.fma``, lane
masks and small transposes. Offsets are in elements and every pointer is an
array's data pointer or a stack buffer of the same element type.
"""

from collections import namedtuple

import llvmlite.ir as ir
from numba import types
from numba.core import cgutils

VECTOR_BYTES = 64

Operands = namedtuple("Operands", "a ids b out lda ldb ldo n_inner m n")
Operands.__doc__ = """A product's arrays ``a``, ``ids`` (None when not an array), ``b`` and
``out`` as array structures, their row strides in elements, ``b``'s rows (the
inner dimension) and ``out``'s shape ``(m, n)``, all as IR values."""


def lanes_of(dtype):
    """Elements of Numba ``dtype`` in one 512-bit vector."""
    return VECTOR_BYTES // dtype.bitwidth * 8


class VectorIR:
    """Vector operations on ``dtype`` for one intrinsic's code generation.

    Parameters
    ----------
    context, builder
        The code generation context and IR builder of the intrinsic.
    dtype : numba.types.Float
        Element type of the arrays.
    lanes : int, optional
        Elements per vector; by default a 512-bit vector's.
    """

    def __init__(self, context, builder, dtype, lanes=None):
        self.context, self.builder = context, builder
        self.lanes = lanes_of(dtype) if lanes is None else lanes
        self.elt = context.get_value_type(dtype)
        self.vty = ir.VectorType(self.elt, self.lanes)
        self.intp = context.get_value_type(types.intp)
        self.i32 = ir.IntType(32)
        self.itemsize = dtype.bitwidth // 8
        self.line_elements = 64 // self.itemsize
        self.align = ir.Constant(self.i32, self.itemsize)
        self.zero = ir.Constant(self.vty, [0.0] * self.lanes)
        self.scalar_zero = ir.Constant(self.elt, 0.0)
        self.suffix = f"{'f64' if dtype.bitwidth == 64 else 'f32'}"
        self._lane_ids = ir.Constant(ir.VectorType(self.intp, self.lanes), list(range(self.lanes)))

    # -- scalars and arrays -------------------------------------------------

    def const(self, value):
        """An ``intp`` constant."""
        return ir.Constant(self.intp, value)

    def array(self, ty, value):
        """The array structure of argument ``value`` of Numba type ``ty``."""
        return self.context.make_array(ty)(self.context, self.builder, value)

    def product_operands(self, signature, args):
        """:class:`Operands` of an intrinsic whose first four arguments are
        ``a, ids, b, out`` (``ids`` an index array or None)."""
        b = self.builder
        fa, fb, fout = (self.array(signature.args[i], args[i]) for i in (0, 2, 3))
        fids = None
        if not isinstance(signature.args[1], types.NoneType):
            fids = self.array(signature.args[1], args[1])
        return Operands(fa, fids, fb, fout, self.row_stride(fa), self.row_stride(fb),
                        self.row_stride(fout), b.extract_value(fb.shape, 0),
                        b.extract_value(fout.shape, 0), b.extract_value(fout.shape, 1))

    def row_stride(self, array):
        """Elements between two rows of a 2-D ``array``."""
        stride = self.builder.extract_value(array.strides, 0)
        return self.builder.sdiv(stride, self.const(self.itemsize))

    def row_of(self, ids, i):
        """Row ``ids[i]`` when ``ids`` is an array structure, else ``i``."""
        if ids is None:
            return i
        index = self.builder.load(self.builder.gep(ids.data, [i]))
        if index.type.width < self.intp.width:
            index = self.builder.sext(index, self.intp)
        return index

    def clamped_rows(self, i0, n_rows, tile_rows):
        """Rows ``i0 + r`` for ``r < tile_rows``, those past ``n_rows`` repeating
        the last valid one (their results are dropped)."""
        b = self.builder
        last = b.sub(n_rows, self.const(1))
        return [b.add(i0, b.select(b.icmp_signed("<", self.const(r), n_rows), self.const(r),
                                   last))
                for r in range(tile_rows)]

    # -- vectors ------------------------------------------------------------

    def _function(self, name, return_type, arg_types):
        return cgutils.get_or_insert_function(self.builder.module,
                                              ir.FunctionType(return_type, arg_types), name)

    def fma(self, a, b, c):
        """``a * b + c`` lane by lane, one rounding."""
        f = self._function(f"llvm.fma.v{self.lanes}{self.suffix}", self.vty, [self.vty] * 3)
        return self.builder.call(f, [a, b, c])

    def broadcast(self, scalar):
        """A vector with ``scalar`` in every lane."""
        b = self.builder
        undef = ir.Constant(self.vty, ir.Undefined)
        first = b.insert_element(undef, scalar, ir.Constant(self.i32, 0))
        return b.shuffle_vector(first, undef, ir.Constant(ir.VectorType(self.i32, self.lanes),
                                                          [0] * self.lanes))

    def _splat_index(self, value, width):
        """``<width x intp>`` with ``value`` in every lane."""
        ity = ir.VectorType(self.intp, width)
        b = self.builder
        first = b.insert_element(ir.Constant(ity, ir.Undefined), value, ir.Constant(self.i32, 0))
        return b.shuffle_vector(first, ir.Constant(ity, ir.Undefined),
                                ir.Constant(ir.VectorType(self.i32, width), [0] * width))

    def lanes_below(self, first, limit):
        """Mask of the lanes ``l`` with ``first + l < limit``."""
        b = self.builder
        return b.icmp_signed("<", b.add(self._splat_index(first, self.lanes), self._lane_ids),
                             self._splat_index(limit, self.lanes))

    def small_mask(self, count, width):
        """``<width x i1>`` mask of the lanes below run-time ``count``."""
        ity = ir.VectorType(self.intp, width)
        return self.builder.icmp_signed("<", ir.Constant(ity, list(range(width))),
                                        self._splat_index(count, width))

    def prefetch(self, base, offset):
        """Ask for the line holding ``base[offset]`` to be brought into the
        level-2 cache, for reading; a hint, which never faults."""
        b = self.builder
        i8p = ir.IntType(8).as_pointer()
        f = self._function("llvm.prefetch.p0", ir.VoidType(), [i8p, self.i32, self.i32, self.i32])
        b.call(f, [b.bitcast(b.gep(base, [offset]), i8p), ir.Constant(self.i32, 0),
                   ir.Constant(self.i32, 2), ir.Constant(self.i32, 1)])

    def load(self, base, offset, mask=None):
        """The vector at ``base[offset:offset + lanes]``; masked-off lanes read 0."""
        b = self.builder
        ptr = b.bitcast(b.gep(base, [offset]), self.vty.as_pointer())
        if mask is None:
            return b.load(ptr, align=self.itemsize)
        f = self._function(f"llvm.masked.load.v{self.lanes}{self.suffix}.p0", self.vty,
                           [self.vty.as_pointer(), self.i32, mask.type, self.vty])
        return b.call(f, [ptr, self.align, mask, self.zero])

    def store(self, value, base, offset, mask):
        """Store the lanes of ``value`` that ``mask`` keeps at ``base[offset:]``."""
        b = self.builder
        vty = value.type
        ptr = b.bitcast(b.gep(base, [offset]), vty.as_pointer())
        f = self._function(f"llvm.masked.store.v{vty.count}{self.suffix}.p0", ir.VoidType(),
                           [vty, vty.as_pointer(), self.i32, mask.type])
        b.call(f, [value, ptr, self.align, mask])

    def transpose_to_rows(self, vectors, width):
        """Rows of the ``width x lanes`` matrix whose rows are ``vectors``,
        transposed: ``lanes`` vectors of ``width`` values, row ``i`` holding
        lane ``i`` of each vector (``width`` is 4)."""
        b = self.builder
        lanes = self.lanes

        def shuffle(x, y, indices):
            return b.shuffle_vector(x, y, ir.Constant(ir.VectorType(self.i32, len(indices)),
                                                      indices))

        interleave = [x for i in range(lanes) for x in (i, lanes + i)]
        p01 = shuffle(vectors[0], vectors[1], interleave)
        p23 = shuffle(vectors[2], vectors[3], interleave)
        both = shuffle(p01, p23, [x for i in range(lanes)
                                  for x in (2 * i, 2 * i + 1, 2 * lanes + 2 * i,
                                            2 * lanes + 2 * i + 1)])
        undef = ir.Constant(both.type, ir.Undefined)
        return [shuffle(both, undef, list(range(width * i, width * i + width)))
                for i in range(lanes)]

    # -- stack --------------------------------------------------------------

    def stack_save(self):
        """Mark the stack, so that :meth:`stack_restore` frees what follows."""
        ptr = ir.IntType(8).as_pointer()
        return self.builder.call(self._function("llvm.stacksave", ptr, []), [])

    def stack_restore(self, saved):
        """Free the stack allocated since :meth:`stack_save` returned ``saved``."""
        ptr = ir.IntType(8).as_pointer()
        self.builder.call(self._function("llvm.stackrestore", ir.VoidType(), [ptr]), [saved])
