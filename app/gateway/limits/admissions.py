"""Admissions to Redis, one write per event-loop turn under gevent (redis_store.py).

Under load a gevent worker wakes several requests in one turn of its loop, and each asks Redis
to admit it. Instead of one write and one round trip each, the first to ask starts a sender
greenlet, which runs once every greenlet woken in that turn has run up to its own ask; it sends
the settles waiting to ride and every ask in one write, reads the replies in order and hands
each its own. A lone request pays a greenlet switch for it, never a wait.

Outside gevent (threads: flask run, the tests) each admission is sent on its own.
"""
import threading

from redis.exceptions import NoScriptError

try:
    from gevent import monkey as _monkey
except ImportError:  # pragma: no cover - gevent is a dependency; the guard keeps tools working
    _monkey = None


def under_gevent():
    return _monkey is not None and _monkey.is_module_patched("socket")


class Direct:
    """Each admission in its own write: the settles waiting to ride go first."""

    def __init__(self, store):
        self.store = store

    def acquire(self, args):
        store = self.store
        riders = store.take_riders()
        if not riders:
            return store.acquire_script(args=args)
        [reply] = store.settles.run_before(store.release_script, riders, store.acquire_script,
                                           [args])
        return _reply(store, reply, args)


class PerLoopTurn:
    """The admissions of one loop turn in one write (gevent only)."""

    def __init__(self, store):
        import gevent
        from gevent.event import AsyncResult

        self.store = store
        self._spawn, self._result = gevent.spawn, AsyncResult
        self._asks = []  # [(args, AsyncResult)] waiting for the sender
        self._lock = threading.Lock()

    def acquire(self, args):
        result = self._result()
        with self._lock:
            self._asks.append((args, result))
            first = len(self._asks) == 1
        if first:
            self._spawn(self._send)
        return _reply(self.store, result.get(), args)

    def _send(self):
        with self._lock:
            asks, self._asks = self._asks, []
        store = self.store
        try:
            replies = store.settles.run_before(store.release_script, store.take_riders(),
                                               store.acquire_script, [args for args, _ in asks])
        except BaseException as error:  # every ask of the write fails as one call would
            for _, result in asks:
                result.set_exception(error)
            return
        for (_, result), reply in zip(asks, replies, strict=True):
            result.set(reply)


def _reply(store, reply, args):
    if isinstance(reply, NoScriptError):
        return store.acquire_script(args=args)  # redis-py's Script loads it and runs it again
    if isinstance(reply, Exception):
        raise reply
    return reply
