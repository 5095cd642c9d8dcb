"""Loss, gradient and forward pass of the compiled kernels.

The kernels are driven through :class:`fastmlp._trainer.Trainer`
(``loss_and_gradient`` runs the backward pass over every row, ``predict`` the
chunked forward pass) and compared with

- the NumPy reference in ``naive.py``, to rounding error;
- central finite differences of the kernel's own loss, to a relative 1e-6;

for every hidden activation, every output activation/loss pair, one and two
hidden layers, with and without the L2 penalty and sample weights. The
reference itself is checked against finite differences and against
scikit-learn's ``_backprop``.
"""

import itertools

import numpy as np
import pytest
from numpy.testing import assert_allclose
from sklearn.neural_network import MLPClassifier as SkMLPClassifier
from sklearn.neural_network import MLPRegressor as SkMLPRegressor

import naive
from fastmlp._config import FULL_BATCH_BLOCK_ROWS, PREDICT_CHUNK_ROWS
from fastmlp._trainer import Trainer

SKLEARN_ACTIVATIONS = ["identity", "logistic", "tanh", "relu"]
HIDDEN_ACTIVATIONS = SKLEARN_ACTIVATIONS + ["leaky_relu", "elu", "swish", "gelu", "softplus"]

# Output kind: (output activation, loss, number of outputs).
OUTPUTS = {
    "binary": ("logistic", "binary_log_loss", 1),
    "multilabel": ("logistic", "binary_log_loss", 3),
    "multiclass": ("softmax", "log_loss", 3),
    # One output only: scikit-learn's multi-output squared-error gradient is
    # n_outputs times the gradient of its loss, so finite differences disagree.
    "squared_error": ("identity", "squared_error", 1),
    "poisson": ("exp", "poisson", 2),
}

HIDDEN_SIZES = [(5,), (5, 4)]
N_FEATURES = 6
# Keeps relu pre-activations this far from the kink, far beyond what a
# finite-difference step can move them.
KINK_MARGIN = 1e-3


def make_targets(kind, n_samples, rng):
    n_outputs = OUTPUTS[kind][2]
    if kind in ("binary", "multilabel"):
        return rng.randint(0, 2, (n_samples, n_outputs)).astype(float)
    if kind == "multiclass":
        return np.eye(n_outputs)[rng.randint(0, n_outputs, n_samples)]
    if kind == "poisson":
        return rng.poisson(1.5, (n_samples, n_outputs)).astype(float)
    return rng.normal(size=(n_samples, n_outputs))


def make_problem(kind, hidden_activation, hidden_sizes, weighted, n_samples=20, seed=0):
    """Data, targets, flat parameters and weights of one small network.

    For relu, parameters are redrawn until every hidden pre-activation is at
    least ``KINK_MARGIN`` away from zero.
    """
    rng = np.random.RandomState(seed)
    layer_units = [N_FEATURES, *hidden_sizes, OUTPUTS[kind][2]]
    X = rng.normal(size=(n_samples, N_FEATURES))
    Y = make_targets(kind, n_samples, rng)
    n_params = sum(a * b + b for a, b in zip(layer_units[:-1], layer_units[1:]))
    for _ in range(100):
        params = rng.uniform(-0.8, 0.8, n_params)
        coefs, intercepts = naive.unpack(params, layer_units)
        zs = naive.pre_activations(X, coefs, intercepts, hidden_activation)
        if (hidden_activation not in ("relu", "leaky_relu", "elu")
                or min(np.abs(z).min() for z in zs) > KINK_MARGIN):
            break
    else:
        raise RuntimeError("no parameters away from relu's kink")
    sample_weight = None
    if weighted:
        sample_weight = rng.uniform(0.2, 3.0, n_samples)
        sample_weight[3] = 0.0
    return layer_units, X, Y, params, sample_weight


def new_trainer(kind, hidden_activation, layer_units, dtype=np.float64):
    output_activation, loss, _ = OUTPUTS[kind]
    return Trainer(layer_units, dtype, hidden_activation, output_activation, loss)


def naive_loss_and_gradient(kind, hidden_activation, layer_units, X, Y, params, alpha,
                            sample_weight):
    output_activation, loss, _ = OUTPUTS[kind]
    coefs, intercepts = naive.unpack(params, layer_units)
    value, coef_grads, intercept_grads = naive.loss_and_gradient(
        X, Y, coefs, intercepts, hidden_activation, output_activation, loss, alpha,
        sample_weight,
    )
    return value, naive.pack(coef_grads, intercept_grads)


def central_differences(loss, params, step=1e-6):
    grad = np.empty_like(params)
    for i in range(params.shape[0]):
        shift = np.zeros_like(params)
        shift[i] = step
        grad[i] = (loss(params + shift) - loss(params - shift)) / (2 * step)
    return grad


def assert_gradient_close(grad, expected, rtol):
    # Relative to the gradient's scale: entries near zero carry absolute error.
    assert_allclose(grad, expected, rtol=rtol, atol=rtol * np.abs(expected).max())


