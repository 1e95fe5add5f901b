"""Is a dependency usable now? A circuit breaker on Redis, and one on the database, each shared
by everything that calls it (Redis: limits, deployment health, deferred settles; the database:
key lookups), so that an outage costs one bounded wait, not one per request.

Closed: calls go to the dependency. A call that fails (refused, timed out, reset, an error reply
such as OOM or READONLY) opens the breaker: for `retry_seconds` every caller decides at once
without it (the limits degrade as configured, health is kept in this process, known keys are
served from their last good lookup). Then one caller is let through as the probe; its success
closes the breaker, its failure keeps it open for another interval. The dependency's own waits
are bounded by its client's timeouts (REDIS_SOCKET_TIMEOUT_SECONDS, DATABASE_TIMEOUT_SECONDS).
"""
import logging
import threading
import time

from redis.exceptions import RedisError
from sqlalchemy import exc as sa_exc

log = logging.getLogger(__name__)

# What a failing Redis raises: redis-py's errors (connection, timeout, error replies) and the
# socket's own.
REDIS_FAILURES = (RedisError, OSError)
# What a failing database raises: the driver's errors (through SQLAlchemy), the pool's timeout.
DATABASE_FAILURES = (sa_exc.DBAPIError, sa_exc.TimeoutError, sa_exc.DisconnectionError, OSError)


class Breaker:
    def __init__(self, name="Redis", failures=REDIS_FAILURES, retry_seconds=2.0,
                 clock=time.monotonic):
        self.name = name
        self.failures_caught = failures
        self.retry_seconds = retry_seconds
        self.clock = clock
        self._open_until = None  # monotonic time of the next probe, while open
        self._probe_until = 0.0  # a probe is in flight until then
        self._lock = threading.Lock()
        self._listeners = []  # called (no arguments) when Redis is usable again
        self.failures = 0  # times the breaker opened (for tests and logs)
        self.errors = 0  # failed calls (metrics)

    @property
    def down(self):
        return self._open_until is not None

    def on_recovery(self, callback):
        self._listeners.append(callback)

    def allow(self):
        """May this caller use Redis now? While open, only the one probe per interval."""
        if self._open_until is None:
            return True
        now = self.clock()
        with self._lock:
            if self._open_until is None:
                return True
            if now < self._open_until or now < self._probe_until:
                return False
            self._probe_until = now + self.retry_seconds
            return True

    def succeeded(self):
        if self._open_until is None:
            return
        with self._lock:
            was_open, self._open_until, self._probe_until = self._open_until, None, 0.0
        if was_open is not None:
            log.warning("%s is reachable again", self.name)
            for callback in self._listeners:
                try:
                    callback()
                except Exception:
                    log.exception("after Redis came back")

    def failed(self, exc):
        with self._lock:
            self.errors += 1
            first = self._open_until is None
            self._open_until = self.clock() + self.retry_seconds
            self._probe_until = 0.0
            if first:
                self.failures += 1
        if first:
            log.error("%s is unavailable (%s: %s); degrading until it answers again "
                      "(probed every %.1f s)", self.name, type(exc).__name__,
                      str(exc).strip().split("\n")[0][:200], self.retry_seconds)

    def call(self, action, fallback):
        """action() through the breaker; fallback() when the dependency is down or action
        fails."""
        if not self.allow():
            return fallback()
        try:
            result = action()
        except self.failures_caught as exc:
            self.failed(exc)
            return fallback()
        self.succeeded()
        return result
