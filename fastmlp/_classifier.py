"""MLPClassifier: scikit-learn's classifier API on fastmlp's compiled trainer."""

import numpy as np
from sklearn.base import ClassifierMixin, _fit_context
from sklearn.metrics import accuracy_score
from sklearn.preprocessing import LabelBinarizer
from sklearn.utils._param_validation import StrOptions
from sklearn.utils.class_weight import compute_class_weight
from sklearn.utils.metaestimators import available_if
from sklearn.utils.multiclass import (
    _check_partial_fit_first_call,
    type_of_target,
    unique_labels,
)
from sklearn.utils.validation import check_array, check_is_fitted, column_or_1d, validate_data

from ._base import BaseMultilayerPerceptron


class MLPClassifier(ClassifierMixin, BaseMultilayerPerceptron):
    """Multi-layer perceptron classifier trained by compiled epoch kernels.

    A drop-in replacement for :class:`sklearn.neural_network.MLPClassifier`:
    same parameters, defaults, attributes and errors. It optimises the log-loss
    (or the squared error) of a softmax output for multiclass targets and of
    logistic outputs for binary and multilabel targets. float32 input is
    trained and predicted in float32.

    Parameters
    ----------
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
    loss : {'log_loss', 'squared_error'}, default='log_loss'
        Loss to minimise: scikit-learn's log-loss, or half the squared error
        between the output probabilities and the binarised labels,
        ``0.5 * mean_k (y_k - p_k)**2`` per row (the classic textbook
        network's loss).
    class_weight : dict, list of dict, 'balanced' or None, default=None
        Weights of the classes, as in scikit-learn's other classifiers: a
        dict ``{label: weight}`` (a list of dicts, one per column, for
        multilabel targets), or 'balanced' for
        ``n_samples / (n_classes * np.bincount(y))``. They multiply
        ``sample_weight`` in the training loss and in the validation score
        and loss. ``fit`` with ``class_weight='balanced'`` gives exactly the
        weights of ``fit`` with ``sample_weight=compute_sample_weight('balanced', y)``.
        ``partial_fit`` accepts a dict only.
    scoring : str, callable or None, default=None
        What early stopping maximises on the validation data: None for
        accuracy (scikit-learn's rule), 'loss' for minus the validation loss,
        or any scikit-learn scorer name or callable ``scorer(estimator, X, y)``.

    Attributes
    ----------
    classes_ : ndarray or list of ndarray
        Class labels.
    loss_ : float
        Loss at the end of the last epoch.
    best_loss_ : float or None
        Minimum training loss reached (None with early stopping).
    loss_curve_ : list of float
        Training loss after each epoch.
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
        Epochs run.
    n_layers_ : int
        Number of layers.
    n_outputs_ : int
        Number of outputs.
    out_activation_ : str
        Output activation ('softmax' or 'logistic').

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from fastmlp import MLPClassifier
    >>> X, y = load_digits(return_X_y=True)
    >>> clf = MLPClassifier(max_iter=30, random_state=0).fit(X / 16, y)
    >>> clf.score(X / 16, y) > 0.9
    True
    """

    _parameter_constraints: dict = {
        **BaseMultilayerPerceptron._parameter_constraints,
        "loss": [StrOptions({"log_loss", "squared_error"})],
        "class_weight": [dict, list, StrOptions({"balanced"}), None],
    }

    def __init__(
        self,
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
        loss="log_loss",
        class_weight=None,
        scoring=None,
    ):
        self.class_weight = class_weight
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
        if self._label_binarizer.y_type_ == "multiclass":
            return "softmax"
        return "logistic"

    def _validate_input(self, X, y, incremental, reset, ensure_all_finite=True):
        X, y = validate_data(
            self,
            X,
            y,
            accept_sparse=["csr", "csc"],
            ensure_all_finite=ensure_all_finite,
            multi_output=True,
            dtype=(np.float64, np.float32),
            reset=reset,
        )
        if y.ndim == 2 and y.shape[1] == 1:
            y = column_or_1d(y, warn=True)

        if (not hasattr(self, "classes_")) or (not self.warm_start and not incremental):
            self._label_binarizer = LabelBinarizer()
            self._label_binarizer.fit(y)
            self.classes_ = self._label_binarizer.classes_
        else:
            classes = unique_labels(y)
            if self.warm_start:
                if set(classes) != set(self.classes_):
                    raise ValueError(
                        "warm_start can only be used where `y` has the same "
                        "classes as in the previous call to fit. Previously "
                        f"got {self.classes_}, `y` has {classes}"
                    )
            elif len(np.setdiff1d(classes, self.classes_, assume_unique=True)):
                raise ValueError(
                    "`y` has classes not in `self.classes_`. "
                    f"`self.classes_` has {self.classes_}. 'y' has {classes}."
                )

        return X, self._binarized(y), y

    def _binarized(self, y):
        """``LabelBinarizer.transform(y)`` as booleans.

        Multiclass labels go through one comparison with ``classes_``: the
        binarizer builds a sparse matrix first, 5 ms of a fit on 60,000
        labels. Every label of ``y`` is one of ``classes_`` (checked above).
        """
        if self._label_binarizer.y_type_ == "multiclass" and y.ndim == 1:
            return y[:, None] == self.classes_[None, :]
        return self._label_binarizer.transform(y).astype(bool)

    def _validation_targets(self, Y):
        return self._label_binarizer.inverse_transform(Y)

    def _encode_validation_targets(self, y_val):
        y_val = check_array(y_val, ensure_2d=False, dtype=None, input_name="y_val")
        if y_val.ndim == 2 and y_val.shape[1] == 1:
            y_val = column_or_1d(y_val, warn=True)
        classes = unique_labels(y_val)
        if len(np.setdiff1d(classes, self.classes_, assume_unique=True)):
            raise ValueError(
                "`y_val` has classes not in `self.classes_`. "
                f"`self.classes_` has {self.classes_}. 'y_val' has {classes}."
            )
        return y_val, self._binarized(y_val)

    def _with_class_weight(self, labels_fit, labels, sample_weight, incremental=False):
        if self.class_weight is None:
            return sample_weight
        if incremental and isinstance(self.class_weight, str):
            raise ValueError(
                "class_weight 'balanced' is not supported for partial_fit. Compute the "
                "weights with sklearn.utils.class_weight.compute_class_weight('balanced', "
                "classes=classes, y=y) on a large enough sample of the targets and pass "
                "them as a dict."
            )
        weights = class_weight_of_rows(self.class_weight, labels_fit, labels)
        return weights if sample_weight is None else sample_weight * weights

    def predict(self, X):
        """Predict class labels.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            The input data.

        Returns
        -------
        y : ndarray of shape (n_samples,) or (n_samples, n_classes)
            The predicted classes.
        """
        check_is_fitted(self)
        return self._predict(X)

    def _predict(self, X, check_input=True):
        return self._predictions_from_outputs(
            self._forward_pass_fast(X, check_input=check_input))

    def _predictions_from_outputs(self, y_pred):
        if self.n_outputs_ == 1:
            y_pred = y_pred.ravel()
        return self._labels_from_outputs(y_pred)

    _score_function = staticmethod(accuracy_score)

    def _labels_from_outputs(self, y_pred):
        """``LabelBinarizer.inverse_transform``, without its overhead where simple."""
        binarizer = self._label_binarizer
        if binarizer.y_type_ == "multiclass":
            return self.classes_.take(y_pred.argmax(axis=1), mode="clip")
        if binarizer.y_type_ == "binary" and y_pred.ndim == 1 and len(self.classes_) == 2:
            threshold = (binarizer.pos_label + binarizer.neg_label) / 2.0
            return self.classes_[(y_pred > threshold).astype(int)]
        return binarizer.inverse_transform(y_pred)

    def _score(self, X, y, sample_weight=None):
        return self._score_with_function(X, y, sample_weight, accuracy_score)

    @available_if(lambda est: est._check_solver())
    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y, sample_weight=None, classes=None):
        """Update the model with one epoch over the given data.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            The input data.
        y : array-like of shape (n_samples,)
            The target values.
        sample_weight : array-like of shape (n_samples,), default=None
            Sample weights.
        classes : array of shape (n_classes,), default=None
            Every class across all calls; required on the first call.

        Returns
        -------
        self : object
            Trained MLP model.
        """
        with self._unchanged_on_failure():
            if _check_partial_fit_first_call(self, classes):
                self._label_binarizer = LabelBinarizer()
                if type_of_target(y).startswith("multilabel"):
                    self._label_binarizer.fit(y)
                else:
                    self._label_binarizer.fit(classes)
            return self._fit(X, y, sample_weight=sample_weight, incremental=True)

    def predict_log_proba(self, X):
        """Log of the probability estimates.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            The input data.

        Returns
        -------
        log_y_prob : ndarray of shape (n_samples, n_classes)
            ``log(predict_proba(X))``, columns ordered as ``classes_``.
        """
        y_prob = self.predict_proba(X)
        return np.log(y_prob, out=y_prob)

    def predict_proba(self, X):
        """Probability estimates.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            The input data.

        Returns
        -------
        y_prob : ndarray of shape (n_samples, n_classes)
            Probability of each class, columns ordered as ``classes_``.
        """
        check_is_fitted(self)
        y_pred = self._forward_pass_fast(X)
        if self.n_outputs_ == 1:
            y_pred = y_pred.ravel()
        if y_pred.ndim == 1:
            return np.vstack([1 - y_pred, y_pred]).T
        return y_pred

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_label = True
        return tags


