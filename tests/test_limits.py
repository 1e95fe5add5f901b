"""Rate limits and budgets: the Limiter on both stores, and the gateway enforcing them across
two app instances (sharing Redis when REDIS_URL is set, as in CI)."""
import os
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from decimal import Decimal

import openai
import pytest
import redis
import requests

from app.errors import RateLimited
from app.gateway import tokens
from app.gateway.limits.limiter import Limiter
from app.gateway.limits.memory_store import MemoryStore
from app.gateway.limits.redis_store import RedisStore
from app.gateway.limits.tickets import Scope
from tests.conftest import _clear_redis_limits, create_key, log_row, logged, serving
from tests.mock_upstream import Reply, openai_completion

REDIS_URL = os.environ.get("REDIS_URL")
STORES = ["memory"] + (["redis"] if REDIS_URL else [])
HI = [{"role": "user", "content": "hi"}]
DAY1 = datetime(2026, 3, 10, 12).timestamp()  # naive → epoch in local time is fine: only ordering


def make_store(kind):
    if kind == "memory":
        return MemoryStore()
    _clear_redis_limits()
    return RedisStore(redis.Redis.from_url(REDIS_URL))


def limiter(kind, spent=Decimal(0)):
    return Limiter(make_store(kind), lambda scope, start: spent)


@pytest.mark.parametrize("kind", STORES)
def test_rpm_admits_exactly_the_limit(kind):
    lim, scope = limiter(kind), Scope("key:1", rpm=5)
    admitted, rejected = 0, []
    for i in range(8):
        try:
            lim.admit(f"r{i}", [scope], 0, 0)
            admitted += 1
        except RateLimited as exc:
            rejected.append(exc)
    assert admitted == 5 and len(rejected) == 3
    assert rejected[0].code == "rpm_limit_exceeded"
    assert 1 <= int(rejected[0].headers["retry-after"]) <= 60


@pytest.mark.parametrize("kind", STORES)
def test_tpm_counts_input_up_front_and_corrects_after(kind):
    lim, scope = limiter(kind), Scope("key:1", tpm=100)
    first = lim.admit("a", [scope], 60, 0)
    with pytest.raises(RateLimited) as info:
        lim.admit("b", [scope], 50, 0)  # 60 + 50 > 100
    assert info.value.code == "tpm_limit_exceeded"
    lim.settle(first, 30, 0)  # the request really used 30 tokens
    ticket = lim.admit("c", [scope], 50, 0)  # 30 + 50 ≤ 100
    assert ticket.headers()["x-ratelimit-remaining-tokens"] == "20"


@pytest.mark.parametrize("kind", STORES)
def test_max_parallel_frees_a_slot_on_settle(kind):
    lim, scope = limiter(kind), Scope("key:1", max_parallel=2)
    a = lim.admit("a", [scope], 0, 0)
    lim.admit("b", [scope], 0, 0)
    with pytest.raises(RateLimited, match="in flight"):
        lim.admit("c", [scope], 0, 0)
    lim.settle(a, 0, 0)
    assert lim.admit("d", [scope], 0, 0) is not None


@pytest.mark.parametrize("kind", STORES)
def test_budget_reserves_worst_case_and_settles_to_real_cost(kind):
    lim = limiter(kind, spent=Decimal("0.25"))  # already spent in this window
    scope = Scope("key:1", max_budget_usd=Decimal("1.00"), budget_period="monthly")
    a = lim.admit("a", [scope], 0, Decimal("0.50"))
    assert a.headers()["x-gateway-budget-remaining-usd"] == "0.250000"
    with pytest.raises(RateLimited) as info:  # 0.25 spent + 0.50 reserved + 0.30 > 1.00
        lim.admit("b", [scope], 0, Decimal("0.30"))
    assert info.value.code == "budget_exceeded" and int(info.value.headers["retry-after"]) > 0
    lim.settle(a, 0, Decimal("0.10"))  # it really cost 0.10
    assert a.headers()["x-gateway-budget-remaining-usd"] == "0.650000"
    b = lim.admit("b", [scope], 0, Decimal("0.60"))  # 0.35 + 0.60 ≤ 1.00
    assert b.headers()["x-gateway-budget-remaining-usd"] == "0.050000"


