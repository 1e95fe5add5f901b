"""Leases: a worker admits most requests of a roomy scope in its own memory.

When every scope of a request has room for LEASE_SHARE times what a lease takes, Redis's ACQUIRE
(lua.py) grants the asking worker a lease instead of the request's own units: n requests (at most
MAX_UNITS) and n parallel slots, a 16th of the room's tokens and a budget reservation of a 16th
of what is left. The first request is admitted from it; the worker's next requests with the same
scopes are admitted and settled here, with no Redis round trip, while the lease lasts: at most
LIFE_SECONDS, never past the minute it was granted in, and until its units run out.

Then it ends: what no request took goes back to Redis at once (LEASE_RETURN), and what is still
held by running requests (their slots, their reservations) goes back when the last of them
settles. Each scope's counters in Redis always count every unit leased, so a lease never lets a
scope pass its limits; near a limit another worker may be refused up to LIFE_SECONDS early,
while a lease holds units it will not use (at most a 16th of the room each), and a limit an admin
lowers applies to leases granted after the change. Small limits (fewer than LEASE_MIN units in a
16th) are never leased: each request is counted in Redis as it comes.

Only a request that finds its worker idle — no other request admitted by it and not yet settled
(`busy_at`) — asks for a lease or takes from one. Alone, a request's round trip to Redis is all
latency. Under load, the admissions of one loop turn share one write and one round trip anyway
(admissions.py), and waiting for it together keeps a busy worker serving its requests in a fair
order: with leases used under load, p99 at 16 clients rose from 52–122 ms to 127–276 ms, with no
gain in CPU per request (measured on 2 cores).

A lease lives in one worker's memory only. While Redis is down no lease is used, and what a lease
gives back waits in memory for Redis (redis_replies.py). A worker that dies holding a lease
leaves its units counted: its slots and reservation expire with their renewal
(LIMIT_LEASE_SECONDS), its requests and tokens with the minute.
"""
import threading
import time

from .tickets import Verdict

MAX_UNITS = 32
LIFE_SECONDS = 0.5
ASKING_SECONDS = 1.0  # how long a lease asked for (and not granted) keeps others from asking


class Lease:
    """Units granted to this worker for one set of asks; the store of the tickets it admits."""

    def __init__(self, leases, lease_id, asks, units, grants, minute, remaining, reset_seconds):
        self.leases = leases
        self.id = lease_id
        self.asks = asks
        self.minute = minute
        self.units = units
        self.taken = 1  # the request that asked for it
        self.tokens = [tokens - ask.tokens for ask, (tokens, _) in zip(asks, grants, strict=True)]
        self.budget = [nano - ask.reserve for ask, (_, nano) in zip(asks, grants, strict=True)]
        self.base = list(remaining)  # Redis's figures after the grant
        now = time.monotonic()
        self.minute_ends = time.time() + reset_seconds
        self.ends = now + min(LIFE_SECONDS, reset_seconds)
        self.running = {}  # request id -> (slot number, asks)
        self.freed = []  # slots of finished requests, not yet given back
        self.spent = 0  # nano-dollars of finished requests, not yet given back
        self.returns = 0
        self.open = True

    def slot(self, number):
        return f"{self.id}:{number}"

    def verdict(self):
        """The admission of the request just taken, as the store's verdict."""
        remaining = [(r + self.units - self.taken, t + tokens, b + budget)
                     for (r, t, b), tokens, budget in zip(self.base, self.tokens, self.budget,
                                                          strict=True)]
        return Verdict("ok", minute=self.minute, remaining=remaining,
                       reset_seconds=max(self.minute_ends - time.time(), 0), store=self)

    def take(self, request_id, asks, now):
        """Admit a request from the lease, or None (it is over, or too small for this one)."""
        if not self.open or now >= self.ends or self.taken >= self.units:
            return None
        if any(ask.tokens > left for ask, left in zip(asks, self.tokens, strict=True)) or any(
                ask.reserve > left for ask, left in zip(asks, self.budget, strict=True)):
            return None
        self.taken += 1
        self.running[request_id] = (self.taken, asks)
        self._count(asks, 1)
        return self.verdict()

    def _count(self, asks, sign):
        for i, ask in enumerate(asks):
            self.tokens[i] -= sign * ask.tokens
            self.budget[i] -= sign * ask.reserve

    def release(self, ticket, tokens_used, cost_nano):
        """Settle a ticket this lease admitted (Limiter.settle)."""
        with self.leases.lock:
            self.leases.in_flight -= 1
            slot, asks = self.running.pop(ticket.request_id)
            self._count(asks, -1)
            for i, ask in enumerate(asks):
                if ask.scope.tpm is not None:
                    self.tokens[i] -= tokens_used
                if ask.scope.max_budget_usd is not None:
                    self.budget[i] -= cost_nano
            self.spent += cost_nano
            self.freed.append(self.slot(slot))
            if self.open or self.running:
                return
            args = self._return_args()
        self.leases.give_back(args)

    def end(self):
        """No more requests from it: the arguments of LEASE_RETURN for what goes back now."""
        self.open = False
        unused = [self.slot(n) for n in range(self.taken + 1, self.units + 1)]
        self.freed.extend(unused)
        return self._return_args(requests=self.units - self.taken)

    def _return_args(self, requests=0):
        """LEASE_RETURN's arguments; the lease holds only what running requests hold after it
        (called under the leases' lock, which also orders what the store renews)."""
        self.returns += 1
        store = self.leases.store
        args = [self.id, self.returns, self.minute, len(self.asks)]
        for i, ask in enumerate(self.asks):
            s = ask.scope
            keep = sum(asks[i].reserve for _, asks in self.running.values())
            args += [store.key(ask), requests, "x" if s.tpm is None else self.tokens[i],
                     0 if s.max_parallel is None else 1,
                     "" if s.max_budget_usd is None else ask.period_id, keep, self.spent]
            self.tokens[i] = 0
            self.budget[i] = 0
        self.spent = 0
        freed, self.freed = self.freed, []
        store.hold(self.id, self.held() if self.running else None)
        return args + freed

    def held(self):
        """The leases RedisStore's keeper renews: (sorted set, member) of what it still holds."""
        store = self.leases.store
        pairs = []
        for ask in self.asks:
            if ask.scope.max_parallel is not None:
                slots = ([self.slot(n) for n in range(1, self.units + 1)] if self.open
                         else [self.slot(slot) for slot, _ in self.running.values()])
                pairs += [(f"{store.key(ask)}:p", slot) for slot in slots]
            if ask.scope.max_budget_usd is not None:
                pairs.append((f"{store.key(ask)}:b:{ask.period_id}:open", self.id))
        return pairs


