"""Numba-compiled kernels: one call trains one epoch or runs one forward pass.

Kernels take plain arrays and scalars only. Parameters live in one flat buffer
laid out as scikit-learn's ``_pack`` does: every layer's coefficient matrix
(row-major, ``fan_in x fan_out``) in order, then every intercept vector.
"""

from ._cache import install_locators

install_locators()
