"""The Markdown tables, the plots and the files a run leaves in ``bench/results``."""

import json
import os

from .measure import SETTLE_SECONDS
from .workloads import FASTMLP, METHOD, SKLEARN, TORCH

TRAINING_KEYS = ("W1-float32", "W1-float64", "W2", "W3")
DISPLAY_NAMES = {FASTMLP: "fastmlp", SKLEARN: "scikit-learn", TORCH: "PyTorch"}


def _get(tree, *path):
    for key in path:
        if not isinstance(tree, dict) or key not in tree:
            return None
        tree = tree[key]
    return tree


def _cell(value, fmt):
    return "—" if value is None else fmt.format(value)


def _table(header, rows):
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return lines


def _peak_cell(peak):
    """Best GEMM rate, with the median and worst of the same runs when recorded."""
    best = _cell(peak.get("gflops"), "{:.1f}")
    if "median_gflops" not in peak:
        return best
    return f"{best} ({peak['median_gflops']:.0f}, {peak['worst_gflops']:.0f})"


def _training_table(w):
    header = ["Workload", "fastmlp s/epoch", "scikit-learn s/epoch", "PyTorch s/epoch",
              "vs scikit-learn", "vs PyTorch", "fastmlp GFLOP/s", "GEMM peak GFLOP/s",
              "share of peak", "test accuracy fastmlp / scikit-learn / PyTorch"]
    rows = []
    for key in TRAINING_KEYS:
        if key not in w:
            continue
        r = w[key]
        libs = r["libraries"]

        def sec(name):
            return _get(libs, name, "seconds_per_epoch", "median")

        accuracy = " / ".join(_cell(_get(libs, n, "test_accuracy"), "{:.4f}")
                              for n in (FASTMLP, SKLEARN, TORCH))
        rows.append([
            f"{r['title']} ({r['threads']} thread{'s' if r['threads'] > 1 else ''})",
            _cell(sec(FASTMLP), "{:.4f}"), _cell(sec(SKLEARN), "{:.4f}"),
            _cell(sec(TORCH), "{:.4f}"),
            _cell(_get(r, "speedup", SKLEARN), "{:.2f}x"),
            _cell(_get(r, "speedup", TORCH), "{:.2f}x"),
            _cell(_get(libs, FASTMLP, "gflops"), "{:.1f}"),
            _peak_cell(r["gemm_peak"]),
            _cell(_get(libs, FASTMLP, "gemm_peak_share"), "{:.0%}"),
            accuracy,
        ])
    return _table(header, rows)


def _prediction_table(r):
    libs = r["libraries"]
    header = ["W4 prediction", "fastmlp", "scikit-learn", "PyTorch", "vs scikit-learn",
              "vs PyTorch"]

    def row(label, field, scale, fmt, speedups):
        return [label] + [
            _cell(None if _get(libs, n, field, "median") is None
                  else scale * _get(libs, n, field, "median"), fmt)
            for n in (FASTMLP, SKLEARN, TORCH)
        ] + [_cell(speedups.get(SKLEARN), "{:.2f}x"), _cell(speedups.get(TORCH), "{:.2f}x")]

    return _table(header, [
        row(f"predict, 1 row (µs, median of {r['predict_calls']} calls)",
            "predict_one_row_seconds", 1e6, "{:.1f}", r["speedup_predict_one_row"]),
        row(f"predict_proba, {r['proba_rows']} rows (ms, median of {r['proba_repeats']})",
            "predict_proba_seconds", 1e3, "{:.2f}", r["speedup_predict_proba"]),
    ] + ([row(f"predict_proba, {r['proba_rows']} rows, each call after a {SETTLE_SECONDS} s "
              f"pause (ms, median of {r['proba_repeats']})",
              "predict_proba_after_pause_seconds", 1e3, "{:.2f}",
              r["speedup_predict_proba_after_pause"])]
         if "speedup_predict_proba_after_pause" in r else []))


