"""``call_compiled``: the caller holds none of the callee's code, survives the
cache, and passes the callee's result and errors through."""

import glob
import os
import subprocess
import sys

import numpy as np
import pytest

from firewall_example import caller_sum

TESTS = os.path.dirname(os.path.abspath(__file__))

SCRIPT = """
import numpy as np
from firewall_example import caller_sum, callee_sum
print(caller_sum(np.arange(5.0), 2.0))
print(sum(caller_sum.stats.cache_hits.values()), sum(callee_sum.stats.cache_hits.values()))
llvm_ir = "".join(caller_sum.inspect_llvm().values())  # empty when loaded from the cache
defined = [line for line in llvm_ir.splitlines() if line.startswith("define")]
print(sum("caller_sum" in line for line in defined), sum("callee_sum" in line for line in defined),
      "fastmlp.firewall.firewall_example.callee_sum." in llvm_ir)
"""


def run(cache_dir, script=SCRIPT):
    """Run ``script`` in a fresh process on the Numba cache ``cache_dir``; its output lines."""
    env = dict(os.environ, NUMBA_CACHE_DIR=str(cache_dir))
    result = subprocess.run([sys.executable, "-c", script], env=env, cwd=TESTS,
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout.splitlines()


def test_result_and_errors_pass_through():
    assert caller_sum(np.arange(5.0), 2.0) == 21.0
    assert caller_sum(np.arange(3, dtype=np.float32), np.float32(1.5)) == 5.5
    with pytest.raises(ValueError, match="negative scale"):
        caller_sum(np.arange(5.0), -1.0)


def test_caller_holds_no_code_of_the_callee(tmp_path):
    # Compiled in a fresh process with an empty cache, so its LLVM IR is at hand:
    # functions defined for the caller, for the callee, and the callee's cell read.
    caller_defines, callee_defines, reads_cell = run(tmp_path)[2].split()
    assert int(caller_defines) >= 1
    assert int(callee_defines) == 0
    assert reads_cell == "True"


def test_cached_caller_finds_a_callee_compiled_by_another_process(tmp_path):
    first = run(tmp_path)
    assert first[0] == "21.0"
    again = run(tmp_path)
    assert again[0] == "21.0"
    assert again[1] == "1 1"  # caller and callee both loaded from the cache
    # The callee's cache gone: the cached caller loads a callee compiled by
    # this process, whose compiled symbol names differ from the first one's.
    stale = glob.glob(str(tmp_path / "**" / "firewall_example.callee_sum*"), recursive=True)
    assert stale
    for path in stale:
        os.remove(path)
    third = run(tmp_path)
    assert third[0] == "21.0"
    assert third[1] == "1 0"  # the caller from the cache, the callee compiled


FIT_SCRIPT = """
import numpy as np
from fastmlp import MLPClassifier
from fastmlp._kernels.epoch import gradient_of_block, train_epoch_serial
rng = np.random.default_rng(0)
X = rng.random((300, 12)).astype(np.float32)
y = rng.integers(0, 3, 300)
model = MLPClassifier((8,), max_iter=3, random_state=0).fit(X, y)
print(repr(model.loss_), repr(float(model.predict_proba(X[:5]).sum())))
print(sum(train_epoch_serial.stats.cache_hits.values()),
      sum(gradient_of_block.stats.cache_hits.values()))
"""


def test_cached_epoch_kernel_reloads_its_workers(tmp_path):
    # The real kernels: a cached epoch kernel whose worker's cache is gone
    # compiles the worker again and trains bit for bit as before.
    env = dict(os.environ, NUMBA_CACHE_DIR=str(tmp_path), PYTHONWARNINGS="ignore")

    def fit():
        result = subprocess.run([sys.executable, "-c", FIT_SCRIPT], env=env, capture_output=True,
                                text=True, timeout=600)
        assert result.returncode == 0, result.stderr[-3000:]
        return result.stdout.splitlines()

    first = fit()
    assert first[1] == "0 0"
    stale = glob.glob(str(tmp_path / "**" / "epoch.gradient_of_block*"), recursive=True)
    assert stale
    for path in stale:
        os.remove(path)
    again = fit()
    assert again[0] == first[0]
    assert again[1] == "1 0"
