"""Calls that do not copy the callee's code into the caller.

Numba compiles a call to another jitted function by linking the callee's
whole compiled module into the caller's, then optimising and generating
machine code for the result again. A kernel at the top of a deep call tree
therefore compiles the tree once per level above it; a parallel kernel does
it twice more, since its ``prange`` body becomes a function of its own. For
the epoch kernel that was about a third of a cold first fit.

:func:`call_compiled` emits an ordinary call by symbol to the callee's
compiled function and links nothing. The callee is compiled (or loaded from
Numba's cache) on its own, once, and the caller's machine code refers to it
by name, which the JIT resolves when it loads the caller. When the caller is
itself loaded from the cache, it first makes sure the callee is loaded, so
that the name can be resolved (Numba runs the ``reload_init`` hooks of a
cached function before loading its code).

Use it where the callee is large and called rarely (once per block of rows),
so that the lost inlining costs nothing.
"""

import functools
import importlib

from numba.core import cgutils, types
from numba.extending import intrinsic


def load_compiled(module, name, arg_types):
    """Compile, or load from the cache, ``module.name`` for ``arg_types``.

    Parameters
    ----------
    module : str
        Module of the jitted function.
    name : str
        Its name in that module.
    arg_types : tuple of numba types
    """
    dispatcher = getattr(importlib.import_module(module), name)
    dispatcher.compile(tuple(arg_types))


@intrinsic
def call_compiled(typingctx, function, args):
    """``function(*args)``, calling ``function``'s separately compiled code.

    Parameters
    ----------
    function : jitted function
        A module-level ``numba.njit`` function (a global of the caller).
    args : tuple
        Its arguments.

    Returns
    -------
    The function's result.
    """
    if not isinstance(function, types.Dispatcher) or not isinstance(args, types.BaseTuple):
        return None
    dispatcher = function.dispatcher
    arg_types = tuple(types.unliteral(t) for t in args.types)
    dispatcher.compile(arg_types)
    compiled = dispatcher.overloads[arg_types]
    reload_hook = functools.partial(load_compiled, dispatcher.py_func.__module__,
                                    dispatcher.py_func.__name__, arg_types)

    def codegen(context, builder, sig, llargs):
        context.active_code_library._reload_init.add(reload_hook)
        values = cgutils.unpack_tuple(builder, llargs[1], len(arg_types))
        values = [context.cast(builder, v, t, u)
                  for v, t, u in zip(values, args.types, arg_types)]
        return context.call_internal(builder, compiled.fndesc, compiled.signature, values)

    return compiled.signature.return_type(function, args), codegen
