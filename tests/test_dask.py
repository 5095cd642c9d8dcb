"""Dask as the engine beyond one machine: grid search on a dask.distributed
cluster through joblib, and dask-ml's Incremental streaming partial_fit over a
Dask array of many chunks."""

import warnings

import joblib
import numpy as np
import pytest
from sklearn.model_selection import GridSearchCV

from fastmlp import MLPClassifier, MLPRegressor

da = pytest.importorskip("dask.array")
distributed = pytest.importorskip("distributed")


@pytest.fixture(scope="module")
def client():
    cluster = distributed.LocalCluster(
        processes=False, n_workers=2, threads_per_worker=1, dashboard_address=None
    )
    client = distributed.Client(cluster)
    yield client
    client.close()
    cluster.close()


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_grid_search_on_dask_cluster(client, multiclass_data):
    X, y = multiclass_data
    param_grid = {"alpha": [1e-4, 1e-2], "hidden_layer_sizes": [(8,), (4, 4)]}
    estimator = MLPClassifier(max_iter=5, random_state=0)
    with joblib.parallel_backend("dask"):
        on_dask = GridSearchCV(estimator, param_grid, cv=2, n_jobs=-1).fit(X, y)
    local = GridSearchCV(estimator, param_grid, cv=2, n_jobs=1).fit(X, y)

    np.testing.assert_array_equal(
        on_dask.cv_results_["mean_test_score"], local.cv_results_["mean_test_score"]
    )
    assert on_dask.best_params_ == local.best_params_
    np.testing.assert_array_equal(on_dask.predict(X), local.predict(X))


def _incremental():
    try:
        from dask_ml.wrappers import Incremental
    except Exception as error:  # pragma: no cover - depends on the installed versions
        pytest.skip(f"dask-ml does not import with this scikit-learn: {error!r}")
    return Incremental


@pytest.mark.filterwarnings("ignore::FutureWarning")
def test_incremental_partial_fit_over_chunks(client):
    Incremental = _incremental()
    rng = np.random.RandomState(0)
    n_chunks, chunk_rows = 12, 50
    X_np = rng.uniform(-1, 1, (n_chunks * chunk_rows, 6))
    y_np = (X_np[:, 0] + X_np[:, 1] > 0).astype(np.int64)
    X = da.from_array(X_np, chunks=(chunk_rows, 6))
    y = da.from_array(y_np, chunks=chunk_rows)
    assert X.numblocks[0] == n_chunks

    params = dict(hidden_layer_sizes=(8,), random_state=0)
    streamed = Incremental(MLPClassifier(**params), scoring="accuracy", shuffle_blocks=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # dask's large-graph notices
        streamed.fit(X, y, classes=[0, 1])

    # The same stream of partial_fit calls, one chunk each, in order.
    reference = MLPClassifier(**params)
    for start in range(0, len(X_np), chunk_rows):
        rows = slice(start, start + chunk_rows)
        reference.partial_fit(X_np[rows], y_np[rows], classes=[0, 1])
    model = streamed.estimator_
    assert model.t_ == len(X_np)
    for got, want in zip(model.coefs_ + model.intercepts_,
                         reference.coefs_ + reference.intercepts_):
        np.testing.assert_array_equal(got, want)
    predicted = streamed.predict(X).compute()
    np.testing.assert_array_equal(predicted, reference.predict(X_np))


@pytest.mark.filterwarnings("ignore::FutureWarning")
def test_incremental_regressor(client):
    Incremental = _incremental()
    rng = np.random.RandomState(1)
    X_np = rng.uniform(-1, 1, (400, 4)).astype(np.float32)
    y_np = X_np @ np.array([1.0, -2.0, 0.5, 0.0], dtype=np.float32)
    X = da.from_array(X_np, chunks=(40, 4))
    y = da.from_array(y_np, chunks=40)
    streamed = Incremental(MLPRegressor(hidden_layer_sizes=(8,), random_state=0))
    streamed.fit(X, y)
    assert streamed.estimator_.coefs_[0].dtype == np.float32
    assert streamed.estimator_.t_ == len(X_np)
    assert np.isfinite(streamed.predict(X).compute()).all()
