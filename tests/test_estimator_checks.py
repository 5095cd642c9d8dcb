"""scikit-learn's estimator checks, run on fastmlp's estimators."""

from sklearn.utils.estimator_checks import parametrize_with_checks

from fastmlp import MLPClassifier


@parametrize_with_checks([MLPClassifier()])
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)
