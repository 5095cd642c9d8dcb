"""The losses beyond scikit-learn's canonical pairs, through every kernel path.

Huber and absolute error on identity outputs, and the residual losses on
logistic and softmax outputs (the classic squared error of probabilities),
compared with

- the NumPy reference in ``naive.py``, to rounding error;
- central finite differences of the reference's and of the kernels' own loss,
  under the documented convention (``_kernels/losses.py``): the data part of
  the gradient is ``n_outputs`` times the gradient of the reported loss;
- one epoch of SGD and Adam written in NumPy from the reference gradient;

with and without sample weights, dense and sparse input, float64 and float32.
"""

import numpy as np
import pytest
import scipy.sparse as sp
from numpy.testing import assert_allclose, assert_array_equal

import naive
from fastmlp._kernels.layout import DENSE, LayerSpec
from fastmlp._optimizers import AdamOptimizer, SGDOptimizer
from fastmlp._trainer import Trainer
from test_trainer import N_FEATURES, assert_gradient_close, central_differences

# name: (output activation, loss, n_outputs, huber_delta)
CASES = {
    "huber-0.3": ("identity", "huber", 1, 0.3),
    "huber-1.0-3outputs": ("identity", "huber", 3, 1.0),
    "huber-4.0": ("identity", "huber", 1, 4.0),
    "absolute": ("identity", "absolute_error", 1, 1.0),
    "absolute-2outputs": ("identity", "absolute_error", 2, 1.0),
    "squared-softmax": ("softmax", "squared_error", 3, 1.0),
    "squared-binary": ("logistic", "squared_error", 1, 1.0),
    "squared-multilabel": ("logistic", "squared_error", 3, 1.0),
    "huber-multilabel": ("logistic", "huber", 3, 0.6),
    "absolute-softmax": ("softmax", "absolute_error", 4, 1.0),
}
# Huber cases whose residuals fall in both regimes at the test point.
MIXED_HUBER = ["huber-0.3", "huber-1.0-3outputs", "huber-multilabel"]
MULTI_OUTPUT = [name for name, case in CASES.items() if case[2] > 1]
HIDDEN_SIZES = (5, 4)
ALPHA = 0.3
# Residuals keep this far from the kinks of |r| (at 0) and of Huber's slope
# (at +-delta), far beyond what a finite-difference step moves them.
KINK_MARGIN = 1e-3

weighted_cases = pytest.mark.parametrize("weighted", [False, True],
                                         ids=["unweighted", "weighted"])


def make_targets(output_activation, n_samples, n_outputs, rng):
    if output_activation == "softmax":
        return np.eye(n_outputs)[rng.randint(0, n_outputs, n_samples)]
    if output_activation == "logistic":
        return rng.randint(0, 2, (n_samples, n_outputs)).astype(float)
    return rng.normal(size=(n_samples, n_outputs))


def residual_kinks(name, residuals):
    """Distance of the residuals to the nearest kink of the loss's slope."""
    _, loss, _, delta = CASES[name]
    r = np.abs(residuals)
    if loss == "huber":
        return np.abs(r - delta).min()
    if loss == "absolute_error":
        return r.min()
    return np.inf


def make_problem(name, weighted, n_samples=20, seed=0):
    """A small tanh network of case ``name``: its data, parameters and trainer."""
    output_activation, loss, n_outputs, delta = CASES[name]
    rng = np.random.RandomState(seed)
    layer_units = [N_FEATURES, *HIDDEN_SIZES, n_outputs]
    X = rng.normal(size=(n_samples, N_FEATURES))
    Y = make_targets(output_activation, n_samples, n_outputs, rng)
    n_params = sum(a * b + b for a, b in zip(layer_units[:-1], layer_units[1:]))
    for _ in range(100):
        params = rng.uniform(-0.8, 0.8, n_params)
        coefs, intercepts = naive.unpack(params, layer_units)
        p = naive.forward(X, coefs, intercepts, "tanh", output_activation)[-1]
        if n_samples > 100 or residual_kinks(name, Y - p) > KINK_MARGIN:
            break
    else:
        raise RuntimeError("no parameters away from the loss's kinks")
    sample_weight = None
    if weighted:
        sample_weight = rng.uniform(0.2, 3.0, n_samples)
        sample_weight[3] = 0.0
    specs = [LayerSpec(DENSE, "tanh", units, 1, False, False) for units in HIDDEN_SIZES]
    specs.append(LayerSpec(DENSE, output_activation, n_outputs, 1, False, False))
    trainer = Trainer(N_FEATURES, specs, np.float64, loss, huber_delta=delta)
    return dict(name=name, layer_units=layer_units, X=X, Y=Y, params=params,
                sample_weight=sample_weight, trainer=trainer)


