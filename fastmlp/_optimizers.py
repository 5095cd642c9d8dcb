"""Optimizer state and learning-rate schedules, held in the flat parameter layout.

These mirror scikit-learn's ``SGDOptimizer`` and ``AdamOptimizer`` at the
granularity the estimator layer sees them (once per epoch): the per-batch
updates themselves run in the compiled epoch kernel.
"""

import numpy as np

from ._config import ADAM, SGD


class BaseOptimizer:
    """Learning rate and stopping rule shared by the stochastic solvers.

    Parameters
    ----------
    learning_rate_init : float
        Initial step size.
    """

    solver_code = -1

    def __init__(self, learning_rate_init):
        self.learning_rate_init = learning_rate_init
        self.learning_rate = float(learning_rate_init)

    def iteration_ends(self, time_step):
        """Update the schedule after an epoch; ``time_step`` counts samples seen."""

    def trigger_stopping(self, msg, verbose):
        """Decide whether training stops after ``n_iter_no_change`` bad epochs.

        Parameters
        ----------
        msg : str
            Reason, printed when ``verbose``.
        verbose : bool

        Returns
        -------
        is_stopping : bool
        """
        if verbose:
            print(msg + " Stopping.")
        return True


class SGDOptimizer(BaseOptimizer):
    """SGD with momentum and a constant, inverse-scaling or adaptive step size.

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


class AdamOptimizer(BaseOptimizer):
    """Adam, with moments in the parameter layout.

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
