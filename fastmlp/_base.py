"""Shared fit machinery of the estimators: parameters, validation, the epoch loop.

This layer runs once per epoch; the mini-batch loop lives in the compiled
kernels behind :class:`fastmlp._trainer.Trainer`. The control flow mirrors
scikit-learn's ``BaseMultilayerPerceptron`` step by step, including every draw
from the random state, so that both produce the same weights.
"""

import warnings
from abc import ABC, abstractmethod
from contextlib import contextmanager
from functools import partial
from itertools import chain
from numbers import Integral, Real

import numpy as np
import scipy.optimize
import scipy.sparse
from sklearn.base import BaseEstimator, _fit_context, is_classifier
from sklearn.callback import CallbackSupportMixin
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.utils import check_random_state, shuffle
from sklearn.utils._param_validation import Interval, Options, StrOptions
from sklearn.utils.fixes import _get_additional_lbfgs_options_dict
from sklearn.utils.optimize import _check_optimize_result
from sklearn.utils.validation import (
    _check_sample_weight,
    check_consistent_length,
    validate_data,
)

from ._callbacks import CALLBACK_ATTRIBUTES, FitTasks, snapshot_of
from ._finite_input import FiniteCheck
from ._kernels.activations import HIDDEN_ACTIVATIONS as ACTIVATION_TABLE_HIDDEN
from ._kernels.layout import DENSE, LayerSpec
from ._kernels.layout import MAXOUT as MAXOUT_KIND
from ._optimizers import AdamOptimizer, SGDOptimizer
from ._trainer import NO_DROPOUT, Trainer
from ._validation import ValidationSet, evaluate, make_scorer_for, validation_loss

_STOCHASTIC_SOLVERS = ["sgd", "adam"]
# scikit-learn's four, the element-wise ones fastmlp adds (the table in
# fastmlp/_kernels/activations.py), and the Maxout layer kind.
MAXOUT = "maxout"
HIDDEN_ACTIVATIONS = frozenset(ACTIVATION_TABLE_HIDDEN) | {MAXOUT}


class _ActivationList(Options):
    """A list or tuple of hidden activation names, one per hidden layer.

    An ``Options`` subclass because scikit-learn's validation accepts only its
    own constraint classes.
    """

    def __init__(self):
        super().__init__(type=(list, tuple), options=HIDDEN_ACTIVATIONS)

    def is_satisfied_by(self, val):
        return (isinstance(val, (list, tuple)) and len(val) > 0
                and all(isinstance(v, str) and v in HIDDEN_ACTIVATIONS for v in val))

    def __str__(self):
        names = ", ".join(repr(n) for n in sorted(HIDDEN_ACTIVATIONS))
        return f"a list or tuple of names among {{{names}}}"


class _Checkpoint:
    """An estimator's training state at one moment, to return to if training fails.

    ``fit`` and ``partial_fit`` take one on entry and restore it when they
    raise (bad input, divergence, an interrupt), so a fitted model is left
    exactly as it was and an unfitted one unfitted. The epoch loop takes one
    before each epoch and restores it on KeyboardInterrupt, so an interrupted
    fit ends at its last complete epoch. What fitting changes in place (the
    parameter buffer, the optimizer's arrays, ``loss_curve_``, the random
    state) is copied; every other attribute is kept by reference, as fitting
    only rebinds those.
    """

    def __init__(self, estimator):
        self._attrs = dict(estimator.__dict__)
        self._lists = {
            name: value[:] for name, value in self._attrs.items()
            if isinstance(value, list) and name not in CALLBACK_ATTRIBUTES
        }
        trainer = self._attrs.get("_trainer")
        self._params = None if trainer is None else trainer.params.copy()
        optimizer = self._attrs.get("_optimizer")
        self._optimizer_attrs = None if optimizer is None else {
            name: value.copy() if isinstance(value, np.ndarray) else value
            for name, value in optimizer.__dict__.items()
        }
        random_state = self._attrs.get("_random_state")
        self._random_state = (
            random_state.get_state() if isinstance(random_state, np.random.RandomState)
            else None
        )

    def restore(self, estimator):
        """Put ``estimator`` back in the state this checkpoint recorded.

        The callback machinery's attributes keep their current values: it
        tears its callbacks down after the fit, whatever the fit's outcome.
        """
        callback_state = {name: value for name, value in estimator.__dict__.items()
                          if name in CALLBACK_ATTRIBUTES}
        estimator.__dict__.clear()
        estimator.__dict__.update(self._attrs)
        estimator.__dict__.update(callback_state)
        for name, items in self._lists.items():
            self._attrs[name][:] = items
        if self._params is not None:
            self._attrs["_trainer"].params[:] = self._params
        if self._optimizer_attrs is not None:
            self._attrs["_optimizer"].__dict__.update(self._optimizer_attrs)
        if self._random_state is not None:
            self._attrs["_random_state"].set_state(self._random_state)


