"""Limit counters in this process's memory: the same rules as the Redis store, for one process
(with several workers or instances, each counts alone)."""
import threading

from .limiter import STALE_SECONDS
from .tickets import Verdict, to_nano


class MemoryStore:
    """The same rules in one process's memory, under one lock."""

    def __init__(self):
        self._lock = threading.Lock()
        self._minutes = {}  # (scope, "r"|"t") -> (minute, used)
        self._inflight = {}  # scope -> {request_id: started}
        # (scope, period id) -> {"spent": nano, "seeded": nano, "reserved": {rid: (nano, t)}}
        self._budgets = {}

    def acquire(self, request_id, asks, now):
        minute = int(now // 60)
        reset = (minute + 1) * 60 - now
        with self._lock:
            lefts = []
            for n, ask in enumerate(asks):
                s = ask.scope
                used_r = self._used(s.name, "r", minute)
                used_t = self._used(s.name, "t", minute)
                if s.rpm is not None and used_r + 1 > s.rpm:
                    return Verdict("rpm", n, reset_seconds=reset)
                if s.tpm is not None and used_t + ask.tokens > s.tpm:
                    return Verdict("tpm", n, reset_seconds=reset)
                inflight = self._inflight.setdefault(s.name, {})
                for rid in [r for r, t in inflight.items() if t < now - STALE_SECONDS]:
                    del inflight[rid]
                if s.max_parallel is not None and len(inflight) + 1 > s.max_parallel:
                    return Verdict("parallel", n, reset_seconds=1)
                budget_left = 0
                if s.max_budget_usd is not None:
                    budget = self._budgets.get((s.name, ask.period_id))
                    if budget is None:
                        return Verdict("seed", n)
                    reserved = budget["reserved"]
                    for rid in [r for r, (_, t) in reserved.items() if t < now - STALE_SECONDS]:
                        del reserved[rid]
                    budget_left = (to_nano(s.max_budget_usd) - budget["spent"]
                                   - sum(v for v, _ in reserved.values()))
                    if ask.reserve > budget_left:
                        return Verdict("budget", n, budget_left=budget_left)
                lefts.append((used_r, used_t, budget_left))
            remaining = []
            for ask, (used_r, used_t, budget_left) in zip(asks, lefts, strict=True):
                s = ask.scope
                self._minutes[(s.name, "r")] = (minute, used_r + 1)
                self._minutes[(s.name, "t")] = (minute, used_t + ask.tokens)
                if s.max_parallel is not None:
                    self._inflight[s.name][request_id] = now
                if s.max_budget_usd is not None:
                    self._budgets[(s.name, ask.period_id)]["reserved"][request_id] = (
                        ask.reserve, now)
                remaining.append(((s.rpm or 0) - used_r - 1, (s.tpm or 0) - used_t - ask.tokens,
                                  budget_left - ask.reserve))
        return Verdict("ok", minute=minute, remaining=remaining, reset_seconds=reset)

    def _used(self, scope, kind, minute):
        at, used = self._minutes.get((scope, kind), (minute, 0))
        return used if at == minute else 0

    def seed(self, ask, spent_nano):
        with self._lock:
            self._budgets.setdefault((ask.scope.name, ask.period_id),
                                     {"spent": spent_nano, "seeded": spent_nano, "reserved": {}})

    def budget_state(self, ask):
        """(spent, reserved) nano-dollars of ask's budget window; None until it is seeded."""
        with self._lock:
            budget = self._budgets.get((ask.scope.name, ask.period_id))
            if budget is None:
                return None
            return budget["spent"], sum(v for v, _ in budget["reserved"].values())

    def take_spent(self):
        """{(scope, period id): nano-dollars spent here since the window was seeded or last
        taken}. A window with no open reservation is forgotten (it is seeded afresh, from the
        database, the next time it is needed)."""
        with self._lock:
            taken = {where: b["spent"] - b["seeded"] for where, b in self._budgets.items()
                     if b["spent"] > b["seeded"]}
            for where, budget in list(self._budgets.items()):
                budget["seeded"] = budget["spent"]
                if not budget["reserved"]:
                    del self._budgets[where]
            return taken

    def release(self, ticket, tokens_used, cost_nano):
        with self._lock:
            for ask in ticket.asks:
                s = ask.scope
                at, used = self._minutes.get((s.name, "t"), (None, 0))
                if s.tpm is not None and at == ticket.minute:
                    self._minutes[(s.name, "t")] = (at, used + tokens_used - ask.tokens)
                self._inflight.get(s.name, {}).pop(ticket.request_id, None)
                budget = self._budgets.get((s.name, ask.period_id))
                if s.max_budget_usd is not None and budget is not None:
                    budget["reserved"].pop(ticket.request_id, None)
                    budget["spent"] += cost_nano
