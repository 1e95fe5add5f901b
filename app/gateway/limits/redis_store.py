"""Limit counters in Redis: shared by every worker and instance, one atomic Lua script to admit
a request and one to settle it (lua.py). A roomy request's settle (one that cannot make anyone's
next request find a scope full) waits up to RIDE_SECONDS for the worker's next admission and
leaves in the same write; under gevent the admissions of one loop turn share a write too
(admissions.py). A request alone in its worker may be admitted from the worker's quota lease
instead, with no round trip (leases.py).

Parallel slots and budget reservations are leases: the worker holding them renews them every
lease / 3 seconds (one script call for all of its requests), so a slot or reservation whose
release never reached Redis — its worker died, or Redis was cut while the request settled — is
dropped by the next admission at most `lease_seconds` after its last renewal. A settle that
cannot reach Redis waits in memory (redis_replies.py) and is sent when Redis answers again.

Keys are `<prefix>:<scope>:…`; the prefix (a string, or a callable resolved once) keeps two
gateways that share a Redis server but not a database (staging and production, a rebuilt
database) apart.
"""
import math
import threading
import time

from . import leases
from .admissions import Direct, PerLoopTurn, under_gevent
from .limiter import LEASE_SECONDS
from .lua import ACQUIRE, ADD_SPENT, LEASE_RETURN, REFRESH, RELEASE
from .redis_replies import DeferredReplies
from .tickets import Verdict, to_nano

NONE = -1  # "no limit" in the Lua scripts' arguments
FULL_SETTLE_WAIT = 1.0  # seconds a full scope's settle may hold its answer for Redis's reply
# A roomy request's settle (lua.py) waits at most this long for the worker's next admission, to
# leave for Redis in the same write; then it is sent alone.
RIDE_SECONDS = 0.02


def _opt(value):
    return NONE if value is None else value


