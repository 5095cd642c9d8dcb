"""Optimizers, one module each: state, constants and step rule together.

As scikit-learn's ``_stochastic_optimizers.py``, each optimizer is a class
holding its state in the parameter layout and its constants; unlike there,
the step rule itself is a compiled function in the same module, which the
epoch kernel calls on its range of the flat buffer for every mini-batch.
"""

from .adam import AdamOptimizer
from .sgd import SGDOptimizer

__all__ = ["AdamOptimizer", "SGDOptimizer"]