def case_id(value):
    if isinstance(value, tuple):
        return "x".join(map(str, value))
    if isinstance(value, bool):
        return "weighted" if value else "unweighted"
    if isinstance(value, float):
        return f"alpha={value}"
    return str(value)


network_cases = pytest.mark.parametrize(
    "kind, hidden_activation, hidden_sizes, alpha, weighted",
    list(itertools.product(OUTPUTS, HIDDEN_ACTIVATIONS, HIDDEN_SIZES, [0.0, 0.3],
                           [False, True])),
    ids=case_id,
)


@network_cases
def test_loss_and_gradient_match_naive(kind, hidden_activation, hidden_sizes, alpha,
                                       weighted):
    layer_units, X, Y, params, sample_weight = make_problem(
        kind, hidden_activation, hidden_sizes, weighted
    )
    trainer = new_trainer(kind, hidden_activation, layer_units)
    loss, grad = trainer.loss_and_gradient(params, X, Y, sample_weight, alpha)
    expected_loss, expected_grad = naive_loss_and_gradient(
        kind, hidden_activation, layer_units, X, Y, params, alpha, sample_weight
    )
    assert_allclose(loss, expected_loss, rtol=1e-12)
    assert_gradient_close(grad, expected_grad, rtol=1e-11)


@pytest.mark.parametrize(
    "kind, hidden_activation, hidden_sizes, alpha, weighted",
    [(*case, alpha, weighted)
     for case in itertools.product(OUTPUTS, HIDDEN_ACTIVATIONS, HIDDEN_SIZES)
     for alpha, weighted in [(0.0, False), (0.3, True)]],
    ids=case_id,
)
def test_gradient_matches_finite_differences(kind, hidden_activation, hidden_sizes,
                                             alpha, weighted):
    layer_units, X, Y, params, sample_weight = make_problem(
        kind, hidden_activation, hidden_sizes, weighted
    )
    trainer = new_trainer(kind, hidden_activation, layer_units)
    _, grad = trainer.loss_and_gradient(params.copy(), X, Y, sample_weight, alpha)
    grad = grad.copy()

    def kernel_loss(p):
        return trainer.loss_and_gradient(p, X, Y, sample_weight, alpha)[0]

    assert_gradient_close(grad, central_differences(kernel_loss, params), rtol=1e-6)


@pytest.mark.parametrize("kind", OUTPUTS)
@pytest.mark.parametrize("hidden_activation", HIDDEN_ACTIVATIONS)
def test_naive_gradient_matches_finite_differences(kind, hidden_activation):
    """The reference's gradient is the gradient of its own loss."""
    alpha = 0.3
    layer_units, X, Y, params, sample_weight = make_problem(
        kind, hidden_activation, (5, 4), weighted=True
    )

    def naive_loss(p):
        return naive_loss_and_gradient(
            kind, hidden_activation, layer_units, X, Y, p, alpha, sample_weight
        )[0]

    _, naive_grad = naive_loss_and_gradient(
        kind, hidden_activation, layer_units, X, Y, params, alpha, sample_weight
    )
    assert_gradient_close(naive_grad, central_differences(naive_loss, params), rtol=1e-6)


@pytest.mark.parametrize("kind", OUTPUTS)
@pytest.mark.parametrize("hidden_activation", SKLEARN_ACTIVATIONS)
@pytest.mark.parametrize("weighted", [False, True])
def test_naive_matches_sklearn_backprop(kind, hidden_activation, weighted):
    """The reference computes exactly what scikit-learn's ``_backprop`` computes."""
    hidden_sizes, alpha = (5, 4), 0.3
    layer_units, X, Y, params, sample_weight = make_problem(
        kind, hidden_activation, hidden_sizes, weighted
    )
    output_activation, loss, _ = OUTPUTS[kind]
    if loss in ("squared_error", "poisson"):
        est = SkMLPRegressor(activation=hidden_activation, alpha=alpha, loss=loss)
    else:
        est = SkMLPClassifier(activation=hidden_activation, alpha=alpha)
    coefs, intercepts = naive.unpack(params.copy(), layer_units)
    est.coefs_, est.intercepts_ = coefs, intercepts
    est.n_layers_ = len(layer_units)
    est.out_activation_ = output_activation
    n = len(layer_units) - 1
    sk_loss, sk_coef_grads, sk_intercept_grads = est._backprop(
        X, Y, sample_weight, [X] + [None] * n, [None] * n, [None] * n, [None] * n
    )
    expected_loss, expected_grad = naive_loss_and_gradient(
        kind, hidden_activation, layer_units, X, Y, params, alpha, sample_weight
    )
    assert_allclose(sk_loss, expected_loss, rtol=1e-13)
    assert_gradient_close(naive.pack(sk_coef_grads, sk_intercept_grads), expected_grad,
                          rtol=1e-13)


