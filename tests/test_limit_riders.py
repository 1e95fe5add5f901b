"""A roomy request's settle rides with the worker's next admission (app/gateway/limits/
redis_store.py): one write for both, or alone RIDE_SECONDS later; a request that left a scope full
settles at once; nothing is lost when Redis fails on the way. On a real Redis."""
import os
import time
from decimal import Decimal

import pytest
import redis

from app.gateway.limits import redis_store
from app.gateway.limits.limiter import Limiter
from app.gateway.limits.tickets import Scope
from tests.conftest import _clear_redis_limits

REDIS_URL = os.environ.get("REDIS_URL")
pytestmark = pytest.mark.skipif(not REDIS_URL, reason="needs REDIS_URL: the store is Redis")


@pytest.fixture
def store():
    _clear_redis_limits()
    made = redis_store.RedisStore(redis.Redis.from_url(REDIS_URL))
    yield made
    made.close()


def slots(store, scope):
    return store.client.zcard(f"{store.prefix}:{scope.name}:p")


def reserved(store, scope, ticket):
    return int(store.client.hget(f"{store.prefix}:{scope.name}:b:{ticket.asks[0].period_id}",
                                 "reserved") or 0)


def test_a_roomy_settle_leaves_with_the_next_admission_in_one_write(store, monkeypatch):
    limiter = Limiter(store, lambda scope, start: Decimal(0))
    scope = Scope("key:1", max_parallel=5, max_budget_usd=Decimal("10"), budget_period="daily")
    monkeypatch.setattr(redis_store, "RIDE_SECONDS", 5)  # no timer: only an admission sends it
    first = limiter.admit("r1", [scope], 10, Decimal("0.5"))
    assert first.roomy
    limiter.settle(first, 10, Decimal("0.1"))
    assert slots(store, scope) == 1 and reserved(store, scope, first) == 500_000_000  # waiting
    writes = []
    run_before = store.settles.run_before
    monkeypatch.setattr(store.settles, "run_before",
                        lambda *args: writes.append(len(args[1])) or run_before(*args))
    second = limiter.admit("r2", [scope], 10, Decimal("0.5"))
    assert writes == [1]  # r1's settle went in the same write as r2's admission
    assert slots(store, scope) == 1  # r1's slot is free, r2 holds one
    assert reserved(store, scope, second) == 500_000_000  # r1's reservation is gone
    assert limiter.budget(scope) == (100_000_000, 500_000_000)  # r1 cost 0.1


def test_without_an_admission_a_roomy_settle_leaves_by_itself(store):
    limiter = Limiter(store, lambda scope, start: Decimal(0))
    scope = Scope("key:1", max_parallel=5)
    ticket = limiter.admit("r1", [scope], 0, 0)
    limiter.settle(ticket, 0, 0)
    deadline = time.monotonic() + redis_store.RIDE_SECONDS + 2
    while slots(store, scope) and time.monotonic() < deadline:
        time.sleep(0.005)
    assert slots(store, scope) == 0


@pytest.mark.parametrize("scope, ask", [
    (Scope("key:1", max_parallel=1), (0, 0)),  # its slot was the last one
    (Scope("key:1", max_budget_usd=Decimal("1"), budget_period="daily"), (0, Decimal("0.6"))),
    (Scope("key:1", tpm=100), (60, 0)),  # another of its size would not fit
])
def test_a_request_that_left_a_scope_full_settles_at_once(store, monkeypatch, scope, ask):
    """Its client's next request, on any worker, must find the room it freed."""
    monkeypatch.setattr(redis_store, "RIDE_SECONDS", 5)
    limiter = Limiter(store, lambda scope, start: Decimal(0))
    ticket = limiter.admit("r1", [scope], *ask)
    assert not ticket.roomy
    limiter.settle(ticket, 0, 0)
    assert store.settles.wait()
    other = redis_store.RedisStore(redis.Redis.from_url(REDIS_URL))  # another worker
    Limiter(other, lambda scope, start: Decimal(0)).admit("r2", [scope], *ask)


def test_riders_of_a_failed_admission_wait_and_are_sent_when_redis_answers(store, monkeypatch):
    monkeypatch.setattr(redis_store, "RIDE_SECONDS", 5)
    limiter = Limiter(store, lambda scope, start: Decimal(0))
    scope = Scope("key:1", max_parallel=5)
    ticket = limiter.admit("r1", [scope], 0, 0)
    limiter.settle(ticket, 0, 0)
    pool = store.client.connection_pool
    get_connection = pool.get_connection
    monkeypatch.setattr(pool, "get_connection",
                        lambda *a, **k: (_ for _ in ()).throw(redis.ConnectionError("refused")))
    with pytest.raises(redis.ConnectionError):
        store.acquire("r2", [limiter._ask(scope, 0, 0, time.time())], time.time())
    monkeypatch.setattr(pool, "get_connection", get_connection)
    assert store.settles.waiting == 1 and slots(store, scope) == 1
    limiter.admit("r3", [scope], 0, 0)  # the waiting settle goes first
    assert store.settles.waiting == 0
    assert store.client.zrange(f"{store.prefix}:{scope.name}:p", 0, -1) == [b"r3"]


def test_a_stopping_worker_sends_its_riders(store, monkeypatch):
    monkeypatch.setattr(redis_store, "RIDE_SECONDS", 5)
    limiter = Limiter(store, lambda scope, start: Decimal(0))
    scope = Scope("key:1", max_parallel=5)
    limiter.settle(limiter.admit("r1", [scope], 0, 0), 0, 0)
    assert slots(store, scope) == 1
    limiter.flush()  # gunicorn.conf.py's worker_exit
    assert store.settles.wait() and slots(store, scope) == 0
