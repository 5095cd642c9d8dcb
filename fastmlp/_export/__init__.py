"""Exports of fitted fastmlp estimators.

- :func:`to_sklearn` (``sklearn``): the equivalent fitted scikit-learn estimator;
- ONNX through skl2onnx (``onnx``): converters registered when skl2onnx is
  imported (``_skl2onnx_hook``), so that ``skl2onnx.to_onnx(model, X[:1])``
  converts fastmlp's estimators.

Importing this package only installs that registration; ``to_sklearn`` loads
its module (and scikit-learn's MLPs) on first use.
"""

from . import _skl2onnx_hook  # noqa: F401 (installs the registration)

__all__ = ["to_sklearn"]


def __getattr__(name):
    if name == "to_sklearn":
        from .sklearn import to_sklearn

        return to_sklearn
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
