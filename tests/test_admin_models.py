"""GET /admin/models: every configured model and deployment with its circuit, its provider keys'
cooldowns (from the gateway's health store: memory, or Redis when REDIS_URL is set) and the last
hour's requests, error rate and p50/p95 latency from request_logs (PostgreSQL's percentile_cont,
or the same interpolation in Python on SQLite)."""
from datetime import timedelta
from types import SimpleNamespace

import pytest

from app.gateway.catalog.fields import CircuitSettings
from app.gateway.routing.health import Gate
from app.models import utcnow
from app.repositories import log_queries, request_logs
from tests.conftest import log_row

pytest_plugins = ["tests.admin_fixtures"]  # admin, member, … fixtures


def models_of(api):
    response = api.get("/admin/models")
    assert response.status_code == 200, response.get_data(as_text=True)
    body = response.get_json()
    assert body["window_seconds"] == 3600 and body["since"].endswith("Z")
    return {m["name"]: m for m in body["data"]}


def test_every_model_and_deployment_healthy_at_rest(admin):
    models = models_of(admin)
    assert {"mock-echo", "gpt-test", "claude-test", "resp-test"} <= set(models)
    gpt = models["gpt-test"]
    assert gpt["requests"] == 0 and gpt["error_rate"] is None and gpt["p95_latency_ms"] is None
    [deployment] = gpt["deployments"]
    assert deployment["id"] == "up-openai/gpt-upstream"
    assert deployment["circuit"] == {"state": "closed", "retry_in_seconds": 0.0}
    assert deployment["keys"] == [{"index": 0, "state": "ok", "cooldown_seconds": 0.0}]
    assert models["mock-echo"]["deployments"][0]["keys"] == []  # the mock has no keys


def test_last_hours_error_rate_and_percentiles(app, admin):
    now = utcnow()
    latencies = list(range(1, 101))
    rows = [log_row(f"req_{n}", model="gpt-test", provider="up-openai",
                    upstream_model="gpt-upstream", latency_ms=n, created_at=now - timedelta(
                        minutes=n % 50), status_code=500 if n % 10 == 0 else 200)
            for n in latencies]
    # older than the hour, or on another deployment: not in gpt-test's deployment figures
    rows += [log_row("req_old", model="gpt-test", provider="up-openai",
                     upstream_model="gpt-upstream", latency_ms=99999,
                     created_at=now - timedelta(minutes=70)),
             log_row("req_fallback", model="gpt-test", provider="up-anthropic",
                     upstream_model="claude-upstream", latency_ms=7, status_code=429)]
    with app.app_context():
        request_logs.insert_batch(rows)
    gpt = models_of(admin)["gpt-test"]
    everything = sorted([*latencies, 7])
    assert (gpt["requests"], gpt["errors"]) == (101, 11)
    assert gpt["error_rate"] == round(11 / 101, 4)
    assert gpt["p50_latency_ms"] == round(log_queries.percentile(everything, 0.5), 1) == 50.0
    assert gpt["p95_latency_ms"] == round(log_queries.percentile(everything, 0.95), 1)
    deployment = gpt["deployments"][0]
    assert (deployment["requests"], deployment["errors"], deployment["error_rate"]) == (
        100, 10, 0.1)
    assert deployment["p50_latency_ms"] == 50.5 and deployment["p95_latency_ms"] == 95.0
    # the fallback's answer counts for the deployment that gave it
    claude = models_of(admin)["claude-test"]
    assert claude["requests"] == 0
    assert claude["deployments"][0]["requests"] == 1
    assert claude["deployments"][0]["p50_latency_ms"] == 7.0


def test_percentile_interpolates_like_postgresql():
    assert log_queries.percentile([], 0.5) is None
    assert log_queries.percentile([5], 0.95) == 5.0
    assert log_queries.percentile([1, 2, 3, 4], 0.5) == 2.5
    assert log_queries.percentile(list(range(1, 101)), 0.95) == pytest.approx(95.05)


def test_open_circuit_and_cooling_keys_show(app, admin):
    gateway = app.extensions["gateway"]
    entry = gateway.router.catalog.models["gpt-test"]
    route = gateway.router.route(entry, entry.deployments[0])
    circuit = CircuitSettings(window_seconds=60, min_requests=1, failure_rate=0.5,
                              cooldown_seconds=30)
    failure = SimpleNamespace(upstream_status=500, retryable=True, code="upstream_error",
                              retry_after=None, openai_type="api_error")
    rate_limited = SimpleNamespace(upstream_status=429, retryable=True, code="rate_limit_error",
                                   retry_after=None, openai_type="rate_limit_error")
    gateway.health.record(route, Gate(key=0), circuit, rate_limited)
    gateway.health.record(route, Gate(key=0), circuit, failure)
    deployment = models_of(admin)["gpt-test"]["deployments"][0]
    assert deployment["circuit"]["state"] == "open"
    assert 25 < deployment["circuit"]["retry_in_seconds"] <= 30
    [key] = deployment["keys"]
    assert key["state"] == "rate_limited" and 5 < key["cooldown_seconds"] <= 10
    # reading the health changed nothing: the circuit is still open, the key still cooling
    again = models_of(admin)["gpt-test"]["deployments"][0]
    assert again["circuit"]["state"] == "open" and again["keys"][0]["state"] == "rate_limited"
    assert gateway.health.gate(route.provider, route.deployment).refused == "keys"


def test_a_rejected_key_shows_as_auth_failed(app, admin):
    gateway = app.extensions["gateway"]
    entry = gateway.router.catalog.models["claude-test"]
    route = gateway.router.route(entry, entry.deployments[0])
    rejected = SimpleNamespace(upstream_status=401, retryable=False, code="authentication_error",
                               retry_after=None, openai_type="authentication_error")
    gateway.health.record(route, Gate(key=0), entry.circuit, rejected)
    deployment = models_of(admin)["claude-test"]["deployments"][0]
    assert deployment["circuit"]["state"] == "closed"
    assert deployment["keys"][0]["state"] == "auth_failed"
    assert deployment["keys"][0]["cooldown_seconds"] > 3000


def test_admins_only(client, member):
    response = member.get("/admin/models")
    assert response.status_code == 403
    assert response.get_json()["error"]["code"] == "admin_required"
    assert client.get("/admin/models").status_code == 401
