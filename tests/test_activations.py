"""The activation table (``fastmlp/_kernels/activations.py``).

Every row's compiled forward and backward formulas are checked against the
NumPy reference in ``naive.py`` (written from the textbook formulas, as
functions of ``z``), in float64 and float32, through the same entry points the
kernels use (``activate`` and ``backpropagate``).
"""

import numpy as np
import pytest
from numpy.testing import assert_allclose

import naive
from fastmlp._base import HIDDEN_ACTIVATIONS as ESTIMATOR_ACTIVATIONS
from fastmlp._kernels.activations import (
    ACTIVATIONS,
    CODES,
    HIDDEN_ACTIVATIONS,
    INPUT,
    OUTPUT,
    activate,
    backpropagate,
    backward_reads_input,
)

Z = np.concatenate([np.linspace(-8, 8, 161), [-30.0, -1e-3, 1e-3, 30.0]]).reshape(15, 11)
BIAS = np.linspace(-0.5, 0.5, 11)


def test_codes_are_row_numbers_and_names_unique():
    assert [CODES[a.name] for a in ACTIVATIONS] == list(range(len(ACTIVATIONS)))
    assert len(CODES) == len(ACTIVATIONS)


def test_every_row_has_a_reference():
    for activation in ACTIVATIONS:
        assert activation.name in naive.ACTIVATIONS
        if activation.hidden:
            assert activation.name in naive.DERIVATIVES


def test_estimators_accept_every_hidden_row_and_maxout():
    assert set(ESTIMATOR_ACTIVATIONS) == set(HIDDEN_ACTIVATIONS) | {"maxout"}
    assert "softmax" not in HIDDEN_ACTIVATIONS and "exp" not in HIDDEN_ACTIVATIONS


def test_backward_reads_what_the_table_says():
    assert {a.name for a in ACTIVATIONS if a.derivative_of == INPUT} == {"swish", "gelu"}
    assert all(a.derivative_of in (INPUT, OUTPUT) for a in ACTIVATIONS)
    assert backward_reads_input("gelu") and not backward_reads_input("tanh")


@pytest.mark.parametrize("name", [a.name for a in ACTIVATIONS])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("keep_z", [False, True])
def test_forward_matches_reference(name, dtype, keep_z):
    z = Z.astype(dtype)
    out = np.empty_like(z)
    activate(CODES[name], z, BIAS.astype(dtype), z.shape[0], keep_z, out)
    expected = naive.ACTIVATIONS[name](Z + BIAS)
    rtol = 1e-13 if dtype == np.float64 else 2e-6
    assert_allclose(out, expected, rtol=rtol, atol=rtol)
    if keep_z:
        assert_allclose(z, Z.astype(dtype) + BIAS.astype(dtype), rtol=0)


def test_forward_leaves_rows_past_n_rows_alone():
    z = Z.copy()
    out = np.full_like(z, 7.0)
    activate(CODES["tanh"], z, BIAS, 4, False, out)
    assert (out[4:] == 7.0).all() and not (out[:4] == 7.0).any()


@pytest.mark.parametrize("name", HIDDEN_ACTIVATIONS)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_backward_matches_reference_derivative(name, dtype):
    z = (Z + BIAS).astype(dtype)
    delta = np.random.RandomState(0).normal(size=z.shape).astype(dtype)
    a = naive.ACTIVATIONS[name](z.astype(np.float64)).astype(dtype)
    stored = z if backward_reads_input(name) else a
    out = np.empty_like(z)
    backpropagate(CODES[name], delta, stored, z.shape[0], out)
    expected = delta * naive.DERIVATIVES[name](z.astype(np.float64))
    rtol = 1e-12 if dtype == np.float64 else 1e-5
    # Kinks at z = 0 are not sampled; derivatives written through ``a`` lose
    # relative accuracy where ``a`` saturates, hence the absolute term.
    assert_allclose(out, expected, rtol=rtol, atol=rtol * 10)


@pytest.mark.parametrize("name", HIDDEN_ACTIVATIONS)
def test_backward_in_place(name):
    z = Z + BIAS
    delta = np.random.RandomState(1).normal(size=z.shape)
    stored = z if backward_reads_input(name) else naive.ACTIVATIONS[name](z)
    expected = np.empty_like(delta)
    backpropagate(CODES[name], delta, stored, z.shape[0], expected)
    backpropagate(CODES[name], delta, stored, z.shape[0], delta)
    assert_allclose(delta, expected, rtol=0)
