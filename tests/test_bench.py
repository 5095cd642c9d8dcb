"""The benchmark suite runs end to end on tiny data and writes what it promises.

Speed is measured by ``python -m bench``, never asserted here: these tests only
check that the suite runs (quick mode, synthetic data, no Fashion-MNIST, PyTorch
only when installed) and that its bookkeeping is right.
"""

import importlib.util
import json
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
from numpy.testing import assert_array_equal

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.measure import epoch_flops, thread_counts  # noqa: E402
from bench.run import main  # noqa: E402
from bench.torch_mlp import TorchMLP, torch_available  # noqa: E402

TRAINING_KEYS = ("W1-float32", "W1-float64", "W2", "W3")


def test_quick_suite_writes_json_and_markdown(tmp_path, capsys):
    assert main(["--quick", "--skip-cold-compile", "--output-dir", str(tmp_path)]) == 0
    printed = capsys.readouterr().out

    latest = json.loads((tmp_path / "latest.json").read_text())
    runs = list(tmp_path.glob("run-*.json"))
    assert len(runs) == 1
    assert json.loads(runs[0].read_text()) == latest
    assert runs[0].with_suffix(".md").read_text() == (tmp_path / "latest.md").read_text()

    workloads = latest["workloads"]
    assert set(workloads) == {*TRAINING_KEYS, "W4", "W5", "W6", "W7"}
    for key in TRAINING_KEYS:
        libraries = workloads[key]["libraries"]
        assert {"fastmlp", "scikit-learn"} <= set(libraries)
        for result in libraries.values():
            assert result["seconds_per_epoch"]["median"] > 0
            assert result["gflops"] > 0
            assert 0 <= result["test_accuracy"] <= 1
        assert workloads[key]["speedup"]["scikit-learn"] > 0
        assert workloads[key]["gemm_peak"]["gflops"] > 0
    assert ("pytorch" in workloads["W1-float32"]["libraries"]) == torch_available()
    assert workloads["W4"]["speedup_predict_one_row"]["scikit-learn"] > 0
    assert workloads["W4"]["speedup_predict_proba_after_pause"]["scikit-learn"] > 0
    for result in workloads["W4"]["libraries"].values():
        assert len(result["predict_proba_after_pause_seconds"]["all"]) == 3
    assert workloads["W5"]["warm_first_fit_overhead_seconds"] is not None
    assert workloads["W6"]["speedup"]["scikit-learn"] > 0
    assert [p["threads"] for p in workloads["W7"]["points"]][0] == 1

    machine = latest["machine"]
    assert machine["cpu_model"] and machine["available_cores"] >= 1
    assert machine["versions"]["numba"] and machine["blas"]

    markdown = (tmp_path / "latest.md").read_text()
    for heading in ("## Training", "## Prediction", "## Start-up", "## Grid search",
                    "## Thread scaling", "## Method"):
        assert heading in markdown
    assert "## Training" in printed
    assert "each call after a 0.3 s pause" in markdown


def test_epoch_flops_matches_issue_4_estimate():
    # 784-100-10 on 60,000 rows: "one epoch is about 19 GFLOP".
    flops = epoch_flops([784, 100, 10], 60000)
    forward = 2 * 60000 * (784 * 100 + 100 * 10)
    assert flops == forward + forward + 2 * 60000 * 100 * 10
    assert 19e9 < flops < 19.5e9


def test_thread_counts_double_up_to_all_cores():
    assert thread_counts(1) == [1]
    assert thread_counts(2) == [1, 2]
    assert thread_counts(6) == [1, 2, 4, 6]
    assert thread_counts(16) == [1, 2, 4, 8, 16]


@pytest.mark.skipif(not torch_available(), reason="PyTorch is not installed")
def test_torch_reference_trains_like_scikit_learn():
    # Same initial weights, batches, L2 term and Adam: after 12 steps in float64 the
    # two agree to rounding. Adam's epsilon sits in a different place in each
    # (torch adds it to the bias-corrected root, scikit-learn to the raw one), so
    # it is made negligible here.
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier

    rng = np.random.RandomState(0)
    X = rng.rand(300, 12)
    y = rng.randint(0, 3, 300)
    params = dict(hidden_layer_sizes=(7,), batch_size=50, max_iter=2, random_state=1,
                  alpha=1e-2, epsilon=1e-14)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        theirs = MLPClassifier(**params).fit(X, y)
    ours = TorchMLP(**params).fit(X, y)
    linear = [m for m in ours.model_ if hasattr(m, "weight")]
    for layer, coefs, intercepts in zip(linear, theirs.coefs_, theirs.intercepts_):
        np.testing.assert_allclose(layer.weight.detach().numpy().T, coefs, rtol=1e-7, atol=1e-9)
        np.testing.assert_allclose(layer.bias.detach().numpy(), intercepts,
                                   rtol=1e-7, atol=1e-9)
    np.testing.assert_allclose(ours.predict_proba(X), theirs.predict_proba(X), rtol=1e-7)


def test_breakdown_pieces_add_up_to_the_epoch(tmp_path, capsys):
    from bench.breakdown import main as breakdown_main

    breakdown_main(["--data", "synthetic", "--rows", "400", "--hidden", "8,6",
                    "--activation", "tanh", "--batch-size", "50", "--repeats", "1",
                    "--output-dir", str(tmp_path)])
    stem = tmp_path / "breakdown-784-8-6-10-tanh-float32"
    result = json.loads(stem.with_suffix(".json").read_text())
    assert result["layer_units"] == [784, 8, 6, 10]
    assert result["rows"] == 400 and result["batch_size"] == 50
    derived = result["derived_seconds"]
    assert set(derived) == {"gather", "products", "elementwise", "update_and_loop"}
    epoch = result["seconds"]["epoch"]["median"]
    assert sum(derived.values()) == pytest.approx(epoch)
    assert result["flops_per_epoch"] == epoch_flops(result["layer_units"], 400)
    assert "whole epoch" in stem.with_suffix(".md").read_text()
    assert "matrix products" in capsys.readouterr().out


def test_training_controls_subsamples_only_the_named_classes():
    from bench.training_controls import subsample_classes

    y = np.repeat(np.arange(4), 100)
    X = np.arange(400.0).reshape(-1, 1)
    X_small, y_small = subsample_classes(X, y, [0, 1], 0.1, seed=0)
    assert np.bincount(y_small).tolist() == [10, 10, 100, 100]
    assert_array_equal(X_small[:, 0].astype(int) // 100, y_small)


def test_epoch_overhead_times_every_callback_kind():
    from bench.epoch_overhead import seconds_per_epoch

    X = np.random.RandomState(0).rand(60, 4)
    y = (X[:, 0] > 0.5).astype(int)
    kinds = ["none", "no-op"] + (["progress"] if importlib.util.find_spec("rich") else [])
    for kind in kinds:
        assert 0 < seconds_per_epoch(X, y, kind, epochs=2, repeats=1) < 5
