"""Run-time dispatch over a table of jitted functions, compiled only for the rows used.

A kernel that picks a function by a run-time code (an activation, say) would
otherwise compile every row of the table into itself, though a network uses
one or two of them. A :class:`FunctionTable` compiles none of them into its
callers: compiled code reads the function's address from a slot array indexed
by the code and calls it, and Python fills the slots of the codes it is about
to use (:meth:`FunctionTable.prepare`), compiling (or loading from Numba's
cache) just those rows.

Each argument-type signature the table is called with has its own slot array,
reached by a fixed symbol name (the table's name and the signature), as in
``firewall``. A signature is registered when a caller is compiled (while it is
typed) or loaded from the cache (from the hook Numba runs before loading it),
and its slots are then filled for every code prepared so far; preparing a code
fills it for every signature registered so far. Either order therefore works.
Calling a code that was never prepared raises ``RuntimeError`` rather than
jumping to a null address.

Every row takes the same arguments and returns the table's return type.

A :class:`LazyFunction` is a table of one function, called without a code:
for optional pieces (a layer kind, dropout, skip connections) that most
networks never run and that would otherwise be compiled into every kernel.
"""

import ctypes
import hashlib
import importlib

import llvmlite.binding as llvm
from llvmlite import ir
from numba.core import cgutils, types
from numba.core.compiler_lock import global_compiler_lock
from numba.extending import intrinsic

_TABLES = {}  # (module, name) -> FunctionTable


class FunctionTable:
    """Jitted functions indexed by a run-time code, each compiled on first use.

    Parameters
    ----------
    module : str
        The module that defines the table (``__name__``); with ``name`` it
        identifies the table across processes.
    name : str
        The table's name within its module.
    rows : sequence or dict of jitted function or None
        Row ``code`` is called for ``code``; None (or a code missing from the
        dict) marks a code with no function.
    return_type : numba type, default=types.none
        What every row returns.

    Attributes
    ----------
    call : intrinsic
        ``call(code, args)`` in compiled code: ``rows[code](*args)``.
    """

    def __init__(self, module, name, rows, return_type=types.none):
        self.key = (module, name)
        if isinstance(rows, dict):
            rows = [rows.get(code) for code in range(max(rows) + 1)]
        self.rows = tuple(rows)
        self.return_type = return_type
        self._prepared = set()
        self._slots = {}  # argument types -> ctypes array of addresses
        self.call = _caller(self)
        _TABLES[self.key] = self

    def symbol(self, arg_types):
        """The symbol of the slot array for ``arg_types``."""
        signature = "\n".join(str(t) for t in arg_types)
        digest = hashlib.sha256(signature.encode()).hexdigest()[:24]
        return f"fastmlp.table.{self.key[0]}.{self.key[1]}.{digest}"

    def register(self, arg_types):
        """Create the slot array for ``arg_types`` and fill the prepared codes."""
        if arg_types not in self._slots:
            slots = (ctypes.c_void_p * len(self.rows))()
            llvm.add_symbol(self.symbol(arg_types), ctypes.addressof(slots))
            self._slots[arg_types] = slots
        for code in self._prepared:
            self._fill(arg_types, code)

    def prepare(self, codes):
        """Make ``codes`` callable: compile (or load) their rows for every signature.

        Parameters
        ----------
        codes : iterable of int
            Rows of the table; each must hold a function.
        """
        # Numba's compiler lock, which every compilation and cache load holds
        # (and so every ``register``): another thread's fit may be compiling.
        with global_compiler_lock:
            for code in {int(c) for c in codes} - self._prepared:
                if not 0 <= code < len(self.rows) or self.rows[code] is None:
                    raise ValueError(f"table {self.key[1]!r} has no function for code {code}")
                self._prepared.add(code)
                for arg_types in self._slots:
                    self._fill(arg_types, code)

    def _fill(self, arg_types, code):
        slots = self._slots[arg_types]
        if slots[code]:
            return
        dispatcher = self.rows[code]
        dispatcher.compile(arg_types)
        compiled = dispatcher.overloads[arg_types]
        if compiled.signature.return_type != self.return_type:
            raise TypeError(f"{dispatcher.py_func.__name__} returns "
                            f"{compiled.signature.return_type}, not {self.return_type}")
        slots[code] = compiled.library.get_pointer_to_function(compiled.fndesc.llvm_func_name)


