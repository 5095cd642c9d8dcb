"""Register fastmlp's ONNX converters with skl2onnx once the user imports it.

Importing skl2onnx (with onnx) takes 0.2 to 2 seconds, so fastmlp never
imports it itself. :func:`install` registers the converters at
once when skl2onnx is already imported; otherwise it puts a finder on
``sys.meta_path`` that, when skl2onnx is imported, lets the usual finder locate
it and runs the registration right after skl2onnx's own ``__init__``. The
finder stays installed (it answers only for the name ``skl2onnx``), so an
import after ``del sys.modules["skl2onnx"]`` registers again.
"""

import importlib
import importlib.abc
import sys
import warnings

SKL2ONNX = "skl2onnx"


def register_quietly():
    """Register the converters; warn instead of failing the user's import.

    Importing ``fastmlp._export.onnx`` registers them. Already imported, it is
    either bound to an earlier skl2onnx (removed from ``sys.modules`` since),
    and is reloaded, or it is being imported (it imported skl2onnx), and will
    register when it finishes.
    """
    name = f"{__package__}.onnx"
    try:
        module = sys.modules.get(name)
        if module is None:
            importlib.import_module(name)
        elif hasattr(module, "register"):
            importlib.reload(module)
    except Exception as error:  # noqa: BLE001 -- skl2onnx must import regardless
        warnings.warn(f"fastmlp could not register its ONNX converters with skl2onnx: "
                      f"{error!r}", RuntimeWarning, stacklevel=2)


class Skl2onnxFinder(importlib.abc.MetaPathFinder):
    """Finds skl2onnx through the other finders, and registers after it loads."""

    def find_spec(self, fullname, path, target=None):
        if fullname != SKL2ONNX:
            return None
        for finder in sys.meta_path:
            if finder is self or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(fullname, path, target)
            if spec is not None:
                break
        else:
            return None
        if spec.loader is not None and hasattr(spec.loader, "exec_module"):
            spec.loader = RegisteringLoader(spec.loader)
        return spec


class RegisteringLoader(importlib.abc.Loader):
    """Runs ``loader``, then registers fastmlp's converters.

    The module gets ``loader`` back as its ``__loader__`` before it runs, so
    skl2onnx sees the loader it would have had without fastmlp.
    """

    def __init__(self, loader):
        self.loader = loader

    def create_module(self, spec):
        return self.loader.create_module(spec)

    def exec_module(self, module):
        module.__loader__ = self.loader
        if module.__spec__ is not None:
            module.__spec__.loader = self.loader
        self.loader.exec_module(module)
        register_quietly()

    def __getattr__(self, name):
        return getattr(self.loader, name)


def install():
    """Register now if skl2onnx is imported, else when it is (see the module notes)."""
    # By name, not class: a re-imported module brings a new class.
    if not any(type(finder).__qualname__ == Skl2onnxFinder.__qualname__
               and type(finder).__module__ == __name__ for finder in sys.meta_path):
        sys.meta_path.insert(0, Skl2onnxFinder())
    if SKL2ONNX in sys.modules:
        register_quietly()


install()