@pytest.mark.skipif(not REDIS_URL, reason="needs REDIS_URL")
def test_redis_budget_keeps_a_running_total_and_drops_stale_reservations():
    """Open reservations are summed in one field (admission does not scan them); one left by a
    dead worker is dropped once its lease is over."""
    store = make_store("redis")
    store.lease_seconds = 1
    lim = Limiter(store, lambda scope, start: Decimal(0))
    scope = Scope("key:1", max_budget_usd=Decimal("1.00"), budget_period="monthly")
    tickets = [lim.admit(f"r{i}", [scope], 0, Decimal("0.20")) for i in range(3)]
    store.close()  # the worker holding them dies: nothing renews their leases
    client = store.client
    [budget_key] = [k for k in client.scan_iter("gw:lim:key:1:b:*") if not k.endswith(b":open")]
    assert int(client.hget(budget_key, "reserved")) == 600_000_000
    assert client.zcard(budget_key + b":open") == 3
    lim.settle(tickets[0], 0, Decimal("0.05"))
    assert int(client.hget(budget_key, "reserved")) == 400_000_000
    assert client.zcard(budget_key + b":open") == 2
    with pytest.raises(RateLimited):  # 0.05 spent + 0.40 open + 0.60 > 1.00
        lim.admit("big", [scope], 0, Decimal("0.60"))
    time.sleep(1.1)  # r1 and r2 never settle (their worker died): their leases are over
    big = lim.admit("big", [scope], 0, Decimal("0.60"))
    assert big.headers()["x-gateway-budget-remaining-usd"] == "0.350000"
    assert int(client.hget(budget_key, "reserved")) == 600_000_000
    assert client.zrange(budget_key + b":open", 0, -1) == [b"big"]
    assert client.pttl(budget_key + b":open") > 0


@pytest.mark.skipif(not REDIS_URL, reason="the Redis store's settle script")
def test_a_settle_sent_twice_counts_once():
    """A settle whose reply was lost when Redis was cut is sent again when it is back: the
    second run must not count the spend (or the tokens) a second time."""
    store = make_store("redis")
    lim = Limiter(store, lambda scope, start: Decimal(0))
    scope = Scope("key:1", tpm=1000, max_budget_usd=Decimal("1.00"), budget_period="monthly")
    ticket = lim.admit("r1", [scope], 100, Decimal("0.20"))
    for _ in range(2):
        store.release(ticket, 150, 50_000_000)
    assert store.settles.wait()
    again = lim.admit("r2", [scope], 0, Decimal("0.10"))
    assert again.headers()["x-gateway-budget-remaining-usd"] == "0.850000"
    assert again.headers()["x-ratelimit-remaining-tokens"] == "850"
    store.close()


@pytest.mark.parametrize("kind", STORES)
def test_budget_period_resets_on_its_boundary(kind):
    seen = []

    def spent_since(scope, start):
        seen.append(start)
        return Decimal(0)

    lim = Limiter(make_store(kind), spent_since)
    scope = Scope("key:1", max_budget_usd=Decimal("1"), budget_period="daily")
    day1 = datetime(2026, 3, 10, 23, 59).timestamp()
    lim.settle(lim.admit("a", [scope], 0, Decimal("1"), now=day1), 0, Decimal("1"))
    with pytest.raises(RateLimited):
        lim.admit("b", [scope], 0, Decimal("0.01"), now=day1 + 30)
    assert lim.admit("c", [scope], 0, Decimal("0.5"), now=day1 + 120) is not None  # next day
    assert [s.day for s in seen] == [10, 11]  # each window seeded from the logs once


@pytest.mark.parametrize("kind", STORES)
def test_a_request_passes_all_scopes_or_none(kind):
    lim = limiter(kind)
    key, user = Scope("key:1", rpm=10), Scope("user:1", rpm=1)
    lim.admit("a", [key, user], 0, 0)
    with pytest.raises(RateLimited, match="user:1"):
        lim.admit("b", [key, user], 0, 0)
    # the rejected request took nothing from the key's own counter
    assert lim.admit("c", [key], 0, 0).headers()["x-ratelimit-remaining-requests"] == "8"


