"""Provider API keys: load spread over them, a 429 cools a key down (the upstream's retry-after,
else an escalating ladder), a 401/403 takes it out for long; when every key cools, 429 with the
shortest remaining cooldown. On both health stores (memory, and Redis when REDIS_URL is set)."""
import logging
import time

import pytest
import redis

from app.gateway.catalog.fields import CircuitSettings
from app.gateway.routing.health_stores import MemoryHealthStore, Outcome, RedisHealthStore
from tests.conftest import _clear_redis_limits, create_key
from tests.mock_upstream import Reply
from tests.resilience_helpers import REDIS_URL, chat, config, gateway, key_of, model, provider

STORES = ["memory"] + (["redis"] if REDIS_URL else [])
LADDER = (10.0, 30.0, 60.0, 300.0)


def solo(upstream, keys=("k1", "k2"), **resilience):
    providers = {"dep-a": provider(upstream, list(keys))}
    return config(upstream, [model("solo", ("a",))], providers=providers, resilience=resilience)


def test_keys_take_turns(app_factory, upstream):
    app, key = gateway(app_factory, solo(upstream, ("k1", "k2", "k3")))
    for _ in range(6):
        assert chat(app, key, "solo").status_code == 200
    assert [key_of(r) for r in upstream.requests] == ["k1", "k2", "k3"] * 2


def test_429_with_retry_after_cools_that_key_until_it_ends(app_factory, upstream):
    app, key = gateway(app_factory, solo(upstream))
    upstream.script(Reply(status=429, headers={"retry-after": "1"}))
    first = chat(app, key, "solo")
    assert first.status_code == 200
    assert [key_of(r) for r in upstream.requests] == ["k1", "k2"]  # same request, other key
    for _ in range(4):
        assert chat(app, key, "solo").status_code == 200
    assert {key_of(r) for r in upstream.requests[2:]} == {"k2"}  # k1 rests for its 1 s
    time.sleep(1.1)
    for _ in range(2):
        assert chat(app, key, "solo").status_code == 200
    assert "k1" in [key_of(r) for r in upstream.requests[6:]]


def test_every_key_cooling_is_429_with_the_shortest_cooldown(app_factory, upstream):
    app, key = gateway(app_factory, solo(upstream))
    upstream.script(Reply(status=429, headers={"retry-after": "30"},
                          json={"error": {"message": "k1 slow down"}}),
                    Reply(status=429, headers={"retry-after": "5"},
                          json={"error": {"message": "k2 slow down"}}))
    first = chat(app, key, "solo")
    assert first.status_code == 429  # both keys tried, the last upstream answer comes back
    assert first.headers["retry-after"] == "5"
    assert "k2 slow down" in first.get_json()["error"]["message"]
    assert len(upstream.requests) == 2
    second = chat(app, key, "solo")
    assert second.status_code == 429
    assert second.get_json()["error"]["code"] == "upstream_keys_cooling_down"
    assert second.get_json()["error"]["type"] == "rate_limit_error"
    assert int(second.headers["retry-after"]) in (4, 5)
    assert "x-gateway-deployment" not in second.headers
    assert len(upstream.requests) == 2  # nothing was sent upstream
    anthropic = app.test_client().post(
        "/v1/messages", json={"model": "solo", "max_tokens": 5,
                              "messages": [{"role": "user", "content": "hi"}]},
        headers={"x-api-key": key})
    assert anthropic.status_code == 429
    assert anthropic.get_json()["error"]["type"] == "rate_limit_error"


def test_other_deployments_serve_while_one_providers_keys_cool(app_factory, upstream):
    app, key = gateway(app_factory, config(upstream, [model()]))
    upstream.script(Reply(status=429, headers={"retry-after": "20"}))
    assert chat(app, key).headers["x-gateway-deployment"] == "dep-b/up-b"
    again = chat(app, key)
    assert again.status_code == 200 and again.headers["x-gateway-deployment"] == "dep-b/up-b"
    assert [key_of(r) for r in upstream.requests] == ["key-a", "key-b", "key-b"]


