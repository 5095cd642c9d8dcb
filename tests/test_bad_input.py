"""Bad input: scikit-learn's exception types and messages, and the estimator
left exactly as it was before the failing call (fitted or unfitted)."""

import copy
import pickle

import numpy as np
import pytest
from sklearn.exceptions import NotFittedError
from sklearn.utils._param_validation import InvalidParameterError
from sklearn.utils.validation import check_is_fitted

from sklearn.neural_network import MLPClassifier as SkMLPClassifier

from fastmlp import MLPClassifier, MLPRegressor
from fastmlp._config import SIMD_MAX_WEIGHT_BYTES
from shims import from_python


def fitted_state(estimator):
    """Every attribute that fitting sets, as bytes: equal bytes, equal model."""
    params = estimator.get_params(deep=False)
    # __getstate__ leaves out the trainer, whose workspaces are scratch;
    # coefs_ and intercepts_ carry its parameters.
    state = {k: v for k, v in estimator.__getstate__().items() if k not in params}
    return pickle.dumps(state)


def _classifier():
    return MLPClassifier((6,), max_iter=3, random_state=0)


def _regressor():
    return MLPRegressor(hidden_layer_sizes=(6,), max_iter=3, random_state=0)


ESTIMATORS = {
    "classifier-adam": (_classifier, {}),
    "classifier-lbfgs": (_classifier, {"solver": "lbfgs"}),
    "regressor-adam": (_regressor, {}),
    "regressor-sgd": (_regressor, {"solver": "sgd"}),
}


def with_nan(X):
    X = X.copy()
    X[3, 2] = np.nan
    return X


def with_inf(X):
    X = X.copy()
    X[5, 1] = np.inf
    return X


def y_with_nan(y):
    y = y.astype(float)
    y[0] = np.nan
    return y


# name -> (method, function of (X, y) giving the call's arguments, error, match)
BAD_CALLS = {
    "nan-X": ("fit", lambda X, y: (with_nan(X), y), ValueError, "Input X contains NaN"),
    "inf-X": ("fit", lambda X, y: (with_inf(X), y), ValueError, "Input X contains infinity"),
    "nan-y": ("fit", lambda X, y: (X, y_with_nan(y)), ValueError, "Input y contains NaN"),
    "y-wrong-length": (
        "fit", lambda X, y: (X, y[:-1]), ValueError, "inconsistent numbers of samples"
    ),
    "empty-X": ("fit", lambda X, y: (X[:0], y[:0]), ValueError, r"0 sample\(s\)"),
    "no-features": ("fit", lambda X, y: (X[:, :0], y), ValueError, r"0 feature\(s\)"),
    "3d-X": ("fit", lambda X, y: (X[:, :, None], y), ValueError, "dim 3"),
    "non-numeric-X": (
        "fit",
        lambda X, y: (np.full(X.shape, "a", dtype=object), y),
        ValueError,
        "could not convert",
    ),
    "negative-sample-weight": (
        "fit",
        lambda X, y: (X, y, -np.ones(len(y))),
        ValueError,
        "Negative values in data passed to `sample_weight`",
    ),
    "sample-weight-wrong-length": (
        "fit", lambda X, y: (X, y, np.ones(len(y) - 1)), ValueError, "sample_weight"
    ),
    "nan-X-predict": ("predict", lambda X, y: (with_nan(X),), ValueError, "contains NaN"),
    "wrong-n-features-predict": (
        "predict", lambda X, y: (X[:, :5],), ValueError, "X has 5 features, but"
    ),
}


def _call(estimator, method, args):
    return getattr(estimator, method)(*args)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.parametrize("estimator_kind", list(ESTIMATORS))
@pytest.mark.parametrize("case", list(BAD_CALLS))
def test_bad_input_leaves_fitted_model_unchanged(estimator_kind, case, multiclass_data):
    make, params = ESTIMATORS[estimator_kind]
    X, y = multiclass_data
    estimator = make().set_params(**params).fit(X, y)
    before = fitted_state(estimator)
    prediction = estimator.predict(X)
    method, arguments, error, match = BAD_CALLS[case]

    with pytest.raises(error, match=match):
        _call(estimator, method, arguments(X, y))

    assert fitted_state(estimator) == before
    assert estimator._trainer_in_sync()
    np.testing.assert_array_equal(estimator.predict(X), prediction)


