"""A vectorised test that every value of an array is finite."""

from .jit import internal


@internal(fastmath={"reassoc"})
def all_finite(values):
    """Whether every entry of the 1-D array ``values`` is finite.

    ``x - x`` is 0 for a finite ``x`` and NaN for NaN or infinity, so the sum
    of those differences is NaN exactly when some entry is not finite. Only
    reassociation is allowed (NaN and infinity keep their meaning), which lets
    LLVM vectorise the sum; there is no early exit, as the predicted-for data
    is almost always finite.
    """
    if values.shape[0] == 0:
        return True
    total = values[0] - values[0]
    for i in range(values.shape[0]):
        total += values[i] - values[i]
    return total == 0
