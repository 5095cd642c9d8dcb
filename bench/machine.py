"""Facts about the machine and the software a run measured."""

import os
import platform
import subprocess
import sys
from importlib import metadata

from .measure import available_cores

PACKAGES = ("numpy", "numba", "llvmlite", "scipy", "scikit-learn", "threadpoolctl", "torch",
            "matplotlib")


def cpu_model():
    """The CPU's model name, from /proc/cpuinfo where there is one."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def memory_gib():
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemTotal"):
                    return round(int(line.split()[1]) / 2**20, 1)
    except OSError:
        pass
    return None


def versions():
    found = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            found[name] = None
    return found


def git_commit(path):
    """Commit of the checkout holding ``path``, with ``-dirty`` if fastmlp/ has changes."""
    def git(*args):
        return subprocess.run(["git", "-C", path, *args], capture_output=True, text=True,
                              check=True).stdout.strip()

    try:
        commit = git("rev-parse", "--short=12", "HEAD")
        dirty = git("status", "--porcelain", "--", ".")
    except (OSError, subprocess.CalledProcessError):
        return None
    return commit + ("-dirty" if dirty else "")


def load_average():
    try:
        return list(os.getloadavg())
    except OSError:
        return None


def describe():
    """CPU, cores, memory, versions, BLAS and Numba threading of this process."""
    import numba
    import fastmlp
    from threadpoolctl import threadpool_info

    try:
        threading_layer = numba.threading_layer()
    except ValueError:  # no parallel kernel has run yet
        threading_layer = None
    package_dir = os.path.dirname(os.path.abspath(fastmlp.__file__))
    return {
        "cpu_model": cpu_model(),
        "cpu_count": os.cpu_count(),
        "available_cores": available_cores(),
        "memory_gib": memory_gib(),
        "platform": platform.platform(),
        "executable": sys.executable,
        "versions": versions(),
        "fastmlp_path": package_dir,
        "fastmlp_commit": git_commit(package_dir),
        "numba_num_threads": numba.config.NUMBA_NUM_THREADS,
        "numba_threading_layer": threading_layer,
        "blas": [
            {k: info.get(k) for k in ("user_api", "internal_api", "prefix", "version",
                                      "num_threads", "threading_layer", "architecture",
                                      "filepath")}
            for info in threadpool_info()
        ],
    }