class RedisStore:
    def __init__(self, client, prefix="gw:lim", breaker=None, lease_seconds=LEASE_SECONDS,
                 quota_lease_requests=leases.MAX_UNITS):
        self.client = client
        self._prefix = prefix
        self.lease_seconds = lease_seconds
        self.breaker = breaker
        self.acquire_script = client.register_script(ACQUIRE)
        self.release_script = client.register_script(RELEASE)
        self._refresh = client.register_script(REFRESH)
        self._add_spent = client.register_script(ADD_SPENT)
        self.lease_return_script = client.register_script(LEASE_RETURN)
        self.leases = leases.Leases(self, quota_lease_requests)
        self.settles = DeferredReplies(client, breaker)  # the answer never waits for a settle
        self.admissions = (PerLoopTurn if under_gevent() else Direct)(self)
        self._held = {}  # request or lease id -> [(sorted set, member)] leased by this worker
        self._riders = []  # settles of roomy requests, to go with the next admission
        self._riders_due = threading.Event()
        self._lock = threading.Lock()
        self._keeper = None
        self._rider_thread = None
        self.closed = threading.Event()

    @property
    def prefix(self):
        if callable(self._prefix):
            self._prefix = self._prefix()
        return self._prefix

    def key(self, ask):
        return f"{self.prefix}:{ask.scope.name}"

    def acquire(self, request_id, asks, now):
        units = 0
        if self.breaker is None or not self.breaker.down:
            verdict = self.leases.take(request_id, asks)
            if verdict is not None:
                return verdict
            units = self.leases.units_to_ask(asks)
        if self.settles.waiting:  # settles that waited for Redis go first
            self.settles.retry_waiting()
        args = [request_id, self.lease_seconds, units]
        for ask in asks:
            s = ask.scope
            budget = NONE if s.max_budget_usd is None else to_nano(s.max_budget_usd)
            args += [self.key(ask), _opt(s.rpm), _opt(s.tpm), ask.tokens, _opt(s.max_parallel),
                     budget, ask.reserve, ask.period_id]
        reply = self.admissions.acquire(args)  # the settles waiting to ride go first
        if units:
            self.leases.answered(asks)
        kind = reply[0].decode() if isinstance(reply[0], bytes) else reply[0]
        if kind == "ok":
            values = [int(v) for v in reply[3:]]
            count = 3 * len(asks)
            remaining = [tuple(values[i:i + 3]) for i in range(0, count, 3)]
            minute, reset_seconds = int(reply[1]), int(reply[2]) / 1000
            if values[count + 1]:  # a lease: this request is its first
                return self.leases.granted(request_id, asks, values[count + 1:], minute,
                                           remaining, reset_seconds)
            self._hold(request_id, asks)
            self.leases.admitted()
            return Verdict("ok", minute=minute, remaining=remaining, reset_seconds=reset_seconds,
                           store=self, roomy=values[count] == 1)
        return Verdict(kind, index=int(reply[1]) - 1, reset_seconds=int(reply[2]) / 1000,
                       budget_left=int(reply[3]) if len(reply) > 3 else 0, store=self)

    def seed(self, ask, spent_nano):
        key = f"{self.key(ask)}:b:{ask.period_id}"
        self.client.hsetnx(key, "spent", spent_nano)
        ttl = (math.ceil(ask.period_end - time.time()) + 86400) if ask.period_end else 30 * 86400
        self.client.expire(key, max(ttl, 60))

    def budget_state(self, ask):
        """(spent, reserved) nano-dollars of ask's budget window; None until it is seeded."""
        self.flush()  # what this worker settled is counted in what it reads
        self.settles.wait(timeout=FULL_SETTLE_WAIT)
        spent, reserved = self.client.hmget(f"{self.key(ask)}:b:{ask.period_id}",
                                            "spent", "reserved")
        if spent is None:
            return None
        return int(spent), max(int(reserved or 0), 0)

    def release(self, ticket, tokens_used, cost_nano):
        """Never raises. The call leaves now, or when Redis is back; only the settle of a request
        that left a scope full waits for its reply (at most FULL_SETTLE_WAIT s), so that its
        client's next request finds the slot free: Redis keeps the order of one connection's
        commands, not of two connections read in the same turn of its loop."""
        with self._lock:
            self._held.pop(ticket.request_id, None)
        self.leases.settled()
        args = [ticket.request_id, ticket.minute]
        for ask in ticket.asks:
            s = ask.scope
            args += [self.key(ask), "x" if s.tpm is None else tokens_used - ask.tokens,
                     0 if s.max_parallel is None else 1,
                     "" if s.max_budget_usd is None else ask.period_id, cost_nano]
        if ticket.roomy and RIDE_SECONDS and not self.closed.is_set():
            self._ride(args)
        else:  # a scope was full but for this request: its client's next one must find room
            self.settles.run(self.release_script, args)
            self.settles.wait(timeout=FULL_SETTLE_WAIT)

    def flush(self):
        """End this worker's leases; send the settles waiting for an admission to ride with
        (never raises)."""
        self.leases.end_all()
        self._send_riders_now()

    def _send_riders_now(self):
        self.settles.run_many(self.release_script, self.take_riders())

    # --- settles riding with the next admission ------------------------------------------------

    def _ride(self, args):
        with self._lock:
            self._riders.append(args)
            start = self._rider_thread is None
            if start:
                self._rider_thread = threading.Thread(target=self._send_riders, daemon=True,
                                                      name="limit-settles")
        if not self._riders_due.is_set():
            self._riders_due.set()
        if start:
            self._rider_thread.start()

    def take_riders(self):
        if not self._riders:
            return ()
        with self._lock:
            riders, self._riders = self._riders, []
        return riders

    def _send_riders(self):
        """Settles no admission took within RIDE_SECONDS leave by themselves."""
        while not self.closed.is_set():
            self._riders_due.wait()
            self._riders_due.clear()
            time.sleep(RIDE_SECONDS)
            self._send_riders_now()

    def add_spent(self, spent):
        """{(scope name, period id): nano-dollars} counted elsewhere while Redis was down."""
        args = []
        for (scope, period), nano in spent.items():
            args += [f"{self.prefix}:{scope}:b:{period}", nano]
        if args:
            self._add_spent(args=args)

    # --- leases ------------------------------------------------------------------------------

    def _hold(self, request_id, asks):
        leased = []
        for ask in asks:
            if ask.scope.max_parallel is not None:
                leased.append((f"{self.key(ask)}:p", request_id))
            if ask.scope.max_budget_usd is not None:
                leased.append((f"{self.key(ask)}:b:{ask.period_id}:open", request_id))
        self.hold(request_id, leased)

    def hold(self, holder, leased):
        """Renew `leased` [(sorted set, member)] for holder (a request or a lease) until it is
        held again with None."""
        if not leased:
            if holder in self._held:
                with self._lock:
                    self._held.pop(holder, None)
            return
        with self._lock:
            self._held[holder] = leased
        if self._keeper is None:
            self._start_keeper()

    def _start_keeper(self):
        with self._lock:
            if self._keeper is None:
                self._keeper = threading.Thread(target=self._keep, name="limit-leases",
                                                daemon=True)
                self._keeper.start()

    def _keep(self):
        while not self.closed.wait(self.lease_seconds / 3):
            self.renew()

    def close(self):
        """End the quota leases and send the settles waiting to ride; stop renewing slots and
        reservations (what this worker still holds expires with them)."""
        self.closed.set()
        self._riders_due.set()
        self.flush()

    def renew(self):
        """Renew the leases of every request this worker holds; send settles left waiting."""
        with self._lock:
            pairs = [pair for leased in self._held.values() for pair in leased]
        if pairs:
            args = [int(self.lease_seconds * 1000)]
            for key, member in pairs:
                args += [key, member]
            self._call(lambda: self._refresh(args=args))
        if self.settles.waiting:
            self._call(self.settles.retry_waiting)

    def _call(self, action):
        if self.breaker is None:
            return action()
        return self.breaker.call(action, lambda: None)