def class_weight_of_rows(class_weight, labels_fit, labels):
    """Each row's class weight (the product over columns for multilabel targets).

    ``'balanced'`` weights come from the class frequencies of ``labels_fit``
    (the training targets), so validation rows get their classes' training
    weights. For the training rows themselves this is exactly
    ``sklearn.utils.class_weight.compute_sample_weight(class_weight, labels)``.

    Parameters
    ----------
    class_weight : dict, list of dict or 'balanced'
    labels_fit : ndarray of shape (n_fit,) or (n_fit, n_outputs)
    labels : ndarray of shape (n_rows,) or (n_rows, n_outputs)

    Returns
    -------
    weights : ndarray of float64, shape (n_rows,)
    """
    labels_fit = np.asarray(labels_fit)
    labels = np.asarray(labels)
    if labels_fit.ndim == 1:
        labels_fit, labels = labels_fit[:, None], labels[:, None]
        per_column = [class_weight]
    elif isinstance(class_weight, str):
        per_column = [class_weight] * labels_fit.shape[1]
    else:
        per_column = class_weight
        if not isinstance(per_column, list) or len(per_column) != labels_fit.shape[1]:
            raise ValueError(
                "For multi-output, number of elements in class_weight should match "
                "number of outputs."
            )
    weights = np.ones(labels.shape[0], dtype=np.float64)
    for k, column_weight in enumerate(per_column):
        classes = np.unique(labels_fit[:, k])
        class_weights = compute_class_weight(column_weight, classes=classes,
                                             y=labels_fit[:, k])
        index = np.minimum(np.searchsorted(classes, labels[:, k]), classes.shape[0] - 1)
        # A class the training targets lack (a multilabel column) weighs 1.
        weights *= np.where(classes[index] == labels[:, k], class_weights[index], 1.0)
    return weights
