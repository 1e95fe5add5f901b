"""Streaming translation OpenAI ⇄ Anthropic, checked against the official SDK accumulators."""
import copy
import json

import pytest
from anthropic.lib.streaming._messages import accumulate_event
from anthropic.types import RawMessageStreamEvent
from openai import LengthFinishReasonError
from openai.lib.streaming.chat import ChatCompletionStreamState
from openai.types.chat import ChatCompletionChunk
from pydantic import TypeAdapter

from app.errors import UpstreamError, UpstreamOverloaded
from app.formats.translate_stream import AnthropicToOpenAIStream, OpenAIToAnthropicStream
from tests.mock_upstream import anthropic_events, openai_chunks

ANTHROPIC_EVENT = TypeAdapter(RawMessageStreamEvent)
WEATHER = ("get_weather", '{"city": "Paris", "unit": "celsius"}')
TIME = ("get_time", '{"timezone": "Europe/Paris"}')


def native(events):
    """The mock's SSE items without the [DONE] terminator."""
    return [item for item in events if item[1] != "[DONE]"]


def fragments(s, size):
    return [s[i:i + size] for i in range(0, len(s), size)]


# -------------------------------------------------------------------------------------------
# OpenAI chunks → Anthropic events
# -------------------------------------------------------------------------------------------


def to_anthropic(chunks, input_tokens=10):
    """What the client gets: the first chunk starts the message (as stream_frames does)."""
    translator = OpenAIToAnthropicStream("gpt-sent", input_tokens, message_id="msg_test")
    out = []
    for _, chunk in native(chunks):
        out += translator.feed(chunk)
    out += translator.finish()
    return translator, out


def anthropic_accumulate(events):
    """What the anthropic SDK makes of the stream: each event validated strictly against the SDK
    types, then folded by the SDK's own accumulator (pings are skipped, as the SDK does)."""
    snapshot, json_bufs = None, {}
    for name, data in events:
        assert data["type"] == name
        if name == "ping":
            continue
        event = ANTHROPIC_EVENT.validate_python(data)
        snapshot = accumulate_event(event=event, current_snapshot=snapshot, json_bufs=json_bufs)
    return snapshot


def names(events):
    """Event names, with the content_block_start/delta kinds spelled out."""
    out = []
    for name, data in events:
        if name == "content_block_start":
            out.append(f"start:{data['content_block']['type']}")
        elif name == "content_block_delta":
            out.append(data["delta"]["type"])
        else:
            out.append(name)
    return out


def with_text_after_tools():
    tools = native(openai_chunks(tool_calls=[("call_1", *WEATHER)]))
    text = native(openai_chunks("All done."))
    return tools[:-2] + text[1:-2] + tools[-2:]  # role, tool, text, finish, usage


def with_reasoning_first():
    chunks = native(openai_chunks("The answer is 4."))
    thought = []
    for piece, key in (("Two plus", "reasoning_content"), (" two.", "reasoning")):
        chunk = copy.deepcopy(chunks[1][1])
        chunk["choices"][0]["delta"] = {key: piece}
        thought.append((None, chunk))
    return chunks[:1] + thought + chunks[1:]


