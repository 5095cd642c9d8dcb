"""The activation table (``fastmlp/_kernels/activations.py``).

Every row's compiled forward and backward formulas (the vector block forms
where a row has them) are checked against the
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
    prepare,
)
from shims import from_python

Z = np.concatenate([np.linspace(-8, 8, 161), [-30.0, -1e-3, 1e-3, 30.0]]).reshape(15, 11)
BIAS = np.linspace(-0.5, 0.5, 11)


@pytest.fixture(autouse=True, scope="module")
def every_activation_prepared():
    """The kernels reach activations through a table the trainer fills; here, all rows."""
    prepare(CODES.values())


def scratch(z):
    """Scratch space of the block forms, filled with garbage they must not read."""
    return np.full(2 * z.size, np.nan, dtype=z.dtype)


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
    from_python(activate)(CODES[name], z, BIAS.astype(dtype), z.shape[0], keep_z, out, scratch(z))
    expected = naive.ACTIVATIONS[name](Z + BIAS)
    rtol = 1e-13 if dtype == np.float64 else 2e-6
    assert_allclose(out, expected, rtol=rtol, atol=rtol)
    if keep_z:
        assert_allclose(z, Z.astype(dtype) + BIAS.astype(dtype), rtol=0)


@pytest.mark.parametrize("name", [a.name for a in ACTIVATIONS])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_forward_in_place(name, dtype):
    # The kernels pass ``out`` as ``z`` itself; the block forms then take a
    # loop of their own (see ``activations.same_memory``), which must give
    # the same bits, and leave rows past ``n_rows`` alone.
    z = Z.astype(dtype)
    bias = BIAS.astype(dtype)
    expected = np.empty_like(z)
    from_python(activate)(CODES[name], z.copy(), bias, 4, False, expected, scratch(z))
    in_place = z.copy()
    from_python(activate)(CODES[name], in_place, bias, 4, False, in_place, scratch(z))
    np.testing.assert_array_equal(in_place[:4], expected[:4])
    np.testing.assert_array_equal(in_place[4:], z[4:])


@pytest.mark.parametrize("name", [a.name for a in ACTIVATIONS])
def test_forward_leaves_rows_past_n_rows_alone(name):
    z = Z.copy()
    out = np.full_like(z, 7.0)
    from_python(activate)(CODES[name], z, BIAS, 4, False, out, scratch(z))
    assert (out[4:] == 7.0).all() and not (out[:4] == 7.0).any()


@pytest.mark.parametrize("name", HIDDEN_ACTIVATIONS)
def test_backward_leaves_rows_past_n_rows_alone(name):
    z = Z + BIAS
    stored = z if backward_reads_input(name) else naive.ACTIVATIONS[name](z)
    out = np.full_like(z, 7.0)
    from_python(backpropagate)(CODES[name], np.ones_like(z), stored, 4, out, scratch(z))
    assert (out[4:] == 7.0).all()


@pytest.mark.parametrize("name", HIDDEN_ACTIVATIONS)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_backward_matches_reference_derivative(name, dtype):
    z = (Z + BIAS).astype(dtype)
    delta = np.random.RandomState(0).normal(size=z.shape).astype(dtype)
    a = naive.ACTIVATIONS[name](z.astype(np.float64)).astype(dtype)
    stored = z if backward_reads_input(name) else a
    out = np.empty_like(z)
    from_python(backpropagate)(CODES[name], delta, stored, z.shape[0], out, scratch(z))
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
    from_python(backpropagate)(CODES[name], delta, stored, z.shape[0], expected, scratch(z))
    from_python(backpropagate)(CODES[name], delta, stored, z.shape[0], delta, scratch(z))
    assert_allclose(delta, expected, rtol=0)


@pytest.mark.parametrize("name", ["tanh", "logistic", "elu", "softplus", "swish", "gelu",
                                  "softmax"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_a_row_gives_the_same_bits_in_any_block(name, dtype):
    # The vector functions run over a block's values laid end to end; a row
    # must not get other bits when it falls in the block's last, partial
    # vector (predictions on a subset of rows would change in the last digit).
    rng = np.random.default_rng(5)
    z = rng.uniform(-6, 6, (9, 3)).astype(dtype)
    bias = np.zeros(3, dtype)
    full = np.empty_like(z)
    from_python(activate)(CODES[name], z.copy(), bias, 9, False, full, scratch(z))
    for first in range(1, 9):
        part = np.empty_like(z[first:])
        from_python(activate)(CODES[name], z[first:].copy(), bias, 9 - first, False, part,
                              scratch(z[first:]))
        np.testing.assert_array_equal(part, full[first:])


def test_scalar_fallback_without_libmvec(tmp_path):
    """Where libmvec is missing, the block forms run libm's scalar functions."""
    import os
    import subprocess
    import sys

    script = """
import numpy as np, sys
sys.path.insert(0, "tests")
import naive
from shims import from_python
from fastmlp._kernels import vector_math
from fastmlp._kernels.activations import CODES, activate, backpropagate, prepare
assert vector_math.ISA is None
prepare(CODES.values())
z = np.linspace(-6, 6, 7 * 13).reshape(7, 13)
bias = np.zeros(13)
for name in ("tanh", "logistic", "elu", "softplus", "swish", "gelu"):
    out = np.empty_like(z)
    from_python(activate)(CODES[name], z.copy(), bias, 7, False, out, np.empty(2 * z.size))
    assert np.allclose(out, naive.ACTIVATIONS[name](z), rtol=1e-13, atol=1e-15), name
    d = np.empty_like(z)
    stored = z if name in ("swish", "gelu") else naive.ACTIVATIONS[name](z)
    from_python(backpropagate)(CODES[name], np.ones_like(z), stored, 7, d, np.empty(2 * z.size))
    assert np.allclose(d, naive.DERIVATIVES[name](z), rtol=1e-12, atol=1e-12), name
print("ok")
"""
    env = dict(os.environ, FASTMLP_NO_LIBMVEC="1", NUMBA_CACHE_DIR=str(tmp_path))
    result = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True,
                            text=True, cwd=os.path.dirname(os.path.dirname(__file__)))
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip() == "ok"
