"""Compiled forward pass for prediction, parallel over blocks of rows."""

import numpy as np
from numba import prange

from .bundles import Rows
from .denormals import flush_denormals, restore_floating_point
from .firewall import call_compiled
from .forward import copy_rows, forward_layer, layer_output
from .jit import internal, kernel
from .partition import claim

NO_DROPOUT = -1


@internal()
def predict_worker_chunks(net, params, data, ws, worker, chunk_rows, check_finite,
                          next_chunk, out):
    """Forward pass of the chunks this worker claims from ``next_chunk``, into ``out``.

    Chunks are handed out one at a time, first come first served, so a worker
    that starts late (a thread woken after an idle spell) leaves its share to
    the others instead of making them wait.

    With ``check_finite`` (dense input), returns False, leaving the rest of
    ``out`` unwritten and the queue emptied, at the first chunk holding a NaN
    or an infinity (or a product that overflows: see
    ``forward.forward_layer``; the caller then validates the input itself).
    """
    n_samples = out.shape[0]
    n_chunks = (n_samples + chunk_rows - 1) // chunk_rows
    n_layers = net.layers.shape[0]
    chunk = claim(next_chunk, 1)
    while chunk < n_chunks:
        lo = chunk * chunk_rows
        hi = min(lo + chunk_rows, n_samples)
        x = data.X[0:0] if data.is_sparse else data.X[lo:hi]
        finite = True
        rows = Rows(ids=data.ids[lo:hi] if data.is_sparse else data.ids, x=x,
                    y=data.Y, w=data.weights, n=hi - lo, ws_row=worker * chunk_rows,
                    position=lo)
        for l in range(n_layers):
            if finite:
                finite = call_compiled(forward_layer, (net, params, data, rows, ws, l,
                                                       NO_DROPOUT, check_finite and l == 0))
        if not finite:
            claim(next_chunk, n_chunks)
            return False
        copy_rows(layer_output(ws, net.layers[n_layers - 1], rows), hi - lo, out[lo:hi])
        chunk = claim(next_chunk, 1)
    return True


@kernel(parallel=True)
def predict_rows(net, params, data, ws, chunk_rows, check_finite, next_chunk, out):
    """Output-layer activations of every row of the data, written to ``out``.

    Rows are cut into chunks of at most ``chunk_rows``; each of
    ``ws.capacity // chunk_rows`` workers claims chunks from a shared queue
    and runs them in its own workspace rows, so the workspace stays bounded
    whatever the size of ``X``.

    Parameters
    ----------
    net : Network
    params : ndarray of shape (n_params,)
    data : Data
        ``data.ids`` is ``arange(n_samples)`` for sparse input.
    ws : Workspace
        ``outputs`` and ``stored`` sized for ``ws.capacity`` rows.
    chunk_rows : int
    check_finite : bool
        Test dense inputs for NaN and infinity on the way, through the first
        layer's products where the register tiles multiply, else by reading
        each chunk just before its product (``forward.forward_layer``).
    next_chunk : ndarray of int64, shape (1,)
        The queue: 0 on entry, then the next chunk to hand out. Passed in, as
        an array made here would compile a parallel loop of its own.
    out : ndarray of shape (n_samples, n_outputs)
        Receives the predictions.

    Returns
    -------
    finite : bool
        False when ``check_finite`` found a non-finite input; ``out`` is then
        incomplete.
    """
    n_workers = ws.capacity // chunk_rows
    finite = 0
    for worker in prange(n_workers):
        fp_state = flush_denormals()
        if call_compiled(predict_worker_chunks, (net, params, data, ws, np.int64(worker),
                                                 chunk_rows, check_finite, next_chunk, out)):
            finite += 1
        restore_floating_point(fp_state)
    return finite == n_workers


@kernel()
def predict_rows_serial(net, params, data, ws, chunk_rows, check_finite, next_chunk, out):
    """:func:`predict_rows` for one worker, on the calling thread.

    Same parameters and result, with ``ws.capacity == chunk_rows``. A separate
    kernel rather than a branch of :func:`predict_rows`, for the reasons given
    in ``epoch``: no parallel region, and a first call compiles one forward
    pass, not two.
    """
    fp_state = flush_denormals()
    all_rows_finite = call_compiled(predict_worker_chunks, (
        net, params, data, ws, np.int64(0), chunk_rows, check_finite, next_chunk, out))
    restore_floating_point(fp_state)
    return all_rows_finite