# --- through the gateway ------------------------------------------------------------------------

@pytest.fixture
def two_gateways(app_factory):
    """Two app instances on one database; with REDIS_URL they share Redis, like two servers.
    Without Redis each counts alone, so the cross-instance tests need Redis."""
    first, second = app_factory(), app_factory()
    with serving(first) as url1, serving(second) as url2:
        yield first, [url1, url2]


def chat(url, key, model="mock-echo", **body):
    return requests.post(f"{url}/v1/chat/completions", headers={"Authorization": f"Bearer {key}"},
                         json={"model": model, "messages": HI, **body})


def instances(two, key_kwargs):
    app, urls = two
    urls = urls if REDIS_URL else urls[:1]
    return app, urls, create_key(app, **key_kwargs)


def test_rpm_holds_across_instances(two_gateways):
    app, urls, key = instances(two_gateways, {"rpm": 4})
    responses = [chat(urls[i % len(urls)], key) for i in range(7)]
    assert [r.status_code for r in responses].count(200) == 4
    ok, rejected = responses[0], responses[-1]
    assert ok.headers["x-ratelimit-limit-requests"] == "4"
    assert ok.headers["x-ratelimit-remaining-requests"] == "3"
    assert ok.headers["x-ratelimit-reset-requests"].endswith("s")
    assert rejected.status_code == 429 and int(rejected.headers["retry-after"]) >= 1
    assert rejected.json()["error"]["code"] == "rpm_limit_exceeded"
    assert rejected.headers["x-request-id"]
    rows = logged(app, count=7)
    assert sorted(r.status_code for r in rows) == [200] * 4 + [429] * 3


