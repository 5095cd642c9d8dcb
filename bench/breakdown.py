"""Where one training epoch's time goes, single-threaded (issue 4's 70% question).

Runs fastmlp's own kernels over one epoch of shuffled mini-batches on one
thread (Numba and BLAS), adding one piece at a time, so that the differences
between consecutive runs add up to the epoch:

1. ``gather``: copy each batch's rows of ``X`` and ``Y`` into the workspace;
2. ``gather + products``: then the BLAS matrix products of forward and backward
   (OpenBLAS's packing copies included), nothing else;
3. ``gradient``: gather, forward and backward as the epoch runs them
   (``raw_gradient_rows``); minus 2, the element-wise work: bias, activation,
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

from fastmlp._kernels.backprop import layer_coefs, layer_rows, raw_gradient_rows
from fastmlp._kernels.epoch import gather_rows
from fastmlp._optimizers import AdamOptimizer
from fastmlp._threads import kernel_threads
from fastmlp._trainer import Trainer, kernel_input

from .data import DATA_SOURCES, load
from .measure import epoch_flops, gemm_peak

RESULTS_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results")


@njit(nogil=True)
def _gather_epoch(X, Y, order, batch_size, x_batch, y_batch):
    for start in range(0, order.shape[0] - batch_size + 1, batch_size):
        rows = order[start:start + batch_size]
        gather_rows(X, rows, x_batch)
        gather_rows(Y, rows, y_batch)


@njit(nogil=True)
def _products_epoch(X, Y, order, x_batch, y_batch, params, raw_grad, layer_units,
                    coef_offsets, unit_offsets, activations, deltas, capacity):
    n_rows = x_batch.shape[0]
    n_layers = layer_units.shape[0] - 1
    for start in range(0, order.shape[0] - n_rows + 1, n_rows):
        rows = order[start:start + n_rows]
        gather_rows(X, rows, x_batch)
        gather_rows(Y, rows, y_batch)
        a_in = x_batch
        for layer in range(n_layers):
            a_out = layer_rows(activations, layer_units, unit_offsets, capacity, layer + 1,
                               0, n_rows)
            np.dot(a_in, layer_coefs(params, layer_units, coef_offsets, layer), a_out)
            a_in = a_out
        for layer in range(n_layers - 1, -1, -1):
            delta = layer_rows(deltas, layer_units, unit_offsets, capacity, layer + 1, 0,
                               n_rows)
            a_in = x_batch if layer == 0 else layer_rows(
                activations, layer_units, unit_offsets, capacity, layer, 0, n_rows)
            np.dot(a_in.T, delta, layer_coefs(raw_grad, layer_units, coef_offsets, layer))
            if layer > 0:
                delta_in = layer_rows(deltas, layer_units, unit_offsets, capacity, layer, 0,
                                      n_rows)
                np.dot(delta, layer_coefs(params, layer_units, coef_offsets, layer).T,
                       delta_in)


@njit(nogil=True)
def _gradient_epoch(X, x_sparse, Y, order, batch_size, params, raw_grad, layer_units,
                    coef_offsets, intercept_offsets, unit_offsets, hidden_code,
                    output_code, loss_code, eps, x_batch, y_batch, weight_batch,
                    activations, preacts, deltas):
    total = 0.0
    for start in range(0, order.shape[0] - batch_size + 1, batch_size):
        rows = order[start:start + batch_size]
        gather_rows(X, rows, x_batch)
        gather_rows(Y, rows, y_batch)
        loss, _ = raw_gradient_rows(
            x_batch, x_sparse, y_batch, weight_batch, False, 0, params, raw_grad,
            layer_units, coef_offsets, intercept_offsets, unit_offsets, hidden_code,
            output_code, loss_code, eps, activations, preacts, deltas, batch_size)
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
    trainer = Trainer([X.shape[1], *hidden, len(classes)], dtype, activation, "softmax",
                      "log_loss")
    trainer.initialize(rng, 6.0)
    n_batches = X.shape[0] // batch_size
    order = rng.permutation(X.shape[0])[:n_batches * batch_size].astype(np.int64)
    _, x_sparse = kernel_input(X, dtype)
    eps = float(np.finfo(dtype).eps)
    pieces = {}
    with kernel_threads(1):
        ws = trainer._epoch_workspace_for(batch_size, X.shape[1], Y.shape[1], 1)
        params = trainer.params.copy()
        raw_grads = np.zeros((1, trainer.n_params), dtype=dtype)
        layout = (trainer.layer_units, trainer.coef_offsets, trainer.intercept_offsets,
                  trainer.unit_offsets)
        codes = (trainer.hidden_code, trainer.output_code, trainer.loss_code)

        def gradient():
            return _gradient_epoch(X, x_sparse, Y, order, batch_size, params, raw_grads[0],
                                   *layout, *codes, eps, ws["x_batch"], ws["y_batch"],
                                   ws["weight_batch"], ws["activations"], ws["preacts"],
                                   ws["deltas"])

        # Real values in every workspace first, so no piece computes on garbage.
        gradient()
        pieces["gather"] = _seconds(lambda: _gather_epoch(
            X, Y, order, batch_size, ws["x_batch"], ws["y_batch"]), repeats)
        pieces["gather_products"] = _seconds(lambda: _products_epoch(
            X, Y, order, ws["x_batch"], ws["y_batch"], params, raw_grads[0],
            trainer.layer_units, trainer.coef_offsets, trainer.unit_offsets,
            ws["activations"], ws["deltas"], batch_size), repeats)
        pieces["gradient"] = _seconds(gradient, repeats)

        def epoch():
            trainer.run_epoch(X, Y, None, order, batch_size, 1e-4,
                              AdamOptimizer(trainer.n_params, dtype), n_jobs=1)

        pieces["epoch"] = _seconds(epoch, repeats)
    with threadpool_limits(1):
        peak = gemm_peak(dtype, 1024)

    flops = epoch_flops(trainer.layer_units, n_batches * batch_size)
    median = {name: piece["median"] for name, piece in pieces.items()}
    derived = {
        "gather": median["gather"],
        "products": median["gather_products"] - median["gather"],
        "elementwise": median["gradient"] - median["gather_products"],
        "update_and_loop": median["epoch"] - median["gradient"],
    }
    return {
        "layer_units": [int(u) for u in trainer.layer_units],
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
        ("BLAS products (packing included)", derived["products"]),
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
        f"{result['epoch_gflops']:.1f} GFLOP/s; one-thread GEMM peak (1024 x 1024): "
        f"{result['gemm_peak_gflops']:.1f} GFLOP/s.",
    ]
    return "\n".join(lines) + "\n"


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m bench.breakdown", description=__doc__
                                     .split("\n")[0])
    parser.add_argument("--hidden", default="100",
                        help="hidden layer sizes, comma-separated (default 100)")
    parser.add_argument("--activation", default="relu")
    parser.add_argument("--dtype", default="float32", choices=["float32", "float64"])
    parser.add_argument("--batch-size", type=int, default=200)
    parser.add_argument("--data", default="fashion-mnist", choices=DATA_SOURCES)
    parser.add_argument("--rows", type=int, default=None, help="keep the first ROWS rows")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--output-dir", default=RESULTS_DIR)
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
