"""Where one training epoch's time goes, single-threaded.

Runs fastmlp's own kernels over one epoch of shuffled mini-batches on one
thread (Numba and BLAS), adding one piece at a time, so that the differences
between consecutive runs add up to the epoch:

1. ``gather``: copy each batch's rows of ``X`` and ``Y`` into the workspace;
2. ``gather + products``: then the matrix products of forward and backward as
   the kernels run them (register tiles for narrow layers, BLAS with its
   packing copies for wide ones, see ``products``), nothing else;
3. ``gradient``: gather, forward and backward as the epoch runs them
   (``backward.gradient_rows``); minus 2, the element-wise work: bias, activation,
   loss, derivatives, intercept sums;
4. ``epoch``: the real one-call epoch kernel; minus 3, the optimizer update
   and the batch loop around it.

An epoch cannot reach a larger share of GEMM peak than the products' own rate
times their share of the epoch.
Single-threaded, so the thread-synchronisation costs of the parallel kernel are
not in it (compare the epoch at n threads in ``python -m bench``).

Run: ``python -m bench.breakdown [--hidden 100 --activation relu --dtype float32]``.
"""

import argparse
import json
import os
import statistics
import time

import numpy as np
from numba import njit
from threadpoolctl import threadpool_limits

from fastmlp._kernels.backward import gradient_rows
from fastmlp._kernels.bundles import Rows
from fastmlp._kernels.layout import block_rows, coefs_of
from fastmlp._kernels.products import gather_rows, times, transpose_times
from fastmlp._kernels.layout import DENSE, LayerSpec
from fastmlp._optimizers import AdamOptimizer
from fastmlp._threads import kernel_threads
from fastmlp._trainer import NO_DROPOUT, Trainer, kernel_data

from .data import DATA_SOURCES, load
from .measure import epoch_flops, gemm_peak

RESULTS_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results")


@njit(nogil=True)
def _gather_epoch(X, Y, order, batch_size, ws):
    for start in range(0, order.shape[0] - batch_size + 1, batch_size):
        ids = order[start:start + batch_size]
        gather_rows(X, ids, ws.x_rows)
        gather_rows(Y, ids, ws.y_rows)


@njit(nogil=True)
def _products_epoch(net, params, X, Y, order, batch_size, ws, grad):
    n_layers = net.layers.shape[0]
    cap = ws.capacity
    for start in range(0, order.shape[0] - batch_size + 1, batch_size):
        ids = order[start:start + batch_size]
        gather_rows(X, ids, ws.x_rows)
        gather_rows(Y, ids, ws.y_rows)
        for l in range(n_layers):
            layer = net.layers[l]
            out = block_rows(ws.outputs, layer.out_offset, layer.units, cap, 0, batch_size)
            if l == 0:
                times(ws.x_rows, coefs_of(params, layer), out)
            else:
                below = net.layers[l - 1]
                times(block_rows(ws.outputs, below.out_offset, below.units, cap, 0,
                                 batch_size), coefs_of(params, layer), out)
        for l in range(n_layers - 1, -1, -1):
            layer = net.layers[l]
            delta = block_rows(ws.deltas, layer.delta_offset, layer.units, cap, 0, batch_size)
            if l == 0:
                transpose_times(ws.x_rows, delta, coefs_of(grad, layer))
            else:
                below = net.layers[l - 1]
                h = block_rows(ws.outputs, below.out_offset, below.units, cap, 0, batch_size)
                transpose_times(h, delta, coefs_of(grad, layer))
                np.dot(delta, coefs_of(params, layer).T,
                       block_rows(ws.deltas, below.delta_offset, below.units, cap, 0,
                                  batch_size))


@njit(nogil=True)
def _gradient_epoch(net, params, data, order, batch_size, ws, grad):
    total = 0.0
    for start in range(0, order.shape[0] - batch_size + 1, batch_size):
        ids = order[start:start + batch_size]
        gather_rows(data.X, ids, ws.x_rows)
        gather_rows(data.Y, ids, ws.y_rows)
        rows = Rows(ids=ids, x=ws.x_rows[0:batch_size], y=ws.y_rows[0:batch_size],
                    w=ws.w_rows[0:batch_size], n=batch_size, ws_row=0, position=start)
        loss, _ = gradient_rows(net, params, data, rows, ws, grad, -1, False)
        total += loss
    return total


def _seconds(function, repeats):
    """Median and minimum wall time of ``repeats`` calls, after one warm-up call."""
    function()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return {"median": statistics.median(times), "min": min(times)}