O2A = {
    "plain_text": dict(
        chunks=openai_chunks("Hello there, world"),
        names=["start:text", "text_delta", "text_delta", "text_delta", "content_block_stop"],
        content=[{"type": "text", "text": "Hello there, world"}],
        stop="end_turn", usage=(10, 5, 0)),
    "single_tool_call": dict(
        chunks=openai_chunks(tool_calls=[("call_1", *WEATHER)], split=8),
        names=["start:tool_use"] + ["input_json_delta"] * 5 + ["content_block_stop"],
        content=[{"type": "tool_use", "id": "call_1", "name": WEATHER[0],
                  "input": json.loads(WEATHER[1])}],
        stop="tool_use", usage=(10, 5, 0)),
    "parallel_tool_calls_3_char_fragments": dict(
        chunks=openai_chunks(tool_calls=[("call_1", *WEATHER), ("call_2", *TIME)], split=3),
        names=(["start:tool_use"] + ["input_json_delta"] * 12 + ["content_block_stop"]
               + ["start:tool_use"] + ["input_json_delta"] * 10 + ["content_block_stop"]),
        content=[{"type": "tool_use", "id": "call_1", "name": WEATHER[0],
                  "input": json.loads(WEATHER[1])},
                 {"type": "tool_use", "id": "call_2", "name": TIME[0],
                  "input": json.loads(TIME[1])}],
        stop="tool_use", usage=(10, 5, 0)),
    "text_after_tool_calls": dict(
        chunks=with_text_after_tools(),
        names=(["start:tool_use"] + ["input_json_delta"] * 5 + ["content_block_stop",
               "start:text", "text_delta", "text_delta", "content_block_stop"]),
        content=[{"type": "tool_use", "id": "call_1", "name": WEATHER[0],
                  "input": json.loads(WEATHER[1])},
                 {"type": "text", "text": "All done."}],
        stop="tool_use", usage=(10, 5, 0)),
    "reasoning_then_text": dict(
        chunks=with_reasoning_first(),
        names=["start:thinking", "thinking_delta", "thinking_delta", "content_block_stop",
               "start:text"] + ["text_delta"] * 4 + ["content_block_stop"],
        content=[{"type": "thinking", "thinking": "Two plus two.", "signature": ""},
                 {"type": "text", "text": "The answer is 4."}],
        stop="end_turn", usage=(10, 5, 0)),
    "empty_answer": dict(
        chunks=openai_chunks("", usage=(10, 0, 0)),
        names=[], content=[], stop="end_turn", usage=(10, 0, 0)),
    "usage_with_cached_tokens": dict(
        chunks=openai_chunks("Hi", usage=(100, 7, 40)),
        names=["start:text", "text_delta", "content_block_stop"],
        content=[{"type": "text", "text": "Hi"}],
        stop="end_turn", usage=(60, 7, 40)),
    "finish_length": dict(
        chunks=openai_chunks("Cut short", finish_reason="length"),
        names=["start:text", "text_delta", "text_delta", "content_block_stop"],
        content=[{"type": "text", "text": "Cut short"}],
        stop="max_tokens", usage=(10, 5, 0)),
}


@pytest.mark.parametrize("case", O2A.values(), ids=list(O2A))
def test_openai_to_anthropic(case):
    translator, events = to_anthropic(case["chunks"], input_tokens=99)
    assert names(events) == (["message_start", "ping"] + case["names"]
                             + ["message_delta", "message_stop"])
    starts = [data["index"] for name, data in events if name == "content_block_start"]
    assert starts == list(range(len(starts)))  # indexes count from 0 in emission order

    message = anthropic_accumulate(events)
    assert message.id == "msg_test" and message.model == "gpt-test"  # as the upstream names it
    assert [block.model_dump(exclude_none=True) for block in message.content] == case["content"]
    assert message.stop_reason == case["stop"]
    input_tokens, output_tokens, cached = case["usage"]
    assert events[0][1]["message"]["usage"]["input_tokens"] == 99
    assert message.usage.input_tokens == input_tokens  # the real count replaces the estimate
    assert message.usage.output_tokens == output_tokens
    assert message.usage.cache_read_input_tokens == cached
    sent = [chunk["usage"] for _, chunk in native(case["chunks"]) if chunk.get("usage")]
    assert translator.usage == sent[-1]  # the raw OpenAI usage, for the caller's accounting


def test_openai_to_anthropic_forwards_every_fragment_as_received():
    calls = [("call_1", *WEATHER), ("call_2", *TIME)]
    _, events = to_anthropic(openai_chunks(tool_calls=calls, split=3))
    by_block = {}
    for name, data in events:
        if name == "content_block_delta":
            by_block.setdefault(data["index"], []).append(data["delta"]["partial_json"])
    assert by_block == {0: fragments(WEATHER[1], 3), 1: fragments(TIME[1], 3)}
    assert [json.loads("".join(parts)) for parts in by_block.values()] == [
        json.loads(WEATHER[1]), json.loads(TIME[1])]


