"""The Responses surface is operated exactly as chat is, on each of its three routes: rate limits
and budgets, cost in the log and the headers, retries and fallbacks before the first byte,
keep-alive comments while the upstream is silent, and a client that goes away."""
import json
from decimal import Decimal

import openai
import pytest
import requests

from tests.conftest import PRICE, create_key, logged, serving
from tests.mock_upstream import Reply, Stream
from tests.resilience_helpers import FAST, served_by
from tests.responses_helpers import ROUTES, STREAMS, VENDORS, ask, script

WORDS = " ".join(["word"] * 40)
VENDOR_OF = {"chat": "openai", "anthropic": "anthropic", "responses": "openai_responses"}


def _config(upstream, vendor, models):
    """dep-a, dep-b and dep-c speaking the vendor's format; each model over `deployments`."""
    base = upstream.anthropic_base_url if vendor == "anthropic" else upstream.openai_base_url
    providers = {f"dep-{n}": {"vendor": VENDOR_OF[vendor], "base_url": base,
                              "api_keys": [f"key-{n}"], "timeout_seconds": 3} for n in "abc"}
    return {"providers": providers, "resilience": FAST, "models": [
        {"name": name, "price": PRICE, **extra,
         "deployments": [{"provider": f"dep-{d}", "model": f"up-{d}", "priority": i}
                         for i, d in enumerate(deployments)]}
        for name, deployments, extra in models]}


def _client(url, key):
    return openai.OpenAI(base_url=f"{url}/v1", api_key=key, max_retries=0, timeout=10)


@pytest.mark.parametrize("stream", STREAMS)
def test_a_rate_limited_key_gets_a_429_the_sdk_reads(app, upstream, stream):
    key = create_key(app, rpm=1)
    script(upstream, "chat", stream, "Hello.")
    with serving(app) as url:
        client = _client(url, key)
        ask(client, stream, model="gpt-test", input="hi")
        with pytest.raises(openai.RateLimitError) as info:
            ask(client, stream, model="gpt-test", input="hi")
    headers = info.value.response.headers
    assert headers["x-ratelimit-remaining-requests"] == "0" and int(headers["retry-after"]) >= 1
    assert info.value.code == "rpm_limit_exceeded"
    assert len(upstream.requests) == 1


def test_a_request_the_budget_can_never_admit_is_a_400_before_the_upstream(app, upstream):
    key = create_key(app, max_budget_usd=Decimal("0"))
    with serving(app) as url, pytest.raises(openai.BadRequestError) as info:
        _client(url, key).responses.create(model="gpt-test", input="hi", max_output_tokens=5)
    assert (info.value.code, info.value.param) == ("request_exceeds_budget", "max_output_tokens")
    assert upstream.requests == []


def test_a_spent_budget_is_a_429_before_the_upstream(app, upstream):
    key = create_key(app, max_budget_usd=Decimal("0.0002"))
    script(upstream, "chat", False, "Priced.", usage=(50, 20, 0))  # $0.00026: all of it
    with serving(app) as url:
        client = _client(url, key)
        client.responses.create(model="gpt-test", input="hi", max_output_tokens=5)
        with pytest.raises(openai.RateLimitError) as info:
            client.responses.create(model="gpt-test", input="hi", max_output_tokens=5)
    assert "budget" in info.value.message.lower() and info.value.code == "budget_exceeded"
    assert len(upstream.requests) == 1


