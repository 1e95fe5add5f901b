"""Chat Completions and Anthropic Messages clients on resp-test (a Responses-format vendor), end
to end through the official SDKs, sync and stream (their stream helpers accumulate what the
gateway sends): text, usage, the vendor's model, what the vendor received, tool calls, length,
errors before and after the stream began, and the log rows."""
import json

import anthropic
import openai
import pytest

from tests.conftest import logged
from tests.mock_responses import responses_failure
from tests.mock_upstream import Reply, Stream
from tests.responses_helpers import STREAMS, script, sent

WEATHER = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}
CALLS = [("call_1", "get_weather", '{"city": "Paris"}'), ("call_2", "get_weather",
                                                          '{"city": "Rome"}')]


def chat(client, stream, **request):
    if stream:
        with client.chat.completions.stream(**request) as events:
            return events.get_final_completion()
    return client.chat.completions.create(**request)


def messages(client, stream, **request):
    request.setdefault("max_tokens", 300)
    if stream:
        with client.messages.stream(**request) as events:
            return events.get_final_message()
    return client.messages.create(**request)


@pytest.mark.parametrize("stream", STREAMS)
def test_a_chat_client_gets_text_usage_and_the_vendors_model(openai_client, upstream, app,
                                                             stream):
    script(upstream, "responses", stream, "Bonjour.", reasoning_tokens=2)
    answer = chat(openai_client, stream, model="resp-test", max_tokens=50, temperature=0.2,
                  stream_options={"include_usage": True} if stream else None,
                  messages=[{"role": "system", "content": "Speak French."},
                            {"role": "user", "content": "Hello"}])
    assert answer.choices[0].message.content == "Bonjour."
    assert answer.choices[0].finish_reason == "stop"
    assert answer.model == "resp-upstream"
    usage = answer.usage
    assert (usage.prompt_tokens, usage.completion_tokens,
            usage.prompt_tokens_details.cached_tokens) == (20, 7, 4)
    body = sent(upstream)
    assert (body["model"], body["instructions"], body["max_output_tokens"],
            body["temperature"]) == ("resp-upstream", "Speak French.", 50, 0.2)
    assert body["input"] == [{"type": "message", "role": "user", "content": "Hello"}], \
        body["input"]
    row = logged(app, count=1)[0]
    assert (row.surface, row.endpoint, row.provider, row.upstream_model, row.status_code) == (
        "openai", "chat", "up-responses", "resp-upstream", 200)
    assert (row.input_tokens, row.cached_tokens, row.output_tokens) == (20, 4, 7)


@pytest.mark.parametrize("stream", STREAMS)
def test_a_chat_client_gets_parallel_tool_calls_and_sends_them_back(openai_client, upstream,
                                                                    stream):
    script(upstream, "responses", stream, calls=CALLS, split=3)
    tools = [{"type": "function", "function": {"name": "get_weather", "parameters": WEATHER}}]
    answer = chat(openai_client, stream, model="resp-test", tools=tools, tool_choice="required",
                  parallel_tool_calls=True,
                  messages=[{"role": "user", "content": "Paris and Rome?"}])
    choice = answer.choices[0]
    assert choice.finish_reason == "tool_calls"
    assert [(c.id, c.function.name, json.loads(c.function.arguments))
            for c in choice.message.tool_calls] == [
        ("call_1", "get_weather", {"city": "Paris"}), ("call_2", "get_weather", {"city": "Rome"})]
    body = sent(upstream)
    assert body["tools"] == [{"type": "function", "name": "get_weather", "parameters": WEATHER,
                              "strict": False}]  # Chat's default; Responses' is true
    assert (body["tool_choice"], body["parallel_tool_calls"]) == ("required", True)
    script(upstream, "responses", stream, "Both sunny.")
    history = [{"role": "user", "content": "Paris and Rome?"},
               choice.message.model_dump(exclude_none=True),
               {"role": "tool", "tool_call_id": "call_1", "content": "sunny"},
               {"role": "tool", "tool_call_id": "call_2", "content": "sunny too"}]
    again = chat(openai_client, stream, model="resp-test", tools=tools, messages=history)
    assert again.choices[0].message.content == "Both sunny."
    items = sent(upstream)["input"]
    assert [i.get("type") for i in items[1:]] == ["function_call", "function_call",
                                                  "function_call_output", "function_call_output"]
    assert [i["call_id"] for i in items[1:]] == ["call_1", "call_2", "call_1", "call_2"]
    assert items[3]["output"] == "sunny"


@pytest.mark.parametrize("stream", STREAMS)
def test_an_anthropic_client_gets_text_and_usage(anthropic_client, upstream, app, stream):
    script(upstream, "responses", stream, "Hello back.")
    message = messages(anthropic_client, stream, model="resp-test", system="Be kind.",
                       messages=[{"role": "user", "content": "Hello"}], max_tokens=64)
    assert [b.text for b in message.content] == ["Hello back."]
    assert message.stop_reason == "end_turn" and message.model == "resp-upstream"
    assert (message.usage.input_tokens, message.usage.cache_read_input_tokens,
            message.usage.output_tokens) == (16, 4, 7)
    body = sent(upstream)
    assert (body["instructions"], body["max_output_tokens"]) == ("Be kind.", 64)
    row = logged(app, count=1)[0]
    assert (row.surface, row.endpoint, row.provider, row.status_code) == (
        "anthropic", "messages", "up-responses", 200)
    assert (row.input_tokens, row.cached_tokens, row.output_tokens) == (20, 4, 7)


