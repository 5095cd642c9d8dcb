"""Command line of the benchmark suite: ``python -m bench [options]``."""

import argparse
import datetime
import functools
import os
import time

from . import measure, report
from .data import DATA_SOURCES, load
from .machine import describe, load_average
from .measure import available_cores
from .workloads import (
    FASTMLP, LIBRARY_NAMES, REFERENCE, TORCH, TRAINING_WORKLOADS, library_classes,
    run_grid_search, run_prediction, run_startup, run_thread_scaling, run_training, warm_up,
)

WORKLOADS = ("w1", "w2", "w3", "w4", "w5", "w6", "w7")
RESULTS_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results")

# Sizes of a full run and of --quick (tiny synthetic data: checks that the suite runs).
FULL = dict(data="fashion-mnist", rows=None, test_rows=None, epochs=3, repeats=3,
            gemm_size=2048, predict_calls=1000, proba_rows=10000, proba_repeats=10,
            grid_rows=10000, grid_epochs=10, scaling_epochs=3, scaling_repeats=2,
            startup_rows=10000, startup_epochs=2, settle=0.3)
QUICK = dict(data="synthetic", rows=1000, test_rows=300, epochs=1, repeats=1,
             gemm_size=256, predict_calls=30, proba_rows=1000, proba_repeats=3,
             grid_rows=600, grid_epochs=1, scaling_epochs=1, scaling_repeats=1,
             startup_rows=400, startup_epochs=1, settle=0.05)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description="fastmlp's benchmark suite: fastmlp, scikit-learn and PyTorch side by "
                    "side on workloads W1-W7; writes JSON, Markdown and plots.",
    )
    parser.add_argument("--workloads", default="all",
                        help="comma-separated subset of " + ",".join(WORKLOADS)
                             + " (default: all)")
    parser.add_argument("--quick", action="store_true",
                        help="tiny synthetic data, 1 epoch, 1 fit: checks that the suite runs")
    parser.add_argument("--data", choices=DATA_SOURCES,
                        help="data set (default fashion-mnist, or synthetic with --quick)")
    parser.add_argument("--rows", type=int, help="keep only the first ROWS training rows")
    parser.add_argument("--test-rows", type=int, help="keep only the first TEST_ROWS test rows")
    parser.add_argument("--libraries", default=",".join(LIBRARY_NAMES),
                        help="comma-separated subset of " + ",".join(LIBRARY_NAMES))
    parser.add_argument("--no-torch", action="store_true", help="leave PyTorch out")
    parser.add_argument("--threads", type=int,
                        help="threads for W1-W6 (default: all available cores, here "
                             f"{available_cores()})")
    parser.add_argument("--max-threads", type=int,
                        help="largest thread count of W7 (default: all available cores)")
    parser.add_argument("--epochs", type=int, help="epochs per timed fit (W1-W3)")
    parser.add_argument("--repeats", type=int, help="timed fits per library (W1-W3)")
    parser.add_argument("--gemm-size", type=int, help="N of the N x N GEMM peak")
    parser.add_argument("--predict-calls", type=int, help="W4 one-row predict calls")
    parser.add_argument("--proba-rows", type=int, help="W4 predict_proba rows")
    parser.add_argument("--proba-repeats", type=int, help="W4 predict_proba calls")
    parser.add_argument("--grid-rows", type=int, help="W6 rows")
    parser.add_argument("--grid-epochs", type=int, help="W6 max_iter")
    parser.add_argument("--scaling-epochs", type=int, help="W7 epochs per fit")
    parser.add_argument("--scaling-repeats", type=int, help="W7 fits per library and count")
    parser.add_argument("--startup-rows", type=int, help="W5 rows")
    parser.add_argument("--startup-epochs", type=int, help="W5 max_iter")
    parser.add_argument("--skip-cold-compile", action="store_true",
                        help="W5: measure only the warm-cache start-up")
    parser.add_argument("--settle", type=float,
                        help="idle seconds before each timed call")
    parser.add_argument("--seed", type=int, default=0,
                        help="random_state of every fit (default 0)")
    parser.add_argument("--output-dir", default=RESULTS_DIR,
                        help="where results go (default: bench/results)")
    for action in parser._actions:
        if action.dest in FULL and action.dest != "data":
            full = "all" if FULL[action.dest] is None else FULL[action.dest]
            action.help += f" (default {full}; {QUICK[action.dest]} with --quick)"
    args = parser.parse_args(argv)

    preset = QUICK if args.quick else FULL
    for name, value in preset.items():
        if getattr(args, name) is None:
            setattr(args, name, value)
    args.threads = args.threads or available_cores()
    args.max_threads = args.max_threads or available_cores()
    chosen = WORKLOADS if args.workloads == "all" else [
        w.strip().lower() for w in args.workloads.split(",") if w.strip()]
    unknown = sorted(set(chosen) - set(WORKLOADS))
    if unknown:
        parser.error(f"unknown workloads {unknown}; choose from {','.join(WORKLOADS)}")
    args.workloads = [w for w in WORKLOADS if w in chosen]
    args.libraries = [n.strip() for n in args.libraries.split(",") if n.strip()]
    if args.no_torch:
        args.libraries = [n for n in args.libraries if n != TORCH]
    return args


