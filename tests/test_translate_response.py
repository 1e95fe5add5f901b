"""Response translation ChatCompletion ⇄ Anthropic Message, and the small helpers the stream
translators share: stop reasons, usage, tool-call arguments."""
import anthropic.types
import openai.types.chat
import pytest

from app.formats.translate_blocks import dump_arguments, parse_arguments
from app.formats.translate_response import (
    anthropic_stop_to_openai,
    anthropic_to_openai_response,
    anthropic_usage_to_openai,
    openai_stop_to_anthropic,
    openai_to_anthropic_response,
    openai_usage_to_anthropic,
)

# ---- small helpers ------------------------------------------------------------------------


@pytest.mark.parametrize("finish_reason, had_tool_use, expected", [
    ("stop", False, "end_turn"),
    ("length", False, "max_tokens"),
    ("tool_calls", False, "tool_use"),
    ("function_call", False, "tool_use"),
    ("content_filter", False, "refusal"),
    (None, False, "end_turn"),
    ("something_new", False, "end_turn"),
    ("stop", True, "tool_use"),
    ("length", True, "tool_use"),
])
def test_openai_stop_to_anthropic(finish_reason, had_tool_use, expected):
    assert openai_stop_to_anthropic(finish_reason, had_tool_use) == expected


@pytest.mark.parametrize("stop_reason, expected", [
    ("end_turn", "stop"),
    ("stop_sequence", "stop"),
    ("pause_turn", "stop"),
    ("max_tokens", "length"),
    ("model_context_window_exceeded", "length"),
    ("tool_use", "tool_calls"),
    ("refusal", "content_filter"),
    (None, "stop"),
])
def test_anthropic_stop_to_openai(stop_reason, expected):
    assert anthropic_stop_to_openai(stop_reason) == expected


@pytest.mark.parametrize("usage, expected", [
    (None, {"input_tokens": 0, "output_tokens": 0, "cache_read_input_tokens": 0,
            "cache_creation_input_tokens": 0}),
    ({"prompt_tokens": 100, "completion_tokens": 20, "total_tokens": 120},
     {"input_tokens": 100, "output_tokens": 20, "cache_read_input_tokens": 0,
      "cache_creation_input_tokens": 0}),
    ({"prompt_tokens": 1000, "completion_tokens": 50, "total_tokens": 1050,
      "prompt_tokens_details": {"cached_tokens": 768}},
     {"input_tokens": 232, "output_tokens": 50, "cache_read_input_tokens": 768,
      "cache_creation_input_tokens": 0}),
    ({"prompt_tokens": 10, "completion_tokens": None, "prompt_tokens_details": None},
     {"input_tokens": 10, "output_tokens": 0, "cache_read_input_tokens": 0,
      "cache_creation_input_tokens": 0}),
])
def test_openai_usage_to_anthropic(usage, expected):
    assert openai_usage_to_anthropic(usage) == expected


@pytest.mark.parametrize("usage, expected", [
    (None, {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0,
            "prompt_tokens_details": {"cached_tokens": 0}}),
    ({"input_tokens": 100, "output_tokens": 20},
     {"prompt_tokens": 100, "completion_tokens": 20, "total_tokens": 120,
      "prompt_tokens_details": {"cached_tokens": 0}}),
    ({"input_tokens": 12, "output_tokens": 30, "cache_read_input_tokens": 900,
      "cache_creation_input_tokens": 88},
     {"prompt_tokens": 1000, "completion_tokens": 30, "total_tokens": 1030,
      "prompt_tokens_details": {"cached_tokens": 900}}),
    ({"input_tokens": 5, "output_tokens": 1, "cache_read_input_tokens": None,
      "cache_creation_input_tokens": None},
     {"prompt_tokens": 5, "completion_tokens": 1, "total_tokens": 6,
      "prompt_tokens_details": {"cached_tokens": 0}}),
])
def test_anthropic_usage_to_openai(usage, expected):
    assert anthropic_usage_to_openai(usage) == expected


def test_usage_round_trips():
    openai_usage = {"prompt_tokens": 1000, "completion_tokens": 50, "total_tokens": 1050,
                    "prompt_tokens_details": {"cached_tokens": 768}}
    assert anthropic_usage_to_openai(openai_usage_to_anthropic(openai_usage)) == openai_usage