def test_openai_to_anthropic_without_usage_chunk():
    translator, events = to_anthropic(openai_chunks("Hi", include_usage=False), input_tokens=12)
    assert events[-2][1]["usage"] == {"output_tokens": 0}
    message = anthropic_accumulate(events)
    assert message.usage.input_tokens == 12 and message.usage.output_tokens == 0
    assert translator.usage is None


def test_openai_to_anthropic_id_repeated_on_every_fragment_is_one_call():
    chunks = native(openai_chunks(tool_calls=[("call_1", *WEATHER)], split=4))
    for _, chunk in chunks:
        for call in (chunk["choices"] or [{}])[0].get("delta", {}).get("tool_calls") or ():
            call["id"] = "call_1"
    _, events = to_anthropic(chunks)
    assert names(events).count("start:tool_use") == 1
    assert anthropic_accumulate(events).content[0].input == json.loads(WEATHER[1])


def test_openai_to_anthropic_new_id_at_reused_index_is_a_new_call():
    chunks = native(openai_chunks(tool_calls=[("call_1", *WEATHER)]))
    second = native(openai_chunks(tool_calls=[("call_2", *TIME)]))
    _, events = to_anthropic(chunks[:-2] + second[1:])  # both calls at index 0
    message = anthropic_accumulate(events)
    assert [block.id for block in message.content] == ["call_1", "call_2"]
    assert message.content[1].input == json.loads(TIME[1])


def chunk_of(delta, finish_reason=None, usage=None, model="gpt-test"):
    out = {"id": "chatcmpl-x", "object": "chat.completion.chunk", "created": 1, "model": model,
           "choices": [{"index": 0, "delta": delta, "logprobs": None,
                        "finish_reason": finish_reason}]}
    if usage is not None:
        out["usage"] = usage
    return None, out


def call_start(index, call_id, name):
    return {"tool_calls": [{"index": index, "id": call_id, "type": "function",
                            "function": {"name": name, "arguments": ""}}]}


def call_args(index, arguments):
    return {"tool_calls": [{"index": index, "function": {"arguments": arguments}}]}


def interleaved(first, second, size=4):
    """Two parallel calls whose argument fragments alternate by index (as some OpenAI-compatible
    servers stream them)."""
    out = [chunk_of({"role": "assistant", "content": ""}), chunk_of(call_start(0, *first[:2])),
           chunk_of(call_start(1, *second[:2]))]
    a, b = fragments(first[2], size), fragments(second[2], size)
    for i in range(max(len(a), len(b))):
        out += [chunk_of(call_args(0, a[i]))] if i < len(a) else []
        out += [chunk_of(call_args(1, b[i]))] if i < len(b) else []
    return out + [chunk_of({}, "tool_calls")]


def blocks_of(events):
    """[(block type, [deltas])] in order, checking one start and one stop per index."""
    blocks, stops = {}, []
    for name, data in events:
        if name == "content_block_start":
            assert data["index"] not in blocks
            blocks[data["index"]] = (data["content_block"]["type"], [])
        elif name == "content_block_delta":
            assert data["index"] not in stops  # never a delta after the block's stop
            delta = data["delta"]
            blocks[data["index"]][1].append(delta.get("partial_json", delta.get("text")))
        elif name == "content_block_stop":
            stops.append(data["index"])
    assert stops == sorted(blocks) == list(range(len(blocks)))  # each closes before the next
    return [blocks[i] for i in sorted(blocks)]


def test_openai_to_anthropic_interleaved_parallel_calls_arrive_whole():
    calls = [("call_1", *WEATHER), ("call_2", *TIME)]
    _, events = to_anthropic(interleaved(*calls))
    message = anthropic_accumulate(events)
    assert [(b.id, b.name, b.input) for b in message.content] == [
        (call_id, name, json.loads(arguments)) for call_id, name, arguments in calls]
    blocks = blocks_of(events)
    assert blocks[0] == ("tool_use", fragments(WEATHER[1], 4))  # the first one streams live
    assert blocks[1] == ("tool_use", [TIME[1]])  # the held one arrives whole
    assert message.stop_reason == "tool_use"


