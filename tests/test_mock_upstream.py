"""Self-test of tests/mock_upstream.py with the official SDKs as clients, over real sockets."""

import base64
import socket
import struct
import time

import anthropic
import httpx2
import openai
import pytest

from tests.mock_upstream import (
    Hang,
    MockUpstream,
    Reply,
    Stream,
    anthropic_events,
    anthropic_message,
    openai_chunks,
    openai_completion,
)

USER = [{"role": "user", "content": "hello there  wide world"}]


@pytest.fixture(scope="module")
def m():
    server = MockUpstream().start()
    yield server
    server.stop()


@pytest.fixture(autouse=True)
def _reset(m):
    m.reset()


@pytest.fixture
def oai(m):
    client = openai.OpenAI(base_url=m.openai_base_url, api_key="x", max_retries=0, timeout=5)
    yield client
    client.close()


@pytest.fixture
def claude(m):
    client = anthropic.Anthropic(base_url=m.anthropic_base_url, api_key="x", max_retries=0,
                                 timeout=5)
    yield client
    client.close()


def _quiet(capfd):
    err = capfd.readouterr().err
    assert "Traceback" not in err and "Exception" not in err, err


# ---------------------------------------------------------------------------- default echo


def test_openai_echo_non_stream(m, oai):
    messages = [{"role": "system", "content": "be brief"},
                {"role": "assistant", "content": "earlier answer"},
                {"role": "user", "content": [{"type": "text", "text": "first part"},
                                             {"type": "text", "text": "second"}]}]
    completion = oai.chat.completions.create(model="gpt-x", messages=messages)
    assert completion.object == "chat.completion"
    assert completion.model == "gpt-x"
    choice = completion.choices[0]
    assert choice.message.role == "assistant"
    assert choice.message.content == "first part second"
    assert choice.finish_reason == "stop"
    assert completion.usage.prompt_tokens == 7
    assert completion.usage.completion_tokens == 3
    assert completion.usage.total_tokens == 10
    assert completion.usage.prompt_tokens_details.cached_tokens == 0


@pytest.mark.parametrize("include_usage", [False, True])
def test_openai_echo_stream(m, oai, include_usage):
    extra = {"stream_options": {"include_usage": True}} if include_usage else {}
    chunks = list(oai.chat.completions.create(model="gpt-x", messages=USER, stream=True, **extra))
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "hello there  wide world"
    assert chunks[0].choices[0].delta.role == "assistant"
    assert all(c.object == "chat.completion.chunk" and c.model == "gpt-x" for c in chunks)
    finishes = [c.choices[0].finish_reason for c in chunks if c.choices]
    assert finishes[-1] == "stop" and set(finishes[:-1]) == {None}
    with_usage = [c for c in chunks if c.usage is not None]
    if include_usage:
        assert len(with_usage) == 1 and with_usage[0] is chunks[-1]
        assert chunks[-1].choices == []
        assert (chunks[-1].usage.prompt_tokens, chunks[-1].usage.completion_tokens) == (4, 4)
    else:
        assert with_usage == []
    assert m.last().json["stream"] is True


def test_anthropic_echo_non_stream(m, claude):
    message = claude.messages.create(
        model="claude-x", max_tokens=50, system="you are terse",
        messages=[{"role": "user", "content": [{"type": "text", "text": "ping pong"}]}],
    )
    assert message.type == "message" and message.role == "assistant"
    assert message.model == "claude-x"
    assert [b.type for b in message.content] == ["text"]
    assert message.content[0].text == "ping pong"
    assert message.stop_reason == "end_turn"
    assert message.usage.input_tokens == 5
    assert message.usage.output_tokens == 2


def test_anthropic_echo_stream(m, claude):
    with claude.messages.stream(model="claude-x", max_tokens=50, messages=USER) as stream:
        pieces = list(stream.text_stream)
        final = stream.get_final_message()
    assert "".join(pieces) == "hello there  wide world"
    assert final.content[0].text == "hello there  wide world"
    assert final.stop_reason == "end_turn"
    assert (final.usage.input_tokens, final.usage.output_tokens) == (4, 4)
    assert m.last().path == "/v1/messages" and m.last().json["stream"] is True


def test_anthropic_raw_events_have_names(m, claude):
    events = list(claude.messages.create(model="c", max_tokens=5, messages=USER, stream=True))
    kinds = [e.type for e in events]
    assert kinds[0] == "message_start" and kinds[-2:] == ["message_delta", "message_stop"]
    assert kinds.count("content_block_start") == 1


# ------------------------------------------------------------------------- scripted answers


