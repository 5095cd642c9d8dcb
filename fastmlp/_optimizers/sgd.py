"""SGD with momentum (optionally Nesterov's), and its step-size schedules."""

import numpy as np

from .._config import SGD
from .._kernels.jit import internal
from .base import H_INV_WEIGHT_SUM, H_STEP, N_SHARED, BaseOptimizer

H_MOMENTUM = N_SHARED
C_NESTEROV = 0


class SGDOptimizer(BaseOptimizer):
    """SGD with momentum and a constant, inverse-scaling or adaptive step size.

    Mirrors scikit-learn's ``SGDOptimizer``; the per-batch update is
    :func:`step_range`.

    Parameters
    ----------
    n_params : int
        Size of the flat parameter buffer.
    dtype : numpy dtype
        Parameter dtype.
    learning_rate_init : float
    lr_schedule : {'constant', 'invscaling', 'adaptive'}
    momentum : float
    nesterov : bool
    power_t : float

    Attributes
    ----------
    state : ndarray of shape (1, n_params)
        Velocities, in the parameter layout.
    """

    solver_code = SGD

    def __init__(self, n_params, dtype, learning_rate_init=0.1, lr_schedule="constant",
                 momentum=0.9, nesterov=True, power_t=0.5):
        super().__init__(learning_rate_init)
        self.lr_schedule = lr_schedule
        self.momentum = momentum
        self.nesterov = nesterov
        self.power_t = power_t
        self.state = np.zeros((1, n_params), dtype=dtype)

    def iteration_ends(self, time_step):
        """Apply inverse scaling: ``lr = lr_init / (time_step + 1) ** power_t``."""
        if self.lr_schedule == "invscaling":
            self.learning_rate = float(self.learning_rate_init) / (time_step + 1) ** self.power_t

    def trigger_stopping(self, msg, verbose):
        """Stop, or with the adaptive schedule divide the step size by 5 first."""
        if self.lr_schedule != "adaptive":
            if verbose:
                print(msg + " Stopping.")
            return True
        if self.learning_rate <= 1e-6:
            if verbose:
                print(msg + " Learning rate too small. Stopping.")
            return True
        self.learning_rate /= 5.0
        if verbose:
            print(msg + " Setting learning rate to %f" % self.learning_rate)
        return False

    def kernel_solver(self, alpha):
        """This optimizer as the epoch kernel reads it (see ``BaseOptimizer``)."""
        return self._solver(self._hyper(alpha, [self.momentum]),
                            [float(bool(self.nesterov))], np.zeros(1, dtype=np.int64))


@internal()
def begin_batch(solver):
    """Count the update; SGD's step size only changes between epochs."""
    solver.step[0] += 1


@internal()
def step_range(params, grad, solver, alpha, start, stop):
    """One SGD step on ``params[start:stop]``, as scikit-learn's ``SGDOptimizer``.

    With ``g = (grad + alpha * params) / weight_sum``: ``v <- momentum v - lr g``,
    then ``p <- p + v``, or with Nesterov's momentum ``p <- p + momentum v - lr g``.

    Parameters
    ----------
    params, grad : ndarray of shape (n_params,)
    solver : Solver
        ``state[0]`` holds the velocities; ``hyper`` the step size, reciprocal weight sum
        and momentum (slots of this module and ``base``); ``constants[C_NESTEROV]``
        is 1 for Nesterov's momentum.
    alpha : float in the parameters' dtype
        L2 penalty of this range (0 for intercepts).
    start, stop : int
    """
    # Loops run over slices from 0: with a runtime start, Numba cannot prove
    # an index non-negative, keeps its wraparound check, and LLVM then does
    # not vectorise (8x slower here).
    params = params[start:stop]
    grad = grad[start:stop]
    velocities = solver.state[0, start:stop]
    lr = solver.hyper[H_STEP]
    momentum = solver.hyper[H_MOMENTUM]
    inv_weight_sum = solver.hyper[H_INV_WEIGHT_SUM]
    if solver.constants[C_NESTEROV] != 0.0:
        for p in range(params.shape[0]):
            g = (grad[p] + alpha * params[p]) * inv_weight_sum
            v = momentum * velocities[p] - lr * g
            velocities[p] = v
            params[p] = params[p] + (momentum * v - lr * g)
    else:
        for p in range(params.shape[0]):
            g = (grad[p] + alpha * params[p]) * inv_weight_sum
            v = momentum * velocities[p] - lr * g
            velocities[p] = v
            params[p] = params[p] + v
