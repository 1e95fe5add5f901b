"""The deployment circuit breaker: opens when retryable failures reach the threshold over the
window, skips the deployment for its cooldown, then lets one probe through (success closes,
failure re-opens). Shared by app instances through Redis when REDIS_URL is set."""
import time

import pytest

from app.gateway.catalog.fields import CircuitSettings
from app.gateway.routing.health_stores import Outcome
from tests.conftest import create_key
from tests.mock_upstream import Reply
from tests.resilience_helpers import REDIS_URL, chat, config, gateway, model, served_by
from tests.test_resilience_keys import STORES, make_store, wait

BREAKER = {"window_seconds": 60, "min_requests": 4, "failure_rate": 0.5, "cooldown_seconds": 0.5}


def breaker_config(upstream, **circuit):
    return config(upstream, [model(circuit_breaker={**BREAKER, **circuit})])


def trip(app, key, upstream, failures=4):
    """`failures` requests whose first attempt (dep-a) fails and second (dep-b) succeeds."""
    for _ in range(failures):
        upstream.script(Reply(status=500), Reply())
        response = chat(app, key)
        assert response.headers["x-gateway-deployment"] == "dep-b/up-b"


def test_circuit_opens_skips_then_closes_after_a_successful_probe(app_factory, upstream):
    app, key = gateway(app_factory, breaker_config(upstream))
    trip(app, key, upstream, failures=3)  # 3 outcomes: fewer than min_requests
    assert chat(app, key).headers["x-gateway-deployment"] == "dep-a/up-a"  # still closed
    trip(app, key, upstream, failures=1)  # 4 failures of 5 outcomes: opens
    assert [served_by(r) for r in upstream.requests][-2:] == ["a", "b"]
    upstream.reset()
    for _ in range(3):  # open: dep-a is skipped without being tried
        response = chat(app, key)
        assert response.headers["x-gateway-deployment"] == "dep-b/up-b"
    assert {served_by(r) for r in upstream.requests} == {"b"}
    time.sleep(0.55)
    probe = chat(app, key)  # half-open: one probe goes to dep-a, and succeeds
    assert probe.headers["x-gateway-deployment"] == "dep-a/up-a"
    for _ in range(3):
        assert chat(app, key).headers["x-gateway-deployment"] == "dep-a/up-a"


def test_a_failed_probe_opens_the_circuit_again(app_factory, upstream):
    app, key = gateway(app_factory, breaker_config(upstream))
    trip(app, key, upstream)
    time.sleep(0.55)
    upstream.reset()
    upstream.script(Reply(status=503), Reply())
    assert chat(app, key).headers["x-gateway-deployment"] == "dep-b/up-b"
    assert [served_by(r) for r in upstream.requests] == ["a", "b"]  # the probe, then dep-b
    upstream.reset()
    assert chat(app, key).headers["x-gateway-deployment"] == "dep-b/up-b"
    assert [served_by(r) for r in upstream.requests] == ["b"]  # open again


def test_client_errors_do_not_open_the_circuit(app_factory, upstream):
    app, key = gateway(app_factory, breaker_config(upstream))
    for _ in range(6):
        upstream.script(Reply(status=400))
        assert chat(app, key).status_code == 400
    assert chat(app, key).headers["x-gateway-deployment"] == "dep-a/up-a"


def test_every_circuit_open_is_503_with_retry_after(app_factory, upstream):
    cfg = config(upstream, [model("solo", ("a",), num_retries=0,
                                  circuit_breaker={**BREAKER, "min_requests": 2,
                                                   "cooldown_seconds": 20})])
    app, key = gateway(app_factory, cfg)
    for _ in range(2):
        upstream.script(Reply(status=502))
        assert chat(app, key, "solo").status_code == 502
    response = chat(app, key, "solo")
    assert response.status_code == 503
    assert response.get_json()["error"]["code"] == "deployments_unavailable"
    assert int(response.headers["retry-after"]) in (19, 20)
    assert len(upstream.requests) == 2


