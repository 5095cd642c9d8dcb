"""Calls that do not copy the callee's code into the caller.

Numba compiles a call to another jitted function by linking the callee's
whole compiled module into the caller's, then optimising it and generating
machine code for it again. A kernel at the top of a deep call tree therefore
compiles the tree once per level above it, and a parallel kernel twice more,
since its ``prange`` body becomes a function of its own. That was more than
half of a cold first fit.

:func:`call_compiled` calls the callee's own compiled code through a
function pointer and links nothing: the callee is compiled (or loaded from
Numba's cache) once, on its own. The pointer lives in a cell that the caller
reads by a fixed symbol name (the callee's module, name and argument types),
and which this module fills in each process before the caller's machine code
is loaded:

- when the caller is compiled, while it is typed (which also compiles the
  callee);
- when the caller is loaded from the cache, from a hook Numba runs just before
  loading it (the compile result's ``reload_init``), which loads the callee.

The callee's own symbol is not used because Numba names compiled functions
with a per-process counter: a caller cached by one process could then name a
callee that another process cached.

Use it where the callee is large and called rarely (once per layer and block
of rows), so that the lost inlining costs nothing.
"""

import ctypes
import hashlib
import importlib

import llvmlite.binding as llvm
from llvmlite import ir
from numba.core import cgutils, types
from numba.extending import intrinsic

_CELLS = {}  # symbol name -> ctypes cell holding the callee's address, alive for the process


def cell_symbol(module, name, arg_types):
    """The symbol of the cell holding ``module.name``'s address for ``arg_types``.

    Parameters
    ----------
    module, name : str
        Where the jitted function is defined.
    arg_types : tuple of numba types

    Returns
    -------
    symbol : str
    """
    signature = "\n".join(str(t) for t in arg_types)
    digest = hashlib.sha256(signature.encode()).hexdigest()[:24]
    return f"fastmlp.firewall.{module}.{name}.{digest}"


def publish_address(module, name, arg_types):
    """Compile (or load) ``module.name`` for ``arg_types`` and fill its cell.

    Parameters
    ----------
    module, name : str
        Where the jitted function is defined.
    arg_types : tuple of numba types

    Returns
    -------
    compiled : numba CompileResult
    """
    dispatcher = getattr(importlib.import_module(module), name)
    dispatcher.compile(arg_types)
    compiled = dispatcher.overloads[arg_types]
    address = compiled.library.get_pointer_to_function(compiled.fndesc.llvm_func_name)
    symbol = cell_symbol(module, name, arg_types)
    cell = _CELLS.get(symbol)
    if cell is None:
        cell = _CELLS[symbol] = ctypes.c_void_p(address)
        llvm.add_symbol(symbol, ctypes.addressof(cell))
    else:
        cell.value = address
    return compiled


class _PublishHook:
    """Picklable hook that runs :func:`publish_address` (stored with the caller)."""

    def __init__(self, module, name, arg_types):
        self.target = (module, name, arg_types)

    def __call__(self):
        publish_address(*self.target)

    def __eq__(self, other):
        return isinstance(other, _PublishHook) and self.target == other.target

    def __hash__(self):
        return hash(self.target)


@intrinsic
def call_compiled(typingctx, function, args):
    """``function(*args)``, calling ``function``'s separately compiled code.

    Parameters
    ----------
    function : jitted function
        A module-level function of a fastmlp kernel module.
    args : tuple
        Its arguments.

    Returns
    -------
    The function's result.
    """
    if not isinstance(function, types.Dispatcher) or not isinstance(args, types.BaseTuple):
        return None
    py_func = function.dispatcher.py_func
    target = (py_func.__module__, py_func.__name__,
              tuple(types.unliteral(t) for t in args.types))
    compiled = publish_address(*target)
    callee = compiled.signature
    symbol = cell_symbol(*target)

    def codegen(context, builder, sig, llargs):
        context.active_code_library._reload_init.add(_PublishHook(*target))
        cell = builder.module.globals.get(symbol)
        if cell is None:
            cell = ir.GlobalVariable(builder.module, cgutils.voidptr_t, symbol)
        fnty = context.call_conv.get_function_type(callee.return_type, callee.args)
        fn = builder.bitcast(builder.load(cell), fnty.as_pointer())
        values = cgutils.unpack_tuple(builder, llargs[1], len(args))
        values = [context.cast(builder, v, t, u) for v, t, u in zip(values, args, callee.args)]
        status, result = context.call_conv.call_function(builder, fn, callee.return_type,
                                                         callee.args, values)
        with cgutils.if_unlikely(builder, status.is_error):
            context.call_conv.return_status_propagate(builder, status)
        return result

    return callee.return_type(function, args), codegen
