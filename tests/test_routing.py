"""Load balancing (weighted, least-busy, latency; priorities) and the catalog's validation of
the routing fields."""
import random
from collections import Counter

import pytest

from app.gateway.catalog.loader import ConfigError, load_catalog
from app.gateway.routing.router import Router
from app.vendors.manager import VendorManager
from tests.conftest import logged, serving
from tests.mock_upstream import Reply, Stream, openai_chunks
from tests.resilience_helpers import chat, config, gateway, model, served_by, stream_chat

VENDORS = VendorManager.vendors()


class Anyone:
    @staticmethod
    def may_use(model):
        return True


def router(models, seed=7, **resilience):
    raw = {"providers": {f"dep-{n}": {"vendor": "mock"} for n in "abcd"}, "models": models}
    if resilience:
        raw["resilience"] = resilience
    return Router(load_catalog(raw, VENDORS, env={}), rng=random.Random(seed))


def deps(*specs):
    return [{"provider": f"dep-{name}", "model": f"up-{name}", **extra} for name, extra in specs]


def firsts(r, name, n):
    return Counter(r.pick(name, Anyone).deployment.provider for _ in range(n))


def test_weighted_spreads_by_weight():
    r = router([{"name": "m", "deployments": deps(("a", {"weight": 1}), ("b", {"weight": 3}))}])
    counts = firsts(r, "m", 4000)
    assert 0.72 <= counts["dep-b"] / 4000 <= 0.78, counts


def test_weighted_default_is_even():
    r = router([{"name": "m", "deployments": deps(("a", {}), ("b", {}), ("c", {}))}])
    counts = firsts(r, "m", 3000)
    assert all(900 <= counts[f"dep-{n}"] <= 1100 for n in "abc"), counts


def test_a_round_tries_every_deployment_once_best_priority_first():
    r = router([{"name": "m", "deployments": deps(("a", {"priority": 1}), ("b", {}),
                                                 ("c", {"priority": 1}), ("d", {}))}])
    plan = r.plan("m", Anyone)
    for _ in range(50):
        order = [route.deployment.provider for route in r.round(plan)]
        assert sorted(order[:2]) == ["dep-b", "dep-d"] and sorted(order[2:]) == ["dep-a", "dep-c"]


def test_least_busy_picks_the_idle_deployment():
    r = router([{"name": "m", "strategy": "least-busy", "deployments": deps(("a", {}), ("b", {}))}])
    lease = r.stats.begin("dep-a/up-a")
    assert set(firsts(r, "m", 50)) == {"dep-b"}
    r.stats.begin("dep-b/up-b")
    r.stats.begin("dep-b/up-b")
    assert set(firsts(r, "m", 50)) == {"dep-a"}
    lease.end()
    lease.end()  # ending twice counts once
    assert r.stats.inflight("dep-a/up-a") == 0


def test_latency_tries_unmeasured_first_then_the_fastest():
    r = router([{"name": "m", "strategy": "latency", "deployments": deps(("a", {}), ("b", {}))}])
    r.stats.observe_latency("dep-a/up-a", 0.05)
    assert set(firsts(r, "m", 20)) == {"dep-b"}  # never measured
    r.stats.observe_latency("dep-b/up-b", 0.5)
    assert set(firsts(r, "m", 20)) == {"dep-a"}
    for _ in range(10):
        r.stats.observe_latency("dep-a/up-a", 1.0)  # dep-a got slow: the average follows
    assert set(firsts(r, "m", 20)) == {"dep-b"}


def test_fallbacks_come_after_the_models_own_deployments():
    r = router([{"name": "m", "deployments": deps(("a", {}), ("b", {})), "fallbacks": ["f"]},
                {"name": "f", "deployments": deps(("c", {}), ("a", {}))}])
    plan = r.plan("m", Anyone)
    order = [(route.entry.name, route.deployment.provider) for route in r.round(plan)]
    assert sorted(order[:2]) == [("m", "dep-a"), ("m", "dep-b")]
    assert order[2:] == [("f", "dep-c")]  # dep-a once only


# --- end to end ------------------------------------------------------------------------------


