"""What the training controls scikit-learn's MLP lacks do on real data.

``python -m bench.training_controls [--epochs 30] [--data fashion-mnist]`` runs:

- class weights: the training set with classes 0-4 subsampled to 10% of their
  rows, fitted with ``class_weight=None`` and ``"balanced"``; balanced
  accuracy and accuracy on the (untouched) test set;
- classifier losses: ``loss="log_loss"`` and ``"squared_error"`` on the same
  data set (full training set), test accuracy;
- regression losses: scikit-learn's diabetes data (bundled), standardised,
  with 10% of the training targets turned into gross outliers (+/- 8 standard
  deviations); network ``(16,)``, ``alpha=1``, batches of 32;
  ``squared_error``, ``huber`` and ``absolute_error`` (and
  ``poisson`` on the clean, positive targets); R² and mean absolute error on
  the clean test targets.

Every fit: Adam, float32 (float64 for diabetes), ``random_state`` fixed.
Results go to ``bench/results/training-controls-<stamp>.json``.
"""

import argparse
import datetime
import json
import os
import warnings

import numpy as np
from sklearn.datasets import load_diabetes
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import accuracy_score, balanced_accuracy_score, mean_absolute_error, r2_score
from sklearn.model_selection import train_test_split

from fastmlp import MLPClassifier, MLPRegressor

from .data import DATA_SOURCES, load
from .machine import describe

RESULTS_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results")


def subsample_classes(X, y, classes, fraction, seed):
    """Keep ``fraction`` of the rows of each class in ``classes``, every other row."""
    rng = np.random.RandomState(seed)
    keep = np.ones(y.shape[0], dtype=bool)
    for c in classes:
        rows = np.flatnonzero(y == c)
        dropped = rng.choice(rows, size=rows.shape[0] - int(round(fraction * rows.shape[0])),
                             replace=False)
        keep[dropped] = False
    return X[keep], y[keep]


