"""Leases (app/gateway/limits/leases.py): a worker admits most requests of a roomy scope in its
own memory, from units Redis counted when it granted them. On a real Redis: whatever the workers
do, Redis's counters end equal to what the requests used, no scope passes its limits across
workers, small limits are never leased, and what a lease gives back survives a Redis outage."""
import os
import threading
import time
from decimal import Decimal
from urllib.parse import urlparse

import pytest
import redis
import requests

from app.errors import RateLimited
from app.gateway.breaker import Breaker
from app.gateway.limits import leases, redis_store
from app.gateway.limits.limiter import Limiter
from app.gateway.limits.memory_store import MemoryStore
from app.gateway.limits.tickets import Scope, to_nano
from tests.conftest import _clear_redis_limits, clear_of_a_minute_boundary, create_key, serving
from tests.tcp_proxy import TcpProxy

REDIS_URL = os.environ.get("REDIS_URL")
pytestmark = pytest.mark.skipif(not REDIS_URL, reason="needs REDIS_URL: the store is Redis")
HI = [{"role": "user", "content": "hi"}]
ROOMY = Scope("key:1", rpm=100_000, tpm=10_000_000, max_parallel=10_000,
              max_budget_usd=Decimal("1000"), budget_period="daily")


@pytest.fixture(autouse=True)
def _one_minute():
    """Every count here is of one minute's window."""
    clear_of_a_minute_boundary()


@pytest.fixture
def stores():
    """Two workers' stores on one Redis."""
    _clear_redis_limits()
    made = [redis_store.RedisStore(redis.Redis.from_url(REDIS_URL)) for _ in range(2)]
    for store in made:  # leases used whatever the load: their accounting under concurrency
        store.leases.busy_at = 1_000_000
    yield made
    for store in made:
        store.close()


def limiter_of(store):
    return Limiter(store, lambda scope, start: Decimal(0))


def counters(store, scope, ticket):
    """(requests, tokens, slots, spent, reserved) as Redis counts them now."""
    client, key = store.client, f"{store.prefix}:{scope.name}"
    budget = client.hmget(f"{key}:b:{ticket.asks[0].period_id}", "spent", "reserved")
    return (int(client.get(f"{key}:r:{ticket.minute}") or 0),
            int(client.get(f"{key}:t:{ticket.minute}") or 0),
            client.zcard(f"{key}:p"), int(budget[0] or 0), int(budget[1] or 0))


def settled(store):
    assert store.settles.wait()


def test_a_roomy_scope_is_leased_and_its_counters_end_exact(stores):
    store = stores[0]
    limiter = limiter_of(store)
    tickets = [limiter.admit(f"r{n}", [ROOMY], 100, Decimal("0.01")) for n in range(40)]
    # 32 from the first lease, 8 from the second
    assert [t.store for t in tickets] == [tickets[0].store] * 32 + [tickets[32].store] * 8
    assert all(isinstance(t.store, leases.Lease) for t in (tickets[0], tickets[32]))
    # Redis counts the whole lease, never less than the requests admitted from it
    requests, tokens, slots, _, reserved = counters(store, ROOMY, tickets[0])
    assert requests >= 40 and tokens >= 40 * 100 and slots >= 40
    assert reserved >= 40 * to_nano("0.01")
    for ticket in tickets:
        limiter.settle(ticket, 150, Decimal("0.002"))
    store.flush()
    settled(store)
    assert counters(store, ROOMY, tickets[0]) == (40, 40 * 150, 0, 40 * to_nano("0.002"), 0)


def test_headers_count_down_within_a_lease(stores):
    limiter = limiter_of(stores[0])
    first = limiter.admit("r1", [ROOMY], 100, Decimal("0.01"))
    second = limiter.admit("r2", [ROOMY], 100, Decimal("0.01"))
    assert first.store is second.store
    assert first.remaining[0][0] - second.remaining[0][0] == 1
    assert first.remaining[0][1] - second.remaining[0][1] == 100
    assert first.remaining[0][2] - second.remaining[0][2] == to_nano("0.01")
    assert second.headers()["x-ratelimit-remaining-requests"] == str(100_000 - 2)


@pytest.mark.parametrize("limit", [{"rpm": 60}, {"tpm": 600_000}, {"max_parallel": 63},
                                   {"max_budget_usd": Decimal("0.5"), "budget_period": "daily"}])
def test_a_scope_with_little_room_is_counted_request_by_request(stores, limit):
    """A 16th of its room is under four requests like this one: no lease."""
    scope = Scope("key:2", **limit)
    ticket = limiter_of(stores[0]).admit("r1", [scope], 10_000, Decimal("0.01"))
    assert ticket.store is stores[0]


