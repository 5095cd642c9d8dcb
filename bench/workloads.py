"""The workloads W1 to W7: what each one trains or calls, and how it is timed.

Every speed figure is measured side by side in one process and one run: the
libraries take turns (round-robin over the repeats) at the same thread count, so
load from other processes hits them alike.
"""

import json
import os
import subprocess
import sys
import tempfile
import warnings
from contextlib import nullcontext
from dataclasses import dataclass

import numpy as np
from sklearn.exceptions import ConvergenceWarning

from .measure import (
    epoch_flops, gemm_peak, settle, summarize, thread_count, thread_counts, timed,
)

FASTMLP, SKLEARN, TORCH = "fastmlp", "scikit-learn", "pytorch"
LIBRARY_NAMES = (FASTMLP, SKLEARN, TORCH)

METHOD = (
    "Each library trains a fresh estimator with max_iter=k, the same parameters and "
    "random_state, r times, the libraries taking turns. Seconds per epoch = wall time "
    "of the whole fit / k; the table shows the median of the r fits. Nothing is "
    "subtracted: input validation, initialisation and label encoding are in; Numba "
    "compilation is not (kernels are warmed up before any timing; W5 measures it). "
    "GFLOP/s counts the matmuls of one epoch: forward 2*n*sum(fan_in*fan_out), "
    "backward the same for the weight gradients plus the deltas of every layer but "
    "the input one. GEMM peak: best of 8 np.matmul of two N x N matrices in the "
    "workload's dtype at the same thread count, each after a 0.3 s idle pause, measured "
    "just before the workload (median and worst in brackets). "
    "Test accuracy is that of the k-epoch models."
)


def library_classes(names):
    """Estimator class of each library, by name; PyTorch only when importable."""
    classes = {}
    for name in names:
        if name == FASTMLP:
            from fastmlp import MLPClassifier

            classes[name] = MLPClassifier
        elif name == SKLEARN:
            from sklearn.neural_network import MLPClassifier

            classes[name] = MLPClassifier
        elif name == TORCH:
            from .torch_mlp import TorchMLP, torch_available

            if torch_available():
                classes[name] = TorchMLP
        else:
            raise ValueError(f"unknown library {name!r}; choose from {LIBRARY_NAMES}")
    return classes


@dataclass(frozen=True)
class TrainingWorkload:
    """One network to train: the estimator parameters besides ``max_iter``."""

    key: str
    title: str
    hidden_layer_sizes: tuple
    activation: str
    dtype: str
    solver: str = "adam"
    batch_size: int = 200

    def params(self, epochs, seed):
        return dict(hidden_layer_sizes=self.hidden_layer_sizes, activation=self.activation,
                    solver=self.solver, batch_size=self.batch_size, max_iter=epochs,
                    random_state=seed)

    def layer_units(self, n_features, n_classes):
        n_outputs = 1 if n_classes == 2 else n_classes
        return [n_features, *self.hidden_layer_sizes, n_outputs]


TRAINING_WORKLOADS = {
    "w1": [
        TrainingWorkload("W1-float32", "W1 (100,) relu adam float32", (100,), "relu", "float32"),
        TrainingWorkload("W1-float64", "W1 (100,) relu adam float64", (100,), "relu", "float64"),
    ],
    "w2": [TrainingWorkload("W2", "W2 (16, 16) logistic adam float32", (16, 16), "logistic",
                            "float32")],
    "w3": [TrainingWorkload("W3", "W3 (256, 128) relu adam float32", (256, 128), "relu",
                            "float32")],
}
REFERENCE = TRAINING_WORKLOADS["w1"][0]  # W4, W5, W6 and W7 use W1's float32 network


def _fit_quietly(estimator, X, y):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return estimator.fit(X, y)