def test_tpm_holds_across_instances(two_gateways, upstream):
    messages = [{"role": "user", "content": " ".join(["word"] * 40)}]
    estimate = tokens.estimate_input({"messages": messages})
    # the upstream reports exactly the estimate, so each request uses `estimate` tokens and
    # 3.5 requests' worth of TPM admits exactly 3
    app, urls, key = instances(two_gateways, {"tpm": 3 * estimate + estimate // 2})
    answer = openai_completion("ok", "gpt-upstream", usage=(estimate, 0, 0))
    upstream.script(*[Reply(json=answer) for _ in range(6)])
    results = [chat(urls[i % len(urls)], key, "gpt-test", messages=messages) for i in range(6)]
    assert [r.status_code for r in results] == [200, 200, 200, 429, 429, 429]
    assert results[0].headers["x-ratelimit-limit-tokens"] == str(3 * estimate + estimate // 2)
    assert results[3].json()["error"]["code"] == "tpm_limit_exceeded"
    assert len(upstream.requests) == 3


def test_max_parallel_holds_across_instances(two_gateways, upstream):
    app, urls, key = instances(two_gateways, {"max_parallel": 2})
    upstream.script(*[Reply(delay=0.8, json=openai_completion("slow", "gpt-upstream"))
                      for _ in range(6)])
    with ThreadPoolExecutor(max_workers=6) as pool:
        codes = list(pool.map(lambda i: chat(urls[i % len(urls)], key, "gpt-test").status_code,
                              range(6)))
    assert codes.count(200) == 2 and codes.count(429) == 4
    assert len(upstream.requests) == 2  # the rejected ones never reached the vendor


def test_budget_is_never_overspent_under_concurrency(two_gateways, upstream):
    app, urls = two_gateways
    urls = urls if REDIS_URL else urls[:1]
    # worst case per request: ~10 input tokens at $2/M + 1000 output at $8/M ≈ $0.00802;
    # the upstream reports close to that, so about 10 fit in the budget.
    budget = Decimal("0.0805")
    key = create_key(app, max_budget_usd=budget, budget_period="monthly")
    answer = openai_completion("x", "gpt-upstream", usage=(5, 1000, 0))
    upstream.script(*[Reply(delay=0.2, json=answer) for _ in range(50)])
    with ThreadPoolExecutor(max_workers=25) as pool:
        responses = list(pool.map(lambda i: chat(urls[i % len(urls)], key, "gpt-test",
                                                 max_tokens=1000), range(50)))
    ok = [r for r in responses if r.status_code == 200]
    rejected = [r for r in responses if r.status_code == 429]
    assert 1 <= len(ok) <= 10 and len(ok) + len(rejected) == 50
    assert {r.json()["error"]["code"] for r in rejected} == {"budget_exceeded"}
    assert len(upstream.requests) == len(ok)  # rejected before any upstream call
    rows = logged(app, count=50)
    spent = sum(r.cost_usd for r in rows)
    assert spent <= budget
    assert all("x-gateway-budget-remaining-usd" in r.headers for r in ok)


def test_budget_window_is_seeded_from_the_request_logs(app_factory, upstream):
    app = app_factory()
    key = create_key(app, max_budget_usd=Decimal("0.0001"), budget_period="daily")
    with app.app_context():
        from app.extensions import db
        from app.models import ApiKey
        from app.repositories import request_logs

        key_id = db.session.query(ApiKey.id).scalar()
        request_logs.insert_batch([log_row("earlier", api_key_id=key_id,
                                           cost_usd=Decimal("0.0001"))])
    response = app.test_client().post("/v1/chat/completions", json={
        "model": "mock-echo", "messages": HI, "max_tokens": 10},
        headers={"Authorization": f"Bearer {key}"})
    assert response.status_code == 429
    assert response.get_json()["error"]["code"] == "budget_exceeded"


def test_user_and_project_allowlists_apply_to_keys(app_factory):
    app = app_factory()
    with app.app_context():
        from app.extensions import db
        from app.repositories import users as user_repo

        user = user_repo.create("globs@example.com")
        user.models = ["mock-*"]
        db.session.commit()
    key = create_key(app, email="globs@example.com", models=["*"])
    client = app.test_client()
    headers = {"Authorization": f"Bearer {key}"}
    ok = client.post("/v1/chat/completions", json={"model": "mock-echo", "messages": HI},
                     headers=headers)
    denied = client.post("/v1/chat/completions", json={"model": "gpt-test", "messages": HI},
                         headers=headers)
    assert ok.status_code == 200 and denied.status_code == 403


def test_openai_sdk_sees_rate_limit_error_with_headers(live_server, app):
    key = create_key(app, rpm=1)
    client = openai.OpenAI(base_url=f"{live_server}/v1", api_key=key, max_retries=0)
    client.chat.completions.create(model="mock-echo", messages=HI)
    with pytest.raises(openai.RateLimitError) as info:
        client.chat.completions.create(model="mock-echo", messages=HI)
    assert info.value.response.headers["x-ratelimit-remaining-requests"] == "0"


@pytest.mark.parametrize("model", ["mock-echo", "gpt-test", "claude-test"])
def test_a_streams_slot_is_free_before_its_terminator_reaches_the_client(app, upstream, model):
    """A client that sends its next request as soon as it has read a stream's end finds the slot
    released: the request is settled before the terminator leaves, not after."""
    from tests.mock_upstream import Stream, anthropic_events, openai_chunks

    if model == "gpt-test":
        upstream.script(Stream(openai_chunks("one two", "gpt-upstream")))
    elif model == "claude-test":
        upstream.script(Stream(anthropic_events("one two", "claude-upstream")))
    key = create_key(app, max_parallel=1)
    client = app.test_client()
    headers = {"Authorization": f"Bearer {key}"}
    body = {"model": model, "stream": True, "messages": [{"role": "user", "content": "one two"}]}
    streamed = client.post("/v1/chat/completions", json=body, headers=headers, buffered=False)
    try:
        frames = iter(streamed.response)
        seen = b""
        while b"[DONE]" not in seen:
            seen += next(frames)  # the server has not run past the terminator's yield
        nxt = client.post("/v1/chat/completions", headers=headers,
                          json={"model": "mock-echo", "messages": body["messages"]})
        assert nxt.status_code == 200
    finally:
        streamed.close()