def _startup_table(r):
    rows = []
    if "cold" in r:
        cold = r["cold"]
        rows.append(["cold compile: (first fit + first predict_proba) − steady state, "
                     "empty Numba cache", f"{r['cold_compile_seconds']:.2f} s"])
        rows.append(["cold cache: first fit − steady-state fit",
                     f"{cold['first_fit'] - cold['steady_fit']['median']:.2f} s"])
        rows.append(["cold cache: first predict_proba − steady state",
                     f"{cold['first_predict'] - cold['steady_predict']['median']:.2f} s"])
        rows.append(["import fastmlp, empty cache", f"{r['cold']['import']:.2f} s"])
    rows.append(["warm cache: first fit − steady-state fit",
                 f"{r['warm_first_fit_overhead_seconds']:.2f} s"])
    rows.append(["warm cache: first predict_proba − steady state",
                 f"{r['warm_first_predict_overhead_seconds']:.2f} s"])
    rows.append(["warm cache: import fastmlp", f"{r['warm']['import']:.2f} s"])
    rows.append([f"steady-state fit ({r['rows']} rows, {r['epochs']} epochs)",
                 f"{r['warm']['steady_fit']['median']:.2f} s"])
    return _table(["W5 start-up (fresh processes)", "seconds"], rows)


def _grid_table(r):
    libs = r["libraries"]
    rows = [[name, f"{v['seconds']:.2f}", f"{v['best_score']:.4f}", str(v["best_params"])]
            for name, v in libs.items()]
    title = (f"W6 GridSearchCV, 8 configurations × {r['folds']} folds, {r['rows']} rows, "
             f"{r['epochs']} epochs")
    lines = _table([title, "wall time (s)", "best CV accuracy", "best parameters"], rows)
    return lines + ["", f"fastmlp vs scikit-learn: {_cell(r['speedup'].get(SKLEARN), '{:.2f}x')}"]


def _scaling_table(r):
    header = ["W7 threads", "GEMM peak GFLOP/s", "fastmlp s/epoch", "scikit-learn s/epoch",
              "PyTorch s/epoch", "fastmlp GFLOP/s", "vs scikit-learn", "vs PyTorch"]
    rows = []
    for p in r["points"]:
        def sec(name):
            return _get(p, "seconds_per_epoch", name, "median")

        rows.append([str(p["threads"]), _peak_cell(p["gemm_peak"]),
                     _cell(sec(FASTMLP), "{:.4f}"), _cell(sec(SKLEARN), "{:.4f}"),
                     _cell(sec(TORCH), "{:.4f}"), _cell(p["gflops"].get(FASTMLP), "{:.1f}"),
                     _cell(p["speedup"].get(SKLEARN), "{:.2f}x"),
                     _cell(p["speedup"].get(TORCH), "{:.2f}x")])
    return _table(header, rows)


def markdown(results):
    """The run as Markdown: context, one table per workload group, method."""
    m = results["machine"]
    v = m["versions"]
    d = results["data"]
    w = results["workloads"]
    s = results["settings"]
    lines = [
        f"# fastmlp benchmark, {results['date']}",
        "",
        f"- Machine: {m['cpu_model']}, {m['available_cores']} cores available, "
        f"{m['memory_gib']} GiB; load average at start {results['load_average']['start']}, "
        f"at end {results['load_average']['end']}.",
        f"- fastmlp commit {m['fastmlp_commit']}; Python {v['python']}, numpy {v['numpy']}, "
        f"numba {v['numba']}, scikit-learn {v['scikit-learn']}, "
        f"torch {v['torch'] or 'not installed'}.",
        "- BLAS: " + "; ".join(f"{b['internal_api']} {b['version']} ({b['user_api']}, "
                                f"{os.path.basename(b['filepath'] or '')})" for b in m["blas"]),
        f"- Data: {d['name']}: {d['n_train']} training rows, {d['n_test']} test rows, "
        f"{d['n_features']} features, {d['n_classes']} classes.",
        f"- Settings: {s['epochs']} epochs × {s['repeats']} fits per training workload, "
        f"{s['threads']} threads; libraries: {', '.join(results['libraries'])}.",
        f"- Wall time of the whole run: {results['run_seconds']:.0f} s.",
        "",
    ]
    if any(k in w for k in TRAINING_KEYS):
        lines += ["## Training", ""] + _training_table(w) + [""]
    if "W4" in w:
        lines += ["## Prediction", ""] + _prediction_table(w["W4"]) + [""]
    if "W5" in w:
        lines += ["## Start-up", ""] + _startup_table(w["W5"]) + [""]
    if "W6" in w:
        lines += ["## Grid search", ""] + _grid_table(w["W6"]) + [""]
    if "W7" in w:
        lines += ["## Thread scaling", ""] + _scaling_table(w["W7"]) + [""]
    lines += ["## Method", "", METHOD, ""]
    return "\n".join(lines)


