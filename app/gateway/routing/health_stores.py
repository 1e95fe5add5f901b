"""Where deployment circuits and provider-key cooldowns live: Redis (shared by every worker and
instance, one Lua script per check and per outcome, Redis's clock) or this process's memory.

check(): the provider's key waits first (a deployment whose keys all cool is skipped without
touching its circuit), then the circuit: closed → go; open → skip until its cooldown ends;
cooldown over → half-open: the first caller takes the probe, the others skip until the probe's
outcome (or until probe_ttl, should the prober die).
record(): a probe's success closes the circuit, its failure re-opens it; otherwise the outcome
joins the rolling window, and a failure that brings the failure rate to the threshold (with at
least min_requests outcomes in the window) opens it. A key's 429 cools it (the upstream's wait,
else the next step of the ladder); 401/403 takes it out for the auth cooldown; a success resets
the ladder.
"""
import threading
import time
from collections import deque
from dataclasses import dataclass, field


@dataclass
class Check:
    kind: str  # closed | probe | open | keys
    wait: float = 0.0  # seconds until a refused deployment may be tried again
    key_waits: list = field(default_factory=list)  # per provider key; 0 = usable now


@dataclass
class Outcome:
    """What an attempt tells the store. outcome: True ok, False failed, None neutral."""
    deployment: str
    outcome: bool | None
    circuit: object  # catalog.fields.CircuitSettings
    probe: bool
    member: str  # unique id of this attempt (the window's entry)
    provider: str
    key: int | None
    key_event: str | None  # None | ok | rate | auth
    key_wait: float | None  # the upstream's retry-after for a 429, when it gave one
    ladder: tuple = ()
    auth_seconds: float = 3600.0


