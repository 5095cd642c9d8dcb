"""Per-epoch cost of the estimator layer, with and without callbacks.

``python -m bench.epoch_overhead [--repeats 7]`` times fits whose epochs are
short enough that the Python run once per epoch shows (digits, 1,347 rows,
``(32,)``, adam, float64: about a millisecond per epoch), in three ways:

- ``none``: no callback set (the default every fit runs);
- ``no-op``: one callback whose hooks do nothing (the cost of the task tree);
- ``progress``: scikit-learn's ``ProgressBar`` (needs ``rich``), drawing to
  a string buffer.

It reports seconds per epoch, best of ``--repeats`` fits of ``--epochs``
epochs, each after a 0.3 s pause. To compare two checkouts, run it with each
on ``PYTHONPATH`` in turn (a checkout without callback support reports only
``none``).
"""

import argparse
import contextlib
import io
import time
import warnings

import numpy as np
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning

from fastmlp import MLPClassifier


class NoOpCallback:
    """A callback whose hooks do nothing."""

    def setup(self, estimator, context):
        pass

    def teardown(self, estimator, context):
        pass

    def on_fit_task_begin(self, estimator, context):
        pass

    def on_fit_task_end(self, estimator, context):
        pass


def callbacks_for(kind):
    if kind == "none":
        return []
    if kind == "no-op":
        return [NoOpCallback()]
    from sklearn.callback import ProgressBar

    return [ProgressBar()]


def seconds_per_epoch(X, y, kind, epochs, repeats):
    best = np.inf
    for _ in range(repeats):
        model = MLPClassifier((32,), max_iter=epochs, n_iter_no_change=epochs + 1,
                              random_state=0)
        if kind != "none":
            model.set_callbacks(*callbacks_for(kind))
        time.sleep(0.3)
        with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
            warnings.simplefilter("ignore", ConvergenceWarning)
            start = time.perf_counter()
            model.fit(X, y)
            best = min(best, (time.perf_counter() - start) / model.n_iter_)
    return best


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m bench.epoch_overhead",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=100, help="epochs per fit (default 100)")
    parser.add_argument("--repeats", type=int, default=7,
                        help="fits per variant; the best is reported (default 7)")
    args = parser.parse_args(argv)

    X, y = load_digits(return_X_y=True)
    X = X[:1347] / 16.0
    y = y[:1347]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        MLPClassifier((32,), max_iter=2).fit(X, y)  # compile or load the kernels
    kinds = ["none"]
    if hasattr(MLPClassifier, "set_callbacks"):
        kinds.append("no-op")
        try:
            import rich  # noqa: F401
            kinds.append("progress")
        except ImportError:
            pass
    print(f"digits, 1347 rows, (32,), adam, float64, {args.epochs} epochs, "
          f"best of {args.repeats}")
    for kind in kinds:
        seconds = seconds_per_epoch(X, y, kind, args.epochs, args.repeats)
        print(f"  callbacks={kind:<9} {seconds * 1e3:8.3f} ms/epoch")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