def test_openai_tool_call_stream_accumulates(m, oai):
    args = '{"city": "Paris", "days": [1, 2, 3], "unit": "celsius"}'
    m.script(Stream(openai_chunks("Let me check.", tool_calls=[("call_1", "weather", args),
                                                               ("call_2", "noop", "{}")],
                                  usage=(20, 7, 4), split=5)))
    tools = [{"type": "function", "function": {"name": "weather", "parameters": {}}}]
    with oai.chat.completions.stream(model="gpt-test", messages=USER, tools=tools) as stream:
        final = stream.get_final_completion()
    message = final.choices[0].message
    assert message.content == "Let me check."
    assert [(c.id, c.function.name, c.function.arguments) for c in message.tool_calls] == [
        ("call_1", "weather", args), ("call_2", "noop", "{}")]
    assert final.choices[0].finish_reason == "tool_calls"
    assert final.usage.prompt_tokens_details.cached_tokens == 4
    assert m.last().json["tools"] == tools


def test_anthropic_tool_use_and_thinking_stream(m, claude):
    tool_input = {"city": "Paris", "days": [1, 2], "nested": {"deep": True}}
    m.script(Stream(anthropic_events("Checking.", tool_uses=[("toolu_1", "weather", tool_input)],
                                     thinking=("I should call the tool", "sig-123"),
                                     usage=(30, 9, 11), split=3)))
    with claude.messages.stream(model="c", max_tokens=50, messages=USER) as stream:
        final = stream.get_final_message()
    assert [b.type for b in final.content] == ["thinking", "text", "tool_use"]
    assert final.content[0].thinking == "I should call the tool"
    assert final.content[0].signature == "sig-123"
    assert final.content[1].text == "Checking."
    assert (final.content[2].id, final.content[2].name) == ("toolu_1", "weather")
    assert final.content[2].input == tool_input
    assert final.stop_reason == "tool_use"
    assert final.usage.output_tokens == 9 and final.usage.cache_read_input_tokens == 11


def test_scripted_non_stream_builders_parse(m, oai, claude):
    m.script(Reply(json=openai_completion(tool_calls=[("call_9", "f", '{"a": 1}')],
                                          usage=(3, 2, 1))),
             Reply(json=anthropic_message("ok", tool_uses=[("toolu_9", "f", {"a": 1})],
                                          thinking="hmm")))
    completion = oai.chat.completions.create(model="g", messages=USER)
    message = completion.choices[0].message
    assert message.content is None and message.tool_calls[0].function.arguments == '{"a": 1}'
    assert completion.choices[0].finish_reason == "tool_calls"
    answer = claude.messages.create(model="c", max_tokens=5, messages=USER)
    assert [b.type for b in answer.content] == ["thinking", "text", "tool_use"]
    assert answer.content[2].input == {"a": 1} and answer.stop_reason == "tool_use"


def test_openai_rate_limit(m, oai):
    m.script(Reply(status=429, headers={"retry-after": "3"}))
    with pytest.raises(openai.RateLimitError) as caught:
        oai.chat.completions.create(model="g", messages=USER)
    assert caught.value.response.headers["retry-after"] == "3"
    assert caught.value.body["code"] == "rate_limit_exceeded"


def test_anthropic_overloaded(m, claude):
    m.script(Reply(status=529))
    with pytest.raises(anthropic.OverloadedError) as caught:
        claude.messages.create(model="c", max_tokens=5, messages=USER)
    assert isinstance(caught.value, anthropic.InternalServerError)
    assert caught.value.status_code == 529
    assert caught.value.body["error"]["type"] == "overloaded_error"


def test_cut_stream_openai(m, oai, capfd):
    m.script(Stream(openai_chunks("one two three four"), cut_after=2))
    received = []
    with pytest.raises(openai.APIConnectionError) as caught:
        for chunk in oai.chat.completions.create(model="g", messages=USER, stream=True):
            received.append(chunk)
    assert len(received) == 2
    assert isinstance(caught.value.__cause__, httpx2.RemoteProtocolError)
    _quiet(capfd)


def test_cut_stream_anthropic(m, claude, capfd):
    # The anthropic SDK does not wrap this one: the raw httpx2 error reaches the caller.
    m.script(Stream(anthropic_events("one two three four"), cut_after=4))
    with pytest.raises((httpx2.RemoteProtocolError, anthropic.APIConnectionError)):
        with claude.messages.stream(model="c", max_tokens=5, messages=USER) as stream:
            stream.get_final_message()
    _quiet(capfd)


