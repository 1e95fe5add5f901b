"""The OpenAI surface end to end: the official openai SDK → the gateway on a real socket →
the mock vendor or the mock upstream (real HTTP), and the request-log row it leaves."""
import json
from decimal import Decimal

import openai
import pytest

from tests.conftest import create_key, logged, serving
from tests.mock_upstream import Reply, Stream, openai_chunks, openai_completion

HI = [{"role": "user", "content": "hello there gateway"}]


def test_mock_model_answers_with_the_last_user_message(openai_client, app):
    raw = openai_client.chat.completions.with_raw_response.create(model="mock-echo", messages=HI)
    completion = raw.parse()
    assert completion.choices[0].message.content == "hello there gateway"
    assert completion.choices[0].finish_reason == "stop"
    assert completion.usage.completion_tokens == 3
    row = logged(app, raw.headers["x-request-id"])
    assert (row.status_code, row.surface, row.endpoint, row.model) == (200, "openai", "chat",
                                                                       "mock-echo")
    assert (row.provider, row.upstream_model, row.stream) == ("mock", "echo", False)
    assert row.output_tokens == 3 and row.input_tokens == completion.usage.prompt_tokens
    assert row.cost_usd == Decimal(row.input_tokens + row.output_tokens) / 1_000_000
    assert raw.headers["x-gateway-cost-usd"] == str(row.cost_usd.normalize())
    assert row.latency_ms >= 0 and row.api_key_id is not None and row.user_id is not None


def test_mock_model_streams_and_reports_usage_when_asked(openai_client, app):
    chunks = list(openai_client.chat.completions.create(
        model="mock-echo", messages=HI, stream=True, stream_options={"include_usage": True}))
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "hello there gateway"
    assert chunks[-1].choices == [] and chunks[-1].usage.completion_tokens == 3
    [row] = logged(app, count=1)
    assert row.stream is True and row.status_code == 200 and row.output_tokens == 3
    assert row.time_to_first_token_ms is not None


def test_stream_without_include_usage_has_no_usage_chunk_but_the_log_has_usage(
        openai_client, app, upstream):
    upstream.script(Stream(openai_chunks("one two", model="gpt-upstream", usage=(7, 2, 3))))
    chunks = list(openai_client.chat.completions.create(model="gpt-test", messages=HI,
                                                        stream=True))
    assert all(c.choices for c in chunks)
    assert "".join(c.choices[0].delta.content or "" for c in chunks) == "one two"
    # the gateway asked the upstream for usage even though the client did not
    assert upstream.last().json["stream_options"] == {"include_usage": True}
    [row] = logged(app, count=1)
    assert (row.input_tokens, row.output_tokens, row.cached_tokens) == (7, 2, 3)
    # 4 fresh input tokens at $2, 3 cached at $0.5, 2 output at $8 per million
    assert row.cost_usd == Decimal("0.0000255")


def test_openai_vendor_gets_the_body_unchanged_but_for_the_model(openai_client, upstream):
    upstream.script(Reply(json=openai_completion("fine", model="gpt-upstream")))
    openai_client.chat.completions.create(
        model="gpt-test", messages=HI, temperature=0.25, seed=7, max_tokens=20,
        extra_body={"vendor_extra": {"keep": [1, 2]}}, user="u-1")
    received = upstream.last()
    assert received.path == "/v1/chat/completions"
    assert received.json == {"model": "gpt-upstream", "messages": HI, "temperature": 0.25,
                             "seed": 7, "max_tokens": 20, "vendor_extra": {"keep": [1, 2]},
                             "user": "u-1"}
    assert received.headers["authorization"] == "Bearer upstream-openai-key"


def test_upstream_answer_reaches_the_client_byte_for_byte(live_server, api_key, upstream):
    import requests

    answer = openai_completion("exact", model="gpt-upstream")
    answer["vendor_field"] = {"x": 1}
    upstream.script(Reply(json=answer))
    response = requests.post(f"{live_server}/v1/chat/completions", json={
        "model": "gpt-test", "messages": HI}, headers={"Authorization": f"Bearer {api_key}"})
    assert response.status_code == 200 and response.json() == answer


