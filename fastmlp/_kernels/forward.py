"""Forward pass of a block of rows through the layer records.

Layer by layer (see ``layout``): the product ``h_l W`` goes straight into the
block the layer's backward pass reads (its output, or its ``stored`` block),
then the bias and activation are applied in one fused loop (or the Maxout
reduction), then the dropout mask and the skip connection. Each step touches
only the block's own workspace rows. Nothing here allocates array memory.
"""

from .activations import IDENTITY, activate
from .bundles import read_only
from .dropout import fill_mask
from .finite import all_finite
from .firewall import call_compiled
from .jit import internal
from .layout import (
    MAXOUT,
    STORED_BRANCH,
    STORED_INPUT,
    STORED_NONE,
    block_rows,
    coefs_of,
    intercepts_of,
)
from .products import add_input, input_on_tiles, input_times, times
from .tables import LazyFunction


@internal()
def layer_output(ws, layer, rows):
    """This block's rows of ``h_{l+1}``, the layer's output."""
    return block_rows(ws.outputs, layer.out_offset, layer.units, ws.capacity, rows.ws_row,
                      rows.n)


@internal()
def layer_stored(ws, layer, rows):
    """This block's rows of what the layer stores for its backward pass."""
    width = layer.units * layer.pieces if layer.stored == STORED_INPUT else layer.units
    return block_rows(ws.stored, layer.stored_offset, width, ws.capacity, rows.ws_row,
                      rows.n)


@internal()
def layer_mask(ws, layer, rows):
    """This block's rows of the layer's dropout mask."""
    return block_rows(ws.masks, layer.mask_offset, layer.units, ws.capacity, rows.ws_row,
                      rows.n)


@internal()
def layer_scratch(ws, rows):
    """This block's rows of the scratch space (flat)."""
    width = ws.scratch.shape[0] // ws.capacity
    return ws.scratch[rows.ws_row * width:(rows.ws_row + rows.n) * width]


@internal()
def max_of_pieces(z, pieces, n_rows, out):
    """``out[i, j] = max_k z[i, j * pieces + k]`` (the Maxout unit)."""
    units = out.shape[1]
    for i in range(n_rows):
        for j in range(units):
            best = z[i, j * pieces]
            for k in range(1, pieces):
                v = z[i, j * pieces + k]
                if v > best:
                    best = v
            out[i, j] = best


@internal()
def scale_into(source, mask, n_rows, out):
    """``out = source * mask`` on the first ``n_rows`` rows."""
    units = out.shape[1]
    for i in range(n_rows):
        for j in range(units):
            out[i, j] = source[i, j] * mask[i, j]


@internal()
def copy_rows(source, n_rows, out):
    """``out[:n_rows] = source[:n_rows]``, as a loop.

    A slice assignment would compile Numba's shape-mismatch error path, with
    its string formatting: seconds of first compilation for a plain copy.
    """
    units = out.shape[1]
    for i in range(n_rows):
        for j in range(units):
            out[i, j] = source[i, j]


@internal()
def add_into(source, n_rows, out):
    """``out += source`` on the first ``n_rows`` rows."""
    units = out.shape[1]
    for i in range(n_rows):
        for j in range(units):
            out[i, j] += source[i, j]


# Optional pieces of a layer (Maxout units, dropout, skip connections), called
# through pointers and compiled only for networks that use them (see ``tables``
# and ``prepare``): compiled into every forward and backward pass, they cost
# most of a second of an 11 s cold first fit.
MAX_OF_PIECES = LazyFunction(__name__, "MAX_OF_PIECES", max_of_pieces)
FILL_MASK = LazyFunction(__name__, "FILL_MASK", fill_mask)
SCALE_BY_MASK = LazyFunction(__name__, "SCALE_BY_MASK", scale_into)
ADD_INPUT = LazyFunction(__name__, "ADD_INPUT", add_input)
ADD_INTO = LazyFunction(__name__, "ADD_INTO", add_into)
call_max_of_pieces = MAX_OF_PIECES.call
call_fill_mask = FILL_MASK.call
call_scale_by_mask = SCALE_BY_MASK.call
call_add_input = ADD_INPUT.call
call_add_into = ADD_INTO.call