def warm_up(classes, data, dtypes, seed):
    """Compile (or load) every kernel and start every library before timing.

    Returns
    -------
    seconds : dict
        Warm-up wall time per library (fastmlp's includes compilation or cache load).
    """
    seconds = {}
    for name, cls in classes.items():
        total = 0.0
        for dtype in dtypes:
            X, y, _, _ = data.split(dtype)
            rows = min(400, len(X))

            def run():
                model = _fit_quietly(cls(**REFERENCE.params(1, seed)), X[:rows], y[:rows])
                model.predict(X[:1])
                model.predict_proba(X[:10])
                model.predict_proba(X[:4000])

            # fastmlp runs one thread's work in kernels of their own (no
            # parallel region), so both thread settings are warmed up.
            for threads in (thread_count(1), nullcontext()):
                with threads:
                    total += timed(run)[0]
        seconds[name] = total
    import scipy.linalg.cython_blas  # noqa: F401  (the BLAS behind Numba's np.dot)

    return seconds


def _time_fits(classes, params, X, y, epochs, repeats):
    """Round-robin fits; seconds per epoch of each, and the last model, per library."""
    per_epoch = {name: [] for name in classes}
    models = {}
    for _ in range(repeats):
        for name, cls in classes.items():
            settle()
            seconds, models[name] = timed(_fit_quietly, cls(**params), X, y)
            per_epoch[name].append(seconds / epochs)
    return per_epoch, models


def _speedups(seconds_by_library):
    """How many times faster fastmlp is than each other library (their time / ours)."""
    ours = seconds_by_library.get(FASTMLP)
    return {name: seconds / ours for name, seconds in seconds_by_library.items()
            if name != FASTMLP and ours}


def run_training(workload, classes, data, settings, log):
    """Seconds per epoch, GFLOP/s, share of GEMM peak and test accuracy per library."""
    X_train, y_train, X_test, y_test = data.split(workload.dtype)
    layer_units = workload.layer_units(X_train.shape[1], data.n_classes)
    flops = epoch_flops(layer_units, X_train.shape[0])
    with thread_count(settings.threads):
        peak = gemm_peak(workload.dtype, settings.gemm_size)
        per_epoch, models = _time_fits(classes, workload.params(settings.epochs, settings.seed),
                                       X_train, y_train, settings.epochs, settings.repeats)
    libraries = {}
    for name in classes:
        timing = summarize(per_epoch[name])
        gflops = flops / timing["median"] / 1e9
        libraries[name] = {
            "seconds_per_epoch": timing,
            "gflops": gflops,
            "gemm_peak_share": gflops / peak["gflops"],
            "test_accuracy": float(models[name].score(X_test, y_test)),
        }
        log(f"  {name:<13} {timing['median']:8.4f} s/epoch  {gflops:7.1f} GFLOP/s "
            f"({100 * gflops / peak['gflops']:4.1f}% of GEMM peak)  "
            f"accuracy {libraries[name]['test_accuracy']:.4f}")
    return {
        "title": workload.title,
        "params": workload.params(settings.epochs, settings.seed),
        "dtype": workload.dtype,
        "layer_units": layer_units,
        "n_train": int(X_train.shape[0]),
        "epochs": settings.epochs,
        "repeats": settings.repeats,
        "threads": settings.threads,
        "flops_per_epoch": flops,
        "gemm_peak": peak,
        "libraries": libraries,
        "speedup": _speedups({n: r["seconds_per_epoch"]["median"] for n, r in libraries.items()}),
    }


def _median_call_seconds(function, argument_at, calls):
    seconds = [timed(function, argument_at(i))[0] for i in range(calls)]
    return summarize(seconds, keep_all=calls <= 100)


