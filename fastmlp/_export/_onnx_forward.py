"""The forward pass of a fitted fastmlp network as ONNX nodes, in float32 or float64.

Per layer ``MatMul`` and ``Add``, then the activation (ONNX's own operator
where onnxruntime runs it in the graph's precision), or for Maxout ``Reshape``
to (n, units, pieces) and ``ReduceMax`` over the pieces, then ``Add`` of the
layer's input where it has a skip connection; the output ``Softmax``,
``Sigmoid`` or ``Exp``. Dropout is training only and absent.
"""

import numpy as np
from onnx import TensorProto, numpy_helper
from scipy import special

from ._network import MAXOUT, hidden_layers

MIN_OPSET = 13
REDUCE_AXES_AS_INPUT = 18  # ReduceMax reads its axes from an input from opset 18 on
LEAKY_RELU_SLOPE = 0.01
INV_SQRT_2 = 1.0 / np.sqrt(2.0)
TWO_OVER_SQRT_PI = 2.0 / np.sqrt(np.pi)
# erf at every multiple of 1/ERF_TABLE_STEPS in [-ERF_TABLE_LIMIT, ERF_TABLE_LIMIT].
ERF_TABLE_STEPS = 8
ERF_TABLE_LIMIT = 6.0
ERF_SATURATION = 7.0
ERF_TABLE = special.erf(np.arange(-ERF_TABLE_LIMIT * ERF_TABLE_STEPS,
                                  ERF_TABLE_LIMIT * ERF_TABLE_STEPS + 1) / ERF_TABLE_STEPS)
GAUSS_LEGENDRE = np.polynomial.legendre.leggauss(4)  # nodes and weights on [-1, 1]


class Graph:
    """Writes nodes and constants into a skl2onnx container under unique names.

    Parameters
    ----------
    scope : skl2onnx Scope
    container : skl2onnx ModelComponentContainer
    dtype : numpy dtype
        float32 or float64: the precision of the forward pass.
    """

    def __init__(self, scope, container, dtype):
        self.scope = scope
        self.container = container
        self.dtype = np.dtype(dtype)
        self.proto_type = TensorProto.DOUBLE if self.dtype == np.float64 else TensorProto.FLOAT
        self.opset = container.target_opset_any_domain("")
        if self.opset is not None and self.opset < MIN_OPSET:
            raise RuntimeError(
                f"fastmlp's ONNX converters need target_opset >= {MIN_OPSET}, "
                f"got {self.opset}."
            )

    def constant(self, value, dtype=None):
        """Name of an initializer holding ``value`` (in the graph's dtype by default)."""
        array = np.asarray(value, dtype=self.dtype if dtype is None else dtype)
        name = self.scope.get_unique_variable_name("constant")
        if array.dtype.kind in "OSU":
            strings = [str(v).encode("utf-8") for v in array.ravel()]
            self.container.add_initializer(name, TensorProto.STRING, list(array.shape),
                                           strings)
        else:
            tensor = numpy_helper.from_array(np.ascontiguousarray(array), name)
            self.container.add_initializer(name, tensor.data_type, list(array.shape), tensor)
        return name

    def op(self, op_type, *inputs, output=None, **attrs):
        """Add one node; returns the name of its (single) output."""
        if output is None:
            output = self.scope.get_unique_variable_name(op_type.lower())
        self.container.add_node(op_type, list(inputs), output,
                                name=self.scope.get_unique_operator_name(op_type), **attrs)
        return output

    @property
    def is_double(self):
        return self.dtype == np.float64


# Hidden activations, each ``(graph, z) -> name of f(z)``. onnxruntime's CPU
# kernels of LeakyRelu, Elu, Softplus and Erf take float32 only, so float64
# graphs build those four from operators it runs in float64.


def _leaky_relu(graph, z):
    if graph.is_double:  # max(z, 0.01 z) for a slope below 1
        return graph.op("Max", z, graph.op("Mul", z, graph.constant(LEAKY_RELU_SLOPE)))
    return graph.op("LeakyRelu", z, alpha=LEAKY_RELU_SLOPE)


def _elu(graph, z):
    if graph.is_double:
        zero = graph.constant(0.0)
        negative = graph.op("Sub", graph.op("Exp", graph.op("Min", z, zero)),
                            graph.constant(1.0))
        return graph.op("Where", graph.op("Greater", z, zero), z, negative)
    return graph.op("Elu", z, alpha=1.0)


def _softplus(graph, z):
    if graph.is_double:  # max(z, 0) + log(1 + exp(-|z|))
        tail = graph.op("Exp", graph.op("Neg", graph.op("Abs", z)))
        return graph.op("Add", graph.op("Relu", z),
                        graph.op("Log", graph.op("Add", tail, graph.constant(1.0))))
    return graph.op("Softplus", z)


def _erf(graph, x):
    return _erf_float64(graph, x) if graph.is_double else graph.op("Erf", x)


