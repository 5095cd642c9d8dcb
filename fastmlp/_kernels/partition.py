"""Explicit work partitions for parallel loops."""

from numba import types
from numba.extending import intrinsic

from .jit import internal


@internal()
def block_bounds(n_items, n_blocks, block):
    """Half-open range ``[start, stop)`` of block ``block`` of ``n_blocks``.

    Blocks are contiguous, cover ``range(n_items)`` exactly once, and differ in
    size by at most one item, so each thread of a ``prange(n_blocks)`` loop owns
    a disjoint slice.
    """
    return block * n_items // n_blocks, (block + 1) * n_items // n_blocks


@intrinsic
def claim(typingctx, counter, count):
    """Atomically add ``count`` to ``counter[0]``; return its previous value.

    The ticket dispenser of a work queue: threads calling it on one counter
    get disjoint ranges of tickets, whatever their order.
    """
    sig = types.intp(counter, types.intp)

    def codegen(context, builder, signature, args):
        array = context.make_array(signature.args[0])(context, builder, args[0])
        return builder.atomic_rmw("add", array.data, args[1], "monotonic")

    return sig, codegen
