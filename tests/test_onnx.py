"""ONNX conversion of fastmlp's estimators through skl2onnx (``fastmlp._export.onnx``).

onnxruntime's outputs are held to fastmlp's ``predict_proba``/``predict``
(relative difference 1e-5 in float32) and, for the network options, to the
NumPy reference forward of ``naive.py``; labels must be equal. The converters
are registered when skl2onnx is imported, whichever of it and fastmlp comes
first, and ``import fastmlp`` alone imports neither skl2onnx nor onnx.
"""

import subprocess
import sys
import textwrap

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.exceptions import NotFittedError
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import naive
from fastmlp._kernels.activations import HIDDEN_ACTIVATIONS
from fastmlp import MLPClassifier, MLPRegressor

skl2onnx = pytest.importorskip("skl2onnx")
ort = pytest.importorskip("onnxruntime")
from skl2onnx.common.data_types import (  # noqa: E402
    DoubleTensorType,
    FloatTensorType,
    Int64TensorType,
)

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

# Every hidden activation of the kernels' table: one without an ONNX form fails here.
ACTIVATIONS = [*HIDDEN_ACTIVATIONS, "maxout"]
RTOL = {np.dtype(np.float32): 1e-5, np.dtype(np.float64): 1e-12}


def fit(Estimator, X, y, **params):
    params = {"hidden_layer_sizes": (7, 5), "max_iter": 5, "random_state": 0, **params}
    return Estimator(**params).fit(X, y)


def run_onnx(model, X, options=None, target_opset=None, initial_types=None):
    """onnxruntime's outputs, by name, for ``model`` converted on ``X[:1]``."""
    if initial_types is None:
        onx = skl2onnx.to_onnx(model, X[:1], options=options, target_opset=target_opset)
    else:
        onx = skl2onnx.convert_sklearn(model, initial_types=initial_types, options=options,
                                       target_opset=target_opset)
    session = ort.InferenceSession(onx.SerializeToString(),
                                   providers=["CPUExecutionProvider"])
    outputs = session.run(None, {session.get_inputs()[0].name: X})
    return dict(zip([o.name for o in session.get_outputs()], outputs))


def assert_close(actual, expected, dtype):
    actual = np.asarray(actual)
    assert actual.dtype == dtype
    rtol = RTOL[np.dtype(dtype)]
    assert_allclose(actual, expected, rtol=rtol, atol=rtol / 10)


def run_classifier(model, X, **kwargs):
    """Labels and probabilities, without ZipMap."""
    outputs = run_onnx(model, X, options={"zipmap": False}, **kwargs)
    return outputs["label"], outputs["probabilities"]


@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_every_activation(activation, multiclass_data, float_dtype):
    X, y = multiclass_data
    X = X.astype(float_dtype)
    model = fit(MLPClassifier, X, y, activation=activation)
    label, proba = run_classifier(model, X)
    assert_close(proba, model.predict_proba(X), float_dtype)
    assert_array_equal(label, model.predict(X))


@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_residual_connections(activation, multiclass_data):
    X, y = multiclass_data  # 8 features: every hidden layer, the first too, has a skip
    X = X.astype(np.float32)
    model = fit(MLPClassifier, X, y, hidden_layer_sizes=(8, 8, 8), activation=activation,
                residual=True)
    label, proba = run_classifier(model, X)
    assert_close(proba, model.predict_proba(X), np.float32)
    reference = naive.forward(X.astype(np.float64), model.coefs_, model.intercepts_,
                              activation, "softmax", residual=True)[-1]
    assert_allclose(proba, reference, rtol=1e-5, atol=1e-6)
    assert_array_equal(label, model.predict(X))


