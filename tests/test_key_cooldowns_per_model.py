"""Vendors rate-limit per model: a 429 on one model cools the provider key for that model only,
while a 401/403 still takes the key out for every model. Whether a 429's retry-after is honoured,
and up to how long, is the provider's setting. On both health stores (memory, and Redis when
REDIS_URL is set: the suite runs on both)."""
import time

from tests.mock_upstream import Reply
from tests.resilience_helpers import chat, config, gateway, provider


def two_models(upstream, **provider_extra):
    """One provider with a single key, serving two models (upstream up-1 and up-2)."""
    providers = {"dep-a": provider(upstream, "k1", **provider_extra)}
    models = [{"name": f"m{n}", "deployments": [{"provider": "dep-a", "model": f"up-{n}"}]}
              for n in (1, 2)]
    return config(upstream, models, providers=providers)


def test_a_429_on_one_model_leaves_the_keys_other_models_alone(app_factory, upstream):
    app, key = gateway(app_factory, two_models(upstream))
    upstream.script(Reply(status=429, headers={"retry-after": "30"}))
    assert chat(app, key, "m1").status_code == 429
    cooling = chat(app, key, "m1")
    assert cooling.status_code == 429
    assert cooling.get_json()["error"]["code"] == "upstream_keys_cooling_down"
    for _ in range(3):  # the same key still serves the other model
        assert chat(app, key, "m2").status_code == 200
    assert [r.json["model"] for r in upstream.requests] == ["up-1", "up-2", "up-2", "up-2"]


def test_a_401_takes_the_key_out_for_every_model(app_factory, upstream):
    app, key = gateway(app_factory, two_models(upstream))
    upstream.script(Reply(status=401))
    assert chat(app, key, "m1").status_code == 502
    refused = chat(app, key, "m2")
    assert refused.status_code == 429
    assert refused.get_json()["error"]["code"] == "upstream_keys_cooling_down"
    assert len(upstream.requests) == 1


def test_retry_after_is_capped_by_the_providers_ceiling(app_factory, upstream):
    app, key = gateway(app_factory, two_models(upstream, max_retry_after_seconds=1))
    upstream.script(Reply(status=429, headers={"retry-after": "3600"}))
    assert chat(app, key, "m1").status_code == 429
    cooling = chat(app, key, "m1")
    assert cooling.status_code == 429 and cooling.headers["retry-after"] == "1"
    time.sleep(1.1)
    assert chat(app, key, "m1").status_code == 200


def test_a_provider_may_ignore_retry_after_and_use_the_ladder(app_factory, upstream):
    cfg = two_models(upstream, honor_retry_after=False)
    cfg["resilience"]["rate_limit_cooldown_seconds"] = [0.3, 5]
    app, key = gateway(app_factory, cfg)
    upstream.script(Reply(status=429, headers={"retry-after": "3600"}))
    assert chat(app, key, "m1").status_code == 429
    assert chat(app, key, "m1").get_json()["error"]["code"] == "upstream_keys_cooling_down"
    time.sleep(0.35)  # the ladder's first step, not the hour the upstream asked for
    assert chat(app, key, "m1").status_code == 200
