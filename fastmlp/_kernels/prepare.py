"""What must be compiled (or loaded) before a kernel runs a given network.

The kernels reach activations, losses, solver steps and a layer's optional
pieces through run-time tables (``tables``), which hold only what has been
prepared, so that a process compiles only what its networks use. The trainer
prepares its network once per process (about 11 us a call, which a one-row
prediction would notice) and its solver before each epoch.
"""

import numpy as np

from . import activations, losses
from .backward import ROUTE_TO_MAX_PIECE
from .forward import ADD_INPUT, ADD_INTO, FILL_MASK, MAX_OF_PIECES, SCALE_BY_MASK
from .layout import MAXOUT
from .update import BEGIN_BATCHES, UPDATE_CHUNKS


def prepare_network(layers, loss):
    """Prepare the activations, loss and optional layer pieces of a network.

    Parameters
    ----------
    layers : ndarray of layout.LAYER_DTYPE
        The network's layer records.
    loss : int
        Loss code from ``fastmlp._config``.
    """
    has_maxout = bool(np.any(layers["kind"] == MAXOUT))
    # Maxout layers add their biases through the identity's forward.
    activations.prepare([*layers["activation"], *([activations.IDENTITY] if has_maxout else [])])
    losses.prepare(loss)
    if has_maxout:
        MAX_OF_PIECES.prepare()
        ROUTE_TO_MAX_PIECE.prepare()
    if np.any(layers["dropout"]):
        FILL_MASK.prepare()
        SCALE_BY_MASK.prepare()
    if np.any(layers["residual"]):
        ADD_INPUT.prepare()
        ADD_INTO.prepare()


def prepare_solver(kind):
    """Prepare the update of solver ``kind`` (``fastmlp._config.SOLVER_CODES``)."""
    UPDATE_CHUNKS.prepare([kind])
    BEGIN_BATCHES.prepare([kind])
