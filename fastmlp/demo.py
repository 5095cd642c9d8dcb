"""fastmlp's main job: train it beside scikit-learn's MLPClassifier and compare.

Run ``python -m fastmlp.demo``. Both estimators train the same network with the
same parameters (one hidden layer of 100 relu units, Adam, mini-batches of 200,
``random_state=0``) on Fashion-MNIST when it can be found (a local copy or
OpenML), otherwise on scikit-learn's bundled digits. The demo prints each one's
test accuracy and wall time, and how many times faster fastmlp was.

fastmlp compiles its kernels on first use and caches them on disk; that one-time
cost is announced, timed and printed separately, before the comparison.
"""

import argparse
import time
import warnings

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.neural_network import MLPClassifier as SklearnMLPClassifier

from fastmlp import MLPClassifier
from fastmlp.datasets import load_fashion_mnist

# Below this, a fit's wall time is mostly fixed overhead and timer noise.
MIN_COMPARABLE_SECONDS = 0.5


def fit_and_score(estimator, data):
    """Fit on the training rows; return (wall seconds, test accuracy)."""
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # max_iter is deliberate
        estimator.fit(data.X_train, data.y_train)
    seconds = time.perf_counter() - start
    return seconds, estimator.score(data.X_test, data.y_test)


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m fastmlp.demo",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=10, help="max_iter of both (default 10)")
    parser.add_argument("--dtype", choices=["float32", "float64"], default="float32",
                        help="feature dtype; fastmlp trains in it (default float32)")
    args = parser.parse_args(argv)

    data = load_fashion_mnist(np.dtype(args.dtype))
    if not data.name.startswith("Fashion-MNIST"):
        print("Fashion-MNIST not found (README.md says how to get it): using scikit-learn's "
              "bundled digits instead.")
    print(f"data: {data.name}, {len(data.X_train)} training and {len(data.X_test)} test rows,"
          f" {data.X_train.shape[1]} features, {args.dtype}")
    params = dict(hidden_layer_sizes=(100,), activation="relu", solver="adam",
                  batch_size=200, max_iter=args.epochs, random_state=0)
    print(f"network: {params}")

    print("fastmlp start-up: the first run on a machine compiles its kernels (about 10-15 s "
          "on 2 cores);\n  later runs load them from Numba's on-disk cache in about "
          "a second ...", flush=True)
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        warm_up = MLPClassifier(**{**params, "max_iter": 1}).fit(data.X_train[:200],
                                                                 data.y_train[:200])
    warm_up.predict(data.X_test[:10])
    print(f"fastmlp start-up took {time.perf_counter() - start:.1f} s")

    results = {}
    for name, estimator in (("fastmlp", MLPClassifier(**params)),
                            ("scikit-learn", SklearnMLPClassifier(**params))):
        seconds, accuracy = fit_and_score(estimator, data)
        results[name] = seconds
        print(f"{name:<12}  test accuracy {accuracy:.4f}   wall time {seconds:7.2f} s")
    if min(results.values()) < MIN_COMPARABLE_SECONDS:
        print("These fits take milliseconds, too short for their times to compare the "
              "libraries; on Fashion-MNIST (see README.md) they take seconds.")
    else:
        print(f"fastmlp trained {results['scikit-learn'] / results['fastmlp']:.2f}x as fast "
              f"as scikit-learn ({args.epochs} epochs each)")


if __name__ == "__main__":
    main()
