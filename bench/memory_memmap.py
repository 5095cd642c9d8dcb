"""Peak memory of fitting a memory-mapped float32 array.

Creates (once) a float32 file of 1,000,000 x 784 (3.1 GB) with integer labels
next to it, then, in a fresh child process, opens it with
``np.load(mmap_mode="r")`` and fits ``MLPClassifier`` for one epoch. Reported:

- peak resident memory of the child during the fit above its level just
  before (VmHWM, reset per phase), which counts the file pages the epoch
  touches; the goal is at most 1.25 x the array plus the model;
- peak *anonymous* memory above the level before the fit, sampled every 20 ms:
  real allocations, where any copy of X (or its float64 conversion) would
  show up. It stays a few tens of MB.

Run: ``python bench/memory_memmap.py [--rows N --cols M --hidden H --dir /tmp]``;
the figures are printed as a table and written to ``--output`` as JSON.
"""

import argparse
import json
import os
import subprocess
import sys
import threading
import time
import warnings

import numpy as np


def _status_kb(field):
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise KeyError(field)


def reset_peak():
    """Reset VmHWM to the current RSS (Linux >= 4.0), so the peak is per phase."""
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")


def make_data(path_x, path_y, n_rows, n_cols, chunk_rows=50_000):
    """Write X (uniform float32) and y (argmax of the first ten columns)."""
    if os.path.exists(path_x) and os.path.exists(path_y):
        X = np.load(path_x, mmap_mode="r")
        if X.shape == (n_rows, n_cols) and X.dtype == np.float32:
            return
    rng = np.random.default_rng(0)
    X = np.lib.format.open_memmap(path_x, mode="w+", dtype=np.float32, shape=(n_rows, n_cols))
    y = np.empty(n_rows, dtype=np.int64)
    for start in range(0, n_rows, chunk_rows):
        stop = min(start + chunk_rows, n_rows)
        block = rng.random((stop - start, n_cols), dtype=np.float32)
        X[start:stop] = block
        y[start:stop] = np.argmax(block[:, :10], axis=1)
    X.flush()
    del X
    np.save(path_y, y)


def child(args):
    """Fit on the memory map; print one JSON line of measurements."""
    from fastmlp import MLPClassifier

    X = np.load(args.path_x, mmap_mode="r")
    y = np.load(args.path_y)
    params = dict(hidden_layer_sizes=(args.hidden,), max_iter=args.epochs, random_state=0,
                  batch_size=args.batch_size)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        # Load (or compile) the kernels for this array type outside the measurement.
        MLPClassifier(**params).fit(X[:2000], y[:2000])

    anon_before = _status_kb("RssAnon")
    peak_anon = [anon_before]
    done = threading.Event()

    def sample():
        while not done.wait(0.02):
            peak_anon[0] = max(peak_anon[0], _status_kb("RssAnon"))

    sampler = threading.Thread(target=sample, daemon=True)
    reset_peak()
    rss_before = _status_kb("VmRSS")
    sampler.start()
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        clf = MLPClassifier(**params).fit(X, y)
    seconds = time.perf_counter() - start
    done.set()
    sampler.join()
    peak_anon[0] = max(peak_anon[0], _status_kb("RssAnon"))
    print(json.dumps({
        "rss_before_kb": rss_before,
        "peak_rss_kb": _status_kb("VmHWM"),
        "anon_before_kb": anon_before,
        "peak_anon_kb": peak_anon[0],
        "fit_seconds": seconds,
        "model_bytes": int(sum(a.nbytes for a in clf.coefs_ + clf.intercepts_)),
        "X_is_memmap_input": isinstance(X, np.memmap),
        "train_accuracy_on_first_10k": float(clf.score(X[:10_000], y[:10_000])),
    }))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--cols", type=int, default=784)
    parser.add_argument("--hidden", type=int, default=100)
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--batch-size", type=int, default=200)
    parser.add_argument("--dir", default="/tmp")
    parser.add_argument("--output", default="bench/results/memory_memmap.json")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--path-x", help=argparse.SUPPRESS)
    parser.add_argument("--path-y", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args)
        return

    stem = os.path.join(args.dir, f"fastmlp_memmap_{args.rows}x{args.cols}")
    path_x, path_y = stem + "_X.npy", stem + "_y.npy"
    start = time.perf_counter()
    make_data(path_x, path_y, args.rows, args.cols)
    print(f"data ready in {time.perf_counter() - start:.0f} s: {path_x}")

    command = [sys.executable, __file__, "--child", "--path-x", path_x, "--path-y", path_y,
               "--hidden", str(args.hidden), "--epochs", str(args.epochs),
               "--batch-size", str(args.batch_size)]
    result = subprocess.run(command, capture_output=True, text=True, check=True)
    measured = json.loads(result.stdout.strip().splitlines()[-1])

    array_bytes = args.rows * args.cols * 4
    model = measured["model_bytes"]
    peak_extra = (measured["peak_rss_kb"] - measured["rss_before_kb"]) * 1024
    anon_extra = (measured["peak_anon_kb"] - measured["anon_before_kb"]) * 1024
    report = {
        "shape": [args.rows, args.cols],
        "hidden": args.hidden,
        "epochs": args.epochs,
        "array_mb": array_bytes / 1e6,
        "model_mb": model / 1e6,
        "peak_rss_mb": measured["peak_rss_kb"] * 1024 / 1e6,
        "peak_rss_above_start_mb": peak_extra / 1e6,
        "peak_rss_above_start / array": peak_extra / array_bytes,
        "goal (1.25 x array + model) mb": (1.25 * array_bytes + model) / 1e6,
        "within_goal": peak_extra <= 1.25 * array_bytes + model,
        "peak_anonymous_above_start_mb": anon_extra / 1e6,
        "peak_anonymous_above_start / array": anon_extra / array_bytes,
        "fit_seconds": measured["fit_seconds"],
        "train_accuracy_on_first_10k": measured["train_accuracy_on_first_10k"],
    }
    width = max(map(len, report))
    for key, value in report.items():
        text = f"{value:.3f}" if isinstance(value, float) else str(value)
        print(f"{key:<{width}}  {text}")
    os.makedirs(os.path.dirname(args.output) or ".", exist_ok=True)
    with open(args.output, "w") as f:
        json.dump(report, f, indent=2)


if __name__ == "__main__":
    main()