def main(argv=None):
    args = parse_args(argv)
    settle_before, measure.SETTLE_SECONDS = measure.SETTLE_SECONDS, args.settle
    try:
        return _run(args)
    finally:
        measure.SETTLE_SECONDS = settle_before


def _run(args):
    log = functools.partial(print, flush=True)
    started = time.perf_counter()
    now = datetime.datetime.now(datetime.timezone.utc)
    load_at_start = load_average()

    data = load(args.data, args.rows, args.test_rows)
    log(f"data: {data.name}: {len(data.X_train)} training rows, {len(data.X_test)} test rows")
    classes = library_classes(args.libraries)
    if TORCH in args.libraries and TORCH not in classes:
        log("PyTorch is not installed: its columns are skipped "
            "(pip install torch==2.13.0 for the CPU build)")

    dtypes = {w.dtype for key in args.workloads for w in TRAINING_WORKLOADS.get(key, [])}
    dtypes.add(REFERENCE.dtype)
    log("warming up: compiling or loading fastmlp's kernels, starting every library ...")
    warm_up_seconds = warm_up(classes, data, sorted(dtypes), args.seed)
    log("  " + ", ".join(f"{n} {s:.2f} s" for n, s in warm_up_seconds.items()))
    log(f"threads: {args.threads} (BLAS via threadpoolctl, Numba, PyTorch)")

    workloads = {}
    for key in args.workloads:
        workload_started = time.perf_counter()
        if key in TRAINING_WORKLOADS:
            for workload in TRAINING_WORKLOADS[key]:
                log(f"{workload.title}: {args.repeats} fits of {args.epochs} epochs per library")
                workloads[workload.key] = run_training(workload, classes, data, args, log)
        elif key == "w4":
            log("W4 prediction: fitting 1 epoch, then timing predict and predict_proba")
            workloads["W4"] = run_prediction(classes, data, args, log)
        elif key == "w5" and FASTMLP in classes:
            log("W5 start-up: fresh processes, empty then warm Numba cache")
            workloads["W5"] = run_startup(data, args, log)
        elif key == "w6":
            log(f"W6 GridSearchCV: 8 configurations x 3 folds on {args.grid_rows} rows")
            workloads["W6"] = run_grid_search(classes, data, args, log)
        elif key == "w7":
            log(f"W7 thread scaling up to {args.max_threads} threads")
            workloads["W7"] = run_thread_scaling(classes, data, args, log)
        log(f"  ({time.perf_counter() - workload_started:.1f} s)")

    results = {
        "schema": 1,
        "date": now.strftime("%Y-%m-%d %H:%M UTC"),
        "stamp": now.strftime("%Y%m%dT%H%M%SZ"),
        "machine": describe(),
        "load_average": {"start": load_at_start, "end": load_average()},
        "settings": {k: v for k, v in vars(args).items() if k != "output_dir"},
        "data": data.describe(),
        "libraries": list(classes),
        "warm_up_seconds": warm_up_seconds,
        "method": report.METHOD,
        "workloads": workloads,
        "run_seconds": time.perf_counter() - started,
    }
    paths = report.write(results, args.output_dir)

    log("")
    log(report.markdown(results))
    log("")
    log("written: " + ", ".join(paths))
    return 0
