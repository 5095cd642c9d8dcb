"""Dropout masks drawn from a counter-based hash: no state, no Python per batch.

The mask value of unit ``j`` of a dropout layer for the row at position ``r`` of
an epoch's visiting order is a pure function of the epoch's seed and the
counter ``r * dropout_units + unit_base + j`` (``unit_base``: the units of
earlier dropout layers). Threads split rows however they like and get the same
masks, so a fit depends on ``random_state`` alone, not on the thread count.

The hash is SplitMix64's finaliser (Steele et al., "Fast splittable
pseudorandom number generators", OOPSLA 2014) of ``seed + (counter + 1) * phi``;
its top 53 bits give ``u`` uniform in ``[0, 1)``, and the unit is kept when
``u >= rate``. Kept units are scaled by ``1 / (1 - rate)`` (inverted dropout),
so prediction uses every unit unscaled.
"""

import numpy as np

from .jit import internal

GOLDEN_GAMMA = np.uint64(0x9E3779B97F4A7C15)
MIX_1 = np.uint64(0xBF58476D1CE4E5B9)
MIX_2 = np.uint64(0x94D049BB133111EB)
UNIT_SCALE = 1.0 / 9007199254740992.0  # 2**-53


@internal(inline="always")
def uniform(seed, counter):
    """A number in ``[0, 1)`` that depends only on ``seed`` and ``counter``."""
    z = np.uint64(seed) + (np.uint64(counter) + np.uint64(1)) * GOLDEN_GAMMA
    z = (z ^ (z >> np.uint64(30))) * MIX_1
    z = (z ^ (z >> np.uint64(27))) * MIX_2
    z = z ^ (z >> np.uint64(31))
    return float(z >> np.uint64(11)) * UNIT_SCALE


@internal()
def fill_mask(seed, rate, first_counter, row_stride, mask):
    """Write a layer's mask for a block of rows.

    Parameters
    ----------
    seed : int
        The epoch's dropout seed.
    rate : float
        Probability of dropping a unit.
    first_counter : int
        Counter of unit 0 of the block's first row.
    row_stride : int
        Counter distance between consecutive rows (all dropout units).
    mask : ndarray of shape (n_rows, units)
        Receives 0 for dropped units and ``1 / (1 - rate)`` for kept ones.
    """
    n_rows, units = mask.shape
    scale = 1.0 / (1.0 - rate)
    for i in range(n_rows):
        counter = first_counter + i * row_stride
        for j in range(units):
            mask[i, j] = scale if uniform(seed, counter + j) >= rate else 0.0