def test_workspace_reuse_across_row_counts():
    """One trainer evaluated on row blocks of changing size stays exact."""
    layer_units, X, Y, params, sample_weight = make_problem(
        "multiclass", "tanh", (5, 4), weighted=True, n_samples=30
    )
    trainer = new_trainer("multiclass", "tanh", layer_units)
    for stop in [30, 7, 30, 1, 12]:
        rows = slice(0, stop)
        x, y, w = X[rows].copy(), Y[rows].copy(), sample_weight[rows].copy()
        w[0] = 1.0  # a single row must not have zero total weight
        loss, grad = trainer.loss_and_gradient(params, x, y, w, 0.1)
        expected_loss, expected_grad = naive_loss_and_gradient(
            "multiclass", "tanh", layer_units, x, y, params, 0.1, w
        )
        assert_allclose(loss, expected_loss, rtol=1e-12)
        assert_gradient_close(grad, expected_grad, rtol=1e-11)


@pytest.mark.parametrize("weighted", [False, True])
def test_loss_and_gradient_over_many_rows(numba_threads, weighted):
    """More rows than one workspace block holds: each thread walks several pieces."""
    n_samples = 2 * FULL_BATCH_BLOCK_ROWS * numba_threads + 11
    rng = np.random.RandomState(2)
    layer_units = [3, 4, 3]
    X = rng.normal(size=(n_samples, 3))
    Y = make_targets("multiclass", n_samples, rng)
    n_params = sum(a * b + b for a, b in zip(layer_units, layer_units[1:]))
    params = rng.uniform(-1, 1, n_params)
    sample_weight = rng.uniform(0, 2, n_samples) if weighted else None
    trainer = new_trainer("multiclass", "tanh", layer_units)
    loss, grad = trainer.loss_and_gradient(params, X, Y, sample_weight, 0.1)
    expected_loss, expected_grad = naive_loss_and_gradient(
        "multiclass", "tanh", layer_units, X, Y, params, 0.1, sample_weight
    )
    assert_allclose(loss, expected_loss, rtol=1e-11)
    assert_gradient_close(grad, expected_grad, rtol=1e-10)


@pytest.mark.parametrize("kind", ["binary", "multiclass"])
def test_float32_loss_and_gradient_close_to_float64_reference(kind):
    layer_units, X, Y, params, sample_weight = make_problem(
        kind, "tanh", (5,), weighted=True
    )
    trainer = new_trainer(kind, "tanh", layer_units, dtype=np.float32)
    loss, grad = trainer.loss_and_gradient(
        params.astype(np.float32), X.astype(np.float32), Y.astype(np.float32),
        sample_weight.astype(np.float32), 0.3,
    )
    assert grad.dtype == np.float32
    expected_loss, expected_grad = naive_loss_and_gradient(
        kind, "tanh", layer_units, X, Y, params, 0.3, sample_weight
    )
    assert_allclose(loss, expected_loss, rtol=1e-5)
    assert_gradient_close(grad, expected_grad, rtol=1e-4)


def test_parameter_views_follow_sklearn_pack_layout():
    layer_units = [N_FEATURES, 5, 4, 3]
    trainer = new_trainer("multiclass", "relu", layer_units)
    trainer.params[:] = np.arange(trainer.n_params)
    coefs, intercepts = trainer.coefs(), trainer.intercepts()
    assert [c.shape for c in coefs] == [(6, 5), (5, 4), (4, 3)]
    assert [b.shape for b in intercepts] == [(5,), (4,), (3,)]
    assert_allclose(naive.pack(coefs, intercepts), trainer.params, rtol=0)
    assert all(np.shares_memory(a, trainer.params) for a in coefs + intercepts)


@pytest.mark.parametrize("kind", ["binary", "multiclass", "squared_error", "poisson"])
@pytest.mark.parametrize("hidden_activation", HIDDEN_ACTIVATIONS)
@pytest.mark.parametrize("hidden_sizes", [(4,), (4, 3)], ids=case_id)
def test_predict_matches_naive_forward_across_chunks(numba_threads, kind,
                                                     hidden_activation, hidden_sizes):
    # More rows than one prediction chunk, with a ragged last chunk.
    n_samples = 2 * PREDICT_CHUNK_ROWS + 37
    rng = np.random.RandomState(1)
    n_features = 3
    output_activation, _, n_outputs = OUTPUTS[kind]
    layer_units = [n_features, *hidden_sizes, n_outputs]
    trainer = new_trainer(kind, hidden_activation, layer_units)
    trainer.params[:] = rng.uniform(-1, 1, trainer.n_params)
    X = rng.normal(size=(n_samples, n_features))

    y_pred = trainer.predict(X)

    expected = naive.forward(X, trainer.coefs(), trainer.intercepts(), hidden_activation,
                             output_activation)[-1]
    assert y_pred.shape == (n_samples, n_outputs)
    assert_allclose(y_pred, expected, rtol=1e-12, atol=1e-15)
