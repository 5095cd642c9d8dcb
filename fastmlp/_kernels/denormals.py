"""Subnormal floats flushed to zero for the duration of a kernel call.

Long Adam runs drive some first moments (and a few weights) into the subnormal
range: a moment whose gradient is zero decays by ``beta_1`` every batch. On x86
every arithmetic operation touching a subnormal value takes a microcode assist
of about a hundred cycles, so the update and the products slow down as
training goes on (measured on W1: 646 subnormal moments after 8 epochs, and
the epoch ~9% slower). The kernels therefore set the two MXCSR bits that treat
subnormal inputs as zero (DAZ) and flush subnormal results to zero (FTZ), on
each piece of work, serial or parallel, on the thread running it, and put
that thread's previous MXCSR back when the piece ends: nothing outside a kernel
call sees the change. A thread never enters a parallel region with the bits
set: threads the OpenMP runtime creates there copy their creator's MXCSR, and
one that gets no iteration would keep them. Values below ``finfo(dtype).tiny`` (1.2e-38 in float32) become
zero; nothing else changes. On other architectures these functions do nothing.
"""

import platform

import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.core import cgutils
from numba.extending import intrinsic

# MXCSR bits: 0x8000 flush to zero (FTZ), 0x0040 denormals are zero (DAZ).
FLUSH_TO_ZERO_BITS = 0x8040

IS_X86 = platform.machine().lower() in ("x86_64", "amd64", "i386", "i686", "x86")


def _call_mxcsr_intrinsic(builder, name, slot):
    byte_pointer = ir.IntType(8).as_pointer()
    fnty = ir.FunctionType(ir.VoidType(), [byte_pointer])
    fn = cgutils.get_or_insert_function(builder.module, fnty, name)
    builder.call(fn, [builder.bitcast(slot, byte_pointer)])


@intrinsic
def _read_mxcsr(typingctx):
    def codegen(context, builder, signature, args):
        slot = cgutils.alloca_once(builder, ir.IntType(32))
        _call_mxcsr_intrinsic(builder, "llvm.x86.sse.stmxcsr", slot)
        return builder.load(slot)

    return types.uint32(), codegen


@intrinsic
def _write_mxcsr(typingctx, value):
    def codegen(context, builder, signature, args):
        slot = cgutils.alloca_once(builder, ir.IntType(32))
        builder.store(args[0], slot)
        _call_mxcsr_intrinsic(builder, "llvm.x86.sse.ldmxcsr", slot)
        return context.get_dummy_value()

    return types.void(types.uint32), codegen


if IS_X86:

    @njit(cache=True, nogil=True)
    def read_floating_point_state():
        """This thread's MXCSR register."""
        return _read_mxcsr()

    @njit(cache=True, nogil=True)
    def flush_denormals():
        """Flush subnormals to zero on this thread; returns the state to restore."""
        previous = _read_mxcsr()
        _write_mxcsr(previous | np.uint32(FLUSH_TO_ZERO_BITS))
        return previous

    @njit(cache=True, nogil=True)
    def restore_floating_point(previous):
        """Put back the state ``flush_denormals`` returned, on this thread."""
        _write_mxcsr(previous)

else:  # pragma: no cover - exercised on non-x86 machines only

    @njit(cache=True, nogil=True)
    def read_floating_point_state():
        """No floating-point control register to read: always 0."""
        return np.uint32(0)

    @njit(cache=True, nogil=True)
    def flush_denormals():
        """No-op outside x86; returns 0."""
        return np.uint32(0)

    @njit(cache=True, nogil=True)
    def restore_floating_point(previous):
        """No-op outside x86."""