def test_openai_to_anthropic_output_after_an_incomplete_call_is_held_in_order():
    chunks = [chunk_of(call_start(0, "call_1", "get_weather")),
              chunk_of(call_args(0, '{"city": ')),
              chunk_of({"content": "Checking"}),  # text while call_1 is incomplete
              chunk_of(call_start(1, "call_2", "get_time")),
              chunk_of({"content": " both."}),
              chunk_of(call_args(0, '"Paris"}')), chunk_of(call_args(1, "{}")),
              chunk_of({}, "stop")]
    _, events = to_anthropic(chunks)
    assert blocks_of(events) == [("tool_use", ['{"city": ', '"Paris"}']),
                                 ("text", ["Checking"]), ("tool_use", ["{}"]),
                                 ("text", [" both."])]
    message = anthropic_accumulate(events)
    assert message.content[0].input == {"city": "Paris"} and message.content[2].input == {}
    assert message.stop_reason == "tool_use"  # "stop" with tool calls is still tool use


def test_openai_to_anthropic_fragment_after_complete_arguments_is_left_out():
    chunks = native(openai_chunks(tool_calls=[("call_1", *WEATHER), ("call_2", *TIME)]))
    late = copy.deepcopy(chunks[-3][1])
    late["choices"][0]["delta"] = {"tool_calls": [{"index": 0, "function": {"arguments": " "}}]}
    late["choices"][0]["finish_reason"] = None
    _, events = to_anthropic(chunks[:-2] + [(None, late)] + chunks[-2:])
    assert names(events).count("start:tool_use") == 2
    message = anthropic_accumulate(events)
    assert [block.input for block in message.content] == [json.loads(WEATHER[1]),
                                                          json.loads(TIME[1])]


def test_openai_to_anthropic_text_with_empty_tool_calls_is_only_text():
    _, events = to_anthropic([chunk_of({"content": "hi", "tool_calls": []}),
                              chunk_of({}, "stop")])
    assert names(events)[2:-2] == ["start:text", "text_delta", "content_block_stop"]
    assert anthropic_accumulate(events).stop_reason == "end_turn"


def test_openai_to_anthropic_one_chunk_with_text_and_a_tool_call_keeps_both_text_first():
    delta = {"content": "Let me check.", **call_start(0, "call_1", "get_weather")}
    delta["tool_calls"][0]["function"]["arguments"] = WEATHER[1]
    _, events = to_anthropic([chunk_of(delta), chunk_of({}, "tool_calls")])
    message = anthropic_accumulate(events)
    assert [block.type for block in message.content] == ["text", "tool_use"]
    assert message.content[0].text == "Let me check."
    assert message.content[1].input == json.loads(WEATHER[1])


def test_openai_to_anthropic_usage_on_the_final_chunk_with_an_empty_delta():
    usage = {"prompt_tokens": 100, "completion_tokens": 9, "total_tokens": 109,
             "prompt_tokens_details": {"cached_tokens": 75}}
    translator, events = to_anthropic([chunk_of({"content": "hi"}),
                                       chunk_of({}, "stop", usage=usage)])
    message = anthropic_accumulate(events)
    assert (message.usage.input_tokens, message.usage.cache_read_input_tokens,
            message.usage.output_tokens) == (25, 75, 9)
    assert translator.usage == usage


def test_openai_to_anthropic_model_from_the_first_chunk_else_the_one_sent():
    _, events = to_anthropic(openai_chunks("Hi", model="gpt-4o-2024-08-06"))
    assert anthropic_accumulate(events).model == "gpt-4o-2024-08-06"
    chunks = native(openai_chunks("Hi"))
    for _, chunk in chunks:
        del chunk["model"]
    _, events = to_anthropic(chunks)
    assert anthropic_accumulate(events).model == "gpt-sent"


def test_openai_error_chunk_raises():
    translator = OpenAIToAnthropicStream("claude-alias", 1)
    translator.start()
    with pytest.raises(UpstreamError, match="boom"):
        translator.feed({"error": {"message": "boom", "type": "server_error"}})