@pytest.mark.parametrize("arguments, expected", [
    ('{"path": "a.py"}', {"path": "a.py"}),
    ("", {}),
    ("  ", {}),
    (None, {}),
    ('{"path": "a.py"', {"_raw": '{"path": "a.py"'}),
    ("[1, 2]", {"_raw": "[1, 2]"}),
    ('"text"', {"_raw": '"text"'}),
])
def test_parse_arguments(arguments, expected):
    assert parse_arguments(arguments) == expected


@pytest.mark.parametrize("value, expected", [
    ({"path": "a.py", "n": 2}, '{"path":"a.py","n":2}'),
    ({}, "{}"),
    (None, "{}"),
    ({"text": "héllo ✓"}, '{"text":"héllo ✓"}'),
])
def test_dump_arguments(value, expected):
    assert dump_arguments(value) == expected


# ---- ChatCompletion → Anthropic Message ---------------------------------------------------

USAGE = {"prompt_tokens": 120, "completion_tokens": 30, "total_tokens": 150,
         "prompt_tokens_details": {"cached_tokens": 100}}
ANTHROPIC_USAGE = {"input_tokens": 20, "output_tokens": 30, "cache_read_input_tokens": 100,
                   "cache_creation_input_tokens": 0}


def completion(message, finish_reason="stop", **extra):
    return {"id": "chatcmpl-abc", "object": "chat.completion", "created": 1700000000,
            "model": "gpt-4o-2024-08-06", "usage": USAGE,
            "choices": [{"index": 0, "message": {"role": "assistant", **message},
                         "finish_reason": finish_reason, "logprobs": None}], **extra}


def message(content, stop_reason="end_turn", **extra):
    return {"id": "msg_chatcmpl-abc", "type": "message", "role": "assistant",
            "model": "gpt-4o-2024-08-06", "content": content, "stop_reason": stop_reason,
            "stop_sequence": None, "usage": ANTHROPIC_USAGE, **extra}


def call(id_, name, arguments):
    return {"id": id_, "type": "function", "function": {"name": name, "arguments": arguments}}


TO_ANTHROPIC = [
    ("text", completion({"content": "Hello!", "refusal": None}),
     message([{"type": "text", "text": "Hello!"}])),
    ("length", completion({"content": "Hel"}, "length"),
     message([{"type": "text", "text": "Hel"}], "max_tokens")),
    ("content_filter", completion({"content": None}, "content_filter"),
     message([], "refusal")),
    ("empty answer", completion({"content": ""}), message([])),
    ("text and tool calls",
     completion({"content": "Let me check.", "tool_calls": [
         call("call_1", "read", '{"path":"a.py"}'), call("call_2", "ls", "")]}, "tool_calls"),
     message([{"type": "text", "text": "Let me check."},
              {"type": "tool_use", "id": "call_1", "name": "read", "input": {"path": "a.py"}},
              {"type": "tool_use", "id": "call_2", "name": "ls", "input": {}}], "tool_use")),
    ("tool calls with finish_reason stop still tool_use; bad JSON kept raw",
     completion({"content": None, "tool_calls": [call("call_1", "read", "{oops")]}),
     message([{"type": "tool_use", "id": "call_1", "name": "read", "input": {"_raw": "{oops"}}],
             "tool_use")),
    ("reasoning_content alone: unsigned thinking block first",
     completion({"content": "4", "reasoning_content": "2+2=4"}),
     message([{"type": "thinking", "thinking": "2+2=4", "signature": ""},
              {"type": "text", "text": "4"}])),
    ("thinking_blocks win over reasoning_content, signatures intact",
     completion({"content": "4", "reasoning_content": "2+2=4", "thinking_blocks": [
         {"type": "thinking", "thinking": "2+2=4", "signature": "sig"},
         {"type": "redacted_thinking", "data": "opaque"}]}),
     message([{"type": "thinking", "thinking": "2+2=4", "signature": "sig"},
              {"type": "redacted_thinking", "data": "opaque"},
              {"type": "text", "text": "4"}])),
    ("refusal", completion({"content": None, "refusal": "I can't help with that."}),
     message([{"type": "text", "text": "I can't help with that."}])),
]