def run_prediction(classes, data, settings, log):
    """W4: latency of ``predict`` on one row and throughput of ``predict_proba``."""
    X_train, y_train, X_test, _ = data.split(REFERENCE.dtype)
    many = np.ascontiguousarray(np.resize(X_test, (settings.proba_rows, X_test.shape[1])))
    results = {}
    with thread_count(settings.threads):
        for name, cls in classes.items():
            model = _fit_quietly(cls(**REFERENCE.params(1, settings.seed)), X_train, y_train)
            for i in range(10):
                model.predict(X_test[i:i + 1])
            model.predict_proba(many)
            settle()
            one_row = _median_call_seconds(
                model.predict, lambda i: X_test[i % len(X_test):i % len(X_test) + 1],
                settings.predict_calls)
            proba = _median_call_seconds(model.predict_proba, lambda i: many,
                                         settings.proba_repeats)
            # The same call after the machine has been idle, as a model serving
            # occasional requests sees it: thread pools have gone to sleep.
            after_pause = []
            for _ in range(settings.proba_repeats):
                settle()
                after_pause.append(timed(model.predict_proba, many)[0])
            proba_after_pause = summarize(after_pause)
            results[name] = {
                "predict_one_row_seconds": one_row,
                "predict_proba_seconds": proba,
                "predict_proba_rows_per_second": settings.proba_rows / proba["median"],
                "predict_proba_after_pause_seconds": proba_after_pause,
            }
            log(f"  {name:<13} predict 1 row {1e6 * one_row['median']:9.1f} us   "
                f"predict_proba {settings.proba_rows} rows {1e3 * proba['median']:8.2f} ms, "
                f"after a pause {1e3 * proba_after_pause['median']:8.2f} ms")
    return {
        "model": REFERENCE.title + ", 1 epoch",
        "threads": settings.threads,
        "predict_calls": settings.predict_calls,
        "proba_rows": settings.proba_rows,
        "proba_repeats": settings.proba_repeats,
        "libraries": results,
        "speedup_predict_one_row": _speedups(
            {n: r["predict_one_row_seconds"]["median"] for n, r in results.items()}),
        "speedup_predict_proba": _speedups(
            {n: r["predict_proba_seconds"]["median"] for n, r in results.items()}),
        "speedup_predict_proba_after_pause": _speedups(
            {n: r["predict_proba_after_pause_seconds"]["median"] for n, r in results.items()}),
    }


def _run_probe(arguments, cache_dir, log):
    """Run :mod:`bench.startup` in a fresh interpreter; return its JSON report."""
    import fastmlp

    package_root = os.path.dirname(os.path.dirname(os.path.abspath(fastmlp.__file__)))
    bench_root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        p for p in (package_root, bench_root, env.get("PYTHONPATH")) if p)
    if cache_dir is None:
        env.pop("NUMBA_CACHE_DIR", None)
    else:
        env["NUMBA_CACHE_DIR"] = cache_dir
    completed = subprocess.run([sys.executable, "-m", "bench.startup", *arguments],
                               cwd=bench_root, env=env, capture_output=True, text=True)
    if completed.returncode != 0:
        log(completed.stdout + completed.stderr)
        raise RuntimeError("the start-up probe failed")
    return json.loads(completed.stdout.strip().splitlines()[-1])


def run_startup(data, settings, log):
    """W5: cold compile and warm first-fit overhead, each in a fresh process.

    The probe times ``import fastmlp``, a first fit and a first ``predict_proba``,
    then the same fit and call again (steady state). Cold: an empty Numba cache
    (``NUMBA_CACHE_DIR`` set to a new temporary folder). Warm: a second fresh
    process on the cache the cold one filled (or on the default cache when the
    cold run is skipped, which the warm-up has filled).
    """
    X_train, y_train, _, _ = data.split(REFERENCE.dtype)
    rows = min(settings.startup_rows, len(X_train))
    with tempfile.TemporaryDirectory(prefix="fastmlp-bench-") as folder:
        data_file = os.path.join(folder, "data.npz")
        np.savez(data_file, X=X_train[:rows], y=y_train[:rows])
        arguments = [data_file, "--epochs", str(settings.startup_epochs),
                     "--seed", str(settings.seed)]
        result = {"rows": rows, "epochs": settings.startup_epochs}
        cache_dir = None
        if not settings.skip_cold_compile:
            cache_dir = os.path.join(folder, "numba-cache")
            os.mkdir(cache_dir)
            cold = _run_probe(arguments, cache_dir, log)
            result["cold"] = cold
            result["cold_compile_seconds"] = (
                cold["first_fit"] - cold["steady_fit"]["median"]
                + cold["first_predict"] - cold["steady_predict"]["median"])
            log(f"  cold: import {cold['import']:.2f} s, first fit {cold['first_fit']:.2f} s, "
                f"first predict_proba {cold['first_predict']:.2f} s, steady fit "
                f"{cold['steady_fit']['median']:.2f} s -> compile "
                f"{result['cold_compile_seconds']:.1f} s")
        warm = _run_probe(arguments, cache_dir, log)
        result["warm"] = warm
        result["warm_first_fit_overhead_seconds"] = warm["first_fit"] - warm["steady_fit"]["median"]
        result["warm_first_predict_overhead_seconds"] = (
            warm["first_predict"] - warm["steady_predict"]["median"])
        log(f"  warm: import {warm['import']:.2f} s, first fit {warm['first_fit']:.2f} s, "
            f"steady fit {warm['steady_fit']['median']:.2f} s -> first-fit overhead "
            f"{result['warm_first_fit_overhead_seconds']:.2f} s")
    return result


