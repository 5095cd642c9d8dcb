"""Explicit work partitions for parallel loops."""

from .jit import internal


@internal()
def block_bounds(n_items, n_blocks, block):
    """Half-open range ``[start, stop)`` of block ``block`` of ``n_blocks``.

    Blocks are contiguous, cover ``range(n_items)`` exactly once, and differ in
    size by at most one item, so each thread of a ``prange(n_blocks)`` loop owns
    a disjoint slice.
    """
    return block * n_items // n_blocks, (block + 1) * n_items // n_blocks
