"""Timeouts per provider (first byte, idle between chunks, no total cap on a healthy stream),
failures in the middle of a stream, and clients that go away — over real sockets, with the
official SDKs as clients."""
import time

import anthropic
import openai
import pytest

from tests.conftest import logged, serving
from tests.mock_upstream import Hang, Stream, anthropic_events, openai_chunks
from tests.resilience_helpers import HI, chat, config, gateway, model, served_by

LONG = " ".join(f"w{i}" for i in range(12))


def sdk_clients(url, key):
    return (openai.OpenAI(base_url=f"{url}/v1", api_key=key, max_retries=0, timeout=10),
            anthropic.Anthropic(base_url=url, api_key=key, max_retries=0, timeout=10))


def test_first_byte_timeout_moves_to_the_next_deployment(app_factory, upstream):
    cfg = config(upstream, [model()], first_byte_timeout_seconds=0.4, idle_timeout_seconds=5)
    app, key = gateway(app_factory, cfg)
    upstream.script(Stream(openai_chunks("late"), delay=3))  # headers would come after 3 s
    started = time.monotonic()
    response = chat(app, key, stream=True)
    assert b"[DONE]" in response.get_data()
    assert time.monotonic() - started < 1.5
    assert response.headers["x-gateway-deployment"] == "dep-b/up-b"
    row = logged(app, response.headers["x-request-id"])
    assert [(a["status"], a["error"]) for a in row.attempts] == [
        (504, "upstream_timeout"), (200, None)]


def test_a_healthy_stream_outlives_the_first_byte_timeout(app_factory, upstream):
    cfg = config(upstream, [model("solo", ("a",))], first_byte_timeout_seconds=0.5,
                 idle_timeout_seconds=0.5)
    app, key = gateway(app_factory, cfg)
    upstream.script(Stream(openai_chunks(LONG, model="up-a"), chunk_delay=0.1))  # ~1.5 s total
    with serving(app) as url:
        client, _ = sdk_clients(url, key)
        started = time.monotonic()
        stream = client.chat.completions.create(model="solo", messages=HI, stream=True)
        text = "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
    assert text == LONG and time.monotonic() - started > 1.0


def test_idle_timeout_ends_a_silent_stream_with_an_error_event(app_factory, upstream):
    cfg = config(upstream, [model()], first_byte_timeout_seconds=5, idle_timeout_seconds=0.3)
    app, key = gateway(app_factory, cfg)
    # the first chunk at once, then a second of silence before each next one
    upstream.script(Stream(openai_chunks("one two", model="up-a"), chunk_delay=1.0))
    with serving(app) as url:
        client, _ = sdk_clients(url, key)
        started = time.monotonic()
        with pytest.raises(openai.APIError) as info:
            for _ in client.chat.completions.create(model="multi", messages=HI, stream=True):
                pass
    assert time.monotonic() - started < 3.0
    assert "timed out" in info.value.message
    assert [served_by(r) for r in upstream.requests] == ["a"]  # not retried after output began
    [row] = logged(app, count=1)
    assert row.status_code == 504 and row.error_type == "upstream_timeout"


def test_stream_cut_after_3_chunks_reaches_the_openai_sdk_with_partial_usage(app_factory,
                                                                             upstream):
    """Anthropic upstream, OpenAI client: message_start already told the input tokens."""
    app, key = gateway(app_factory, config(upstream, [model()], vendor="anthropic"))
    upstream.script(Stream(anthropic_events("one two three four", model="up-a",
                                            usage=(21, 9, 0)), cut_after=4))
    with serving(app) as url:
        client, _ = sdk_clients(url, key)
        received = []
        with pytest.raises(openai.APIError):
            for chunk in client.chat.completions.create(model="multi", messages=HI, stream=True):
                received.append(chunk)
    assert received  # the client got the first chunks, then the error event
    [row] = logged(app, count=1)
    assert row.status_code == 502 and row.error_type == "upstream_connection_error"
    assert row.input_tokens == 21 and row.cost_usd > 0
    assert [served_by(r) for r in upstream.requests] == ["a"]
    assert [(a["provider"], a["status"]) for a in row.attempts] == [("dep-a", 502)]


def test_stream_cut_after_3_chunks_reaches_the_anthropic_sdk_with_partial_usage(app_factory,
                                                                                upstream):
    app, key = gateway(app_factory, config(upstream, [model()], vendor="anthropic"))
    upstream.script(Stream(anthropic_events("one two three four", model="up-a",
                                            usage=(33, 9, 0)), cut_after=5))
    with serving(app) as url:
        _, client = sdk_clients(url, key)
        with pytest.raises(anthropic.APIError):
            with client.messages.stream(model="multi", max_tokens=20, messages=HI) as stream:
                for _ in stream:
                    pass
    [row] = logged(app, count=1)
    assert row.status_code == 502 and row.input_tokens == 33 and row.surface == "anthropic"


@pytest.mark.parametrize("surface", ["openai", "anthropic"])
def test_client_disconnect_closes_the_upstream_within_a_second(app_factory, upstream, surface):
    app, key = gateway(app_factory, config(upstream, [model("solo", ("a",))]))
    upstream.script(Stream(openai_chunks(" ".join(["word"] * 200), model="up-a"),
                           chunk_delay=0.05))
    with serving(app) as url:
        oa, an = sdk_clients(url, key)
        if surface == "openai":
            stream = oa.chat.completions.create(model="solo", messages=HI, stream=True)
        else:
            stream = an.messages.create(model="solo", max_tokens=500, messages=HI, stream=True)
        iterator = iter(stream)
        next(iterator)
        next(iterator)
        closed_at = time.monotonic()
        stream.close()
        gone = upstream.wait_disconnect(timeout=1.0, since=closed_at)
    assert gone is not None and gone - closed_at < 1.0
    [row] = logged(app, count=1)
    assert row.error_type == "client_disconnected" and row.status_code == 499


def test_a_hung_stream_with_keepalive_still_times_out_on_idle(app_factory, upstream):
    cfg = config(upstream, [model("solo", ("a",), num_retries=0)], first_byte_timeout_seconds=0.3)
    app, key = gateway(app_factory, cfg, STREAM_KEEPALIVE_SECONDS=0.1)
    upstream.script(Hang(seconds=3))
    started = time.monotonic()
    response = chat(app, key, "solo", stream=True)
    assert response.status_code == 504  # nothing had been sent: the real status
    assert time.monotonic() - started < 1.5
