"""Gradient finalisation and optimizer updates over the flat parameter buffer.

Row blocks each leave an unnormalised partial gradient in ``ws.grads[t]``. The
update runs over disjoint parameter ranges, one per thread; within its range a
thread sums the partial gradients in block order, and either applies the
optimizer's step rule (``fastmlp._optimizers``; the normalisation
``g = (raw + alpha * coef) / weight_sum`` is fused into it, as a product with
the reciprocal, without ``alpha`` for intercepts) and takes the squared norm
of the new coefficients, which the next batch's loss needs, or (L-BFGS)
writes the normalised gradient. Each step is a plain loop that LLVM
vectorises; the range stays in cache between them.
"""

import numpy as np
from numba import prange

from .._config import ADAM, SGD
from .._optimizers import adam, sgd
from .._optimizers.base import H_ALPHA, H_INV_WEIGHT_SUM
from .denormals import flush_denormals, restore_floating_point
from .jit import internal
from .partition import block_bounds
from .tables import FunctionTable

# Parameters per strip of an update: five arrays of this many float64 values
# (40 KiB) fit in a level-1 data cache.
STRIP = 1024


@internal()
def combine_partial_gradients(grads, n_blocks, start, stop):
    """``grads[0] += grads[t]`` for ``t = 1 .. n_blocks - 1`` over ``[start, stop)``.

    Summing block by block, in block order, keeps each loop a plain vector
    loop and the result independent of scheduling.
    """
    # Loops run over slices from 0: with a runtime start, Numba cannot prove
    # an index non-negative, keeps its wraparound check, and LLVM then does
    # not vectorise (8x slower here).
    total = grads[0, start:stop]
    for t in range(1, n_blocks):
        part = grads[t, start:stop]
        for p in range(total.shape[0]):
            total[p] += part[p]


@internal(fastmath={"reassoc", "nsz"})
def squared_norm_range(values, start, stop):
    """Sum of squares of ``values[start:stop]`` (reassociated, vectorised)."""
    total = 0.0
    part = values[start:stop]
    for p in range(part.shape[0]):
        total += part[p] * part[p]
    return total


@internal()
def begin_batch(solver, weight_sum):
    """Per-batch bookkeeping of the solver before its update (step count,
    step size, the reciprocal of the batch's weight sum)."""
    call_begin_batch(solver.kind, (solver,))
    solver.hyper[H_INV_WEIGHT_SUM] = 1.0 / weight_sum


@internal(inline="always")
def update_chunk_with(step_range, params, grads, n_blocks, n_coefs, solver, chunk_norms, chunk):
    """:func:`update_chunk` with the step rule ``step_range`` (a compile-time argument)."""
    start, stop = block_bounds(params.shape[0], chunk_norms.shape[0], chunk)
    alpha = solver.hyper[H_ALPHA]
    no_alpha = alpha - alpha  # a zero in the parameters' dtype
    norm = 0.0
    for strip in range(start, stop, STRIP):
        strip_stop = min(strip + STRIP, stop)
        combine_partial_gradients(grads, n_blocks, strip, strip_stop)
        coef_stop = min(strip_stop, n_coefs)
        step_range(params, grads[0], solver, alpha, strip, coef_stop)
        step_range(params, grads[0], solver, no_alpha, max(strip, n_coefs), strip_stop)
        norm += squared_norm_range(params, strip, coef_stop)
    chunk_norms[chunk] = norm


@internal()
def sgd_update_chunk(params, grads, n_blocks, n_coefs, solver, chunk_norms, chunk):
    update_chunk_with(sgd.step_range, params, grads, n_blocks, n_coefs, solver, chunk_norms,
                      chunk)


@internal()
def adam_update_chunk(params, grads, n_blocks, n_coefs, solver, chunk_norms, chunk):
    update_chunk_with(adam.step_range, params, grads, n_blocks, n_coefs, solver, chunk_norms,
                      chunk)


# Each solver's update, compiled when first prepared (see ``tables``); one
# call per parameter range, so the step rule inlines into its strip loop.
UPDATE_CHUNKS = FunctionTable(__name__, "UPDATE_CHUNKS",
                              {SGD: sgd_update_chunk, ADAM: adam_update_chunk})