@pytest.mark.parametrize("stream", STREAMS)
@pytest.mark.parametrize("vendor", VENDORS)
def test_cost_and_tokens_are_accounted_as_on_chat(app, upstream, vendor, stream):
    key = create_key(app)
    script(upstream, vendor, stream, "Priced.", usage=(1000, 500, 200))
    with serving(app) as url:
        raw = _client(url, key).responses.with_raw_response.create(
            model=ROUTES[vendor], input="hi", stream=stream)
        body = raw.parse()
        if stream:
            body = list(body)[-1].response
        row = logged(app, raw.headers["x-request-id"])
    assert (body.usage.input_tokens, body.usage.output_tokens) == (1000, 500)
    assert body.usage.input_tokens_details.cached_tokens == 200
    assert (row.surface, row.model, row.input_tokens, row.output_tokens, row.stream) == (
        "responses", ROUTES[vendor], 1000, 500, stream)
    assert row.cost_usd > 0
    if not stream:  # a stream's cost is known only after its headers left
        assert Decimal(raw.headers["x-gateway-cost-usd"]) == row.cost_usd


@pytest.mark.parametrize("stream", STREAMS)
@pytest.mark.parametrize("vendor", VENDORS)
def test_a_failed_deployment_is_retried_on_the_next_then_a_fallback_model(
        app_factory, upstream, vendor, stream):
    app = app_factory(GATEWAY_CONFIG=_config(upstream, vendor, [
        ("primary", ("a", "b"), {"fallbacks": ["backup"], "num_retries": 3}),
        ("backup", ("c",), {})]))
    key = create_key(app)
    upstream.script(Reply(status=503), Reply(status=500))
    script(upstream, vendor, stream, "From the backup.")
    with serving(app) as url:
        response, events = ask(_client(url, key), stream, model="primary", input="hi")
    assert response.output_text == "From the backup."
    if stream:  # the failed attempts left nothing in the stream: one response, one message
        kinds = [e.type for e in events]
        assert kinds.count("response.created") == 1 and kinds[-1] == "response.completed"
        assert kinds.count("response.output_item.added") == 1
    assert [served_by(r) for r in upstream.requests] == ["a", "b", "c"]
    assert {r.path for r in upstream.requests} == {
        {"chat": "/v1/chat/completions", "anthropic": "/v1/messages",
         "responses": "/v1/responses"}[vendor]}
    [row] = logged(app, count=1)
    assert [(a["provider"], a["status"]) for a in row.attempts] == [
        ("dep-a", 503), ("dep-b", 500), ("dep-c", 200)]
    assert (row.status_code, row.provider, row.surface) == (200, "dep-c", "responses")


@pytest.mark.parametrize("vendor", VENDORS)
def test_keepalive_comments_while_the_upstream_is_silent(app_factory, upstream, vendor):
    app = app_factory(STREAM_KEEPALIVE_SECONDS=0.1)
    key = create_key(app)
    script(upstream, vendor, True, "slow words here")
    upstream._fifo[-1] = Stream(upstream._fifo[-1].events, chunk_delay=0.35)
    with serving(app) as url:
        response = requests.post(f"{url}/v1/responses", stream=True, timeout=10,
                                 json={"model": ROUTES[vendor], "input": "hi", "stream": True},
                                 headers={"Authorization": f"Bearer {key}"})
        lines = [line for line in response.iter_lines() if line]
    assert lines.count(b": keep-alive") >= 2
    events = [json.loads(line[6:]) for line in lines if line.startswith(b"data: ")]
    last = events[-1]
    assert last["type"] == "response.completed"
    assert last["response"]["output"][-1]["content"][0]["text"] == "slow words here"


@pytest.mark.parametrize("vendor", VENDORS)
def test_a_client_that_goes_away_closes_the_upstream_and_is_logged(app, upstream, vendor):
    key = create_key(app)
    script(upstream, vendor, True, WORDS)
    upstream._fifo[-1] = Stream(upstream._fifo[-1].events, chunk_delay=0.05)
    with serving(app) as url:
        stream = _client(url, key).responses.create(model=ROUTES[vendor], input="hi",
                                                    stream=True)
        events = iter(stream)
        next(events)
        next(events)
        stream.close()
        assert upstream.wait_disconnect(timeout=2.0) is not None
        [row] = logged(app, count=1)
    assert (row.status_code, row.error_type, row.surface) == (
        499, "client_disconnected", "responses")
