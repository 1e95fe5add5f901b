"""Rate limits and budgets per scope (a key, its user, its project).

Windows: fixed, one per wall-clock minute (UTC), for RPM and TPM: one counter per scope and
minute, so a check is O(1) and exact within the minute; a client can burst up to twice the limit
across a minute boundary. Parallel requests: a set of in-flight request ids per scope, each a
lease the worker holding it renews (redis_store.py), so a crashed worker cannot leak slots.
Budgets: before the upstream call, reserve the request's worst-case cost (input tokens at the
input price + its max output tokens at the output price); admitted only if spent + every open
reservation + this one ≤ max_budget_usd; after the call, settle to the real cost. A budget window
(daily/weekly/monthly/whole life) has its own counter id, so periods reset on their boundary by
themselves; a window's spent amount is seeded from request_logs when its counter is missing.

Two stores behind one interface: Redis (atomic Lua scripts, one round trip to admit and one to
settle — a roomy request's settle rides with the next admission; shared by every worker and
instance) and memory (one process only: with several workers
or instances, set REDIS_URL).

When Redis fails (the breaker, gateway/breaker.py, says so at once after the first failure), the
limits degrade as configured: rpm/tpm/parallel are counted in this process's memory ("local") or
refused with 503 ("closed"); budgets are refused with 503 ("closed", the default: a budget is
never overspent) or counted in memory ("local", added to Redis's counters when it is back). A
ticket is always settled in the store that admitted it, and settling never raises.
"""
import logging
import math
import threading
import time
from datetime import UTC, datetime

from ...errors import InvalidRequest, RateLimited, ServiceUnavailable
from ..breaker import REDIS_FAILURES
from .periods import window
from .tickets import Ask, Ticket, to_nano, usd

log = logging.getLogger(__name__)
# How long a parallel slot or budget reservation outlives its last renewal (redis_store.py): the
# bound on a slot whose release never reached Redis. The memory store drops entries older than
# STALE_SECONDS (its requests release them in the same process).
LEASE_SECONDS = 60
STALE_SECONDS = 900
DOWN_MODES = ("local", "closed")


class Limiter:
    """admit() before the upstream call, settle() after it (always, failed or not)."""

    def __init__(self, store, spent_since, *, fallback=None, breaker=None,
                 down_rate_limits="local", down_budgets="closed"):
        """spent_since(scope_name, start) -> Decimal: cost logged for the scope since start
        (None: ever); used to seed a budget window whose counter is missing. With a Redis
        store: fallback (a MemoryStore) and breaker, and what to do while Redis is down."""
        self.store = store
        self.spent_since = spent_since
        self.fallback = fallback
        self.breaker = breaker
        self.down_rate_limits = down_rate_limits
        self.down_budgets = down_budgets
        self._unreconciled = {}  # spending counted in memory, not yet added to Redis
        self._lock = threading.Lock()
        if breaker is not None:
            breaker.on_recovery(self._reconcile_quietly)

    def admit(self, request_id, scopes, tokens, reserve_usd, now=None, output_param=None):
        """output_param: the request's field bounding its output ("max_tokens"…), named when a
        request can never pass its budget."""
        scopes = [s for s in scopes if s.limited]
        if not scopes:
            return None
        _never_passes(scopes, tokens, reserve_usd, output_param)
        now = time.time() if now is None else now
        asks = [self._ask(scope, tokens, reserve_usd, now) for scope in scopes]
        verdict = self._decide(request_id, asks, now)
        if verdict.kind == "ok":
            return Ticket(request_id, asks, verdict.minute, verdict.remaining,
                          verdict.reset_seconds, store=verdict.store, roomy=verdict.roomy)
        raise _rejection(verdict, asks[verdict.index])

    def settle(self, ticket, tokens_used, cost_usd):
        """Release the ticket's slots and reservation; count what the request really used.
        The ticket's remaining figures move from the worst case to the real use. Never raises:
        a settle that fails is logged (its slots expire with their lease)."""
        if ticket is None:
            return
        cost = to_nano(cost_usd)
        try:
            (ticket.store or self.store).release(ticket, tokens_used, cost)
        except Exception:
            log.exception("settling the limits of request %s failed", ticket.request_id)
        if ticket.store is self.fallback and self.fallback is not None and (
                not self.breaker.down):  # admitted while Redis was down, over after it
            self._reconcile_quietly()
        ticket.remaining = [
            (requests, tokens + ask.tokens - tokens_used, budget + ask.reserve - cost)
            for ask, (requests, tokens, budget) in zip(ticket.asks, ticket.remaining, strict=True)]

    def flush(self):
        """Send what the store still holds back to send together (the worker is stopping)."""
        flush = getattr(self.store, "flush", None)
        if flush is not None:
            flush()

    def budget(self, scope, now=None):
        """(spent, reserved) nano-dollars of scope's current budget window, as the store that
        admits requests counts them (the database's log when Redis is down)."""
        now = time.time() if now is None else now
        ask = self._ask(scope, 0, 0, now)

        def read(store):
            state = store.budget_state(ask)
            if state is None:
                self._seed(store, ask, now)
                state = store.budget_state(ask) or (0, 0)
            return state

        if self.breaker is None or self.fallback is None:
            return read(self.store)
        return self.breaker.call(lambda: read(self.store),
                                 lambda: (self._spent(ask, now), 0))

    def _decide(self, request_id, asks, now):
        if self.breaker is None or self.fallback is None:
            return self._acquire(self.store, request_id, asks, now)
        if self.breaker.allow():
            try:
                if self.breaker.down or self._unreconciled:  # the probe: Redis may be back
                    self._reconcile()
                verdict = self._acquire(self.store, request_id, asks, now)
            except REDIS_FAILURES as exc:
                self.breaker.failed(exc)
            else:
                self.breaker.succeeded()
                return verdict
        return self._acquire(self._degraded(asks), request_id, asks, now)

    def _acquire(self, store, request_id, asks, now):
        while True:
            verdict = store.acquire(request_id, asks, now)
            if verdict.kind != "seed":
                verdict.store = verdict.store or store
                return verdict
            self._seed(store, asks[verdict.index], now)

    def _seed(self, store, ask, now):
        store.seed(ask, self._spent(ask, now))

    def _spent(self, ask, now):
        start, _, _ = window(ask.scope.budget_period, _utc(now))
        try:
            return to_nano(self.spent_since(ask.scope.name, start))
        except Exception:
            log.warning("budget of %s: the database did not answer", ask.scope.name,
                        exc_info=True)
            raise ServiceUnavailable(
                f"The budget of {ask.scope.display} cannot be checked right now (the database is "
                "unavailable); retry shortly.", code="budget_unavailable",
                headers={"retry-after": "5"}) from None

    def _degraded(self, asks):
        """The store to use while Redis is down, or 503 where the mode says closed."""
        budgets = any(a.scope.max_budget_usd is not None for a in asks)
        rates = any(a.scope.rpm is not None or a.scope.tpm is not None
                    or a.scope.max_parallel is not None for a in asks)
        if (budgets and self.down_budgets == "closed") or (
                rates and self.down_rate_limits == "closed"):
            what = "budgets" if budgets and self.down_budgets == "closed" else "rate limits"
            retry = max(1, math.ceil(self.breaker.retry_seconds))
            raise ServiceUnavailable(
                f"The {what} of this key cannot be checked right now (the limits store is "
                f"unavailable); retry in {retry} s.", code="limits_unavailable",
                headers={"retry-after": str(retry)})
        return self.fallback

    def _reconcile(self):
        """Add what was spent in memory while Redis was down to Redis's budget counters
        (raises, keeping it for the next time, when Redis fails)."""
        with self._lock:
            spent = self._unreconciled
            for where, nano in self.fallback.take_spent().items():
                spent[where] = spent.get(where, 0) + nano
            self._unreconciled = {}
        if not spent:
            return
        try:
            self.store.add_spent(spent)
        except BaseException:
            with self._lock:
                for where, nano in spent.items():
                    self._unreconciled[where] = self._unreconciled.get(where, 0) + nano
            raise

    def _reconcile_quietly(self):
        try:
            self._reconcile()
        except Exception:
            log.warning("could not add the spending counted while Redis was down; will retry",
                        exc_info=True)

    @staticmethod
    def _ask(scope, tokens, reserve_usd, now):
        ask = Ask(scope, tokens=tokens if scope.tpm is not None else 0,
                  reserve=to_nano(reserve_usd) if scope.max_budget_usd is not None else 0)
        if scope.max_budget_usd is not None:
            _, end, ask.period_id = window(scope.budget_period, _utc(now))
            ask.period_end = _epoch(end) if end else None
        return ask


