"""The layer description (``fastmlp/_kernels/layout.py``): records and offsets."""

import numpy as np
import pytest

from fastmlp._kernels.activations import CODES
from fastmlp._kernels.layout import (
    DENSE,
    MAXOUT,
    STORED_BRANCH,
    STORED_INPUT,
    STORED_NONE,
    LayerSpec,
    build_layout,
)


def dense(units, activation="relu", residual=False, dropout=False):
    return LayerSpec(DENSE, activation, units, 1, residual, dropout)


def maxout(units, pieces, residual=False, dropout=False):
    return LayerSpec(MAXOUT, "maxout", units, pieces, residual, dropout)


def test_parameters_follow_sklearn_pack_order():
    layout = build_layout(6, [dense(5), maxout(4, 3), dense(3, "softmax")])
    layers = layout.layers
    columns = [5, 12, 3]
    fan_in = [6, 5, 4]
    assert list(layers["fan_in"]) == fan_in
    assert list(layers["units"] * layers["pieces"]) == columns
    sizes = [a * b for a, b in zip(fan_in, columns)]
    assert list(layers["coef_offset"]) == [0, sizes[0], sizes[0] + sizes[1]]
    assert layout.n_coefs == sum(sizes)
    assert list(layers["intercept_offset"]) == [sum(sizes), sum(sizes) + 5, sum(sizes) + 17]
    assert layout.n_params == sum(sizes) + sum(columns)
    assert layout.row_macs == sum(sizes)


def test_activation_codes_and_kinds():
    layers = build_layout(4, [dense(4, "tanh"), maxout(3, 2), dense(2, "identity")]).layers
    assert list(layers["kind"]) == [DENSE, MAXOUT, DENSE]
    assert layers["activation"][0] == CODES["tanh"]
    assert layers["activation"][2] == CODES["identity"]


@pytest.mark.parametrize("fan_in, units, expected", [(4, 4, True), (4, 5, False)])
def test_residual_only_between_equal_widths(fan_in, units, expected):
    layers = build_layout(fan_in, [dense(units, residual=True), dense(1, "identity")]).layers
    assert bool(layers["residual"][0]) is expected
    assert not layers["residual"][1]


def test_what_each_layer_stores():
    layout = build_layout(4, [
        dense(4, "relu"),                              # reads its own output
        dense(4, "gelu"),                              # reads z
        dense(4, "tanh", residual=True),               # output is not f(z): keeps g
        dense(4, "relu", dropout=True),                # likewise
        maxout(4, 3),                                  # reads z, all pieces
        dense(2, "softmax"),
    ])
    layers = layout.layers
    assert list(layers["stored"]) == [STORED_NONE, STORED_INPUT, STORED_BRANCH,
                                      STORED_BRANCH, STORED_INPUT, STORED_NONE]
    assert list(layers["stored_offset"]) == [-1, 0, 4, 8, 12, -1]
    assert layout.stored_width == 4 + 4 + 4 + 12


def test_workspace_blocks_are_disjoint_and_sized():
    specs = [maxout(5, 2, dropout=True), dense(5, "tanh", residual=True, dropout=True),
             dense(3, "softmax")]
    layout = build_layout(6, specs)
    layers = layout.layers
    assert list(layers["out_offset"]) == [0, 5, 10] and layout.outputs_width == 13
    assert list(layers["mask_offset"]) == [0, 5, -1] and layout.masks_width == 10
    assert list(layers["unit_base"][:2]) == [0, 5] and layout.dropout_units == 10
    # Maxout and residual layers keep the error at z apart from the error at
    # their output; the others overwrite it in place.
    spans = []
    for record in layers:
        width_z = record["units"] * record["pieces"]
        spans.append((record["delta_offset"], record["units"]))
        if record["delta_z_offset"] != record["delta_offset"]:
            spans.append((record["delta_z_offset"], width_z))
    assert layers["delta_z_offset"][2] == layers["delta_offset"][2]
    assert len(spans) == 5
    ends = sorted(spans)
    for (start, width), (next_start, _) in zip(ends, ends[1:]):
        assert start + width <= next_start
    assert ends[-1][0] + ends[-1][1] == layout.deltas_width
