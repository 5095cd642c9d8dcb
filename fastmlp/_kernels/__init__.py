"""Numba-compiled kernels: one call trains one epoch or runs one forward pass.

Kernels take arrays, scalars and the named bundles of ``bundles``. Parameters live in one flat buffer
laid out as scikit-learn's ``_pack`` does: every layer's coefficient matrix
(row-major, ``fan_in x fan_out``) in order, then every intercept vector.
"""

import warnings

from numba.core.errors import NumbaExperimentalFeatureWarning

from ._cache import install_locators
from .first_compile import install as install_first_compile_notice

install_locators()
install_first_compile_notice()

# The activation table hands its formulas to the kernels as a tuple of
# compiled functions (``literal_unroll``), which Numba flags as experimental
# every time it compiles such a kernel; users should not see that.
warnings.filterwarnings("ignore", message="First-class function type feature is experimental",
                        category=NumbaExperimentalFeatureWarning)