@pytest.mark.parametrize("estimator_kind", ["classifier-adam", "regressor-adam"])
@pytest.mark.parametrize("case", [c for c, v in BAD_CALLS.items() if v[0] == "fit"])
def test_bad_input_leaves_unfitted_model_unfitted(estimator_kind, case, multiclass_data):
    make, params = ESTIMATORS[estimator_kind]
    X, y = multiclass_data
    estimator = make().set_params(**params)
    _, arguments, error, match = BAD_CALLS[case]
    with pytest.raises(error, match=match):
        estimator.fit(*arguments(X, y))
    assert vars(estimator).keys() == vars(make().set_params(**params)).keys()
    with pytest.raises(NotFittedError):
        check_is_fitted(estimator)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.parametrize("warm_start", [False, True])
def test_refit_with_other_n_features_fails_cleanly(warm_start, multiclass_data):
    # A cold refit resets n_features_in_ before validating X: the failure
    # must not leave the new feature count on the old model.
    X, y = multiclass_data
    clf = _classifier().set_params(warm_start=warm_start).fit(X, y)
    before = fitted_state(clf)
    with pytest.raises(ValueError, match="NaN|features"):
        clf.fit(with_nan(X[:, :5]), y)
    assert fitted_state(clf) == before
    assert clf.n_features_in_ == X.shape[1]


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.parametrize("sizes", [(10.5,), (True,), (4, 3.0), (np.float64(2),)])
def test_non_integer_hidden_layer_sizes_raise_type_error(sizes, multiclass_data):
    # scikit-learn raises TypeError too (when it draws the weights); the size
    # must not be rounded to a network the user did not ask for.
    X, y = multiclass_data
    clf = _classifier().fit(X, y)
    before = fitted_state(clf)
    with pytest.raises(TypeError, match="hidden_layer_sizes must hold integers"):
        clf.set_params(hidden_layer_sizes=sizes).fit(X, y)
    assert fitted_state(clf) == before
    with pytest.raises(TypeError):
        SkMLPClassifier(hidden_layer_sizes=sizes, max_iter=1).fit(X, y)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_warm_start_with_other_classes(multiclass_data):
    X, y = multiclass_data
    clf = _classifier().set_params(warm_start=True).fit(X, y)
    before = fitted_state(clf)
    with pytest.raises(ValueError, match="warm_start can only be used"):
        clf.fit(X, np.where(y == 2, 7, y))
    assert fitted_state(clf) == before


def test_partial_fit_unseen_labels(multiclass_data):
    X, y = multiclass_data
    clf = _classifier()
    clf.partial_fit(X[:60], y[:60], classes=[0, 1, 2])
    before = fitted_state(clf)
    with pytest.raises(ValueError, match="`y` has classes not in `self.classes_`"):
        clf.partial_fit(X[60:], np.where(y[60:] == 2, 5, y[60:]))
    assert fitted_state(clf) == before


def test_partial_fit_first_call_failure_leaves_unfitted(multiclass_data):
    X, y = multiclass_data
    clf = _classifier()
    with pytest.raises(ValueError, match="classes must be passed on the first call"):
        clf.partial_fit(X, y)
    with pytest.raises(ValueError, match="Input X contains NaN"):
        clf.partial_fit(with_nan(X), y, classes=[0, 1, 2])
    assert not hasattr(clf, "classes_")
    assert vars(clf).keys() == vars(_classifier()).keys()


@pytest.mark.parametrize("Estimator", [MLPClassifier, MLPRegressor])
def test_partial_fit_bad_input_keeps_optimizer_state(Estimator, multiclass_data):
    X, y = multiclass_data
    est = Estimator(hidden_layer_sizes=(6,), random_state=0)
    extra = {"classes": [0, 1, 2]} if Estimator is MLPClassifier else {}
    est.partial_fit(X, y, **extra)
    est.partial_fit(X, y)
    before = fitted_state(est)
    with pytest.raises(ValueError, match="X has 5 features"):
        est.partial_fit(X[:, :5], y)
    with pytest.raises(ValueError, match="Negative values"):
        est.partial_fit(X, y, sample_weight=-np.ones(len(y)))
    assert fitted_state(est) == before


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.parametrize(
    "params, error, match",
    [
        ({"solver": "newton"}, InvalidParameterError, "'solver' parameter"),
        ({"learning_rate_init": 0.0}, InvalidParameterError, "'learning_rate_init'"),
        ({"max_iter": 0}, InvalidParameterError, "'max_iter'"),
        ({"activation": "sigmoid"}, InvalidParameterError, "'activation'"),
        ({"n_jobs": 0}, InvalidParameterError, "'n_jobs'"),
        ({"hidden_layer_sizes": [3, 0]}, ValueError, "hidden_layer_sizes must be > 0"),
    ],
)
def test_invalid_parameters(params, error, match, multiclass_data):
    X, y = multiclass_data
    clf = _classifier().fit(X, y)
    before = fitted_state(clf)
    with pytest.raises(error, match=match):
        clf.set_params(**params).fit(X, y)
    assert fitted_state(clf) == before


