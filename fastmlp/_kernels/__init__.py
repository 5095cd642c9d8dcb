"""Numba-compiled kernels: one call trains one epoch or runs one forward pass.

Kernels take arrays, scalars and the named bundles of ``bundles``. Parameters live in one flat buffer
laid out as scikit-learn's ``_pack`` does: every layer's coefficient matrix
(row-major, ``fan_in x fan_out``) in order, then every intercept vector.
"""

from ._cache import install_locators, keep_reload_hooks
from .first_compile import install as install_first_compile_notice

install_locators()
keep_reload_hooks()
install_first_compile_notice()
