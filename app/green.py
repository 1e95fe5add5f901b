"""An adjustment for gevent workers (gunicorn.conf.py post_worker_init).

httpcore (before reusing a pooled upstream connection) and redis-py's parser (before reusing a
pooled Redis connection) ask whether the peer closed the socket with poll(timeout=0). gevent's
cooperative poll makes each of those a trip through the event loop: ~7 % of a worker's time in
the benchmark. A zero timeout never blocks, so, once gevent has patched the standard library,
those modules get a poll whose poll(0) is the native one; other timeouts still wait
cooperatively.

gunicorn.conf.py loads this module by its path: it imports nothing of the app, so the
benchmark's floor (bench/floor_app.py, under the same gunicorn.conf.py) gets this adjustment
without loading the gateway.
"""
import select
import sys
from importlib import import_module
from types import SimpleNamespace

from gevent.monkey import get_original

native_poll = get_original("select", "poll")

# Modules whose `select` is replaced, when their package is in use; each only uses it for
# readiness checks.
POLLING_MODULES = ("httpcore2._utils", "redis._parsers.hiredis")


class ZeroTimeoutNativePoll:
    """select.poll() stand-in: poll(0) natively, other timeouts through `cooperative_poll`."""

    cooperative_poll = None  # gevent's poll, set by use_native_zero_timeout_poll()

    def __init__(self):
        self._native = native_poll()
        self._registered = []

    def register(self, fd, eventmask=select.POLLIN | select.POLLPRI | select.POLLOUT):
        self._native.register(fd, eventmask)
        self._registered.append((fd, eventmask))

    def poll(self, timeout=None):
        if timeout == 0:
            return self._native.poll(0)
        cooperative = self.cooperative_poll()
        for fd, eventmask in self._registered:
            cooperative.register(fd, eventmask)
        return cooperative.poll(timeout)


def use_native_zero_timeout_poll():
    """Once gevent has monkey-patched `select` (gunicorn's post_worker_init)."""
    ZeroTimeoutNativePoll.cooperative_poll = staticmethod(select.poll)
    namespace = SimpleNamespace(**{**vars(select), "poll": ZeroTimeoutNativePoll})
    for name in POLLING_MODULES:
        if name.partition(".")[0] in sys.modules:
            import_module(name).select = namespace