class Leases:
    """The leases of one RedisStore (one worker), by the scopes and budget windows they cover."""

    def __init__(self, store, units=MAX_UNITS, busy_at=1):
        self.store = store
        self.units = units  # most requests per lease (LIMIT_QUOTA_LEASE_REQUESTS); 0: no leases
        self.busy_at = busy_at  # leases are used while fewer requests than this are in flight
        self.in_flight = 0  # requests this store admitted (from a lease or not), not yet settled
        self.lock = threading.Lock()
        self._open = {}  # (scope, period id) per ask -> Lease
        self._asking = {}  # the same keys -> monotonic time a request asked Redis for a lease
        self._sweeper = None

    @staticmethod
    def _key(asks):
        return tuple((ask.scope, ask.period_id) for ask in asks)

    def take(self, request_id, asks):
        """Admit from an open lease of these scopes, or None (then ask Redis)."""
        if not self._open or self.in_flight >= self.busy_at:
            return None
        key = self._key(asks)
        ended = None
        with self.lock:
            lease = self._open.get(key)
            if lease is None:
                return None
            verdict = lease.take(request_id, asks, time.monotonic())
            if verdict is None:
                del self._open[key]
                ended = lease.end()
            else:
                self.in_flight += 1
        if ended:
            self.give_back(ended)
        return verdict

    def units_to_ask(self, asks):
        """How many units the admission of a request no lease admitted asks Redis for: 0 while
        another request of this worker asks for a lease of the same scopes (under gevent, the
        requests of one loop turn), so that one lease is granted, not one each."""
        if not self.units or self.in_flight >= self.busy_at:
            return 0
        key, now = self._key(asks), time.monotonic()
        with self.lock:
            if now - self._asking.get(key, -ASKING_SECONDS) < ASKING_SECONDS:
                return 0
            self._asking[key] = now
        return self.units

    def answered(self, asks):
        """Redis answered the request that asked for a lease (granted or not)."""
        with self.lock:
            self._asking.pop(self._key(asks), None)

    def granted(self, request_id, asks, reply_tail, minute, remaining, reset_seconds):
        """A lease ACQUIRE granted with this request's admission: the verdict of the request."""
        units, *grants = reply_tail
        lease = Lease(self, f"L{request_id}", asks, units,
                      [tuple(grants[i:i + 2]) for i in range(0, len(grants), 2)],
                      minute, remaining, reset_seconds)
        lease.running[request_id] = (1, asks)
        with self.lock:
            self.in_flight += 1
            old = self._open.get(self._key(asks))
            self._open[self._key(asks)] = lease
            ended = old and old.end()
            self.store.hold(lease.id, lease.held())
        if ended:
            self.give_back(ended)
        if self._sweeper is None:
            self._start_sweeper()
        return lease.verdict()

    def admitted(self):
        """A request was admitted without a lease."""
        with self.lock:
            self.in_flight += 1

    def settled(self):
        """A request this store admitted without a lease was settled."""
        with self.lock:
            self.in_flight -= 1

    def give_back(self, args):
        """Send LEASE_RETURN's arguments (from Lease.end or a last release) to Redis."""
        self.store.settles.run(self.store.lease_return_script, args)

    def end_all(self, before=None):
        """End the open leases (those ending before `before`, a monotonic time, if given)."""
        with self.lock:
            over = [key for key, lease in self._open.items()
                    if before is None or lease.ends <= before]
            ended = [lease.end() for lease in map(self._open.pop, over)]
        for args in ended:
            self.give_back(args)

    def _start_sweeper(self):
        with self.lock:
            if self._sweeper is None:
                self._sweeper = threading.Thread(target=self._sweep, name="limit-leases-end",
                                                 daemon=True)
                self._sweeper.start()

    def _sweep(self):
        """Leases no request ended go back soon after their time (LIFE_SECONDS / 4 at most)."""
        while not self.store.closed.wait(LIFE_SECONDS / 4):
            if self._open:
                self.end_all(before=time.monotonic())
