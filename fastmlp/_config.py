"""Run-time codes and tunables shared by the estimator, trainer and kernels.

Kernels receive losses and solvers as small integer codes rather than as
Python callables, so one compiled specialisation per dtype serves every network
configuration (activation codes are rows of the table in
``fastmlp/_kernels/activations.py``).
"""

# Loss codes, named as scikit-learn's LOSS_FUNCTIONS keys (and, for the
# losses scikit-learn lacks, as its other estimators name them).
SQUARED_ERROR = 0
POISSON = 1
LOG_LOSS = 2
BINARY_LOG_LOSS = 3
HUBER = 4
ABSOLUTE_ERROR = 5

LOSS_CODES = {
    "squared_error": SQUARED_ERROR,
    "poisson": POISSON,
    "log_loss": LOG_LOSS,
    "binary_log_loss": BINARY_LOG_LOSS,
    "huber": HUBER,
    "absolute_error": ABSOLUTE_ERROR,
}

# Output activations each loss is defined for. The log losses and the Poisson
# deviance pair with their canonical link only; the residual losses' error goes
# through the output activation's Jacobian (see ``_kernels/losses.py``).
LOSS_OUTPUT_ACTIVATIONS = {
    "squared_error": ("identity", "logistic", "softmax"),
    "poisson": ("exp",),
    "log_loss": ("softmax",),
    "binary_log_loss": ("logistic",),
    "huber": ("identity", "logistic", "softmax"),
    "absolute_error": ("identity", "logistic", "softmax"),
}

# Solver codes for the epoch kernel.
SGD = 0
ADAM = 1

SOLVER_CODES = {"sgd": SGD, "adam": ADAM}

# Rows per block when predicting: bounds the workspace of a forward pass over
# a large X while keeping the products large enough for BLAS.
PREDICT_CHUNK_ROWS = 4096

# Rows per piece when a thread walks its share of the full data set (L-BFGS):
# bounds the workspace to n_threads * FULL_BATCH_BLOCK_ROWS rows per layer.
FULL_BATCH_BLOCK_ROWS = 8192

# Smallest work worth a thread in a parallel region: waking threads and the
# barrier at the end cost tens of microseconds, more on a loaded machine.
MIN_FLOPS_PER_BLOCK = 4.0e6     # forward + backward FLOPs of one row block
MIN_PARAMS_PER_CHUNK = 32768    # parameters of one optimizer-update range