def test_least_busy_sends_a_new_request_to_the_idle_deployment(app_factory, upstream):
    cfg = config(upstream, [model("lb", priorities=False, strategy="least-busy")])
    app, key = gateway(app_factory, cfg)
    upstream.script(Stream(openai_chunks(" ".join(["w"] * 30), model="held"), chunk_delay=0.05))
    with serving(app) as url:
        held = stream_chat(url, key, "lb")
        assert held.status_code == 200
        busy = held.headers["x-gateway-deployment"]
        for _ in range(3):
            response = chat(app, key, "lb")
            assert response.headers["x-gateway-deployment"] != busy
        held.close()


def test_latency_strategy_prefers_the_faster_deployment(app_factory, upstream):
    cfg = config(upstream, [model("fast", priorities=False, strategy="latency")])
    app, key = gateway(app_factory, cfg)

    def answer(received):
        return Reply(delay=0.15 if served_by(received) == "a" else 0.0)

    upstream.script(*[answer] * 12)
    for _ in range(2):  # both measured once (unmeasured ones go first)
        chat(app, key, "fast")
    assert sorted(served_by(r) for r in upstream.requests) == ["a", "b"]
    for _ in range(10):
        assert chat(app, key, "fast").headers["x-gateway-deployment"] == "dep-b/up-b"


def test_weighted_traffic_end_to_end(app_factory, upstream):
    cfg = config(upstream, [{**model("w", priorities=False),
                             "deployments": [{"provider": "dep-a", "model": "up-a", "weight": 1},
                                             {"provider": "dep-b", "model": "up-b",
                                              "weight": 4}]}])
    app, key = gateway(app_factory, cfg)
    app.extensions["gateway"].router.rng = random.Random(3)
    for _ in range(100):
        assert chat(app, key, "w").status_code == 200
    counts = Counter(served_by(r) for r in upstream.requests)
    assert 65 <= counts["b"] <= 95, counts
    rows = logged(app, count=100)
    assert len(rows) == 100


def test_in_flight_counts_are_released_when_streams_end(app_factory, upstream):
    app, key = gateway(app_factory, config(upstream, [model("lb", strategy="least-busy")]))
    stats = app.extensions["gateway"].router.stats
    upstream.script(Stream(openai_chunks("a b c", model="x"), chunk_delay=0.05))
    with serving(app) as url:
        response = stream_chat(url, key, "lb")
        deployment = response.headers["x-gateway-deployment"]
        assert stats.inflight(deployment) == 1  # held while the stream is open
        assert b"[DONE]" in response.content
        logged(app, response.headers["x-request-id"])  # the stream is over once it is logged
    assert stats.inflight(deployment) == 0
    upstream.script(Reply(status=500))
    assert chat(app, key, "lb").status_code == 200  # a failed attempt releases its count too
    assert stats.inflight("dep-a/up-a") == 0 and stats.inflight("dep-b/up-b") == 0


# --- catalog validation ----------------------------------------------------------------------

BASE = {"providers": {"p": {"vendor": "mock"}, "q": {"vendor": "mock"}},
        "models": [{"name": "a", "deployments": [{"provider": "p", "model": "x"}]},
                   {"name": "b", "deployments": [{"provider": "q", "model": "y"}]}]}


def with_model(**fields):
    models = [{**BASE["models"][0], **fields}, BASE["models"][1]]
    return {**BASE, "models": models}


def with_deployment(**fields):
    return with_model(deployments=[{"provider": "p", "model": "x", **fields}])


