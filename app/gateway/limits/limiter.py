"""Rate limits and budgets per scope (a key, its user, its project).

Windows: fixed, one per wall-clock minute (UTC), for RPM and TPM: one counter per scope and
minute, so a check is O(1) and exact within the minute; a client can burst up to twice the limit
across a minute boundary. Parallel requests: a set of in-flight request ids per scope (entries
older than STALE_SECONDS are dropped, so a crashed worker cannot leak slots).
Budgets: before the upstream call, reserve the request's worst-case cost (input tokens at the
input price + its max output tokens at the output price); admitted only if spent + every open
reservation + this one ≤ max_budget_usd; after the call, settle to the real cost. A budget window
(daily/weekly/monthly/whole life) has its own counter id, so periods reset on their boundary by
themselves; a window's spent amount is seeded from request_logs when its counter is missing.

Two stores behind one interface: Redis (atomic Lua scripts, one round trip to admit and one to
settle; shared by every worker and instance) and memory (one process only: with several workers
or instances, set REDIS_URL).
"""
import math
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal

from ...errors import RateLimited
from .periods import window

NANO = Decimal(1_000_000_000)  # budgets are counted in integer nano-dollars
STALE_SECONDS = 900  # longest a request may hold a parallel slot or a budget reservation


@dataclass(frozen=True)
class Scope:
    """The limits of one key, user or project; None means no limit."""
    name: str  # "key:12", "user:3", "project:5"
    rpm: int | None = None
    tpm: int | None = None
    max_parallel: int | None = None
    max_budget_usd: Decimal | None = None
    budget_period: str | None = None
    models: tuple | None = None

    @property
    def limited(self):
        return any(v is not None for v in (self.rpm, self.tpm, self.max_parallel,
                                            self.max_budget_usd))


@dataclass
class Ask:
    """What admitting one request needs from one scope."""
    scope: Scope
    tokens: int  # estimated input tokens, counted against TPM up front
    reserve: int  # worst-case cost in nano-dollars
    period_id: str = ""
    period_end: float | None = None  # epoch seconds


@dataclass
class Ticket:
    """An admitted request: what it holds, and the figures for the response headers."""
    request_id: str
    asks: list
    minute: int = 0
    remaining: list = field(default_factory=list)  # per ask: (requests, tokens, budget nano)
    reset_seconds: float = 60.0

    def headers(self):
        out = {}
        pairs = [(a, r) for a, r in zip(self.asks, self.remaining, strict=True)]
        for kind, limit_of, slot in (("requests", "rpm", 0), ("tokens", "tpm", 1)):
            limited = [(getattr(a.scope, limit_of), r[slot]) for a, r in pairs
                       if getattr(a.scope, limit_of) is not None]
            if limited:
                limit, remaining = min(limited, key=lambda lr: lr[1])
                out[f"x-ratelimit-limit-{kind}"] = str(limit)
                out[f"x-ratelimit-remaining-{kind}"] = str(max(remaining, 0))
                out[f"x-ratelimit-reset-{kind}"] = f"{math.ceil(self.reset_seconds)}s"
        budgets = [r[2] for a, r in pairs if a.scope.max_budget_usd is not None]
        if budgets:
            out["x-gateway-budget-remaining-usd"] = _usd(min(budgets))
        return out


def _usd(nano):
    """Nano-dollars as dollars with 6 decimals, rounded half to even (as Decimal's format)."""
    micro, rest = divmod(max(int(nano), 0), 1000)
    if rest > 500 or (rest == 500 and micro % 2):
        micro += 1
    return f"{micro // 1_000_000}.{micro % 1_000_000:06d}"


def to_nano(usd):
    return int((Decimal(usd) * NANO).to_integral_value())


class Limiter:
    """admit() before the upstream call, settle() after it (always, failed or not)."""

    def __init__(self, store, spent_since):
        """spent_since(scope_name, start) -> Decimal: cost logged for the scope since start
        (None: ever); used to seed a budget window whose counter is missing."""
        self.store = store
        self.spent_since = spent_since

    def admit(self, request_id, scopes, tokens, reserve_usd, now=None):
        scopes = [s for s in scopes if s.limited]
        if not scopes:
            return None
        now = time.time() if now is None else now
        asks = [self._ask(scope, tokens, reserve_usd, now) for scope in scopes]
        while True:
            verdict = self.store.acquire(request_id, asks, now)
            if verdict.kind != "seed":
                break
            ask = asks[verdict.index]
            start, _, _ = window(ask.scope.budget_period, _utc(now))
            spent = to_nano(self.spent_since(ask.scope.name, start))
            self.store.seed(ask, spent)
        if verdict.kind == "ok":
            return Ticket(request_id, asks, verdict.minute, verdict.remaining,
                          verdict.reset_seconds)
        raise _rejection(verdict, asks[verdict.index])

    def settle(self, ticket, tokens_used, cost_usd):
        """Release the ticket's slots and reservation; count what the request really used.
        The ticket's remaining figures move from the worst case to the real use."""
        if ticket is None:
            return
        cost = to_nano(cost_usd)
        self.store.release(ticket, tokens_used, cost)
        ticket.remaining = [
            (requests, tokens + ask.tokens - tokens_used, budget + ask.reserve - cost)
            for ask, (requests, tokens, budget) in zip(ticket.asks, ticket.remaining, strict=True)]

    @staticmethod
    def _ask(scope, tokens, reserve_usd, now):
        ask = Ask(scope, tokens=tokens if scope.tpm is not None else 0,
                  reserve=to_nano(reserve_usd) if scope.max_budget_usd is not None else 0)
        if scope.max_budget_usd is not None:
            _, end, ask.period_id = window(scope.budget_period, _utc(now))
            ask.period_end = _epoch(end) if end else None
        return ask


@dataclass
class Verdict:
    kind: str  # ok | rpm | tpm | parallel | budget | seed
    index: int = 0  # which ask failed (or needs seeding)
    minute: int = 0
    remaining: list = field(default_factory=list)
    reset_seconds: float = 60.0
    budget_left: int = 0


def _rejection(verdict, ask):
    scope = ask.scope
    if verdict.kind == "budget":
        retry = (max(1, math.ceil(ask.period_end - time.time())) if ask.period_end else None)
        message = (f"Budget exhausted for {scope.name}: {_usd(verdict.budget_left)} USD left of "
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
    return RateLimited(f"Rate limit reached for {scope.name}: {limits[verdict.kind]}.",
                       code=f"{verdict.kind}_limit_exceeded", headers=headers)


def _utc(epoch):
    return datetime.fromtimestamp(epoch, UTC).replace(tzinfo=None)


def _epoch(naive_utc):
    return naive_utc.replace(tzinfo=UTC).timestamp()
