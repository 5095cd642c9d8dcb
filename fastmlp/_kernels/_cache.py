"""Make Numba's on-disk cache of every kernel depend on all kernel sources.

Numba stamps a cached function with the hash of its own file only, so a kernel
that inlines a helper from a sibling module keeps running stale machine code
after that helper changes (an editable install, a development checkout). The
locators installed here stamp each kernel with a hash of every source file of
``fastmlp/_kernels``, ``fastmlp/_optimizers`` (the step rules) and
``fastmlp/_config.py`` instead. Only functions defined in those files are
affected; if Numba's internals change shape, the stock
locators are left untouched.
"""

import functools
import hashlib
import os

KERNEL_DIR = os.path.dirname(os.path.abspath(__file__))
OPTIMIZER_DIR = os.path.join(os.path.dirname(KERNEL_DIR), "_optimizers")
SOURCE_DIRS = (KERNEL_DIR, OPTIMIZER_DIR)
CONFIG_FILE = os.path.join(os.path.dirname(KERNEL_DIR), "_config.py")


def _kernel_sources():
    paths = []
    for directory in SOURCE_DIRS:
        names = sorted(f for f in os.listdir(directory) if f.endswith(".py"))
        paths += [os.path.join(directory, f) for f in names]
    return paths + [CONFIG_FILE]


@functools.lru_cache(maxsize=8)
def _hash_sources(stats):
    digest = hashlib.sha256()
    for path, _, _ in stats:
        with open(path, "rb") as f:
            digest.update(f.read())
    return digest.hexdigest()


def kernel_source_stamp():
    """Hash of every kernel source file (re-read only when one changes), and of
    the vector-math variant chosen at import (see ``vector_math``)."""
    from .vector_math import ISA

    stats = tuple(
        (p, os.stat(p).st_mtime_ns, os.stat(p).st_size) for p in _kernel_sources()
    )
    return _hash_sources(stats) + f"-{ISA}"


def _is_kernel_file(py_file):
    return os.path.dirname(os.path.abspath(py_file)) in SOURCE_DIRS


def _package_stamped(base):
    class Locator(base):
        def get_source_stamp(self):
            return kernel_source_stamp()

        @classmethod
        def from_function(cls, py_func, py_file):
            if not _is_kernel_file(py_file):
                return None
            return super().from_function(py_func, py_file)

    Locator.__name__ = "KernelPackage" + base.__name__
    return Locator


def install_locators():
    """Put package-stamped locators ahead of Numba's own (idempotent)."""
    try:
        from numba.core import caching

    except ImportError:
        return

    def find(name):
        # Numba < 0.61 spells these with a leading underscore.
        return getattr(caching, name, None) or getattr(caching, "_" + name, None)

    impl = find("CacheImpl")
    bases = [find(n) for n in ("UserProvidedCacheLocator", "InTreeCacheLocator",
                               "UserWideCacheLocator")]
    if impl is None or not hasattr(impl, "_locator_classes") or None in bases:
        return
    if any(getattr(c, "__name__", "").startswith("KernelPackage")
           for c in impl._locator_classes):
        return
    impl._locator_classes[:0] = [_package_stamped(b) for b in bases]


def keep_reload_hooks():
    """Let a function loaded from the cache pass its reload hooks to its callers.

    A compiled function's ``reload_init`` hooks run before its cached machine
    code is loaded; ``firewall`` and ``tables`` use them to define the symbols
    that code reads. A caller compiled afresh inherits the hooks of every
    library it links, but Numba rebuilds a cached library without its hooks,
    so a caller compiled in a process that loaded its callee from the cache
    would be cached without them, and the next process would fail to load it
    (LLVM: symbol not found). This restores them on the rebuilt library
    (idempotent; left alone if Numba's internals change shape).
    """
    from numba.core.compiler import CompileResult

    rebuild = CompileResult.__dict__.get("_rebuild")
    if not isinstance(rebuild, classmethod) or getattr(rebuild.__func__, "_keeps_hooks", False):
        return
    original = rebuild.__func__

    def _rebuild(cls, *args, **kwargs):
        result = original(cls, *args, **kwargs)
        hooks = getattr(result, "reload_init", None)
        library_hooks = getattr(result.library, "_reload_init", None)
        if hooks and isinstance(library_hooks, set):
            library_hooks.update(hooks)
        return result

    _rebuild._keeps_hooks = True
    CompileResult._rebuild = classmethod(_rebuild)