# One layer's forward pass is called through the compile firewall, by
# training (``forward_rows``) and prediction alike: one compiled copy per dtype
# serves both. ``forward_rows`` and ``backward_rows`` are inlined into
# ``gradient_rows`` as Numba IR (a level of their own measured slower to compile).
@internal()
def forward_layer(net, params, data, rows, ws, l, dropout_seed, check_input):
    """Run weight layer ``l`` on a block of rows (its input already computed).

    With ``check_input`` (the first layer, dense input), returns False without
    finishing the layer when the rows hold a NaN or an infinity; True
    otherwise. When the layer multiplies on the register tiles, the test reads
    its products ``z`` instead of the rows (a fraction of the memory): the
    tiles add every term in IEEE arithmetic, so a row holding a NaN or an
    infinity gives a product row that is not finite (``inf * 0`` is NaN). The
    converse fails only when finite values overflow; callers then test the
    input themselves. BLAS products are not trusted that way (reference BLAS
    skips zero terms), so the rows are tested before them.
    """
    layer = net.layers[l]
    n = rows.n
    out = layer_output(ws, layer, rows)
    z = out if layer.stored == STORED_NONE else layer_stored(ws, layer, rows)
    coefs = coefs_of(params, layer)
    check_products = False
    if l == 0:
        if check_input and not data.is_sparse:
            check_products = input_on_tiles(rows, coefs)
            if not check_products and not all_finite(rows.x.reshape(rows.x.size)):
                return False
        call_compiled(input_times, (data, rows, coefs, z))
    else:
        # Read-only, as the input layer's rows: one compiled ``times`` for both.
        call_compiled(times, (read_only(layer_output(ws, net.layers[l - 1], rows)), coefs, z))
    if check_products and not all_finite(z.reshape(z.shape[0] * z.shape[1])):
        return False

    # One call site, run-time flags: each literal argument would compile
    # another copy of ``activate``.
    is_maxout = layer.kind == MAXOUT
    reads_z = is_maxout or layer.stored == STORED_INPUT
    code = IDENTITY if is_maxout else layer.activation
    activate(code, z, intercepts_of(params, layer), n, reads_z,
             out if reads_z and not is_maxout else z, layer_scratch(ws, rows))
    if is_maxout:
        call_max_of_pieces((z, layer.pieces, n, out))

    # h = m * g (+ h_prev); g is in ``z`` for STORED_BRANCH, in ``out`` otherwise.
    if layer.dropout and dropout_seed >= 0:
        mask = layer_mask(ws, layer, rows)
        call_fill_mask((dropout_seed, net.dropout_rate,
                        rows.position * net.dropout_units + layer.unit_base, net.dropout_units,
                        mask))
        call_scale_by_mask((z if layer.stored == STORED_BRANCH else out, mask, n, out))
    elif layer.stored == STORED_BRANCH:
        copy_rows(z, n, out)
    if layer.residual:
        if l == 0:
            call_add_input((data, rows, out))
        else:
            call_add_into((layer_output(ws, net.layers[l - 1], rows), n, out))
    return True


@internal(inline="always")
def forward_rows(net, params, data, rows, ws, dropout_seed, check_input):
    """Forward pass of a block of rows; its outputs go to the last layer's block.

    Parameters
    ----------
    net : Network
    params : ndarray of shape (n_params,)
        The flat parameter buffer.
    data : Data
        The input (sparse rows are read in place).
    rows : Rows
        The block: its dense input rows or sample ids, workspace rows and
        position in the visiting order.
    ws : Workspace
        Receives every layer's output (and what the backward pass reads).
    dropout_seed : int
        The epoch's dropout seed; negative for no dropout (prediction).
    check_input : bool
        Test the block's dense input rows for NaN and infinity (see
        :func:`forward_layer`).

    Returns
    -------
    finite : bool
        False, with the pass unfinished, when ``check_input`` found a value
        that is not finite (or an overflowing product).
    """
    n_layers = net.layers.shape[0]
    for l in range(n_layers):
        if not call_compiled(forward_layer, (net, params, data, rows, ws, l, dropout_seed,
                                             check_input and l == 0)):
            return False
    return True