def test_hang_times_out_and_upstream_sees_close(m, oai, capfd):
    m.script(Hang(5))
    started = time.monotonic()
    with pytest.raises(openai.APITimeoutError):
        oai.with_options(timeout=0.5).chat.completions.create(model="g", messages=USER)
    seen = m.wait_disconnect(timeout=1.0, since=started)
    assert seen is not None and seen - started < 1.5
    _quiet(capfd)


def test_delayed_reply_client_gives_up(m, claude, capfd):
    m.script(Reply(json=anthropic_message("late"), delay=3))
    started = time.monotonic()
    with pytest.raises(anthropic.APITimeoutError):
        claude.with_options(timeout=0.3).messages.create(model="c", max_tokens=5, messages=USER)
    assert m.wait_disconnect(timeout=1.0, since=started) is not None
    _quiet(capfd)


def test_client_abandons_stream(m, oai, capfd):
    m.script(Stream(openai_chunks("a " * 50), chunk_delay=0.1))
    stream = oai.chat.completions.create(model="g", messages=USER, stream=True)
    next(iter(stream))
    closed_at = time.monotonic()
    stream.close()
    seen = m.wait_disconnect(timeout=1.0, since=closed_at)
    assert seen is not None and seen - closed_at < 1.0
    _quiet(capfd)


def test_stream_delay_and_chunk_delay(m, oai):
    m.script(Stream(openai_chunks("a b"), delay=0.2, chunk_delay=0.02))
    started = time.monotonic()
    text = "".join(c.choices[0].delta.content or ""
                   for c in oai.chat.completions.create(model="g", messages=USER, stream=True)
                   if c.choices)
    assert text == "a b" and time.monotonic() - started >= 0.25


# ---------------------------------------------------------------------- recording, routing


def test_requests_are_recorded(m, oai, claude):
    oai.chat.completions.create(model="gpt-x", messages=USER, extra_query={"trace": "1"})
    claude.messages.create(model="claude-x", max_tokens=5, messages=USER)
    first, second = m.requests
    assert (first.method, first.path, first.query) == ("POST", "/v1/chat/completions", "trace=1")
    assert first.headers["authorization"] == "Bearer x"
    assert first.headers["content-type"].startswith("application/json")
    assert first.json == {"model": "gpt-x", "messages": USER}
    # anthropic 2.x sends api_key as a Bearer token, not as x-api-key
    assert second.path == "/v1/messages"
    assert (second.headers.get("authorization") == "Bearer x"
            or second.headers.get("x-api-key") == "x")
    assert "anthropic-version" in second.headers
    assert second.json["max_tokens"] == 5
    assert m.last() is second


def test_keep_alive_reuses_one_connection(m, oai):
    for _ in range(3):
        oai.chat.completions.create(model="g", messages=USER)
    assert len({r.conn_id for r in m.requests}) == 1


def test_fifo_order_callable_raw_body_and_default_reply(m, oai):
    m.script(
        Reply(json=openai_completion("first")),
        lambda received: Reply(json=openai_completion(received.json["model"])),
        Reply(body=b'{"id":"x","object":"chat.completion","created":1,"model":"raw",'
                   b'"choices":[]}', json={"ignored": True}),
        Reply(headers={"x-extra": "1"}),  # the default echo, with an extra header
    )
    assert m.pending == 4
    assert oai.models.list().data[0].id == "gpt-test"  # a GET does not consume the FIFO
    assert oai.chat.completions.create(model="g", messages=USER).choices[0].message.content \
        == "first"
    assert oai.chat.completions.create(model="echo-model", messages=USER) \
        .choices[0].message.content == "echo-model"
    assert oai.chat.completions.create(model="g", messages=USER).model == "raw"
    raw = oai.chat.completions.with_raw_response.create(model="g", messages=USER)
    assert raw.headers["x-extra"] == "1"
    assert raw.parse().choices[0].message.content == "hello there  wide world"
    assert m.pending == 0
    m.script(Reply(status=500))
    m.reset()
    assert m.pending == 0 and m.requests == []