def _checked_hidden_layer_sizes(hidden_layer_sizes):
    """``hidden_layer_sizes`` as a list of ints, checked as scikit-learn checks it.

    Sizes must be positive (``ValueError``, scikit-learn's message) and
    integers: scikit-learn fails with ``TypeError`` when it draws the weights
    of a layer of 10.5 or ``True`` units; fastmlp raises the same type up
    front, naming the value, instead of rounding it.
    """
    if not hasattr(hidden_layer_sizes, "__iter__"):
        hidden_layer_sizes = [hidden_layer_sizes]
    hidden_layer_sizes = list(hidden_layer_sizes)
    if np.any(np.array(hidden_layer_sizes) <= 0):
        raise ValueError(
            "hidden_layer_sizes must be > 0, got %s." % hidden_layer_sizes
        )
    for size in hidden_layer_sizes:
        if isinstance(size, (bool, np.bool_)) or not isinstance(size, Integral):
            raise TypeError(
                "hidden_layer_sizes must hold integers (numbers of units), got "
                f"{size!r} of type {type(size).__name__}."
            )
    return [int(size) for size in hidden_layer_sizes]


def as_kernel_array(X, dtype):
    """``X`` as the kernels read it: C-contiguous dense, or CSR (never densified)."""
    if scipy.sparse.issparse(X):
        X = X.tocsr()
        return X if X.dtype == dtype else X.astype(dtype)
    return np.ascontiguousarray(X, dtype=dtype)