@pytest.mark.parametrize("activation", ["gelu", "elu", "softplus", "leaky_relu"])
def test_float64_activations_built_from_other_operators(activation):
    """Over a wide range, the float64 forms of the activations whose onnxruntime
    kernels are float32 only (gelu's erf from a table and a quadrature)."""
    model = fit(MLPRegressor, np.array([[-1.0], [1.0]]), [0.0, 1.0], hidden_layer_sizes=(1,),
                activation=activation, max_iter=1)
    for array, value in zip(model.coefs_ + model.intercepts_, [1.0, 1.0, 0.0, 0.0]):
        array[...] = value  # the network is now x -> f(x)
    X = np.linspace(-40.0, 40.0, 4001).reshape(-1, 1)
    (prediction,) = run_onnx(model, X).values()
    expected = naive.ACTIVATIONS[activation](X)
    assert_allclose(model.predict(X), expected.ravel(), rtol=1e-14, atol=1e-15)
    assert_allclose(prediction, expected, rtol=1e-14, atol=1e-15)
    (edges,) = run_onnx(model, np.array([[np.nan], [np.inf]])).values()
    assert np.isnan(edges[0, 0]) and edges[1, 0] == np.inf


@pytest.mark.parametrize("target_opset", [13, None], ids=["opset13", "latest"])
@pytest.mark.parametrize("pieces", [2, 3])
def test_maxout_units_take_their_own_pieces(pieces, target_opset, multiclass_data):
    X, y = multiclass_data
    X = X.astype(np.float32)
    model = fit(MLPClassifier, X, y, activation=["maxout", "relu"], maxout_pieces=pieces)
    _, proba = run_classifier(model, X, target_opset=target_opset)
    reference = naive.forward(X.astype(np.float64), model.coefs_, model.intercepts_,
                              ["maxout", "relu"], "softmax", pieces=pieces)[-1]
    assert_allclose(proba, reference, rtol=1e-5, atol=1e-6)
    assert_close(proba, model.predict_proba(X), np.float32)


def test_per_layer_activations_and_dropout(multiclass_data):
    X, y = multiclass_data
    X = X.astype(np.float32)
    model = fit(MLPClassifier, X, y, hidden_layer_sizes=(8, 6, 6),
                activation=["gelu", "maxout", "elu"], residual=True, dropout=0.2)
    label, proba = run_classifier(model, X)
    assert_close(proba, model.predict_proba(X), np.float32)
    assert_array_equal(label, model.predict(X))


@pytest.mark.parametrize("target_opset", [13, None], ids=["opset13", "latest"])
def test_classifier_tasks(any_classification_data, float_dtype, target_opset):
    X, y = any_classification_data
    X = X.astype(float_dtype)
    model = fit(MLPClassifier, X, y)
    label, proba = run_classifier(model, X, target_opset=target_opset)
    assert_close(proba, model.predict_proba(X), float_dtype)
    assert label.dtype == np.int64
    assert_array_equal(label, model.predict(X))


def test_string_labels(string_label_data):
    X, y = string_label_data
    X = X.astype(np.float32)
    model = fit(MLPClassifier, X, y)
    label, _ = run_classifier(model, X)
    assert_array_equal(label, model.predict(X))
    binary = fit(MLPClassifier, X, np.where(y == "ant", "ant", "other"))
    assert_array_equal(run_classifier(binary, X)[0], binary.predict(X))


def test_zipmap_outputs_as_for_sklearn(classification_data):
    X, y = classification_data
    X = X.astype(np.float32)
    model = fit(MLPClassifier, X, y)
    outputs = run_onnx(model, X)
    assert list(outputs) == ["output_label", "output_probability"]
    assert_array_equal(outputs["output_label"], model.predict(X))
    proba = np.array([[row[c] for c in model.classes_] for row in outputs["output_probability"]])
    assert_close(proba.astype(np.float32), model.predict_proba(X), np.float32)


def test_regressor(regression_problem, float_dtype):
    loss, X, y = regression_problem
    X = X.astype(float_dtype)
    model = fit(MLPRegressor, X, y, loss=loss, activation="gelu")
    (prediction,) = run_onnx(model, X).values()
    expected = model.predict(X).reshape(len(X), -1)
    assert prediction.shape == expected.shape
    assert_close(prediction, expected, float_dtype)


