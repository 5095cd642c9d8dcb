"""Gradient finalisation and optimizer updates over the flat parameter buffer.

Threads each hold an unnormalised partial gradient of their rows
(``raw_grads[t]``). The update runs over disjoint parameter ranges, one per
thread; within its range a thread sums the partial gradients in block order,
applies scikit-learn's normalisation ``g = (raw + alpha * coef) / weight_sum``
(no ``alpha`` term for intercepts), updates the parameters and optimizer state,
and takes the squared norm of the new coefficients, which the next batch's
loss needs. Each step is a plain loop that LLVM vectorises; the range stays in
cache between them.

Scalars reach the loops through ``hyper``, an array in the parameters' dtype,
so float32 training does float32 arithmetic:
``hyper = [step, momentum, beta_1, 1 - beta_1, beta_2, 1 - beta_2, epsilon,
alpha, weight_sum]`` (see the ``H_*`` indices).
"""

import math

from numba import njit, prange

from .denormals import flush_denormals, restore_floating_point
from .partition import block_bounds

H_STEP = 0
H_MOMENTUM = 1
H_BETA_1 = 2
H_ONE_MINUS_BETA_1 = 3
H_BETA_2 = 4
H_ONE_MINUS_BETA_2 = 5
H_EPSILON = 6
H_ALPHA = 7
H_WEIGHT_SUM = 8
N_HYPER = 9


@njit(cache=True, nogil=True, error_model="numpy")
def combine_partial_gradients(raw_grads, n_blocks, start, stop):
    """``raw_grads[0] += raw_grads[t]`` for ``t = 1 .. n_blocks - 1`` over ``[start, stop)``.

    Summing block by block, in block order, keeps each loop a plain vector
    loop and the result independent of scheduling.
    """
    # Loops run over slices from 0: with a runtime start, Numba cannot prove
    # an index non-negative, keeps its wraparound check, and LLVM then does
    # not vectorise (8x slower here).
    total = raw_grads[0, start:stop]
    for t in range(1, n_blocks):
        part = raw_grads[t, start:stop]
        for p in range(total.shape[0]):
            total[p] += part[p]


@njit(cache=True, nogil=True, error_model="numpy", fastmath={"reassoc", "nsz"})
def squared_norm_range(values, start, stop):
    """Sum of squares of ``values[start:stop]`` (reassociated, vectorised)."""
    total = 0.0
    part = values[start:stop]
    for p in range(part.shape[0]):
        total += part[p] * part[p]
    return total


@njit(cache=True, nogil=True, error_model="numpy")
def adam_step_range(params, grad, first_moments, second_moments, lr, b1, c1, b2, c2,
                    eps, alpha, weight_sum, start, stop):
    """Adam (Kingma and Ba, arXiv:1412.6980) on ``[start, stop)``, as scikit-learn's
    ``AdamOptimizer``, with ``g = (grad + alpha * params) / weight_sum``.

    ``m <- b1 m + c1 g``, ``v <- b2 v + c2 g**2``, ``p <- p - lr m / (sqrt(v) + eps)``,
    where ``c1 = 1 - b1``, ``c2 = 1 - b2`` and ``lr`` is the bias-corrected step.
    """
    params = params[start:stop]
    grad = grad[start:stop]
    first_moments = first_moments[start:stop]
    second_moments = second_moments[start:stop]
    for p in range(params.shape[0]):
        g = (grad[p] + alpha * params[p]) / weight_sum
        m = b1 * first_moments[p] + c1 * g
        v = b2 * second_moments[p] + c2 * (g * g)
        first_moments[p] = m
        second_moments[p] = v
        params[p] = params[p] + (-lr * m) / (math.sqrt(v) + eps)


@njit(cache=True, nogil=True, error_model="numpy")
def sgd_step_range(params, grad, velocities, lr, momentum, nesterov, alpha, weight_sum,
                   start, stop):
    """SGD with momentum on ``[start, stop)``, as scikit-learn's ``SGDOptimizer``,
    with ``g = (grad + alpha * params) / weight_sum``.

    ``v <- momentum v - lr g``; then ``p <- p + v``, or with Nesterov's momentum
    ``p <- p + momentum v - lr g``.
    """
    params = params[start:stop]
    grad = grad[start:stop]
    velocities = velocities[start:stop]
    if nesterov:
        for p in range(params.shape[0]):
            g = (grad[p] + alpha * params[p]) / weight_sum
            v = momentum * velocities[p] - lr * g
            velocities[p] = v
            params[p] = params[p] + (momentum * v - lr * g)
    else:
        for p in range(params.shape[0]):
            g = (grad[p] + alpha * params[p]) / weight_sum
            v = momentum * velocities[p] - lr * g
            velocities[p] = v
            params[p] = params[p] + v


@njit(cache=True, nogil=True, error_model="numpy")
def step_range(params, grad, solver_is_adam, nesterov, optimizer_state, hyper, alpha,
               start, stop):
    """One Adam or SGD step on ``[start, stop)``, constants read from ``hyper``."""
    if solver_is_adam:
        adam_step_range(params, grad, optimizer_state[0], optimizer_state[1],
                        hyper[H_STEP], hyper[H_BETA_1], hyper[H_ONE_MINUS_BETA_1],
                        hyper[H_BETA_2], hyper[H_ONE_MINUS_BETA_2], hyper[H_EPSILON],
                        alpha, hyper[H_WEIGHT_SUM], start, stop)
    else:
        sgd_step_range(params, grad, optimizer_state[0], hyper[H_STEP],
                       hyper[H_MOMENTUM], nesterov, alpha, hyper[H_WEIGHT_SUM], start,
                       stop)


