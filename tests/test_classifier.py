"""Estimator behaviour of :class:`fastmlp.MLPClassifier`, against scikit-learn's.

Label handling, the prediction methods and their consistency, scoring,
pickling (predictions bit for bit, parameters still views into one buffer),
cloning, user-replaced weights, warnings, verbose output and errors: wherever
scikit-learn defines the behaviour, the same calls on both estimators must
give the same result, warning or exception (type and message).
"""

import pickle
import re
import warnings

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.base import clone
from sklearn.exceptions import ConvergenceWarning, NotFittedError
from sklearn.metrics import accuracy_score
from sklearn.neural_network import MLPClassifier as SkMLPClassifier

from fastmlp import MLPClassifier
from fastmlp._base import HIDDEN_ACTIVATIONS

PARAMS = dict(hidden_layer_sizes=(8,), max_iter=5, batch_size=32, random_state=0)


def fit(estimator_class, X, y, **params):
    est = estimator_class(**{**PARAMS, **params})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return est.fit(X, y)


def fit_both(X, y, **params):
    return fit(SkMLPClassifier, X, y, **params), fit(MLPClassifier, X, y, **params)


def buffer_views(est):
    return est.coefs_ + est.intercepts_


def assert_views_of_one_buffer(est):
    params = est._trainer.params
    assert all(np.shares_memory(a, params) for a in buffer_views(est))
    assert np.shares_memory(est.coefs_[0], params)


# --------------------------------------------------------------------- labels

LABELINGS = {
    "str": lambda y: np.array(["ant", "bee", "cat"])[y],
    "object": lambda y: np.array(["ant", "bee", "cat"], dtype=object)[y],
    "negative-int": lambda y: y - 1,
    "sparse-int": lambda y: np.array([3, 10, 100])[y],
    "float": lambda y: y * 2.0,  # integral floats: fractional ones are "continuous"
    "binary-bool": lambda y: y > 0,
    "binary-str": lambda y: np.where(y > 0, "yes", "no"),
    "binary-int": lambda y: np.where(y > 0, 7, -3),
}


@pytest.mark.parametrize("labeling", LABELINGS)
def test_label_types_match_sklearn(multiclass_data, labeling):
    X, y = multiclass_data
    y = LABELINGS[labeling](y)
    sk, fm = fit_both(X, y)
    assert_array_equal(fm.classes_, sk.classes_)
    assert fm.classes_.dtype == sk.classes_.dtype
    predicted = fm.predict(X)
    assert predicted.dtype == sk.predict(X).dtype
    assert_array_equal(predicted, sk.predict(X))
    assert set(predicted) <= set(fm.classes_)


@pytest.mark.parametrize("labeling", LABELINGS)
def test_binarized_targets_equal_the_label_binarizers(multiclass_data, labeling):
    # Multiclass labels skip LabelBinarizer.transform: the same targets, bit
    # for bit, on the fit labels and on a subset of them (a validation set).
    from sklearn.preprocessing import LabelBinarizer

    X, y = multiclass_data
    y = LABELINGS[labeling](y)
    est = fit(MLPClassifier, X, y, max_iter=1)
    binarizer = LabelBinarizer().fit(y)
    for labels in (y, y[y != y[0]]):
        expected = binarizer.transform(labels).astype(bool)
        assert_array_equal(est._binarized(labels), expected)
        assert est._binarized(labels).dtype == bool


def test_string_labels(string_label_data):
    X, y = string_label_data
    est = fit(MLPClassifier, X, y, max_iter=60, learning_rate_init=0.01)
    assert_array_equal(est.classes_, ["ant", "bee", "cat"])
    assert est.score(X, y) > 0.8


# ---------------------------------------------------------------- predictions


