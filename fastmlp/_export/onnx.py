"""ONNX graphs of fitted fastmlp estimators: skl2onnx converters and their registration.

Importing this module registers the converters (as skl2onnx's own converter
modules do); fastmlp imports it when skl2onnx is imported (see
``_skl2onnx_hook``). Then ``skl2onnx.to_onnx(model, X[:1])`` and
``skl2onnx.convert_sklearn`` convert ``fastmlp.MLPClassifier`` and
``fastmlp.MLPRegressor`` with their outputs as skl2onnx gives scikit-learn's:

- classifier: ``label`` (the ``classes_`` values, int64 or string; a 0/1
  int64 indicator matrix for multilabel targets) and ``probabilities``
  (``predict_proba``), with skl2onnx's ``zipmap`` (default True),
  ``output_class_labels`` and ``nocl`` options;
- regressor: ``variable``, shape (n_samples, n_outputs).

The graph is the network's forward pass (``_onnx_forward``) in the input's
precision: float64 for float64 input, float32 otherwise (int64 and boolean
inputs are cast). Opsets 13 and above are supported.
"""

import numpy as np
from onnx import TensorProto
from skl2onnx import update_registered_converter
from skl2onnx._parse import _parse_sklearn_classifier
from skl2onnx.common.data_types import (
    BooleanTensorType,
    DoubleTensorType,
    FloatTensorType,
    Int64TensorType,
    StringTensorType,
)
from skl2onnx.common.utils import (
    check_input_and_output_numbers,
    check_input_and_output_types,
)
from skl2onnx.common.utils_classifier import get_label_classes
from sklearn.utils.validation import check_is_fitted

from .._classifier import MLPClassifier
from .._regressor import MLPRegressor
from ._onnx_forward import Graph, forward_pass

INPUT_TYPES = [FloatTensorType, DoubleTensorType, Int64TensorType, BooleanTensorType]
CLASSIFIER_OPTIONS = {
    "zipmap": [True, False, "columns"],
    "output_class_labels": [False, True],
    "nocl": [True, False],
}


def _graph_and_input(scope, operator, container):
    """The graph writer in the input's precision, and the input in that type."""
    input_type = operator.inputs[0].type
    dtype = np.float64 if isinstance(input_type, DoubleTensorType) else np.float32
    graph = Graph(scope, container, dtype)
    X = operator.inputs[0].full_name
    if not isinstance(input_type, (FloatTensorType, DoubleTensorType)):
        X = graph.op("Cast", X, to=graph.proto_type)
    return graph, X


def _is_multilabel(model):
    return model._label_binarizer.y_type_ == "multilabel-indicator"


def _label_values(classes):
    """``classes`` as the label tensor holds them: strings, or int64."""
    classes = np.asarray(classes)
    if classes.dtype.kind in "OSU":
        return classes.astype(object)
    if classes.dtype.kind == "f" and not np.array_equal(classes, np.round(classes)):
        raise ValueError(
            f"ONNX labels are int64 or strings; the classes {classes} are not integers."
        )
    return classes.astype(np.int64)


def convert_classifier(scope, operator, container):
    """skl2onnx converter of :class:`fastmlp.MLPClassifier`: label and probabilities."""
    model = operator.raw_operator
    graph, X = _graph_and_input(scope, operator, container)
    label, probabilities = operator.outputs[0].full_name, operator.outputs[1].full_name
    y = forward_pass(graph, model, X)
    if model.n_outputs_ == 1 and not _is_multilabel(model):
        negative = graph.op("Sub", graph.constant(1.0), y)
        graph.op("Concat", negative, y, output=probabilities, axis=1)
    else:
        graph.op("Identity", y, output=probabilities)

    if _is_multilabel(model):
        # LabelBinarizer's threshold: a label is on where its probability exceeds 0.5.
        graph.op("Cast", graph.op("Greater", y, graph.constant(0.5)), output=label,
                 to=TensorProto.INT64)
        return
    classes = _label_values(get_label_classes(scope, model))
    best = graph.op("ArgMax", probabilities, axis=1, keepdims=0)
    graph.op("Gather", graph.constant(classes, dtype=classes.dtype), best, output=label,
             axis=0)


def convert_regressor(scope, operator, container):
    """skl2onnx converter of :class:`fastmlp.MLPRegressor`: (n_samples, n_outputs)."""
    model = operator.raw_operator
    graph, X = _graph_and_input(scope, operator, container)
    graph.op("Identity", forward_pass(graph, model, X), output=operator.outputs[0].full_name)


def _output_type(operator):
    """Tensor type of the outputs: double for double input, float otherwise."""
    is_double = isinstance(operator.inputs[0].type, DoubleTensorType)
    return DoubleTensorType if is_double else FloatTensorType


def classifier_shapes(operator):
    """skl2onnx shape calculator of :class:`fastmlp.MLPClassifier`."""
    check_input_and_output_numbers(operator, input_count_range=1, output_count_range=2)
    check_input_and_output_types(operator, good_input_types=INPUT_TYPES)
    model = operator.raw_operator
    check_is_fitted(model)
    n_samples = operator.inputs[0].get_first_dimension()
    n_classes = len(model.classes_)
    if _is_multilabel(model):
        operator.outputs[0].type = Int64TensorType([n_samples, n_classes])
    else:
        classes = _label_values(get_label_classes(operator.scope_inst, model))
        label_type = StringTensorType if classes.dtype == object else Int64TensorType
        operator.outputs[0].type = label_type([n_samples])
    operator.outputs[1].type = _output_type(operator)([n_samples, n_classes])


def regressor_shapes(operator):
    """skl2onnx shape calculator of :class:`fastmlp.MLPRegressor`."""
    check_input_and_output_numbers(operator, input_count_range=1, output_count_range=1)
    check_input_and_output_types(operator, good_input_types=INPUT_TYPES)
    model = operator.raw_operator
    check_is_fitted(model)
    n_samples = operator.inputs[0].get_first_dimension()
    operator.outputs[0].type = _output_type(operator)([n_samples, model.n_outputs_])


def parse_classifier(scope, model, inputs, custom_parsers=None):
    """skl2onnx's classifier parser (label, probabilities, ZipMap), on fitted models only."""
    check_is_fitted(model)
    return _parse_sklearn_classifier(scope, model, inputs, custom_parsers=custom_parsers)


def register():
    """Register the converters of fastmlp's estimators with skl2onnx.

    Runs when this module is imported; calling it again is harmless.
    """
    update_registered_converter(MLPClassifier, "FastmlpMLPClassifier", classifier_shapes,
                                convert_classifier, parser=parse_classifier,
                                options=CLASSIFIER_OPTIONS)
    update_registered_converter(MLPRegressor, "FastmlpMLPRegressor", regressor_shapes,
                                convert_regressor)


register()
