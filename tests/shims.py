"""Compiled shims through which tests call the kernel layer's internal functions.

Internal functions (``fastmlp._kernels.jit.internal``) are built without a
Python wrapper, so Python cannot call them directly; a shim is an ordinary
jitted function that calls one from compiled code, with the same arguments
and result.
"""

import functools

from numba import njit


@functools.lru_cache(maxsize=None)
def from_python(function):
    """A Python-callable compiled function that forwards to ``function``.

    Parameters
    ----------
    function : numba dispatcher
        An internal kernel-layer function.

    Returns
    -------
    shim : numba dispatcher
    """

    @njit
    def shim(*args):
        return function(*args)

    return shim
