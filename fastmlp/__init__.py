"""fastmlp: multi-layer perceptrons trained by Numba-compiled epoch kernels.

Drop-in replacements for scikit-learn's ``MLPClassifier`` and ``MLPRegressor`` whose mini-batch loop runs inside one compiled call per epoch.
"""

from ._classifier import MLPClassifier
from ._regressor import MLPRegressor
from . import _export  # noqa: F401 (registers the ONNX converters when skl2onnx is imported)

__all__ = ["MLPClassifier", "MLPRegressor"]
__version__ = "0.1.0"
