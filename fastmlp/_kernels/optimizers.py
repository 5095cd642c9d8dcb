"""Optimizer updates over the flat parameter buffer, as scikit-learn's optimizers.

Both run over the whole buffer (coefficients and intercepts) in one loop, with
the optimizer state in the same layout as the parameters.
"""

import math

from numba import njit


@njit(cache=True, nogil=True)
def sgd_update(params, grads, velocities, learning_rate, momentum, nesterov):
    """Stochastic gradient descent with (Nesterov) momentum.

    ``v <- momentum * v - learning_rate * g``, then ``p <- p + v`` or, with
    Nesterov's momentum, ``p <- p + momentum * v - learning_rate * g``
    (scikit-learn's ``SGDOptimizer``).

    Parameters
    ----------
    params, grads, velocities : ndarray of shape (n_params,)
        ``params`` and ``velocities`` are updated in place.
    learning_rate, momentum : float
    nesterov : bool
    """
    for p in range(params.shape[0]):
        g = grads[p]
        v = momentum * velocities[p] - learning_rate * g
        velocities[p] = v
        if nesterov:
            params[p] += momentum * v - learning_rate * g
        else:
            params[p] += v


@njit(cache=True, nogil=True)
def adam_update(params, grads, first_moments, second_moments, step,
                learning_rate_init, beta_1, beta_2, epsilon):
    """Adam (Kingma and Ba, 2014, arXiv:1412.6980), as scikit-learn's ``AdamOptimizer``.

    ``m <- b1 m + (1 - b1) g``, ``v <- b2 v + (1 - b2) g**2``,
    ``p <- p - lr_t m / (sqrt(v) + epsilon)`` with
    ``lr_t = lr_init sqrt(1 - b2**t) / (1 - b1**t)``.

    Parameters
    ----------
    params, grads, first_moments, second_moments : ndarray of shape (n_params,)
        ``params`` and both moments are updated in place.
    step : int
        Time step ``t`` of this update, counted from 1.
    learning_rate_init, beta_1, beta_2, epsilon : float

    Returns
    -------
    learning_rate : float
        The bias-corrected step size ``lr_t`` used.
    """
    learning_rate = (
        learning_rate_init * math.sqrt(1.0 - beta_2**step) / (1.0 - beta_1**step)
    )
    for p in range(params.shape[0]):
        g = grads[p]
        m = beta_1 * first_moments[p] + (1.0 - beta_1) * g
        v = beta_2 * second_moments[p] + (1.0 - beta_2) * (g * g)
        first_moments[p] = m
        second_moments[p] = v
        params[p] += -learning_rate * m / (math.sqrt(v) + epsilon)
    return learning_rate
