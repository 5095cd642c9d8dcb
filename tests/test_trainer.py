"""The trainer: loss, gradient, epoch and forward pass of the compiled kernels.

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
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.neural_network import MLPClassifier as SkMLPClassifier
from sklearn.neural_network import MLPRegressor as SkMLPRegressor

import naive
from fastmlp._config import (
    FULL_BATCH_BLOCK_ROWS,
    MIN_FLOPS_PER_BLOCK,
    PREDICT_CHUNK_BYTES,
    PREDICT_CHUNK_ROWS,
    PREDICT_CHUNKS_PER_WORKER,
    PREDICT_MIN_CHUNK_ROWS,
)
from fastmlp._kernels.activations import HIDDEN_ACTIVATIONS as TABLE_HIDDEN_ACTIVATIONS
from fastmlp._kernels.layout import DENSE, MAXOUT, LayerSpec
from fastmlp._trainer import Trainer
from shims import from_python

SKLEARN_ACTIVATIONS = ["identity", "logistic", "tanh", "relu"]
# Every hidden activation of the kernels' table (a new row is tested here as is).
HIDDEN_ACTIVATIONS = list(TABLE_HIDDEN_ACTIVATIONS)
# Those whose derivative jumps at 0: test points keep away from the kink.
KINKED = [name for name in HIDDEN_ACTIVATIONS
          if abs(np.diff(naive.DERIVATIVES[name](np.array([-1e-9, 1e-9])))[0]) > 1e-6]

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
        if (hidden_activation not in KINKED
                or min(np.abs(z).min() for z in zs) > KINK_MARGIN):
            break
    else:
        raise RuntimeError("no parameters away from relu's kink")
    sample_weight = None
    if weighted:
        sample_weight = rng.uniform(0.2, 3.0, n_samples)
        sample_weight[3] = 0.0
    return layer_units, X, Y, params, sample_weight


def layer_specs(kind, hidden_activation, hidden_sizes, residual=False, pieces=2,
                dropout=False):
    """LayerSpecs of a network as the estimators build them."""
    specs = []
    for name, units in zip(naive.hidden_names(hidden_activation, len(hidden_sizes)),
                           hidden_sizes):
        is_maxout = name == "maxout"
        specs.append(LayerSpec(MAXOUT if is_maxout else DENSE, name, units,
                               pieces if is_maxout else 1, residual, dropout))
    output_activation, _, n_outputs = OUTPUTS[kind]
    specs.append(LayerSpec(DENSE, output_activation, n_outputs, 1, False, False))
    return specs


def new_trainer(kind, hidden_activation, layer_units, dtype=np.float64, residual=False,
                pieces=2, dropout_rate=0.0):
    _, loss, _ = OUTPUTS[kind]
    specs = layer_specs(kind, hidden_activation, layer_units[1:-1], residual, pieces,
                        dropout_rate > 0)
    return Trainer(layer_units[0], specs, dtype, loss, dropout_rate=dropout_rate)


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


# ------------------------------------------------- residual, Maxout, dropout, lists
#
# Each case: (hidden activation(s), hidden sizes, residual, pieces, dropout rate).
# N_FEATURES = 6, so a first hidden layer of 6 units has a skip from the input.

LAYER_CASES = {
    "residual-6x6": ("tanh", (6, 6), True, 2, 0.0),
    "residual-mixed-widths": ("relu", (5, 5, 4), True, 2, 0.0),
    "maxout-2": ("maxout", (5, 4), False, 2, 0.0),
    "maxout-3": ("maxout", (4,), False, 3, 0.0),
    "list": (["tanh", "relu", "gelu"], (5, 4, 4), False, 2, 0.0),
    "list-maxout": (["maxout", "logistic"], (5, 4), False, 2, 0.0),
    "dropout": ("tanh", (5, 4), False, 2, 0.3),
    "dropout-swish": ("swish", (5,), False, 2, 0.5),
    "everything": (["maxout", "relu", "softplus"], (6, 6, 6), True, 3, 0.25),
}
DROPOUT_SEED = 12345


def away_from_kinks(zs, names, pieces):
    """Whether every relu-like pre-activation and every Maxout runner-up is at
    least KINK_MARGIN from where the derivative jumps."""
    for z, name in zip(zs, names):
        if name in KINKED and np.abs(z).min() <= KINK_MARGIN:
            return False
        if name == "maxout":
            top = np.sort(z.reshape(z.shape[0], -1, pieces), axis=2)
            if (top[:, :, -1] - top[:, :, -2]).min() <= KINK_MARGIN:
                return False
    return True


def make_layer_problem(case, kind="multiclass", weighted=False, n_samples=20, seed=0):
    """Data, parameters and (for dropout) the masks of one LAYER_CASES network.

    Small problems (gradient checks) get parameters away from every kink.
    """
    names, hidden_sizes, residual, pieces, rate = LAYER_CASES[case]
    rng = np.random.RandomState(seed)
    names = naive.hidden_names(names, len(hidden_sizes))
    n_outputs = OUTPUTS[kind][2]
    layer_units = [N_FEATURES, *hidden_sizes, n_outputs]
    widths = [u * pieces if n == "maxout" else u for n, u in zip(names, hidden_sizes)]
    widths.append(n_outputs)
    X = rng.normal(size=(n_samples, N_FEATURES))
    Y = make_targets(kind, n_samples, rng)
    n_params = sum(a * b + b for a, b in zip(layer_units[:-1], widths))
    for _ in range(200):
        params = rng.uniform(-0.8, 0.8, n_params)
        coefs, intercepts = naive.unpack(params, layer_units, widths)
        zs = naive.pre_activations(X, coefs, intercepts, names, residual, pieces)
        if n_samples > 100 or away_from_kinks(zs, names, pieces):
            break
    else:
        raise RuntimeError("no parameters away from the kinks")
    masks = None
    if rate > 0:
        masks = naive.dropout_masks(DROPOUT_SEED, rate, np.arange(n_samples),
                                    list(hidden_sizes))
    sample_weight = rng.uniform(0.2, 3.0, n_samples) if weighted else None
    trainer = new_trainer(kind, names, layer_units, residual=residual, pieces=pieces,
                          dropout_rate=rate)
    seed_arg = DROPOUT_SEED if rate > 0 else -1
    return dict(names=names, layer_units=layer_units, widths=widths, X=X, Y=Y,
                params=params, masks=masks, sample_weight=sample_weight, trainer=trainer,
                residual=residual, pieces=pieces, seed=seed_arg, kind=kind)


def naive_layer_loss_and_gradient(problem, params, alpha, masks=None):
    output_activation, loss, _ = OUTPUTS[problem["kind"]]
    coefs, intercepts = naive.unpack(params, problem["layer_units"], problem["widths"])
    value, coef_grads, intercept_grads = naive.loss_and_gradient(
        problem["X"], problem["Y"], coefs, intercepts, problem["names"], output_activation,
        loss, alpha, problem["sample_weight"], problem["residual"], problem["pieces"],
        masks)
    return value, naive.pack(coef_grads, intercept_grads)


@pytest.mark.parametrize("case", LAYER_CASES)
@pytest.mark.parametrize("kind", ["multiclass", "squared_error"])
@pytest.mark.parametrize("alpha, weighted", [(0.0, False), (0.3, True)], ids=case_id)
def test_layer_kinds_gradient_matches_naive(case, kind, alpha, weighted):
    problem = make_layer_problem(case, kind, weighted)
    trainer = problem["trainer"]
    loss, grad = trainer.loss_and_gradient(problem["params"], problem["X"], problem["Y"],
                                           problem["sample_weight"], alpha,
                                           dropout_seed=problem["seed"])
    expected_loss, expected_grad = naive_layer_loss_and_gradient(
        problem, problem["params"], alpha, problem["masks"])
    assert_allclose(loss, expected_loss, rtol=1e-12)
    assert_gradient_close(grad, expected_grad, rtol=1e-11)


@pytest.mark.parametrize("case", LAYER_CASES)
def test_layer_kinds_gradient_matches_finite_differences(case):
    """With dropout, the seed fixes every row's mask, so the loss is smooth."""
    problem = make_layer_problem(case, "multiclass", weighted=True)
    trainer, alpha = problem["trainer"], 0.3
    args = (problem["X"], problem["Y"], problem["sample_weight"], alpha)
    _, grad = trainer.loss_and_gradient(problem["params"].copy(), *args,
                                        dropout_seed=problem["seed"])
    grad = grad.copy()

    def kernel_loss(p):
        return trainer.loss_and_gradient(p, *args, dropout_seed=problem["seed"])[0]

    assert_gradient_close(grad, central_differences(kernel_loss, problem["params"]),
                          rtol=1e-6)