def test_two_workers_together_never_pass_a_limit(stores):
    scope = Scope("key:3", rpm=1000, max_parallel=800)
    limiters = [limiter_of(store) for store in stores]
    admitted, refused = [], 0
    for n in range(1200):
        try:
            admitted.append(limiters[n % 2].admit(f"r{n}", [scope], 0, 0))
        except RateLimited:
            refused += 1
    assert len(admitted) <= 800  # the parallel limit, with nothing settled
    for store in stores:
        store.flush()
        settled(store)
    slots = stores[0].client.zcard(f"{stores[0].prefix}:{scope.name}:p")
    assert slots == len(admitted)  # what the leases held and no request took went back
    for n in range(800 - len(admitted)):  # once the leases are back, every slot can be had
        admitted.append(limiters[n % 2].admit(f"late{n}", [scope], 0, 0))
    with pytest.raises(RateLimited):
        limiters[0].admit("one-too-many", [scope], 0, 0)
    for ticket in admitted:
        limiters[0].settle(ticket, 0, 0)
    for store in stores:
        store.flush()
        settled(store)
    assert stores[0].client.zcard(f"{stores[0].prefix}:{scope.name}:p") == 0


def test_two_workers_at_once_admit_exactly_the_limit_once_their_leases_end(stores):
    """Near the limit a worker may be refused while the other holds units; once the leases
    are given back, every one of the limit's requests is admitted, and not one more."""
    scope = Scope("key:4", rpm=2000)
    limiters = [limiter_of(store) for store in stores]
    admitted = []

    def client(n):
        limiter = limiters[n % 2]
        for i in range(1500):
            try:
                admitted.append(limiter.admit(f"c{n}-{i}", [scope], 0, 0))
            except RateLimited:
                pass

    threads = [threading.Thread(target=client, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(admitted) <= 2000
    for store in stores:
        store.flush()
        settled(store)
    while True:
        try:
            admitted.append(limiters[0].admit(f"after{len(admitted)}", [scope], 0, 0))
        except RateLimited:  # the limit is reached
            break
    assert len(admitted) == 2000


def test_a_lease_goes_back_by_itself_after_its_time(stores):
    store = stores[0]
    limiter = limiter_of(store)
    ticket = limiter.admit("r1", [ROOMY], 100, Decimal("0.01"))
    assert isinstance(ticket.store, leases.Lease)
    limiter.settle(ticket, 120, Decimal("0.003"))
    deadline = time.monotonic() + leases.LIFE_SECONDS * 2 + 2
    expected = (1, 120, 0, to_nano("0.003"), 0)
    while counters(store, ROOMY, ticket) != expected and time.monotonic() < deadline:
        time.sleep(0.02)
    assert counters(store, ROOMY, ticket) == expected
    assert not store._held  # nothing left to renew


def test_a_lease_ends_with_its_minute(stores):
    store = stores[0]
    limiter = limiter_of(store)
    first = limiter.admit("r1", [ROOMY], 0, 0)
    lease = first.store
    lease.ends = time.monotonic()  # as when the reply said the minute ends now
    second = limiter.admit("r2", [ROOMY], 0, 0)
    assert second.store is not lease and not lease.open
    limiter.settle(first, 0, 0)
    limiter.settle(second, 0, 0)
    store.flush()
    settled(store)
    assert counters(store, ROOMY, first)[:3] == (2, 0, 0)


def test_a_lease_given_back_while_requests_run_keeps_their_slots_until_they_end(stores):
    store = stores[0]
    limiter = limiter_of(store)
    running = [limiter.admit(f"r{n}", [ROOMY], 100, Decimal("0.01")) for n in range(3)]
    store.flush()  # the lease ends with three requests running
    settled(store)
    assert counters(store, ROOMY, running[0]) == (3, 300, 3, 0, 3 * to_nano("0.01"))
    lease_id = running[0].store.id
    assert sorted(member for _, member in store._held[lease_id]) == sorted(
        [lease_id] + [f"{lease_id}:{n}" for n in (1, 2, 3)])
    for ticket in running:
        limiter.settle(ticket, 40, Decimal("0.001"))
    settled(store)
    assert counters(store, ROOMY, running[0]) == (3, 120, 0, 3 * to_nano("0.001"), 0)
    assert not store._held


@pytest.fixture
def cut_off():
    """A limiter whose Redis is reached through a TCP proxy the test can cut, and a client
    straight to Redis to read the counters."""
    _clear_redis_limits()
    target = urlparse(REDIS_URL)
    proxy = TcpProxy(target.hostname or "127.0.0.1", target.port or 6379).start()
    client = redis.Redis.from_url(f"redis://127.0.0.1:{proxy.port}{target.path or '/0'}",
                                  socket_timeout=0.5, socket_connect_timeout=0.5)
    breaker = Breaker(retry_seconds=0.05)
    store = redis_store.RedisStore(client, breaker=breaker)
    limiter = Limiter(store, lambda scope, start: Decimal(0), fallback=MemoryStore(),
                      breaker=breaker, down_rate_limits="local", down_budgets="local")
    yield proxy, limiter, redis_store.RedisStore(redis.Redis.from_url(REDIS_URL))
    store.close()
    proxy.stop()


def test_what_a_lease_gives_back_during_an_outage_reaches_redis_after_it(cut_off):
    proxy, limiter, direct = cut_off
    store = limiter.store
    ticket = limiter.admit("r1", [ROOMY], 100, Decimal("0.01"))
    assert isinstance(ticket.store, leases.Lease)
    proxy.refuse()  # Redis is cut
    limiter.settle(ticket, 70, Decimal("0.004"))
    store.flush()  # the lease ends: what it gives back cannot reach Redis and waits
    deadline = time.monotonic() + 5
    while not store.settles.waiting and time.monotonic() < deadline:
        time.sleep(0.02)
    assert store.settles.waiting == 1
    assert counters(direct, ROOMY, ticket)[2] == leases.MAX_UNITS  # nothing given back yet
    proxy.forward()  # Redis is back
    time.sleep(0.1)  # past the breaker's retry interval
    store.renew()  # what waited is sent
    assert store.settles.waiting == 0
    assert counters(direct, ROOMY, ticket) == (1, 70, 0, to_nano("0.004"), 0)


def test_a_lease_is_not_used_while_redis_is_down(cut_off):
    proxy, limiter, _ = cut_off
    first = limiter.admit("r1", [ROOMY], 0, 0)
    limiter.settle(first, 0, 0)  # the worker is idle: its lease would admit the next request
    proxy.refuse()
    limiter.breaker.failed(redis.ConnectionError("cut"))  # as the next call to Redis would
    second = limiter.admit("r2", [ROOMY], 0, 0)
    assert second.store is limiter.fallback  # counted in memory, as the mode says
    limiter.settle(second, 0, 0)


def test_while_a_request_asks_for_a_lease_the_others_of_its_key_are_admitted_one_by_one(stores):
    """Under gevent the requests of one loop turn find no lease together: one lease is asked
    for, not one each."""
    store = stores[0]
    limiter = limiter_of(store)
    asks = [Limiter._ask(ROOMY, 0, 0, time.time())]
    assert store.leases.units_to_ask(asks) == leases.MAX_UNITS  # a request asks Redis
    meanwhile = limiter.admit("r1", [ROOMY], 0, 0)
    assert meanwhile.store is store  # admitted on its own, no second lease
    store.leases.answered(asks)
    assert isinstance(limiter.admit("r2", [ROOMY], 0, 0).store, leases.Lease)
    limiter.settle(meanwhile, 0, 0)


def test_only_a_request_alone_in_its_worker_uses_a_lease():
    """Under load the admissions of a loop turn share a round trip, and waiting for it together
    keeps the worker fair: a lease is asked for and used only by a request that finds no other
    in flight."""
    _clear_redis_limits()
    store = redis_store.RedisStore(redis.Redis.from_url(REDIS_URL))
    limiter = limiter_of(store)
    try:
        alone = limiter.admit("r1", [ROOMY], 0, 0)
        assert isinstance(alone.store, leases.Lease)
        busy = [limiter.admit(f"b{n}", [ROOMY], 0, 0) for n in range(3)]
        assert [ticket.store for ticket in busy] == [store] * 3
        for ticket in [alone, *busy]:
            limiter.settle(ticket, 0, 0)
        assert store.leases.in_flight == 0
        again = limiter.admit("r2", [ROOMY], 0, 0)
        assert again.store is alone.store  # alone again: from the same lease
        limiter.settle(again, 0, 0)
        store.flush()
        settled(store)
        assert counters(store, ROOMY, again)[:3] == (5, 0, 0)
    finally:
        store.close()


# --- through the gateway ------------------------------------------------------------------------

def _requests_counted(app):
    """The requests Redis counts this minute, over every key of the app's limiter."""
    store = app.extensions["gateway"].limiter.store
    return sum(int(store.client.get(key)) for key in store.client.scan_iter(
        f"{store.prefix}:*:r:*"))


def _chat(url, key):
    return requests.post(f"{url}/v1/chat/completions",
                         headers={"Authorization": f"Bearer {key}"},
                         json={"model": "mock-echo", "messages": HI})


def test_a_sequential_client_is_admitted_from_leases_on_two_instances(app_factory):
    first, second = app_factory(), app_factory()
    key = create_key(first, rpm=1000)
    with serving(first) as url1, serving(second) as url2:
        answers = [_chat((url1, url2)[n % 2], key) for n in range(10)]
    assert [a.status_code for a in answers] == [200] * 10
    on_first = [int(a.headers["x-ratelimit-remaining-requests"]) for a in answers[::2]]
    assert on_first == sorted(on_first, reverse=True) and len(set(on_first)) == 5
    assert _requests_counted(first) > 10  # each instance holds a lease's unused requests
    for app in (first, second):
        app.extensions["gateway"].limiter.flush()
        app.extensions["gateway"].limiter.store.settles.wait()
    assert _requests_counted(first) == 10


def test_with_quota_leases_off_every_request_is_counted_as_it_comes(app_factory):
    app = app_factory(LIMIT_QUOTA_LEASE_REQUESTS=0)
    key = create_key(app, rpm=1000)
    with serving(app) as url:
        assert _chat(url, key).status_code == 200
    assert _requests_counted(app) == 1


def test_a_negative_quota_lease_size_is_refused_at_start(app_factory):
    with pytest.raises(ValueError, match="LIMIT_QUOTA_LEASE_REQUESTS"):
        app_factory(LIMIT_QUOTA_LEASE_REQUESTS=-1)
