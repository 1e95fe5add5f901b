"""The Anthropic surface: pass-through, Claude Code's request shape on an OpenAI-format vendor,
count_tokens, keep-alive pings, and errors in Anthropic's shape."""
import json

import anthropic
import pytest
import requests

from app.gateway import tokens
from tests.conftest import create_key, logged, serving
from tests.mock_upstream import Reply, Stream, anthropic_events, anthropic_message, openai_chunks

HI = [{"role": "user", "content": "hello"}]


def sse_events(response):
    """[(event, data)] of a raw SSE response."""
    events, name = [], None
    for line in response.iter_lines():
        if line.startswith(b"event: "):
            name = line[7:].decode()
        elif line.startswith(b"data: "):
            events.append((name, json.loads(line[6:])))
            name = None
    return events


def post_messages(live_server, key, body, **headers):
    return requests.post(f"{live_server}/v1/messages?beta=true", json=body, stream=True,
                         headers={"x-api-key": key, "anthropic-version": "2023-06-01", **headers})


def test_passthrough_keeps_thinking_signatures_and_forwards_version_and_beta(
        live_server, api_key, upstream):
    message = anthropic_message("answer", "claude-upstream", thinking=("pondering", "sig-XYZ"))
    message["vendor_extra"] = {"kept": True}
    upstream.script(Reply(json=message))
    response = post_messages(live_server, api_key, {
        "model": "claude-test", "max_tokens": 100, "messages": HI,
        "thinking": {"type": "enabled", "budget_tokens": 1024}},
        **{"anthropic-beta": "interleaved-thinking-2025-05-14"})
    assert response.status_code == 200
    assert response.json() == message  # byte-for-byte pass-through
    received = upstream.last()
    assert received.headers["anthropic-beta"] == "interleaved-thinking-2025-05-14"
    assert received.headers["anthropic-version"] == "2023-06-01"
    assert received.json["thinking"] == {"type": "enabled", "budget_tokens": 1024}


def test_streamed_passthrough_keeps_events_and_signatures(anthropic_client, upstream, app):
    upstream.script(Stream(anthropic_events("the answer", "claude-upstream",
                                            thinking=("hmm", "sig-ABC"), usage=(30, 9, 10))))
    with anthropic_client.messages.stream(model="claude-test", max_tokens=100,
                                          messages=HI) as stream:
        final = stream.get_final_message()
    assert final.content[0].type == "thinking" and final.content[0].signature == "sig-ABC"
    assert final.content[1].text == "the answer"
    [row] = logged(app, count=1)
    assert row.surface == "anthropic" and row.endpoint == "messages"
    assert (row.input_tokens, row.cached_tokens, row.output_tokens) == (40, 10, 9)


CLAUDE_CODE_REQUEST = {
    "model": "gpt-test",
    "max_tokens": 32000,
    "stream": True,
    "system": [
        {"type": "text", "text": "You are Claude Code, Anthropic's official CLI for Claude."},
        {"type": "text", "text": "Follow the repository's conventions.",
         "cache_control": {"type": "ephemeral"}}],
    "messages": [
        {"role": "user", "content": [
            {"type": "text", "text": "List the files, then read README.md",
             "cache_control": {"type": "ephemeral"}}]},
    ],
    "tools": [
        {"name": "Bash", "description": "Run a shell command",
         "input_schema": {"type": "object", "properties": {"command": {"type": "string"}},
                          "required": ["command"]}},
        {"name": "Read", "description": "Read a file",
         "input_schema": {"type": "object", "properties": {"file_path": {"type": "string"}},
                          "required": ["file_path"]}}],
    "thinking": {"type": "enabled", "budget_tokens": 16000},
    "metadata": {"user_id": "user_abc_account_123_session_456"},
    "temperature": 1,
}