@pytest.mark.parametrize("name, data, expected", TO_ANTHROPIC, ids=[c[0] for c in TO_ANTHROPIC])
def test_openai_to_anthropic_response(name, data, expected):
    assert openai_to_anthropic_response(data, "fallback") == expected


def test_openai_to_anthropic_response_fallbacks():
    out = openai_to_anthropic_response({"choices": []}, "my-alias")
    assert out.pop("id").startswith("msg_")
    assert out == {"type": "message", "role": "assistant", "model": "my-alias", "content": [],
                   "stop_reason": "end_turn", "stop_sequence": None,
                   "usage": {"input_tokens": 0, "output_tokens": 0,
                             "cache_read_input_tokens": 0, "cache_creation_input_tokens": 0}}
    assert openai_to_anthropic_response({"id": "msg_1"}, "m")["id"] == "msg_1"
    assert openai_to_anthropic_response({"id": "chatcmpl-1"}, "m")["id"] == "msg_chatcmpl-1"
    assert openai_to_anthropic_response({"id": "chatcmpl-msg_2"}, "m")["id"] == "msg_2"


def test_openai_to_anthropic_response_validates_as_sdk_message():
    data = completion({"content": "Let me check.", "reasoning_content": "think",
                       "tool_calls": [call("call_1", "read", '{"path":"a.py"}')]}, "tool_calls")
    result = anthropic.types.Message.model_validate(openai_to_anthropic_response(data, "x"))
    assert result.id == "msg_chatcmpl-abc"
    assert result.model == "gpt-4o-2024-08-06"
    assert result.stop_reason == "tool_use"
    assert [block.type for block in result.content] == ["thinking", "text", "tool_use"]
    assert result.content[0].thinking == "think"
    assert result.content[1].text == "Let me check."
    assert result.content[2].id == "call_1" and result.content[2].input == {"path": "a.py"}
    assert result.usage.input_tokens == 20 and result.usage.cache_read_input_tokens == 100
    assert result.usage.output_tokens == 30


# ---- Anthropic Message → ChatCompletion ---------------------------------------------------

TO_OPENAI = [
    ("text", message([{"type": "text", "text": "Hello!"}]),
     completion({"content": "Hello!", "refusal": None})),
    ("text blocks join, citations dropped",
     message([{"type": "text", "text": "The sky is ", "citations": None},
              {"type": "text", "text": "blue.", "citations": [{"type": "char_location"}]}]),
     completion({"content": "The sky is blue.", "refusal": None})),
    ("stop_sequence", message([{"type": "text", "text": "a"}], "stop_sequence"),
     completion({"content": "a", "refusal": None})),
    ("max_tokens", message([{"type": "text", "text": "a"}], "max_tokens"),
     completion({"content": "a", "refusal": None}, "length")),
    ("refusal", message([], "refusal"),
     completion({"content": None, "refusal": None}, "content_filter")),
    ("empty answer", message([]), completion({"content": None, "refusal": None})),
    ("text and tool_use",
     message([{"type": "text", "text": "Checking."},
              {"type": "tool_use", "id": "toolu_1", "name": "read", "input": {"path": "a.py"}},
              {"type": "tool_use", "id": "toolu_2", "name": "ls", "input": {}}], "tool_use"),
     completion({"content": "Checking.", "refusal": None, "tool_calls": [
         call("toolu_1", "read", '{"path":"a.py"}'), call("toolu_2", "ls", "{}")]},
         "tool_calls")),
    ("tool_use with another stop reason is still tool_calls",
     message([{"type": "tool_use", "id": "toolu_1", "name": "ls", "input": {}}], "max_tokens"),
     completion({"content": None, "refusal": None, "tool_calls": [call("toolu_1", "ls", "{}")]},
                "tool_calls")),
    ("thinking and redacted thinking",
     message([{"type": "thinking", "thinking": "a", "signature": "s1"},
              {"type": "redacted_thinking", "data": "opaque"},
              {"type": "thinking", "thinking": "b", "signature": "s2"},
              {"type": "text", "text": "done"}]),
     completion({"content": "done", "refusal": None, "reasoning_content": "a\n\nb",
                 "thinking_blocks": [{"type": "thinking", "thinking": "a", "signature": "s1"},
                                     {"type": "redacted_thinking", "data": "opaque"},
                                     {"type": "thinking", "thinking": "b", "signature": "s2"}]})),
    ("server tool blocks dropped",
     message([{"type": "server_tool_use", "id": "srvtoolu_1", "name": "web_search",
               "input": {"query": "x"}},
              {"type": "web_search_tool_result", "tool_use_id": "srvtoolu_1", "content": []},
              {"type": "text", "text": "Found it."}]),
     completion({"content": "Found it.", "refusal": None})),
]


