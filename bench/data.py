"""The benchmark's data: Fashion-MNIST, scikit-learn's digits, or a synthetic stand-in."""

from dataclasses import dataclass, field

import numpy as np

DATA_SOURCES = ("fashion-mnist", "digits", "synthetic")


@dataclass
class BenchData:
    """A train/test split, kept in float64 and cast on demand.

    Attributes
    ----------
    name : str
        Where the data came from.
    X_train, X_test : ndarray of float64, features in [0, 1]
    y_train, y_test : ndarray of int64
    """

    name: str
    X_train: np.ndarray
    X_test: np.ndarray
    y_train: np.ndarray
    y_test: np.ndarray
    _casts: dict = field(default_factory=dict, repr=False)

    def split(self, dtype):
        """``(X_train, y_train, X_test, y_test)`` with features in ``dtype``."""
        dtype = np.dtype(dtype)
        if dtype not in self._casts:
            self._casts[dtype] = (
                np.ascontiguousarray(self.X_train, dtype=dtype),
                np.ascontiguousarray(self.X_test, dtype=dtype),
            )
        X_train, X_test = self._casts[dtype]
        return X_train, self.y_train, X_test, self.y_test

    @property
    def n_classes(self):
        return len(np.unique(self.y_train))

    def describe(self):
        return {
            "name": self.name,
            "n_train": int(self.X_train.shape[0]),
            "n_test": int(self.X_test.shape[0]),
            "n_features": int(self.X_train.shape[1]),
            "n_classes": int(self.n_classes),
        }


def _synthetic(n_train, n_test):
    """Ten Gaussian classes in 784 dimensions scaled to [0, 1], Fashion-MNIST's shape."""
    from sklearn.datasets import make_classification

    X, y = make_classification(
        n_samples=n_train + n_test, n_features=784, n_informative=40, n_redundant=40,
        n_classes=10, n_clusters_per_class=1, class_sep=2.0, random_state=0,
    )
    X = (X - X.min(axis=0)) / (X.max(axis=0) - X.min(axis=0))
    return BenchData("synthetic (make_classification, 784 features, 10 classes)",
                     X[:n_train], X[n_train:], y[:n_train], y[n_train:])


def _digits():
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    X, y = load_digits(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(
        X / 16.0, y, test_size=0.25, random_state=0, stratify=y
    )
    return BenchData("digits (scikit-learn, bundled)", X_train, X_test, y_train, y_test)


def _fashion_mnist():
    from fastmlp.datasets import load_fashion_mnist

    loaded = load_fashion_mnist(np.float64)
    return BenchData(loaded.name, loaded.X_train, loaded.X_test, loaded.y_train, loaded.y_test)


def load(source, max_train_rows=None, max_test_rows=None):
    """Load a data set by name, optionally keeping only its first rows.

    Parameters
    ----------
    source : {'fashion-mnist', 'digits', 'synthetic'}
        'fashion-mnist' uses :func:`fastmlp.datasets.load_fashion_mnist`, which
        falls back to OpenML and then to digits; check the returned name.
    max_train_rows, max_test_rows : int, optional
        Row caps (the synthetic set is generated at these sizes, default 2000/500).

    Returns
    -------
    data : BenchData
    """
    if source == "synthetic":
        data = _synthetic(max_train_rows or 2000, max_test_rows or 500)
    else:
        data = _digits() if source == "digits" else _fashion_mnist()
    data.X_train = data.X_train[:max_train_rows]
    data.y_train = data.y_train[:max_train_rows]
    data.X_test = data.X_test[:max_test_rows]
    data.y_test = data.y_test[:max_test_rows]
    return data