def test_prediction_methods_are_consistent(classification_data):
    X, y = classification_data
    est = fit(MLPClassifier, X, y)
    n_classes = len(np.unique(y))
    proba = est.predict_proba(X)
    assert proba.shape == (X.shape[0], n_classes)
    assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-12)
    assert ((proba >= 0) & (proba <= 1)).all()
    assert_allclose(est.predict_log_proba(X), np.log(proba), rtol=1e-12)
    predicted = est.predict(X)
    assert predicted.shape == (X.shape[0],)
    assert_array_equal(predicted, est.classes_[np.argmax(proba, axis=1)])
    # One row at a time gives the same as all rows at once.
    assert_allclose(np.vstack([est.predict_proba(X[i:i + 1]) for i in range(5)]),
                    proba[:5], rtol=1e-12)


def test_predictions_match_sklearn(classification_data):
    X, y = classification_data
    sk, fm = fit_both(X, y)
    assert_allclose(fm.predict_proba(X), sk.predict_proba(X), rtol=1e-6)
    assert_allclose(fm.predict_log_proba(X), sk.predict_log_proba(X), rtol=1e-6)
    assert_array_equal(fm.predict(X), sk.predict(X))


def test_multilabel_predictions(multiclass_data):
    X, y = multiclass_data
    Y = np.column_stack([y == 0, y == 1, X[:, 0] > 0]).astype(int)
    sk, fm = fit_both(X, Y)
    assert fm.predict(X).shape == Y.shape
    assert_array_equal(fm.predict(X), sk.predict(X))
    assert_allclose(fm.predict_proba(X), sk.predict_proba(X), rtol=1e-6)


def test_score_is_accuracy(multiclass_data):
    X, y = multiclass_data
    est = fit(MLPClassifier, X, y)
    sample_weight = np.random.RandomState(0).uniform(0, 2, X.shape[0])
    assert est.score(X, y) == accuracy_score(y, est.predict(X))
    assert est.score(X, y, sample_weight=sample_weight) == accuracy_score(
        y, est.predict(X), sample_weight=sample_weight
    )


def test_predict_before_fit_raises():
    with pytest.raises(NotFittedError):
        MLPClassifier().predict(np.zeros((2, 3)))
    with pytest.raises(NotFittedError):
        MLPClassifier().predict_proba(np.zeros((2, 3)))


# ------------------------------------------------------------- model state


def test_parameters_are_views_of_one_buffer(multiclass_data):
    X, y = multiclass_data
    est = fit(MLPClassifier, X, y, hidden_layer_sizes=(6, 5))
    assert_views_of_one_buffer(est)
    assert est._trainer.params.shape == (sum(a.size for a in buffer_views(est)),)


def test_pickle_round_trip(classification_data):
    X, y = classification_data
    est = fit(MLPClassifier, X, y, hidden_layer_sizes=(6, 5))
    proba = est.predict_proba(X)

    restored = pickle.loads(pickle.dumps(est))

    assert_array_equal(restored.predict_proba(X), proba)
    assert_array_equal(restored.predict(X), est.predict(X))
    assert_views_of_one_buffer(restored)
    for a, b in zip(buffer_views(restored), buffer_views(est)):
        assert_array_equal(a, b)


def test_pickling_leaves_the_estimator_untouched(multiclass_data):
    X, y = multiclass_data
    est = fit(MLPClassifier, X, y)
    attributes = set(vars(est))
    pickle.dumps(est)
    assert set(vars(est)) == attributes
    assert_views_of_one_buffer(est)


def test_training_continues_identically_after_unpickling(multiclass_data):
    X, y = multiclass_data
    est = fit(MLPClassifier, X, y, solver="sgd", learning_rate_init=0.1)
    restored = pickle.loads(pickle.dumps(est))
    for model in (est, restored):
        model.partial_fit(X, y)
    for a, b in zip(buffer_views(restored), buffer_views(est)):
        assert_array_equal(a, b)
    assert_views_of_one_buffer(restored)