@pytest.mark.parametrize("name, data, expected", TO_OPENAI, ids=[c[0] for c in TO_OPENAI])
def test_anthropic_to_openai_response(name, data, expected):
    out = anthropic_to_openai_response(data, "fallback")
    assert isinstance(out.pop("created"), int)
    expected = {**expected, "id": "chatcmpl-abc"}  # "msg_chatcmpl-abc" translated back
    del expected["created"]
    assert out == expected


def test_anthropic_to_openai_response_fallbacks():
    out = anthropic_to_openai_response({"content": []}, "my-alias")
    assert out.pop("id").startswith("chatcmpl-")
    assert isinstance(out.pop("created"), int)
    assert out == {"object": "chat.completion", "model": "my-alias",
                   "choices": [{"index": 0, "finish_reason": "stop", "logprobs": None,
                                "message": {"role": "assistant", "content": None,
                                            "refusal": None}}],
                   "usage": {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0,
                             "prompt_tokens_details": {"cached_tokens": 0}}}
    assert anthropic_to_openai_response({"id": "chatcmpl-9"}, "m")["id"] == "chatcmpl-9"
    assert anthropic_to_openai_response({"id": "msg_01"}, "m")["id"] == "chatcmpl-msg_01"
    assert anthropic_to_openai_response({"id": "msg_chatcmpl-7"}, "m")["id"] == "chatcmpl-7"


def test_anthropic_to_openai_response_validates_as_sdk_chat_completion():
    data = {"id": "msg_01XyZ", "type": "message", "role": "assistant",
            "model": "claude-sonnet-4-5-20250929",
            "content": [{"type": "thinking", "thinking": "hmm", "signature": "sig"},
                        {"type": "text", "text": "Reading."},
                        {"type": "tool_use", "id": "toolu_1", "name": "read",
                         "input": {"path": "a.py"}}],
            "stop_reason": "tool_use", "stop_sequence": None,
            "usage": {"input_tokens": 12, "output_tokens": 30, "cache_read_input_tokens": 900,
                      "cache_creation_input_tokens": 88}}
    result = openai.types.chat.ChatCompletion.model_validate(
        anthropic_to_openai_response(data, "x"))
    assert result.id == "chatcmpl-msg_01XyZ"
    assert result.object == "chat.completion"
    assert result.model == "claude-sonnet-4-5-20250929"
    choice = result.choices[0]
    assert choice.finish_reason == "tool_calls" and choice.index == 0
    assert choice.message.content == "Reading."
    assert choice.message.tool_calls[0].id == "toolu_1"
    assert choice.message.tool_calls[0].function.arguments == '{"path":"a.py"}'
    assert choice.message.reasoning_content == "hmm"
    assert choice.message.thinking_blocks[0]["signature"] == "sig"
    assert result.usage.prompt_tokens == 1000 and result.usage.completion_tokens == 30
    assert result.usage.prompt_tokens_details.cached_tokens == 900


def test_response_round_trips():
    data = message([{"type": "thinking", "thinking": "a", "signature": "s1"},
                    {"type": "text", "text": "Checking."},
                    {"type": "tool_use", "id": "toolu_1", "name": "ls", "input": {"dir": "."}}],
                   "tool_use")
    assert openai_to_anthropic_response(anthropic_to_openai_response(data, "x"), "x") == data
    chat = completion({"content": "Checking.", "refusal": None,
                       "tool_calls": [call("call_1", "ls", '{"dir":"."}')]}, "tool_calls")
    back = anthropic_to_openai_response(openai_to_anthropic_response(chat, "x"), "x")
    assert isinstance(back.pop("created"), int)
    assert back == {key: value for key, value in chat.items() if key != "created"}
