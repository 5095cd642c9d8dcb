"""The named bundles kernel arguments travel in.

Arguments that always travel together cross every kernel call as one named
tuple, so a call cannot swap two same-typed arrays, and a kernel signature
stays short. Numba compiles a named tuple into a plain struct: reading a field
costs nothing.
"""

from collections import namedtuple

from numba import types
from numba.core.imputils import impl_ret_borrowed
from numba.extending import intrinsic

Network = namedtuple("Network", [
    "layers", "n_coefs", "loss", "loss_param", "eps", "dropout_rate", "dropout_units",
])
Network.__doc__ = """What the kernels know of the network itself.

layers : ndarray of layout.LAYER_DTYPE
    One record per weight layer (see ``layout``).
n_coefs : int
    Number of coefficients; they precede the intercepts in the flat buffer.
loss : int
    Loss code (``fastmlp._config``).
loss_param : float
    The loss's parameter: Huber's ``delta`` (0.0 for the losses without one).
eps : float
    Probability clipping bound of the log losses (the dtype's machine epsilon).
dropout_rate : float
    Probability that a unit of a dropout layer is dropped while training.
dropout_units : int
    Units with dropout over all layers (stride of the mask counter).
"""

Data = namedtuple("Data", [
    "X", "is_sparse", "values", "indices", "indptr", "ids", "Y", "weights", "has_weight",
])
Data.__doc__ = """Training or prediction input.

X : ndarray of shape (n_samples, n_features), C-contiguous
    Dense input; a ``(0, n_features)`` placeholder when the input is sparse.
is_sparse : bool
values, indices, indptr : ndarray
    CSR arrays of sparse input (empty for dense input).
ids : ndarray of int64
    ``arange(n_samples)`` for calls over every row of sparse input (the rows
    a block reads); empty otherwise.
Y : ndarray of shape (n_samples, n_outputs)
    Targets (``(0, n_outputs)`` when predicting).
weights : ndarray of shape (n_samples,)
    Sample weights, read only when ``has_weight``.
has_weight : bool
"""

Rows = namedtuple("Rows", ["ids", "x", "y", "w", "n", "ws_row", "position"])
Rows.__doc__ = """A block of rows that one thread runs forward (and backward).

ids : ndarray of int64
    Sample ids of the rows (read for sparse input and for gathering).
x : ndarray of shape (n, n_features), or (0, n_features)
    The rows of dense input (a gathered copy or a slice of ``X``); empty when
    the input layer reads them in place through ``ids``
    (``products.reads_input_in_place``).
y : ndarray of shape (n, n_outputs)
    Their targets (training only).
w : ndarray of shape (n,)
    Their sample weights, read only when ``Data.has_weight``.
n : int
    Number of rows.
ws_row : int
    First workspace row of the block.
position : int
    Position of the first row in the epoch's visiting order (the dropout mask
    counter; masks depend on it, not on how rows are split between threads).

Its arrays are always typed read-only (see :func:`read_only`), whether they
view the input (prediction, L-BFGS) or a workspace (a training epoch), so
that every function that reads rows is compiled once for all three.
"""


@intrinsic
def read_only(typingctx, array):
    """The same array, typed read-only (Numba then refuses writes through it).

    Parameters
    ----------
    array : ndarray

    Returns
    -------
    view : ndarray
        ``array`` itself; only its compile-time type changes.
    """
    if not isinstance(array, types.Array):
        return None

    def codegen(context, builder, sig, args):
        return impl_ret_borrowed(context, builder, sig.return_type, args[0])

    return array.copy(readonly=True)(array), codegen


Workspace = namedtuple("Workspace", [
    "capacity", "x_rows", "y_rows", "w_rows", "outputs", "stored", "masks", "deltas",
    "scratch", "grads", "scratch_grads", "block_losses", "block_weights", "chunk_norms",
])
Workspace.__doc__ = """Preallocated memory of a kernel call; nothing is allocated per batch.

capacity : int
    Rows of each layer block in ``outputs``, ``stored``, ``masks``, ``deltas``.
x_rows, y_rows, w_rows : ndarray
    Gathered inputs, targets and weights of a mini-batch.
outputs, stored, masks, deltas : ndarray
    Layer workspaces (see ``layout``).
scratch : ndarray
    ``layout.scratch_width`` values per row, overwritten by the activations'
    block forms.
grads : ndarray of shape (n_blocks, n_params)
    One partial gradient per row block.
scratch_grads : ndarray of shape (n_blocks, n_params) or (0, n_params)
    Where a block sums pieces of its rows (full-batch gradient only).
block_losses, block_weights : ndarray of float64, shape (n_blocks,)
chunk_norms : ndarray of float64, shape (n_chunks,)
    One entry per parameter range of the optimizer update.
"""

Solver = namedtuple("Solver", ["kind", "hyper", "constants", "state", "step"])
Solver.__doc__ = """An optimizer as the epoch kernel drives it (see ``fastmlp._optimizers``).

kind : int
    Solver code (``fastmlp._config``).
hyper : ndarray in the parameters' dtype
    Constants of the step rule; slots ``H_*`` of ``fastmlp._optimizers.base``.
constants : ndarray of float64
    Constants kept in float64 (Adam's bias correction).
state : ndarray of shape (n_state, n_params)
    Velocities or moments, in the parameter layout.
step : ndarray of int64, shape (1,)
    Updates made so far.
"""