class BaseMultilayerPerceptron(CallbackSupportMixin, BaseEstimator, ABC):
    """Base class for fastmlp's classifier and regressor; use those instead."""

    _parameter_constraints: dict = {
        "hidden_layer_sizes": [
            "array-like",
            Interval(Integral, 1, None, closed="left"),
        ],
        "activation": [StrOptions(set(HIDDEN_ACTIVATIONS)), _ActivationList()],
        "solver": [StrOptions({"lbfgs", "sgd", "adam"})],
        "alpha": [Interval(Real, 0, None, closed="left")],
        "batch_size": [
            StrOptions({"auto"}),
            Interval(Integral, 1, None, closed="left"),
        ],
        "learning_rate": [StrOptions({"constant", "invscaling", "adaptive"})],
        "learning_rate_init": [Interval(Real, 0, None, closed="neither")],
        "power_t": [Interval(Real, 0, None, closed="left")],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "shuffle": ["boolean"],
        "random_state": ["random_state"],
        "tol": [Interval(Real, 0, None, closed="left")],
        "verbose": ["verbose"],
        "warm_start": ["boolean"],
        "momentum": [Interval(Real, 0, 1, closed="both")],
        "nesterovs_momentum": ["boolean"],
        "early_stopping": ["boolean"],
        "validation_fraction": [Interval(Real, 0, 1, closed="left")],
        "beta_1": [Interval(Real, 0, 1, closed="left")],
        "beta_2": [Interval(Real, 0, 1, closed="left")],
        "epsilon": [Interval(Real, 0, None, closed="neither")],
        "n_iter_no_change": [
            Interval(Integral, 1, None, closed="left"),
            Options(Real, {np.inf}),
        ],
        "max_fun": [Interval(Integral, 1, None, closed="left")],
        "n_jobs": [
            Interval(Integral, None, -1, closed="right"),
            Interval(Integral, 1, None, closed="left"),
            None,
        ],
        "residual": ["boolean"],
        "maxout_pieces": [Interval(Integral, 2, None, closed="left")],
        "dropout": [Interval(Real, 0, 1, closed="left")],
        "scoring": [str, callable, None],
    }

    @abstractmethod
    def __init__(self, hidden_layer_sizes, activation, solver, alpha, batch_size,
                 learning_rate, learning_rate_init, power_t, max_iter, loss, shuffle,
                 random_state, tol, verbose, warm_start, momentum, nesterovs_momentum,
                 early_stopping, validation_fraction, beta_1, beta_2, epsilon,
                 n_iter_no_change, max_fun, n_jobs=None, residual=False, maxout_pieces=2,
                 dropout=0.0, scoring=None):
        self.activation = activation
        self.solver = solver
        self.alpha = alpha
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.learning_rate_init = learning_rate_init
        self.power_t = power_t
        self.max_iter = max_iter
        self.loss = loss
        self.hidden_layer_sizes = hidden_layer_sizes
        self.shuffle = shuffle
        self.random_state = random_state
        self.tol = tol
        self.verbose = verbose
        self.warm_start = warm_start
        self.momentum = momentum
        self.nesterovs_momentum = nesterovs_momentum
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self.n_iter_no_change = n_iter_no_change
        self.max_fun = max_fun
        self.n_jobs = n_jobs
        self.residual = residual
        self.maxout_pieces = maxout_pieces
        self.dropout = dropout
        self.scoring = scoring

    # ------------------------------------------------------------------ model state

    def _loss_name(self):
        """Loss as the kernels know it (binary log loss for logistic outputs)."""
        if self.loss == "log_loss" and self.out_activation_ == "logistic":
            return "binary_log_loss"
        return self.loss

    def _hidden_activations(self, n_hidden):
        """One activation name per hidden layer, from ``activation``."""
        if isinstance(self.activation, str):
            return [self.activation] * n_hidden
        activations = list(self.activation)
        if len(activations) != n_hidden:
            raise ValueError(
                f"activation has {len(activations)} entries but hidden_layer_sizes has "
                f"{n_hidden} layers; give one activation per hidden layer."
            )
        return activations

    def _layer_specs(self, hidden_layer_sizes):
        """The network the parameters ask for: one LayerSpec per weight layer."""
        specs = []
        for units, name in zip(hidden_layer_sizes,
                               self._hidden_activations(len(hidden_layer_sizes))):
            is_maxout = name == MAXOUT
            specs.append(LayerSpec(
                kind=MAXOUT_KIND if is_maxout else DENSE, activation=name, units=units,
                pieces=self.maxout_pieces if is_maxout else 1,
                residual=bool(self.residual), dropout=self.dropout > 0))
        specs.append(LayerSpec(kind=DENSE, activation=self.out_activation_,
                               units=self.n_outputs_, pieces=1, residual=False,
                               dropout=False))
        return specs

    def _init_factors(self, specs):
        """Glorot factor per weight layer: 2 for logistic layers, 6 otherwise.

        scikit-learn picks one factor from its single ``activation`` for every
        layer, the output layer included; with one activation per layer, the
        output layer takes the last hidden layer's.
        """
        factors = [2.0 if spec.activation == "logistic" else 6.0 for spec in specs[:-1]]
        if isinstance(self.activation, str) or not factors:
            last = 2.0 if self.activation == "logistic" else 6.0
        else:
            last = factors[-1]
        return factors + [last]

    def _huber_delta(self):
        """Huber's delta as the trainer takes it (the regressor's ``huber_delta``)."""
        return 1.0

    def _new_trainer(self, n_features, specs, dtype, params=None):
        return Trainer(n_features, specs, dtype, self._loss_name(),
                       dropout_rate=self.dropout, params=params,
                       huber_delta=self._huber_delta())

    def _link_to_trainer(self, trainer):
        """Make ``coefs_`` and ``intercepts_`` views into ``trainer``'s buffer."""
        self._trainer = trainer
        self.coefs_ = trainer.coefs()
        self.intercepts_ = trainer.intercepts()
        # The view objects and their geometry: a user may replace an element of
        # the lists, or reassign a view's shape or dtype in place.
        self._views = tuple(
            (view, view.shape, view.strides, view.dtype)
            for view in self.coefs_ + self.intercepts_
        )

    def _trainer_in_sync(self):
        """Whether ``coefs_``/``intercepts_`` are still the trainer's views.

        Runs on every prediction, so it compares object identities and a few
        attributes rather than building anything (a view object keeps its
        memory for life; only its shape, strides or dtype can be reassigned).
        """
        views = getattr(self, "_views", None)
        if getattr(self, "_trainer", None) is None or views is None:
            return False
        coefs, intercepts = self.coefs_, self.intercepts_
        if len(coefs) + len(intercepts) != len(views):
            return False
        for array, (view, shape, strides, dtype) in zip(chain(coefs, intercepts), views):
            if (array is not view or array.shape != shape or array.strides != strides
                    or array.dtype != dtype):
                return False
        return True

    def __sklearn_is_fitted__(self):
        """Whether ``fit`` has run (``check_is_fitted``'s hook; it is cheaper than
        scanning every attribute, which a one-row ``predict`` would notice)."""
        return "coefs_" in self.__dict__

    def _trainer_from_attributes(self):
        """A trainer holding the current ``coefs_``/``intercepts_`` values.

        Normally the estimator's own trainer; a fresh one when a user replaced
        the attribute lists (or after unpickling), so predictions always use the
        weights the attributes show.
        """
        if self._trainer_in_sync():
            return self._trainer
        specs = getattr(self, "_specs", None)
        if specs is None:
            # Fitted before the network was recorded: one shared activation.
            specs = self._layer_specs([c.shape[1] for c in self.coefs_[:-1]])
        dtype = np.result_type(*self.coefs_)
        packed = np.concatenate(
            [np.ravel(c) for c in self.coefs_] + [np.ravel(b) for b in self.intercepts_]
        )
        return Trainer(self.coefs_[0].shape[0], specs, dtype, self._loss_name(),
                       dropout_rate=getattr(self, "_dropout_rate", 0.0), params=packed,
                       huber_delta=self._huber_delta())

    def __setstate__(self, state):
        super().__setstate__(state)
        # Pickling stores each view as its own array: relink them to one buffer.
        if "coefs_" in state:
            self._link_to_trainer(self._trainer_from_attributes())

    def __getstate__(self):
        # A copy: for classes outside sklearn, the base returns __dict__ itself.
        state = dict(super().__getstate__())
        state.pop("_trainer", None)
        state.pop("_views", None)
        return state

    @contextmanager
    def _unchanged_on_failure(self):
        """Leave the estimator as it was when the enclosed fit raises.

        Except when a callback raised after complete epochs: the model of the
        last complete epoch stays (see ``fastmlp._callbacks``).
        """
        checkpoint = _Checkpoint(self)
        try:
            yield
        except BaseException as exc:
            if self.__dict__.pop("_keep_fit_on_error", None) is not exc:
                checkpoint.restore(self)
            raise

    # ------------------------------------------------------------------ fitting

    def _initialize(self, y, layer_units, dtype):
        """Set the attributes of a first fit and draw the initial weights."""
        self.n_iter_ = 0
        self.t_ = 0
        self.n_outputs_ = y.shape[1]
        self.n_layers_ = len(layer_units)
        self.out_activation_ = self._output_activation()

        specs = self._layer_specs(layer_units[1:-1])
        trainer = self._new_trainer(layer_units[0], specs, dtype)
        trainer.initialize(self._random_state, self._init_factors(specs))
        self._specs = trainer.specs
        self._dropout_rate = trainer.dropout_rate
        self._link_to_trainer(trainer)
        self._best_params = trainer.params.copy()
        self.validation_loss_curve_ = None

        if self.solver in _STOCHASTIC_SOLVERS:
            self.loss_curve_ = []
            self._no_improvement_count = 0
            if self.early_stopping:
                self.validation_scores_ = []
                self.best_validation_score_ = -np.inf
                self.best_loss_ = None
            else:
                self.best_loss_ = np.inf
                self.validation_scores_ = None
                self.best_validation_score_ = None

    @abstractmethod
    def _output_activation(self):
        """Name of the output activation for the targets seen in ``_validate_input``."""

    def _fit(self, X, y, sample_weight=None, incremental=False, X_val=None, y_val=None,
             sample_weight_val=None):
        hidden_layer_sizes = _checked_hidden_layer_sizes(self.hidden_layer_sizes)
        self._hidden_activations(len(hidden_layer_sizes))
        if self.dropout > 0 and self.solver == "lbfgs":
            raise ValueError(
                "dropout is only available with the stochastic solvers ('sgd', "
                "'adam'): L-BFGS needs a deterministic loss. Use dropout=0.0 or "
                "another solver."
            )
        first_pass = not hasattr(self, "coefs_") or (
            not self.warm_start and not incremental
        )
        finite_check = FiniteCheck(self, X, deferred=self.solver in _STOCHASTIC_SOLVERS)
        with finite_check.first_on_failure():
            return self._fit_data(X, y, sample_weight, incremental, hidden_layer_sizes,
                                  first_pass, X_val, y_val, sample_weight_val, finite_check)

    def _fit_data(self, X, y, sample_weight, incremental, hidden_layer_sizes, first_pass,
                  X_val, y_val, sample_weight_val, finite_check):
        """``_fit`` once the parameters are checked: validate the data and train.

        ``finite_check`` is the test of ``X`` for NaN and infinity; the
        stochastic solvers make it in their first epoch.
        """
        X_given, y_given, sample_weight_given = X, y, sample_weight
        X, y, labels = self._validate_input(X, y, incremental, reset=first_pass,
                                            ensure_all_finite=finite_check.ensure_all_finite)
        finite_check.validated(X)
        if sample_weight is not None:
            sample_weight = _check_sample_weight(sample_weight, X, ensure_non_negative=True)
        sample_weight = self._with_class_weight(labels, labels, sample_weight, incremental)
        if y.ndim == 1:
            y = y.reshape((-1, 1))

        n_features = X.shape[1]
        if not first_pass and y.shape[1] != self.coefs_[-1].shape[1]:
            # The kernels read as many target columns as the network has outputs.
            raise ValueError(
                f"y has {y.shape[1]} outputs, but {self.__class__.__name__} is "
                f"fitted with {self.coefs_[-1].shape[1]} outputs."
            )
        self.n_outputs_ = y.shape[1]
        layer_units = [n_features] + hidden_layer_sizes + [self.n_outputs_]
        self._random_state = check_random_state(self.random_state)

        if first_pass:
            self._initialize(y, layer_units, X.dtype)
        else:
            if not self._trainer_in_sync():
                self._link_to_trainer(self._trainer_from_attributes())
            self._continue_with_current_network(hidden_layer_sizes)

        # Kernels run in the parameters' dtype on C-contiguous arrays.
        dtype = self._trainer.dtype
        X = as_kernel_array(X, dtype)
        Y = np.ascontiguousarray(y, dtype=dtype)
        if sample_weight is not None:
            sample_weight = np.ascontiguousarray(sample_weight, dtype=dtype)
        validation = self._validation_set(X_val, y_val, sample_weight_val, labels, dtype)

        if self.solver in _STOCHASTIC_SOLVERS:
            tasks = FitTasks(self, X_given, y_given, sample_weight_given,
                             1 if incremental else self.max_iter, "epoch")
            self._fit_stochastic(X, Y, sample_weight, incremental, validation, tasks,
                                 finite_check)
        else:
            tasks = FitTasks(self, X_given, y_given, sample_weight_given,
                             self.max_iter + 1, "iteration")
            self._fit_lbfgs(X, Y, sample_weight, validation, tasks)

        if not np.isfinite(self._trainer.params).all():
            raise ValueError(
                "Solver produced non-finite parameter weights. The input data may"
                " contain large values and need to be preprocessed."
            )
        tasks.finish()
        return self

    def _with_class_weight(self, labels_fit, labels, sample_weight, incremental=False):
        """``sample_weight`` times the class weights of ``labels`` (the classifier's
        ``class_weight``; the regressor has none)."""
        return sample_weight

    def _validation_set(self, X_val, y_val, sample_weight_val, labels_fit, dtype):
        """The caller's validation data, checked as the training data is; None without it."""
        if X_val is None and y_val is None:
            if sample_weight_val is not None:
                raise ValueError(
                    "sample_weight_val is provided, but X_val and y_val were not provided."
                )
            return None
        if y_val is None:
            raise ValueError("X_val is provided, but y_val was not provided.")
        if X_val is None:
            raise ValueError("y_val is provided, but X_val was not provided.")
        X_val = validate_data(self, X_val, accept_sparse=["csr", "csc"],
                              dtype=(np.float64, np.float32), reset=False)
        y_val, Y_val = self._encode_validation_targets(y_val)
        check_consistent_length(X_val, y_val)
        weights = None
        if sample_weight_val is not None:
            weights = _check_sample_weight(sample_weight_val, X_val, ensure_non_negative=True)
        weights = self._with_class_weight(labels_fit, y_val, weights)
        return ValidationSet(
            X=as_kernel_array(X_val, dtype), y=y_val,
            Y=np.ascontiguousarray(Y_val.reshape(Y_val.shape[0], -1), dtype=dtype),
            weights=None if weights is None else np.ascontiguousarray(weights, dtype=dtype),
        )

    @abstractmethod
    def _encode_validation_targets(self, y_val):
        """``y_val`` checked against the fitted targets, as labels and in the loss's form.

        Returns
        -------
        y_val : ndarray
            What ``score`` compares predictions with.
        Y_val : ndarray of shape (n_rows, n_outputs)
            What the loss reads.
        """

    def _continue_with_current_network(self, hidden_layer_sizes):
        """Before a warm-started or partial fit, adopt parameter changes that
        keep the weights' shapes (activations, residual, dropout)."""
        specs = tuple(self._layer_specs(hidden_layer_sizes))
        trainer = self._trainer
        if (specs == trainer.specs and self.dropout == trainer.dropout_rate
                and self._loss_name() == trainer.loss
                and self._huber_delta() == trainer.huber_delta):
            return
        if [s.units * s.pieces for s in specs] != [s.units * s.pieces for s in trainer.specs]:
            raise ValueError(
                "The network's shape changed since the last fit (hidden_layer_sizes, "
                "activation or maxout_pieces); fit it anew with warm_start=False."
            )
        self._link_to_trainer(self._new_trainer(trainer.n_features, specs, trainer.dtype,
                                                params=trainer.params))
        self._specs = self._trainer.specs
        self._dropout_rate = self._trainer.dropout_rate

    def _fit_lbfgs(self, X, Y, sample_weight, validation, tasks):
        """Minimise the penalised loss over the flat buffer with scipy's L-BFGS-B.

        With validation data or callbacks, scipy reports each iteration: the
        validation loss is recorded and the callbacks see one task per
        iteration (a callback may end the minimisation early).
        """
        trainer = self._trainer
        iprint = 1 if (self.verbose is True or self.verbose >= 1) else -1
        if validation is not None and getattr(self, "validation_loss_curve_", None) is None:
            self.validation_loss_curve_ = []
        stopped_by_callback = False
        self.n_iter_ = 0

        def loss_and_gradient(packed):
            # A fresh gradient array per call: scipy may keep the previous one.
            return trainer.loss_and_gradient(packed, X, Y, sample_weight, self.alpha,
                                             n_jobs=self.n_jobs)

        def after_iteration(intermediate_result):
            nonlocal stopped_by_callback
            # The loss function copies each point it evaluates into the
            # buffer, so the buffer may hold the iterate for now.
            trainer.params[:] = intermediate_result.x
            self.n_iter_ += 1
            self.loss_ = np.float64(intermediate_result.fun)
            if validation is not None:
                self.validation_loss_curve_.append(validation_loss(self, validation)[0])
            if tasks.end(partial(snapshot_of, self)):
                stopped_by_callback = True
                raise StopIteration
            tasks.begin(partial(snapshot_of, self))

        reports = validation is not None or tasks.active
        tasks.begin(partial(snapshot_of, self))
        opt_res = scipy.optimize.minimize(
            loss_and_gradient,
            trainer.params.copy(),
            method="L-BFGS-B",
            jac=True,
            options={
                "maxfun": self.max_fun,
                "maxiter": self.max_iter,
                "gtol": self.tol,
                **_get_additional_lbfgs_options_dict("iprint", iprint),
            },
            callback=after_iteration if reports else None,
        )
        tasks.close_unrun()
        if stopped_by_callback:
            self.n_iter_ = int(opt_res.nit)
        else:
            self.n_iter_ = _check_optimize_result("lbfgs", opt_res, self.max_iter)
        self.loss_ = np.float64(opt_res.fun)
        trainer.params[:] = opt_res.x

    def _new_optimizer(self):
        n_params, dtype = self._trainer.n_params, self._trainer.dtype
        if self.solver == "sgd":
            return SGDOptimizer(n_params, dtype, self.learning_rate_init, self.learning_rate,
                                self.momentum, self.nesterovs_momentum, self.power_t)
        return AdamOptimizer(n_params, dtype, self.learning_rate_init, self.beta_1,
                             self.beta_2, self.epsilon)

    def _split_validation(self, Y, sample_weight):
        """Row indices for training and validation, drawn as scikit-learn's split."""
        should_stratify = is_classifier(self) and self.n_outputs_ == 1
        # scikit-learn stratifies on the binarised labels as booleans, and its
        # "least populated class" error names them so ('True').
        stratify = Y.astype(bool) if should_stratify else None
        train_idx, val_idx = train_test_split(
            np.arange(Y.shape[0]),
            random_state=self._random_state,
            test_size=self.validation_fraction,
            stratify=stratify,
        )
        if val_idx.shape[0] < 2:
            raise ValueError(
                "The validation set is too small. Increase 'validation_fraction' "
                "or the size of your dataset."
            )
        return train_idx, val_idx

    def _validation_targets(self, Y):
        """Targets in the form ``_score`` expects; overridden by the classifier."""
        return Y

    def _fit_stochastic(self, X, Y, sample_weight, incremental, validation, tasks,
                        finite_check):
        trainer = self._trainer
        if not incremental or not hasattr(self, "_optimizer"):
            self._optimizer = self._new_optimizer()
        optimizer = self._optimizer

        if self.early_stopping and incremental:
            raise ValueError("partial_fit does not support early_stopping=True")
        early_stopping = self.early_stopping
        if early_stopping and validation is None:
            train_idx, val_idx = self._split_validation(Y, sample_weight)
            X_held_out = X[val_idx]
            if finite_check.pending:
                # The epochs read only the training rows.
                finite_check.run_on(X_held_out)
            validation = ValidationSet(
                X=X_held_out, y=self._validation_targets(Y[val_idx]), Y=Y[val_idx],
                weights=None if sample_weight is None else sample_weight[val_idx])
        else:
            train_idx = np.arange(X.shape[0], dtype=np.int64)
        scorer = None
        if validation is not None:
            scorer = make_scorer_for(self)
            if getattr(self, "validation_scores_", None) is None:
                self.validation_scores_ = []
            if getattr(self, "validation_loss_curve_", None) is None:
                self.validation_loss_curve_ = []
        snapshot = partial(snapshot_of, self)

        n_samples = train_idx.shape[0]
        sample_idx = np.arange(n_samples, dtype=int)
        if self.batch_size == "auto":
            batch_size = min(200, n_samples)
        else:
            if self.batch_size > n_samples:
                warnings.warn(
                    "Got `batch_size` less than 1 or larger than "
                    "sample size. It is going to be clipped"
                )
            batch_size = int(np.clip(self.batch_size, 1, n_samples))

        last_complete_epoch = None
        try:
            self.n_iter_ = 0
            for _ in range(self.max_iter):
                last_complete_epoch = _Checkpoint(self)
                tasks.begin(snapshot)
                while True:
                    epoch_idx = sample_idx
                    if self.shuffle:
                        epoch_idx = shuffle(sample_idx, random_state=self._random_state)
                    order = np.ascontiguousarray(train_idx[epoch_idx], dtype=np.int64)
                    summed_loss = trainer.run_epoch(
                        X, Y, sample_weight, order, batch_size, self.alpha, optimizer,
                        n_jobs=self.n_jobs, dropout_seed=self._dropout_seed(trainer),
                        check_input=finite_check.pending,
                    )
                    if summed_loss is not None:
                        break
                    # A product that is not finite: NaN or infinity in X, whose
                    # error this raises, or finite values too large for the
                    # dtype. Then the epoch is trained again without the test.
                    finite_check.run()
                    last_complete_epoch.restore(self)
                    last_complete_epoch = _Checkpoint(self)
                sample_idx = epoch_idx
                finite_check.settle()

                self.n_iter_ += 1
                # np.float64, as scikit-learn's loss_ and loss_curve_ entries.
                self.loss_ = np.float64(summed_loss / n_samples)
                self.t_ += n_samples
                self.loss_curve_.append(self.loss_)
                if self.verbose:
                    print("Iteration %d, loss = %.8f" % (self.n_iter_, self.loss_))

                self._update_no_improvement_count(early_stopping, validation, scorer)
                optimizer.iteration_ends(self.t_)

                converged = False
                if self._no_improvement_count > self.n_iter_no_change:
                    if early_stopping:
                        msg = (
                            "Validation score did not improve more than "
                            "tol=%f for %d consecutive epochs."
                            % (self.tol, self.n_iter_no_change)
                        )
                    else:
                        msg = (
                            "Training loss did not improve more than tol=%f"
                            " for %d consecutive epochs."
                            % (self.tol, self.n_iter_no_change)
                        )
                    converged = optimizer.trigger_stopping(msg, self.verbose)
                    if not converged:
                        self._no_improvement_count = 0

                if not (converged or incremental) and self.n_iter_ == self.max_iter:
                    warnings.warn(
                        "Stochastic Optimizer: Maximum iterations (%d) "
                        "reached and the optimization hasn't converged yet."
                        % self.max_iter,
                        ConvergenceWarning,
                    )
                if tasks.end(snapshot) or converged or incremental:
                    break
        except KeyboardInterrupt:
            # Drop the unfinished epoch; with none complete, let the caller
            # put back the state from before the call.
            if last_complete_epoch is None:
                raise
            last_complete_epoch.restore(self)
            if self.n_iter_ == 0:
                raise
            warnings.warn("Training interrupted by user.")

        if early_stopping:
            trainer.params[:] = self._best_params

    def _dropout_seed(self, trainer):
        """This epoch's dropout seed, drawn from the random state only when
        some layer drops units (so fits without dropout draw as scikit-learn)."""
        if not trainer.has_dropout:
            return NO_DROPOUT
        return int(self._random_state.randint(np.iinfo(np.int64).max, dtype=np.int64))

    def _update_no_improvement_count(self, early_stopping, validation, scorer):
        if validation is not None:
            val_loss, val_score = evaluate(self, validation, scorer)
            self.validation_loss_curve_.append(val_loss)
            self.validation_scores_.append(val_score)
            if self.verbose:
                print("Validation score: %f" % self.validation_scores_[-1])
        if early_stopping:
            last_valid_score = self.validation_scores_[-1]
            if last_valid_score < (self.best_validation_score_ + self.tol):
                self._no_improvement_count += 1
            else:
                self._no_improvement_count = 0
            if last_valid_score > self.best_validation_score_:
                self.best_validation_score_ = last_valid_score
                self._best_params = self._trainer.params.copy()
        else:
            if self.loss_curve_[-1] > self.best_loss_ - self.tol:
                self._no_improvement_count += 1
            else:
                self._no_improvement_count = 0
            if self.loss_curve_[-1] < self.best_loss_:
                self.best_loss_ = self.loss_curve_[-1]

    def _check_solver(self):
        if self.solver not in _STOCHASTIC_SOLVERS:
            raise AttributeError(
                "partial_fit is only available for stochastic"
                " optimizers. %s is not stochastic." % self.solver
            )
        return True

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None, *, X_val=None, y_val=None,
            sample_weight_val=None):
        """Fit the model to data matrix X and target(s) y.

        Parameters
        ----------
        X : ndarray of shape (n_samples, n_features)
            The input data.
        y : ndarray of shape (n_samples,) or (n_samples, n_outputs)
            The target values (class labels in classification, real numbers in
            regression).
        sample_weight : array-like of shape (n_samples,), default=None
            Sample weights.
        X_val : array-like of shape (n_val, n_features), default=None
            Validation inputs. With ``early_stopping=True``, the stopping rule
            scores them (see ``scoring``) instead of holding out
            ``validation_fraction`` of ``X``; without it, they are scored
            and their loss recorded after each epoch, without stopping.
            Requires ``y_val``.
        y_val : array-like of shape (n_val,) or (n_val, n_outputs), default=None
            Validation targets.
        sample_weight_val : array-like of shape (n_val,), default=None
            Weights of the validation rows.

        Returns
        -------
        self : object
            Returns a trained MLP model.
        """
        with self._unchanged_on_failure():
            return self._fit(X, y, sample_weight=sample_weight, incremental=False,
                             X_val=X_val, y_val=y_val, sample_weight_val=sample_weight_val)

    # ------------------------------------------------------------------ predicting

    def _is_plain_input(self, X):
        """Cheap check that ``X`` is what ``validate_data`` would pass unchanged,
        except for its values.

        A float ndarray of the fitted width, no feature names on either side:
        then the full validation (tens of microseconds, most of a one-row
        prediction; milliseconds on large inputs) is skipped, and the forward
        pass tests the values for NaN and infinity as it reads them. Anything
        else goes through ``validate_data``, which raises scikit-learn's errors
        and warnings.
        """
        return (
            type(X) is np.ndarray
            and X.ndim == 2
            and X.dtype in (np.float32, np.float64)
            and X.shape[0] > 0
            and X.shape[1] == self.n_features_in_
            and not hasattr(self, "feature_names_in_")
        )

    def _forward_pass_fast(self, X, check_input=True):
        """Output-layer activations for ``X``, shape (n_samples, n_outputs).

        They come in the dtype NumPy gives the product of ``X`` and the
        weights, as in scikit-learn: float64 input to a float32 model is
        predicted in float64 (with the weights cast up), float32 input to a
        float32 model in float32.
        """
        trainer = self._trainer_from_attributes()
        if check_input and self._is_plain_input(X):
            trainer_for_X = self._trainer_for(trainer, X.dtype)
            # float32 input to a float64 model is read in float64, as NumPy would.
            y_pred = trainer_for_X.predict(as_kernel_array(X, trainer_for_X.dtype),
                                           n_jobs=self.n_jobs, check_finite=True)
            if y_pred is not None:
                return y_pred
            # A NaN or infinity: validate_data raises the error scikit-learn raises.
        if check_input:
            X = validate_data(self, X, accept_sparse=["csr", "csc"], reset=False,
                              dtype=(np.float64, np.float32))
        trainer = self._trainer_for(trainer, X.dtype)
        return trainer.predict(as_kernel_array(X, trainer.dtype), n_jobs=self.n_jobs)

    @staticmethod
    def _trainer_for(trainer, input_dtype):
        """``trainer``, or a float64 copy of it when float64 input meets a float32 model."""
        dtype = np.result_type(input_dtype, trainer.dtype)
        return trainer if dtype == trainer.dtype else trainer.astype(dtype)

    def _score_with_function(self, X, y, sample_weight, score_function):
        """Score without input validation (keeps feature names intact)."""
        y_pred = self._predict(X, check_input=False)
        if np.issubdtype(y_pred.dtype, np.floating) and not np.isfinite(y_pred).all():
            return np.nan
        return score_function(y, y_pred, sample_weight=sample_weight)

    def _score_outputs(self, outputs, y, sample_weight):
        """``score`` of output activations already computed (the validation pass)."""
        y_pred = self._predictions_from_outputs(outputs)
        if np.issubdtype(y_pred.dtype, np.floating) and not np.isfinite(y_pred).all():
            return np.nan
        return self._score_function(y, y_pred, sample_weight=sample_weight)

    def to_sklearn(self):
        """The equivalent fitted scikit-learn estimator.

        Returns a :class:`sklearn.neural_network.MLPClassifier` or
        :class:`~sklearn.neural_network.MLPRegressor` holding copies of this
        model's weights and fitted attributes, whose ``predict`` (and
        ``predict_proba``) equal this model's to round-off. Training-only
        options scikit-learn lacks (``dropout``, ``class_weight``, the added
        losses, ``scoring``) shape the weights but not the forward pass; the
        returned estimator has scikit-learn's parameters, so refitting it
        trains scikit-learn's way.

        Returns
        -------
        estimator : sklearn.neural_network.MLPClassifier or MLPRegressor

        Raises
        ------
        ValueError
            When scikit-learn cannot compute this network's forward pass: an
            activation it lacks, different activations per layer, Maxout
            layers or residual connections. The message names the feature.
        sklearn.exceptions.NotFittedError
            When the model is not fitted.
        """
        from ._export import to_sklearn

        return to_sklearn(self)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        return tags
