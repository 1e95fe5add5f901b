"""Answers and streams as official SDK clients get them through the gateway (real sockets, mock
upstream), on every route where each case applies: interleaved parallel tool calls, tool calls
with empty input, the `model` of every answer, and the faults peers' proxies are known for."""
import copy
import json

import pytest

from tests.conftest import logged
from tests.mock_upstream import (
    Reply,
    Stream,
    anthropic_events,
    anthropic_message,
    openai_chunks,
    openai_completion,
    openai_interleaved_tool_chunks,
)

MODELS = {"openai": "gpt-test", "anthropic": "claude-test"}  # vendor format → model
SENT = {"openai": "gpt-upstream", "anthropic": "claude-upstream"}  # the upstream model sent
PAIRS = [(c, v) for c in MODELS for v in MODELS]
PAIR_IDS = [f"{c}-to-{v}" for c, v in PAIRS]
STREAMS = [False, True]
HI = [{"role": "user", "content": "hi"}]
TOOLS_OPENAI = [{"type": "function", "function": {"name": name, "parameters": {"type": "object"}}}
                for name in ("get_weather", "get_time", "list_files")]
TOOLS_ANTHROPIC = [{"name": t["function"]["name"], "input_schema": {"type": "object"}}
                   for t in TOOLS_OPENAI]
WEATHER = ("call_w", "get_weather", '{"city": "Paris", "unit": "celsius"}')
TIME = ("call_t", "get_time", '{"timezone": "Europe/Paris"}')


def ask(client_kind, clients, vendor, stream, **request):
    """(text, [(id, name, input)], stop "end"/"tool", usage dict, model) as the SDK parsed it."""
    openai_client, anthropic_client = clients
    if client_kind == "openai":
        request.setdefault("tools", TOOLS_OPENAI)
        if stream:
            with openai_client.chat.completions.stream(
                    model=MODELS[vendor], messages=HI, stream_options={"include_usage": True},
                    **request) as events:
                completion = events.get_final_completion()
        else:
            completion = openai_client.chat.completions.create(model=MODELS[vendor], messages=HI,
                                                               **request)
        message, choice = completion.choices[0].message, completion.choices[0]
        tools = [(c.id, c.function.name, json.loads(c.function.arguments))
                 for c in message.tool_calls or []]
        usage = completion.usage
        return (message.content or "", tools,
                {"tool_calls": "tool", "stop": "end"}[choice.finish_reason],
                {"input": usage.prompt_tokens, "output": usage.completion_tokens,
                 "cached": usage.prompt_tokens_details.cached_tokens, "sdk": usage},
                completion.model)
    request.setdefault("tools", TOOLS_ANTHROPIC)
    if stream:
        with anthropic_client.messages.stream(model=MODELS[vendor], max_tokens=100, messages=HI,
                                              **request) as events:
            message = events.get_final_message()
    else:
        message = anthropic_client.messages.create(model=MODELS[vendor], max_tokens=100,
                                                   messages=HI, **request)
    tools = [(b.id, b.name, b.input) for b in message.content if b.type == "tool_use"]
    usage = message.usage
    return ("".join(b.text for b in message.content if b.type == "text"), tools,
            {"tool_use": "tool", "end_turn": "end"}[message.stop_reason],
            {"input": usage.input_tokens + (usage.cache_read_input_tokens or 0),
             "output": usage.output_tokens, "cached": usage.cache_read_input_tokens or 0,
             "sdk": usage},
            message.model)


@pytest.fixture
def clients(openai_client, anthropic_client):
    return openai_client, anthropic_client


def script(upstream, vendor, stream, text="", tools=(), usage=(10, 5, 0), model=None, **kw):
    """The vendor answers in its own format; tools: [(id, name, arguments JSON)]."""
    model = model or SENT[vendor]
    if vendor == "openai":
        upstream.script(Stream(openai_chunks(text, model, list(tools), usage=usage, **kw))
                        if stream else Reply(json=openai_completion(text, model, list(tools),
                                                                    usage=usage, **kw)))
    else:
        uses = [(i, n, json.loads(a)) for i, n, a in tools]
        stop = {"stop": "end_turn"}.get(kw.get("finish_reason"))
        kw = {"stop_reason": stop} if stop else {}
        upstream.script(Stream(anthropic_events(text, model, uses, usage=usage, **kw))
                        if stream else Reply(json=anthropic_message(text, model, uses,
                                                                    usage=usage, **kw)))