def test_get_params_and_clone_match_sklearn():
    params = dict(hidden_layer_sizes=(4, 3), activation="tanh", solver="sgd", alpha=0.1,
                  batch_size=10, learning_rate="adaptive", momentum=0.5, random_state=2)
    fm = MLPClassifier(**params)
    # fastmlp's additions to the signature, after scikit-learn's: the thread
    # policy, the layer options and the training controls, whose defaults are
    # scikit-learn's network and training.
    additions = {"n_jobs": None, "residual": False, "maxout_pieces": 2, "dropout": 0.0,
                 "loss": "log_loss", "class_weight": None, "scoring": None}
    assert fm.get_params() == {**SkMLPClassifier(**params).get_params(), **additions}
    assert MLPClassifier().get_params() == {**SkMLPClassifier().get_params(), **additions}
    cloned = clone(fm)
    assert cloned is not fm and cloned.get_params() == fm.get_params()


def test_clone_of_fitted_estimator_is_unfitted(multiclass_data):
    X, y = multiclass_data
    cloned = clone(fit(MLPClassifier, X, y))
    assert not hasattr(cloned, "coefs_")
    with pytest.raises(NotFittedError):
        cloned.predict(X)


def _scaled_copies(est):
    est.coefs_ = [2.0 * c for c in est.coefs_]
    est.intercepts_ = [b - 0.5 for b in est.intercepts_]


def _transposed_square_view(est):
    # coefs_[0] is square: its transpose starts at the same address.
    est.coefs_ = [est.coefs_[0].T, est.coefs_[1]]


def _replaced_element(est):
    est.coefs_[1] = np.ones_like(est.coefs_[1])


def _modified_in_place(est):
    est.coefs_[0] *= -1.0
    est.intercepts_[0][:] = 0.25


USER_WEIGHTS = {
    "scaled-copies": _scaled_copies,
    "transposed-square-view": _transposed_square_view,
    "replaced-element": _replaced_element,
    "modified-in-place": _modified_in_place,
}


@pytest.mark.parametrize("change", USER_WEIGHTS)
def test_user_replaced_weights_are_used(multiclass_data, change):
    X, y = multiclass_data
    n_features = X.shape[1]
    sk, fm = fit_both(X, y, hidden_layer_sizes=(n_features,))
    before = fm.predict_proba(X)
    for est in (sk, fm):
        USER_WEIGHTS[change](est)
    assert_allclose(fm.predict_proba(X), sk.predict_proba(X), rtol=1e-10)
    assert not np.allclose(fm.predict_proba(X), before)
    # A warm-started fit continues from the user's weights.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        for est in (sk, fm):
            est.set_params(warm_start=True, max_iter=2).fit(X, y)
    for a, b in zip(buffer_views(fm), buffer_views(sk)):
        assert_allclose(a, b, rtol=1e-6)
    assert_views_of_one_buffer(fm)


# ------------------------------------------------------ warnings and output


def test_convergence_warning_at_max_iter(multiclass_data):
    X, y = multiclass_data
    with pytest.warns(ConvergenceWarning, match=r"Maximum iterations \(4\) reached"):
        MLPClassifier(**{**PARAMS, "max_iter": 4}).fit(X, y)


def test_no_convergence_warning_when_stopping_early(multiclass_data):
    X, y = multiclass_data
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        est = MLPClassifier(**{**PARAMS, "max_iter": 200, "tol": 0.1,
                               "n_iter_no_change": 2}).fit(X, y)
    assert est.n_iter_ < 200


def test_batch_size_clipping_warns_like_sklearn(multiclass_data):
    X, y = multiclass_data
    messages = []
    for cls in (SkMLPClassifier, MLPClassifier):
        with pytest.warns(UserWarning, match="batch_size") as record:
            fit(cls, X, y, batch_size=X.shape[0] + 1)
        messages.append([str(w.message) for w in record if w.category is UserWarning])
    assert messages[0] == messages[1]


