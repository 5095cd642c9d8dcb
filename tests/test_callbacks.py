"""scikit-learn's callback API on fastmlp's estimators: one task per fit, one
sub-task per epoch (per L-BFGS iteration), stopping on request, and a
raising callback leaving the model of the last complete epoch."""

import numpy as np
import pytest
from numpy.testing import assert_allclose
from sklearn.base import clone
from sklearn.callback import ProgressBar, ScoringMonitor
from sklearn.datasets import make_classification
from sklearn.exceptions import NotFittedError
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from fastmlp import MLPClassifier, MLPRegressor

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


@pytest.fixture(scope="module")
def data():
    X, y = make_classification(n_samples=160, n_features=6, n_informative=4, n_classes=3,
                               random_state=0)
    return X, y


def small(Estimator=MLPClassifier, **params):
    return Estimator(**{"hidden_layer_sizes": (5,), "max_iter": 4, "random_state": 0,
                        **params})


class Recorder:
    """Records every hook call, and each epoch's model's probabilities."""

    def __init__(self, stop_after=None, raise_at=None):
        self.events = []
        self.snapshots = []
        self.stop_after = stop_after
        self.raise_at = raise_at

    def setup(self, estimator, context):
        self.events.append("setup")

    def teardown(self, estimator, context):
        self.events.append("teardown")

    def on_fit_task_begin(self, estimator, context):
        self.events.append(("begin", context.task_name, context.task_id))
        if self.raise_at == ("begin", context.task_name, context.task_id):
            raise RuntimeError("callback failed")

    def on_fit_task_end(self, estimator, context, *, X=None, fitted_estimator=None):
        self.events.append(("end", context.task_name, context.task_id))
        if self.raise_at == ("end", context.task_name, context.task_id):
            raise RuntimeError("callback failed")
        if context.parent is not None and fitted_estimator is not None:
            predict = getattr(fitted_estimator, "predict_proba", fitted_estimator.predict)
            self.snapshots.append(predict(X))
        return self.stop_after is not None and context.task_id == self.stop_after - 1


@pytest.mark.parametrize("solver", ["adam", "sgd"])
def test_one_task_per_epoch(data, solver):
    X, y = data
    recorder = Recorder()
    model = small(solver=solver).set_callbacks(recorder).fit(X, y)
    epochs = [("begin", "epoch", i) for i in range(4)]
    assert recorder.events[:2] == ["setup", ("begin", "fit", 0)]
    assert recorder.events[-2:] == [("end", "fit", 0), "teardown"]
    assert [e for e in recorder.events if e[:2] == ("begin", "epoch")] == epochs
    # Each epoch's fitted_estimator predicts as a fit of that many epochs.
    for n_epochs, proba in enumerate(recorder.snapshots, start=1):
        assert_allclose(proba, small(solver=solver, max_iter=n_epochs).fit(X, y)
                        .predict_proba(X), rtol=1e-12)
    assert model.n_iter_ == 4


def test_lbfgs_one_task_per_iteration(data):
    X, y = data
    recorder = Recorder()
    model = small(solver="lbfgs", max_iter=6).set_callbacks(recorder).fit(X, y)
    ends = [e for e in recorder.events if e[:2] == ("end", "iteration")]
    # scipy reports each iteration; the task opened after the last never runs.
    assert len(ends) == model.n_iter_ + 1 == 7
    assert len(recorder.snapshots) == model.n_iter_
    assert_allclose(recorder.snapshots[-1], model.predict_proba(X), rtol=1e-12)
    plain = small(solver="lbfgs", max_iter=6).fit(X, y)
    assert all(np.array_equal(a, b) for a, b in zip(plain.coefs_, model.coefs_))


@pytest.mark.parametrize("solver", ["adam", "lbfgs"])
def test_callback_can_stop_the_fit(data, solver):
    X, y = data
    model = small(solver=solver, max_iter=50).set_callbacks(Recorder(stop_after=3)).fit(X, y)
    assert model.n_iter_ == 3
    reference = small(solver=solver, max_iter=3).fit(X, y)
    assert_allclose(model.predict_proba(X), reference.predict_proba(X), rtol=1e-12)


