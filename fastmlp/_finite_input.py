"""scikit-learn's test of ``X`` for NaN and infinity, owed until training has read ``X``.

scikit-learn's ``fit`` reads all of ``X`` once only to test it for NaN and
infinity: on the 60,000 rows of Fashion-MNIST, 15 ms, memory-bound, as long as
a third of one of fastmlp's epochs of a small network. The stochastic solvers
make the test as their first epoch reads ``X`` instead (see
``Trainer.run_epoch``), and this object stands for the pass they skipped:

- if the epoch finds a value that is not finite, :meth:`FiniteCheck.run`
  makes scikit-learn's own test, which raises scikit-learn's error (the fit
  then leaves the estimator as it was);
- if the fit fails for another reason before that epoch has read ``X``,
  :meth:`FiniteCheck.first_on_failure` makes the test first, since
  scikit-learn would have raised its error before any other.
"""

from contextlib import contextmanager

import numpy as np
import scipy.sparse
from sklearn.utils.validation import check_array

# What ``fit`` passes ``validate_data`` for X, so that the test made here
# raises exactly what validation would have raised.
_X_CHECKS = {"accept_sparse": ["csr", "csc"], "dtype": (np.float64, np.float32)}


class FiniteCheck:
    """The finite test of a fit's ``X``, made up front or put off.

    Parameters
    ----------
    estimator : BaseMultilayerPerceptron
        Named in the error, as scikit-learn names it.
    X : array-like
        The input as given to ``fit``; :meth:`validated` replaces it.
    deferred : bool
        Whether validation skips the test (``ensure_all_finite``) and the
        first epoch makes it. For dense input only: sparse input is tested as
        soon as it is validated.
    """

    def __init__(self, estimator, X, deferred):
        self._estimator = estimator
        self._X = X
        self.pending = deferred

    @property
    def ensure_all_finite(self):
        """What ``validate_data`` is passed for ``X``."""
        return not self.pending

    def validated(self, X):
        """Record the validated ``X``; sparse input is tested now."""
        self._X = X
        if self.pending and scipy.sparse.issparse(X):
            self.run()

    def run(self):
        """Test ``X`` now, raising scikit-learn's error when it is not finite.

        Settles the test: a later :meth:`run` does nothing.
        """
        if self.pending:
            self.pending = False
            self.run_on(self._X)

    def run_on(self, rows):
        """Raise scikit-learn's error when ``rows`` (part of ``X``) are not finite."""
        check_array(rows, **_X_CHECKS, input_name="X", estimator=self._estimator)

    def settle(self):
        """Record that an epoch found every value of ``X`` finite."""
        self.pending = False

    @contextmanager
    def first_on_failure(self):
        """On any error of the enclosed code, raise ``X``'s error instead if ``X``
        holds NaN or infinity and has not been tested yet."""
        try:
            yield
        except Exception as error:
            failure = error
        else:
            return
        # Outside the handler, so that X's error does not chain to the other.
        self.run()
        raise failure
