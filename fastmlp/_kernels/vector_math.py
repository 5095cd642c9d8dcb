"""Vector ``exp``, ``expm1``, ``log1p``, ``tanh`` and ``erf`` over contiguous arrays,
through glibc's libmvec.

Numba compiles ``math.tanh`` and ``math.exp`` to one libm call per element
(this llvmlite has no SVML, and LLVM will not vectorise calls that may set
``errno``): about 20 ns per ``tanh``. glibc 2.35 and later ship vector variants
of the same functions in libmvec (``_ZGVeN16v_tanhf``: 16 float32 lanes with
AVX-512; ``_ZGVdN8v_tanhf``: 8 with AVX2; float64 has half the lanes), about
0.4 ns per element and as accurate as the scalar libm (glibc documents at
most 4 ulp for these functions in either form). The kernels call them on
whole vectors, the last one masked.

Which variant to use is decided once, at import, from the CPU's features and
whether libmvec loads and exports it; without it (older glibc, macOS,
Windows, no AVX2), or with the environment variable ``FASTMLP_NO_LIBMVEC``
set, the same functions run the scalar loop. Numba's on-disk
cache is specific to the CPU it compiled for, and the choice is part of the
cache stamp (``_cache``), so cached code never calls a variant the machine
lacks.
"""

import ctypes.util
import math
import os

import llvmlite.binding as llvm
from llvmlite import ir
from numba import njit, types
from numba.extending import intrinsic
from numba.core import cgutils

from .jit import internal
from .simd_ir import VectorIR

FLOAT32_LANES = {"avx512": 16, "avx2": 8}
FLOAT64_LANES = {"avx512": 8, "avx2": 4}
VARIANT_LETTER = {"avx512": "e", "avx2": "d"}
FUNCTIONS = ("exp", "expm1", "log1p", "tanh", "erf")


def _symbol(isa, name, float32):
    lanes = (FLOAT32_LANES if float32 else FLOAT64_LANES)[isa]
    return f"_ZGV{VARIANT_LETTER[isa]}N{lanes}v_{name}{'f' if float32 else ''}"


def _detect_isa():
    """'avx512', 'avx2' or None: the widest libmvec variant this process can call."""
    if os.environ.get("FASTMLP_NO_LIBMVEC"):
        return None
    features = llvm.get_host_cpu_features()
    candidates = []
    if features.get("avx512f"):
        candidates.append("avx512")
    if features.get("avx2") and features.get("fma"):
        candidates.append("avx2")
    if not candidates:
        return None
    path = ctypes.util.find_library("mvec") or "libmvec.so.1"
    try:
        llvm.load_library_permanently(path)
    except Exception:  # no libmvec: not glibc, or too old
        return None
    for isa in candidates:
        if all(llvm.address_of_symbol(_symbol(isa, name, f32))
               for name in FUNCTIONS for f32 in (True, False)):
            return isa
    return None


ISA = _detect_isa()


def _vector_apply(name):
    """An intrinsic ``apply(x, i, count)``: ``x[i:i+count] = name(x[i:i+count])``
    in one vector call, ``count`` at most a vector's lanes.

    A short tail is loaded with its missing lanes zero and stored back masked,
    so each element's result depends on its value alone, not on where it
    falls: the same row gives the same bits in any block of rows.
    """

    @intrinsic
    def apply(typingctx, x, start, count):
        float32 = x.dtype == types.float32
        lanes = (FLOAT32_LANES if float32 else FLOAT64_LANES)[ISA]
        symbol = _symbol(ISA, name, float32)

        def codegen(context, builder, signature, args):
            array, first, n_valid = args
            ops = VectorIR(context, builder, x.dtype, lanes)
            data = ops.array(signature.args[0], array).data
            function = cgutils.get_or_insert_function(
                builder.module, ir.FunctionType(ops.vty, [ops.vty]), symbol)
            mask = ops.small_mask(n_valid, lanes)
            values = ops.load(data, first, mask)
            ops.store(builder.call(function, [values]), data, first, mask)
            return context.get_dummy_value()

        return types.void(x, types.intp, types.intp), codegen

    return apply


@intrinsic
def _lanes(typingctx, x):
    """Lanes of one vector call for ``x``'s dtype (0 without libmvec)."""
    if ISA is None:
        lanes = 0
    else:
        lanes = (FLOAT32_LANES if x.dtype == types.float32 else FLOAT64_LANES)[ISA]

    def codegen(context, builder, signature, args):
        return context.get_constant(types.intp, lanes)

    return types.intp(x), codegen


if ISA is not None:
    _exp_lanes = _vector_apply("exp")
    _expm1_lanes = _vector_apply("expm1")
    _log1p_lanes = _vector_apply("log1p")
    _tanh_lanes = _vector_apply("tanh")
    _erf_lanes = _vector_apply("erf")
else:  # pragma: no cover - exercised on machines without libmvec
    @njit(cache=True, nogil=True)
    def _no_lanes(x, start, count):
        pass

    _exp_lanes = _expm1_lanes = _log1p_lanes = _tanh_lanes = _erf_lanes = _no_lanes

EXP, EXPM1, LOG1P, TANH, ERF = range(len(FUNCTIONS))


@internal(inline="always")
def _scalar(op, v):
    if op == EXP:
        return math.exp(v)
    if op == EXPM1:
        return math.expm1(v)
    if op == LOG1P:
        return math.log1p(v)
    if op == TANH:
        return math.tanh(v)
    return math.erf(v)


@internal()
def apply_inplace(op, x, n):
    """``x[:n] = f(x[:n])`` for a contiguous 1-D float array, ``f`` the function
    ``FUNCTIONS[op]``: vectors through libmvec (the last one masked), or libm
    element by element without it.

    (One function with a run-time code rather than one per operation: a
    factory would make closures, which Numba cannot cache.)
    """
    lanes = _lanes(x)
    if lanes == 0:
        for i in range(n):
            x[i] = _scalar(op, x[i])
        return
    for i in range(0, n, lanes):
        count = min(lanes, n - i)
        if op == EXP:
            _exp_lanes(x, i, count)
        elif op == EXPM1:
            _expm1_lanes(x, i, count)
        elif op == LOG1P:
            _log1p_lanes(x, i, count)
        elif op == TANH:
            _tanh_lanes(x, i, count)
        else:
            _erf_lanes(x, i, count)
