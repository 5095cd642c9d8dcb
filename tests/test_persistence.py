"""Pickle and joblib round trips into a fresh process (one with an empty Numba
cache) predict exactly what the fitted model predicted, bit for bit."""

import os
import pickle
import subprocess
import sys
import textwrap

import joblib
import numpy as np
import pytest

from fastmlp import MLPClassifier, MLPRegressor

MODELS = {
    "classifier-multiclass-f64": (
        lambda: MLPClassifier((12, 7), max_iter=20, random_state=0), "multiclass", np.float64
    ),
    "classifier-binary-f32": (
        lambda: MLPClassifier((9,), activation="tanh", max_iter=20, random_state=1),
        "binary",
        np.float32,
    ),
    "regressor-lbfgs-f64": (
        lambda: MLPRegressor(hidden_layer_sizes=(10,), solver="lbfgs", max_iter=30, random_state=2),
        "regression",
        np.float64,
    ),
    "regressor-poisson-f32": (
        lambda: MLPRegressor(hidden_layer_sizes=(10,), loss="poisson", max_iter=20, random_state=3),
        "poisson",
        np.float32,
    ),
}

LOAD_AND_PREDICT = textwrap.dedent(
    """
    import pickle, sys
    import joblib, numba, numpy as np
    directory = sys.argv[1]
    X = np.load(f"{directory}/X.npy")
    for name in sys.argv[2:]:
        for how in ("pickle", "joblib"):
            path = f"{directory}/{name}.{how}"
            if how == "pickle":
                with open(path, "rb") as f:
                    model = pickle.load(f)
            else:
                model = joblib.load(path)
            np.save(f"{path}.predict.npy", model.predict(X.astype(model.coefs_[0].dtype)))
            if hasattr(model, "predict_proba"):
                np.save(f"{path}.proba.npy", model.predict_proba(X.astype(model.coefs_[0].dtype)))
    print(numba.config.CACHE_DIR)
    """
)


def _targets(kind, X, rng):
    if kind == "multiclass":
        return np.array(["ant", "bee", "cat"])[np.argmax(X[:, :3], axis=1)]
    if kind == "binary":
        return (X[:, 0] > X[:, 1]).astype(int)
    if kind == "regression":
        return X @ rng.uniform(-1, 1, X.shape[1])
    return rng.poisson(np.exp(X[:, 0]))


# A cold Numba cache compiles the prediction kernel once per dtype (tens of
# seconds of CPU): the float64 models go to a process with an empty cache, the
# float32 ones to a fresh process that may load the package's cache.
COLD_CACHE = {name: (dtype == np.float64) for name, (_, _, dtype) in MODELS.items()}


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.parametrize("cold_cache", [True, False], ids=["empty-numba-cache", "numba-cache"])
def test_round_trip_into_fresh_process(cold_cache, tmp_path):
    names = [name for name in MODELS if COLD_CACHE[name] == cold_cache]
    rng = np.random.RandomState(0)
    X = rng.uniform(-1, 1, (300, 6))
    np.save(tmp_path / "X.npy", X)
    expected = {}
    for name in names:
        make, kind, dtype = MODELS[name]
        model = make().fit(X.astype(dtype), _targets(kind, X, rng))
        with open(tmp_path / f"{name}.pickle", "wb") as f:
            pickle.dump(model, f)
        joblib.dump(model, tmp_path / f"{name}.joblib")
        expected[name] = {"predict": model.predict(X.astype(dtype))}
        if hasattr(model, "predict_proba"):
            expected[name]["proba"] = model.predict_proba(X.astype(dtype))

    env = dict(os.environ)
    env.pop("NUMBA_CACHE_DIR", None)
    if cold_cache:
        cache_dir = tmp_path / "numba-cache"
        cache_dir.mkdir()
        env["NUMBA_CACHE_DIR"] = str(cache_dir)
    result = subprocess.run(
        [sys.executable, "-c", LOAD_AND_PREDICT, str(tmp_path), *names],
        env=env, capture_output=True, text=True, timeout=900,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    if cold_cache:
        assert result.stdout.strip() == str(cache_dir)
        assert any(cache_dir.rglob("*.nbc")), "the fresh process compiled nothing"

    for name, outputs in expected.items():
        for how in ("pickle", "joblib"):
            for what, want in outputs.items():
                got = np.load(tmp_path / f"{name}.{how}.{what}.npy", allow_pickle=False)
                assert got.dtype == want.dtype, (name, how, what)
                assert got.tobytes() == want.tobytes(), (name, how, what)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_unpickled_model_is_one_buffer_and_keeps_training(multiclass_data):
    X, y = multiclass_data
    clf = MLPClassifier((8,), max_iter=5, random_state=0, warm_start=True).fit(X, y)
    clone = pickle.loads(pickle.dumps(clf))
    assert clone._trainer_in_sync()
    np.testing.assert_array_equal(clone.predict_proba(X), clf.predict_proba(X))
    # Warm-started training continues identically from the copy.
    clf.fit(X, y)
    clone.fit(X, y)
    for a, b in zip(clf.coefs_ + clf.intercepts_, clone.coefs_ + clone.intercepts_):
        np.testing.assert_array_equal(a, b)