@pytest.mark.parametrize("stream", STREAMS)
def test_an_anthropic_client_gets_tool_uses_and_sends_results_back(anthropic_client, upstream,
                                                                   stream):
    script(upstream, "responses", stream, "Let me check.", calls=CALLS, split=2)
    tools = [{"name": "get_weather", "description": "Weather.", "input_schema": WEATHER}]
    message = messages(anthropic_client, stream, model="resp-test", tools=tools,
                       tool_choice={"type": "any", "disable_parallel_tool_use": False},
                       messages=[{"role": "user", "content": "Paris and Rome?"}])
    assert message.stop_reason == "tool_use"
    assert [b.type for b in message.content] == ["text", "tool_use", "tool_use"]
    assert [(b.id, b.input) for b in message.content[1:]] == [
        ("call_1", {"city": "Paris"}), ("call_2", {"city": "Rome"})]
    body = sent(upstream)
    assert body["tool_choice"] == "required"
    assert body["tools"][0]["name"] == "get_weather"
    script(upstream, "responses", stream, "Sunny both.")
    history = [{"role": "user", "content": "Paris and Rome?"},
               {"role": "assistant", "content": [b.model_dump() for b in message.content]},
               {"role": "user", "content": [
                   {"type": "tool_result", "tool_use_id": "call_1", "content": "sunny"},
                   {"type": "tool_result", "tool_use_id": "call_2", "content": "sunny"}]}]
    again = messages(anthropic_client, stream, model="resp-test", tools=tools, messages=history)
    assert again.content[0].text == "Sunny both."
    kinds = [i.get("type", "message") for i in sent(upstream)["input"]]
    assert kinds == ["message", "message", "function_call", "function_call",
                     "function_call_output", "function_call_output"]


@pytest.mark.parametrize("stream", STREAMS)
def test_length_on_both_clients(openai_client, anthropic_client, upstream, stream):
    """(The openai SDK's stream helper raises at finish_reason length: raw chunks here.)"""
    script(upstream, "responses", stream, "Trunc", length=True)
    request = {"model": "resp-test", "max_tokens": 5,
               "messages": [{"role": "user", "content": "Long"}]}
    if stream:
        chunks = list(openai_client.chat.completions.create(stream=True, **request))
        finishes = [c.choices[0].finish_reason for c in chunks if c.choices]
        assert [f for f in finishes if f] == ["length"]
        assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == "Trunc"
    else:
        answer = openai_client.chat.completions.create(**request)
        assert answer.choices[0].finish_reason == "length"
    script(upstream, "responses", stream, "Trunc", length=True)
    message = messages(anthropic_client, stream, model="resp-test", max_tokens=5,
                       messages=[{"role": "user", "content": "Long"}])
    assert message.stop_reason == "max_tokens"


@pytest.mark.parametrize("stream", STREAMS)
def test_upstream_errors_before_the_stream_reach_both_clients(openai_client, anthropic_client,
                                                              upstream, app, stream):
    """(The 503 first: after a 429 the upstream key cools down.)"""
    upstream.script(Reply(status=503))
    with pytest.raises(anthropic.APIStatusError) as caught:
        messages(anthropic_client, stream, model="resp-test",
                 messages=[{"role": "user", "content": "x"}])
    assert caught.value.status_code == 529
    assert caught.value.body["error"]["type"] == "overloaded_error"
    upstream.script(Reply(status=429))
    with pytest.raises(openai.RateLimitError):
        chat(openai_client, stream, model="resp-test", messages=[{"role": "user",
                                                                  "content": "x"}])
    rows = logged(app, count=2)
    assert sorted((r.surface, r.status_code) for r in rows) == [("anthropic", 529),
                                                                 ("openai", 429)]


def test_a_failure_mid_stream_reaches_both_clients_as_an_error(openai_client, anthropic_client,
                                                              upstream, app):
    upstream.script(Stream(responses_failure(code="server_is_overloaded", message="busy",
                                             text="partial", model="resp-upstream")))
    with pytest.raises(openai.APIError) as caught:
        chat(openai_client, True, model="resp-test", messages=[{"role": "user",
                                                                "content": "x"}])
    assert "busy" in str(caught.value.message)
    upstream.script(Stream(responses_failure(code="server_error", message="boom",
                                             text="partial", model="resp-upstream")))
    with pytest.raises(anthropic.APIStatusError) as caught:
        messages(anthropic_client, True, model="resp-test",
                 messages=[{"role": "user", "content": "x"}])
    assert "boom" in str(caught.value.message)
    rows = logged(app, count=2)
    assert sorted((r.surface, r.status_code) for r in rows) == [("anthropic", 502),
                                                                 ("openai", 503)]