def test_streamed_tool_call_passes_through(openai_client, upstream, app):
    upstream.script(Stream(openai_chunks(
        model="gpt-upstream", tool_calls=[("call_1", "get_weather", '{"city": "Paris"}')],
        split=4)))
    with openai_client.chat.completions.stream(model="gpt-test", messages=HI, tools=[{
            "type": "function", "function": {"name": "get_weather",
                                             "parameters": {"type": "object"}}}]) as stream:
        final = stream.get_final_completion()
    call = final.choices[0].message.tool_calls[0]
    assert (call.id, call.function.name, call.function.arguments) == (
        "call_1", "get_weather", '{"city": "Paris"}')
    assert final.choices[0].finish_reason == "tool_calls"
    assert logged(app, count=1)[0].status_code == 200


def test_embeddings_through_the_mock_and_the_openai_vendor(openai_client, upstream, app):
    first = openai_client.embeddings.create(model="mock-echo", input=["a b", "c"])
    again = openai_client.embeddings.create(model="mock-echo", input=["a b", "c"])
    assert len(first.data) == 2 and first.data[0].embedding == again.data[0].embedding
    result = openai_client.embeddings.create(model="gpt-test", input="hello")
    assert upstream.last().path == "/v1/embeddings"
    assert upstream.last().json["model"] == "gpt-upstream"
    assert len(result.data) == 1
    rows = logged(app, count=3)
    assert [r.endpoint for r in rows] == ["embeddings"] * 3
    assert rows[-1].input_tokens == result.usage.prompt_tokens


def test_embeddings_on_an_anthropic_model_is_a_clear_400(openai_client):
    with pytest.raises(openai.BadRequestError) as info:
        openai_client.embeddings.create(model="claude-test", input="x")
    assert info.value.body["code"] == "embeddings_not_supported"


def test_models_lists_what_the_key_may_use(live_server, app):
    limited = create_key(app, models=["gpt-*"])
    client = openai.OpenAI(base_url=f"{live_server}/v1", api_key=limited, max_retries=0)
    assert [m.id for m in client.models.list()] == ["gpt-test"]
    assert client.models.retrieve("gpt-test").id == "gpt-test"
    with pytest.raises(openai.NotFoundError):
        client.models.retrieve("mock-echo")
    with pytest.raises(openai.PermissionDeniedError) as info:
        client.chat.completions.create(model="mock-echo", messages=HI)
    assert info.value.body["code"] == "model_not_allowed"


def test_all_models_for_an_unrestricted_key(openai_client):
    assert {m.id for m in openai_client.models.list()} == {"mock-echo", "gpt-test", "claude-test",
                                                          "resp-test"}


def test_key_in_x_api_key_header_works(live_server, api_key):
    import requests

    response = requests.post(f"{live_server}/v1/chat/completions", headers={"x-api-key": api_key},
                             json={"model": "mock-echo", "messages": HI})
    assert response.status_code == 200
    assert response.headers["x-request-id"].startswith("req_")


def test_master_key_is_an_admin_key(app_factory, upstream):
    app = app_factory(GATEWAY_MASTER_KEY="master-secret-for-tests")
    response = app.test_client().post(
        "/v1/chat/completions", json={"model": "mock-echo", "messages": HI},
        headers={"Authorization": "Bearer master-secret-for-tests"})
    assert response.status_code == 200
    row = logged(app, response.headers["x-request-id"])
    assert row.api_key_id is None and row.status_code == 200


def test_stream_cut_mid_way_ends_with_an_error_event_and_is_logged(openai_client, upstream, app):
    upstream.script(Stream(openai_chunks("one two three four five", model="gpt-upstream"),
                           cut_after=3))
    received = []
    with pytest.raises(openai.APIError) as info:
        for chunk in openai_client.chat.completions.create(model="gpt-test", messages=HI,
                                                           stream=True):
            received.append(chunk.choices[0].delta.content if chunk.choices else None)
    assert received == ["", "one", " two"]  # what came before the cut reached the client
    assert "upstream" in info.value.message.lower()
    [row] = logged(app, count=1)
    assert row.status_code == 502 and row.stream is True
    assert row.error_type == "upstream_connection_error"
    assert row.time_to_first_token_ms is not None


def test_upstream_error_object_mid_stream_reaches_the_client(live_server, api_key, upstream, app):
    import requests

    events = openai_chunks("a b", model="gpt-upstream")[:2] + [
        (None, {"error": {"message": "model crashed", "type": "server_error"}})]
    upstream.script(Stream(events))
    response = requests.post(f"{live_server}/v1/chat/completions", stream=True, json={
        "model": "gpt-test", "messages": HI, "stream": True},
        headers={"Authorization": f"Bearer {api_key}"})
    assert response.status_code == 200
    frames = [line for line in response.iter_lines() if line]
    assert b"model crashed" in frames[-2] and frames[-1] == b"data: [DONE]"
    assert logged(app, count=1)[0].status_code == 502


