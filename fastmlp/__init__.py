"""fastmlp: multi-layer perceptrons trained by Numba-compiled epoch kernels.

Drop-in replacements for scikit-learn's ``MLPClassifier`` (and, later,
``MLPRegressor``) whose mini-batch loop runs inside one compiled call per epoch.
"""

from ._classifier import MLPClassifier

__all__ = ["MLPClassifier"]
__version__ = "0.1.0"
