"""The PyTorch reference: scikit-learn's MLP training loop, written the usual torch way.

:class:`TorchMLP` takes the parameters of :class:`sklearn.neural_network.MLPClassifier`
that the benchmark uses and trains the same network the same way:

- the same architecture and hidden activation, softmax cross-entropy for
  multiclass targets (one logistic output for binary ones);
- Glorot-uniform initial weights and intercepts, drawn from a
  ``numpy.random.RandomState`` in scikit-learn's order (same seed, same values);
- each epoch shuffles the rows with ``sklearn.utils.shuffle`` on that same random
  state, so the mini-batches are scikit-learn's;
- Adam or SGD (momentum, Nesterov) with scikit-learn's hyper-parameters (Adam's
  ``epsilon`` is added to the bias-corrected root in torch, to the raw one in
  scikit-learn: the only difference, negligible unless gradients are tiny);
  scikit-learn's L2 term ``alpha / (2 n_batch) * ||W||^2`` is Adam's/SGD's coupled
  ``weight_decay = alpha / n_batch`` on the weight matrices only;
- float32 or float64, as the input.

Threads are whatever ``torch.get_num_threads()`` says; the benchmark sets it.
"""

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils import check_random_state, shuffle


def torch_available():
    """Whether PyTorch can be imported."""
    try:
        import torch  # noqa: F401
    except ImportError:
        return False
    return True


def _activation_module(torch, name):
    return {
        "identity": torch.nn.Identity,
        "logistic": torch.nn.Sigmoid,
        "tanh": torch.nn.Tanh,
        "relu": torch.nn.ReLU,
    }[name]()


class TorchMLP(ClassifierMixin, BaseEstimator):
    """A PyTorch CPU classifier trained exactly like scikit-learn's MLPClassifier.

    Parameters
    ----------
    Those of :class:`sklearn.neural_network.MLPClassifier` with the same names
    and defaults; ``learning_rate`` is always 'constant' and there is no early
    stopping or tolerance (``max_iter`` epochs are always run).
    """

    def __init__(self, hidden_layer_sizes=(100,), activation="relu", solver="adam",
                 alpha=0.0001, batch_size="auto", learning_rate_init=0.001, max_iter=200,
                 shuffle=True, random_state=None, momentum=0.9, nesterovs_momentum=True,
                 beta_1=0.9, beta_2=0.999, epsilon=1e-8):
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.solver = solver
        self.alpha = alpha
        self.batch_size = batch_size
        self.learning_rate_init = learning_rate_init
        self.max_iter = max_iter
        self.shuffle = shuffle
        self.random_state = random_state
        self.momentum = momentum
        self.nesterovs_momentum = nesterovs_momentum
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon

    def _build(self, torch, layer_units, dtype, random_state):
        factor = 2.0 if self.activation == "logistic" else 6.0
        layers = []
        for i, (fan_in, fan_out) in enumerate(zip(layer_units[:-1], layer_units[1:])):
            linear = torch.nn.Linear(fan_in, fan_out, dtype=dtype)
            bound = np.sqrt(factor / (fan_in + fan_out))
            coefs = random_state.uniform(-bound, bound, (fan_in, fan_out))
            intercepts = random_state.uniform(-bound, bound, fan_out)
            with torch.no_grad():
                linear.weight.copy_(torch.from_numpy(np.ascontiguousarray(coefs.T)))
                linear.bias.copy_(torch.from_numpy(intercepts))
            layers.append(linear)
            if i < len(layer_units) - 2:
                layers.append(_activation_module(torch, self.activation))
        return torch.nn.Sequential(*layers)

    def _optimizer(self, torch, model):
        weights = [p for name, p in model.named_parameters() if name.endswith("weight")]
        biases = [p for name, p in model.named_parameters() if name.endswith("bias")]
        groups = [{"params": weights, "weight_decay": 0.0},
                  {"params": biases, "weight_decay": 0.0}]
        if self.solver == "adam":
            return torch.optim.Adam(groups, lr=self.learning_rate_init,
                                    betas=(self.beta_1, self.beta_2), eps=self.epsilon)
        if self.solver == "sgd":
            return torch.optim.SGD(groups, lr=self.learning_rate_init, momentum=self.momentum,
                                   nesterov=self.nesterovs_momentum and self.momentum > 0)
        raise ValueError(f"TorchMLP supports solver 'adam' and 'sgd', not {self.solver!r}")

    def fit(self, X, y):
        """Train ``max_iter`` epochs of mini-batch Adam or SGD."""
        import torch
        import torch.nn.functional as F

        X = np.ascontiguousarray(X)
        if X.dtype not in (np.float32, np.float64):
            X = X.astype(np.float64)
        dtype = torch.float64 if X.dtype == np.float64 else torch.float32
        self.classes_, y_index = np.unique(y, return_inverse=True)
        binary = len(self.classes_) == 2
        n_samples, n_features = X.shape
        hidden = self.hidden_layer_sizes
        hidden = list(hidden) if hasattr(hidden, "__iter__") else [hidden]
        layer_units = [n_features, *hidden, 1 if binary else len(self.classes_)]

        random_state = check_random_state(self.random_state)
        model = self._build(torch, layer_units, dtype, random_state)
        optimizer = self._optimizer(torch, model)
        weight_group = optimizer.param_groups[0]

        X_t = torch.from_numpy(X)
        y_t = torch.from_numpy(y_index.astype(np.int64))
        if binary:
            y_t = y_t.to(dtype)
        batch_size = min(200, n_samples) if self.batch_size == "auto" else self.batch_size
        batch_size = int(np.clip(batch_size, 1, n_samples))
        sample_idx = np.arange(n_samples)
        for _ in range(self.max_iter):
            if self.shuffle:
                sample_idx = shuffle(sample_idx, random_state=random_state)
            order = torch.from_numpy(sample_idx)
            for start in range(0, n_samples, batch_size):
                batch = order[start:start + batch_size]
                x_batch = X_t.index_select(0, batch)
                y_batch = y_t.index_select(0, batch)
                weight_group["weight_decay"] = self.alpha / batch.shape[0]
                optimizer.zero_grad(set_to_none=True)
                output = model(x_batch)
                if binary:
                    loss = F.binary_cross_entropy_with_logits(output[:, 0], y_batch)
                else:
                    loss = F.cross_entropy(output, y_batch)
                loss.backward()
                optimizer.step()
        self.model_ = model
        self.n_features_in_ = n_features
        return self

    def predict_proba(self, X):
        """Class probabilities, shape (n_samples, n_classes)."""
        import torch

        dtype = next(self.model_.parameters()).dtype
        with torch.inference_mode():
            X_t = torch.from_numpy(np.ascontiguousarray(X)).to(dtype)
            output = self.model_(X_t)
            if len(self.classes_) == 2:
                positive = torch.sigmoid(output[:, 0])
                proba = torch.stack([1 - positive, positive], dim=1)
            else:
                proba = torch.softmax(output, dim=1)
        return proba.numpy()

    def predict(self, X):
        """Most probable class of each row."""
        return self.classes_[np.argmax(self.predict_proba(X), axis=1)]
