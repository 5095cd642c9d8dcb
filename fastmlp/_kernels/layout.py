"""The network description the kernels read: one record per weight layer.

A network is a sequence of weight layers; layer ``l`` maps its input ``h_l``
(``fan_in`` wide; ``h_0`` is ``X``) to its output ``h_{l+1}`` (``units`` wide):

- ``DENSE``: ``z = h_l W + b``, branch ``g = f(z)`` with ``f`` the layer's
  activation (the table in ``activations``);
- ``MAXOUT``: ``z = h_l W + b`` has ``units * pieces`` columns, and unit ``j`` is
  ``g_j = max_k z[j * pieces + k]`` (Goodfellow et al., arXiv:1302.4389);

then ``h_{l+1} = m * g + h_l`` where ``m`` is the dropout mask (inverted
dropout: 0 or ``1 / (1 - rate)``; 1 without dropout) and the skip ``+ h_l`` is
there only for residual layers. The last layer is a plain dense layer with the
output activation.

:func:`build_layout` turns a list of :class:`LayerSpec` into a record array of
:data:`LAYER_DTYPE`, once, in the trainer. Each record holds the layer's kind,
widths, activation code and flags, and its offsets: into the flat parameter
buffer (scikit-learn's ``_pack`` order: every coefficient matrix, row-major
``fan_in x (units * pieces)``, then every intercept vector) and into the
workspaces. Workspace offsets count rows: layer blocks are row-major
``(capacity, width)`` and start at ``offset * capacity``, so a block of rows
``[r, r + n)`` of every layer is one contiguous slice, and threads given
disjoint row ranges never write the same memory.

Workspaces (one float array each, see :class:`Layout` for their row widths):

- ``outputs``: ``h_{l+1}`` of every layer;
- ``stored``: what a layer's backward pass reads when its output alone does
  not do: ``z`` (activations whose derivative is written through ``z``, and
  Maxout, ``units * pieces`` wide), or the branch ``g`` (residual or dropout
  layers, whose output is not ``g``);
- ``masks``: the dropout masks of the layers that have them;
- ``deltas``: the error at each layer's output, and at its ``z`` where that
  cannot overwrite it (Maxout, residual layers).
"""

from collections import namedtuple

import numpy as np

from .activations import backward_reads_input, code_of
from .jit import internal

DENSE = 0
MAXOUT = 1

# What a layer's ``stored`` block holds.
STORED_NONE = 0     # nothing: the backward pass reads the layer's output
STORED_BRANCH = 1   # g = f(z)
STORED_INPUT = 2    # z (with the bias)

LAYER_DTYPE = np.dtype([
    ("kind", np.int64),
    ("activation", np.int64),
    ("fan_in", np.int64),
    ("units", np.int64),
    ("pieces", np.int64),
    ("residual", np.bool_),
    ("dropout", np.bool_),
    ("stored", np.int64),
    ("coef_offset", np.int64),
    ("intercept_offset", np.int64),
    ("out_offset", np.int64),
    ("stored_offset", np.int64),
    ("mask_offset", np.int64),
    ("delta_offset", np.int64),
    ("delta_z_offset", np.int64),
    ("unit_base", np.int64),
], align=True)

LayerSpec = namedtuple("LayerSpec", ["kind", "activation", "units", "pieces", "residual",
                                     "dropout"])
LayerSpec.__doc__ = """What the estimator asks of one weight layer.

kind : {DENSE, MAXOUT}
activation : str
    Name in the activation table (``"maxout"`` layers: ignored).
units : int
    Width of the layer's output.
pieces : int
    Affine pieces per unit (1 for dense layers).
residual : bool
    Add the layer's input to its output (only when their widths are equal).
dropout : bool
    Drop units of the layer's output while training.
"""

