"""Data sets for the demo and the benchmarks: Fashion-MNIST where it can be had.

Sources, tried in order:

1. Debian's ``dataset-fashion-mnist`` package (IDX files under
   ``/usr/share/datasets/fashion-mnist``, or the folder named by the
   ``FASHION_MNIST_DIR`` environment variable);
2. scikit-learn's ``fetch_openml("Fashion-MNIST")`` (needs internet, or its cache);
3. scikit-learn's bundled 8x8 ``digits``, always available.
"""

import gzip
import os
import warnings
from dataclasses import dataclass

import numpy as np

DEBIAN_DIR = "/usr/share/datasets/fashion-mnist"


@dataclass
class Dataset:
    """A train/test split with its provenance.

    Attributes
    ----------
    name : str
        Human-readable name, including the source.
    X_train, X_test : ndarray of shape (n, n_features)
        Features scaled to [0, 1].
    y_train, y_test : ndarray of shape (n,)
        Integer class labels.
    """

    name: str
    X_train: np.ndarray
    X_test: np.ndarray
    y_train: np.ndarray
    y_test: np.ndarray


def _read_idx(path):
    """Read a (gzipped) IDX file into an ndarray."""
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        data = f.read()
    n_dims = data[3]
    shape = tuple(int.from_bytes(data[4 + 4 * i: 8 + 4 * i], "big") for i in range(n_dims))
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * n_dims).reshape(shape)


def _find(folder, stem):
    for name in (stem + ".gz", stem):
        path = os.path.join(folder, name)
        if os.path.exists(path):
            return path
    return None


def _from_idx_folder(folder, dtype):
    stems = ["train-images-idx3-ubyte", "train-labels-idx1-ubyte",
             "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"]
    paths = [_find(folder, s) for s in stems]
    if any(p is None for p in paths):
        return None
    X_train, y_train, X_test, y_test = (_read_idx(p) for p in paths)
    scale = np.asarray(255.0, dtype=dtype)
    return Dataset(
        name=f"Fashion-MNIST ({folder})",
        X_train=(X_train.reshape(len(X_train), -1) / scale).astype(dtype),
        X_test=(X_test.reshape(len(X_test), -1) / scale).astype(dtype),
        y_train=y_train.astype(np.int64),
        y_test=y_test.astype(np.int64),
    )


def _from_openml(dtype):
    from sklearn.datasets import fetch_openml

    X, y = fetch_openml("Fashion-MNIST", version=1, return_X_y=True, as_frame=False,
                        parser="liac-arff")
    X = (X / 255.0).astype(dtype)
    y = y.astype(np.int64)
    return Dataset("Fashion-MNIST (OpenML)", X[:60000], X[60000:], y[:60000], y[60000:])


def _digits(dtype):
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    X, y = load_digits(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(
        (X / 16.0).astype(dtype), y, test_size=0.25, random_state=0, stratify=y
    )
    return Dataset("digits (scikit-learn, bundled)", X_train, X_test, y_train, y_test)


def load_fashion_mnist(dtype=np.float32, allow_download=True):
    """Fashion-MNIST (60,000 + 10,000 images, 784 features), or digits as a fallback.

    Parameters
    ----------
    dtype : numpy dtype, default=np.float32
        Feature dtype; features are scaled to [0, 1].
    allow_download : bool, default=True
        Whether to try OpenML when no local copy exists.

    Returns
    -------
    dataset : Dataset
        Check ``dataset.name`` to see which source answered.
    """
    for folder in (os.environ.get("FASHION_MNIST_DIR"), DEBIAN_DIR):
        if folder and os.path.isdir(folder):
            found = _from_idx_folder(folder, dtype)
            if found is not None:
                return found
    if allow_download:
        try:
            with warnings.catch_warnings():
                # scikit-learn warns on each failed network attempt; the
                # fallback below is the answer to that.
                warnings.simplefilter("ignore")
                return _from_openml(dtype)
        except Exception:  # no network, no cache: fall back to bundled data
            pass
    return _digits(dtype)