def test_claude_code_request_on_an_openai_format_vendor(live_server, api_key, upstream, app):
    upstream.script(Stream(openai_chunks(
        "I'll look.", "gpt-upstream", usage=(250, 40, 0), split=5,
        tool_calls=[("call_ls", "Bash", '{"command": "ls -la"}'),
                    ("call_rd", "Read", '{"file_path": "README.md"}')])))
    response = post_messages(live_server, api_key, CLAUDE_CODE_REQUEST,
                             **{"anthropic-beta": "claude-code-20250219"})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    events = sse_events(response)
    names = [n for n, _ in events]
    assert names[:2] == ["message_start", "ping"]
    assert names[-2:] == ["message_delta", "message_stop"]
    start = events[0][1]["message"]
    assert start["usage"]["input_tokens"] > 0 and start["role"] == "assistant"
    blocks = [d["content_block"] for n, d in events if n == "content_block_start"]
    assert [b["type"] for b in blocks] == ["text", "tool_use", "tool_use"]
    assert [b.get("name") for b in blocks[1:]] == ["Bash", "Read"]
    fragments = [d["delta"]["partial_json"] for n, d in events
                 if n == "content_block_delta" and d["delta"]["type"] == "input_json_delta"]
    assert len(fragments) >= 5  # forwarded as they came, not buffered into one
    # every block is opened, then closed, in order, with matching indexes
    opened = [d["index"] for n, d in events if n == "content_block_start"]
    closed = [d["index"] for n, d in events if n == "content_block_stop"]
    assert opened == closed == [0, 1, 2]
    delta = events[-2][1]
    assert delta["delta"]["stop_reason"] == "tool_use" and delta["usage"]["output_tokens"] == 40
    sent = upstream.last().json
    assert sent["messages"][0]["role"] == "system"
    assert "Claude Code" in sent["messages"][0]["content"] or \
        "Claude Code" in json.dumps(sent["messages"][0])
    assert sent["user"] == "user_abc_account_123_session_456"
    assert sent["max_tokens"] <= 16384  # clamped to the model's limit, not 32000
    assert [t["function"]["name"] for t in sent["tools"]] == ["Bash", "Read"]
    assert sent["stream"] is True and sent["stream_options"] == {"include_usage": True}
    [row] = logged(app, count=1)
    assert row.input_tokens == 250 and row.output_tokens == 40 and row.status_code == 200


def test_empty_answer_is_a_well_formed_stream(anthropic_client, upstream):
    upstream.script(Stream(openai_chunks("", "gpt-upstream")))
    with anthropic_client.messages.stream(model="gpt-test", max_tokens=50, messages=HI) as s:
        final = s.get_final_message()
    assert final.stop_reason == "end_turn"
    assert "".join(b.text for b in final.content if b.type == "text") == ""


def test_count_tokens_uses_the_vendor_for_anthropic_models(anthropic_client, upstream):
    upstream.script(Reply(json={"input_tokens": 1234}))
    result = anthropic_client.messages.count_tokens(model="claude-test", messages=HI)
    assert result.input_tokens == 1234
    assert upstream.last().path == "/v1/messages/count_tokens"
    assert upstream.last().json["model"] == "claude-upstream"


def test_count_tokens_uses_a_real_tokenizer_for_openai_models(anthropic_client, upstream):
    short = anthropic_client.messages.count_tokens(model="gpt-test", messages=HI)
    text = "The quick brown fox jumps over the lazy dog. " * 20
    long = anthropic_client.messages.count_tokens(
        model="gpt-test", system="Be brief.",
        messages=[{"role": "user", "content": text}])
    assert upstream.requests == []  # counted locally
    body = {"messages": [{"role": "system", "content": "Be brief."},
                         {"role": "user", "content": text}]}
    assert long.input_tokens == tokens.count_chat_tokens(body, "gpt-upstream")
    assert long.input_tokens - short.input_tokens == (
        tokens.count_text(text, "gpt-upstream") - tokens.count_text("hello", "gpt-upstream")
        + tokens.count_text("Be brief.", "gpt-upstream")
        + tokens.count_text("system", "gpt-upstream") + tokens.PER_MESSAGE)


