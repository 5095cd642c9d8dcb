"""W5's probe, run in a fresh interpreter: ``python -m bench.startup DATA.npz``.

Times ``import fastmlp``, the first ``fit`` and first ``predict_proba`` of the
process, then the same fit and call again (steady state), and prints one JSON
line. Whether the Numba cache is empty or warm is up to the caller
(``NUMBA_CACHE_DIR``).
"""

import argparse
import json
import time
import warnings


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data", help=".npz file holding X and y")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--steady-repeats", type=int, default=3)
    args = parser.parse_args(argv)

    start = time.perf_counter()
    from fastmlp import MLPClassifier

    import_seconds = time.perf_counter() - start

    import numpy as np
    from sklearn.exceptions import ConvergenceWarning

    from .measure import summarize, timed
    from .workloads import REFERENCE

    warnings.simplefilter("ignore", ConvergenceWarning)
    loaded = np.load(args.data)
    X, y = loaded["X"], loaded["y"]

    def fit():
        return MLPClassifier(**REFERENCE.params(args.epochs, args.seed)).fit(X, y)

    first_fit, model = timed(fit)
    first_predict, _ = timed(model.predict_proba, X)
    steady_fit = [timed(fit)[0] for _ in range(args.steady_repeats)]
    steady_predict = [timed(model.predict_proba, X)[0] for _ in range(args.steady_repeats)]
    print(json.dumps({
        "import": import_seconds,
        "first_fit": first_fit,
        "first_predict": first_predict,
        "steady_fit": summarize(steady_fit),
        "steady_predict": summarize(steady_predict),
    }))


if __name__ == "__main__":
    main()