def fit_quietly(model, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return model.fit(*args, **kwargs)


def class_weight_rows(data, epochs, seed):
    X_train, y_train, X_test, y_test = data
    X_small, y_small = subsample_classes(X_train, y_train, range(5), 0.10, seed)
    counts = np.bincount(y_small.astype(int))
    rows = {"training rows per class": counts.tolist()}
    for class_weight in (None, "balanced"):
        model = fit_quietly(MLPClassifier(max_iter=epochs, n_iter_no_change=epochs + 1,
                                          random_state=seed, class_weight=class_weight),
                            X_small, y_small)
        predicted = model.predict(X_test)
        rows[str(class_weight)] = {
            "balanced_accuracy": float(balanced_accuracy_score(y_test, predicted)),
            "accuracy": float(accuracy_score(y_test, predicted)),
            "recall_classes_0_4": float(np.mean(predicted[y_test < 5] == y_test[y_test < 5])),
        }
    return rows


def classifier_loss_rows(data, epochs, seed):
    X_train, y_train, X_test, y_test = data
    rows = {}
    for loss in ("log_loss", "squared_error"):
        model = fit_quietly(MLPClassifier(max_iter=epochs, n_iter_no_change=epochs + 1,
                                          random_state=seed, loss=loss), X_train, y_train)
        rows[loss] = {"test_accuracy": float(model.score(X_test, y_test))}
    return rows


def regression_loss_rows(seed, epochs):
    X, y = load_diabetes(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.25,
                                                        random_state=seed)
    x_mean, x_std = X_train.mean(axis=0), X_train.std(axis=0)
    y_mean, y_std = y_train.mean(), y_train.std()
    X_train, X_test = (X_train - x_mean) / x_std, (X_test - x_mean) / x_std
    z_train, z_test = (y_train - y_mean) / y_std, (y_test - y_mean) / y_std
    rng = np.random.RandomState(seed)
    outliers = rng.choice(z_train.shape[0], size=z_train.shape[0] // 10, replace=False)
    z_dirty = z_train.copy()
    z_dirty[outliers] += rng.choice([-8.0, 8.0], size=outliers.shape[0])

    def scores(model, X_fit, z_fit, to_targets):
        fit_quietly(model, X_fit, z_fit)
        predicted = to_targets(model.predict(X_test))
        return {"r2": float(r2_score(y_test, predicted)),
                "mae": float(mean_absolute_error(y_test, predicted))}

    def standardised(z):
        return z * y_std + y_mean

    common = dict(hidden_layer_sizes=(16,), alpha=1.0, max_iter=epochs,
                  n_iter_no_change=epochs + 1, batch_size=32, random_state=seed)
    rows = {"outliers": int(outliers.shape[0]), "training rows": int(z_train.shape[0])}
    for name, params in (("squared_error", {}), ("huber", {"huber_delta": 1.0}),
                         ("absolute_error", {})):
        rows[f"{name}, clean targets"] = scores(
            MLPRegressor(loss=name, **params, **common), X_train, z_train, standardised)
        rows[f"{name}, 10% outliers"] = scores(
            MLPRegressor(loss=name, **params, **common), X_train, z_dirty, standardised)
    # Poisson needs positive targets: the raw disease progression, scaled.
    rows["poisson, clean targets"] = scores(
        MLPRegressor(loss="poisson", **common), X_train, y_train / y_mean,
        lambda p: p * y_mean)
    rows["squared_error, same scaling"] = scores(
        MLPRegressor(loss="squared_error", **common), X_train, y_train / y_mean,
        lambda p: p * y_mean)
    return rows


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m bench.training_controls",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=30,
                        help="epochs per classifier fit (default 30)")
    parser.add_argument("--regression-epochs", type=int, default=100,
                        help="epochs per diabetes fit (default 100)")
    parser.add_argument("--data", choices=DATA_SOURCES, default="fashion-mnist",
                        help="classification data set (default fashion-mnist)")
    parser.add_argument("--seed", type=int, default=0, help="random_state of every fit")
    args = parser.parse_args(argv)

    data = load(args.data)
    split = data.split(np.float32)
    results = {"data": data.describe(), "epochs": args.epochs, "seed": args.seed,
               "machine": describe()}

    print(f"{data.name}: classes 0-4 subsampled to 10%, adam, float32, {args.epochs} epochs")
    rows = class_weight_rows(split, args.epochs, args.seed)
    print(f"  training rows per class: {rows['training rows per class']}")
    print(f"  {'class_weight':<14} {'balanced acc.':>13} {'accuracy':>9} {'recall 0-4':>10}")
    for name in ("None", "balanced"):
        r = rows[name]
        print(f"  {name:<14} {r['balanced_accuracy']:>13.4f} {r['accuracy']:>9.4f} "
              f"{r['recall_classes_0_4']:>10.4f}")
    results["class_weight"] = rows

    print(f"{data.name}: full training set, adam, float32, {args.epochs} epochs")
    rows = classifier_loss_rows(split, args.epochs, args.seed)
    for name, r in rows.items():
        print(f"  loss={name:<14} test accuracy {r['test_accuracy']:.4f}")
    results["classifier_losses"] = rows

    print(f"diabetes (scikit-learn, bundled): (16,), alpha=1, adam, "
          f"{args.regression_epochs} epochs; "
          "scores on clean test targets")
    rows = regression_loss_rows(args.seed, args.regression_epochs)
    print(f"  {'loss, training targets':<34} {'R2':>7} {'MAE':>7}")
    for name, r in rows.items():
        if isinstance(r, dict):
            print(f"  {name:<34} {r['r2']:>7.3f} {r['mae']:>7.2f}")
    results["regression_losses"] = rows

    os.makedirs(RESULTS_DIR, exist_ok=True)
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    path = os.path.join(RESULTS_DIR, f"training-controls-{stamp}.json")
    with open(path, "w") as f:
        json.dump(results, f, indent=1)
    print(f"written: {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
