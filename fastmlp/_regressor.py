"""MLPRegressor: scikit-learn's regressor API on fastmlp's compiled trainer."""

import numpy as np
from sklearn.base import RegressorMixin, _fit_context
from sklearn.metrics import r2_score
from numbers import Real

from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.metaestimators import available_if
from sklearn.utils.validation import (
    check_array,
    check_is_fitted,
    column_or_1d,
    validate_data,
)

from ._base import BaseMultilayerPerceptron


class MLPRegressor(RegressorMixin, BaseMultilayerPerceptron):
    """Multi-layer perceptron regressor trained by compiled epoch kernels.

    A drop-in replacement for :class:`sklearn.neural_network.MLPRegressor`:
    same parameters, defaults, attributes and errors. It minimises half the
    squared error, the Huber loss or the absolute error (identity output), or
    half the Poisson deviance (exponential output), for one or several targets.

    Parameters
    ----------
    loss : {'squared_error', 'poisson', 'huber', 'absolute_error'}, \
            default='squared_error'
        Loss to minimise, per row and averaged over rows: 'squared_error'
        ``0.5 * mean_k (y_k - p_k)**2``; 'poisson' ``sum_k (y_k log(y_k / p_k)
        - y_k + p_k)`` with ``p = exp(z)``; 'huber' ``mean_k h(y_k - p_k)`` with
        ``h(r) = 0.5 r**2`` for ``|r| <= huber_delta`` and ``huber_delta *
        (|r| - 0.5 huber_delta)`` beyond (robust to outliers, and equal to
        'squared_error' for small residuals); 'absolute_error'
        ``mean_k |y_k - p_k|`` (predicts a median).
    hidden_layer_sizes : array-like of shape (n_layers - 2,), default=(100,)
        The ith element is the number of neurons in the ith hidden layer.
    activation : str or list of str, default='relu'
        Activation of the hidden layers, one name for all of them or a list
        with one name per hidden layer. Names: scikit-learn's 'identity',
        'logistic', 'tanh' and 'relu', plus 'leaky_relu' (slope 0.01), 'elu'
        (alpha 1), 'swish' (``z * sigmoid(z)``), 'gelu' (exact form,
        ``z * Phi(z)``), 'softplus' (``log(1 + exp(z))``) and 'maxout' (each
        unit the maximum of ``maxout_pieces`` affine pieces).
    solver : {'lbfgs', 'sgd', 'adam'}, default='adam'
        Weight optimiser.
    alpha : float, default=0.0001
        Strength of the L2 penalty, divided by the sample (weight) count.
    batch_size : int or 'auto', default='auto'
        Mini-batch size; 'auto' means ``min(200, n_samples)``.
    learning_rate : {'constant', 'invscaling', 'adaptive'}, default='constant'
        Step-size schedule for ``solver='sgd'``.
    learning_rate_init : float, default=0.001
        Initial step size for 'sgd' and 'adam'.
    power_t : float, default=0.5
        Exponent of the inverse-scaling schedule.
    max_iter : int, default=200
        Maximum number of epochs (stochastic solvers).
    shuffle : bool, default=True
        Whether to shuffle samples each epoch.
    random_state : int, RandomState instance or None, default=None
        Seeds weight initialisation, shuffling and the validation split exactly
        as scikit-learn does.
    tol : float, default=1e-4
        Tolerance of the no-improvement stopping rule.
    verbose : bool, default=False
        Print progress in scikit-learn's format.
    warm_start : bool, default=False
        Reuse the previous solution as initialisation.
    momentum : float, default=0.9
        Momentum for 'sgd'.
    nesterovs_momentum : bool, default=True
        Use Nesterov's momentum for 'sgd'.
    early_stopping : bool, default=False
        Stop when the validation score stops improving.
    validation_fraction : float, default=0.1
        Share of training data held out for early stopping.
    beta_1 : float, default=0.9
        Adam's first-moment decay.
    beta_2 : float, default=0.999
        Adam's second-moment decay.
    epsilon : float, default=1e-8
        Adam's numerical-stability constant.
    n_iter_no_change : int, default=10
        Epochs without ``tol`` improvement before stopping.
    max_fun : int, default=15000
        Maximum loss evaluations for 'lbfgs'.
    n_jobs : int, default=None
        Threads of the compiled kernels during ``fit``, ``partial_fit`` and
        ``predict``. None uses the cores available to the caller, within the
        limits in force: ``numba.set_num_threads`` / ``NUMBA_NUM_THREADS``,
        ``OMP_NUM_THREADS`` (set by joblib in its worker processes, so
        ``GridSearchCV(n_jobs=-1)`` does not oversubscribe the machine) and
        threadpoolctl's BLAS limit. A positive value asks for that many
        threads, -1 for all cores, ``-k`` for all but ``k - 1``; never more
        than ``NUMBA_NUM_THREADS``. BLAS runs single-threaded inside the
        kernels either way.
    residual : bool, default=False
        Give each hidden layer whose input is as wide as its output a skip
        connection: ``h_next = f(h W + b) + h``. Other layers stay plain.
    maxout_pieces : int, default=2
        Affine pieces per unit of a 'maxout' layer (at least 2). Its
        ``coefs_[l]`` has shape ``(fan_in, units * maxout_pieces)``; the pieces
        of unit ``j`` are columns ``j * maxout_pieces + k``.
    dropout : float, default=0.0
        Probability, in [0, 1), of zeroing each hidden unit's output during
        training; kept units are scaled by ``1 / (1 - dropout)`` (inverted
        dropout) and prediction uses every unit unscaled. Masks are drawn
        from ``random_state``, the same whatever the thread count. Not
        available with ``solver='lbfgs'``.
    huber_delta : float, default=1.0
        Residual size at which the Huber loss turns from quadratic to linear
        (``loss='huber'`` only), in the targets' units.
    scoring : str, callable or None, default=None
        What early stopping maximises on the validation data: None for R²
        (scikit-learn's rule), 'loss' for minus the validation loss, or any
        scikit-learn scorer name or callable ``scorer(estimator, X, y)``.

    Attributes
    ----------
    loss_ : float
        Loss at the end of training.
    best_loss_ : float or None
        Minimum training loss reached (None with early stopping).
    loss_curve_ : list of float
        Training loss after each epoch (stochastic solvers).
    validation_scores_ : list of float or None
        Validation score (see ``scoring``) after each epoch, whenever there
        is validation data (early stopping, or ``X_val`` given to ``fit``).
    validation_loss_curve_ : list of float or None
        Validation loss after each epoch (each L-BFGS iteration): the
        training loss's formula without the L2 term, whenever there is
        validation data; None otherwise.
    best_validation_score_ : float or None
        Best validation score, with early stopping.
    t_ : int
        Number of training samples seen.
    coefs_ : list of ndarray
        Coefficient matrices; views into one flat parameter buffer.
    intercepts_ : list of ndarray
        Intercept vectors; views into the same buffer.
    n_features_in_ : int
        Number of input features.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Feature names, when X has string column names.
    n_iter_ : int
        Epochs run (L-BFGS: its iterations).
    n_layers_ : int
        Number of layers.
    n_outputs_ : int
        Number of outputs.
    out_activation_ : str
        Output activation ('identity', or 'exp' for the Poisson loss).

    Examples
    --------
    >>> import numpy as np
    >>> from fastmlp import MLPRegressor
    >>> rng = np.random.RandomState(0)
    >>> X = rng.uniform(-1, 1, (500, 3))
    >>> y = X[:, 0] - 2 * X[:, 1] ** 2
    >>> reg = MLPRegressor((30,), solver="lbfgs", max_iter=500, random_state=0).fit(X, y)
    >>> reg.score(X, y) > 0.9
    True
    """

    _parameter_constraints: dict = {
        **BaseMultilayerPerceptron._parameter_constraints,
        "loss": [StrOptions({"squared_error", "poisson", "huber", "absolute_error"})],
        "huber_delta": [Interval(Real, 0, None, closed="neither")],
    }

    def __init__(
        self,
        loss="squared_error",
        hidden_layer_sizes=(100,),
        activation="relu",
        *,
        solver="adam",
        alpha=0.0001,
        batch_size="auto",
        learning_rate="constant",
        learning_rate_init=0.001,
        power_t=0.5,
        max_iter=200,
        shuffle=True,
        random_state=None,
        tol=1e-4,
        verbose=False,
        warm_start=False,
        momentum=0.9,
        nesterovs_momentum=True,
        early_stopping=False,
        validation_fraction=0.1,
        beta_1=0.9,
        beta_2=0.999,
        epsilon=1e-8,
        n_iter_no_change=10,
        max_fun=15000,
        n_jobs=None,
        residual=False,
        maxout_pieces=2,
        dropout=0.0,
        huber_delta=1.0,
        scoring=None,
    ):
        self.huber_delta = huber_delta
        super().__init__(
            hidden_layer_sizes=hidden_layer_sizes,
            activation=activation,
            solver=solver,
            alpha=alpha,
            batch_size=batch_size,
            learning_rate=learning_rate,
            learning_rate_init=learning_rate_init,
            power_t=power_t,
            max_iter=max_iter,
            loss=loss,
            shuffle=shuffle,
            random_state=random_state,
            tol=tol,
            verbose=verbose,
            warm_start=warm_start,
            momentum=momentum,
            nesterovs_momentum=nesterovs_momentum,
            early_stopping=early_stopping,
            validation_fraction=validation_fraction,
            beta_1=beta_1,
            beta_2=beta_2,
            epsilon=epsilon,
            n_iter_no_change=n_iter_no_change,
            max_fun=max_fun,
            n_jobs=n_jobs,
            residual=residual,
            maxout_pieces=maxout_pieces,
            dropout=dropout,
            scoring=scoring,
        )

    def _output_activation(self):
        return "exp" if self.loss == "poisson" else "identity"

    def predict(self, X):
        """Predict using the multi-layer perceptron model.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            The input data.

        Returns
        -------
        y : ndarray of shape (n_samples,) or (n_samples, n_outputs)
            The predicted values.
        """
        check_is_fitted(self)
        return self._predict(X)

    def _predict(self, X, check_input=True):
        return self._predictions_from_outputs(
            self._forward_pass_fast(X, check_input=check_input))

    @staticmethod
    def _predictions_from_outputs(y_pred):
        if y_pred.shape[1] == 1:
            return y_pred.ravel()
        return y_pred

    _score_function = staticmethod(r2_score)

    def _huber_delta(self):
        return float(self.huber_delta)

    def _score(self, X, y, sample_weight=None):
        return self._score_with_function(X, y, sample_weight, r2_score)

    def _validate_input(self, X, y, incremental, reset, ensure_all_finite=True):
        X, y = validate_data(
            self,
            X,
            y,
            accept_sparse=["csr", "csc"],
            ensure_all_finite=ensure_all_finite,
            multi_output=True,
            y_numeric=True,
            dtype=(np.float64, np.float32),
            reset=reset,
        )
        if y.ndim == 2 and y.shape[1] == 1:
            y = column_or_1d(y, warn=True)
        return X, y, y

    def _encode_validation_targets(self, y_val):
        y_val = check_array(y_val, ensure_2d=False, dtype="numeric", input_name="y_val")
        if y_val.ndim == 2 and y_val.shape[1] == 1:
            y_val = column_or_1d(y_val, warn=True)
        n_outputs = 1 if y_val.ndim == 1 else y_val.shape[1]
        if n_outputs != self.n_outputs_:
            raise ValueError(
                f"y_val has {n_outputs} outputs, but {self.__class__.__name__} is "
                f"fitted with {self.n_outputs_} outputs."
            )
        return y_val, y_val

    @available_if(lambda est: est._check_solver())
    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y, sample_weight=None):
        """Update the model with one epoch over the given data.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            The input data.
        y : ndarray of shape (n_samples,) or (n_samples, n_outputs)
            The target values.
        sample_weight : array-like of shape (n_samples,), default=None
            Sample weights.

        Returns
        -------
        self : object
            Trained MLP model.
        """
        with self._unchanged_on_failure():
            return self._fit(X, y, sample_weight=sample_weight, incremental=True)
