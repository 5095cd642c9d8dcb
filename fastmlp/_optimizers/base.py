"""What the stochastic optimizers share: the step-size schedule's stopping rule,
and the slots of ``hyper`` that every step rule reads.

``hyper`` is a small array in the parameters' dtype, so float32 training does
float32 arithmetic in the update: slots ``H_STEP`` (the step size of the
batch), ``H_ALPHA`` (the L2 penalty) and ``H_INV_WEIGHT_SUM`` (one over the
batch's weight sum, set per batch by the kernel), then each optimizer's own
constants from ``N_SHARED`` on. The step rules multiply by the reciprocal
where scikit-learn divides by the weight sum: a division per parameter is a
quarter of Adam's arithmetic, and the weights already match scikit-learn's
to round-off only (its products add in another order), not to the bit.
"""

import numpy as np

from .._kernels.bundles import Solver

H_STEP = 0
H_ALPHA = 1
H_INV_WEIGHT_SUM = 2
N_SHARED = 3


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

    def _hyper(self, alpha, own):
        hyper = np.empty(N_SHARED + len(own), dtype=self.state.dtype)
        hyper[H_STEP] = self.learning_rate
        hyper[H_ALPHA] = alpha
        hyper[H_INV_WEIGHT_SUM] = 1.0
        hyper[N_SHARED:] = own
        return hyper

    def kernel_solver(self, alpha):
        """This optimizer as the epoch kernel reads it, for an epoch with penalty ``alpha``.

        Returns
        -------
        Solver
        """
        raise NotImplementedError

    def _solver(self, hyper, constants, step):
        return Solver(kind=self.solver_code, hyper=hyper,
                      constants=np.asarray(constants, dtype=np.float64),
                      state=self.state, step=step)
