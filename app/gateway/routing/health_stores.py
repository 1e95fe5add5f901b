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
A 429 concerns one model: the key rests for (key, upstream model) only, since vendors limit per
model; a 401/403 concerns the key itself and takes it out for every model.
"""
import threading
import time
from collections import deque
from dataclasses import dataclass, field

from .health_lua import CHECK, RECORD, RECORD_SUCCESSES


@dataclass
class Check:
    kind: str  # closed | probe | open | keys
    wait: float = 0.0  # seconds until a refused deployment may be tried again
    key_waits: list = field(default_factory=list)  # per provider key; 0 = usable now


@dataclass
class Peek:
    """What a store holds for one deployment, read without changing anything (for /admin/models):
    circuit closed | open | half_open (its cooldown is over: the next check takes the probe),
    seconds until an open circuit may be probed, and per provider key (auth wait, 429 wait)."""
    circuit: str
    wait: float = 0.0
    key_waits: list = field(default_factory=list)


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
    model: str = ""  # the upstream model: a 429 cools (key, model)
    auth_seconds: float = 3600.0


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

    def check(self, deployment, provider, nkeys, probe_ttl, model=""):
        reply = self._check(args=[self.prefix, deployment, provider, nkeys, _ms(probe_ttl),
                                  model])
        kind = reply[0].decode() if isinstance(reply[0], bytes) else reply[0]
        return Check(kind, int(reply[1]) / 1000, [int(w) / 1000 for w in reply[2:]])

    def peek(self, deployment, provider, nkeys, model=""):
        pipe = self.client.pipeline(transaction=False)
        pipe.time()
        pipe.hmget(f"{self.prefix}:cb:{deployment}", "until")
        for i in range(nkeys):
            key = f"{self.prefix}:key:{provider}:{i}"
            pipe.hget(key, "until")
            pipe.hget(f"{key}:m:{model}", "until")
        seconds, micros = (reply := pipe.execute())[0]
        now = seconds * 1000 + micros // 1000
        waits = [max(int(u or 0) - now, 0) / 1000 for u in reply[2:]]
        until = reply[1][0]
        if until is None:
            circuit, wait = "closed", 0.0
        elif now < int(until):
            circuit, wait = "open", (int(until) - now) / 1000
        else:
            circuit, wait = "half_open", 0.0
        return Peek(circuit, wait, list(zip(waits[0::2], waits[1::2], strict=True)))

    def record(self, o):
        c = o.circuit
        outcome = "-" if o.outcome is None else ("1" if o.outcome else "0")
        args = [self.prefix, o.deployment, outcome, "1" if o.probe else "0",
                "1" if c.enabled else "0", _ms(c.window_seconds), c.min_requests,
                repr(float(c.failure_rate)), _ms(c.cooldown_seconds), o.member, o.provider,
                "" if o.key is None else o.key, o.key_event or "",
                -1 if o.key_wait is None else _ms(o.key_wait), _ms(o.auth_seconds), o.model,
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
                keys.add(f"{o.provider}:{o.key}:m:{o.model}")
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
        self._keys = {}  # (provider, index) or (provider, index, model) -> [until, strikes]

    def check(self, deployment, provider, nkeys, probe_ttl, model=""):
        now = self.clock()
        with self._lock:
            waits = [max(self._keys.get((provider, i), (0.0, 0))[0] - now,
                         self._keys.get((provider, i, model), (0.0, 0))[0] - now, 0.0)
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

    def peek(self, deployment, provider, nkeys, model=""):
        now = self.clock()
        with self._lock:
            waits = [(max(self._keys.get((provider, i), (0.0, 0))[0] - now, 0.0),
                      max(self._keys.get((provider, i, model), (0.0, 0))[0] - now, 0.0))
                     for i in range(nkeys)]
            circuit = self._circuits.get(deployment)
            if circuit is None or circuit.until is None:
                return Peek("closed", 0.0, waits)
            if now < circuit.until:
                return Peek("open", circuit.until - now, waits)
            return Peek("half_open", 0.0, waits)

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
        where = (o.provider, o.key) if o.key_event == "auth" else (o.provider, o.key, o.model)
        state = self._keys.setdefault(where, [0.0, 0])
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