# ---- parallel tool calls whose fragments interleave (item 1) ---------------------------------

@pytest.mark.parametrize("client_kind", list(MODELS))
def test_interleaved_parallel_tool_calls_arrive_whole(client_kind, clients, upstream):
    upstream.script(Stream(openai_interleaved_tool_chunks([WEATHER, TIME], "gpt-upstream")))
    _, tools, stop, _, _ = ask(client_kind, clients, "openai", True)
    assert tools == [(i, n, json.loads(a)) for i, n, a in (WEATHER, TIME)]
    assert stop == "tool"


# ---- a tool call with empty input (item 2) ---------------------------------------------------

@pytest.mark.parametrize("stream", STREAMS)
@pytest.mark.parametrize("client_kind, vendor", PAIRS, ids=PAIR_IDS)
def test_tool_call_with_empty_input(client_kind, vendor, stream, clients, upstream):
    if vendor == "anthropic" and stream:  # as Anthropic streams it: one empty input_json_delta
        events = anthropic_events(model=SENT[vendor], tool_uses=[("call_l", "list_files", {})])
        upstream.script(Stream([e for e in events if e[1].get("delta", {}).get("partial_json")
                                != "{}"]))
    else:
        script(upstream, vendor, stream, tools=[("call_l", "list_files", "{}")])
    _, tools, stop, _, _ = ask(client_kind, clients, vendor, stream)  # json.loads: valid JSON
    assert tools == [("call_l", "list_files", {})] and stop == "tool"


# ---- the model of every answer (item 8) ------------------------------------------------------

@pytest.mark.parametrize("stream", STREAMS)
@pytest.mark.parametrize("client_kind, vendor", PAIRS, ids=PAIR_IDS)
def test_answer_model_is_the_one_the_vendor_reports(client_kind, vendor, stream, clients,
                                                    upstream):
    snapshot = f"{SENT[vendor]}-2026-01-01"
    script(upstream, vendor, stream, "Hello.", model=snapshot)
    assert ask(client_kind, clients, vendor, stream)[4] == snapshot


@pytest.mark.parametrize("stream", STREAMS)
@pytest.mark.parametrize("client_kind, vendor", [("openai", "anthropic"),
                                                 ("anthropic", "openai")])
def test_translated_answer_without_model_names_the_upstream_model_sent(client_kind, vendor,
                                                                       stream, clients, upstream):
    if vendor == "openai":
        answer = (openai_chunks("Hello.", "x") if stream else openai_completion("Hello.", "x"))
    else:
        answer = (anthropic_events("Hello.", "x") if stream else anthropic_message("Hello.", "x"))
    for item in answer if stream else [(None, answer)]:
        if isinstance(item[1], dict):
            item[1].pop("model", None)
            item[1].get("message", {}).pop("model", None)
    upstream.script(Stream(answer) if stream else Reply(json=answer))
    assert ask(client_kind, clients, vendor, stream)[4] == SENT[vendor]


# ---- peers' known faults ---------------------------------------------------------------------

def openai_stream(*deltas, finish="stop", usage=(10, 5, 0), usage_on_finish=False):
    """An OpenAI-format upstream stream of these deltas (then finish and usage)."""
    events = openai_chunks("", "gpt-upstream", usage=usage, include_usage=not usage_on_finish)
    role, done = events[0], events[-1]
    finish_chunk = copy.deepcopy(events[1][1])
    finish_chunk["choices"][0].update(finish_reason=finish, delta={})
    if usage_on_finish:  # no usage-only chunk: the finish chunk carries it
        finish_chunk["usage"] = {"prompt_tokens": usage[0], "completion_tokens": usage[1],
                                 "total_tokens": usage[0] + usage[1],
                                 "prompt_tokens_details": {"cached_tokens": usage[2]}}
    middle = []
    for delta in deltas:
        chunk = copy.deepcopy(events[1][1])
        chunk["choices"][0].update(delta=delta, finish_reason=None)
        middle.append((None, chunk))
    tail = [] if usage_on_finish else [events[-2]]
    return [role] + middle + [(None, finish_chunk)] + tail + [done]


def weather_call(arguments=WEATHER[2]):
    return [{"index": 0, "id": WEATHER[0], "type": "function",
             "function": {"name": WEATHER[1], "arguments": arguments}}]


