"""A run-time table of two functions and a caller (used by test_tables.py)."""

from numba import njit, types

from fastmlp._kernels.tables import FunctionTable


@njit(cache=True)
def double_sum(values, offset):
    total = offset
    for v in values:
        total += 2.0 * v
    return total


@njit(cache=True)
def checked_sum(values, offset):
    if offset < 0:
        raise ValueError("negative offset")
    total = offset
    for v in values:
        total += v
    return total


SUMS = FunctionTable(__name__, "SUMS", [double_sum, None, checked_sum], return_type=types.float64)
call_sum = SUMS.call


@njit(cache=True)
def caller(code, values, offset):
    return call_sum(code, (values, offset)) + 1.0


@njit(cache=True)
def linked_caller(code, values, offset):
    return 2.0 * caller(code, values, offset)