@pytest.mark.parametrize(
    "params",
    [
        dict(),
        dict(solver="sgd", learning_rate="adaptive", learning_rate_init=0.2, tol=0.05,
             n_iter_no_change=2, max_iter=12),
        dict(early_stopping=True, validation_fraction=0.2, tol=0.05, n_iter_no_change=2,
             max_iter=30),
        dict(tol=0.05, n_iter_no_change=2, max_iter=30),
    ],
    ids=["adam", "sgd-adaptive", "early-stopping", "no-improvement"],
)
def test_verbose_output_matches_sklearn(multiclass_data, capsys, params):
    X, y = multiclass_data
    outputs = []
    for cls in (SkMLPClassifier, MLPClassifier):
        fit(cls, X, y, verbose=True, **params)
        outputs.append(capsys.readouterr().out)
    assert outputs[0].startswith("Iteration 1, loss = ")
    assert outputs[1] == outputs[0]


# --------------------------------------------------------------------- errors


def assert_same_error(call):
    """``call(estimator_class)`` raises the same exception in both libraries."""
    with warnings.catch_warnings():
        # Only the errors are compared (sklearn also warns of overflows).
        warnings.simplefilter("ignore")
        with pytest.raises(Exception) as sk_error:
            call(SkMLPClassifier)
        with pytest.raises(Exception) as fm_error:
            call(MLPClassifier)
    assert fm_error.type is sk_error.type
    assert normalise_sets(str(fm_error.value)) == with_fastmlp_activations(
        normalise_sets(str(sk_error.value)))


def with_fastmlp_activations(message):
    """scikit-learn's message, with the activations fastmlp adds and its
    per-layer list form."""
    sklearn_options = "{'identity', 'logistic', 'relu', 'tanh'}"
    ours = "{" + ", ".join(repr(a) for a in sorted(HIDDEN_ACTIVATIONS)) + "}"
    return message.replace(sklearn_options,
                           f"{ours} or a list or tuple of names among {ours}")


def normalise_sets(message):
    """Sort the items of each ``{...}`` in a message: set order varies by process."""
    return re.sub(r"\{([^{}]*)\}",
                  lambda m: "{" + ", ".join(sorted(m.group(1).split(", "))) + "}", message)


BAD_PARAMS = [
    ("hidden_layer_sizes", 0),
    ("hidden_layer_sizes", (5, 0)),
    ("hidden_layer_sizes", "5"),
    ("activation", "softmax"),
    ("solver", "newton"),
    ("alpha", -1.0),
    ("batch_size", 0),
    ("batch_size", "all"),
    ("learning_rate", "fast"),
    ("learning_rate_init", 0.0),
    ("power_t", -0.5),
    ("max_iter", 0),
    ("shuffle", "yes"),
    ("tol", -1e-3),
    ("warm_start", 1.5),
    ("momentum", 1.5),
    ("nesterovs_momentum", None),
    ("early_stopping", "no"),
    ("validation_fraction", 1.0),
    ("beta_1", 1.0),
    ("beta_2", -0.1),
    ("epsilon", 0.0),
    ("n_iter_no_change", 0),
    ("max_fun", 0),
    ("random_state", "seed"),
]


@pytest.mark.parametrize("name, value", BAD_PARAMS,
                         ids=[f"{n}={v!r}" for n, v in BAD_PARAMS])
def test_bad_parameter_errors_match_sklearn(multiclass_data, name, value):
    X, y = multiclass_data
    assert_same_error(lambda cls: cls(**{name: value}).fit(X, y))


def _partial_fit_chunks(cls, X, y, second_labels):
    est = cls(**PARAMS).partial_fit(X, y, classes=np.unique(y))
    return est.partial_fit(X, second_labels)


