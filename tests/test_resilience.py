"""Retries and fallbacks over real sockets: a retryable failure on deployment 1 moves the request
to deployment 2 (or to a fallback model); a non-retryable one is the answer at once. Every
attempt is in the request log; x-gateway-deployment names the deployment that answered."""
import socket
import time
from decimal import Decimal

import openai
import orjson
import pytest

from tests.conftest import PRICE, create_key, logged, serving
from tests.mock_upstream import Hang, Reply, Stream, anthropic_events, openai_chunks
from tests.resilience_helpers import (
    HI,
    chat,
    config,
    gateway,
    key_of,
    messages,
    model,
    served_by,
)

RETRYABLE = [408, 409, 429, 500, 502, 503, 529]
NOT_RETRYABLE = [(400, 400, "invalid_request_error"), (401, 502, "api_error"),
                 (403, 502, "api_error"), (404, 404, "invalid_request_error"),
                 (413, 413, "invalid_request_error"), (422, 422, "invalid_request_error")]


def assert_served_by_b_after_a_failed(app, response, upstream, status, error=None):
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.headers["x-gateway-deployment"] == "dep-b/up-b"
    assert [served_by(r) for r in upstream.requests] == ["a", "b"]
    assert [key_of(r) for r in upstream.requests] == ["key-a", "key-b"]
    row = logged(app, response.headers["x-request-id"])
    assert (row.status_code, row.provider, row.upstream_model) == (200, "dep-b", "up-b")
    assert [(a["provider"], a["model"], a["status"]) for a in row.attempts] == [
        ("dep-a", "up-a", status), ("dep-b", "up-b", 200)]
    assert row.attempts[0]["error"] == error if error else row.attempts[0]["error"]
    assert row.attempts[1]["error"] is None
    assert all(isinstance(a["latency_ms"], int) for a in row.attempts)


@pytest.mark.parametrize("status", RETRYABLE)
def test_retryable_status_moves_to_the_next_deployment(app_factory, upstream, status):
    app, key = gateway(app_factory, config(upstream, [model()]))
    upstream.script(Reply(status=status))
    response = chat(app, key)
    assert_served_by_b_after_a_failed(app, response, upstream, status)


@pytest.mark.parametrize("status", RETRYABLE)
def test_retryable_status_before_a_stream_starts_moves_on(app_factory, upstream, status):
    app, key = gateway(app_factory, config(upstream, [model()]))
    upstream.script(Reply(status=status))
    response = chat(app, key, stream=True)
    assert b"data: [DONE]" in response.get_data()
    assert_served_by_b_after_a_failed(app, response, upstream, status)


def test_timeout_moves_to_the_next_deployment(app_factory, upstream):
    app, key = gateway(app_factory, config(upstream, [model()], first_byte_timeout_seconds=0.5))
    upstream.script(Hang(seconds=5))
    started = time.monotonic()
    response = chat(app, key)
    assert time.monotonic() - started < 2.0
    assert_served_by_b_after_a_failed(app, response, upstream, 504, "upstream_timeout")


def test_connection_reset_moves_to_the_next_deployment(app_factory, upstream):
    app, key = gateway(app_factory, config(upstream, [model()]))
    upstream.script(Stream(openai_chunks("lost"), cut_after=0))  # headers, then the socket dies
    response = chat(app, key, stream=True)
    assert b"data: [DONE]" in response.get_data()
    assert_served_by_b_after_a_failed(app, response, upstream, 502, "upstream_connection_error")


def test_refused_connection_moves_to_the_next_deployment(app_factory, upstream):
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    cfg = config(upstream, [model()])
    cfg["providers"]["dep-a"]["base_url"] = f"http://127.0.0.1:{port}/v1"
    app, key = gateway(app_factory, cfg)
    response = chat(app, key)
    assert response.status_code == 200
    assert response.headers["x-gateway-deployment"] == "dep-b/up-b"
    row = logged(app, response.headers["x-request-id"])
    assert [(a["provider"], a["status"], a["error"]) for a in row.attempts] == [
        ("dep-a", 502, "upstream_unreachable"), ("dep-b", 200, None)]


@pytest.mark.parametrize("status, client_status, openai_type", NOT_RETRYABLE)
def test_non_retryable_status_is_answered_at_once(app_factory, upstream, status, client_status,
                                                  openai_type):
    app, key = gateway(app_factory, config(upstream, [model()]))
    upstream.script(Reply(status=status, json={"error": {"message": f"upstream says {status}"}}))
    response = chat(app, key)
    assert response.status_code == client_status
    error = response.get_json()["error"]
    assert error["type"] == openai_type and f"upstream says {status}" in error["message"]
    assert response.headers["x-gateway-deployment"] == "dep-a/up-a"
    assert len(upstream.requests) == 1
    row = logged(app, response.headers["x-request-id"])
    assert row.status_code == client_status and row.provider == "dep-a"
    assert [(a["provider"], a["status"]) for a in row.attempts] == [("dep-a", status)]