# -------------------------------------------------------------------------------------------
# Anthropic events → OpenAI chunks
# -------------------------------------------------------------------------------------------


def to_openai(events, include_usage=True):
    translator = AnthropicToOpenAIStream("claude-sent", include_usage, completion_id="chatcmpl-t",
                                         created=1700000000)
    out = []
    for name, data in events:
        out += translator.feed(name, data)
    out += translator.finish()
    return translator, out


def openai_accumulate(chunks):
    state = ChatCompletionStreamState()
    for chunk in chunks:
        state.handle_chunk(ChatCompletionChunk.model_validate(chunk))
    if state.current_completion_snapshot.choices[0].finish_reason == "length":
        # get_final_completion() raises LengthFinishReasonError on "length" even without a
        # response_format; the snapshot is what a streaming client has seen.
        with pytest.raises(LengthFinishReasonError):
            state.get_final_completion()
        return state.current_completion_snapshot
    return state.get_final_completion()


def kinds(chunks):
    """One label per chunk: what its delta carries."""
    out = []
    for chunk in chunks:
        if not chunk["choices"]:
            out.append("usage")
            continue
        choice = chunk["choices"][0]
        delta = choice["delta"]
        if choice["finish_reason"]:
            assert delta == {}
            out.append(f"finish:{choice['finish_reason']}")
        elif "role" in delta:
            out.append("role")
        elif "tool_calls" in delta:
            out.append("tool_start" if "id" in delta["tool_calls"][0] else "arguments")
        else:
            (key,) = delta
            out.append(key)
    return out


def tool_use_events(tool_uses, split=None):
    """The content events of anthropic_events for these tool uses (message events dropped)."""
    events = anthropic_events(tool_uses=tool_uses, split=split)
    return [event for event in events if event[0].startswith("content_block")]


def reindexed(events, offset):
    out = []
    for name, data in events:
        out.append((name, {**data, "index": data["index"] + offset}))
    return out


def anthropic_text_after_tools():
    tools = anthropic_events(tool_uses=[("toolu_1", WEATHER[0], json.loads(WEATHER[1]))])
    text = [e for e in anthropic_events("All done.") if e[0].startswith("content_block")]
    return tools[:-2] + reindexed(text, 1) + tools[-2:]


A2O = {
    "plain_text": dict(
        events=anthropic_events("Hello there, world"),
        kinds=["content"] * 3, content="Hello there, world", tools=[], finish="stop",
        usage=(10, 5, 0)),
    "single_tool_call": dict(
        events=anthropic_events(tool_uses=[("toolu_1", WEATHER[0], json.loads(WEATHER[1]))]),
        kinds=["tool_start"] + ["arguments"] * 5, content="",  # "" from the role chunk
        tools=[("toolu_1", WEATHER[0], json.loads(WEATHER[1]))], finish="tool_calls",
        usage=(10, 5, 0)),
    "parallel_tool_calls_3_char_fragments": dict(
        events=anthropic_events(tool_uses=[("toolu_1", WEATHER[0], json.loads(WEATHER[1])),
                                           ("toolu_2", TIME[0], json.loads(TIME[1]))], split=3),
        kinds=["tool_start"] + ["arguments"] * 12 + ["tool_start"] + ["arguments"] * 10,
        content="",
        tools=[("toolu_1", WEATHER[0], json.loads(WEATHER[1])),
               ("toolu_2", TIME[0], json.loads(TIME[1]))],
        finish="tool_calls", usage=(10, 5, 0)),
    "text_after_tool_calls": dict(
        events=anthropic_text_after_tools(),
        kinds=["tool_start"] + ["arguments"] * 5 + ["content"] * 2, content="All done.",
        tools=[("toolu_1", WEATHER[0], json.loads(WEATHER[1]))], finish="tool_calls",
        usage=(10, 5, 0)),
    "reasoning_then_text": dict(
        events=anthropic_events("The answer is 4.", thinking=("Two plus two.", "sig_abc")),
        kinds=["reasoning_content"] * 3 + ["content"] * 4 + ["thinking_blocks"],
        content="The answer is 4.", tools=[], finish="stop", usage=(10, 5, 0)),
    "empty_answer": dict(
        events=anthropic_events("", usage=(10, 0, 0)),
        kinds=[], content="", tools=[], finish="stop", usage=(10, 0, 0)),
    "usage_with_cached_tokens": dict(
        events=anthropic_events("Hi", usage=(60, 7, 40)),
        kinds=["content"], content="Hi", tools=[], finish="stop", usage=(100, 7, 40)),
    "stop_max_tokens": dict(
        events=anthropic_events("Cut short", stop_reason="max_tokens"),
        kinds=["content"] * 2, content="Cut short", tools=[], finish="length",
        usage=(10, 5, 0)),
}


