"""The optimizers (``fastmlp/_optimizers``): step rules, state and schedules.

Each compiled step rule is run over the flat buffer the way the epoch kernel
runs it (``update.begin_batch``, then ``step_range`` over the coefficients with
the L2 term and over the intercepts without) and compared with a NumPy
reference step written from the formulas, and with scikit-learn's own
optimizers, over several steps.
"""

import numpy as np
import pytest
from numpy.testing import assert_allclose
from sklearn.neural_network._stochastic_optimizers import AdamOptimizer as SkAdam
from sklearn.neural_network._stochastic_optimizers import SGDOptimizer as SkSGD

from fastmlp._kernels.prepare import prepare_solver
from fastmlp._kernels.update import begin_batch
from fastmlp._optimizers import adam, sgd
from fastmlp._optimizers import AdamOptimizer, SGDOptimizer
from fastmlp._optimizers.base import H_ALPHA, H_INV_WEIGHT_SUM
from shims import from_python

N_COEFS, N_PARAMS = 12, 16
ALPHA, WEIGHT_SUM = 0.3, 7.0


def normalised(raw, params):
    """scikit-learn's gradient: ``(raw + alpha * coef) / W``, no alpha on intercepts."""
    penalty = np.where(np.arange(params.size) < N_COEFS, ALPHA, 0.0)
    return (raw + penalty * params) / WEIGHT_SUM


def kernel_step(optimizer, params, raw):
    solver = optimizer.kernel_solver(ALPHA)
    prepare_solver(optimizer.solver_code)  # the kernels reach solvers through a table
    from_python(begin_batch)(solver, WEIGHT_SUM)
    step_range = (adam if isinstance(optimizer, AdamOptimizer) else sgd).step_range
    alpha = solver.hyper[H_ALPHA]
    from_python(step_range)(params, raw, solver, alpha, 0, N_COEFS)
    from_python(step_range)(params, raw, solver, alpha * 0, N_COEFS, N_PARAMS)


def reference_sgd(params, velocity, grad, lr, momentum, nesterov):
    velocity[:] = momentum * velocity - lr * grad
    if nesterov:
        params += momentum * velocity - lr * grad
    else:
        params += velocity


def reference_adam(params, m, v, grad, t, lr_init, b1, b2, eps):
    m[:] = b1 * m + (1 - b1) * grad
    v[:] = b2 * v + (1 - b2) * grad**2
    lr = lr_init * np.sqrt(1 - b2**t) / (1 - b1**t)
    params -= lr * m / (np.sqrt(v) + eps)


def random_steps(n_steps, seed=0):
    rng = np.random.RandomState(seed)
    return rng.uniform(-1, 1, N_PARAMS), rng.normal(size=(n_steps, N_PARAMS))


@pytest.mark.parametrize("nesterov", [True, False])
def test_sgd_step_matches_reference_and_sklearn(nesterov):
    params, raws = random_steps(5)
    optimizer = SGDOptimizer(N_PARAMS, np.float64, 0.05, momentum=0.8, nesterov=nesterov)
    ours, ref, velocity = params.copy(), params.copy(), np.zeros(N_PARAMS)
    sk_params = [params.copy()]
    sk = SkSGD(sk_params, 0.05, momentum=0.8, nesterov=nesterov)
    for raw in raws:
        grad = normalised(raw, ref)
        reference_sgd(ref, velocity, grad, 0.05, 0.8, nesterov)
        sk.update_params(sk_params, [normalised(raw, sk_params[0])])
        kernel_step(optimizer, ours, raw)
    assert_allclose(ours, ref, rtol=1e-13)
    assert_allclose(ours, sk_params[0], rtol=1e-13)
    assert_allclose(optimizer.state[0], velocity, rtol=1e-13)


def test_adam_step_matches_reference_and_sklearn():
    params, raws = random_steps(6)
    optimizer = AdamOptimizer(N_PARAMS, np.float64, 0.01, 0.8, 0.99, 1e-7)
    ours, ref = params.copy(), params.copy()
    m, v = np.zeros(N_PARAMS), np.zeros(N_PARAMS)
    sk_params = [params.copy()]
    sk = SkAdam(sk_params, 0.01, 0.8, 0.99, 1e-7)
    for t, raw in enumerate(raws, start=1):
        reference_adam(ref, m, v, normalised(raw, ref), t, 0.01, 0.8, 0.99, 1e-7)
        sk.update_params(sk_params, [normalised(raw, sk_params[0])])
        kernel_step(optimizer, ours, raw)
    assert_allclose(ours, ref, rtol=1e-13)
    assert_allclose(ours, sk_params[0], rtol=1e-13)
    assert_allclose(optimizer.state, [m, v], rtol=1e-13)
    assert optimizer.step[0] == len(raws)
    optimizer.iteration_ends(0)
    assert optimizer.learning_rate == pytest.approx(sk.learning_rate, rel=1e-15)


@pytest.mark.parametrize("Optimizer", [SGDOptimizer, AdamOptimizer])
def test_float32_steps_stay_float32_and_close(Optimizer):
    params, raws = random_steps(3)
    single = Optimizer(N_PARAMS, np.float32, 0.01)
    double = Optimizer(N_PARAMS, np.float64, 0.01)
    p32, p64 = params.astype(np.float32), params.copy()
    for raw in raws:
        kernel_step(single, p32, raw.astype(np.float32))
        kernel_step(double, p64, raw)
    assert single.kernel_solver(ALPHA).hyper.dtype == np.float32
    assert single.state.dtype == np.float32
    assert_allclose(p32, p64, rtol=1e-5)


def test_sgd_schedules_follow_sklearn():
    for schedule in ("constant", "invscaling", "adaptive"):
        ours = SGDOptimizer(N_PARAMS, np.float64, 0.1, schedule, power_t=0.25)
        sk = SkSGD([np.zeros(3)], 0.1, schedule, power_t=0.25)
        for time_step in (10, 200, 3000):
            ours.iteration_ends(time_step)
            sk.iteration_ends(time_step)
            assert ours.learning_rate == pytest.approx(sk.learning_rate, rel=1e-15)
        for _ in range(12):
            assert ours.trigger_stopping("", False) == sk.trigger_stopping("", False)
            assert ours.learning_rate == pytest.approx(sk.learning_rate, rel=1e-15)


def test_adam_always_stops():
    assert AdamOptimizer(N_PARAMS, np.float64).trigger_stopping("", False)


def test_sgd_counts_updates():
    optimizer = SGDOptimizer(N_PARAMS, np.float64, 0.1)
    solver = optimizer.kernel_solver(ALPHA)
    from_python(begin_batch)(solver, WEIGHT_SUM)
    from_python(begin_batch)(solver, WEIGHT_SUM)
    assert solver.step[0] == 2 and solver.hyper[H_INV_WEIGHT_SUM] == 1.0 / WEIGHT_SUM
