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
# Bytes of dense input rows per prediction chunk: a chunk then stays in the
# level-2 cache while every column tile of the first layer's product reads it.
# Wide inputs keep at least PREDICT_MIN_CHUNK_ROWS rows (their first layer is
# on BLAS, which wants rows more than cache).
PREDICT_CHUNK_BYTES = 786432
PREDICT_MIN_CHUNK_ROWS = 128
# Chunks per worker when several share a forward pass, so that a worker that
# starts late (a thread woken after an idle spell) leaves its chunks to the
# others.
PREDICT_CHUNKS_PER_WORKER = 8

# Rows per piece when a thread walks its share of the full data set (L-BFGS):
# bounds the workspace to n_threads * FULL_BATCH_BLOCK_ROWS rows per layer.
FULL_BATCH_BLOCK_ROWS = 8192

# Smallest work worth a thread in a parallel region: waking threads and the
# barrier at the end cost tens of microseconds, more on a loaded machine.
MIN_FLOPS_PER_BLOCK = 4.0e6     # forward + backward FLOPs of one row block
MIN_PARAMS_PER_CHUNK = 32768    # parameters of one optimizer-update range

# Products of a block of rows with at most this many output columns (a narrow
# layer) run on fastmlp's register-tile kernels instead of BLAS, whose packing
# of both operands costs as much as the arithmetic there. Measured one thread
# on Zen 4 (100 rows, 784 inputs): float32 1.8-2.8x BLAS's speed up to 128
# columns, 1.3x at 512; float64 2-2.5x up to 64, 1.3-1.4x at 256.
SIMD_MAX_COLUMNS = 128
# ``a @ b`` (a forward product) with a wider output still runs on the tiles
# while ``b``, the layer's weights, takes at most this many bytes: the tiles
# read ``b`` from the level-2 cache once per tile of rows, where BLAS packs it.
# Measured one thread, 100 and 200 rows of 784 inputs read through their ids,
# Intel Xeon (AVX-512, 2 MiB of L2 per core): float32 144-171 GFLOP/s against
# OpenBLAS's 97-110 (with its gathered copy) up to 384 columns (1.2 MB of
# weights), level at 512 (1.6 MB), half at 1024; float64 63-65 against 44-50
# at 192 columns (1.2 MB), behind at 256 (1.6 MB). ``a.T @ b`` (a weight
# gradient) keeps ``SIMD_MAX_COLUMNS``: past it the tiles are level with BLAS
# at 100 rows and behind at 200.
SIMD_MAX_WEIGHT_BYTES = 1_310_720
# Units of an input layer up to which a mini-batch block reads its rows of a
# dense ``X`` in place through their ids (both products on the tiles), rather
# than from a gathered copy, provided its forward product is on the tiles
# (above). The copy costs a pass over the rows that the in-place tiles do not
# make, and the weight gradient on the tiles keeps level with BLAS's. One
# thread, Intel Xeon (AVX-512), float32, both input-layer products over an
# epoch of Fashion-MNIST-sized rows read in a shuffled order, 784 inputs: 256
# units 346-355 ms in place against 383-394 gathered (100-row blocks), 331
# against 353 (200-row blocks); 192 units 255 against 279 (200-row blocks).
SIMD_MAX_INPUT_COLUMNS = 256
# Rows of a transposed product ``a.T @ b`` (weight gradients) beyond which
# BLAS is used anyway: a mini-batch block is below it, a full-batch block
# (FULL_BATCH_BLOCK_ROWS) above it.
SIMD_MAX_INNER_TRANSPOSED = 2048