GRID = {
    "hidden_layer_sizes": [(50,), (100,)],
    "alpha": [1e-4, 1e-3],
    "learning_rate_init": [1e-3, 1e-2],
}


def run_grid_search(classes, data, settings, log):
    """W6: wall time of GridSearchCV over 8 configurations x 3 folds (no refit)."""
    from sklearn.model_selection import GridSearchCV

    X_train, y_train, _, _ = data.split(REFERENCE.dtype)
    rows = min(settings.grid_rows, len(X_train))
    results = {}
    with thread_count(settings.threads):
        for name, cls in classes.items():
            if name == TORCH:
                continue
            settle()
            search = GridSearchCV(cls(**REFERENCE.params(settings.grid_epochs, settings.seed)),
                                  GRID, cv=3, refit=False)
            seconds, _ = timed(_fit_quietly, search, X_train[:rows], y_train[:rows])
            best = {k: (list(v) if isinstance(v, tuple) else v)
                    for k, v in search.best_params_.items()}
            results[name] = {"seconds": seconds, "best_params": best,
                             "best_score": float(search.best_score_)}
            log(f"  {name:<13} {seconds:7.2f} s   best {best} score {search.best_score_:.4f}")
    return {
        "rows": rows,
        "epochs": settings.grid_epochs,
        "grid": {k: [list(v) if isinstance(v, tuple) else v for v in vs]
                 for k, vs in GRID.items()},
        "folds": 3,
        "refit": False,
        "threads": settings.threads,
        "libraries": results,
        "speedup": _speedups({n: r["seconds"] for n, r in results.items()}),
    }


def run_thread_scaling(classes, data, settings, log):
    """W7: W1 float32 seconds per epoch at 1, 2, 4, ... and all cores."""
    X_train, y_train, _, _ = data.split(REFERENCE.dtype)
    flops = epoch_flops(REFERENCE.layer_units(X_train.shape[1], data.n_classes), len(X_train))
    points = []
    for n_threads in thread_counts(settings.max_threads):
        with thread_count(n_threads):
            peak = gemm_peak(REFERENCE.dtype, settings.gemm_size)
            per_epoch, _ = _time_fits(classes, REFERENCE.params(settings.scaling_epochs,
                                                                 settings.seed),
                                      X_train, y_train, settings.scaling_epochs,
                                      settings.scaling_repeats)
        seconds = {name: summarize(s) for name, s in per_epoch.items()}
        medians = {name: s["median"] for name, s in seconds.items()}
        points.append({
            "threads": n_threads,
            "gemm_peak": peak,
            "seconds_per_epoch": seconds,
            "gflops": {name: flops / m / 1e9 for name, m in medians.items()},
            "speedup": _speedups(medians),
        })
        log(f"  {n_threads:>3} threads: " + "  ".join(
            f"{name} {m:.4f} s/epoch" for name, m in medians.items()))
    return {
        "title": REFERENCE.title,
        "epochs": settings.scaling_epochs,
        "repeats": settings.scaling_repeats,
        "flops_per_epoch": flops,
        "points": points,
    }