def naive_loss_and_gradient(problem, params, alpha, X=None, Y=None, sample_weight=None):
    """The reference on the problem's rows (or on the rows given)."""
    output_activation, loss, _, delta = CASES[problem["name"]]
    if X is None:
        X, Y, sample_weight = problem["X"], problem["Y"], problem["sample_weight"]
    coefs, intercepts = naive.unpack(params, problem["layer_units"])
    value, coef_grads, intercept_grads = naive.loss_and_gradient(
        X, Y, coefs, intercepts, "tanh", output_activation, loss, alpha, sample_weight,
        huber_delta=delta)
    return value, naive.pack(coef_grads, intercept_grads)


def kernel_loss_and_gradient(problem, params, alpha):
    trainer = problem["trainer"]
    loss, grad = trainer.loss_and_gradient(params.copy(), problem["X"], problem["Y"],
                                           problem["sample_weight"], alpha)
    return loss, grad.copy()


def conventional_differences(loss, params, n_outputs):
    """Central differences of ``loss(p, alpha)`` in the gradient convention:
    ``n_outputs`` times the data loss's (a residual loss) plus the penalty's."""
    penalised = central_differences(lambda p: loss(p, ALPHA), params)
    data = central_differences(lambda p: loss(p, 0.0), params)
    return penalised + (n_outputs - 1) * data


@pytest.mark.parametrize("name", CASES)
@weighted_cases
def test_loss_and_gradient_match_naive(name, weighted):
    problem = make_problem(name, weighted)
    loss, grad = kernel_loss_and_gradient(problem, problem["params"], ALPHA)
    expected_loss, expected_grad = naive_loss_and_gradient(problem, problem["params"], ALPHA)
    assert_allclose(loss, expected_loss, rtol=1e-12)
    assert_gradient_close(grad, expected_grad, rtol=1e-11)


@pytest.mark.parametrize("name", MIXED_HUBER)
def test_huber_cases_cover_both_regimes(name):
    problem = make_problem(name, weighted=False)
    coefs, intercepts = naive.unpack(problem["params"], problem["layer_units"])
    output_activation, _, _, delta = CASES[name]
    p = naive.forward(problem["X"], coefs, intercepts, "tanh", output_activation)[-1]
    r = np.abs(problem["Y"] - p)
    assert (r < delta).any() and (r > delta).any()


@pytest.mark.parametrize("name", CASES)
@pytest.mark.parametrize("source", ["naive", "kernel"])
@weighted_cases
def test_gradient_matches_finite_differences(name, source, weighted):
    """The NumPy reference's gradient and the kernels' gradient, each against
    central differences of its own loss (under the documented convention)."""
    problem = make_problem(name, weighted)
    loss_and_gradient = {"naive": naive_loss_and_gradient,
                         "kernel": kernel_loss_and_gradient}[source]

    def loss(p, alpha):
        return loss_and_gradient(problem, p, alpha)[0]

    _, grad = loss_and_gradient(problem, problem["params"], ALPHA)
    expected = conventional_differences(loss, problem["params"], CASES[name][2])
    assert_gradient_close(grad, expected, rtol=1e-6)


@pytest.mark.parametrize("name", MULTI_OUTPUT)
def test_multi_output_gradient_is_n_outputs_times_loss_gradient(name):
    """The documented factor, checked by itself: without the penalty, the
    gradient is ``n_outputs`` times that of the reported loss, not equal to it."""
    problem = make_problem(name, weighted=True)
    n_outputs = CASES[name][2]
    _, grad = kernel_loss_and_gradient(problem, problem["params"], 0.0)
    differences = central_differences(
        lambda p: kernel_loss_and_gradient(problem, p, 0.0)[0], problem["params"])
    assert_gradient_close(grad, n_outputs * differences, rtol=1e-6)
    assert not np.allclose(grad, differences, rtol=0.1)