INVALID = [
    ("zero weight", with_deployment(weight=0), "models[0].deployments[0].weight"),
    ("text weight", with_deployment(weight="heavy"), "models[0].deployments[0].weight"),
    ("float priority", with_deployment(priority=0.5), "models[0].deployments[0].priority"),
    ("unknown deployment field", with_deployment(wieght=2), "models[0].deployments[0]"),
    ("unknown strategy", with_model(strategy="fastest"), "models[0].strategy"),
    ("fallbacks not a list", with_model(fallbacks="b"), "models[0].fallbacks"),
    ("unknown fallback", with_model(fallbacks=["nope"]), "models[0].fallbacks[0]"),
    ("fallback to itself", with_model(fallbacks=["a"]), "models[0].fallbacks[0]"),
    ("negative num_retries", with_model(num_retries=-1), "models[0].num_retries"),
    ("bool num_retries", with_model(num_retries=True), "models[0].num_retries"),
    ("zero timeout", with_model(timeout_seconds=0), "models[0].timeout_seconds"),
    ("unknown model field", with_model(fallback=["b"]), "models[0]"),
    ("circuit rate above 1", with_model(circuit_breaker={"failure_rate": 1.5}),
     "models[0].circuit_breaker.failure_rate"),
    ("circuit unknown field", with_model(circuit_breaker={"threshold": 0.5}),
     "models[0].circuit_breaker"),
    ("circuit min_requests 0", with_model(circuit_breaker={"min_requests": 0}),
     "models[0].circuit_breaker.min_requests"),
    ("global circuit cooldown", {**BASE, "resilience": {"circuit_breaker": {
        "cooldown_seconds": -1}}}, "resilience.circuit_breaker.cooldown_seconds"),
    ("ladder not a list", {**BASE, "resilience": {"rate_limit_cooldown_seconds": 10}},
     "resilience.rate_limit_cooldown_seconds"),
    ("ladder step", {**BASE, "resilience": {"rate_limit_cooldown_seconds": [10, 0]}},
     "resilience.rate_limit_cooldown_seconds[1]"),
    ("backoff order", {**BASE, "resilience": {"retry_backoff_seconds": [1, 0.5]}},
     "resilience.retry_backoff_seconds"),
    ("unknown resilience field", {**BASE, "resilience": {"retries": 3}}, "resilience"),
    ("first byte timeout", {**BASE, "providers": {**BASE["providers"], "p": {
        "vendor": "mock", "first_byte_timeout_seconds": 0}}},
     "providers.p.first_byte_timeout_seconds"),
    ("idle timeout", {**BASE, "providers": {**BASE["providers"], "p": {
        "vendor": "mock", "idle_timeout_seconds": "long"}}}, "providers.p.idle_timeout_seconds"),
]


@pytest.mark.parametrize("raw, field", [case[1:] for case in INVALID],
                         ids=[case[0] for case in INVALID])
def test_invalid_routing_config_names_the_field(raw, field):
    with pytest.raises(ConfigError) as info:
        load_catalog(raw, VENDORS, env={})
    message = str(info.value)
    assert message.startswith(field + ":"), message


def test_routing_defaults_and_values():
    catalog = load_catalog(with_model(strategy="latency", fallbacks=["b"], num_retries=0,
                                      timeout_seconds=30,
                                      deployments=[{"provider": "p", "model": "x", "weight": 2.5,
                                                    "priority": -1}]), VENDORS, env={})
    a, b = catalog.models["a"], catalog.models["b"]
    assert (a.strategy, a.fallbacks, a.num_retries, a.timeout_seconds) == (
        "latency", ("b",), 0, 30.0)
    assert (a.deployments[0].weight, a.deployments[0].priority) == (2.5, -1)
    assert (b.strategy, b.fallbacks, b.num_retries, b.timeout_seconds) == (
        "weighted", (), 2, None)
    assert (b.deployments[0].weight, b.deployments[0].priority) == (1.0, 0)
    assert catalog.resilience.rate_limit_cooldowns == (10.0, 30.0, 60.0, 300.0)
    assert catalog.resilience.auth_cooldown_seconds == 3600.0


def test_provider_timeouts_default_and_inherit_timeout_seconds():
    raw = {**BASE, "providers": {
        "p": {"vendor": "mock"},
        "q": {"vendor": "mock", "timeout_seconds": 20, "idle_timeout_seconds": 45}}}
    providers = load_catalog(raw, VENDORS, env={}).providers
    p, q = providers["p"], providers["q"]
    assert (p.first_byte_timeout, p.idle_timeout, p.answer_timeout) == (120.0, 300.0, 600.0)
    assert (q.first_byte_timeout, q.idle_timeout, q.answer_timeout) == (20.0, 45.0, 20.0)


def test_a_fallback_left_without_deployments_is_dropped(caplog):
    raw = {"providers": {"p": {"vendor": "mock"}, "gone": {"vendor": "openai", "api_keys": [""]}},
           "models": [{"name": "a", "deployments": [{"provider": "p", "model": "x"}],
                       "fallbacks": ["b"]},
                      {"name": "b", "deployments": [{"provider": "gone", "model": "y"}]}]}
    catalog = load_catalog(raw, VENDORS, env={})
    assert catalog.models["a"].fallbacks == ()
    assert "falls back to 'b'" in caplog.text
