"""A caller and a callee joined by ``call_compiled`` (used by test_firewall.py)."""

from numba import njit

from fastmlp._kernels.firewall import call_compiled


@njit(cache=True)
def callee_sum(values, scale):
    if scale < 0:
        raise ValueError("negative scale")
    total = 0.0
    for v in values:
        total += v * scale
    return total


@njit(cache=True)
def caller_sum(values, scale):
    return call_compiled(callee_sum, (values, scale)) + 1.0