BEGIN_BATCHES = FunctionTable(__name__, "BEGIN_BATCHES",
                              {SGD: sgd.begin_batch, ADAM: adam.begin_batch})
call_update_chunk = UPDATE_CHUNKS.call
call_begin_batch = BEGIN_BATCHES.call


@internal()
def update_chunk(params, grads, n_blocks, n_coefs, solver, chunk_norms, chunk):
    """Optimizer step on parameter range ``chunk`` of ``len(chunk_norms)``.

    Sums the partial gradients of the range, steps the coefficients (with the
    L2 term) and the intercepts (without), and stores the squared norm of the
    updated coefficients in ``chunk_norms[chunk]``. The range is walked in
    strips of ``STRIP`` parameters, each summed, stepped and measured while
    its values are still in the level-1 cache.
    """
    call_update_chunk(solver.kind, (params, grads, n_blocks, n_coefs, solver, chunk_norms,
                                    chunk))


@internal()
def update_parameters_serial(net, params, ws, n_blocks, solver, weight_sum):
    """One optimizer step over the whole buffer, as one range on the calling thread.

    Parameters
    ----------
    net : Network
    params : ndarray of shape (n_params,)
        Updated in place.
    ws : Workspace
        ``ws.grads[:n_blocks]`` hold the batch's partial gradients;
        ``ws.chunk_norms`` has one entry.
    n_blocks : int
    solver : Solver
        Its state, step count and step size are updated in place.
    weight_sum : float
        Sum of the batch's sample weights (its row count without weights).

    Returns
    -------
    coef_norm : float
        Squared norm of the updated coefficients.
    """
    begin_batch(solver, weight_sum)
    fp_state = flush_denormals()
    update_chunk(params, ws.grads, n_blocks, net.n_coefs, solver, ws.chunk_norms,
                 ws.chunk_norms.shape[0] - 1)
    restore_floating_point(fp_state)
    return ws.chunk_norms[0]


@internal()
def finalize_chunk(params, grads, n_blocks, n_coefs, alpha, weight_sum, grad, n_chunks,
                   chunk):
    """``finalize_gradient`` on parameter range ``chunk`` of ``n_chunks``."""
    start, stop = block_bounds(params.shape[0], n_chunks, chunk)
    combine_partial_gradients(grads, n_blocks, start, stop)
    coef_stop = max(start, min(stop, n_coefs))
    intercept_start = min(stop, max(start, n_coefs))
    total = grads[0, start:coef_stop]
    coefs = params[start:coef_stop]
    out = grad[start:coef_stop]
    for p in range(out.shape[0]):
        out[p] = (total[p] + alpha * coefs[p]) / weight_sum
    total = grads[0, intercept_start:stop]
    out = grad[intercept_start:stop]
    for p in range(out.shape[0]):
        out[p] = total[p] / weight_sum


@internal()
def finalize_gradient_serial(net, params, ws, n_blocks, alpha, weight_sum, grad):
    """:func:`finalize_gradient` as one range on the calling thread.

    ``ws.grads`` must have one row.
    """
    n_chunks = ws.grads.shape[0]
    fp_state = flush_denormals()
    finalize_chunk(params, ws.grads, n_blocks, net.n_coefs, alpha, weight_sum, grad,
                   n_chunks, n_chunks - 1)
    restore_floating_point(fp_state)


@internal(parallel=True)
def finalize_gradient(net, params, ws, n_blocks, alpha, weight_sum, grad):
    """``grad = (sum of partial gradients + alpha * coefs) / weight_sum``.

    No ``alpha`` term for the intercepts, as scikit-learn's ``_backprop``.
    """
    n_chunks = ws.grads.shape[0]
    if n_chunks == 1:  # no parallel region for one range (see ``epoch``)
        finalize_gradient_serial(net, params, ws, n_blocks, alpha, weight_sum, grad)
        return
    for chunk in prange(n_chunks):
        fp_state = flush_denormals()
        finalize_chunk(params, ws.grads, n_blocks, net.n_coefs, alpha, weight_sum, grad,
                       n_chunks, np.int64(chunk))
        restore_floating_point(fp_state)