@pytest.mark.parametrize("status, client_status, anthropic_type", [
    (400, 400, "invalid_request_error"), (401, 502, "api_error"), (403, 502, "api_error"),
    (404, 404, "not_found_error"), (413, 413, "request_too_large"),
    (422, 422, "invalid_request_error")])
def test_non_retryable_status_in_the_anthropic_format(app_factory, upstream, status,
                                                      client_status, anthropic_type):
    app, key = gateway(app_factory, config(upstream, [model()], vendor="anthropic"))
    upstream.script(Reply(status=status))
    response = messages(app, key)
    assert response.status_code == client_status
    body = response.get_json()
    assert body["type"] == "error" and body["error"]["type"] == anthropic_type
    assert len(upstream.requests) == 1


def test_anthropic_overload_moves_to_the_next_deployment(app_factory, upstream):
    app, key = gateway(app_factory, config(upstream, [model()], vendor="anthropic"))
    upstream.script(Reply(status=529))
    response = messages(app, key)
    assert response.status_code == 200 and response.get_json()["type"] == "message"
    assert response.headers["x-gateway-deployment"] == "dep-b/up-b"
    assert [key_of(r) for r in upstream.requests] == ["key-a", "key-b"]


def test_overloaded_event_before_the_first_frame_is_retried(app_factory, upstream):
    app, key = gateway(app_factory, config(upstream, [model()], vendor="anthropic"))
    upstream.script(Stream([("error", {"type": "error", "error": {
        "type": "overloaded_error", "message": "Overloaded"}})]))
    response = messages(app, key, stream=True)
    assert response.status_code == 200
    assert b"event: message_stop" in response.get_data()
    assert response.headers["x-gateway-deployment"] == "dep-b/up-b"


def test_the_official_sdk_streams_from_deployment_2_after_deployment_1_failed(
        app_factory, upstream):
    app, key = gateway(app_factory, config(upstream, [model()]))
    upstream.script(Reply(status=503), Stream(openai_chunks("from b", model="up-b")))
    with serving(app) as url:
        client = openai.OpenAI(base_url=f"{url}/v1", api_key=key, max_retries=0, timeout=10)
        response = client.chat.completions.with_raw_response.create(
            model="multi", messages=HI, stream=True)
        text = "".join(c.choices[0].delta.content or "" for c in response.parse() if c.choices)
    assert text == "from b"
    assert response.headers["x-gateway-deployment"] == "dep-b/up-b"


def test_fallback_model_after_the_deployments_are_exhausted(app_factory, upstream):
    cheap = {"input_per_mtok": 1, "output_per_mtok": 1}
    cfg = config(upstream, [
        model("primary", ("a", "b"), fallbacks=["backup"], num_retries=3),
        model("backup", ("c",), price=cheap)])
    app, key = gateway(app_factory, cfg)
    upstream.script(Reply(status=500), Reply(status=503))
    response = chat(app, key, "primary")
    assert response.status_code == 200
    assert response.headers["x-gateway-deployment"] == "dep-c/up-c"
    assert [served_by(r) for r in upstream.requests] == ["a", "b", "c"]
    row = logged(app, response.headers["x-request-id"])
    assert row.model == "primary" and (row.provider, row.upstream_model) == ("dep-c", "up-c")
    assert [a["provider"] for a in row.attempts] == ["dep-a", "dep-b", "dep-c"]
    # accounted at the price of the model that served (1 $/Mtok), not the primary's
    usage = response.get_json()["usage"]
    expected = Decimal(usage["prompt_tokens"] + usage["completion_tokens"]) / 1_000_000
    assert row.cost_usd == expected
    assert Decimal(response.headers["x-gateway-cost-usd"]) == expected
    assert PRICE["input_per_mtok"] != cheap["input_per_mtok"]


def test_fallbacks_the_key_may_not_use_are_skipped(app_factory, upstream):
    cfg = config(upstream, [model("primary", ("a",), fallbacks=["backup"]),
                            model("backup", ("c",))])
    app = app_factory(GATEWAY_CONFIG=cfg)
    key = create_key(app, models=["primary"])
    upstream.script(Reply(status=500), Reply(status=500), Reply(status=500))
    response = chat(app, key, "primary")
    assert response.status_code == 502
    assert {served_by(r) for r in upstream.requests} == {"a"}