def _erf_float64(graph, x):
    """erf to float64 round-off from operators onnxruntime runs in float64.

    ``erf(x) = erf(x0) + 2 / sqrt(pi) * integral from x0 to x of exp(-t**2) dt``
    with ``x0`` the point of :data:`ERF_TABLE` nearest to ``x`` (``|x - x0| <=
    1/16`` inside the table) and the integral by 4-point Gauss-Legendre
    quadrature (error below 1e-16 on such intervals). ``x`` is first clipped
    to ``+-ERF_SATURATION``, where erf is +-1 in float64, so that infinities
    give +-1; NaN stays NaN.
    """
    x = graph.op("Clip", x, graph.constant(-ERF_SATURATION), graph.constant(ERF_SATURATION))
    in_table = graph.op("Clip", x, graph.constant(-ERF_TABLE_LIMIT),
                        graph.constant(ERF_TABLE_LIMIT))
    steps = graph.op("Round", graph.op("Mul", in_table, graph.constant(ERF_TABLE_STEPS)))
    x0 = graph.op("Div", steps, graph.constant(ERF_TABLE_STEPS))
    index = graph.op("Cast", graph.op("Add", steps, graph.constant(ERF_TABLE_LIMIT
                                                                   * ERF_TABLE_STEPS)),
                     to=TensorProto.INT64)
    # Only NaN falls outside: its cast to int64 is undefined.
    index = graph.op("Clip", index, graph.constant(0, dtype=np.int64),
                     graph.constant(len(ERF_TABLE) - 1, dtype=np.int64))
    erf_x0 = graph.op("Gather", graph.constant(ERF_TABLE), index, axis=0)
    half_width = graph.op("Mul", graph.op("Sub", x, x0), graph.constant(0.5))
    middle = graph.op("Add", x0, half_width)
    integral = None
    for node, weight in zip(*GAUSS_LEGENDRE):
        t = graph.op("Add", middle, graph.op("Mul", half_width, graph.constant(node)))
        density = graph.op("Exp", graph.op("Neg", graph.op("Mul", t, t)))
        term = graph.op("Mul", density, graph.constant(weight * TWO_OVER_SQRT_PI))
        integral = term if integral is None else graph.op("Add", integral, term)
    return graph.op("Add", erf_x0, graph.op("Mul", integral, half_width))


def _gelu(graph, z):
    """``0.5 z (1 + erf(z / sqrt(2)))``."""
    erf = _erf(graph, graph.op("Mul", z, graph.constant(INV_SQRT_2)))
    return graph.op("Mul", graph.op("Mul", z, graph.constant(0.5)),
                    graph.op("Add", erf, graph.constant(1.0)))


HIDDEN_ACTIVATIONS = {
    "identity": lambda graph, z: z,
    "logistic": lambda graph, z: graph.op("Sigmoid", z),
    "tanh": lambda graph, z: graph.op("Tanh", z),
    "relu": lambda graph, z: graph.op("Relu", z),
    "leaky_relu": _leaky_relu,
    "elu": _elu,
    "swish": lambda graph, z: graph.op("Mul", z, graph.op("Sigmoid", z)),
    "gelu": _gelu,
    "softplus": _softplus,
}

OUTPUT_ACTIVATIONS = {
    "identity": lambda graph, z: z,
    "logistic": lambda graph, z: graph.op("Sigmoid", z),
    "softmax": lambda graph, z: graph.op("Softmax", z, axis=1),
    "exp": lambda graph, z: graph.op("Exp", z),
}


def _max_of_pieces(graph, z, units, pieces):
    """Maxout units: the pieces of unit ``j`` are columns ``j * pieces + k``."""
    grouped = graph.op("Reshape", z, graph.constant([-1, units, pieces], dtype=np.int64))
    if graph.opset is None or graph.opset >= REDUCE_AXES_AS_INPUT:
        return graph.op("ReduceMax", grouped, graph.constant([2], dtype=np.int64),
                        keepdims=0)
    return graph.op("ReduceMax", grouped, axes=[2], keepdims=0)


def forward_pass(graph, model, X):
    """Name of the network's output (after the output activation) for input ``X``."""
    h = X
    layers = hidden_layers(model)
    for layer, coefs, intercepts in zip(layers, model.coefs_, model.intercepts_):
        z = graph.op("Add", graph.op("MatMul", h, graph.constant(coefs)),
                     graph.constant(intercepts))
        if layer.activation == MAXOUT:
            g = _max_of_pieces(graph, z, layer.units, layer.pieces)
        elif layer.activation in HIDDEN_ACTIVATIONS:
            g = HIDDEN_ACTIVATIONS[layer.activation](graph, z)
        else:
            raise ValueError(f"No ONNX form of the activation {layer.activation!r}.")
        h = graph.op("Add", g, h) if layer.skip else g
    z = graph.op("Add", graph.op("MatMul", h, graph.constant(model.coefs_[-1])),
                 graph.constant(model.intercepts_[-1]))
    return OUTPUT_ACTIVATIONS[model.out_activation_](graph, z)