@pytest.mark.parametrize("tensor_type, dtype", [
    (FloatTensorType, np.float32), (DoubleTensorType, np.float64), (Int64TensorType, np.int64)])
def test_convert_sklearn_with_initial_types(tensor_type, dtype, multiclass_data):
    X, y = multiclass_data
    X = np.round(X).astype(dtype)
    model = fit(MLPRegressor, X.astype(np.float64), y.astype(float), activation="softplus",
                hidden_layer_sizes=(8, 8), residual=True)
    outputs = run_onnx(model, X, initial_types=[("X", tensor_type([None, X.shape[1]]))])
    prediction = outputs["variable"]
    assert prediction.dtype == (np.float64 if dtype == np.float64 else np.float32)
    assert_close(prediction.ravel(), model.predict(X.astype(np.float64)), prediction.dtype)


def test_float64_model_with_float32_input(multiclass_data):
    X, y = multiclass_data
    model = fit(MLPClassifier, X, y, activation="swish")
    X32 = X.astype(np.float32)
    _, proba = run_classifier(model, X32)
    assert_close(proba, model.predict_proba(X32.astype(np.float64)), np.float32)


def test_in_a_pipeline(multiclass_data):
    X, y = multiclass_data
    X = X.astype(np.float32)
    pipeline = make_pipeline(StandardScaler(), MLPClassifier((6,), max_iter=5, random_state=0))
    pipeline.fit(X, y)
    outputs = run_onnx(pipeline, X, options={"zipmap": False})
    assert_array_equal(outputs["label"], pipeline.predict(X))
    assert_close(outputs["probabilities"], pipeline.predict_proba(X), np.float32)


@pytest.mark.parametrize("Estimator", [MLPClassifier, MLPRegressor])
def test_unfitted_model_raises_not_fitted(Estimator):
    with pytest.raises(NotFittedError):
        skl2onnx.to_onnx(Estimator(), np.zeros((1, 3), dtype=np.float32))


CONVERT = """
import numpy as np, onnxruntime
X = np.random.RandomState(0).rand(30, 3).astype(np.float32)
model = fastmlp.MLPRegressor(hidden_layer_sizes=(4,), activation="elu", max_iter=2).fit(X, X[:, 0])
onx = skl2onnx.to_onnx(model, X[:1])
session = onnxruntime.InferenceSession(onx.SerializeToString(),
                                       providers=["CPUExecutionProvider"])
np.testing.assert_allclose(session.run(None, {"X": X})[0].ravel(), model.predict(X),
                           rtol=1e-5, atol=1e-6)
"""


@pytest.mark.parametrize("imports", [
    "import fastmlp\nimport skl2onnx",
    "import skl2onnx\nimport fastmlp",
    "import fastmlp\nfrom skl2onnx.common.data_types import FloatTensorType\nimport skl2onnx",
    "import sys, fastmlp, skl2onnx\n"
    "for name in [m for m in sys.modules if m.split('.')[0] == 'skl2onnx']:\n"
    "    del sys.modules[name]\n"
    "import skl2onnx",
    "import fastmlp._export.onnx\nimport skl2onnx\nimport fastmlp",
], ids=["fastmlp-first", "skl2onnx-first", "submodule-first", "imported-again",
        "converter-module-first"])
def test_converters_registered_whatever_the_import_order(imports):
    code = "import warnings\nwarnings.simplefilter('error', RuntimeWarning)\n" + imports + CONVERT
    subprocess.run([sys.executable, "-c", code], check=True)


def test_importing_fastmlp_does_not_import_skl2onnx():
    code = textwrap.dedent("""
        import sys
        import fastmlp
        loaded = [m for m in ("skl2onnx", "onnx", "onnxruntime") if m in sys.modules]
        assert not loaded, loaded
    """)
    subprocess.run([sys.executable, "-c", code], check=True)
