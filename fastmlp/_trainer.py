"""The trainer: one flat parameter buffer, its layout, workspaces and kernel calls.

The estimator layer talks to kernels only through :class:`Trainer`. The flat
buffer follows scikit-learn's ``_pack`` order (all coefficient matrices, then all
intercept vectors), so ``coefs_`` and ``intercepts_`` are views into it and
L-BFGS can optimise the buffer itself. The network is described once, as the
layer records of ``_kernels.layout``, and every kernel call reads them.
"""

import numpy as np
import scipy.sparse

from ._config import (
    FULL_BATCH_BLOCK_ROWS,
    LOSS_CODES,
    LOSS_OUTPUT_ACTIVATIONS,
    MIN_FLOPS_PER_BLOCK,
    MIN_PARAMS_PER_CHUNK,
    PREDICT_CHUNK_BYTES,
    PREDICT_CHUNK_ROWS,
    PREDICT_CHUNKS_PER_WORKER,
    PREDICT_MIN_CHUNK_ROWS,
)
from ._kernels.bundles import Data, Network, Workspace
from ._kernels.epoch import train_epoch, train_epoch_serial
from ._kernels.full_batch import loss_and_gradient, loss_and_gradient_serial
from ._kernels.layout import build_layout
from ._kernels.losses import weighted_data_loss
from ._kernels.predict import predict_rows, predict_rows_serial
from ._kernels.prepare import prepare_network, prepare_solver
from ._threads import kernel_threads

NO_DROPOUT = -1


def _read_only(array):
    """A read-only view of ``array`` (no copy).

    Numba compiles a separate specialisation for read-only arrays (a
    read-only memmap, say); the kernels never write their input, so every
    input array is passed read-only and one specialisation serves both.
    """
    view = array.view(np.ndarray)
    view.flags.writeable = False
    return view


def kernel_data(X, dtype, Y=None, sample_weight=None, with_ids=False):
    """The kernels' :class:`Data` bundle for ``X`` (and targets and weights).

    Dense ``X`` is passed as is (C-contiguous, in ``dtype``); a scipy sparse
    matrix becomes CSR arrays (indices in int32 when they fit, so one compiled
    specialisation serves) with a ``(0, n_features)`` dense placeholder.
    Nothing is densified or copied; every array is passed read-only.

    Parameters
    ----------
    X : ndarray or scipy.sparse matrix of shape (n_samples, n_features)
    dtype : numpy dtype
    Y : ndarray of shape (n_samples, n_outputs), optional
        Targets; an empty placeholder when predicting.
    sample_weight : ndarray of shape (n_samples,), optional
    with_ids : bool
        Include ``arange(n_samples)`` as the sparse row ids (full-data calls).
    """
    if Y is None:
        Y = np.empty((0, 1), dtype=dtype)
    has_weight = sample_weight is not None
    weights = sample_weight if has_weight else np.ones(1, dtype=dtype)
    empty_index = np.empty(0, dtype=np.int32)
    if not scipy.sparse.issparse(X):
        return Data(X=_read_only(X), is_sparse=False,
                    values=_read_only(np.empty(0, dtype=dtype)),
                    indices=_read_only(empty_index), indptr=_read_only(empty_index),
                    ids=_read_only(np.empty(0, dtype=np.int64)), Y=_read_only(Y),
                    weights=_read_only(weights), has_weight=has_weight)
    csr = X.tocsr()
    index_dtype = np.int32 if csr.nnz < np.iinfo(np.int32).max else np.int64
    ids = np.arange(csr.shape[0], dtype=np.int64) if with_ids else np.empty(0, np.int64)
    return Data(
        X=_read_only(np.empty((0, csr.shape[1]), dtype=dtype)), is_sparse=True,
        values=_read_only(np.ascontiguousarray(csr.data, dtype=dtype)),
        indices=_read_only(np.ascontiguousarray(csr.indices, dtype=index_dtype)),
        indptr=_read_only(np.ascontiguousarray(csr.indptr, dtype=index_dtype)),
        ids=_read_only(ids), Y=_read_only(Y), weights=_read_only(weights),
        has_weight=has_weight,
    )


# Marks a trainer whose network was prepared in this process; pickling makes
# a new object of it, so an unpickled trainer prepares again.
_PREPARED_HERE = object()