@pytest.mark.parametrize("case", A2O.values(), ids=list(A2O))
def test_anthropic_to_openai(case):
    _, chunks = to_openai(case["events"])
    assert kinds(chunks) == ["role"] + case["kinds"] + [f"finish:{case['finish']}", "usage"]
    for chunk in chunks:
        assert chunk["id"] == "chatcmpl-t" and chunk["object"] == "chat.completion.chunk"
        assert chunk["created"] == 1700000000
        assert chunk["model"] == "claude-test"  # as the upstream's message_start names it
        if chunk["choices"]:
            assert chunk["usage"] is None
            assert chunk["choices"][0]["index"] == 0 and chunk["choices"][0]["logprobs"] is None

    completion = openai_accumulate(chunks)
    (choice,) = completion.choices
    assert choice.finish_reason == case["finish"]
    assert choice.message.content == case["content"]
    tools = [(call.id, call.function.name, json.loads(call.function.arguments))
             for call in choice.message.tool_calls or ()]
    assert tools == case["tools"]
    prompt, completion_tokens, cached = case["usage"]
    assert completion.usage.prompt_tokens == prompt
    assert completion.usage.completion_tokens == completion_tokens
    assert completion.usage.total_tokens == prompt + completion_tokens
    assert completion.usage.prompt_tokens_details.cached_tokens == cached


def test_anthropic_to_openai_forwards_every_fragment_as_received():
    uses = [("toolu_1", WEATHER[0], json.loads(WEATHER[1])),
            ("toolu_2", TIME[0], json.loads(TIME[1]))]
    _, chunks = to_openai(anthropic_events(tool_uses=uses, split=3))
    by_call = {}
    for chunk in chunks:
        for call in (chunk["choices"] or [{}])[0].get("delta", {}).get("tool_calls") or ():
            if "id" not in call:
                by_call.setdefault(call["index"], []).append(call["function"]["arguments"])
    sources = [json.dumps(tool_input) for _, _, tool_input in uses]
    assert by_call == {0: fragments(sources[0], 3), 1: fragments(sources[1], 3)}


def test_anthropic_to_openai_thinking_keeps_signature():
    _, chunks = to_openai(anthropic_events("Yes.", thinking=("Hmm, sure.", "sig_xyz")))
    blocks = [c["choices"][0]["delta"]["thinking_blocks"] for c in chunks
              if c["choices"] and "thinking_blocks" in c["choices"][0]["delta"]]
    assert blocks == [[{"type": "thinking", "thinking": "Hmm, sure.", "signature": "sig_xyz"}]]
    message = openai_accumulate(chunks).choices[0].message
    assert message.reasoning_content == "Hmm, sure."
    assert message.thinking_blocks == blocks[0]


def test_anthropic_to_openai_several_thinking_blocks_accumulate():
    first = anthropic_events(thinking=("First.", "sig_1"))
    second = anthropic_events("Yes.", thinking=("Second.", "sig_2"))
    redacted = [("content_block_start", {"type": "content_block_start", "index": 0,
                                         "content_block": {"type": "redacted_thinking",
                                                           "data": "opaque"}}),
                ("content_block_stop", {"type": "content_block_stop", "index": 0})]
    events = (first[:2] + redacted + reindexed(first[2:-2], 1) + reindexed(second[2:-2], 2)
              + second[-2:])
    _, chunks = to_openai(events)
    assert kinds(chunks)[-3:] == ["thinking_blocks", "finish:stop", "usage"]
    message = openai_accumulate(chunks).choices[0].message
    assert message.thinking_blocks == [
        {"type": "redacted_thinking", "data": "opaque"},
        {"type": "thinking", "thinking": "First.", "signature": "sig_1"},
        {"type": "thinking", "thinking": "Second.", "signature": "sig_2"}]
    assert message.reasoning_content == "First.\n\nSecond."
    assert message.content == "Yes."