# ---------------------------------------------------------------------------- plots

def _speedup_series(w):
    labels, series = [], {SKLEARN: [], TORCH: []}
    for key in TRAINING_KEYS:
        if key in w:
            labels.append(key)
            for name in series:
                series[name].append(_get(w, key, "speedup", name))
    if "W4" in w:
        labels += ["W4 predict\n1 row", "W4 predict_proba"]
        for name in series:
            series[name] += [_get(w, "W4", "speedup_predict_one_row", name),
                             _get(w, "W4", "speedup_predict_proba", name)]
    if "W6" in w:
        labels.append("W6 grid\nsearch")
        for name in series:
            series[name].append(_get(w, "W6", "speedup", name))
    return labels, series


def plot(results, output_dir):
    """Draw ``speedup.png`` and ``scaling.png``; return their paths ([] without matplotlib)."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return []
    w = results["workloads"]
    caption = f"{results['machine']['cpu_model']}, {results['date']}"
    paths = []

    labels, series = _speedup_series(w)
    if labels:
        fig, ax = plt.subplots(figsize=(max(6, 1.1 * len(labels)), 4))
        width = 0.38
        for i, (name, values) in enumerate(series.items()):
            xs = [j + (i - 0.5) * width for j, v in enumerate(values) if v is not None]
            ys = [v for v in values if v is not None]
            if not ys:
                continue
            bars = ax.bar(xs, ys, width, label=f"fastmlp vs {DISPLAY_NAMES[name]}")
            ax.bar_label(bars, fmt="%.2fx", fontsize=7)
        ax.axhline(1.0, color="black", linewidth=0.8)
        ax.set_yscale("log")
        shown = [v for values in series.values() for v in values if v is not None]
        if shown:
            ax.set_ylim(min(0.5, min(shown)) / 1.5, max(2.0, max(shown)) * 1.8)
        ax.set_xticks(range(len(labels)), labels, fontsize=8)
        ax.set_ylabel("speed-up (their time / fastmlp's)")
        threads = sorted({r["threads"] for r in w.values()
                          if isinstance(r, dict) and "threads" in r})
        at = " / ".join(map(str, threads)) or "?"
        ax.set_title(f"fastmlp speed-up per workload, {at} threads\n{caption}", fontsize=9)
        ax.legend(fontsize=8)
        fig.tight_layout()
        paths.append(os.path.join(output_dir, "speedup.png"))
        fig.savefig(paths[-1], dpi=120)
        plt.close(fig)

    if "W7" in w:
        points = w["W7"]["points"]
        threads = [p["threads"] for p in points]
        fig, ax = plt.subplots(figsize=(6, 4))
        for name in (FASTMLP, SKLEARN, TORCH):
            ys = [_get(p, "seconds_per_epoch", name, "median") for p in points]
            if all(y is not None for y in ys):
                ax.plot(threads, ys, marker="o", label=DISPLAY_NAMES[name])
                if name == FASTMLP:
                    ax.plot(threads, [ys[0] / t for t in threads], linestyle=":",
                            color="grey", label="fastmlp, perfect scaling")
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.set_xticks(threads, [str(t) for t in threads])
        ax.set_xlabel("threads")
        ax.set_ylabel("seconds per epoch")
        ax.set_title(f"{w['W7']['title']}: thread scaling\n{caption}", fontsize=9)
        ax.legend(fontsize=8)
        fig.tight_layout()
        paths.append(os.path.join(output_dir, "scaling.png"))
        fig.savefig(paths[-1], dpi=120)
        plt.close(fig)
    return paths


# ---------------------------------------------------------------------------- files

def _write(path, text):
    temporary = path + ".tmp"
    with open(temporary, "w") as f:
        f.write(text)
    os.replace(temporary, path)


def write(results, output_dir):
    """Write ``run-<stamp>.json`` and ``.md``, the same as ``latest.*``, and the plots.

    Returns
    -------
    paths : list of str
    """
    os.makedirs(output_dir, exist_ok=True)
    text = json.dumps(results, indent=1, sort_keys=False, default=str) + "\n"
    table = markdown(results)
    paths = []
    for stem in (f"run-{results['stamp']}", "latest"):
        paths += [os.path.join(output_dir, stem + ".json"), os.path.join(output_dir, stem + ".md")]
        _write(paths[-2], text)
        _write(paths[-1], table)
    return paths + plot(results, output_dir)
