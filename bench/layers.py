"""Test accuracy of the network shapes fastmlp adds to scikit-learn's MLP.

``python -m bench.layers [--epochs 20] [--data fashion-mnist]`` trains, with
Adam, one network of each kind on the training set and reports its accuracy
on the test set, its time per epoch and its final training loss:

- ``(256, 256, 256)`` relu, plain (what scikit-learn can train too);
- the same with ``residual=True`` (skip connections around the two 256 -> 256
  layers);
- the same with ``dropout=0.2``;
- ``(128, 128)`` Maxout units with 2 pieces each.

Every network is trained for the same number of epochs (``n_iter_no_change``
is set past it, so none stops early), in float32, on all available cores.
Results go to ``bench/results/layers-<stamp>.json``.
"""

import argparse
import datetime
import json
import os
import time
import warnings

import numpy as np
from sklearn.exceptions import ConvergenceWarning

from fastmlp import MLPClassifier

from .data import DATA_SOURCES, load
from .machine import describe

RESULTS_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results")

NETWORKS = {
    "(256, 256, 256) relu": dict(hidden_layer_sizes=(256, 256, 256)),
    "(256, 256, 256) relu, residual=True": dict(hidden_layer_sizes=(256, 256, 256),
                                                residual=True),
    "(256, 256, 256) relu, dropout=0.2": dict(hidden_layer_sizes=(256, 256, 256),
                                              dropout=0.2),
    "(128, 128) maxout, 2 pieces": dict(hidden_layer_sizes=(128, 128), activation="maxout",
                                        maxout_pieces=2),
}


def train_and_score(params, X_train, y_train, X_test, y_test, epochs, seed):
    """Fit one network; returns its test accuracy, seconds per epoch and last loss."""
    model = MLPClassifier(solver="adam", max_iter=epochs, n_iter_no_change=epochs + 1,
                          random_state=seed, **params)
    time.sleep(0.3)  # let idle BLAS threads from the previous call go to sleep
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(X_train, y_train)
    seconds = time.perf_counter() - start
    return {
        "test_accuracy": float(model.score(X_test, y_test)),
        "seconds_per_epoch": seconds / model.n_iter_,
        "epochs": int(model.n_iter_),
        "final_loss": float(model.loss_),
    }


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m bench.layers",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=20, help="epochs per network (default 20)")
    parser.add_argument("--data", choices=DATA_SOURCES, default="fashion-mnist",
                        help="data set (default fashion-mnist)")
    parser.add_argument("--rows", type=int, help="keep only the first ROWS training rows")
    parser.add_argument("--seed", type=int, default=0, help="random_state of every fit")
    args = parser.parse_args(argv)

    data = load(args.data, args.rows)
    X_train, y_train, X_test, y_test = data.split(np.float32)
    # Compile outside the timed fits.
    for params in NETWORKS.values():
        MLPClassifier(max_iter=1, **params).partial_fit(X_train[:256], y_train[:256],
                                                        classes=np.unique(y_train))
    results = {}
    print(f"{data.name}: {len(X_train)} training rows, {len(X_test)} test rows, "
          f"adam, float32, {args.epochs} epochs")
    print(f"{'network':<40} {'test accuracy':>13} {'s/epoch':>8} {'final loss':>10}")
    for name, params in NETWORKS.items():
        result = train_and_score(params, X_train, y_train, X_test, y_test, args.epochs,
                                 args.seed)
        results[name] = result
        print(f"{name:<40} {result['test_accuracy']:>13.4f} "
              f"{result['seconds_per_epoch']:>8.3f} {result['final_loss']:>10.4f}")

    os.makedirs(RESULTS_DIR, exist_ok=True)
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    path = os.path.join(RESULTS_DIR, f"layers-{stamp}.json")
    with open(path, "w") as f:
        json.dump({"data": data.describe(), "epochs": args.epochs, "seed": args.seed,
                   "machine": describe(), "results": results}, f, indent=1)
    print(f"written: {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