def test_anthropic_to_openai_without_include_usage():
    translator, chunks = to_openai(anthropic_events("Hi", usage=(60, 7, 40)), include_usage=False)
    assert kinds(chunks) == ["role", "content", "finish:stop"]
    assert all("usage" not in chunk for chunk in chunks)
    assert openai_accumulate(chunks).choices[0].message.content == "Hi"
    assert translator.usage["input_tokens"] == 60 and translator.usage["output_tokens"] == 7


def test_anthropic_to_openai_message_delta_usage_wins():
    events = anthropic_events("Hi", usage=(60, 7, 0))
    events[-2][1]["usage"] = {"output_tokens": 9, "input_tokens": 70,
                              "cache_read_input_tokens": 30, "cache_creation_input_tokens": None}
    _, chunks = to_openai(events)
    usage = chunks[-1]["usage"]
    assert usage["prompt_tokens"] == 100 and usage["completion_tokens"] == 9
    assert usage["prompt_tokens_details"]["cached_tokens"] == 30


@pytest.mark.parametrize("deltas", [[""], []], ids=["empty-delta", "no-delta"])
def test_anthropic_to_openai_tool_call_with_empty_input_has_json_arguments(deltas):
    # Anthropic streams an empty input as one input_json_delta with partial_json ""
    events = [e for e in anthropic_events(tool_uses=[("toolu_1", "list_files", {})])
              if e[0] != "content_block_delta"]
    events[3:3] = [("content_block_delta", {"type": "content_block_delta", "index": 0, "delta": {
        "type": "input_json_delta", "partial_json": partial}}) for partial in deltas]
    _, chunks = to_openai(events)
    call = openai_accumulate(chunks).choices[0].message.tool_calls[0]
    assert call.function.arguments == "{}"


def test_anthropic_to_openai_message_delta_usage_is_cumulative():
    events = anthropic_events("Hi", usage=(60, 7, 0))
    assert events[0][1]["message"]["usage"]["output_tokens"] == 1  # message_start's count
    _, chunks = to_openai(events)
    assert chunks[-1]["usage"]["completion_tokens"] == 7  # set by message_delta, never added


def test_anthropic_to_openai_end_turn_with_tool_use_finishes_with_tool_calls():
    events = anthropic_events(tool_uses=[("toolu_1", WEATHER[0], json.loads(WEATHER[1]))],
                              stop_reason="end_turn")
    _, chunks = to_openai(events)
    assert openai_accumulate(chunks).choices[0].finish_reason == "tool_calls"


def test_anthropic_to_openai_model_from_message_start_else_the_one_sent():
    _, chunks = to_openai(anthropic_events("Hi", model="claude-sonnet-4-5-20250929"))
    assert {chunk["model"] for chunk in chunks} == {"claude-sonnet-4-5-20250929"}
    events = anthropic_events("Hi")
    del events[0][1]["message"]["model"]
    _, chunks = to_openai(events)
    assert {chunk["model"] for chunk in chunks} == {"claude-sent"}


@pytest.mark.parametrize("kind,error", [("overloaded_error", UpstreamOverloaded),
                                        ("api_error", UpstreamError)])
def test_anthropic_error_event_raises(kind, error):
    translator = AnthropicToOpenAIStream("gpt-alias", True)
    translator.feed(*anthropic_events("Hi")[0])
    with pytest.raises(error, match="upstream says no") as raised:
        translator.feed("error", {"type": "error",
                                  "error": {"type": kind, "message": "upstream says no"}})
    assert type(raised.value) is error
