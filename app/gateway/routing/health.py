"""Health of deployments and provider keys: may this deployment be tried now, with which key;
and what an attempt's outcome means for them.

- A deployment's circuit counts retryable failures (connect errors, timeouts, 408/409/5xx/529);
  upstream answers that prove it alive (2xx, other 4xx) count as successes; a 429 or 401/403
  concerns the key, not the deployment, and counts for neither.
- A provider key that gets a 429 cools down for that upstream model only (vendors limit per
  model): the upstream's retry-after when the provider honours it (at most its
  max_retry_after_seconds), else the ladder 10 s → 30 s → 60 s → 300 s on consecutive 429s; a
  success resets it. One that gets 401/403 is taken out for every model for the auth cooldown,
  loudly logged (provider and key index, never the key).
- Keys are spread round-robin over the ones not cooling.
The state lives in a health store (health_stores.py): Redis when configured, else memory. While
Redis is down (gateway/breaker.py) circuits and cooldowns are kept in this process's memory;
should even that fail, the gateway serves as if every deployment were healthy.
"""
import itertools
import logging
import secrets
import threading
from dataclasses import dataclass

from .health_stores import Check, Outcome

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Gate:
    """The verdict for one deployment: usable now (with key, maybe as the half-open probe), or
    refused for `wait` seconds because of its keys or its circuit."""
    refused: str | None = None  # None | "keys" | "circuit"
    wait: float = 0.0
    key: int | None = None
    probe: bool = False


class Health:
    def __init__(self, store, resilience, fallback=None, breaker=None):
        self.store = store
        self.resilience = resilience
        self.fallback = fallback  # a MemoryHealthStore, used while the breaker says Redis is down
        self.breaker = breaker
        self._turns = {}  # provider name -> counter for round-robin over its keys
        self._lock = threading.Lock()

    def gate(self, provider, deployment):
        nkeys = len(provider.api_keys)
        probe_ttl = provider.connect_timeout_seconds + provider.answer_timeout + 1.0
        try:
            check = self._call("check", deployment.id, provider.name, nkeys, probe_ttl,
                               deployment.model)
        except Exception:
            log.warning("health store unavailable; treating %s as healthy", deployment.id,
                        exc_info=True)
            check = Check("closed", 0.0, [0.0] * nkeys)
        if check.kind == "keys":
            return Gate(refused="keys", wait=check.wait)
        if check.kind == "open":
            return Gate(refused="circuit", wait=check.wait)
        free = [i for i, wait in enumerate(check.key_waits) if not wait]
        return Gate(key=self._next_key(provider.name, free), probe=check.kind == "probe")

    def peek(self, provider, deployment):
        """The deployment's circuit and its provider keys' cooldowns, read without changing
        them (health_stores.Peek); None when no store can say."""
        try:
            return self._call("peek", deployment.id, provider.name, len(provider.api_keys),
                              deployment.model)
        except Exception:
            log.warning("health store unavailable; no health for %s", deployment.id,
                        exc_info=True)
            return None

    def _next_key(self, provider_name, free):
        if len(free) < 2:
            return free[0] if free else None
        with self._lock:
            turn = next(self._turns.setdefault(provider_name, itertools.count()))
        return free[turn % len(free)]

    def record(self, route, gate, circuit, error=None):
        """Tell the store how an attempt through `gate` ended (error None: it succeeded)."""
        outcome, key_event, key_wait = True, "ok", None
        status = getattr(error, "upstream_status", None)
        if error is not None:
            if status == 429:
                outcome, key_event, key_wait = None, "rate", _honoured(error.retry_after,
                                                                       route.provider)
            elif status in (401, 403):
                outcome, key_event = None, "auth"
            elif error.retryable and error.code != "deadline_exceeded":
                outcome, key_event = False, None
            elif status is None:  # failed before the upstream answered, not its fault
                outcome, key_event = None, None
        provider, deployment = route.provider, route.deployment
        report = Outcome(deployment=deployment.id, outcome=outcome, circuit=circuit,
                         probe=gate.probe, member=secrets.token_hex(16), provider=provider.name,
                         key=gate.key, key_event=key_event, key_wait=key_wait,
                         ladder=self.resilience.rate_limit_cooldowns,
                         auth_seconds=self.resilience.auth_cooldown_seconds,
                         model=deployment.model)
        try:
            event, cooled = self._call("record", report)
        except Exception:
            log.warning("health store unavailable; outcome of %s not recorded", deployment.id,
                        exc_info=True)
            return
        self._log(deployment, circuit, event, provider, gate.key, key_event, cooled, status)

    def _call(self, method, *args):
        """The store's method, or the fallback's while Redis is down."""
        if self.breaker is None or self.fallback is None:
            return getattr(self.store, method)(*args)
        return self.breaker.call(lambda: getattr(self.store, method)(*args),
                                 lambda: getattr(self.fallback, method)(*args))

    def flush(self):
        """Send outcomes a batching store still holds (the worker is stopping)."""
        flush = getattr(self.store, "flush", None)
        if flush is not None and (self.breaker is None or self.breaker.allow()):
            try:
                flush()
            except Exception:
                log.warning("health store unavailable; batched outcomes dropped", exc_info=True)

    @staticmethod
    def _log(deployment, circuit, event, provider, key, key_event, cooled, status):
        if event == "opened":
            log.warning("deployment %s: circuit opened after too many failures; skipping it "
                        "for %.0f s", deployment.id, circuit.cooldown_seconds)
        elif event == "reopened":
            log.warning("deployment %s: half-open probe failed; circuit open again for %.0f s",
                        deployment.id, circuit.cooldown_seconds)
        elif event == "closed":
            log.info("deployment %s: probe succeeded; circuit closed", deployment.id)
        if key_event == "auth" and cooled is not None:
            log.error("provider %s: API key #%d was rejected by the upstream (HTTP %s); taken "
                      "out of rotation for %.0f s — check or replace it", provider.name, key,
                      status, cooled)
        elif key_event == "rate" and cooled is not None:
            log.warning("provider %s: API key #%d rate limited on %s; cooling down for %.1f s",
                        provider.name, key, deployment.model, cooled)


def _honoured(retry_after, provider):
    """The rest a 429's retry-after asks for, as the provider allows: None (the ladder decides)
    when it is not honoured or not given, else at most max_retry_after_seconds."""
    if retry_after is None or not provider.honor_retry_after:
        return None
    return min(retry_after, provider.max_retry_after_seconds)