@pytest.fixture(scope="module")
def wide_classifier():
    """A model whose predictions on a few thousand rows run in several chunks."""
    rng = np.random.RandomState(0)
    X = rng.uniform(-1, 1, (300, 40))
    y = rng.randint(0, 3, 300)
    with pytest.warns(Warning):
        return MLPClassifier((200,), max_iter=2, random_state=0, n_jobs=2).fit(X, y)


@pytest.mark.parametrize("method", ["predict", "predict_proba"])
@pytest.mark.parametrize("row", [0, 1999, 3999])
@pytest.mark.parametrize("value, match", [(np.nan, "Input X contains NaN"),
                                          (np.inf, "Input X contains infinity"),
                                          (-np.inf, "Input X contains infinity")])
def test_non_finite_prediction_input_in_any_chunk(wide_classifier, method, row, value,
                                                  match):
    # The forward pass tests values as it goes, chunk by chunk and worker by
    # worker: a bad value anywhere must raise scikit-learn's error.
    trainer = wide_classifier._trainer
    assert not trainer._is_small(4000)
    assert trainer.predict_split(4000, 2)[0] == 2
    X = np.random.RandomState(1).uniform(-1, 1, (4000, 40))
    X[row, 7] = value
    with pytest.raises(ValueError, match=match):
        getattr(wide_classifier, method)(X)


@pytest.mark.parametrize("value, match", [(np.nan, "Input X contains NaN"),
                                          (np.inf, "Input X contains infinity")])
def test_non_finite_input_behind_zero_weights_is_still_found(wide_classifier, value, match):
    # On the register tiles the forward pass tests the first layer's products,
    # not the inputs: a feature whose weights are all zero must still spoil
    # them (inf * 0 is NaN), so the error is raised.
    clf = copy.deepcopy(wide_classifier)
    clf.coefs_[0][7, :] = 0.0
    X = np.random.RandomState(2).uniform(-1, 1, (4000, 40))
    X[2500, 7] = value
    with pytest.raises(ValueError, match=match):
        clf.predict_proba(X)


def test_overflowing_products_of_finite_input_are_not_bad_input(wide_classifier):
    # Finite inputs whose products overflow fail the products' test; the model
    # then validates the input itself, finds it finite, and predicts anyway.
    X = np.random.RandomState(3).uniform(-1, 1, (4000, 40))
    X[100, :] = 1e307
    proba = wide_classifier.predict_proba(X)
    expected = wide_classifier._trainer.predict(np.ascontiguousarray(X), n_jobs=2)
    np.testing.assert_array_equal(proba, expected)
    np.testing.assert_array_equal(proba[101:], wide_classifier.predict_proba(X[101:]))


def test_non_finite_input_to_a_blas_first_layer(multiclass_data):
    # A first layer too wide for the tiles multiplies on BLAS; the inputs
    # themselves are tested then.
    rng = np.random.RandomState(4)
    X = rng.uniform(-1, 1, (300, 700))
    y = rng.randint(0, 3, 300)
    with pytest.warns(Warning):
        clf = MLPClassifier((300,), max_iter=1, random_state=0).fit(X, y)
    assert clf.coefs_[0].nbytes > SIMD_MAX_WEIGHT_BYTES
    X_bad = rng.uniform(-1, 1, (3000, 700))
    X_bad[2999, 0] = np.nan
    with pytest.raises(ValueError, match="Input X contains NaN"):
        clf.predict(X_bad)


def test_large_float64_values_are_accepted_by_a_float32_model(multiclass_data):
    # scikit-learn validates the float64 input, which is finite, and predicts
    # it in float64: it must not be reported as bad input.
    X, y = multiclass_data
    with pytest.warns(Warning):
        clf = MLPClassifier((6,), max_iter=2, random_state=0).fit(X.astype(np.float32), y)
    X_big = X.copy()
    X_big[0, 0] = 1e300
    assert np.all(np.isfinite(X_big))
    assert clf.predict(X_big).shape == (len(X),)
    np.testing.assert_array_equal(clf.predict(X_big)[1:], clf.predict(X)[1:])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("size", [0, 1, 7, 16, 33, 1000])
