"""Where limit counters live: Redis (shared, atomic Lua) or this process's memory."""
import math
import threading
import time

from .limiter import STALE_SECONDS, Verdict, to_nano
from .redis_replies import DeferredReplies

NONE = -1  # "no limit" in the Lua scripts' arguments

# ARGV: request_id, stale age (s), then 8 values per ask: prefix, rpm, tpm, tokens,
# max_parallel, budget max (nano), reserve (nano), period id; -1 means no such limit. Time is
# Redis's own clock, so every instance shares one minute. Every ask is checked before anything
# changes: a request is admitted by all its scopes or by none.
# A budget window's hash holds `spent`, `reserved` (the sum of open reservations) and `r:<id>`
# per open reservation; `<hash>:open` orders them by time, so a reservation left by a dead
# worker is found and dropped after the stale age without scanning the others (admission stays
# O(log n) with a thousand requests in flight).
ACQUIRE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local minute = math.floor(now / 60000)
local reset_ms = (minute + 1) * 60000 - now
local stale = now - tonumber(ARGV[2]) * 1000
local rid = ARGV[1]
local asks = {}
local i = 3
while i <= #ARGV do
  asks[#asks + 1] = {prefix = ARGV[i], rpm = tonumber(ARGV[i + 1]), tpm = tonumber(ARGV[i + 2]),
    tokens = tonumber(ARGV[i + 3]), par = tonumber(ARGV[i + 4]), bmax = tonumber(ARGV[i + 5]),
    reserve = tonumber(ARGV[i + 6]), period = ARGV[i + 7]}
  i = i + 8
end
for n, a in ipairs(asks) do
  if a.rpm >= 0 then
    a.rkey = a.prefix .. ':r:' .. minute
    a.rused = tonumber(redis.call('GET', a.rkey) or '0')
    if a.rused + 1 > a.rpm then return {'rpm', n, reset_ms} end
  end
  if a.tpm >= 0 then
    a.tkey = a.prefix .. ':t:' .. minute
    a.tused = tonumber(redis.call('GET', a.tkey) or '0')
    if a.tused + a.tokens > a.tpm then return {'tpm', n, reset_ms} end
  end
  if a.par >= 0 then
    a.pkey = a.prefix .. ':p'
    redis.call('ZREMRANGEBYSCORE', a.pkey, '-inf', stale)
    if redis.call('ZCARD', a.pkey) + 1 > a.par then return {'parallel', n, 1000} end
  end
  if a.bmax >= 0 then
    a.bkey = a.prefix .. ':b:' .. a.period
    local spent = redis.call('HGET', a.bkey, 'spent')
    if not spent then return {'seed', n, 0} end
    a.okey = a.bkey .. ':open'
    for _, old in ipairs(redis.call('ZRANGEBYSCORE', a.okey, '-inf', stale)) do
      local held = tonumber(redis.call('HGET', a.bkey, 'r:' .. old) or '0')
      redis.call('HINCRBY', a.bkey, 'reserved', -held)
      redis.call('HDEL', a.bkey, 'r:' .. old)
      redis.call('ZREM', a.okey, old)
    end
    local reserved = math.max(0, tonumber(redis.call('HGET', a.bkey, 'reserved') or '0'))
    a.bleft = a.bmax - tonumber(spent) - reserved
    if a.reserve > a.bleft then return {'budget', n, 0, a.bleft} end
  end
end
local out = {'ok', minute, reset_ms}
for _, a in ipairs(asks) do
  local rleft, tleft, bleft = 0, 0, 0
  if a.rkey then
    rleft = a.rpm - redis.call('INCR', a.rkey)
    redis.call('PEXPIRE', a.rkey, 120000)
  end
  if a.tkey then
    tleft = a.tpm - redis.call('INCRBY', a.tkey, a.tokens)
    redis.call('PEXPIRE', a.tkey, 120000)
  end
  if a.pkey then
    redis.call('ZADD', a.pkey, now, rid)
    redis.call('PEXPIRE', a.pkey, tonumber(ARGV[2]) * 1000)
  end
  if a.bkey then
    redis.call('HSET', a.bkey, 'r:' .. rid, a.reserve)
    redis.call('HINCRBY', a.bkey, 'reserved', a.reserve)
    redis.call('ZADD', a.okey, now, rid)
    local ttl = redis.call('PTTL', a.bkey)
    if ttl > 0 then redis.call('PEXPIRE', a.okey, ttl) end
    bleft = a.bleft - a.reserve
  end
  out[#out + 1] = rleft
  out[#out + 1] = tleft
  out[#out + 1] = bleft
end
return out
"""

# ARGV: request_id, minute, then 6 values per ask: prefix, tokens delta or 'x', 1/0 parallel,
# period id or '', cost (nano).
RELEASE = """
local rid = ARGV[1]
local minute = ARGV[2]
local i = 3
while i <= #ARGV do
  local prefix = ARGV[i]
  if ARGV[i + 1] ~= 'x' then
    local key = prefix .. ':t:' .. minute
    if redis.call('EXISTS', key) == 1 then redis.call('INCRBY', key, tonumber(ARGV[i + 1])) end
  end
  if ARGV[i + 2] == '1' then redis.call('ZREM', prefix .. ':p', rid) end
  if ARGV[i + 3] ~= '' then
    local key = prefix .. ':b:' .. ARGV[i + 3]
    local held = redis.call('HGET', key, 'r:' .. rid)
    if held then
      redis.call('HDEL', key, 'r:' .. rid)
      redis.call('HINCRBY', key, 'reserved', -tonumber(held))
      redis.call('ZREM', key .. ':open', rid)
    end
    if redis.call('HEXISTS', key, 'spent') == 1 then
      redis.call('HINCRBY', key, 'spent', tonumber(ARGV[i + 4]))
    end
  end
  i = i + 5
end
return 1
"""


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


class MemoryStore:
    """The same rules in one process's memory, under one lock."""

    def __init__(self):
        self._lock = threading.Lock()
        self._minutes = {}  # (scope, "r"|"t") -> (minute, used)
        self._inflight = {}  # scope -> {request_id: started}
        self._budgets = {}  # (scope, period id) -> {"spent": nano, "reserved": {rid: (nano, t)}}

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
                                     {"spent": spent_nano, "reserved": {}})

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
