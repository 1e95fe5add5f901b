"""All four (client SDK → vendor format) pairs end to end, streamed and not: the official SDK is
the client, the mock upstream the vendor. Each case asserts what the SDK parsed (stream
accumulators included) and what the upstream received."""
import json
from dataclasses import dataclass, field

import anthropic
import openai
import pytest

from tests.conftest import logged
from tests.mock_upstream import (
    Reply,
    Stream,
    anthropic_events,
    anthropic_message,
    openai_chunks,
    openai_completion,
)

PNG = ("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5E"
       "rkJggg==")
WEATHER_ARGS = {"city": "Paris", "unit": "celsius"}
TIME_ARGS = {"timezone": "Europe/Paris"}
CLIENTS = ["openai", "anthropic"]
VENDORS = {"openai": "gpt-test", "anthropic": "claude-test"}
PAIRS = [(c, v) for c in CLIENTS for v in VENDORS]


@dataclass
class Outcome:
    text: str
    tools: list = field(default_factory=list)  # [(id, name, args dict)]
    stop: str = ""  # "end" | "tool"
    output_tokens: int = 0


# --- requests in each client's format ----------------------------------------------------------

def openai_request(scenario):
    user = {"role": "user", "content": "What is the weather in Paris?"}
    tools = [{"type": "function", "function": {
        "name": name, "description": f"get {name}", "parameters": {"type": "object"}}}
        for name in ("get_weather", "get_time")]
    if scenario == "image":
        return {"messages": [{"role": "user", "content": [
            {"type": "text", "text": "Describe"},
            {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG}"}}]}]}
    if scenario == "tool_result":
        return {"tools": tools, "messages": [user, {
            "role": "assistant", "content": None, "tool_calls": [{
                "id": "call_w1", "type": "function",
                "function": {"name": "get_weather", "arguments": json.dumps(WEATHER_ARGS)}}]},
            {"role": "tool", "tool_call_id": "call_w1", "content": "sunny, 21C"}]}
    if scenario in ("tool", "parallel_tools"):
        return {"tools": tools, "messages": [user]}
    return {"messages": [user]}


def anthropic_request(scenario):
    user = {"role": "user", "content": "What is the weather in Paris?"}
    tools = [{"name": name, "description": f"get {name}", "input_schema": {"type": "object"}}
             for name in ("get_weather", "get_time")]
    if scenario == "image":
        return {"messages": [{"role": "user", "content": [
            {"type": "text", "text": "Describe"},
            {"type": "image", "source": {"type": "base64", "media_type": "image/png",
                                         "data": PNG}}]}]}
    if scenario == "tool_result":
        return {"tools": tools, "messages": [user, {"role": "assistant", "content": [
            {"type": "tool_use", "id": "call_w1", "name": "get_weather", "input": WEATHER_ARGS}]},
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "call_w1",
                                          "content": "sunny, 21C"}]}]}
    if scenario in ("tool", "parallel_tools"):
        return {"tools": tools, "messages": [user]}
    return {"messages": [user]}


# --- what the vendor answers, in its own format -------------------------------------------------

def answer(scenario):
    if scenario == "tool":
        return "", [("call_w2", "get_weather", WEATHER_ARGS)]
    if scenario == "parallel_tools":
        return "Let me check.", [("call_w3", "get_weather", WEATHER_ARGS),
                                 ("call_t3", "get_time", TIME_ARGS)]
    if scenario == "tool_result":
        return "It is sunny and 21C in Paris.", []
    if scenario == "image":
        return "A single pixel.", []
    return "Hello from the vendor!", []


def script(upstream, vendor, scenario, stream):
    text, tools = answer(scenario)
    if vendor == "openai":
        calls = [(i, n, json.dumps(a)) for i, n, a in tools]
        upstream.script(Stream(openai_chunks(text, "gpt-upstream", calls, usage=(20, 7, 4),
                                             split=3))
                        if stream else Reply(json=openai_completion(text, "gpt-upstream", calls,
                                                                    usage=(20, 7, 4))))
    else:
        upstream.script(Stream(anthropic_events(text, "claude-upstream", tools, usage=(16, 7, 4),
                                                split=3))
                        if stream else Reply(json=anthropic_message(text, "claude-upstream", tools,
                                                                    usage=(16, 7, 4))))


# --- calling the gateway with each SDK ---------------------------------------------------------

def call_openai(client, model, request, stream):
    if stream:
        with client.chat.completions.stream(model=model, **request,
                                            stream_options={"include_usage": True}) as s:
            completion = s.get_final_completion()
    else:
        completion = client.chat.completions.create(model=model, **request)
    message = completion.choices[0].message
    tools = [(c.id, c.function.name, json.loads(c.function.arguments))
             for c in message.tool_calls or []]
    stop = {"tool_calls": "tool", "stop": "end"}[completion.choices[0].finish_reason]
    return Outcome(message.content or "", tools, stop, completion.usage.completion_tokens)


def call_anthropic(client, model, request, stream):
    if stream:
        with client.messages.stream(model=model, max_tokens=1000, **request) as s:
            message = s.get_final_message()
    else:
        message = client.messages.create(model=model, max_tokens=1000, **request)
    text = "".join(b.text for b in message.content if b.type == "text")
    tools = [(b.id, b.name, b.input) for b in message.content if b.type == "tool_use"]
    stop = {"tool_use": "tool", "end_turn": "end"}[message.stop_reason]
    return Outcome(text, tools, stop, message.usage.output_tokens)


def run(client_kind, openai_client, anthropic_client, model, scenario, stream):
    if client_kind == "openai":
        return call_openai(openai_client, model, openai_request(scenario), stream)
    return call_anthropic(anthropic_client, model, anthropic_request(scenario), stream)


# --- the upstream side ---------------------------------------------------------------------------

def check_upstream_request(received, vendor, scenario, stream):
    body = received.json
    if vendor == "openai":
        assert received.path == "/v1/chat/completions" and body["model"] == "gpt-upstream"
        if stream:
            assert body["stream_options"]["include_usage"] is True
        messages = body["messages"]
        if scenario == "tool_result":
            assert messages[1]["tool_calls"][0]["id"] == "call_w1"
            assert json.loads(messages[1]["tool_calls"][0]["function"]["arguments"]) == \
                WEATHER_ARGS
            assert messages[2] == {"role": "tool", "tool_call_id": "call_w1",
                                   "content": "sunny, 21C"}
        if scenario == "image":
            parts = messages[0]["content"]
            assert {"type": "image_url",
                    "image_url": {"url": f"data:image/png;base64,{PNG}"}} in parts
        if scenario in ("tool", "parallel_tools"):
            assert [t["function"]["name"] for t in body["tools"]] == ["get_weather", "get_time"]
    else:
        assert received.path == "/v1/messages" and body["model"] == "claude-upstream"
        assert isinstance(body["max_tokens"], int)
        messages = body["messages"]
        if scenario == "tool_result":
            assert messages[1]["content"][0]["type"] == "tool_use"
            assert messages[1]["content"][0]["input"] == WEATHER_ARGS
            result = messages[2]["content"][0]
            assert result["type"] == "tool_result" and result["tool_use_id"] == "call_w1"
        if scenario == "image":
            image = [b for b in messages[0]["content"] if b["type"] == "image"][0]
            assert image["source"] == {"type": "base64", "media_type": "image/png", "data": PNG}
        if scenario in ("tool", "parallel_tools"):
            assert [t["name"] for t in body["tools"]] == ["get_weather", "get_time"]
            assert body["tools"][0]["input_schema"] == {"type": "object"}


SCENARIOS = ["text", "tool", "parallel_tools", "tool_result", "image"]


@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
@pytest.mark.parametrize("scenario", SCENARIOS)
@pytest.mark.parametrize("client_kind, vendor", PAIRS, ids=[f"{c}-to-{v}" for c, v in PAIRS])
def test_pair(client_kind, vendor, scenario, stream, openai_client, anthropic_client, upstream,
              app):
    script(upstream, vendor, scenario, stream)
    outcome = run(client_kind, openai_client, anthropic_client, VENDORS[vendor], scenario, stream)
    text, tools = answer(scenario)
    assert outcome.text == text
    assert outcome.tools == tools
    assert outcome.stop == ("tool" if tools else "end")
    assert outcome.output_tokens == 7
    check_upstream_request(upstream.last(), vendor, scenario, stream)
    [row] = logged(app, count=1)
    assert (row.status_code, row.surface, row.stream) == (
        200, "openai" if client_kind == "openai" else "anthropic", stream)
    assert row.output_tokens == 7 and row.cached_tokens == 4 and row.input_tokens == 20
    assert row.cost_usd > 0


ERRORS = {"openai": {429: openai.RateLimitError, 500: openai.APIStatusError},
          "anthropic": {429: anthropic.RateLimitError, 500: anthropic.APIStatusError}}


@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
@pytest.mark.parametrize("status", [429, 500])
@pytest.mark.parametrize("client_kind, vendor", PAIRS, ids=[f"{c}-to-{v}" for c, v in PAIRS])
def test_upstream_error(client_kind, vendor, status, stream, openai_client, anthropic_client,
                        upstream, app):
    upstream.script(Reply(status=status, headers={"retry-after": "3"}))
    with pytest.raises(ERRORS[client_kind][status]) as info:
        run(client_kind, openai_client, anthropic_client, VENDORS[vendor], "text", stream)
    expected_status = 429 if status == 429 else 502
    assert info.value.status_code == expected_status
    if status == 429:
        assert info.value.response.headers["retry-after"] == "3"
    body = info.value.body
    if client_kind == "anthropic":
        assert body["type"] == "error"
        assert body["error"]["type"] == ("rate_limit_error" if status == 429 else "api_error")
    else:
        assert body["type"] == ("rate_limit_error" if status == 429 else "api_error")
    [row] = logged(app, count=1)
    assert row.status_code == expected_status


@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
def test_openai_client_gets_anthropic_thinking_and_can_send_it_back(stream, openai_client,
                                                                    upstream):
    if stream:
        upstream.script(Stream(anthropic_events("42.", "claude-upstream",
                                                thinking=("Let me think.", "sig-1"))))
        with openai_client.chat.completions.stream(
                model="claude-test", reasoning_effort="high",
                messages=[{"role": "user", "content": "Answer?"}]) as s:
            message = s.get_final_completion().choices[0].message
    else:
        upstream.script(Reply(json=anthropic_message("42.", "claude-upstream",
                                                     thinking=("Let me think.", "sig-1"))))
        message = openai_client.chat.completions.create(
            model="claude-test", reasoning_effort="high",
            messages=[{"role": "user", "content": "Answer?"}]).choices[0].message
    sent = upstream.last().json
    assert sent["thinking"]["type"] == "enabled"
    assert sent["max_tokens"] > sent["thinking"]["budget_tokens"] >= 1024
    assert message.content == "42."
    extra = message.model_extra
    assert extra["reasoning_content"] == "Let me think."
    assert extra["thinking_blocks"] == [
        {"type": "thinking", "thinking": "Let me think.", "signature": "sig-1"}]
    # the next turn carries the signed thinking back to Anthropic untouched
    upstream.script(Reply(json=anthropic_message("ok", "claude-upstream")))
    openai_client.chat.completions.create(model="claude-test", messages=[
        {"role": "user", "content": "Answer?"},
        {"role": "assistant", "content": "42.", "thinking_blocks": extra["thinking_blocks"]},
        {"role": "user", "content": "Sure?"}])
    history = upstream.last().json["messages"][1]["content"]
    assert history[0] == {"type": "thinking", "thinking": "Let me think.", "signature": "sig-1"}


@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
def test_anthropic_client_gets_openai_reasoning_as_thinking(stream, anthropic_client, upstream):
    if stream:
        chunks = openai_chunks("Done.", "gpt-upstream")
        reasoning = {**chunks[1][1], "choices": [{"index": 0, "delta": {
            "reasoning_content": "Considering."}, "finish_reason": None, "logprobs": None}]}
        upstream.script(Stream([chunks[0], (None, reasoning)] + chunks[1:]))
        with anthropic_client.messages.stream(model="gpt-test", max_tokens=100, messages=[
                {"role": "user", "content": "Go"}]) as s:
            message = s.get_final_message()
    else:
        completion = openai_completion("Done.", "gpt-upstream")
        completion["choices"][0]["message"]["reasoning_content"] = "Considering."
        upstream.script(Reply(json=completion))
        message = anthropic_client.messages.create(model="gpt-test", max_tokens=100, messages=[
            {"role": "user", "content": "Go"}])
    assert [b.type for b in message.content] == ["thinking", "text"]
    assert message.content[0].thinking == "Considering." and message.content[1].text == "Done."
