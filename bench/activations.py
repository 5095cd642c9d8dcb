"""Epoch time of each hidden activation against relu, on one network.

``python -m bench.activations [--rows 8000 --hidden 512,256 --rounds 3]`` trains
``MLPClassifier(hidden_layer_sizes=(512, 256), solver="sgd", max_iter=2)`` on the
first Fashion-MNIST rows with each hidden activation, in float32 and float64,
the activations taking turns for ``--rounds`` rounds (a 0.3 s pause before each
fit), and prints each one's best seconds per epoch and its ratio to relu's.
"""

import argparse
import time
import warnings

import numpy as np
from sklearn.exceptions import ConvergenceWarning

from fastmlp import MLPClassifier
from fastmlp._kernels.activations import HIDDEN_ACTIVATIONS

from .data import DATA_SOURCES, load


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m bench.activations",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=8000,
                        help="training rows (default 8000)")
    parser.add_argument("--hidden", default="512,256",
                        help="hidden layer sizes, comma-separated (default 512,256)")
    parser.add_argument("--rounds", type=int, default=3,
                        help="fits per activation, taking turns (default 3)")
    parser.add_argument("--threads", type=int, default=None,
                        help="n_jobs of every fit (default: all cores)")
    parser.add_argument("--data", choices=DATA_SOURCES, default="fashion-mnist",
                        help="data set (default fashion-mnist)")
    args = parser.parse_args(argv)
    hidden = tuple(int(h) for h in args.hidden.split(","))
    data = load(args.data, args.rows)
    names = ["relu"] + [a for a in HIDDEN_ACTIVATIONS if a != "relu"]
    print(f"{data.name}: {len(data.X_train)} rows, {hidden}, sgd, 2 epochs per fit, "
          f"best of {args.rounds}")
    warnings.simplefilter("ignore", ConvergenceWarning)
    for dtype in (np.float32, np.float64):
        X, y, _, _ = data.split(dtype)
        best = {}
        for name in names:  # compile outside the timings
            MLPClassifier(hidden, activation=name, solver="sgd", max_iter=1).fit(X[:300], y[:300])
        for _ in range(args.rounds):
            for name in names:
                model = MLPClassifier(hidden, activation=name, solver="sgd", max_iter=2,
                                      random_state=0, n_jobs=args.threads)
                time.sleep(0.3)
                start = time.perf_counter()
                model.fit(X, y)
                seconds = (time.perf_counter() - start) / model.n_iter_
                best[name] = min(best.get(name, np.inf), seconds)
        print(np.dtype(dtype).name + ": " + ", ".join(
            f"{name} {best[name]:.3f} s ({best[name] / best['relu']:.2f}x)" for name in names))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
