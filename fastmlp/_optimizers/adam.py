"""Adam (Kingma and Ba, arXiv:1412.6980), as scikit-learn's ``AdamOptimizer``."""

import math

import numpy as np

from .._config import ADAM
from .._kernels.jit import internal, kernel
from .base import H_INV_WEIGHT_SUM, H_STEP, N_SHARED, BaseOptimizer

H_BETA_1 = N_SHARED
H_ONE_MINUS_BETA_1 = N_SHARED + 1
H_BETA_2 = N_SHARED + 2
H_ONE_MINUS_BETA_2 = N_SHARED + 3
H_EPSILON = N_SHARED + 4

# float64 constants of the bias correction, whatever the parameters' dtype.
C_LEARNING_RATE_INIT = 0
C_BETA_1 = 1
C_BETA_2 = 2


class AdamOptimizer(BaseOptimizer):
    """Adam, with moments in the parameter layout.

    The per-batch update is :func:`step_range`, after :func:`begin_batch` has
    advanced the time step and set the bias-corrected step size.

    Parameters
    ----------
    n_params : int
    dtype : numpy dtype
    learning_rate_init : float
    beta_1, beta_2, epsilon : float

    Attributes
    ----------
    state : ndarray of shape (2, n_params)
        First and second moments.
    step : ndarray of int64, shape (1,)
        Number of updates made so far.
    learning_rate : float
        Bias-corrected step size of the last update (``learning_rate_init``
        before any).
    """

    solver_code = ADAM

    def __init__(self, n_params, dtype, learning_rate_init=0.001, beta_1=0.9,
                 beta_2=0.999, epsilon=1e-8):
        super().__init__(learning_rate_init)
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self.state = np.zeros((2, n_params), dtype=dtype)
        self.step = np.zeros(1, dtype=np.int64)

    def kernel_solver(self, alpha):
        """This optimizer as the epoch kernel reads it (see ``BaseOptimizer``)."""
        own = [self.beta_1, 1 - self.beta_1, self.beta_2, 1 - self.beta_2, self.epsilon]
        constants = [self.learning_rate_init, self.beta_1, self.beta_2]
        return self._solver(self._hyper(alpha, own), constants, self.step)

    def iteration_ends(self, time_step):
        """Record the bias-corrected step size of the epoch's last update."""
        t = int(self.step[0])
        if t > 0:
            self.learning_rate = bias_corrected_step(
                float(self.learning_rate_init), self.beta_1, self.beta_2, t)


@kernel()
def bias_corrected_step(learning_rate_init, beta_1, beta_2, t):
    """``lr_init * sqrt(1 - beta_2**t) / (1 - beta_1**t)``, in float64."""
    return learning_rate_init * math.sqrt(1.0 - beta_2**t) / (1.0 - beta_1**t)


@internal()
def begin_batch(solver):
    """Advance the time step and set the batch's bias-corrected step size."""
    solver.step[0] += 1
    constants = solver.constants
    solver.hyper[H_STEP] = bias_corrected_step(constants[C_LEARNING_RATE_INIT],
                                               constants[C_BETA_1], constants[C_BETA_2],
                                               solver.step[0])


@internal()
def step_range(params, grad, solver, alpha, start, stop):
    """One Adam step on ``params[start:stop]``.

    With ``g = (grad + alpha * params) / weight_sum``:
    ``m <- b1 m + (1 - b1) g``, ``v <- b2 v + (1 - b2) g**2``,
    ``p <- p - lr m / (sqrt(v) + eps)``, ``lr`` the bias-corrected step size.

    Parameters
    ----------
    params, grad : ndarray of shape (n_params,)
    solver : Solver
        ``state`` holds the first and second moments; ``hyper`` the step size,
        reciprocal weight sum and Adam's constants (slots of this module and
        ``base``).
    alpha : float in the parameters' dtype
        L2 penalty of this range (0 for intercepts).
    start, stop : int
    """
    # Slices from 0: see sgd.step_range.
    params = params[start:stop]
    grad = grad[start:stop]
    hyper = solver.hyper
    first_moments = solver.state[0, start:stop]
    second_moments = solver.state[1, start:stop]
    lr = hyper[H_STEP]
    inv_weight_sum = hyper[H_INV_WEIGHT_SUM]
    b1 = hyper[H_BETA_1]
    c1 = hyper[H_ONE_MINUS_BETA_1]
    b2 = hyper[H_BETA_2]
    c2 = hyper[H_ONE_MINUS_BETA_2]
    eps = hyper[H_EPSILON]
    for p in range(params.shape[0]):
        g = (grad[p] + alpha * params[p]) * inv_weight_sum
        m = b1 * first_moments[p] + c1 * g
        v = b2 * second_moments[p] + c2 * (g * g)
        first_moments[p] = m
        second_moments[p] = v
        params[p] = params[p] + (-lr * m) / (math.sqrt(v) + eps)
