"""Peak memory of fitting a large sparse matrix.

Fits ``MLPClassifier`` on a random CSR matrix (default 200,000 x 50,000 at
0.1% density, float32) for one epoch and reports the process's peak resident
memory above the level reached once the matrix exists, next to the CSR's own
size and the model's. A dense copy of X alone would take
``n_rows * n_cols * 4`` bytes (40 GB at the default size).

Run: ``python bench/memory_sparse.py [--rows N --cols M --density D]``.
"""

import argparse
import json
import resource
import time
import warnings

import numpy as np
import scipy.sparse as sp


def peak_rss_bytes():
    """Peak resident set size of this process so far (Linux: VmHWM)."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def reset_peak():
    """Reset VmHWM to the current RSS (Linux >= 4.0), so peaks are per phase."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--cols", type=int, default=50_000)
    parser.add_argument("--density", type=float, default=0.001)
    parser.add_argument("--hidden", type=int, default=100)
    parser.add_argument("--epochs", type=int, default=1)
    args = parser.parse_args()

    from fastmlp import MLPClassifier

    rng = np.random.default_rng(0)
    X = sp.random(args.rows, args.cols, density=args.density, format="csr",
                  dtype=np.float32, random_state=rng)
    X.indices = X.indices.astype(np.int32)
    X.indptr = X.indptr.astype(np.int32)
    y = rng.integers(0, 2, args.rows)
    csr_bytes = X.data.nbytes + X.indices.nbytes + X.indptr.nbytes

    # Compile on a tiny problem first so the JIT's memory is not counted.
    MLPClassifier((args.hidden,), max_iter=1).fit(X[:500], y[:500])
    exact = reset_peak()
    before = peak_rss_bytes()
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        clf = MLPClassifier((args.hidden,), max_iter=args.epochs, random_state=0).fit(X, y)
    seconds = time.perf_counter() - start
    extra = peak_rss_bytes() - before
    model_bytes = sum(a.nbytes for a in clf.coefs_ + clf.intercepts_)
    report = {
        "shape": [args.rows, args.cols], "density": args.density, "nnz": int(X.nnz),
        "csr_mb": csr_bytes / 1e6, "model_mb": model_bytes / 1e6,
        "peak_extra_mb": extra / 1e6, "peak_is_per_phase": exact,
        "budget_mb (3 x csr + model)": (3 * csr_bytes + model_bytes) / 1e6,
        "dense_copy_would_be_mb": args.rows * args.cols * 4 / 1e6,
        "fit_seconds": seconds, "epochs": args.epochs,
    }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