def test_num_retries_caps_the_attempts(app_factory, upstream):
    cfg = config(upstream, [model("multi", ("a", "b", "c"), num_retries=1)])
    app, key = gateway(app_factory, cfg)
    upstream.script(Reply(status=500, json={"error": {"message": "a down"}}),
                    Reply(status=502, json={"error": {"message": "b down"}}))
    response = chat(app, key)
    assert response.status_code == 502 and "b down" in response.get_json()["error"]["message"]
    assert [served_by(r) for r in upstream.requests] == ["a", "b"]
    assert response.headers["x-gateway-deployment"] == "dep-b/up-b"
    row = logged(app, response.headers["x-request-id"])
    assert row.status_code == 502 and row.provider == "dep-b" and len(row.attempts) == 2


def test_a_single_deployment_is_retried_after_a_backoff(app_factory, upstream):
    app, key = gateway(app_factory, config(upstream, [model("solo", ("a",))],
                                           resilience={"retry_backoff_seconds": [0.2, 0.3]}))
    upstream.script(Reply(status=503))
    started = time.monotonic()
    response = chat(app, key, "solo")
    assert response.status_code == 200
    assert time.monotonic() - started >= 0.2
    assert [served_by(r) for r in upstream.requests] == ["a", "a"]
    row = logged(app, response.headers["x-request-id"])
    assert [a["status"] for a in row.attempts] == [503, 200]


def test_every_attempt_failing_returns_the_last_error(app_factory, upstream):
    app, key = gateway(app_factory, config(upstream, [model("solo", ("a",), num_retries=2)]))
    upstream.script(*[Reply(status=500, json={"error": {"message": f"down {i}"}})
                      for i in range(3)])
    response = chat(app, key, "solo")
    assert response.status_code == 502 and "down 2" in response.get_json()["error"]["message"]
    assert len(upstream.requests) == 3
    assert response.headers["x-gateway-deployment"] == "dep-a/up-a"


def test_the_deadline_bounds_retries_and_slow_attempts(app_factory, upstream):
    cfg = config(upstream, [model("multi", ("a", "b", "c"), timeout_seconds=1.0)],
                 first_byte_timeout_seconds=5)
    app, key = gateway(app_factory, cfg)
    upstream.script(Reply(status=500), Hang(seconds=5), Hang(seconds=5))
    started = time.monotonic()
    response = chat(app, key)
    elapsed = time.monotonic() - started
    assert 0.9 <= elapsed < 1.8, elapsed
    assert response.status_code == 504
    assert [served_by(r) for r in upstream.requests] == ["a", "b"]
    row = logged(app, response.headers["x-request-id"])
    assert [a["status"] for a in row.attempts] == [500, 504]


def test_limits_are_taken_once_per_request_not_per_attempt(app_factory, upstream):
    app = app_factory(GATEWAY_CONFIG=config(upstream, [model()]))
    key = create_key(app, rpm=2)
    upstream.script(Reply(status=500), Reply(), Reply(status=500), Reply())
    statuses = [chat(app, key).status_code for _ in range(2)]
    assert statuses == [200, 200]
    assert len(upstream.requests) == 4
    assert chat(app, key).status_code == 429  # the third request, not the third attempt


def test_non_streamed_embeddings_are_retried_too(app_factory, upstream):
    app, key = gateway(app_factory, config(upstream, [model("emb")]))
    upstream.script(Reply(status=503))
    response = app.test_client().post("/v1/embeddings", json={"model": "emb", "input": "x"},
                                      headers={"Authorization": f"Bearer {key}"})
    assert response.status_code == 200
    assert response.headers["x-gateway-deployment"] == "dep-b/up-b"


def test_a_stream_broken_after_its_first_frame_is_not_retried(app_factory, upstream):
    app, key = gateway(app_factory, config(upstream, [model()]))
    upstream.script(Stream(openai_chunks("one two three four", model="up-a"), cut_after=3))
    response = chat(app, key, stream=True)
    body = response.get_data()
    assert response.status_code == 200 and b'"error"' in body and body.endswith(b"[DONE]\n\n")
    assert [served_by(r) for r in upstream.requests] == ["a"]
    row = logged(app, response.headers["x-request-id"])
    assert row.status_code == 502 and row.provider == "dep-a"
    assert [(a["status"], a["error"]) for a in row.attempts] == [
        (502, "upstream_connection_error")]


def test_translated_stream_is_retried_before_its_first_frame(app_factory, upstream):
    """OpenAI client, Anthropic vendors: the first frame waits for the upstream's first event."""
    app, key = gateway(app_factory, config(upstream, [model()], vendor="anthropic"))
    upstream.script(Stream(anthropic_events("x"), cut_after=0),
                    Stream(anthropic_events("from b", model="up-b")))
    response = chat(app, key, stream=True)
    chunks = [orjson.loads(line[6:]) for line in response.get_data().split(b"\n")
              if line.startswith(b"data: {")]
    assert "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks
                   if c["choices"]) == "from b"
    assert response.headers["x-gateway-deployment"] == "dep-b/up-b"
    assert [served_by(r) for r in upstream.requests] == ["a", "b"]