def numpy_epoch(problem, params, sample_weight, order, batch_size, alpha, solver, lr):
    """One epoch from the reference gradient and scikit-learn's step rules."""
    params = params.copy()
    state = np.zeros((2, params.size))
    for step, first in enumerate(range(0, order.size, batch_size), start=1):
        ids = order[first:first + batch_size]
        w = None if sample_weight is None else sample_weight[ids]
        _, grad = naive_loss_and_gradient(problem, params, alpha, problem["X"][ids],
                                          problem["Y"][ids], w)
        if solver == "sgd":
            state[0] = 0.9 * state[0] - lr * grad
            params += 0.9 * state[0] - lr * grad
        else:
            state[0] = 0.9 * state[0] + 0.1 * grad
            state[1] = 0.999 * state[1] + 0.001 * grad**2
            step_size = lr * np.sqrt(1 - 0.999**step) / (1 - 0.9**step)
            params -= step_size * state[0] / (np.sqrt(state[1]) + 1e-8)
    return params


def new_optimizer(solver, trainer, lr):
    if solver == "sgd":
        return SGDOptimizer(trainer.n_params, trainer.dtype, lr)
    return AdamOptimizer(trainer.n_params, trainer.dtype, lr)


def kernel_epoch(problem, trainer, solver, order, batch_size, lr, X=None):
    trainer.params[:] = problem["params"]
    optimizer = new_optimizer(solver, trainer, lr)
    trainer.run_epoch(problem["X"] if X is None else X, problem["Y"],
                      problem["sample_weight"], order, batch_size, 1e-3, optimizer)
    return trainer.params.copy()