@njit(cache=True, nogil=True, error_model="numpy")
def update_chunk(params, raw_grads, n_blocks, n_coefs, solver_is_adam, nesterov,
                 optimizer_state, hyper, chunk_norms, chunk):
    """Optimizer step on parameter range ``chunk`` of ``len(chunk_norms)``.

    Sums the partial gradients of the range, steps the coefficients (with the
    L2 term) and the intercepts (without), and stores the squared norm of the
    updated coefficients in ``chunk_norms[chunk]``.
    """
    start, stop = block_bounds(params.shape[0], chunk_norms.shape[0], chunk)
    combine_partial_gradients(raw_grads, n_blocks, start, stop)
    coef_stop = min(stop, n_coefs)
    intercept_start = max(start, n_coefs)
    alpha = hyper[H_ALPHA]
    no_alpha = alpha - alpha  # a zero in the parameters' dtype
    step_range(params, raw_grads[0], solver_is_adam, nesterov, optimizer_state, hyper,
               alpha, start, coef_stop)
    step_range(params, raw_grads[0], solver_is_adam, nesterov, optimizer_state, hyper,
               no_alpha, intercept_start, stop)
    chunk_norms[chunk] = squared_norm_range(params, start, coef_stop)


@njit(cache=True, nogil=True, error_model="numpy", parallel=True)
def update_parameters(params, raw_grads, n_blocks, n_coefs, solver_is_adam, nesterov,
                      optimizer_state, hyper, chunk_norms):
    """One optimizer step over the whole buffer, split into per-thread ranges.

    Parameters
    ----------
    params : ndarray of shape (n_params,)
        Updated in place.
    raw_grads : ndarray of shape (>= n_blocks, n_params)
        Unnormalised partial gradients of the batch's row blocks.
    n_blocks : int
        Number of partial gradients in use.
    n_coefs : int
        Number of coefficients (they precede the intercepts in the buffer).
    solver_is_adam : bool
        Adam when true, SGD otherwise.
    nesterov : bool
        Nesterov's momentum (SGD).
    optimizer_state : ndarray of shape (2, n_params) or (1, n_params)
        Adam's moments, or SGD's velocities in row 0.
    hyper : ndarray of shape (N_HYPER,)
        Step size and constants in the parameters' dtype (module docstring).
    chunk_norms : ndarray of shape (n_chunks,)
        Workspace; one range per entry.

    Returns
    -------
    coef_norm : float
        Squared norm of the updated coefficients.
    """
    n_chunks = chunk_norms.shape[0]
    if n_chunks == 1:
        # A parallel region costs more than it saves on small networks.
        fp_state = flush_denormals()
        update_chunk(params, raw_grads, n_blocks, n_coefs, solver_is_adam, nesterov,
                     optimizer_state, hyper, chunk_norms, 0)
        restore_floating_point(fp_state)
    else:
        for chunk in prange(n_chunks):
            worker_fp_state = flush_denormals()
            update_chunk(params, raw_grads, n_blocks, n_coefs, solver_is_adam, nesterov,
                         optimizer_state, hyper, chunk_norms, chunk)
            restore_floating_point(worker_fp_state)
    total = 0.0
    for chunk in range(n_chunks):
        total += chunk_norms[chunk]
    return total


@njit(cache=True, nogil=True, error_model="numpy")
def finalize_gradient_chunk(raw_grads, n_blocks, n_coefs, params, alpha, weight_sum, grad,
                            n_chunks, chunk):
    """``finalize_gradient`` on parameter range ``chunk`` of ``n_chunks``."""
    start, stop = block_bounds(params.shape[0], n_chunks, chunk)
    combine_partial_gradients(raw_grads, n_blocks, start, stop)
    coef_stop = max(start, min(stop, n_coefs))
    intercept_start = min(stop, max(start, n_coefs))
    total = raw_grads[0, start:coef_stop]
    coefs = params[start:coef_stop]
    out = grad[start:coef_stop]
    for p in range(out.shape[0]):
        out[p] = (total[p] + alpha * coefs[p]) / weight_sum
    total = raw_grads[0, intercept_start:stop]
    out = grad[intercept_start:stop]
    for p in range(out.shape[0]):
        out[p] = total[p] / weight_sum


@njit(cache=True, nogil=True, error_model="numpy", parallel=True)
def finalize_gradient(raw_grads, n_blocks, n_coefs, params, alpha, weight_sum, grad):
    """``grad = (sum of partial gradients + alpha * coefs) / weight_sum``.

    Parameters
    ----------
    raw_grads : ndarray of shape (>= n_blocks, n_params)
    n_blocks, n_coefs : int
    params : ndarray of shape (n_params,)
    alpha, weight_sum : float
    grad : ndarray of shape (n_params,)
        Receives the gradient.
    """
    n_chunks = raw_grads.shape[0]
    if n_chunks == 1:
        fp_state = flush_denormals()
        finalize_gradient_chunk(raw_grads, n_blocks, n_coefs, params, alpha, weight_sum,
                                grad, 1, 0)
        restore_floating_point(fp_state)
    else:
        for chunk in prange(n_chunks):
            worker_fp_state = flush_denormals()
            finalize_gradient_chunk(raw_grads, n_blocks, n_coefs, params, alpha,
                                    weight_sum, grad, n_chunks, chunk)
            restore_floating_point(worker_fp_state)


@njit(cache=True, nogil=True, error_model="numpy")
def squared_coef_norm(params, n_coefs):
    """Sum of squares of the first ``n_coefs`` entries (the coefficients)."""
    return squared_norm_range(params, 0, n_coefs)