@pytest.mark.parametrize("solver", ["adam", "lbfgs"])
def test_raising_callback_keeps_the_last_complete_epoch(data, solver):
    X, y = data
    task = "iteration" if solver == "lbfgs" else "epoch"
    recorder = Recorder(raise_at=("end", task, 2))
    model = small(solver=solver, max_iter=10).set_callbacks(recorder)
    with pytest.raises(RuntimeError, match="callback failed"):
        model.fit(X, y)
    assert recorder.events[-1] == "teardown"
    assert model.n_iter_ == 3
    reference = small(solver=solver, max_iter=3).fit(X, y)
    assert_allclose(model.predict_proba(X), reference.predict_proba(X), rtol=1e-12)
    if solver != "lbfgs":
        assert model.loss_curve_ == reference.loss_curve_


def test_raising_before_any_epoch_leaves_the_model_as_it_was(data):
    X, y = data
    model = small().set_callbacks(Recorder(raise_at=("begin", "epoch", 0)))
    with pytest.raises(RuntimeError):
        model.fit(X, y)
    with pytest.raises(NotFittedError):
        model.predict(X)
    fitted = small().fit(X, y)
    before = fitted.predict_proba(X)
    fitted.set_callbacks(Recorder(raise_at=("begin", "epoch", 0)))
    with pytest.raises(RuntimeError):
        fitted.fit(X[:50], y[:50])
    assert_allclose(fitted.predict_proba(X), before, rtol=0)


def test_partial_fit_is_one_epoch_task(data):
    X, y = data
    recorder = Recorder()
    model = small().set_callbacks(recorder)
    model.partial_fit(X, y, classes=[0, 1, 2])
    model.partial_fit(X, y)
    assert [e for e in recorder.events if e[:2] == ("begin", "epoch")] == [
        ("begin", "epoch", 0)] * 2


def test_without_callbacks_no_task_is_opened(data, monkeypatch):
    from sklearn.callback import CallbackContext

    X, y = data
    opened = []
    original = CallbackContext.subcontext
    monkeypatch.setattr(CallbackContext, "subcontext",
                        lambda self, *a, **k: opened.append(1) or original(self, *a, **k))
    small().fit(X, y)
    assert opened == []
    small().set_callbacks(Recorder()).fit(X, y)
    assert len(opened) == 4


def test_scoring_monitor_logs_every_epoch(data):
    X, y = data
    monitor = ScoringMonitor(scoring="accuracy")
    model = small(max_iter=5).set_callbacks(monitor).fit(X, y)
    log = monitor.get_logs()
    rows = log.data if not isinstance(log, list) else log[-1].data
    epochs = [row for row in rows if row["task_name"] == "epoch"]
    assert len(epochs) == 5
    assert epochs[-1]["accuracy"] == pytest.approx(model.score(X, y))


def test_regressor_supports_callbacks(data):
    X, y = data
    recorder = Recorder()
    model = small(MLPRegressor).set_callbacks(recorder).fit(X, y.astype(float))
    assert sum(e[:2] == ("end", "epoch") for e in recorder.events) == 4
    assert_allclose(recorder.snapshots[-1], model.predict(X), rtol=1e-12)


def test_progress_bar_in_meta_estimators(data, capsys):
    pytest.importorskip("rich")
    X, y = data
    make_pipeline(StandardScaler(), small()).set_callbacks(ProgressBar()).fit(X, y)
    GridSearchCV(small(), {"alpha": [1e-4, 1e-2]}, cv=2).set_callbacks(
        ProgressBar(max_propagation_depth=None)).fit(X, y)
    small().set_callbacks(ProgressBar()).fit(X, y)
    assert "MLPClassifier" in capsys.readouterr().out


def test_clone_keeps_callbacks(data):
    recorder = Recorder()
    model = clone(small().set_callbacks(recorder))
    model.fit(*data)
    assert "setup" in recorder.events


def test_scoring_monitor_inside_grid_search_and_pipeline(data):
    X, y = data
    monitor = ScoringMonitor(scoring="accuracy")
    pipeline = make_pipeline(StandardScaler(), small().set_callbacks(monitor))
    GridSearchCV(pipeline, {"mlpclassifier__alpha": [1e-4, 1e-2]}, cv=2).fit(X, y)
    rows = monitor.get_logs().data
    # Four cross-validation fits and the refit, four epochs each.
    assert sum(row["task_name"] == "epoch" for row in rows) == 5 * 4
    assert sum(row["task_name"] == "fit" for row in rows) == 5