class LazyFunction(FunctionTable):
    """One jitted function, compiled when first prepared, called through a pointer.

    Parameters
    ----------
    module, name : str
        As for :class:`FunctionTable`.
    function : jitted function
    return_type : numba type, default=types.none

    Attributes
    ----------
    call : intrinsic
        ``call(args)`` in compiled code: ``function(*args)``.
    """

    def __init__(self, module, name, function, return_type=types.none):
        super().__init__(module, name, [function], return_type)
        self.call = _caller(self, fixed_code=0)

    def prepare(self, codes=(0,)):
        """Make the function callable: compile (or load) it for every signature."""
        super().prepare(codes)


class _RegisterHook:
    """Picklable hook that registers a signature with a table (stored with the caller)."""

    def __init__(self, key, arg_types):
        self.target = (key, arg_types)

    def __call__(self):
        key, arg_types = self.target
        importlib.import_module(key[0])
        _TABLES[key].register(arg_types)

    def __eq__(self, other):
        return isinstance(other, _RegisterHook) and self.target == other.target

    def __hash__(self):
        return hash(self.target)


def _caller(table, fixed_code=None):
    """The intrinsic ``call(code, args)`` of ``table`` (``call(args)`` with a fixed code)."""
    n_rows = len(table.rows)

    def typer(code, args):
        if code is not None and not isinstance(code, types.Integer):
            return None
        if not isinstance(args, types.BaseTuple):
            return None
        arg_types = tuple(types.unliteral(t) for t in args.types)
        table.register(arg_types)
        symbol = table.symbol(arg_types)
        message = (f"fastmlp: kernel table {table.key[1]!r} called with a code "
                   "that was not prepared",)

        def codegen(context, builder, sig, llargs):
            context.active_code_library._reload_init.add(_RegisterHook(table.key, arg_types))
            slots = builder.module.globals.get(symbol)
            if slots is None:
                slots = ir.GlobalVariable(builder.module, ir.ArrayType(cgutils.voidptr_t, n_rows),
                                          symbol)
            if code is None:
                index = context.get_constant(types.intp, fixed_code)
            else:
                index = context.cast(builder, llargs[0], sig.args[0], types.intp)
            outside = builder.icmp_unsigned(">=", index, index.type(n_rows))
            with cgutils.if_unlikely(builder, outside):
                context.call_conv.return_user_exc(builder, RuntimeError, message)
            address = builder.load(builder.gep(slots, [cgutils.int32_t(0), index]))
            with cgutils.if_unlikely(builder, cgutils.is_null(builder, address)):
                context.call_conv.return_user_exc(builder, RuntimeError, message)
            fnty = context.call_conv.get_function_type(table.return_type, arg_types)
            fn = builder.bitcast(address, fnty.as_pointer())
            values = cgutils.unpack_tuple(builder, llargs[-1], len(arg_types))
            values = [context.cast(builder, v, t, u)
                      for v, t, u in zip(values, sig.args[-1].types, arg_types)]
            status, result = context.call_conv.call_function(builder, fn, table.return_type,
                                                             arg_types, values)
            with cgutils.if_unlikely(builder, status.is_error):
                context.call_conv.return_status_propagate(builder, status)
            return result

        if code is None:
            return table.return_type(args), codegen
        return table.return_type(code, args), codegen

    if fixed_code is None:
        @intrinsic
        def call(typingctx, code, args):
            return typer(code, args)
    else:
        @intrinsic
        def call(typingctx, args):
            return typer(None, args)

    return call