CHECK = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local prefix, dep, provider = ARGV[1], ARGV[2], ARGV[3]
local nkeys, probe_ttl = tonumber(ARGV[4]), tonumber(ARGV[5])
local out = {'closed', 0}
local free, shortest = 0, -1
for i = 0, nkeys - 1 do
  local u = tonumber(redis.call('HGET', prefix .. ':key:' .. provider .. ':' .. i, 'until') or '0')
  local wait = math.max(u - now, 0)
  if wait == 0 then free = free + 1 elseif shortest < 0 or wait < shortest then shortest = wait end
  out[#out + 1] = wait
end
if nkeys > 0 and free == 0 then
  out[1], out[2] = 'keys', shortest
  return out
end
local cb = prefix .. ':cb:' .. dep
local state = redis.call('HMGET', cb, 'until', 'probe')
if state[1] then
  local untl = tonumber(state[1])
  if now < untl then
    out[1], out[2] = 'open', untl - now
    return out
  end
  if state[2] and now - tonumber(state[2]) < probe_ttl then
    out[1], out[2] = 'open', probe_ttl - (now - tonumber(state[2]))
    return out
  end
  redis.call('HSET', cb, 'probe', now)
  out[1] = 'probe'
end
return out
"""

RECORD = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local prefix, dep, outcome, probe, enabled = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5]
local window, min_req = tonumber(ARGV[6]), tonumber(ARGV[7])
local rate, cooldown = tonumber(ARGV[8]), tonumber(ARGV[9])
local member, provider, key, kevent = ARGV[10], ARGV[11], ARGV[12], ARGV[13]
local explicit, auth = tonumber(ARGV[14]), tonumber(ARGV[15])
local event, kwait = '', -1
local cb = prefix .. ':cb:' .. dep
local keep = cooldown + 3600000
if enabled == '1' then
  if probe == '1' then
    if outcome == '1' then
      redis.call('DEL', cb, cb .. ':all', cb .. ':bad')
      event = 'closed'
    elseif outcome == '0' then
      redis.call('HSET', cb, 'until', now + cooldown)
      redis.call('HDEL', cb, 'probe')
      redis.call('PEXPIRE', cb, keep)
      event = 'reopened'
    else
      redis.call('HDEL', cb, 'probe')
    end
  elseif outcome ~= '-' then
    local all, bad = cb .. ':all', cb .. ':bad'
    redis.call('ZADD', all, now, member)
    if outcome == '0' then redis.call('ZADD', bad, now, member) end
    redis.call('ZREMRANGEBYSCORE', all, '-inf', now - window)
    redis.call('ZREMRANGEBYSCORE', bad, '-inf', now - window)
    redis.call('PEXPIRE', all, window)
    redis.call('PEXPIRE', bad, window)
    if outcome == '0' and redis.call('HEXISTS', cb, 'until') == 0 then
      local total, failed = redis.call('ZCARD', all), redis.call('ZCARD', bad)
      if total >= min_req and failed >= rate * total then
        redis.call('HSET', cb, 'until', now + cooldown)
        redis.call('HDEL', cb, 'probe')
        redis.call('PEXPIRE', cb, keep)
        redis.call('DEL', all, bad)
        event = 'opened'
      end
    end
  end
end
if key ~= '' and kevent ~= '' then
  local kk = prefix .. ':key:' .. provider .. ':' .. key
  if kevent == 'ok' then
    redis.call('HDEL', kk, 'strikes')
  else
    if kevent == 'auth' then
      kwait = auth
    else
      local strikes = redis.call('HINCRBY', kk, 'strikes', 1)
      kwait = explicit
      if kwait < 0 then kwait = tonumber(ARGV[15 + math.min(strikes, #ARGV - 15)]) end
    end
    redis.call('HSET', kk, 'until', now + kwait)
    redis.call('PEXPIRE', kk, kwait + 600000)
  end
end
return {event, kwait}
"""


RECORD_SUCCESSES = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local prefix, i = ARGV[1], 3
for g = 1, tonumber(ARGV[2]) do
  local all = prefix .. ':cb:' .. ARGV[i] .. ':all'
  local window, count = tonumber(ARGV[i + 1]), tonumber(ARGV[i + 2])
  i = i + 3
  local entries = {}
  for m = 1, count do
    entries[2 * m - 1], entries[2 * m] = now, ARGV[i]
    i = i + 1
  end
  redis.call('ZADD', all, unpack(entries))
  redis.call('ZREMRANGEBYSCORE', all, '-inf', now - window)
  redis.call('PEXPIRE', all, window)
end
for k = i, #ARGV do redis.call('HDEL', prefix .. ':key:' .. ARGV[k], 'strikes') end
return 0
"""


def _ms(seconds):
    return int(round(seconds * 1000))


class RedisHealthStore:
    def __init__(self, client, prefix="gw:health"):
        """prefix: of every key; a string, or a callable resolved when first needed."""
        self.client = client
        self._prefix = prefix
        self._check = client.register_script(CHECK)
        self._record = client.register_script(RECORD)
        self._record_successes = client.register_script(RECORD_SUCCESSES)

    @property
    def prefix(self):
        if callable(self._prefix):
            self._prefix = self._prefix()
        return self._prefix

    def check(self, deployment, provider, nkeys, probe_ttl):
        reply = self._check(args=[self.prefix, deployment, provider, nkeys, _ms(probe_ttl)])
        kind = reply[0].decode() if isinstance(reply[0], bytes) else reply[0]
        return Check(kind, int(reply[1]) / 1000, [int(w) / 1000 for w in reply[2:]])

    def record(self, o):
        c = o.circuit
        outcome = "-" if o.outcome is None else ("1" if o.outcome else "0")
        args = [self.prefix, o.deployment, outcome, "1" if o.probe else "0",
                "1" if c.enabled else "0", _ms(c.window_seconds), c.min_requests,
                repr(float(c.failure_rate)), _ms(c.cooldown_seconds), o.member, o.provider,
                "" if o.key is None else o.key, o.key_event or "",
                -1 if o.key_wait is None else _ms(o.key_wait), _ms(o.auth_seconds),
                *[_ms(s) for s in o.ladder]]
        event, wait = self._record(args=args)
        event = event.decode() if isinstance(event, bytes) else event
        return event or None, (None if int(wait) < 0 else int(wait) / 1000)

    def record_successes(self, outcomes):
        """Many plain successes (not probes) in one call: what record() does for each."""
        windows, members, keys = {}, {}, set()
        for o in outcomes:
            if o.circuit.enabled:
                windows[o.deployment] = _ms(o.circuit.window_seconds)
                members.setdefault(o.deployment, []).append(o.member)
            if o.key is not None and o.key_event == "ok":
                keys.add(f"{o.provider}:{o.key}")
        args = [self.prefix, len(members)]
        for deployment, names in members.items():
            args += [deployment, windows[deployment], len(names), *names]
        self._record_successes(args=[*args, *sorted(keys)])


@dataclass
class _Circuit:
    until: float | None = None  # open (or half-open once passed) while set
    probe_at: float | None = None
    events: deque = field(default_factory=deque)  # (time, failed)


class MemoryHealthStore:
    """The same rules in this process's memory; `clock` can be replaced in tests."""

    def __init__(self, clock=time.monotonic):
        self.clock = clock
        self._lock = threading.Lock()
        self._circuits = {}
        self._keys = {}  # (provider, index) -> [until, strikes]

    def check(self, deployment, provider, nkeys, probe_ttl):
        now = self.clock()
        with self._lock:
            waits = [max(self._keys.get((provider, i), (0.0, 0))[0] - now, 0.0)
                     for i in range(nkeys)]
            if nkeys and all(waits):
                return Check("keys", min(waits), waits)
            circuit = self._circuits.get(deployment)
            if circuit is None or circuit.until is None:
                return Check("closed", 0.0, waits)
            if now < circuit.until:
                return Check("open", circuit.until - now, waits)
            if circuit.probe_at is not None and now - circuit.probe_at < probe_ttl:
                return Check("open", probe_ttl - (now - circuit.probe_at), waits)
            circuit.probe_at = now
            return Check("probe", 0.0, waits)

    def record(self, o):
        now = self.clock()
        with self._lock:
            event = self._circuit_outcome(o, now) if o.circuit.enabled else None
            return event, self._key_outcome(o, now)

    def _circuit_outcome(self, o, now):
        c = o.circuit
        circuit = self._circuits.setdefault(o.deployment, _Circuit())
        if o.probe:
            circuit.probe_at = None
            if o.outcome is True:
                del self._circuits[o.deployment]
                return "closed"
            if o.outcome is False:
                circuit.until = now + c.cooldown_seconds
                return "reopened"
            return None
        if o.outcome is None:
            return None
        events = circuit.events
        events.append((now, not o.outcome))
        while events and events[0][0] <= now - c.window_seconds:
            events.popleft()
        if o.outcome or circuit.until is not None:
            return None
        failed = sum(1 for _, bad in events if bad)
        if len(events) >= c.min_requests and failed >= c.failure_rate * len(events):
            circuit.until, circuit.probe_at = now + c.cooldown_seconds, None
            events.clear()
            return "opened"
        return None

    def _key_outcome(self, o, now):
        if o.key is None or o.key_event is None:
            return None
        state = self._keys.setdefault((o.provider, o.key), [0.0, 0])
        if o.key_event == "ok":
            state[1] = 0
            return None
        if o.key_event == "auth":
            wait = o.auth_seconds
        else:
            state[1] += 1
            wait = o.key_wait if o.key_wait is not None else o.ladder[min(state[1],
                                                                          len(o.ladder)) - 1]
        state[0] = now + wait
        return wait