def measure_breakdown(X, y, hidden, activation, batch_size, repeats, seed=0):
    """Time each piece of one epoch on one thread; see the module docstring.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features), float32 or float64
    y : ndarray of int, shape (n_samples,)
    hidden : tuple of int
    activation : str
    batch_size : int
    repeats : int
        Timed calls per piece.
    seed : int

    Returns
    -------
    result : dict
        Seconds per piece (median and min) and derived shares.
    """
    dtype = X.dtype
    classes = np.unique(y)
    Y = (y[:, None] == classes[None, :]).astype(dtype)
    rng = np.random.RandomState(seed)
    specs = [LayerSpec(DENSE, activation, units, 1, False, False) for units in hidden]
    specs.append(LayerSpec(DENSE, "softmax", len(classes), 1, False, False))
    trainer = Trainer(X.shape[1], specs, dtype, "log_loss")
    trainer.initialize(rng, [6.0] * len(specs))
    layer_units = [X.shape[1], *hidden, len(classes)]
    n_batches = X.shape[0] // batch_size
    order = rng.permutation(X.shape[0])[:n_batches * batch_size].astype(np.int64)
    data = kernel_data(X, dtype, Y)
    pieces = {}
    with kernel_threads(1):
        ws = trainer._workspace("breakdown", batch_size, n_features=X.shape[1],
                                n_outputs=Y.shape[1])
        params = trainer.params.copy()
        grad = np.zeros(trainer.n_params, dtype=dtype)
        net = trainer.network
        trainer._prepare_kernels()  # the activations this network runs

        def gradient():
            return _gradient_epoch(net, params, data, order, batch_size, ws, grad)

        # Real values in every workspace first, so no piece computes on garbage.
        gradient()
        pieces["gather"] = _seconds(lambda: _gather_epoch(X, Y, order, batch_size, ws),
                                    repeats)
        pieces["gather_products"] = _seconds(lambda: _products_epoch(
            net, params, X, Y, order, batch_size, ws, grad), repeats)
        pieces["gradient"] = _seconds(gradient, repeats)

        def epoch():
            trainer.run_epoch(X, Y, None, order, batch_size, 1e-4,
                              AdamOptimizer(trainer.n_params, dtype), n_jobs=1,
                              dropout_seed=NO_DROPOUT)

        pieces["epoch"] = _seconds(epoch, repeats)
    with threadpool_limits(1):
        peak = gemm_peak(dtype, 2048)

    flops = epoch_flops(layer_units, n_batches * batch_size)
    median = {name: piece["median"] for name, piece in pieces.items()}
    derived = {
        "gather": median["gather"],
        "products": median["gather_products"] - median["gather"],
        "elementwise": median["gradient"] - median["gather_products"],
        "update_and_loop": median["epoch"] - median["gradient"],
    }
    return {
        "layer_units": [int(u) for u in layer_units],
        "activation": activation,
        "dtype": np.dtype(dtype).name,
        "batch_size": batch_size,
        "rows": int(n_batches * batch_size),
        "repeats": repeats,
        "seconds": pieces,
        "derived_seconds": derived,
        "flops_per_epoch": flops,
        "products_gflops": flops / derived["products"] / 1e9,
        "epoch_gflops": flops / median["epoch"] / 1e9,
        "gemm_peak_gflops": peak["gflops"],
        "products_share_of_epoch": derived["products"] / median["epoch"],
    }


def to_markdown(result):
    """One table: each piece's median seconds and share of the epoch."""
    derived = result["derived_seconds"]
    epoch = result["seconds"]["epoch"]["median"]
    rows = [
        ("gather rows of X and Y", derived["gather"]),
        ("matrix products (as the kernels run them)", derived["products"]),
        ("element-wise: bias, activation, loss, derivatives, sums", derived["elementwise"]),
        ("optimizer update (Adam) and batch loop", derived["update_and_loop"]),
        ("whole epoch (one kernel call)", epoch),
    ]
    lines = [
        f"Network {'-'.join(map(str, result['layer_units']))}, {result['activation']}, "
        f"{result['dtype']}, batch {result['batch_size']}, {result['rows']} rows, one thread, "
        f"median of {result['repeats']}. Each row is the difference between two runs "
        "(module docstring), so it moves with the machine's noise.",
        "",
        "| piece | seconds per epoch | share of epoch |",
        "|---|---|---|",
    ]
    lines += [f"| {name} | {value:.4f} | {100 * value / epoch:.0f}% |" for name, value in rows]
    lines += [
        "",
        f"Products alone: {result['products_gflops']:.1f} GFLOP/s; whole epoch: "
        f"{result['epoch_gflops']:.1f} GFLOP/s; one-thread GEMM peak (2048 x 2048): "
        f"{result['gemm_peak_gflops']:.1f} GFLOP/s.",
    ]
    return "\n".join(lines) + "\n"


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m bench.breakdown", description=__doc__
                                     .split("\n")[0])
    parser.add_argument("--hidden", default="100",
                        help="hidden layer sizes, comma-separated (default 100)")
    parser.add_argument("--activation", default="relu",
                        help="hidden activation (default relu)")
    parser.add_argument("--dtype", default="float32", choices=["float32", "float64"],
                        help="dtype of data and parameters (default float32)")
    parser.add_argument("--batch-size", type=int, default=200,
                        help="rows per mini-batch (default 200)")
    parser.add_argument("--data", default="fashion-mnist", choices=DATA_SOURCES,
                        help="data set (default fashion-mnist)")
    parser.add_argument("--rows", type=int, default=None,
                        help="keep the first ROWS rows (default: all)")
    parser.add_argument("--repeats", type=int, default=5,
                        help="timed epochs per piece; the median is reported (default 5)")
    parser.add_argument("--output-dir", default=RESULTS_DIR,
                        help="where the JSON and Markdown go (default bench/results)")
    args = parser.parse_args(argv)

    data = load(args.data, max_train_rows=args.rows)
    X, y, _, _ = data.split(np.dtype(args.dtype))
    hidden = tuple(int(h) for h in args.hidden.split(","))
    result = measure_breakdown(X, y, hidden, args.activation, args.batch_size, args.repeats)
    result["data"] = data.name
    text = f"# Epoch time breakdown ({data.name})\n\n" + to_markdown(result)
    print(text)
    os.makedirs(args.output_dir, exist_ok=True)
    network = "-".join(map(str, result["layer_units"]))
    stem = os.path.join(args.output_dir,
                        f"breakdown-{network}-{args.activation}-{args.dtype}")
    with open(stem + ".json", "w") as f:
        json.dump(result, f, indent=2)
    with open(stem + ".md", "w") as f:
        f.write(text)
    print(f"written: {stem}.json, {stem}.md")


if __name__ == "__main__":
    main()
