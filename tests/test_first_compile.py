"""The one-line notice when a process first compiles a fastmlp kernel."""

import os
import subprocess
import sys

from fastmlp._kernels.first_compile import MESSAGE

SCRIPT = """
from numba import njit
import fastmlp
from fastmlp._kernels.partition import block_bounds

@njit
def not_fastmlp(x):
    return x + 1

@njit
def bounds(n, blocks, block):    # compiles block_bounds, or loads it from the cache
    return block_bounds(n, blocks, block)

not_fastmlp(1)                   # someone else's compile: no notice
print(bounds(10, 3, 1))          # a fastmlp kernel: compiled, or loaded from the cache
print(bounds(10.0, 3, 1))        # a second compile in the same process
"""


def run(cache_dir):
    env = dict(os.environ, NUMBA_CACHE_DIR=str(cache_dir))
    return subprocess.run([sys.executable, "-c", SCRIPT], env=env, capture_output=True,
                          text=True, check=True)


def test_notice_once_on_compile_and_never_on_cache_load(tmp_path):
    first = run(tmp_path)
    assert first.stderr.count(MESSAGE.strip()) == 1
    again = run(tmp_path)
    assert MESSAGE.strip() not in again.stderr
    assert again.stdout == first.stdout
