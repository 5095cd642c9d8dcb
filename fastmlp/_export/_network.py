"""The fitted network as the exporters read it: one record per hidden layer."""

from collections import namedtuple

from .._kernels.layout import MAXOUT as MAXOUT_KIND

MAXOUT = "maxout"

HiddenLayer = namedtuple("HiddenLayer", ["activation", "units", "pieces", "skip"])
HiddenLayer.__doc__ = """One hidden layer of a fitted network.

activation : str
    Name in fastmlp's activation table, or ``"maxout"``.
units : int
    Width of the layer's output.
pieces : int
    Affine pieces per unit: the layer's ``coefs_`` has ``units * pieces``
    columns, those of unit ``j`` being ``j * pieces + k`` (1 for dense layers).
skip : bool
    Whether the layer adds its input to its output (``residual=True`` and equal
    widths).
"""


def hidden_layers(estimator):
    """The hidden layers a fitted fastmlp estimator predicts with, input side first.

    Parameters
    ----------
    estimator : fastmlp.MLPClassifier or fastmlp.MLPRegressor
        Fitted.

    Returns
    -------
    layers : list of HiddenLayer
    """
    fan_in = estimator.coefs_[0].shape[0]
    specs = getattr(estimator, "_specs", None)
    if specs is None:
        return _layers_from_parameters(estimator)
    layers = []
    for spec in specs[:-1]:
        is_maxout = spec.kind == MAXOUT_KIND
        layers.append(HiddenLayer(
            activation=MAXOUT if is_maxout else spec.activation, units=spec.units,
            pieces=spec.pieces if is_maxout else 1,
            skip=bool(spec.residual) and fan_in == spec.units))
        fan_in = spec.units
    return layers


def _layers_from_parameters(estimator):
    """The hidden layers read from the parameters and the weights' shapes (for
    models fitted before estimators recorded their network)."""
    coefs = estimator.coefs_
    n_hidden = len(coefs) - 1
    names = estimator.activation
    names = [names] * n_hidden if isinstance(names, str) else list(names)
    layers = []
    for l, name in enumerate(names):
        fan_in, units = coefs[l].shape[0], coefs[l + 1].shape[0]
        layers.append(HiddenLayer(
            activation=name, units=units, pieces=coefs[l].shape[1] // units,
            skip=bool(estimator.residual) and fan_in == units))
    return layers
