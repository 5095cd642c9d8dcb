"""One line on standard error when this process first compiles a kernel.

A fresh machine (or a new fastmlp version, or a new dtype or input kind)
compiles the kernels on first use, which takes 10-15 s; afterwards
Numba loads them from its on-disk cache in well under a second. Numba emits a
``numba:compile`` event only when it compiles (a cache load emits none), so
a listener on that event says so, once per process, the first time a fastmlp
kernel is compiled.
"""

import sys
import threading

from numba.core import event

MESSAGE = ("fastmlp: compiling its kernels for this machine (once per machine, dtype and "
           "input kind; about 10-15 s); later runs load them from Numba's cache.\n")


class FirstCompileNotice(event.Listener):
    """Writes :data:`MESSAGE` to standard error at the first fastmlp compile."""

    def __init__(self):
        self.shown = False
        self._lock = threading.Lock()

    def on_start(self, ev):
        dispatcher = ev.data.get("dispatcher")
        module = getattr(getattr(dispatcher, "py_func", None), "__module__", "") or ""
        if self.shown or not module.startswith("fastmlp."):
            return
        with self._lock:
            if not self.shown:
                self.shown = True
                sys.stderr.write(MESSAGE)
                sys.stderr.flush()

    def on_end(self, ev):
        pass


NOTICE = FirstCompileNotice()


def install():
    """Register the listener (idempotent)."""
    if not getattr(install, "done", False):
        event.register("numba:compile", NOTICE)
        install.done = True