def _never_passes(scopes, tokens, reserve_usd, output_param):
    """400 (not a retryable 429) for a request larger than a scope's whole TPM or budget: no
    wait makes it pass, only a smaller request."""
    for scope in scopes:
        if scope.tpm is not None and tokens > scope.tpm:
            raise InvalidRequest(
                f"This request is about {tokens} input tokens, more than the {scope.tpm} tokens "
                f"per minute of {scope.display}: it can never be admitted; send a shorter "
                "request or raise the limit.", code="request_exceeds_tpm")
        if scope.max_budget_usd is not None and to_nano(reserve_usd) > to_nano(
                scope.max_budget_usd):
            lower = (f"set or lower `{output_param}`" if output_param
                     else "send a shorter request")
            raise InvalidRequest(
                f"This request may cost up to {usd(to_nano(reserve_usd))} USD, more than the "
                f"whole budget of {scope.display} ({scope.max_budget_usd} USD, "
                f"{scope.budget_period or 'total'}): it can never be admitted; {lower}, or "
                "raise the budget.", param=output_param, code="request_exceeds_budget")


def _rejection(verdict, ask):
    scope = ask.scope
    if verdict.kind == "budget":
        retry = (max(1, math.ceil(ask.period_end - time.time())) if ask.period_end else None)
        message = (f"Budget exhausted for {scope.display}: {usd(verdict.budget_left)} USD left of "
                   f"{scope.max_budget_usd} ({scope.budget_period or 'total'}); this request "
                   "may cost up to more than that.")
        return RateLimited(message, code="budget_exceeded",
                           headers={"retry-after": str(retry)} if retry else None)
    limits = {"rpm": f"{scope.rpm} requests per minute", "tpm": f"{scope.tpm} tokens per minute",
              "parallel": f"{scope.max_parallel} requests in flight"}
    retry = max(1, math.ceil(verdict.reset_seconds))
    headers = {"retry-after": str(retry)}
    kind = {"rpm": ("requests", scope.rpm), "tpm": ("tokens", scope.tpm)}.get(verdict.kind)
    if kind:
        headers.update({f"x-ratelimit-limit-{kind[0]}": str(kind[1]),
                        f"x-ratelimit-remaining-{kind[0]}": "0",
                        f"x-ratelimit-reset-{kind[0]}": f"{retry}s"})
    return RateLimited(f"Rate limit reached for {scope.display}: {limits[verdict.kind]}.",
                       code=f"{verdict.kind}_limit_exceeded", headers=headers)


def _utc(epoch):
    return datetime.fromtimestamp(epoch, UTC).replace(tzinfo=None)


def _epoch(naive_utc):
    return naive_utc.replace(tzinfo=UTC).timestamp()
