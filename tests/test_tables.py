"""``tables.FunctionTable``: run-time dispatch that compiles only the rows
prepared, in either order with the caller's compilation, across the cache."""

import glob
import os

import numpy as np
import pytest

from table_example import SUMS, caller
from test_firewall import run


def test_rows_run_once_prepared_and_pass_errors_through():
    values = np.arange(4.0)
    SUMS.prepare([0, 2])
    assert caller(0, values, 1.0) == 14.0
    assert caller(2, values, 1.0) == 8.0
    with pytest.raises(ValueError, match="negative offset"):
        caller(2, values, -1.0)


def test_codes_without_a_function_are_refused():
    with pytest.raises(ValueError, match="no function for code 1"):
        SUMS.prepare([1])
    with pytest.raises(ValueError, match="no function for code 3"):
        SUMS.prepare([3])
    SUMS.prepare([0])
    with pytest.raises(RuntimeError, match="not prepared"):
        caller(1, np.arange(4.0), 0.0)
    with pytest.raises(RuntimeError, match="not prepared"):
        caller(7, np.arange(4.0), 0.0)


ORDER_SCRIPT = """
import numpy as np
from table_example import SUMS, caller, checked_sum, double_sum
values = np.arange(4.0)
if {prepare_first}:
    SUMS.prepare([0])
else:
    try:
        caller(0, values, 1.0)
    except RuntimeError:
        print("refused")
    SUMS.prepare([0])
print(caller(0, values, 1.0), caller(0, values.astype(np.float32), 1.0))
print(sum(caller.stats.cache_hits.values()), len(double_sum.overloads), len(checked_sum.overloads))
"""


@pytest.mark.parametrize("prepare_first", [True, False])
def test_either_order_fresh_and_from_the_cache(tmp_path, prepare_first):
    script = ORDER_SCRIPT.format(prepare_first=prepare_first)
    for hits in ("0", "2"):  # compiled, then both signatures loaded from the cache
        lines = run(tmp_path, script)
        if not prepare_first:
            assert lines.pop(0) == "refused"
        assert lines[0] == "14.0 14.0"
        # Only the prepared row is compiled (or loaded), for both signatures.
        assert lines[1] == f"{hits} 2 0"


FIT_SCRIPT = """
import numpy as np
from fastmlp import MLPClassifier
from fastmlp._kernels.activations import ACTIVATIONS
from fastmlp._kernels.losses import DATA_LOSSES, OUTPUT_ERRORS
from fastmlp._kernels import backward, forward, update
rng = np.random.default_rng(0)
X = rng.random((300, 12))
y = rng.integers(0, 3, 300)
model = MLPClassifier((8,), activation="{activation}", max_iter=3, random_state=0).fit(X, y)
model.predict_proba(X)
for a in ACTIVATIONS:
    print(a.name, len(a.forward_block.overloads),
          0 if a.backward_block is None else len(a.backward_block.overloads))
for data_loss, error in zip(DATA_LOSSES.rows, OUTPUT_ERRORS.rows):
    print(data_loss.py_func.__name__, len(data_loss.overloads), len(error.overloads))
options = [forward.MAX_OF_PIECES, forward.FILL_MASK, forward.SCALE_BY_MASK, forward.ADD_INPUT,
           forward.ADD_INTO, backward.ROUTE_TO_MAX_PIECE]
print("options", *(len(option.rows[0].overloads) for option in options))
print("steps", *(len(step.overloads) for step in update.UPDATE_CHUNKS.rows))
"""


def test_a_fit_compiles_only_its_own_activations_and_loss(tmp_path):
    lines = run(tmp_path, FIT_SCRIPT.format(activation="tanh"))
    # No Maxout, dropout or skip connection: none of their pieces compiled;
    # Adam's step rule, not SGD's (codes 0 and 1).
    assert lines.pop(-1) == "steps 0 1"
    assert lines.pop(-1) == "options 0 0 0 0 0 0"
    compiled = {name: (int(f), int(b)) for name, f, b in (line.split() for line in lines)}
    # Data losses: log_loss's alone. Output errors: the canonical losses share
    # one function (compiled); the residual losses' are not compiled.
    losses = {name: compiled.pop(name) for name in list(compiled) if name.endswith("_loss")}
    assert losses.pop("log_loss_loss") == (1, 1)
    assert all(n_loss == 0 for n_loss, _ in losses.values())
    for residual in ("squared_error_loss", "huber_loss", "absolute_error_loss"):
        assert losses[residual][1] == 0
    # tanh hidden layers and a softmax output; nothing else (not even the
    # identity, which only Maxout layers would run).
    assert compiled.pop("tanh") == (1, 1)
    assert compiled.pop("softmax") == (1, 0)
    assert set(compiled.values()) == {(0, 0)}


LINKED_SCRIPT = """
import numpy as np
from table_example import SUMS, caller, linked_caller
SUMS.prepare([0])
print(linked_caller(0, np.arange(4.0), 1.0))
print(sum(linked_caller.stats.cache_hits.values()), sum(caller.stats.cache_hits.values()))
"""


def test_a_caller_linking_a_cached_callee_keeps_its_hooks(tmp_path):
    # ``caller`` holds the table call; ``linked_caller`` links its code.
    assert run(tmp_path, LINKED_SCRIPT) == ["28.0", "0 0"]
    for path in glob.glob(str(tmp_path / "**" / "table_example.linked_caller*"), recursive=True):
        os.remove(path)
    # ``caller`` from the cache, ``linked_caller`` compiled against it and cached...
    assert run(tmp_path, LINKED_SCRIPT) == ["28.0", "0 1"]
    # ...with the hook that defines the table's symbol before its code loads.
    assert run(tmp_path, LINKED_SCRIPT) == ["28.0", "1 0"]


THREADS_SCRIPT = """
import threading
import numpy as np
from fastmlp import MLPClassifier
rng = np.random.default_rng(0)
X = rng.random((300, 12))
y = rng.integers(0, 3, 300)
configs = [dict(activation="tanh"), dict(activation="gelu", dropout=0.2),
           dict(activation="elu", hidden_layer_sizes=(8, 8), solver="sgd")]
def fit(config):
    return MLPClassifier(**{"hidden_layer_sizes": (8,), "max_iter": 3, "random_state": 0,
                            **config}).fit(X, y)
together = [None] * len(configs)
def work(i):
    together[i] = fit(configs[i])
threads = [threading.Thread(target=work, args=(i,)) for i in range(len(configs))]
for t in threads:
    t.start()
for t in threads:
    t.join()
for config, model in zip(configs, together):
    alone = fit(config)
    print(all(np.array_equal(a, b) for a, b in zip(model.coefs_, alone.coefs_)))
"""


def test_fits_in_threads_prepare_and_compile_concurrently(tmp_path):
    # Fresh process, empty cache: three networks with different activations,
    # options and solvers prepare and compile at the same time, then train as
    # they do one at a time.
    assert run(tmp_path, THREADS_SCRIPT) == ["True", "True", "True"]