def test_401_takes_the_key_out_and_says_so_loudly(app_factory, upstream, caplog):
    app, key = gateway(app_factory, solo(upstream, ("secret-key-one", "secret-key-two")))
    upstream.script(Reply(status=401, json={"error": {"message": "invalid key"}}))
    with caplog.at_level(logging.ERROR, logger="app.gateway.routing.health"):
        failed = chat(app, key, "solo")
    assert failed.status_code == 502
    assert failed.get_json()["error"]["code"] == "upstream_auth_failed"
    assert len(upstream.requests) == 1  # not retried: the answer is given at once
    [record] = [r for r in caplog.records if r.name == "app.gateway.routing.health"]
    assert record.levelno == logging.ERROR
    message = record.getMessage()
    assert "dep-a" in message and "#0" in message and "secret" not in message
    for _ in range(3):
        assert chat(app, key, "solo").status_code == 200
    assert [key_of(r) for r in upstream.requests[1:]] == ["secret-key-two"] * 3


def test_403_takes_the_key_out_too(app_factory, upstream):
    app, key = gateway(app_factory, solo(upstream))
    upstream.script(Reply(status=403))
    assert chat(app, key, "solo").status_code == 502
    for _ in range(2):
        chat(app, key, "solo")
    assert [key_of(r) for r in upstream.requests] == ["k1", "k2", "k2"]


def test_429_ladder_without_retry_after(app_factory, upstream):
    app, key = gateway(app_factory, solo(upstream, ("k1",),
                                         rate_limit_cooldown_seconds=[0.3, 5]))
    upstream.script(Reply(status=429))
    assert chat(app, key, "solo").status_code == 429
    assert chat(app, key, "solo").get_json()["error"]["code"] == "upstream_keys_cooling_down"
    time.sleep(0.35)
    upstream.script(Reply(status=429))  # the second 429 in a row: the next step, 5 s
    assert chat(app, key, "solo").status_code == 429
    time.sleep(0.35)
    cooling = chat(app, key, "solo")
    assert cooling.status_code == 429 and int(cooling.headers["retry-after"]) in (4, 5)
    assert len(upstream.requests) == 2


@pytest.mark.skipif(not REDIS_URL, reason="REDIS_URL not set")
def test_key_cooldowns_are_shared_by_instances_through_redis(app_factory, upstream):
    cfg = solo(upstream)
    first, key = gateway(app_factory, cfg)
    second = app_factory(GATEWAY_CONFIG=cfg)
    second_key = create_key(second, email="other@example.com")
    upstream.script(Reply(status=429, headers={"retry-after": "20"}))
    assert chat(first, key, "solo").status_code == 200  # k1 429, then k2
    for _ in range(4):  # the other instance never saw k1's 429, and still leaves it alone
        assert chat(second, second_key, "solo").status_code == 200
    assert [key_of(r) for r in upstream.requests] == ["k1"] + ["k2"] * 5


# --- the stores themselves -------------------------------------------------------------------


class FakeClock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


def make_store(kind):
    if kind == "memory":
        clock = FakeClock()
        return MemoryHealthStore(clock), clock
    _clear_redis_limits()
    return RedisHealthStore(redis.Redis.from_url(REDIS_URL)), None


def wait(store, clock, seconds):
    if clock is not None:
        clock.now += seconds
    else:
        time.sleep(seconds)


def key_outcome(event, key=0, key_wait=None, ladder=LADDER, auth=3600.0):
    return Outcome(deployment="p/m", outcome=None, circuit=CircuitSettings(), probe=False,
                   member=str(time.monotonic_ns()), provider="p", key=key, key_event=event,
                   key_wait=key_wait, ladder=ladder, auth_seconds=auth)


@pytest.mark.parametrize("kind", STORES)
def test_store_ladder_escalates_and_resets_on_success(kind):
    store, _ = make_store(kind)
    waits = [store.record(key_outcome("rate"))[1] for _ in range(5)]
    assert waits == [10.0, 30.0, 60.0, 300.0, 300.0]
    store.record(key_outcome("ok"))
    assert store.record(key_outcome("rate"))[1] == 10.0
    assert store.record(key_outcome("rate", key_wait=2.5))[1] == 2.5  # the upstream's word wins


@pytest.mark.parametrize("kind", STORES)
def test_store_reports_key_waits_and_refuses_when_all_cool(kind):
    store, clock = make_store(kind)
    ladder = (0.4,)
    store.record(key_outcome("rate", key=0, ladder=ladder))
    check = store.check("p/m", "p", 2, 10)
    assert check.kind == "closed" and check.key_waits[0] > 0 and check.key_waits[1] == 0
    store.record(key_outcome("auth", key=1, auth=0.8))
    check = store.check("p/m", "p", 2, 10)
    assert check.kind == "keys" and 0 < check.wait <= 0.4
    wait(store, clock, 0.45)
    check = store.check("p/m", "p", 2, 10)
    assert check.kind == "closed" and check.key_waits[0] == 0 and check.key_waits[1] > 0
