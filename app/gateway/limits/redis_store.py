"""Limit counters in Redis: shared by every worker and instance, one atomic Lua script to admit
a request and one to settle it (lua.py)."""
import math
import time

from .limiter import STALE_SECONDS, Verdict, to_nano
from .lua import ACQUIRE, RELEASE
from .redis_replies import DeferredReplies

NONE = -1  # "no limit" in the Lua scripts' arguments


def _opt(value):
    return NONE if value is None else value


class RedisStore:
    def __init__(self, client, prefix="gw:lim"):
        self.client = client
        self.prefix = prefix
        self.stale_seconds = STALE_SECONDS  # tests shorten it
        self._acquire = client.register_script(ACQUIRE)
        self._release = client.register_script(RELEASE)
        self.settles = DeferredReplies(client)  # the answer does not wait for a settle's reply

    def _key(self, ask):
        return f"{self.prefix}:{ask.scope.name}"

    def acquire(self, request_id, asks, now):
        args = [request_id, self.stale_seconds]
        for ask in asks:
            s = ask.scope
            budget = NONE if s.max_budget_usd is None else to_nano(s.max_budget_usd)
            args += [self._key(ask), _opt(s.rpm), _opt(s.tpm), ask.tokens, _opt(s.max_parallel),
                     budget, ask.reserve, ask.period_id]
        reply = self._acquire(args=args)
        kind = reply[0].decode() if isinstance(reply[0], bytes) else reply[0]
        if kind == "ok":
            values = [int(v) for v in reply[3:]]
            remaining = [tuple(values[i:i + 3]) for i in range(0, len(values), 3)]
            return Verdict("ok", minute=int(reply[1]), remaining=remaining,
                           reset_seconds=int(reply[2]) / 1000)
        return Verdict(kind, index=int(reply[1]) - 1, reset_seconds=int(reply[2]) / 1000,
                       budget_left=int(reply[3]) if len(reply) > 3 else 0)

    def seed(self, ask, spent_nano):
        key = f"{self._key(ask)}:b:{ask.period_id}"
        self.client.hsetnx(key, "spent", spent_nano)
        ttl = (math.ceil(ask.period_end - time.time()) + 86400) if ask.period_end else 30 * 86400
        self.client.expire(key, max(ttl, 60))

    def release(self, ticket, tokens_used, cost_nano):
        args = [ticket.request_id, ticket.minute]
        for ask in ticket.asks:
            s = ask.scope
            args += [self._key(ask), "x" if s.tpm is None else tokens_used - ask.tokens,
                     0 if s.max_parallel is None else 1,
                     "" if s.max_budget_usd is None else ask.period_id, cost_nano]
        self.settles.run(self._release, args)
