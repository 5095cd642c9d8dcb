"""The trainer: one flat parameter buffer, its layout, workspaces and kernel calls.

The estimator layer talks to kernels only through :class:`Trainer`. The flat
buffer follows scikit-learn's ``_pack`` order (all coefficient matrices, then all
intercept vectors), so ``coefs_`` and ``intercepts_`` are views into it and
L-BFGS can optimise the buffer itself.
"""

import numpy as np
import scipy.sparse

from ._config import (
    ACTIVATION_CODES,
    ADAM,
    FULL_BATCH_BLOCK_ROWS,
    LOSS_CODES,
    MIN_FLOPS_PER_BLOCK,
    MIN_PARAMS_PER_CHUNK,
    PREACTIVATION_CODES,
    PREDICT_CHUNK_ROWS,
)
from ._kernels.epoch import train_epoch
from ._kernels.full_batch import loss_and_gradient
from ._kernels.optimizers import (
    H_ALPHA,
    H_BETA_1,
    H_BETA_2,
    H_EPSILON,
    H_MOMENTUM,
    H_ONE_MINUS_BETA_1,
    H_ONE_MINUS_BETA_2,
    H_STEP,
    N_HYPER,
)
from ._kernels.predict import predict_rows
from ._threads import kernel_threads


def kernel_input(X, dtype, with_rows=False):
    """Split ``X`` into the kernels' dense and sparse arguments.

    Dense ``X`` is passed as is (C-contiguous, in ``dtype``) with an empty
    sparse tuple; a scipy sparse matrix becomes CSR arrays (indices in int32
    when they fit, so one compiled specialisation serves) with a
    ``(0, n_features)`` dense placeholder. Nothing is densified.

    Parameters
    ----------
    X : ndarray or scipy.sparse matrix of shape (n_samples, n_features)
    dtype : numpy dtype
    with_rows : bool
        Include ``arange(n_samples)`` as the sparse row ids (full-data calls).

    Returns
    -------
    dense : ndarray
    sparse : tuple (is_sparse, data, indices, indptr, rows)
    """
    if not scipy.sparse.issparse(X):
        empty_index = np.empty(0, dtype=np.int32)
        return X, (False, np.empty(0, dtype=dtype), empty_index, empty_index,
                   np.empty(0, dtype=np.int64))
    csr = X.tocsr()
    index_dtype = np.int32 if csr.nnz < np.iinfo(np.int32).max else np.int64
    rows = np.arange(csr.shape[0], dtype=np.int64) if with_rows else np.empty(0, np.int64)
    sparse = (
        True,
        np.ascontiguousarray(csr.data, dtype=dtype),
        np.ascontiguousarray(csr.indices, dtype=index_dtype),
        np.ascontiguousarray(csr.indptr, dtype=index_dtype),
        rows,
    )
    return np.empty((0, csr.shape[1]), dtype=dtype), sparse


