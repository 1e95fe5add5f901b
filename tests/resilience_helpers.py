"""Configs and helpers of the resilience and routing tests: several providers pointing at the same
mock upstream, told apart by their API key (Authorization / x-api-key) and by the upstream model
name each deployment sends."""
import os

import requests

from tests.conftest import PRICE, create_key

REDIS_URL = os.environ.get("REDIS_URL")
HI = [{"role": "user", "content": "hi"}]
FAST = {"retry_backoff_seconds": [0.01, 0.02]}


def provider(upstream, key, vendor="openai", **extra):
    base = upstream.openai_base_url if vendor == "openai" else upstream.anthropic_base_url
    return {"vendor": vendor, "base_url": base, "api_keys": [key] if isinstance(key, str) else key,
            "timeout_seconds": 3, **extra}


def config(upstream, models, providers=None, resilience=None, vendor="openai", **provider_extra):
    """Providers dep-a, dep-b, dep-c (keys key-a, key-b, key-c) and the given models."""
    providers = providers or {f"dep-{n}": provider(upstream, f"key-{n}", vendor, **provider_extra)
                              for n in "abc"}
    return {"providers": providers, "models": models,
            "resilience": {**FAST, **(resilience or {})}}


def model(name="multi", deployments=("a", "b"), priorities=True, **extra):
    """A model over dep-<x>/up-<x>; with priorities, dep-a is tried first, then dep-b, ..."""
    deps = [{"provider": f"dep-{d}", "model": f"up-{d}", **({"priority": i} if priorities else {})}
            for i, d in enumerate(deployments)]
    return {"name": name, "deployments": deps, "price": PRICE, **extra}


def served_by(received):
    """Which deployment a recorded upstream request came from: 'a', 'b', ..."""
    body = received.json or {}
    return str(body.get("model", "")).removeprefix("up-")


def key_of(received):
    auth = received.headers.get("authorization", "")
    return auth.removeprefix("Bearer ") if auth else received.headers.get("x-api-key")


def gateway(app_factory, cfg, **overrides):
    app = app_factory(GATEWAY_CONFIG=cfg, **overrides)
    return app, create_key(app)


def chat(app, key, model_name="multi", **body):
    """POST /v1/chat/completions through the Flask test client."""
    return app.test_client().post("/v1/chat/completions",
                                  json={"model": model_name, "messages": HI, **body},
                                  headers={"Authorization": f"Bearer {key}"})


def messages(app, key, model_name="multi", **body):
    return app.test_client().post("/v1/messages",
                                  json={"model": model_name, "max_tokens": 20, "messages": HI,
                                        **body},
                                  headers={"x-api-key": key})


def stream_chat(base_url, key, model_name="multi"):
    return requests.post(f"{base_url}/v1/chat/completions", stream=True, timeout=10,
                         json={"model": model_name, "messages": HI, "stream": True},
                         headers={"Authorization": f"Bearer {key}"})