def test_all_finite_kernel(dtype, size):
    from fastmlp._kernels.finite import all_finite

    values = np.random.RandomState(size).uniform(-1e30, 1e30, size).astype(dtype)
    assert from_python(all_finite)(values)
    for position in {0, size // 2, size - 1} if size else ():
        for bad in (np.nan, np.inf, -np.inf):
            spoiled = values.copy()
            spoiled[position] = bad
            assert not from_python(all_finite)(spoiled)
    # Large finite values whose differences stay finite.
    assert from_python(all_finite)(np.full(max(size, 1), np.finfo(dtype).max, dtype=dtype))


# Training tests X for NaN and infinity as its first epoch reads it, instead of
# a separate pass (scikit-learn's check runs only when that test fires).

TRAINING_PATHS = {
    # name -> (n_features, hidden_layer_sizes): how the first layer multiplies
    "rows-in-place": (20, (6,)),
    "gathered-tiles": (20, (200,)),
    "blas": (700, (500,)),
}


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.parametrize("path", list(TRAINING_PATHS))
@pytest.mark.parametrize("row", [0, 257, 599])
@pytest.mark.parametrize("value, match", [(np.nan, "Input X contains NaN"),
                                          (np.inf, "Input X contains infinity"),
                                          (-np.inf, "Input X contains infinity")])
def test_non_finite_training_input_in_any_batch(path, row, value, match, float_dtype):
    n_features, hidden = TRAINING_PATHS[path]
    rng = np.random.RandomState(6)
    X = rng.uniform(-1, 1, (600, n_features)).astype(float_dtype)
    y = rng.randint(0, 3, 600)
    clf = MLPClassifier(hidden, max_iter=2, random_state=0, n_jobs=2).fit(X, y)
    if path == "blas":
        assert clf.coefs_[0].nbytes > SIMD_MAX_WEIGHT_BYTES
    before = fitted_state(clf)
    X[row, n_features - 1] = value
    with pytest.raises(ValueError, match=match):
        clf.fit(X, y)
    assert fitted_state(clf) == before


@pytest.mark.parametrize("value, match", [(np.nan, "Input X contains NaN"),
                                          (np.inf, "Input X contains infinity")])
def test_non_finite_training_input_behind_zero_weights_is_found(value, match,
                                                                multiclass_data):
    # The first epoch tests the first layer's products: a feature whose
    # weights are all zero still spoils them (inf * 0 is NaN).
    X, y = multiclass_data
    clf = MLPClassifier((6,), max_iter=2, random_state=0, warm_start=True)
    with pytest.warns(Warning):
        clf.fit(X, y)
    clf.coefs_[0][1:3, :] = 0.0  # the features with_inf and with_nan spoil
    with pytest.raises(ValueError, match=match):
        clf.fit(with_inf(X) if value == np.inf else with_nan(X), y)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_non_finite_input_in_any_row_with_early_stopping(multiclass_data):
    # Early stopping holds rows out of the epochs; they are tested apart.
    X, y = multiclass_data
    for row in range(len(X)):
        X_bad = X.copy()
        X_bad[row, 0] = np.nan
        with pytest.raises(ValueError, match="Input X contains NaN"):
            MLPClassifier((6,), max_iter=2, random_state=0, early_stopping=True).fit(X_bad, y)


def test_fit_makes_no_separate_finite_pass_over_dense_X(monkeypatch, multiclass_data):
    import sklearn.utils.validation as validation

    tested = []
    original = validation._assert_all_finite

    def recording(X, *args, input_name="", **kwargs):
        tested.append(input_name)
        return original(X, *args, input_name=input_name, **kwargs)

    monkeypatch.setattr(validation, "_assert_all_finite", recording)
    X, y = multiclass_data
    with pytest.warns(Warning):
        MLPRegressor(hidden_layer_sizes=(6,), max_iter=2).fit(X, y.astype(float))
    assert tested == ["y"]
    tested.clear()
    with pytest.warns(Warning):
        MLPRegressor(hidden_layer_sizes=(6,), max_iter=2, solver="lbfgs").fit(
            X, y.astype(float))
    assert tested == ["X", "y"]


@pytest.mark.parametrize("bad_call", [
    pytest.param(lambda clf, X, y: clf.fit(X, y[:-1]), id="y-wrong-length"),
    pytest.param(lambda clf, X, y: clf.fit(X, np.where(y == 0, np.nan, y)), id="nan-y"),
    pytest.param(lambda clf, X, y: clf.fit(X, y, np.ones(len(y) - 1)), id="sample-weight"),
    pytest.param(lambda clf, X, y: clf.set_params(early_stopping=True,
                                                  validation_fraction=0.001).fit(X, y),
                 id="validation-set-too-small"),
])
def test_non_finite_X_is_reported_before_other_errors(bad_call, multiclass_data):
    # scikit-learn tests X before anything else of the data, so its error
    # comes first even though fastmlp tests X later.
    X, y = multiclass_data
    with pytest.raises(ValueError, match="Input X contains NaN"):
        bad_call(MLPRegressor(hidden_layer_sizes=(6,), max_iter=2), with_nan(X), y)
    with pytest.raises(ValueError) as error:
        bad_call(MLPRegressor(hidden_layer_sizes=(6,), max_iter=2), X, y)
    assert "Input X" not in str(error.value)


def test_overflowing_training_products_of_finite_input_train_as_before(monkeypatch,
                                                                        multiclass_data):
    # A row of huge finite values makes the first layer's products infinite, as
    # a NaN would: the fit then tests X itself, finds it finite, and trains the
    # epoch again without the test, to the same weights as a fit that never
    # tested it. Weights all negative send the row to relu's flat side, so the
    # infinite products leave the training finite.
    from fastmlp._finite_input import FiniteCheck

    X, y = multiclass_data
    X = X.astype(np.float32)
    X_huge = X.copy()
    X_huge[7, :] = 3e38
    fits = []
    for testing in (True, False):
        with monkeypatch.context() as patch:
            patch.setattr(FiniteCheck, "__init__", _finite_check_init(testing))
            clf = MLPClassifier((6,), max_iter=3, random_state=0, warm_start=True)
            with pytest.warns(Warning):
                clf.fit(X, y)
            clf.coefs_[0][...] = -np.abs(clf.coefs_[0]) - 0.5
            epochs = _count_epochs(patch)
            with pytest.warns(Warning):
                clf.fit(X_huge, y)
        fits.append((clf, epochs))
    (tested, tested_epochs), (untested, untested_epochs) = fits
    assert tested_epochs == [True, False, False, False]
    assert untested_epochs == [False, False, False]
    assert np.isfinite(tested.loss_curve_).all()
    assert fitted_state(tested) == fitted_state(untested)


def _finite_check_init(testing):
    """``FiniteCheck.__init__`` that lets epochs test X only when ``testing``."""
    from fastmlp._finite_input import FiniteCheck

    original = FiniteCheck.__init__

    def init(self, estimator, X, deferred):
        original(self, estimator, X, deferred and testing)
    return init


def _count_epochs(patch):
    """Record ``check_input`` of each epoch the trainers run while ``patch`` holds."""
    from fastmlp._trainer import Trainer

    calls = []
    original = Trainer.run_epoch

    def run_epoch(self, *args, check_input=False, **kwargs):
        calls.append(check_input)
        return original(self, *args, check_input=check_input, **kwargs)

    patch.setattr(Trainer, "run_epoch", run_epoch)
    return calls


@pytest.mark.parametrize("n_jobs", [1, 2])
def test_epoch_stops_before_the_batch_holding_a_non_finite_value(n_jobs, float_dtype):
    # The epoch kernel's own contract: updates of the batches before the bad
    # one, none of it or after.
    from fastmlp._optimizers import AdamOptimizer

    rng = np.random.RandomState(5)
    X = rng.uniform(-1, 1, (600, 20)).astype(float_dtype)
    y = rng.randint(0, 3, 600)
    with pytest.warns(Warning):
        clf = MLPClassifier((30,), max_iter=1, random_state=0).fit(X, y)
    Y = np.ascontiguousarray(clf._binarized(y), dtype=float_dtype)
    order = rng.permutation(600).astype(np.int64)
    X_bad = X.copy()
    X_bad[order[250], 4] = np.nan

    def epoch(X, order, check_input):
        trainer = clf._trainer.astype(float_dtype)
        optimizer = AdamOptimizer(trainer.n_params, float_dtype)
        loss = trainer.run_epoch(X, Y, None, order, 100, 1e-4, optimizer, n_jobs=n_jobs,
                                 check_input=check_input)
        return loss, trainer.params

    loss, params = epoch(X_bad, order, True)
    assert loss is None
    _, expected = epoch(X, order[:200], False)
    np.testing.assert_array_equal(params, expected)
    loss, params = epoch(X, order, True)
    assert loss == epoch(X, order, False)[0]
    assert loss is not None and np.isfinite(params).all()