Layout = namedtuple("Layout", [
    "layers", "n_coefs", "n_params", "outputs_width", "stored_width", "masks_width",
    "deltas_width", "scratch_width", "dropout_units", "row_macs",
])
Layout.__doc__ = """A network's record array and the sizes derived from it.

layers : ndarray of LAYER_DTYPE, one record per weight layer
n_coefs, n_params : int
    Coefficients (they come first in the buffer) and all parameters.
outputs_width, stored_width, masks_width, deltas_width : int
    Row width of each workspace (sum over layers of their blocks' widths).
scratch_width : int
    Row width of the scratch space of the activations' block forms (twice the
    widest layer).
dropout_units : int
    Units with dropout, over all layers: the stride of the mask counter.
row_macs : float
    Multiply-adds of one row's forward pass.
"""


def build_layout(n_features, specs):
    """Record array and sizes for a network of ``specs`` on ``n_features`` inputs.

    Parameters
    ----------
    n_features : int
    specs : sequence of LayerSpec
        Every weight layer, the output layer last.

    Returns
    -------
    Layout
    """
    layers = np.zeros(len(specs), dtype=LAYER_DTYPE)
    fan_in = n_features
    for record, spec in zip(layers, specs):
        record["kind"] = spec.kind
        record["activation"] = code_of(spec.activation) if spec.kind == DENSE else -1
        record["fan_in"] = fan_in
        record["units"] = spec.units
        record["pieces"] = spec.pieces if spec.kind == MAXOUT else 1
        record["residual"] = bool(spec.residual) and fan_in == spec.units
        record["dropout"] = bool(spec.dropout)
        fan_in = spec.units
    columns = layers["units"] * layers["pieces"]
    coef_sizes = layers["fan_in"] * columns
    layers["coef_offset"] = np.concatenate(([0], np.cumsum(coef_sizes)[:-1]))
    n_coefs = int(coef_sizes.sum())
    layers["intercept_offset"] = n_coefs + np.concatenate(([0], np.cumsum(columns)[:-1]))
    n_params = n_coefs + int(columns.sum())

    widths = dict(outputs=0, stored=0, masks=0, deltas=0)

    def place(workspace, width):
        offset = widths[workspace]
        widths[workspace] += width
        return offset

    dropout_units = 0
    for record, spec, n_columns in zip(layers, specs, columns):
        is_maxout = record["kind"] == MAXOUT
        record["out_offset"] = place("outputs", record["units"])
        if is_maxout or backward_reads_input(spec.activation):
            record["stored"] = STORED_INPUT
            record["stored_offset"] = place("stored", n_columns)
        elif record["residual"] or record["dropout"]:
            record["stored"] = STORED_BRANCH
            record["stored_offset"] = place("stored", record["units"])
        else:
            record["stored"] = STORED_NONE
            record["stored_offset"] = -1
        record["mask_offset"] = place("masks", record["units"]) if record["dropout"] else -1
        record["unit_base"] = dropout_units
        if record["dropout"]:
            dropout_units += record["units"]
        record["delta_offset"] = place("deltas", record["units"])
        separate = is_maxout or record["residual"]
        record["delta_z_offset"] = (place("deltas", n_columns) if separate
                                    else record["delta_offset"])
    return Layout(layers=layers, n_coefs=n_coefs, n_params=n_params,
                  outputs_width=widths["outputs"], stored_width=widths["stored"],
                  masks_width=widths["masks"], deltas_width=widths["deltas"],
                  scratch_width=2 * int(columns.max()),
                  dropout_units=dropout_units, row_macs=float(coef_sizes.sum()))


@internal()
def coefs_of(params, layer):
    """View of a layer's coefficient matrix, ``(fan_in, units * pieces)``."""
    n_columns = layer.units * layer.pieces
    start = layer.coef_offset
    return params[start:start + layer.fan_in * n_columns].reshape((layer.fan_in, n_columns))


@internal()
def intercepts_of(params, layer):
    """View of a layer's intercept vector, ``(units * pieces,)``."""
    start = layer.intercept_offset
    return params[start:start + layer.units * layer.pieces]


@internal()
def block_rows(workspace, offset, width, capacity, first_row, n_rows):
    """Rows ``[first_row, first_row + n_rows)`` of the ``width``-wide block at ``offset``."""
    start = offset * capacity + first_row * width
    return workspace[start:start + n_rows * width].reshape((n_rows, width))