def test_count_tokens_embeddings_models_and_404(m, oai, claude):
    counted = claude.messages.count_tokens(model="c", system="two words", messages=USER)
    assert counted.input_tokens == 6
    default = oai.embeddings.create(model="emb", input=["alpha beta", "gamma"])  # base64 on wire
    assert m.last().json["encoding_format"] == "base64"
    floats = oai.embeddings.create(model="emb", input=["alpha beta", "gamma"],
                                   encoding_format="float")
    assert [d.index for d in floats.data] == [0, 1]
    assert all(len(d.embedding) == 8 for d in floats.data)
    assert [d.embedding for d in default.data] == [d.embedding for d in floats.data]
    assert floats.usage.prompt_tokens == 3 and floats.model == "emb"
    again = oai.embeddings.create(model="emb", input="gamma", encoding_format="float")
    assert again.data[0].embedding == floats.data[1].embedding
    models = oai.models.list()
    assert [model.id for model in models.data] == ["gpt-test"]
    with pytest.raises(openai.NotFoundError) as caught:
        oai.completions.create(model="g", prompt="x")
    assert caught.value.body["code"] == "unknown_url"


def test_raw_socket_chunked_framing_and_cut(m):
    """The wire format: chunked SSE ends with the 0-length chunk, a cut one does not."""
    def fetch(payload_events, cut_after=None):
        m.script(Stream(payload_events, cut_after=cut_after))
        body = b'{"stream": true}'
        with socket.create_connection(("127.0.0.1", m.port), timeout=2) as sock:
            sock.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\n"
                         b"Content-Type: application/json\r\n"
                         + f"Content-Length: {len(body)}\r\n\r\n".encode() + body)
            data = b""
            while True:
                part = sock.recv(65536)
                if not part or data.endswith(b"0\r\n\r\n"):
                    break
                data += part
                if data.endswith(b"0\r\n\r\n"):
                    break
        return data

    whole = fetch([("message_start", {"a": 1}), (None, "[DONE]")])
    assert b"Transfer-Encoding: chunked" in whole and b"text/event-stream" in whole
    assert b"event: message_start\ndata: {\"a\": 1}\n\n" in whole
    assert b"data: [DONE]\n\n" in whole and whole.endswith(b"\r\n0\r\n\r\n")
    cut = fetch([(None, {"n": 1}), (None, {"n": 2}), (None, {"n": 3})], cut_after=2)
    assert b'data: {"n": 2}' in cut and b'{"n": 3}' not in cut
    assert not cut.endswith(b"0\r\n\r\n")


# -------------------------------------------------------------------------------- builders


def test_builder_shapes():
    text = "  Hello,  world! \n bye "
    events = openai_chunks(text, include_usage=False)
    assert events[-1] == (None, "[DONE]")
    chunks = [data for _, data in events[:-1]]
    assert all("usage" not in c for c in chunks)
    assert chunks[0]["choices"][0]["delta"] == {"role": "assistant", "content": "",
                                                "refusal": None}
    assert "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks) == text
    assert chunks[-1]["choices"][0] == {"index": 0, "delta": {}, "logprobs": None,
                                        "finish_reason": "stop"}

    calls = openai_chunks(tool_calls=[("call_1", "f", "0123456789abcdefghij")], split=None)
    deltas = [d["choices"][0]["delta"] for _, d in calls[:-1] if d["choices"]]
    assert deltas[1]["tool_calls"][0] == {"index": 0, "id": "call_1", "type": "function",
                                          "function": {"name": "f", "arguments": ""}}
    fragments = [d["tool_calls"][0] for d in deltas[2:] if "tool_calls" in d]
    assert fragments[0] == {"index": 0, "function": {"arguments": "01234567"}}
    assert [len(f["function"]["arguments"]) for f in fragments] == [8, 8, 4]
    assert calls[-2][1]["choices"] == [] and calls[-2][1]["usage"]["total_tokens"] == 15
    assert all(d["usage"] is None for _, d in calls[:-2])

    names = [name for name, _ in anthropic_events("a b", tool_uses=[("t", "f", {"k": "v"})],
                                                     thinking="hm")]
    assert names[:2] == ["message_start", "ping"]
    assert names[-2:] == ["message_delta", "message_stop"]
    assert names.count("content_block_start") == names.count("content_block_stop") == 3
    start = anthropic_events()[0][1]["message"]
    assert start["content"] == [] and start["usage"]["output_tokens"] == 1
    message = anthropic_message("x", usage=(1, 2, 3))
    assert message["usage"] == {"input_tokens": 1, "output_tokens": 2,
                                "cache_read_input_tokens": 3, "cache_creation_input_tokens": 0}
    assert message["id"].startswith("msg_") and message["stop_sequence"] is None
    assert anthropic_message()["content"] == []


def test_embedding_base64_decodes_to_float32(m, oai):
    oai.embeddings.create(model="emb", input="x")
    raw = oai.embeddings.with_raw_response.create(model="emb", input="x")
    encoded = raw.http_response.json()["data"][0]["embedding"]
    assert len(struct.unpack("<8f", base64.b64decode(encoded))) == 8