def test_circuit_settings_are_global_or_per_model(app_factory, upstream):
    cfg = config(upstream, [model(), model("other", ("c",), circuit_breaker={"min_requests": 9})],
                 resilience={"circuit_breaker": {"min_requests": 3, "cooldown_seconds": 7}})
    catalog = app_factory(GATEWAY_CONFIG=cfg).extensions["gateway"].router.catalog
    assert catalog.models["multi"].circuit == CircuitSettings(min_requests=3, cooldown_seconds=7)
    assert catalog.models["other"].circuit == CircuitSettings(min_requests=9, cooldown_seconds=7)


@pytest.mark.skipif(not REDIS_URL, reason="REDIS_URL not set")
def test_an_open_circuit_is_shared_by_instances_through_redis(app_factory, upstream):
    cfg = breaker_config(upstream, cooldown_seconds=30)
    first, key = gateway(app_factory, cfg)
    second = app_factory(GATEWAY_CONFIG=cfg)
    second_key = create_key(second, email="other@example.com")
    trip(first, key, upstream)
    upstream.reset()
    response = chat(second, second_key)  # the other instance never saw dep-a fail
    assert response.headers["x-gateway-deployment"] == "dep-b/up-b"
    assert [served_by(r) for r in upstream.requests] == ["b"]


# --- the stores themselves -------------------------------------------------------------------

SETTINGS = CircuitSettings(window_seconds=60, min_requests=4, failure_rate=0.5,
                           cooldown_seconds=0.3)


def outcome(ok, probe=False, settings=SETTINGS):
    return Outcome(deployment="p/m", outcome=ok, circuit=settings, probe=probe,
                   member=str(time.monotonic_ns()), provider="p", key=None, key_event=None,
                   key_wait=None)


@pytest.mark.parametrize("kind", STORES)
def test_store_opens_at_the_threshold_with_enough_requests(kind):
    store, _ = make_store(kind)
    assert [store.record(outcome(False))[0] for _ in range(3)] == [None] * 3  # < min_requests
    assert store.record(outcome(True))[0] is None  # 3 of 4 failed, but this one succeeded
    assert store.record(outcome(False))[0] == "opened"  # 4 of 5 ≥ 50 %
    check = store.check("p/m", "p", 0, 5)
    assert check.kind == "open" and 0 < check.wait <= 0.3


@pytest.mark.parametrize("kind", STORES)
def test_store_half_open_allows_one_probe_at_a_time(kind):
    store, clock = make_store(kind)
    for _ in range(4):
        store.record(outcome(False))
    wait(store, clock, 0.35)
    assert store.check("p/m", "p", 0, 5).kind == "probe"
    second = store.check("p/m", "p", 0, 5)
    assert second.kind == "open" and second.wait > 0  # the probe is out
    assert store.record(outcome(False, probe=True))[0] == "reopened"
    assert store.check("p/m", "p", 0, 5).kind == "open"
    wait(store, clock, 0.35)
    assert store.check("p/m", "p", 0, 5).kind == "probe"
    assert store.record(outcome(True, probe=True))[0] == "closed"
    assert store.check("p/m", "p", 0, 5).kind == "closed"


@pytest.mark.parametrize("kind", STORES)
def test_store_forgets_a_dead_probe_after_its_ttl(kind):
    store, clock = make_store(kind)
    for _ in range(4):
        store.record(outcome(False))
    wait(store, clock, 0.35)
    assert store.check("p/m", "p", 0, 0.2).kind == "probe"
    wait(store, clock, 0.25)
    assert store.check("p/m", "p", 0, 0.2).kind == "probe"


@pytest.mark.parametrize("kind", STORES)
def test_store_window_forgets_old_failures(kind):
    store, clock = make_store(kind)
    settings = CircuitSettings(window_seconds=0.3, min_requests=4, failure_rate=0.5,
                               cooldown_seconds=5)
    for _ in range(3):
        store.record(outcome(False, settings=settings))
    wait(store, clock, 0.35)
    assert store.record(outcome(False, settings=settings))[0] is None  # 1 in the window
    assert store.check("p/m", "p", 0, 5).kind == "closed"


@pytest.mark.parametrize("kind", STORES)
def test_store_disabled_breaker_never_opens(kind):
    store, _ = make_store(kind)
    off = CircuitSettings(min_requests=1, enabled=False)
    for _ in range(5):
        assert store.record(outcome(False, settings=off))[0] is None
    assert store.check("p/m", "p", 0, 5).kind == "closed"