@pytest.mark.parametrize("name", CASES)
@pytest.mark.parametrize("solver", ["sgd", "adam"])
@weighted_cases
def test_epoch_matches_numpy_epoch(name, solver, weighted):
    problem = make_problem(name, weighted, n_samples=150)
    order = np.random.RandomState(3).permutation(150).astype(np.int64)
    lr = 0.05 if solver == "sgd" else 0.01
    params = kernel_epoch(problem, problem["trainer"], solver, order, 32, lr)
    expected = numpy_epoch(problem, problem["params"], problem["sample_weight"], order, 32,
                           1e-3, solver, lr)
    assert not np.allclose(params, problem["params"])
    assert_allclose(params, expected, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("name", ["huber-1.0-3outputs", "squared-softmax", "absolute"])
def test_row_blocks_match_numpy(numba_threads, name):
    """Several row blocks per batch (and per full-data gradient) sum as one."""
    problem = make_problem(name, weighted=True, n_samples=150)
    trainer = problem["trainer"]
    trainer.parallel_split = lambda n_rows, n_threads: (n_threads, 1)
    order = np.arange(150, dtype=np.int64)
    params = kernel_epoch(problem, trainer, "adam", order, 50, 0.01)
    expected = numpy_epoch(problem, problem["params"], problem["sample_weight"], order, 50,
                           1e-3, "adam", 0.01)
    assert_allclose(params, expected, rtol=1e-9, atol=1e-12)
    loss, grad = kernel_loss_and_gradient(problem, problem["params"], ALPHA)
    expected_loss, expected_grad = naive_loss_and_gradient(problem, problem["params"], ALPHA)
    assert_allclose(loss, expected_loss, rtol=1e-12)
    assert_gradient_close(grad, expected_grad, rtol=1e-11)


@pytest.mark.parametrize("name", ["huber-0.3", "absolute-2outputs", "squared-softmax",
                                  "squared-multilabel"])
@weighted_cases
def test_sparse_input_matches_dense(name, weighted):
    problem = make_problem(name, weighted, n_samples=60)
    X = problem["X"].copy()
    X[np.random.RandomState(1).rand(*X.shape) < 0.6] = 0.0
    problem["X"] = X
    trainer = problem["trainer"]
    args = (problem["Y"], problem["sample_weight"], ALPHA)
    dense_loss, dense_grad = trainer.loss_and_gradient(problem["params"].copy(), X, *args)
    dense_grad = dense_grad.copy()
    sparse_loss, sparse_grad = trainer.loss_and_gradient(problem["params"].copy(),
                                                         sp.csr_matrix(X), *args)
    assert_allclose(sparse_loss, dense_loss, rtol=1e-12)
    assert_gradient_close(sparse_grad, dense_grad, rtol=1e-11)
    order = np.random.RandomState(2).permutation(60).astype(np.int64)
    dense = kernel_epoch(problem, trainer, "sgd", order, 16, 0.05)
    sparse = kernel_epoch(problem, trainer, "sgd", order, 16, 0.05, X=sp.csr_matrix(X))
    assert_allclose(sparse, dense, rtol=1e-10, atol=1e-13)


@weighted_cases
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_huge_huber_delta_trains_exactly_as_squared_error(weighted, dtype):
    problem = make_problem("huber-1.0-3outputs", weighted, n_samples=60)
    huber = problem["trainer"]
    huber = Trainer(huber.n_features, huber.specs, dtype, "huber", huber_delta=1e300)
    squared = Trainer(huber.n_features, huber.specs, dtype, "squared_error")
    X, Y = problem["X"].astype(dtype), problem["Y"].astype(dtype)
    w = problem["sample_weight"]
    w = None if w is None else w.astype(dtype)
    params = problem["params"].astype(dtype)
    results = []
    for trainer in (huber, squared):
        loss, grad = trainer.loss_and_gradient(params.copy(), X, Y, w, ALPHA)
        data_loss = trainer.data_loss(trainer.predict(X), Y, w)
        sub = dict(problem, X=X, Y=Y, sample_weight=w, params=params)
        epoch = kernel_epoch(sub, trainer, "sgd", np.arange(60, dtype=np.int64), 16, 0.05)
        results.append((loss, grad.copy(), data_loss, epoch))
    for a, b in zip(*results):
        assert_array_equal(a, b)


@pytest.mark.parametrize("name", CASES)
def test_float32_close_to_float64_reference(name):
    problem = make_problem(name, weighted=True)
    trainer = problem["trainer"].astype(np.float32)
    loss, grad = trainer.loss_and_gradient(
        problem["params"].astype(np.float32), problem["X"].astype(np.float32),
        problem["Y"].astype(np.float32), problem["sample_weight"].astype(np.float32), ALPHA)
    assert grad.dtype == np.float32
    expected_loss, expected_grad = naive_loss_and_gradient(problem, problem["params"], ALPHA)
    assert_allclose(loss, expected_loss, rtol=1e-5)
    assert_gradient_close(grad, expected_grad, rtol=1e-4)


@pytest.mark.parametrize("name", CASES)
@weighted_cases
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_data_loss_matches_naive(name, weighted, dtype):
    problem = make_problem(name, weighted)
    trainer = problem["trainer"].astype(dtype)
    trainer.params[:] = problem["params"]
    X, Y, w = problem["X"], problem["Y"], problem["sample_weight"]
    y_pred = trainer.predict(X.astype(dtype))
    loss = trainer.data_loss(y_pred, Y, w)
    _, naive_loss, _, delta = CASES[name]
    expected = naive.data_loss(naive_loss, Y, y_pred.astype(np.float64), w, delta)
    assert isinstance(loss, float)
    assert_allclose(loss, expected, rtol=1e-12 if dtype == np.float64 else 1e-6)
    if dtype == np.float64:
        assert_allclose(loss, naive_loss_and_gradient(problem, problem["params"], 0.0)[0],
                        rtol=1e-12)


def test_data_loss_of_canonical_losses_matches_naive():
    rng = np.random.RandomState(0)
    p = rng.uniform(0.05, 0.95, (30, 3))
    Y = rng.randint(0, 2, (30, 3)).astype(float)
    w = rng.uniform(0, 2, 30)
    for activation, loss in [("logistic", "binary_log_loss"), ("exp", "poisson"),
                             ("identity", "squared_error")]:
        specs = [LayerSpec(DENSE, activation, 3, 1, False, False)]
        trainer = Trainer(4, specs, np.float64, loss)
        assert_allclose(trainer.data_loss(p, Y, w), naive.data_loss(loss, Y, p, w),
                        rtol=1e-12)
    assert np.isnan(trainer.data_loss(p, Y, np.zeros(30)))


@pytest.mark.parametrize("loss, activation, huber_delta", [
    ("log_loss", "identity", 1.0),
    ("poisson", "identity", 1.0),
    ("binary_log_loss", "softmax", 1.0),
    ("squared_error", "exp", 1.0),
    ("huber", "identity", 0.0),
    ("huber", "identity", -1.0),
    ("huber", "identity", np.nan),
])
def test_trainer_rejects_undefined_losses(loss, activation, huber_delta):
    specs = [LayerSpec(DENSE, activation, 2, 1, False, False)]
    with pytest.raises(ValueError):
        Trainer(3, specs, np.float64, loss, huber_delta=huber_delta)


def test_astype_keeps_huber_delta():
    problem = make_problem("huber-0.3", weighted=False)
    single = problem["trainer"].astype(np.float32)
    assert single.loss == "huber" and single.huber_delta == 0.3
    assert single.network.loss_param == 0.3