DATA_ERRORS = {
    "wrong-n-features-predict": lambda cls, X, y: cls(**PARAMS).fit(X, y).predict(X[:, :5]),
    "wrong-n-features-proba": lambda cls, X, y: cls(**PARAMS).fit(X, y).predict_proba(
        np.hstack([X, X])),
    "nan-in-X": lambda cls, X, y: cls(**PARAMS).fit(np.where(X > 2, np.nan, X), y),
    "nan-at-predict": lambda cls, X, y: cls(**PARAMS).fit(X, y).predict(X * np.nan),
    "no-features": lambda cls, X, y: cls(**PARAMS).fit(X[:, :0], y),
    "y-wrong-length": lambda cls, X, y: cls(**PARAMS).fit(X, y[:-1]),
    "continuous-y": lambda cls, X, y: cls(**PARAMS).fit(X, X[:, 0]),
    "sample-weight-wrong-length": lambda cls, X, y: cls(**PARAMS).fit(
        X, y, sample_weight=np.ones(3)),
    "partial-fit-without-classes": lambda cls, X, y: cls(**PARAMS).partial_fit(X, y),
    "partial-fit-unseen-class": lambda cls, X, y: _partial_fit_chunks(cls, X, y, y + 1),
    "partial-fit-early-stopping": lambda cls, X, y: cls(
        **PARAMS, early_stopping=True).partial_fit(X, y, classes=np.unique(y)),
    "warm-start-new-classes": lambda cls, X, y: cls(**PARAMS, warm_start=True).fit(
        X, y).fit(X, y + 1),
    "validation-set-too-small": lambda cls, X, y: cls(
        **PARAMS, early_stopping=True, validation_fraction=0.005).fit(X, y),
    "least-populated-class-early-stopping": lambda cls, X, y: cls(
        **PARAMS, early_stopping=True).fit(X, (np.arange(len(y)) == 0).astype(float)),
    "non-finite-weights": lambda cls, X, y: cls(
        **PARAMS, solver="sgd", learning_rate_init=1.0).fit(X * 1e150, y),
}


@pytest.mark.parametrize("case", DATA_ERRORS)
def test_data_errors_match_sklearn(multiclass_data, case):
    X, y = multiclass_data
    assert_same_error(lambda cls: DATA_ERRORS[case](cls, X, y))


def test_feature_names_match_sklearn(multiclass_data):
    pd = pytest.importorskip("pandas")
    X, y = multiclass_data
    frame = pd.DataFrame(X, columns=[f"f{i}" for i in range(X.shape[1])])
    sk, fm = fit_both(frame, y)
    assert_array_equal(fm.feature_names_in_, sk.feature_names_in_)
    assert_array_equal(fm.predict(frame), sk.predict(frame))
    with pytest.warns(UserWarning, match="does not have valid feature names"):
        fm.predict(X)
    renamed = frame.rename(columns={"f0": "g0"})
    assert_same_error(lambda cls: fit(cls, frame, y).predict(renamed))


@pytest.mark.parametrize("params", [{}, {"early_stopping": True}, {"solver": "lbfgs"}])
def test_single_class_fits_like_sklearn(multiclass_data, params):
    # scikit-learn fits a y of one class (a logistic output that learns to
    # say "not the other class"); so does fastmlp, with the same weights.
    pd = pytest.importorskip("pandas")
    X, _ = multiclass_data
    frame = pd.DataFrame(X, columns=[f"f{i}" for i in range(X.shape[1])])
    y = pd.Series(np.full(len(X), "ant"))
    sk, fm = fit_both(frame, y, **params)
    assert_array_equal(fm.classes_, sk.classes_)
    assert_array_equal(fm.predict(frame), np.full(len(X), "ant"))
    assert_allclose(fm.predict_proba(frame), sk.predict_proba(frame), rtol=1e-6)
    for a, b in zip(fm.coefs_ + fm.intercepts_, sk.coefs_ + sk.intercepts_):
        assert_allclose(a, b, rtol=1e-6)
    if params.get("early_stopping"):
        assert fm.validation_scores_ == sk.validation_scores_