def test_keepalive_pings_while_the_upstream_is_silent(app_factory, upstream):
    app = app_factory(STREAM_KEEPALIVE_SECONDS=0.1)
    key = create_key(app)
    events = anthropic_events("slow answer", "claude-upstream")
    upstream.script(Stream(events, chunk_delay=0.35))
    with serving(app) as url:
        response = post_messages(url, key, {
            "model": "claude-test", "max_tokens": 10, "messages": HI, "stream": True})
        names = [n for n, _ in sse_events(response)]
    upstream_pings = sum(1 for n, _ in events if n == "ping")
    assert names.count("ping") > upstream_pings
    assert names[-1] == "message_stop"


@pytest.mark.parametrize("body, kind, needle", [
    ({"model": "claude-test", "messages": HI}, "invalid_request_error", "max_tokens"),
    ({"model": "claude-test", "max_tokens": 5, "messages": [{"role": "tool",
                                                             "content": "x"}]},
     "invalid_request_error", "messages[0].role"),
    ({"model": "nope", "max_tokens": 5, "messages": HI}, "not_found_error", "nope"),
])
def test_errors_use_anthropics_shape(live_server, api_key, body, kind, needle):
    response = post_messages(live_server, api_key, body)
    payload = response.json()
    assert payload["type"] == "error" and payload["error"]["type"] == kind
    assert needle in payload["error"]["message"]
    assert response.headers["x-request-id"]


def test_bad_key_is_anthropic_authentication_error(live_server):
    client = anthropic.Anthropic(base_url=live_server, api_key="sk-gw-nope", max_retries=0)
    with pytest.raises(anthropic.AuthenticationError) as info:
        client.messages.create(model="claude-test", max_tokens=5, messages=HI)
    assert info.value.body["error"]["type"] == "authentication_error"


def test_malformed_json_and_oversized_body(live_server, api_key, app_factory):
    response = requests.post(f"{live_server}/v1/messages", data=b"{oops",
                             headers={"x-api-key": api_key, "content-type": "application/json"})
    assert response.status_code == 400
    assert response.json()["error"]["type"] == "invalid_request_error"
    small = app_factory(MAX_REQUEST_BYTES=500)
    response = small.test_client().post(
        "/v1/messages", json={"model": "claude-test", "max_tokens": 5,
                              "messages": [{"role": "user", "content": "x" * 1000}]},
        headers={"x-api-key": create_key(small)})
    assert response.status_code == 413
    assert response.get_json()["error"]["type"] == "request_too_large"


def test_upstream_overload_is_529_overloaded_error(anthropic_client, upstream):
    upstream.script(Reply(status=529))
    with pytest.raises(anthropic.APIStatusError) as info:
        anthropic_client.messages.create(model="claude-test", max_tokens=5, messages=HI)
    assert info.value.status_code == 529
    assert info.value.body["error"]["type"] == "overloaded_error"


def test_error_mid_stream_is_an_error_event(live_server, api_key, upstream, app):
    events = anthropic_events("a b c d e f", "claude-upstream")
    upstream.script(Stream(events[:5] + [("error", {"type": "error", "error": {
        "type": "overloaded_error", "message": "Overloaded"}})]))
    response = post_messages(live_server, api_key, {"model": "claude-test", "max_tokens": 10,
                                                    "messages": HI, "stream": True})
    assert response.status_code == 200
    received = sse_events(response)
    assert received[-1][0] == "error"
    assert received[-1][1]["error"]["type"] == "overloaded_error"
    assert logged(app, count=1)[0].status_code == 529


def test_cut_stream_reaches_the_anthropic_sdk_as_an_error(anthropic_client, upstream, app):
    upstream.script(Stream(openai_chunks("one two three four", "gpt-upstream"), cut_after=3))
    with pytest.raises(anthropic.APIError):
        with anthropic_client.messages.stream(model="gpt-test", max_tokens=10,
                                              messages=HI) as stream:
            stream.get_final_message()
    [row] = logged(app, count=1)
    assert row.status_code == 502 and row.surface == "anthropic"