@pytest.mark.parametrize("client_kind", list(MODELS))
def test_text_with_empty_tool_calls_is_text_only(client_kind, clients, upstream):
    upstream.script(Stream(openai_stream({"content": "hi", "tool_calls": []})))
    if client_kind == "anthropic":
        with clients[1].messages.stream(model="gpt-test", max_tokens=10, messages=HI) as events:
            kinds = [e.delta.type for e in events if e.type == "content_block_delta"]
        assert kinds == ["text_delta"]  # no empty input_json_delta
        return
    text, tools, stop, _, _ = ask(client_kind, clients, "openai", True)
    assert (text, tools, stop) == ("hi", [], "end")


@pytest.mark.parametrize("client_kind", list(MODELS))
def test_text_and_tool_call_in_one_chunk_keep_both_text_first(client_kind, clients, upstream):
    upstream.script(Stream(openai_stream({"content": "Checking.", "tool_calls": weather_call()},
                                         finish="tool_calls")))
    if client_kind == "anthropic":
        with clients[1].messages.stream(model="gpt-test", max_tokens=10, messages=HI) as events:
            message = events.get_final_message()
        assert [block.type for block in message.content] == ["text", "tool_use"]
        assert message.content[0].text == "Checking."
        assert message.content[1].input == json.loads(WEATHER[2])
        return
    text, tools, stop, _, _ = ask(client_kind, clients, "openai", True)
    assert (text, tools, stop) == ("Checking.", [(WEATHER[0], WEATHER[1],
                                                  json.loads(WEATHER[2]))], "tool")


@pytest.mark.parametrize("client_kind", list(MODELS))
def test_usage_on_the_final_chunk_with_an_empty_delta_is_taken(client_kind, clients, upstream,
                                                               app):
    upstream.script(Stream(openai_stream({"content": "hi"}, usage=(40, 9, 0),
                                         usage_on_finish=True)))
    _, _, _, usage, _ = ask(client_kind, clients, "openai", True)
    assert (usage["input"], usage["output"]) == (40, 9)
    [row] = logged(app, count=1)
    assert (row.input_tokens, row.output_tokens) == (40, 9)


@pytest.mark.parametrize("client_kind", list(MODELS))
def test_anthropic_message_delta_usage_is_cumulative(client_kind, clients, upstream, app):
    events = anthropic_events("hi", "claude-upstream", usage=(40, 9, 0))
    assert events[0][1]["message"]["usage"]["output_tokens"] == 1  # message_start's own count
    upstream.script(Stream(events))
    _, _, _, usage, _ = ask(client_kind, clients, "anthropic", True)
    assert usage["output"] == 9  # message_delta's count is the total: set, never added
    [row] = logged(app, count=1)
    assert row.output_tokens == 9


@pytest.mark.parametrize("stream", STREAMS)
@pytest.mark.parametrize("client_kind, vendor", PAIRS, ids=PAIR_IDS)
def test_stop_with_tool_calls_is_tool_use(client_kind, vendor, stream, clients, upstream):
    # OpenAI-format vendors: finish_reason "stop"; Anthropic ones: stop_reason "end_turn"
    script(upstream, vendor, stream, tools=[WEATHER], finish_reason="stop")
    _, tools, stop, _, _ = ask(client_kind, clients, vendor, stream)
    assert tools and (stop == "tool" or client_kind == vendor)  # pass-through: as sent


@pytest.mark.parametrize("stream", STREAMS)
@pytest.mark.parametrize("client_kind, vendor", PAIRS, ids=PAIR_IDS)
def test_cached_prompt_tokens(client_kind, vendor, stream, clients, upstream, app):
    # OpenAI prompt_tokens 100 with 75 cached ⇄ Anthropic input_tokens 25, cache reads 75
    script(upstream, vendor, stream, "ok", usage=(100 if vendor == "openai" else 25, 5, 75))
    _, _, _, usage, _ = ask(client_kind, clients, vendor, stream)
    assert (usage["input"], usage["cached"]) == (100, 75)
    if client_kind == "anthropic":  # input_tokens excludes the cache reads
        assert (usage["sdk"].input_tokens, usage["sdk"].cache_read_input_tokens) == (25, 75)
    else:
        assert usage["sdk"].prompt_tokens == 100
    [row] = logged(app, count=1)
    assert (row.input_tokens, row.cached_tokens) == (100, 75)