def test_client_disconnect_mid_stream_closes_upstream_and_is_logged(openai_client, upstream,
                                                                     app):
    upstream.script(Stream(openai_chunks(" ".join(["word"] * 50), model="gpt-upstream"),
                           chunk_delay=0.05))
    stream = openai_client.chat.completions.create(model="gpt-test", messages=HI, stream=True)
    next(iter(stream))
    next(iter(stream))
    stream.close()
    assert upstream.wait_disconnect(timeout=2.0) is not None
    [row] = logged(app, count=1)
    assert row.error_type == "client_disconnected" and row.status_code == 499


def test_keepalive_comments_while_the_upstream_is_silent(app_factory, upstream):
    import requests

    app = app_factory(STREAM_KEEPALIVE_SECONDS=0.1)
    key = create_key(app)
    upstream.script(Stream(openai_chunks("slow words here", model="gpt-upstream"),
                           chunk_delay=0.35))
    with serving(app) as url:
        response = requests.post(f"{url}/v1/chat/completions", stream=True,
                                 json={"model": "gpt-test", "messages": HI, "stream": True},
                                 headers={"Authorization": f"Bearer {key}"})
        lines = [line for line in response.iter_lines() if line]
    assert lines.count(b": keep-alive") >= 2
    assert lines[-1] == b"data: [DONE]"
    chunks = [json.loads(line[6:]) for line in lines if line.startswith(b"data: {")]
    assert "".join(c["choices"][0]["delta"].get("content") or ""
                   for c in chunks if c["choices"]) == "slow words here"


def test_an_anthropic_overload_reaches_openai_clients_as_503_and_is_logged_so(
        openai_client, upstream, app):
    """The row holds what the client got; the upstream's 529 stays in the attempts."""
    upstream.script(Reply(status=529))
    with pytest.raises(openai.APIStatusError) as info:
        openai_client.chat.completions.create(model="claude-test",
                                              messages=[{"role": "user", "content": "hi"}])
    assert info.value.status_code == 503
    [row] = logged(app, count=1)
    assert row.status_code == 503 and row.error_type == "upstream_overloaded"
    assert [attempt["status"] for attempt in row.attempts] == [529]


@pytest.mark.parametrize("status", [503, 529])
def test_an_overloaded_upstream_stays_an_overload_on_both_surfaces(app, live_server, api_key,
                                                                   upstream, status):
    """503 to OpenAI clients, 529 overloaded_error to Anthropic clients, whatever the vendor."""
    import anthropic

    openai_client = openai.OpenAI(base_url=f"{live_server}/v1", api_key=api_key, max_retries=0)
    anthropic_client = anthropic.Anthropic(base_url=live_server, api_key=api_key, max_retries=0)
    for model in ("gpt-test", "claude-test"):
        upstream.script(Reply(status=status), Reply(status=status))
        with pytest.raises(openai.APIStatusError) as info:
            openai_client.chat.completions.create(model=model, messages=[{"role": "user",
                                                                          "content": "hi"}])
        assert info.value.status_code == 503
        assert info.value.body["code"] == "upstream_overloaded"
        with pytest.raises(anthropic.APIStatusError) as info:
            anthropic_client.messages.create(model=model, max_tokens=5,
                                             messages=[{"role": "user", "content": "hi"}])
        assert info.value.status_code == 529
        assert info.value.body["error"]["type"] == "overloaded_error"



@pytest.mark.parametrize("model", ["gpt-test", "claude-test", "resp-test"])
def test_streams_one_after_another_reuse_the_upstream_connection(openai_client, upstream, model):
    """The pipeline stops reading a vendor's stream at its end event ([DONE], message_stop,
    response.completed); the body's last chunk is still read, so the next stream to the vendor
    goes on the same connection, with no new TCP and TLS handshake per stream."""
    for _ in range(3):
        chunks = list(openai_client.chat.completions.create(
            model=model, messages=HI, stream=True, stream_options={"include_usage": True}))
        text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
        assert text == "hello there gateway"
    assert len(upstream.requests) == 3
    assert len({r.conn_id for r in upstream.requests}) == 1
