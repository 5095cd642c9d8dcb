"""The two ways the kernel layer's functions are compiled.

Every function is compiled on first use, cached on disk by Numba, runs
without the GIL and follows NumPy's error model (a division by zero gives
``inf`` or ``nan``, not an exception). They differ in who may call them:

- :func:`kernel`: an entry point, called from Python (the trainer, the
  optimizers). Numba builds its usual Python wrapper, which unboxes each
  argument.
- :func:`internal`: called only from other compiled functions. Numba builds
  no Python wrapper and no C wrapper for it. Those wrappers unbox every array
  of every bundle argument; building them for each of a hundred helpers took
  about a fifth of a cold compile, for code nothing ever ran. Calling an
  internal function from Python crashes the interpreter; tests reach one
  through a compiled shim (``tests/compiled_shims.py``).
"""

from numba import njit

_COMMON = {"cache": True, "nogil": True, "error_model": "numpy"}


def kernel(**options):
    """Decorator for a function Python calls.

    Parameters
    ----------
    **options
        Further ``numba.njit`` options (``parallel``, ``fastmath``, ...).

    Returns
    -------
    decorator : callable
    """
    return njit(**_COMMON, **options)


def internal(**options):
    """Decorator for a function only compiled code calls (no Python wrapper).

    Parameters
    ----------
    **options
        Further ``numba.njit`` options (``parallel``, ``inline``, ...).

    Returns
    -------
    decorator : callable
    """
    return njit(**_COMMON, no_cpython_wrapper=True, no_cfunc_wrapper=True, **options)