class Trainer:
    """Parameters, layout and workspaces of one network.

    Parameters
    ----------
    n_features : int
        Width of the input.
    specs : sequence of LayerSpec
        Every weight layer, the output layer last (see ``_kernels.layout``).
    dtype : numpy dtype
        float32 or float64; parameters, workspaces and arithmetic use it.
    loss : str
        Name of the loss in scikit-learn's ``LOSS_FUNCTIONS`` terms, or
        ``"huber"`` or ``"absolute_error"``: a key of ``_config.LOSS_CODES``,
        defined for the output activations ``_config.LOSS_OUTPUT_ACTIVATIONS``
        lists (see ``_kernels/losses.py`` for formulas and gradients).
    dropout_rate : float, default=0.0
        Probability of dropping a unit of a dropout layer while training.
    params : ndarray of shape (n_params,), optional
        Existing flat parameters to adopt (copied into a new contiguous buffer).
    huber_delta : float, default=1.0
        Where the Huber loss turns from quadratic to linear (> 0); read only
        by ``loss="huber"``.

    Attributes
    ----------
    params : ndarray of shape (n_params,)
        The flat parameter buffer.
    layout : Layout
        The layer records and the sizes derived from them.
    network : Network
        What every kernel call reads of the network.
    """

    def __init__(self, n_features, specs, dtype, loss, dropout_rate=0.0, params=None,
                 huber_delta=1.0):
        self.n_features = int(n_features)
        self.specs = tuple(specs)
        self.dtype = np.dtype(dtype)
        self.loss = loss
        self.dropout_rate = float(dropout_rate)
        self.huber_delta = float(huber_delta)
        output_activation = self.specs[-1].activation
        if output_activation not in LOSS_OUTPUT_ACTIVATIONS[loss]:
            raise ValueError(f"loss {loss!r} is not defined for a {output_activation!r} "
                             f"output; it takes {LOSS_OUTPUT_ACTIVATIONS[loss]}")
        if loss == "huber" and not self.huber_delta > 0:
            raise ValueError(f"huber_delta must be > 0, got {huber_delta!r}")
        self.layout = build_layout(self.n_features, self.specs)
        self.n_params = self.layout.n_params
        self.network = Network(
            layers=self.layout.layers, n_coefs=self.layout.n_coefs, loss=LOSS_CODES[loss],
            loss_param=self.huber_delta if loss == "huber" else 0.0,
            eps=float(np.finfo(self.dtype).eps), dropout_rate=self.dropout_rate,
            dropout_units=self.layout.dropout_units,
        )
        self.params = np.zeros(self.n_params, dtype=self.dtype)
        if params is not None:
            self.params[:] = params
        self._workspaces = {}

    def astype(self, dtype):
        """The same network with its parameters cast to ``dtype`` (a new buffer)."""
        return Trainer(self.n_features, self.specs, dtype, self.loss, self.dropout_rate,
                       params=self.params, huber_delta=self.huber_delta)

    @property
    def has_dropout(self):
        """Whether any layer drops units while training."""
        return self.layout.dropout_units > 0

    @property
    def n_weight_layers(self):
        """Number of coefficient matrices (``n_layers_ - 1``)."""
        return len(self.specs)

    def coefs(self):
        """List of coefficient matrices, as views into :attr:`params`."""
        return [
            self.params[r["coef_offset"]:r["coef_offset"] + r["fan_in"] * r["units"] * r["pieces"]]
            .reshape(r["fan_in"], r["units"] * r["pieces"])
            for r in self.layout.layers
        ]

    def intercepts(self):
        """List of intercept vectors, as views into :attr:`params`."""
        return [
            self.params[r["intercept_offset"]:r["intercept_offset"] + r["units"] * r["pieces"]]
            for r in self.layout.layers
        ]

    def initialize(self, random_state, factors):
        """Glorot-uniform initialisation drawn exactly as scikit-learn draws it.

        For each layer in turn, coefficients then intercepts are drawn from
        ``U(-b, b)`` with ``b = sqrt(factor / (fan_in + fan_out))`` (``fan_out``
        counts every column, Maxout pieces included), in float64 from
        ``random_state``, then cast to the buffer's dtype.

        Parameters
        ----------
        random_state : numpy.random.RandomState
        factors : sequence of float
            One per weight layer: 6 in general, 2 for the logistic activation.
        """
        for coefs, intercepts, factor in zip(self.coefs(), self.intercepts(), factors):
            fan_in, fan_out = coefs.shape
            bound = np.sqrt(factor / (fan_in + fan_out))
            coefs[:] = random_state.uniform(-bound, bound, (fan_in, fan_out))
            intercepts[:] = random_state.uniform(-bound, bound, fan_out)

    def parallel_split(self, batch_size, n_threads):
        """Row blocks per batch and parameter ranges per update for ``n_threads``.

        Each parallel region must carry enough work to repay waking the
        threads; small networks and batches run as one block.

        Returns
        -------
        n_row_blocks, n_param_chunks : int
        """
        batch_flops = 6.0 * batch_size * self.layout.row_macs
        n_row_blocks = int(min(n_threads, max(1, batch_flops // MIN_FLOPS_PER_BLOCK)))
        n_param_chunks = int(min(n_threads, max(1, self.n_params // MIN_PARAMS_PER_CHUNK)))
        return n_row_blocks, n_param_chunks

    def _is_small(self, n_samples):
        """Whether a forward pass over ``n_samples`` rows is one worker's work."""
        return (2.0 * n_samples * self.layout.row_macs < MIN_FLOPS_PER_BLOCK
                and n_samples <= PREDICT_CHUNK_ROWS)

    def predict_split(self, n_samples, n_threads, dense=True):
        """Workers and rows per chunk for a forward pass over ``n_samples`` rows.

        Each worker gets at least ``MIN_FLOPS_PER_BLOCK`` of work. A chunk
        holds at most ``PREDICT_CHUNK_ROWS`` rows and, for ``dense`` input, at
        most ``PREDICT_CHUNK_BYTES`` of it (but at least
        ``PREDICT_MIN_CHUNK_ROWS`` rows), so that it stays in cache while every
        column tile of the first layer reads it (a larger one is read from
        memory again for the last columns). Several workers share a queue of
        at least ``PREDICT_CHUNKS_PER_WORKER`` chunks each, so that a worker
        that starts late does not hold up the others.

        Returns
        -------
        n_workers, chunk_rows : int
        """
        row_flops = 2.0 * self.layout.row_macs
        n_workers = int(min(n_threads, max(1, n_samples * row_flops // MIN_FLOPS_PER_BLOCK)))
        max_rows = PREDICT_CHUNK_ROWS
        if dense:
            row_bytes = max(1, self.n_features) * np.dtype(self.dtype).itemsize
            max_rows = min(max_rows, max(PREDICT_MIN_CHUNK_ROWS, PREDICT_CHUNK_BYTES // row_bytes))
        n_chunks = -(-n_samples // max_rows)
        if n_workers > 1:
            n_chunks = max(n_chunks, min(n_workers * PREDICT_CHUNKS_PER_WORKER,
                                         int(n_samples * row_flops // MIN_FLOPS_PER_BLOCK)))
        chunk_rows = -(-n_samples // n_chunks)
        return n_workers, chunk_rows

    def _prepare_kernels(self):
        """Compile (or load) what the kernels run for this network (see
        ``_kernels.prepare``), once per process: a one-row prediction takes
        tens of microseconds, and preparing again would add ten."""
        if getattr(self, "_prepared", None) is not _PREPARED_HERE:
            prepare_network(self.layout.layers, self.network.loss)
            self._prepared = _PREPARED_HERE

    def _workspace(self, purpose, capacity, n_blocks=1, n_chunks=1, n_features=0,
                   n_outputs=0, training=True, scratch=False):
        """A :class:`Workspace`; training ones are reused while their shape holds.

        Prediction workspaces are never shared: a fitted model may predict
        from several Python threads at once.
        """
        key = (capacity, n_blocks, n_chunks, n_features, n_outputs, training, scratch)
        cached = self._workspaces.get(purpose)
        if cached is not None and cached[0] == key:
            return cached[1]
        dt, layout = self.dtype, self.layout
        n_grads = n_blocks if training else 0

        def rows(width, needed=True):
            return np.empty(width * capacity if needed else 0, dtype=dt)

        ws = Workspace(
            capacity=capacity,
            x_rows=np.empty((capacity if n_features else 0, n_features), dtype=dt),
            y_rows=np.empty((capacity if n_outputs else 0, n_outputs), dtype=dt),
            w_rows=np.empty(capacity if n_outputs else 0, dtype=dt),
            outputs=rows(layout.outputs_width),
            stored=rows(layout.stored_width),
            masks=rows(layout.masks_width, training),
            deltas=rows(layout.deltas_width, training),
            scratch=rows(layout.scratch_width),
            grads=np.empty((n_grads, self.n_params), dtype=dt),
            scratch_grads=np.empty((n_grads if scratch else 0, self.n_params), dtype=dt),
            block_losses=np.empty(n_blocks),
            block_weights=np.empty(n_blocks),
            chunk_norms=np.empty(n_chunks),
        )
        if training:
            self._workspaces[purpose] = (key, ws)
        return ws

    def run_epoch(self, X, Y, sample_weight, sample_order, batch_size, alpha, optimizer,
                  n_jobs=None, dropout_seed=NO_DROPOUT, check_input=False):
        """Train one epoch in a single kernel call.

        Parameters
        ----------
        X : ndarray or scipy.sparse matrix of shape (n_samples, n_features)
            Dense ``X`` C-contiguous in the trainer's dtype.
        Y : ndarray of shape (n_samples, n_outputs), C-contiguous, same dtype
        sample_weight : ndarray of shape (n_samples,) or None
        sample_order : ndarray of int64, shape (n_samples,)
            Row visiting order; batches are consecutive runs of it.
        batch_size : int
        alpha : float
        optimizer : SGDOptimizer or AdamOptimizer
            Its state arrays are updated in place.
        n_jobs : int or None
            Thread policy of the call (see :func:`fastmlp._threads.kernel_threads`).
        dropout_seed : int
            This epoch's dropout seed, drawn from the estimator's random state
            (negative without dropout).
        check_input : bool
            Test dense ``X`` for NaN and infinity as the epoch reads it, at
            almost no cost: the input layer's products are tested where they
            run on the register tiles (a NaN or an infinity in a row makes its
            products non-finite), the rows themselves where BLAS multiplies.
            Sparse ``X`` is not tested.

        Returns
        -------
        summed_loss : float or None
            Sum over batches of batch loss times batch length. None when
            ``check_input`` found a value that is not finite: the epoch then
            stopped part-way, with the parameters and ``optimizer`` holding the
            updates of the batches before. A product can also overflow from
            finite input, so the caller tests ``X`` itself before reporting it.
        """
        data = kernel_data(X, self.dtype, Y, sample_weight)
        self._prepare_kernels()
        prepare_solver(optimizer.solver_code)
        with kernel_threads(n_jobs) as n_threads:
            n_blocks, n_chunks = self.parallel_split(batch_size, n_threads)
            if data.is_sparse:
                # The products are cheap and each row block must clear a dense
                # input-layer gradient, so one block does best.
                n_blocks = 1
            ws = self._workspace(
                "epoch", batch_size, n_blocks, n_chunks,
                n_features=0 if data.is_sparse else X.shape[1], n_outputs=Y.shape[1])
            kernel = train_epoch_serial if n_blocks == n_chunks == 1 else train_epoch
            summed_loss, input_finite = kernel(
                self.network, self.params, data, sample_order, batch_size,
                optimizer.kernel_solver(alpha), ws, dropout_seed,
                check_input and not data.is_sparse)
        return summed_loss if input_finite else None

    def loss_and_gradient(self, params, X, Y, sample_weight, alpha, grad_out=None,
                          n_jobs=None, dropout_seed=NO_DROPOUT):
        """Penalised mean loss over all rows and its gradient, for L-BFGS.

        Parameters
        ----------
        params : ndarray of shape (n_params,)
            Point to evaluate; copied into :attr:`params` first (L-BFGS owns
            its iterate).
        X, Y : ndarray, C-contiguous, trainer dtype
        sample_weight : ndarray of shape (n_samples,) or None
        alpha : float
        grad_out : ndarray of shape (n_params,), optional
            Receives the gradient; a new array otherwise.
        n_jobs : int or None
            Thread policy of the call (see :func:`fastmlp._threads.kernel_threads`).
        dropout_seed : int
            Negative for no dropout; otherwise row ``i`` gets the mask of
            position ``i`` under this seed (a fixed mask, for gradient checks).

        Returns
        -------
        loss : float
        grad : ndarray of shape (n_params,)
        """
        if params is not self.params:
            self.params[:] = params
        grad = np.empty(self.n_params, dtype=self.dtype) if grad_out is None else grad_out
        n_samples = X.shape[0]
        data = kernel_data(X, self.dtype, Y, sample_weight, with_ids=True)
        self._prepare_kernels()
        with kernel_threads(n_jobs) as n_threads:
            # Rows per block as in an epoch: small data runs as one block.
            n_blocks = self.parallel_split(n_samples, n_threads)[0]
            block_rows = max(1, min(FULL_BATCH_BLOCK_ROWS, -(-n_samples // n_blocks)))
            ws = self._workspace("full_batch", n_blocks * block_rows, n_blocks, n_blocks,
                                 scratch=True)
            kernel = loss_and_gradient_serial if n_blocks == 1 else loss_and_gradient
            loss = kernel(self.network, self.params, data, ws, block_rows, float(alpha), grad,
                          dropout_seed)
        return loss, grad

    def data_loss(self, y_pred, Y, sample_weight=None):
        """Weighted mean data loss of predictions, without the L2 term.

        The same compiled loss as training (a validation-loss curve, say).

        Parameters
        ----------
        y_pred : ndarray of shape (n_samples, n_outputs)
            Output activations, as :meth:`predict` returns them.
        Y : ndarray of shape (n_samples, n_outputs)
            Targets in the kernels' form (binarised labels for classifiers).
        sample_weight : ndarray of shape (n_samples,) or None

        Returns
        -------
        loss : float
            NaN when the weights sum to zero (or there are no rows).
        """
        y_pred = _read_only(np.ascontiguousarray(y_pred, dtype=self.dtype))
        Y = _read_only(np.ascontiguousarray(Y, dtype=self.dtype))
        if y_pred.shape != Y.shape:
            raise ValueError(f"y_pred has shape {y_pred.shape} but Y has shape {Y.shape}")
        has_weight = sample_weight is not None
        if has_weight:
            weights = np.ascontiguousarray(sample_weight, dtype=self.dtype)
        else:
            weights = np.ones(1, dtype=self.dtype)
        net = self.network
        self._prepare_kernels()
        loss_sum, weight_sum = weighted_data_loss(net.loss, net.loss_param, y_pred, Y,
                                                  _read_only(weights), has_weight, net.eps)
        return loss_sum / weight_sum if weight_sum != 0 else float("nan")

    def predict(self, X, n_jobs=None, check_finite=False):
        """Output-layer activations for every row of ``X``.

        Parameters
        ----------
        X : ndarray or scipy.sparse matrix of shape (n_samples, n_features)
            Dense ``X`` C-contiguous in the trainer's dtype.
        n_jobs : int or None
            Thread policy of the call (see :func:`fastmlp._threads.kernel_threads`).
        check_finite : bool
            Test dense ``X`` for NaN and infinity during the forward pass.

        Returns
        -------
        y_pred : ndarray of shape (n_samples, n_outputs), or None
            None when ``check_finite`` found a value that is not finite.
        """
        n_samples = X.shape[0]
        out = np.empty((n_samples, self.specs[-1].units), dtype=self.dtype)
        if n_samples == 0:
            return out
        data = kernel_data(X, self.dtype, with_ids=True)
        self._prepare_kernels()
        if self._is_small(n_samples):
            # One worker's worth of rows (a single-row call, say): no thread
            # set-up, and BLAS does not thread such small products.
            # One worker opens no parallel region, so needs no layer guard.
            ws = self._workspace("predict_small", n_samples, training=False)
            finite = predict_rows_serial(self.network, self.params, data, ws, n_samples,
                                         check_finite, np.zeros(1, np.int64), out)
        else:
            with kernel_threads(n_jobs) as n_threads:
                n_workers, chunk_rows = self.predict_split(n_samples, n_threads,
                                                           dense=not data.is_sparse)
                ws = self._workspace("predict", n_workers * chunk_rows, training=False)
                kernel = predict_rows_serial if n_workers == 1 else predict_rows
                finite = kernel(self.network, self.params, data, ws, chunk_rows, check_finite,
                                np.zeros(1, np.int64), out)
        return out if finite else None
