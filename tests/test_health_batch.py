"""BatchedHealthStore (health_batch.py) over a real RedisHealthStore: all-clear checks remembered
for check_ttl, plain successes sent in batches through RECORD_SUCCESSES, and every other outcome
sending the batch first. Needs REDIS_URL (skipped without it), except plain_success()."""
import uuid

import pytest
import redis

from app.gateway.catalog.fields import CircuitSettings
from app.gateway.routing.health_batch import BatchedHealthStore, plain_success
from app.gateway.routing.health_stores import Outcome, RedisHealthStore

CIRCUIT = CircuitSettings(window_seconds=60, min_requests=2, failure_rate=0.5, cooldown_seconds=30)


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


class Recording:
    """The real Redis store, counting the calls that reach it; record_successes can fail once."""

    def __init__(self, store, fail_successes=0):
        self.store, self.fail_successes = store, fail_successes
        self.checks, self.batches = 0, []

    def check(self, *args):
        self.checks += 1
        return self.store.check(*args)

    def record(self, o):
        return self.store.record(o)

    def record_successes(self, outcomes):
        if self.fail_successes:
            self.fail_successes -= 1
            raise redis.ConnectionError("Redis went away")
        self.batches.append(len(outcomes))
        self.store.record_successes(outcomes)


@pytest.fixture
def client(redis_client):
    return redis_client


@pytest.fixture
def prefix(client):
    prefix = f"gw:health:test-{uuid.uuid4().hex}"
    yield prefix
    keys = list(client.scan_iter(f"{prefix}:*"))
    if keys:
        client.delete(*keys)


@pytest.fixture
def make(client, prefix):
    def build(check_ttl=1.0, flush_seconds=60.0, max_batch=500, fail_successes=0):
        inner = Recording(RedisHealthStore(client, prefix=prefix), fail_successes)
        clock = Clock()
        batched = BatchedHealthStore(inner, check_ttl=check_ttl, flush_seconds=flush_seconds,
                                     clock=clock, max_batch=max_batch)
        return batched, inner, clock
    return build


def outcome(ok=True, deployment="p/m", provider="p", key=None, key_event=None, probe=False,
            circuit=CIRCUIT):
    return Outcome(deployment=deployment, outcome=ok, circuit=circuit, probe=probe,
                   member=uuid.uuid4().hex, provider=provider, key=key, key_event=key_event,
                   key_wait=None, ladder=(10.0, 30.0), model="m")


def window(client, prefix, deployment="p/m", which="all"):
    return client.zcard(f"{prefix}:cb:{deployment}:{which}")


def strikes(client, prefix, provider="p", key=0, model="m"):
    """A 429's strikes count for (key, upstream model)."""
    return client.hget(f"{prefix}:key:{provider}:{key}:m:{model}", "strikes")


def test_plain_success_is_only_a_non_probe_success_with_an_ok_or_no_key_event():
    assert plain_success(outcome(True)) and plain_success(outcome(True, key=0, key_event="ok"))
    assert not plain_success(outcome(True, probe=True))
    assert not plain_success(outcome(False)) and not plain_success(outcome(None))
    assert not plain_success(outcome(True, key=0, key_event="rate"))
    assert not plain_success(outcome(None, key=0, key_event="auth"))


def test_all_clear_check_is_served_from_memory_until_check_ttl_passes(make):
    store, inner, clock = make(check_ttl=1.0)
    assert store.check("p/m", "p", 2, 5).kind == "closed"
    assert store.check("p/m", "p", 2, 5).key_waits == [0.0, 0.0]
    assert inner.checks == 1
    clock.now += 0.99
    store.check("p/m", "p", 2, 5)
    assert inner.checks == 1
    clock.now += 0.01
    store.check("p/m", "p", 2, 5)
    assert inner.checks == 2
    store.check("other/m", "p", 2, 5)  # remembered per deployment
    assert inner.checks == 3


def test_open_circuit_is_never_remembered(make, client, prefix):
    store, inner, _ = make()
    for _ in range(2):
        inner.store.record(outcome(False))
    for _ in range(3):
        assert store.check("p/m", "p", 0, 5).kind == "open"
    assert inner.checks == 3


def test_cooling_key_is_never_remembered(make):
    store, inner, _ = make()
    store.record(outcome(None, key=0, key_event="rate"))
    for _ in range(3):
        check = store.check("p/m", "p", 2, 5, "m")
        assert check.kind == "closed" and check.key_waits[0] > 0 and check.key_waits[1] == 0
    assert store.check("p/m", "p", 1, 5, "m").kind == "keys"
    assert inner.checks == 4


