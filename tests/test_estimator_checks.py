"""scikit-learn's estimator checks, run on fastmlp's estimators.

Expected failures are only those scikit-learn's own MLP estimators share with
the same parameters (checked by running the same checks on them).
"""

import pytest
from sklearn.utils.estimator_checks import parametrize_with_checks

from fastmlp import MLPClassifier, MLPRegressor

LBFGS_SATURATES = {
    "check_classifiers_multilabel_output_format_predict_proba": (
        "L-BFGS drives logistic outputs to exactly 1.0 on this data; "
        "scikit-learn's MLPClassifier(solver='lbfgs') fails this check too."
    )
}


def expected_failures(estimator):
    """Checks that scikit-learn's own estimator fails with the same parameters."""
    if isinstance(estimator, MLPClassifier) and estimator.solver == "lbfgs":
        return LBFGS_SATURATES
    return {}


@parametrize_with_checks(
    [
        MLPClassifier(),
        MLPRegressor(),
        MLPClassifier(solver="lbfgs"),
        MLPRegressor(solver="lbfgs"),
        MLPClassifier(solver="sgd"),
    ],
    expected_failed_checks=expected_failures,
)
# The checks fit with default max_iter on data that does not converge; the
# warning is scikit-learn's own (its MLPs raise it on the same checks).
@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)
