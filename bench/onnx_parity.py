"""How closely onnxruntime reproduces fastmlp's predictions, configuration by configuration.

``python -m bench.onnx_parity [--epochs 30] [--dtype float32]`` fits one model per
configuration (every hidden activation, residual connections, Maxout, per-layer
activations with dropout, binary and multilabel targets, squared-error and
Poisson regression) on scikit-learn's bundled data (digits for classifiers,
diabetes for regressors; no download), converts it with ``skl2onnx.to_onnx``,
runs it with onnxruntime on the held-out rows and prints, per configuration:

- ``max rel. diff``: ``max |onnx - fastmlp| / max |fastmlp|`` over every output
  (probabilities for classifiers, predictions for regressors), the difference
  relative to the outputs' scale;
- ``max abs. diff``: ``max |onnx - fastmlp|``;
- ``labels equal``: the share of rows where the predicted labels agree
  (classifiers).

Results go to ``bench/results/onnx-parity-<stamp>.json``. Needs the onnx extra
(``pip install -e ".[onnx]"``).
"""

import argparse
import datetime
import json
import os
import warnings

import numpy as np
from sklearn.datasets import load_diabetes, load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split

from fastmlp import MLPClassifier, MLPRegressor
from fastmlp._kernels.activations import HIDDEN_ACTIVATIONS

from .machine import describe

RESULTS_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results")

# name -> (estimator, task, parameters)
CONFIGURATIONS = {
    **{f"classifier {name}": (MLPClassifier, "multiclass", dict(activation=name))
       for name in HIDDEN_ACTIVATIONS},
    "classifier maxout, 2 pieces": (MLPClassifier, "multiclass",
                                    dict(activation="maxout", maxout_pieces=2)),
    "classifier maxout, 3 pieces": (MLPClassifier, "multiclass",
                                    dict(activation="maxout", maxout_pieces=3)),
    "classifier residual (64, 64, 64) relu": (MLPClassifier, "multiclass",
                                              dict(hidden_layer_sizes=(64, 64, 64),
                                                   residual=True)),
    "classifier residual (64, 64) gelu": (MLPClassifier, "multiclass",
                                          dict(hidden_layer_sizes=(64, 64), activation="gelu",
                                               residual=True)),
    "classifier residual (32, 32) maxout": (MLPClassifier, "multiclass",
                                            dict(hidden_layer_sizes=(32, 32),
                                                 activation="maxout", residual=True)),
    "classifier [elu, maxout, swish], dropout": (MLPClassifier, "multiclass",
                                                 dict(hidden_layer_sizes=(48, 32, 32),
                                                      activation=["elu", "maxout", "swish"],
                                                      residual=True, dropout=0.1)),
    "classifier binary, softplus": (MLPClassifier, "binary", dict(activation="softplus")),
    "classifier multilabel, tanh": (MLPClassifier, "multilabel", dict(activation="tanh")),
    "regressor squared_error, relu": (MLPRegressor, "regression", dict()),
    "regressor squared_error, residual elu": (MLPRegressor, "regression",
                                              dict(hidden_layer_sizes=(32, 32),
                                                   activation="elu", residual=True)),
    "regressor poisson, swish": (MLPRegressor, "poisson", dict(activation="swish")),
}


def load_task(task):
    """``(X_train, y_train, X_test)`` in float64 for a task of CONFIGURATIONS."""
    if task in ("regression", "poisson"):
        X, y = load_diabetes(return_X_y=True)
        X = (X - X.mean(axis=0)) / X.std(axis=0)
        y = y / 100.0 if task == "poisson" else (y - y.mean()) / y.std()
    else:
        X, digit = load_digits(return_X_y=True)
        X = X / 16.0
        y = {"multiclass": digit, "binary": digit % 2,
             "multilabel": np.column_stack([digit % 2, digit >= 5, digit % 3 == 0])}[task]
    X_train, X_test, y_train, _ = train_test_split(X, y, test_size=0.25, random_state=0)
    return X_train, y_train, X_test


def onnx_outputs(model, X):
    """onnxruntime's labels (None for regressors) and outputs for ``model`` on ``X``."""
    import onnxruntime
    import skl2onnx

    onx = skl2onnx.to_onnx(model, X[:1], options={"zipmap": False} if hasattr(model, "classes_")
                           else None)
    session = onnxruntime.InferenceSession(onx.SerializeToString(),
                                           providers=["CPUExecutionProvider"])
    outputs = session.run(None, {session.get_inputs()[0].name: X})
    return (outputs[0], outputs[1]) if len(outputs) == 2 else (None, outputs[0])


def compare(estimator_class, task, params, dtype, epochs, seed):
    """Fit one configuration; returns its differences between onnxruntime and fastmlp."""
    X_train, y_train, X_test = load_task(task)
    X_train, X_test = X_train.astype(dtype), X_test.astype(dtype)
    params = {"hidden_layer_sizes": (64, 32), "max_iter": epochs, "random_state": seed,
              **params}
    if task == "poisson":
        params["loss"] = "poisson"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model = estimator_class(**params).fit(X_train, y_train)
    labels, outputs = onnx_outputs(model, X_test)
    if labels is None:
        expected = model.predict(X_test).reshape(len(X_test), -1)
    else:
        expected = model.predict_proba(X_test)
    difference = np.abs(outputs.astype(np.float64) - expected)
    result = {
        "max_rel_diff": float(difference.max() / np.abs(expected).max()),
        "max_abs_diff": float(difference.max()),
        "output_dtype": str(outputs.dtype),
    }
    if labels is not None:
        predicted = model.predict(X_test).reshape(len(X_test), -1)
        result["labels_equal"] = float(np.mean(np.all(
            labels.reshape(len(X_test), -1) == predicted, axis=1)))
    return result


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m bench.onnx_parity",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=30, help="epochs per fit (default 30)")
    parser.add_argument("--dtype", choices=["float32", "float64"], default="float32",
                        help="training and inference precision (default float32)")
    parser.add_argument("--seed", type=int, default=0, help="random_state of every fit")
    parser.add_argument("--no-save", action="store_true", help="print only; write no file")
    args = parser.parse_args(argv)
    dtype = np.dtype(args.dtype)

    print(f"onnxruntime vs fastmlp, {dtype.name}, {args.epochs} epochs, held-out rows "
          "(digits / diabetes)")
    print(f"{'configuration':<44} {'max rel. diff':>13} {'max abs. diff':>13} "
          f"{'labels equal':>12}")
    results = {}
    for name, (estimator_class, task, params) in CONFIGURATIONS.items():
        result = compare(estimator_class, task, params, dtype, args.epochs, args.seed)
        results[name] = result
        labels = f"{result['labels_equal']:.0%}" if "labels_equal" in result else "-"
        print(f"{name:<44} {result['max_rel_diff']:>13.2e} {result['max_abs_diff']:>13.2e} "
              f"{labels:>12}")
    worst = max(results, key=lambda name: results[name]["max_rel_diff"])
    print(f"worst: {worst} ({results[worst]['max_rel_diff']:.2e})")

    if not args.no_save:
        os.makedirs(RESULTS_DIR, exist_ok=True)
        stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
        path = os.path.join(RESULTS_DIR, f"onnx-parity-{stamp}.json")
        with open(path, "w") as f:
            json.dump({"dtype": dtype.name, "epochs": args.epochs, "seed": args.seed,
                       "machine": describe(), "results": results}, f, indent=1)
        print(f"written: {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