def test_plain_successes_wait_for_flush(make, client, prefix):
    store, inner, _ = make(flush_seconds=60)
    for _ in range(5):
        assert store.record(outcome(True, key=0, key_event="ok")) == (None, None)
    assert window(client, prefix) == 0 and inner.batches == []
    store.flush()
    assert window(client, prefix) == 5 and inner.batches == [5]
    store.flush()  # nothing pending: no call
    assert inner.batches == [5]


def test_successes_are_sent_once_flush_seconds_have_passed(make, client, prefix):
    store, inner, clock = make(flush_seconds=2)
    for _ in range(3):
        store.record(outcome(True))
    clock.now += 1.99
    store.record(outcome(True))
    assert window(client, prefix) == 0
    clock.now += 0.01
    store.record(outcome(True))  # due: the whole batch goes in one call
    assert window(client, prefix) == 5 and inner.batches == [5]


def test_reaching_max_batch_sends_the_batch(make, client, prefix):
    store, inner, _ = make(max_batch=3)
    store.record(outcome(True))
    store.record(outcome(True, deployment="q/m"))
    assert window(client, prefix) == 0
    store.record(outcome(True))
    assert inner.batches == [3]
    assert window(client, prefix) == 2 and window(client, prefix, "q/m") == 1


def test_failure_sends_pending_successes_before_it_is_judged(make, client, prefix):
    # min_requests 2, rate 0.5: two failures alone would open the circuit; with the three
    # pending successes counted first, 2 of 5 stays below the threshold.
    store, _, _ = make()
    for _ in range(3):
        store.record(outcome(True))
    assert store.record(outcome(False)) == (None, None)
    assert window(client, prefix) == 4
    assert store.record(outcome(False)) == (None, None)
    assert window(client, prefix) == 5 and window(client, prefix, which="bad") == 2
    assert store.check("p/m", "p", 0, 5).kind == "closed"


def test_failure_forgets_remembered_verdicts_of_its_deployment_and_provider(make):
    store, inner, _ = make()
    opening = CircuitSettings(window_seconds=60, min_requests=1, failure_rate=0.5)
    for where in [("p/m", "p"), ("p/other", "p"), ("q/m", "q")]:
        store.check(*where, 0, 5)
    assert inner.checks == 3
    assert store.record(outcome(False, circuit=opening))[0] == "opened"
    assert store.check("p/m", "p", 0, 5).kind == "open"  # seen at once, not after check_ttl
    store.check("p/other", "p", 0, 5)  # same provider: forgotten too
    assert inner.checks == 5
    store.check("q/m", "q", 0, 5)  # unrelated: still remembered
    assert inner.checks == 5


def test_batched_ok_success_resets_key_strikes(make, client, prefix):
    store, _, _ = make()
    store.record(outcome(None, key=0, key_event="rate"))
    store.record(outcome(None, key=1, key_event="rate"))
    assert strikes(client, prefix, key=0) == b"1" and strikes(client, prefix, key=1) == b"1"
    store.record(outcome(True, key=0, key_event="ok"))
    assert strikes(client, prefix, key=0) == b"1"  # still pending
    store.flush()
    assert strikes(client, prefix, key=0) is None
    assert strikes(client, prefix, key=1) == b"1"  # only the key that succeeded


def test_zero_ttl_and_zero_flush_behave_like_the_plain_store(make, client, prefix):
    store, inner, _ = make(check_ttl=0, flush_seconds=0)
    for _ in range(3):
        store.check("p/m", "p", 1, 5)
    assert inner.checks == 3
    for n in range(1, 4):
        store.record(outcome(True))
        assert window(client, prefix) == n
    assert inner.batches == [1, 1, 1]


def test_redis_failure_during_flush_keeps_the_batch_for_the_next_flush(make, client, prefix):
    store, inner, _ = make(fail_successes=1)
    for _ in range(3):
        store.record(outcome(True))
    with pytest.raises(redis.ConnectionError):
        store.flush()
    assert window(client, prefix) == 0
    store.record(outcome(True))
    store.flush()
    assert window(client, prefix) == 4 and inner.batches == [4]


def test_record_successes_skips_disabled_circuits_and_sets_the_window_expiry(client, prefix):
    store = RedisHealthStore(client, prefix=prefix)
    store.record(outcome(None, provider="x", key=2, key_event="rate"))
    off = CircuitSettings(enabled=False)
    store.record_successes([outcome(True, deployment="off/m", circuit=off, provider="x", key=2,
                                    key_event="ok")])  # no circuit at all: keys only
    assert window(client, prefix, "off/m") == 0 and strikes(client, prefix, "x", 2) is None
    short = CircuitSettings(window_seconds=5)
    store.record_successes([outcome(True, circuit=short), outcome(True, circuit=short),
                            outcome(True, deployment="q/m")])
    assert window(client, prefix) == 2 and window(client, prefix, "q/m") == 1
    assert 0 < client.pttl(f"{prefix}:cb:p/m:all") <= 5000
