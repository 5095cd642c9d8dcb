"""scikit-learn's callback API (``sklearn.callback``) around fastmlp's fits.

A fit is one task; each epoch (each L-BFGS iteration) is one sub-task. The
hooks run in Python between kernel calls, never per mini-batch, and with no
callback set the epoch loop creates no sub-task at all.

A callback that raises after at least one complete epoch stops the fit with
the model of the last complete epoch; the exception still reaches the caller
(see ``BaseMultilayerPerceptron._unchanged_on_failure``).
"""

import numpy as np

# Attributes through which scikit-learn's callback machinery follows a fit;
# restoring a checkpoint keeps their current values.
CALLBACK_ATTRIBUTES = frozenset({
    "_skl_callbacks", "_callback_fit_ctx", "_skl_callbacks_to_teardown",
    "_parent_callback_ctx",
})


def has_callbacks(estimator):
    """Whether any callback (set or propagated by a meta-estimator) listens."""
    return bool(getattr(estimator, "_skl_callbacks", None))


class FitTasks:
    """The task tree of one ``fit`` or ``partial_fit`` call.

    Parameters
    ----------
    estimator : BaseMultilayerPerceptron
        The estimator being fitted; its ``_init_callback_context`` makes the root.
    X, y : array-like
        The training data as the caller gave it (scorers validate it again).
    sample_weight : array-like or None
        Passed to the hooks as ``metadata={"sample_weight": ...}``.
    max_subtasks : int
        Upper bound of epochs (iterations) the fit may run.
    task_name : str
        Name of each sub-task ("epoch" or "iteration").
    """

    def __init__(self, estimator, X, y, sample_weight, max_subtasks, task_name):
        self._estimator = estimator
        self._hook_data = dict(
            X=X, y=y,
            metadata=None if sample_weight is None else {"sample_weight": sample_weight},
        )
        self._task_name = task_name
        self.active = has_callbacks(estimator) or hasattr(estimator, "_parent_callback_ctx")
        self._root = estimator._init_callback_context(max_subtasks=max_subtasks)
        self._subtask = None
        self._completed = 0
        self._root.call_on_fit_task_begin(estimator=estimator, **self._hook_data)

    def begin(self, snapshot=None):
        """Open the next sub-task; ``snapshot`` returns the model as it stands."""
        if not self.active:
            return
        self._subtask = self._root.subcontext(task_name=self._task_name)
        self._call(self._subtask.call_on_fit_task_begin, snapshot)

    def end(self, snapshot=None):
        """Close the current sub-task, which completed; True when a callback asks to stop."""
        self._completed += 1
        if not self.active:
            return False
        subtask, self._subtask = self._subtask, None
        return bool(self._call(subtask.call_on_fit_task_end, snapshot))

    def close_unrun(self):
        """Close a sub-task that was opened but never ran (L-BFGS's last one)."""
        if self._subtask is not None:
            subtask, self._subtask = self._subtask, None
            self._call(subtask.call_on_fit_task_end, None, with_data=False)

    def finish(self):
        """Close the root task: the fit is complete."""
        self._call(self._root.call_on_fit_task_end, lambda: {})

    def _call(self, hook, snapshot, with_data=True):
        data = self._hook_data if with_data else {}
        try:
            return hook(estimator=self._estimator, reconstruction_attributes=snapshot, **data)
        except Exception as exc:
            if self._completed:
                # The fit has complete epochs: keep the model of the last one.
                self._estimator._keep_fit_on_error = exc
            raise


def snapshot_of(estimator):
    """Attributes that make a copy of ``estimator`` predict as it does now.

    The copy gets its own coefficient arrays (the estimator's are views into
    a buffer the next epoch overwrites) and copies of the training curves.
    """
    trainer = estimator._trainer
    attrs = {
        "coefs_": [np.array(c) for c in trainer.coefs()],
        "intercepts_": [np.array(b) for b in trainer.intercepts()],
        "n_iter_": estimator.n_iter_,
    }
    for name in ("loss_", "loss_curve_", "validation_scores_", "validation_loss_curve_"):
        value = getattr(estimator, name, None)
        attrs[name] = list(value) if isinstance(value, list) else value
    return attrs
