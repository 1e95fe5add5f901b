"""Deployment health over Redis without two Redis round trips on every request.

Most requests find every circuit closed and every key usable, and succeed. So:
- an all-clear check is remembered for `check_ttl` seconds (an open circuit or a cooling key is
  never remembered: those are asked of Redis each time). A circuit opened or a key cooled by
  another worker is therefore seen here at most check_ttl later; this worker's own failures
  forget its remembered verdicts at once.
- plain successes are sent in batches of up to max_batch, in one script call, at most
  `flush_seconds` late while requests come, and when the worker stops (while Redis is down only
  the latest max_batch are kept). Any other outcome (a failure, a 429, a probe's result) first
  sends the batch, so the failure rate it is judged against counts every success before it.
"""
import threading
import time


def plain_success(o):
    return o.outcome is True and not o.probe and o.key_event in ("ok", None)


class BatchedHealthStore:
    def __init__(self, store, check_ttl=1.0, flush_seconds=1.0, clock=time.monotonic,
                 max_batch=500):
        self.store = store
        self.check_ttl = check_ttl
        self.flush_seconds = flush_seconds
        self.clock = clock
        self.max_batch = max_batch
        self._clear = {}  # (deployment, provider) -> (expires at, Check)
        self._pending = []
        self._lock = threading.Lock()
        self._flushed_at = clock()

    def check(self, deployment, provider, nkeys, probe_ttl, model=""):
        now = self.clock()
        if self._pending and now - self._flushed_at >= self.flush_seconds:
            self.flush()
        remembered = self._clear.get((deployment, provider))
        if remembered is not None and remembered[0] > now:
            return remembered[1]
        check = self.store.check(deployment, provider, nkeys, probe_ttl, model)
        if check.kind == "closed" and not any(check.key_waits) and self.check_ttl > 0:
            self._clear[(deployment, provider)] = (now + self.check_ttl, check)
        return check

    def peek(self, deployment, provider, nkeys, model=""):
        """Read through to the store: never a remembered verdict."""
        return self.store.peek(deployment, provider, nkeys, model)

    def record(self, o):
        if plain_success(o):
            with self._lock:
                self._pending.append(o)
                due = (len(self._pending) >= self.max_batch
                       or self.clock() - self._flushed_at >= self.flush_seconds)
            if due:
                self.flush()
            return None, None
        with self._lock:
            stale = [w for w in self._clear if w[0] == o.deployment or w[1] == o.provider]
        for where in stale:
            self._clear.pop(where, None)
        self.flush()
        return self.store.record(o)

    def flush(self):
        """Send the pending successes (also called when the worker stops: gunicorn.conf.py)."""
        with self._lock:
            batch, self._pending = self._pending, []
            self._flushed_at = self.clock()
        if batch:
            try:
                self.store.record_successes(batch)
            except Exception:
                with self._lock:  # Redis is down: keep the latest max_batch for the next try
                    self._pending = (batch + self._pending)[-self.max_batch:]
                raise