@pytest.mark.parametrize("case", LAYER_CASES)
def test_naive_layer_gradient_matches_finite_differences(case):
    """The reference's gradient of the new layer kinds is its loss's gradient."""
    problem = make_layer_problem(case, "multiclass", weighted=True)

    def naive_loss(p):
        return naive_layer_loss_and_gradient(problem, p, 0.3, problem["masks"])[0]

    _, naive_grad = naive_layer_loss_and_gradient(problem, problem["params"], 0.3,
                                                  problem["masks"])
    assert_gradient_close(naive_grad, central_differences(naive_loss, problem["params"]),
                          rtol=1e-6)


def plain_forward(X, coefs, intercepts, names, residual, pieces, output_activation):
    """The forward pass written straight from the parameters' documented formulas."""
    h = X
    for coef, intercept, name in zip(coefs[:-1], intercepts[:-1], names):
        z = h @ coef + intercept
        if name == "maxout":
            # Unit j is the largest of columns j * pieces + k.
            g = np.stack([z[:, j * pieces:(j + 1) * pieces].max(axis=1)
                          for j in range(z.shape[1] // pieces)], axis=1)
        else:
            g = naive.ACTIVATIONS[name](z)
        h = g + h if residual and g.shape == h.shape else g
    return naive.ACTIVATIONS[output_activation](h @ coefs[-1] + intercepts[-1])


@pytest.mark.parametrize("case", LAYER_CASES)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_layer_kinds_predict_matches_plain_forward(numba_threads, case, dtype):
    """Prediction uses every unit unscaled, across chunks and threads."""
    problem = make_layer_problem(case, n_samples=2 * PREDICT_CHUNK_ROWS + 37)
    trainer = problem["trainer"].astype(dtype)
    trainer.params[:] = problem["params"]
    X = problem["X"].astype(dtype)
    expected = plain_forward(X.astype(np.float64), trainer.coefs(), trainer.intercepts(),
                             problem["names"], problem["residual"], problem["pieces"],
                             "softmax")
    rtol = 1e-12 if dtype == np.float64 else 1e-4
    assert_allclose(trainer.predict(X), expected, rtol=rtol, atol=rtol * 1e-3)


@pytest.mark.parametrize("case", ["dropout", "everything"])
@pytest.mark.parametrize("solver", ["sgd", "adam"])
def test_epoch_with_dropout_matches_numpy_epoch(numba_threads, case, solver):
    """One epoch of the kernel against NumPy: the reference gradient of each
    batch with the masks of the rows' positions in the visiting order, then the
    optimizer's reference step."""
    from fastmlp._optimizers import AdamOptimizer, SGDOptimizer

    problem = make_layer_problem(case, n_samples=300)
    trainer = problem["trainer"]
    trainer.params[:] = problem["params"]
    rate = LAYER_CASES[case][4]
    hidden = problem["layer_units"][1:-1]
    order = np.random.RandomState(3).permutation(300).astype(np.int64)
    batch_size, alpha, seed = 64, 1e-3, 987
    optimizer = (SGDOptimizer(trainer.n_params, np.float64, 0.05) if solver == "sgd"
                 else AdamOptimizer(trainer.n_params, np.float64, 0.01))
    trainer.run_epoch(problem["X"], problem["Y"], None, order, batch_size, alpha, optimizer,
                      dropout_seed=seed)

    params = problem["params"].copy()
    state = np.zeros((2, params.size))
    n_coefs = sum(a * b for a, b in zip(problem["layer_units"][:-1], problem["widths"]))
    for step, first in enumerate(range(0, 300, batch_size), start=1):
        ids = order[first:first + batch_size]
        masks = naive.dropout_masks(seed, rate, np.arange(first, first + len(ids)), hidden)
        sub = dict(problem, X=problem["X"][ids], Y=problem["Y"][ids])
        _, grad = naive_layer_loss_and_gradient(sub, params, alpha, masks)
        if solver == "sgd":
            state[0] = 0.9 * state[0] - 0.05 * grad
            params += 0.9 * state[0] - 0.05 * grad
        else:
            state[0] = 0.9 * state[0] + 0.1 * grad
            state[1] = 0.999 * state[1] + 0.001 * grad**2
            lr = 0.01 * np.sqrt(1 - 0.999**step) / (1 - 0.9**step)
            params -= lr * state[0] / (np.sqrt(state[1]) + 1e-8)
    assert n_coefs < params.size
    assert_allclose(trainer.params, params, rtol=1e-9, atol=1e-12)


def test_dropout_masks_do_not_depend_on_threads(numba_threads):
    """Same seed, same epoch, whether the batch is cut into 1 or many blocks."""
    from fastmlp._optimizers import AdamOptimizer

    problem = make_layer_problem("everything", n_samples=400)
    results = []
    for n_jobs in (1, numba_threads):
        trainer = problem["trainer"].astype(np.float64)
        trainer.params[:] = problem["params"]
        # Enough work per row block that several threads take part.
        trainer.parallel_split = lambda batch, n_threads: (n_threads, 1)
        optimizer = AdamOptimizer(trainer.n_params, np.float64)
        trainer.run_epoch(problem["X"], problem["Y"], None, np.arange(400), 200, 0.0,
                          optimizer, n_jobs=n_jobs, dropout_seed=5)
        results.append(trainer.params.copy())
    assert_allclose(results[0], results[1], rtol=1e-12, atol=1e-14)
    assert not np.allclose(results[0], problem["params"])


def test_kernel_masks_match_reference_hash():
    from fastmlp._kernels.dropout import fill_mask

    mask = np.empty((7, 5))
    # Layer with unit_base 3 in a network of 11 dropout units, rows from position 40.
    from_python(fill_mask)(77, 0.4, 40 * 11 + 3, 11, mask)
    expected = naive.dropout_masks(77, 0.4, np.arange(40, 47), [3, 5, 3])[1]
    assert_allclose(mask, expected, rtol=0)
    big = np.empty((2000, 50))
    from_python(fill_mask)(1, 0.3, 0, 50, big)
    assert set(np.unique(big)) == {0.0, 1 / 0.7}
    assert abs((big == 0).mean() - 0.3) < 0.01


def test_maxout_parameter_views():
    specs = layer_specs("multiclass", ["maxout", "relu"], (4, 3), pieces=3)
    trainer = Trainer(N_FEATURES, specs, np.float64, "log_loss")
    trainer.params[:] = np.arange(trainer.n_params)
    coefs, intercepts = trainer.coefs(), trainer.intercepts()
    assert [c.shape for c in coefs] == [(6, 12), (4, 3), (3, 3)]
    assert [b.shape for b in intercepts] == [(12,), (3,), (3,)]
    assert_allclose(naive.pack(coefs, intercepts), trainer.params, rtol=0)


def test_astype_keeps_the_network():
    problem = make_layer_problem("everything")
    trainer = problem["trainer"]
    trainer.params[:] = problem["params"]
    single = trainer.astype(np.float32)
    assert single.specs == trainer.specs and single.dropout_rate == trainer.dropout_rate
    assert single.params.dtype == np.float32
    assert_allclose(single.predict(problem["X"].astype(np.float32)),
                    trainer.predict(problem["X"]), rtol=1e-4)


def record_kernel_calls(monkeypatch, *names):
    """Wrap the trainer's kernels ``names``; returns the list of calls, in order."""
    import fastmlp._trainer as trainer_module

    called = []
    for name in names:
        kernel = getattr(trainer_module, name)
        monkeypatch.setattr(trainer_module, name,
                            lambda *args, _k=kernel, _n=name: called.append(_n) or _k(*args))
    return called


@pytest.mark.parametrize("solver", ["sgd", "adam"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_serial_and_parallel_epoch_kernels_agree(solver, dtype, monkeypatch):
    """One block and one range run ``train_epoch_serial``; one block and two
    ranges run the parallel ``train_epoch``: the same arithmetic, bit for bit."""
    from fastmlp._optimizers import AdamOptimizer, SGDOptimizer

    called = record_kernel_calls(monkeypatch, "train_epoch", "train_epoch_serial")
    problem = make_layer_problem("everything", n_samples=300)
    results = []
    for split in ((1, 1), (1, 2)):
        trainer = problem["trainer"].astype(dtype)
        trainer.params[:] = problem["params"]
        trainer.parallel_split = lambda batch, n_threads, _s=split: _s
        optimizer = (AdamOptimizer(trainer.n_params, dtype) if solver == "adam"
                     else SGDOptimizer(trainer.n_params, dtype))
        loss = trainer.run_epoch(problem["X"].astype(dtype), problem["Y"].astype(dtype), None,
                                 np.arange(300)[::-1].copy(), 64, 1e-3, optimizer,
                                 n_jobs=2, dropout_seed=3)
        results.append((loss, trainer.params.copy()))
    assert called == ["train_epoch_serial", "train_epoch"]
    assert results[0][0] == results[1][0]
    assert_array_equal(results[0][1], results[1][1])
    assert not np.allclose(results[0][1], problem["params"])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("chunk_rows", [150, 7])
def test_serial_and_parallel_predict_kernels_agree(dtype, chunk_rows, monkeypatch):
    """Rows are independent: one worker (``predict_rows_serial``) and two
    (``predict_rows``, sharing 2 or 43 chunks, the last one ragged) give the
    same outputs, bit for bit."""
    called = record_kernel_calls(monkeypatch, "predict_rows", "predict_rows_serial")
    problem = make_layer_problem("everything", n_samples=300)
    trainer = problem["trainer"].astype(dtype)
    trainer.params[:] = problem["params"]
    X = problem["X"].astype(dtype)
    outputs = []
    for n_workers in (1, 2):
        trainer.predict_split = (lambda n_samples, n_threads, _w=n_workers, **_:
                                 (_w, 150 if _w == 1 else chunk_rows))
        trainer._is_small = lambda n_samples: False
        outputs.append(trainer.predict(X, n_jobs=2))
    assert called == ["predict_rows_serial", "predict_rows"]
    assert_array_equal(outputs[0], outputs[1])
    assert np.isfinite(outputs[0]).all()


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_predict_split_sizes_chunks_for_the_cache_and_the_queue(dtype):
    # W4's shape: 784-100-10.
    trainer = new_trainer("multiclass", "relu", [784, 100, 10], dtype=dtype)
    row_bytes = 784 * np.dtype(dtype).itemsize
    cache_rows = max(PREDICT_MIN_CHUNK_ROWS, PREDICT_CHUNK_BYTES // row_bytes)
    # 10,000 rows, two threads: chunks no larger than the cache allows.
    n_workers, chunk_rows = trainer.predict_split(10000, 2)
    assert n_workers == 2 and chunk_rows == -(-10000 // -(-10000 // cache_rows))
    # Fewer rows: still several chunks per worker, to share.
    n_workers, chunk_rows = trainer.predict_split(1000, 2)
    assert n_workers == 2 and -(-1000 // chunk_rows) == 2 * PREDICT_CHUNKS_PER_WORKER
    # Few rows: fewer chunks, each still a worker's minimum work.
    row_flops = 2.0 * trainer.layout.row_macs
    n_workers, chunk_rows = trainer.predict_split(200, 2)
    assert n_workers == 2 and 200 / chunk_rows < 2 * PREDICT_CHUNKS_PER_WORKER
    assert chunk_rows * row_flops >= MIN_FLOPS_PER_BLOCK
    # One worker: the same cache bound, no queue.
    assert trainer.predict_split(10000, 1)[1] == chunk_rows_for(10000, cache_rows)
    # A narrow input: the row bound.
    narrow = new_trainer("multiclass", "relu", [3, 4, 10], dtype=dtype)
    assert narrow.predict_split(10**6, 1) == (1, chunk_rows_for(10**6, PREDICT_CHUNK_ROWS))
    # A wide input keeps enough rows for BLAS; sparse input has no byte bound.
    wide = new_trainer("multiclass", "relu", [100000, 4, 10], dtype=dtype)
    assert wide.predict_split(10**5, 1) == (1, chunk_rows_for(10**5, PREDICT_MIN_CHUNK_ROWS))
    assert wide.predict_split(10**5, 1, dense=False) == (
        1, chunk_rows_for(10**5, PREDICT_CHUNK_ROWS))


def chunk_rows_for(n_samples, max_rows):
    """Rows per chunk when ``n_samples`` rows are cut into equal chunks of at most ``max_rows``."""
    return -(-n_samples // -(-n_samples // max_rows))


def test_claim_hands_out_each_ticket_once_across_threads():
    from numba import njit, prange

    from fastmlp._kernels.partition import claim

    @njit(parallel=True)
    def take_all(n_tickets, n_workers, owner):
        counter = np.zeros(1, np.int64)
        for worker in prange(n_workers):
            ticket = claim(counter, 1)
            while ticket < n_tickets:
                owner[ticket] += worker + 1
                ticket = claim(counter, 1)
        return claim(counter, 0)

    owner = np.zeros(20000, np.int64)
    final = take_all(owner.shape[0], 2, owner)
    # Every ticket went to exactly one worker (a double claim would add 1 + 2).
    assert set(np.unique(owner)) <= {1, 2}
    assert final == owner.shape[0] + 2     # each worker's last, refused claim