class Trainer:
    """Parameters, layout and workspaces of one network.

    Parameters
    ----------
    layer_units : sequence of int
        Units per layer, input and output layers included.
    dtype : numpy dtype
        float32 or float64; parameters, workspaces and arithmetic use it.
    hidden_activation : str
        Name of the hidden activation.
    output_activation : str
        Name of the output activation.
    loss : str
        Name of the loss in scikit-learn's ``LOSS_FUNCTIONS`` terms.
    params : ndarray of shape (n_params,), optional
        Existing flat parameters to adopt (copied into a new contiguous buffer).

    Attributes
    ----------
    params : ndarray of shape (n_params,)
        The flat parameter buffer.
    layer_units, coef_offsets, intercept_offsets, unit_offsets : ndarray of int64
        Layout arrays passed to the kernels.
    """

    def __init__(self, layer_units, dtype, hidden_activation, output_activation, loss,
                 params=None):
        self.layer_units = np.asarray(layer_units, dtype=np.int64)
        self.dtype = np.dtype(dtype)
        self._network = (hidden_activation, output_activation, loss)
        self.hidden_code = ACTIVATION_CODES[hidden_activation]
        self.output_code = ACTIVATION_CODES[output_activation]
        self.loss_code = LOSS_CODES[loss]

        fan_in, fan_out = self.layer_units[:-1], self.layer_units[1:]
        n_coefs = fan_in * fan_out
        self.coef_offsets = np.concatenate(([0], np.cumsum(n_coefs))).astype(np.int64)
        n_all_coefs = int(self.coef_offsets[-1])
        self.intercept_offsets = (
            n_all_coefs + np.concatenate(([0], np.cumsum(fan_out)))
        ).astype(np.int64)
        # unit_offsets[l]: where layer l's block starts in an activation
        # workspace, in units of rows; layer 0 (the input) has no block.
        self.unit_offsets = np.concatenate(([0, 0], np.cumsum(fan_out))).astype(np.int64)
        self.n_params = int(self.intercept_offsets[-1])
        # Multiply-adds of one row's forward pass, as a float: the thread
        # split decisions below run on every call, a one-row predict included.
        self._row_macs = float(np.sum(n_coefs))

        self.params = np.zeros(self.n_params, dtype=self.dtype)
        if params is not None:
            self.params[:] = params
        self._epoch_workspace = None

    def astype(self, dtype):
        """The same network with its parameters cast to ``dtype`` (a new buffer)."""
        return Trainer(self.layer_units, dtype, *self._network, params=self.params)

    @property
    def keeps_preactivations(self):
        """Whether back-propagation needs the hidden pre-activations stored."""
        return self.hidden_code in PREACTIVATION_CODES

    @property
    def n_weight_layers(self):
        """Number of coefficient matrices (``n_layers_ - 1``)."""
        return len(self.layer_units) - 1

    def coefs(self):
        """List of coefficient matrices, as views into :attr:`params`."""
        return [
            self.params[self.coef_offsets[i]:self.coef_offsets[i + 1]].reshape(
                self.layer_units[i], self.layer_units[i + 1]
            )
            for i in range(self.n_weight_layers)
        ]

    def intercepts(self):
        """List of intercept vectors, as views into :attr:`params`."""
        return [
            self.params[self.intercept_offsets[i]:self.intercept_offsets[i + 1]]
            for i in range(self.n_weight_layers)
        ]

    def initialize(self, random_state, factor):
        """Glorot-uniform initialisation drawn exactly as scikit-learn draws it.

        For each layer in turn, coefficients then intercepts are drawn from
        ``U(-b, b)`` with ``b = sqrt(factor / (fan_in + fan_out))``, in float64
        from ``random_state``, then cast to the buffer's dtype.

        Parameters
        ----------
        random_state : numpy.random.RandomState
        factor : float
            6 in general, 2 for the logistic activation.
        """
        for coefs, intercepts in zip(self.coefs(), self.intercepts()):
            fan_in, fan_out = coefs.shape
            bound = np.sqrt(factor / (fan_in + fan_out))
            coefs[:] = random_state.uniform(-bound, bound, (fan_in, fan_out))
            intercepts[:] = random_state.uniform(-bound, bound, fan_out)

    def parallel_split(self, batch_size, n_threads):
        """Row blocks per batch and parameter ranges per update for ``n_threads``.

        Each parallel region must carry enough work to repay waking the
        threads; small networks and batches run serially.

        Returns
        -------
        n_row_blocks, n_param_chunks : int
        """
        batch_flops = 6.0 * batch_size * self._row_macs
        n_row_blocks = int(min(n_threads, max(1, batch_flops // MIN_FLOPS_PER_BLOCK)))
        n_param_chunks = int(min(n_threads, max(1, self.n_params // MIN_PARAMS_PER_CHUNK)))
        return n_row_blocks, n_param_chunks

    def _is_small(self, n_samples):
        """Whether a forward pass over ``n_samples`` rows is one worker's work."""
        return (2.0 * n_samples * self._row_macs < MIN_FLOPS_PER_BLOCK
                and n_samples <= PREDICT_CHUNK_ROWS)

    def predict_split(self, n_samples, n_threads):
        """Workers and rows per chunk for a forward pass over ``n_samples`` rows.

        Each worker gets at least ``MIN_FLOPS_PER_BLOCK`` of work, and chunks
        are sized so that workers get equal numbers of them.

        Returns
        -------
        n_workers, chunk_rows : int
        """
        flops = 2.0 * n_samples * self._row_macs
        n_workers = int(min(n_threads, max(1, flops // MIN_FLOPS_PER_BLOCK)))
        chunks_per_worker = max(1, -(-n_samples // (n_workers * PREDICT_CHUNK_ROWS)))
        chunk_rows = max(1, -(-n_samples // (n_workers * chunks_per_worker)))
        return n_workers, chunk_rows

    def _epoch_workspace_for(self, capacity, n_features, n_outputs, n_threads,
                             gathers_x=True):
        n_blocks, n_chunks = self.parallel_split(capacity, n_threads)
        if not gathers_x:
            # Sparse input: the products are cheap and each row block must
            # clear a dense input-layer gradient, so one block does best.
            n_blocks = 1
        key = (capacity, n_features, n_outputs, n_blocks, n_chunks, gathers_x)
        if self._epoch_workspace is None or self._epoch_workspace[0] != key:
            dt = self.dtype
            layer_rows = self.unit_offsets[-1] * capacity
            self._epoch_workspace = (key, dict(
                raw_grads=np.empty((n_blocks, self.n_params), dtype=dt),
                # Sparse rows are read in place: no dense gather buffer.
                x_batch=np.empty((capacity if gathers_x else 0, n_features), dtype=dt),
                y_batch=np.empty((capacity, n_outputs), dtype=dt),
                weight_batch=np.empty(capacity, dtype=dt),
                activations=np.empty(layer_rows, dtype=dt),
                preacts=np.empty(layer_rows if self.keeps_preactivations else 0, dtype=dt),
                deltas=np.empty(layer_rows, dtype=dt),
                block_losses=np.empty(n_blocks),
                block_weights=np.empty(n_blocks),
                chunk_norms=np.empty(n_chunks),
            ))
        return self._epoch_workspace[1]

    def _hyper(self, optimizer, alpha):
        """Optimizer constants in the parameters' dtype (see ``_kernels.optimizers``)."""
        hyper = np.zeros(N_HYPER, dtype=self.dtype)
        hyper[H_STEP] = optimizer.learning_rate
        hyper[H_MOMENTUM] = getattr(optimizer, "momentum", 0.0)
        beta_1 = getattr(optimizer, "beta_1", 0.0)
        beta_2 = getattr(optimizer, "beta_2", 0.0)
        hyper[H_BETA_1] = beta_1
        hyper[H_ONE_MINUS_BETA_1] = 1 - beta_1
        hyper[H_BETA_2] = beta_2
        hyper[H_ONE_MINUS_BETA_2] = 1 - beta_2
        hyper[H_EPSILON] = getattr(optimizer, "epsilon", 0.0)
        hyper[H_ALPHA] = alpha
        return hyper

    def run_epoch(self, X, Y, sample_weight, sample_order, batch_size, alpha, optimizer,
                  n_jobs=None):
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

        Returns
        -------
        summed_loss : float
            Sum over batches of batch loss times batch length.
        """
        is_adam = optimizer.solver_code == ADAM
        X, x_sparse = kernel_input(X, self.dtype)
        with kernel_threads(n_jobs) as n_threads:
            ws = self._epoch_workspace_for(batch_size, X.shape[1], Y.shape[1], n_threads,
                                           gathers_x=not x_sparse[0])
            has_weight = sample_weight is not None
            if not has_weight:
                sample_weight = ws["weight_batch"]
            adam_step = optimizer.step if is_adam else np.zeros(1, dtype=np.int64)
            summed_loss, step_size = train_epoch(
                X, x_sparse, Y, sample_weight, has_weight, sample_order, batch_size,
                self.params, ws["raw_grads"],
                self.layer_units, self.coef_offsets, self.intercept_offsets,
                self.unit_offsets, self.hidden_code, self.output_code, self.loss_code,
                is_adam, bool(getattr(optimizer, "nesterov", False)),
                float(optimizer.learning_rate_init if is_adam else optimizer.learning_rate),
                float(getattr(optimizer, "beta_1", 0.0)),
                float(getattr(optimizer, "beta_2", 0.0)),
                float(np.finfo(self.dtype).eps),
                self._hyper(optimizer, alpha), optimizer.state, adam_step,
                ws["x_batch"], ws["y_batch"], ws["weight_batch"],
                ws["activations"], ws["preacts"], ws["deltas"], ws["block_losses"],
                ws["block_weights"], ws["chunk_norms"],
            )
        if is_adam:
            optimizer.learning_rate = step_size
        return summed_loss

    def loss_and_gradient(self, params, X, Y, sample_weight, alpha, grad_out=None,
                          n_jobs=None):
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

        Returns
        -------
        loss : float
        grad : ndarray of shape (n_params,)
        """
        if params is not self.params:
            self.params[:] = params
        grad = np.empty(self.n_params, dtype=self.dtype) if grad_out is None else grad_out
        has_weight = sample_weight is not None
        if not has_weight:
            sample_weight = np.ones(1, dtype=self.dtype)
        n_samples = X.shape[0]
        X, x_sparse = kernel_input(X, self.dtype, with_rows=True)
        with kernel_threads(n_jobs) as n_threads:
            # Rows per block as in an epoch: small data runs as one block.
            n_blocks = self.parallel_split(n_samples, n_threads)[0]
            block_rows = max(1, min(FULL_BATCH_BLOCK_ROWS, -(-n_samples // n_blocks)))
            key = (n_blocks, block_rows)
            ws = getattr(self, "_full_workspace", None)
            if ws is None or ws[0] != key:
                size = self.unit_offsets[-1] * n_blocks * block_rows
                ws = (key, dict(
                    raw_grads=np.empty((n_blocks, self.n_params), dtype=self.dtype),
                    scratch_grads=np.empty((n_blocks, self.n_params), dtype=self.dtype),
                    activations=np.empty(size, dtype=self.dtype),
                    preacts=np.empty(size if self.keeps_preactivations else 0,
                                     dtype=self.dtype),
                    deltas=np.empty(size, dtype=self.dtype),
                    block_losses=np.empty(n_blocks),
                    block_weights=np.empty(n_blocks),
                ))
                self._full_workspace = ws
            ws = ws[1]
            loss = loss_and_gradient(
                X, x_sparse, Y, sample_weight, has_weight, self.params, grad, ws["raw_grads"],
                ws["scratch_grads"], self.layer_units, self.coef_offsets,
                self.intercept_offsets, self.unit_offsets, self.hidden_code,
                self.output_code, self.loss_code, float(alpha),
                float(np.finfo(self.dtype).eps), ws["activations"], ws["preacts"],
                ws["deltas"], block_rows, ws["block_losses"], ws["block_weights"],
            )
        return loss, grad

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
        out = np.empty((n_samples, self.layer_units[-1]), dtype=self.dtype)
        X, x_sparse = kernel_input(X, self.dtype, with_rows=True)
        if self._is_small(n_samples):
            # One worker's worth of rows (a single-row call, say): no thread
            # set-up at all, and BLAS does not thread such small products.
            finite = predict_rows(
                X, x_sparse, self.params, self.layer_units, self.coef_offsets,
                self.intercept_offsets, self.unit_offsets, self.hidden_code,
                self.output_code, max(n_samples, 1), 1, check_finite, out)
        else:
            with kernel_threads(n_jobs) as n_threads:
                n_workers, chunk_rows = self.predict_split(n_samples, n_threads)
                finite = predict_rows(
                    X, x_sparse, self.params, self.layer_units, self.coef_offsets,
                    self.intercept_offsets, self.unit_offsets, self.hidden_code,
                    self.output_code, chunk_rows, n_workers, check_finite, out)
        return out if finite else None
