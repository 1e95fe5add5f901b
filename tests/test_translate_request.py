"""Request translation Anthropic Messages ⇄ OpenAI Chat Completions: every mapping in both
directions as exact dicts, round trips, and a Claude Code–shaped request."""
import copy
import hashlib

import pytest
from anthropic.types import MessageCreateParams
from openai.types.chat.completion_create_params import CompletionCreateParams
from pydantic import TypeAdapter

from app.formats.translate_request import (
    DROPPED_ANTHROPIC_FIELDS,
    DROPPED_OPENAI_FIELDS,
    anthropic_to_openai_request,
    openai_to_anthropic_request,
)

PNG = "iVBORw0KGgo="
PDF = "JVBERi0xLjQK"
IMAGE_B64 = {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": PNG}}
IMAGE_URL = {"type": "image", "source": {"type": "url", "url": "https://example.com/cat.jpg"}}
PART_B64 = {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG}"}}
PART_URL = {"type": "image_url", "image_url": {"url": "https://example.com/cat.jpg"}}
EPHEMERAL = {"type": "ephemeral"}
SCHEMA = {"type": "object", "properties": {"path": {"type": "string"}}, "required": ["path"]}
EMPTY_SCHEMA = {"type": "object", "properties": {}}
READ_TOOL = {"name": "read", "description": "Read a file", "input_schema": SCHEMA}
READ_FUNCTION = {"type": "function", "function": {"name": "read", "description": "Read a file",
                                                  "parameters": SCHEMA}}
HI = {"role": "user", "content": "hi"}


def text(value):
    return {"type": "text", "text": value}


def tool_use(id_, name="read", input_=None):
    return {"type": "tool_use", "id": id_, "name": name,
            "input": {"path": "a.py"} if input_ is None else input_}


def tool_call(id_, name="read", arguments='{"path":"a.py"}'):
    return {"id": id_, "type": "function", "function": {"name": name, "arguments": arguments}}


# ---- Anthropic → OpenAI -------------------------------------------------------------------

A_BODY = {"model": "claude-sonnet-4-5", "max_tokens": 100, "messages": [HI]}
O_OUT = {"model": "gpt-4o", "max_tokens": 100, "messages": [HI]}

A_TO_O = [
    # --- system
    ("system string", {"system": "Be brief."},
     {"messages": [{"role": "system", "content": "Be brief."}, HI]}),
    ("system one block, cache_control dropped",
     {"system": [{"type": "text", "text": "Be brief.", "cache_control": EPHEMERAL}]},
     {"messages": [{"role": "system", "content": "Be brief."}, HI]}),
    ("system several blocks join into one string",
     {"system": [text("You are Claude Code."), {**text("Rules."), "cache_control": EPHEMERAL}]},
     {"messages": [{"role": "system", "content": "You are Claude Code.\n\nRules."}, HI]}),
    ("empty system", {"system": ""}, {}),
    # --- user content blocks
    ("user string stays a string", {}, {}),
    ("user text blocks stay parts",
     {"messages": [{"role": "user", "content": [text("a"), {**text("b"), "cache_control":
                                                            EPHEMERAL}]}]},
     {"messages": [{"role": "user", "content": [text("a"), text("b")]}]}),
    ("image base64 and url",
     {"messages": [{"role": "user", "content": [IMAGE_B64, IMAGE_URL, text("what?")]}]},
     {"messages": [{"role": "user", "content": [PART_B64, PART_URL, text("what?")]}]}),
    ("pdf document with and without title",
     {"messages": [{"role": "user", "content": [
         {"type": "document", "title": "spec.pdf", "source": {
             "type": "base64", "media_type": "application/pdf", "data": PDF}},
         {"type": "document", "citations": {"enabled": True}, "source": {
             "type": "base64", "media_type": "application/pdf", "data": PDF}}]}]},
     {"messages": [{"role": "user", "content": [
         {"type": "file", "file": {"filename": "spec.pdf",
                                   "file_data": f"data:application/pdf;base64,{PDF}"}},
         {"type": "file", "file": {"filename": "document.pdf",
                                   "file_data": f"data:application/pdf;base64,{PDF}"}}]}]}),
    ("plain-text and content documents become text; url/file sources dropped",
     {"messages": [{"role": "user", "content": [
         {"type": "document", "source": {"type": "text", "media_type": "text/plain",
                                         "data": "notes"}},
         {"type": "document", "source": {"type": "content", "content": [text("x"), text("y")]}},
         {"type": "document", "source": {"type": "url", "url": "https://example.com/a.pdf"}},
         {"type": "image", "source": {"type": "file", "file_id": "file_1"}}]}]},
     {"messages": [{"role": "user", "content": [text("notes"), text("x\ny")]}]}),
    # --- assistant
    ("assistant string", {"messages": [HI, {"role": "assistant", "content": "hello"}]},
     {"messages": [HI, {"role": "assistant", "content": "hello"}]}),
    ("assistant text + tool_use both survive",
     {"messages": [HI, {"role": "assistant", "content": [text("Let me look."),
                                                         tool_use("toolu_1")]}]},
     {"messages": [HI, {"role": "assistant", "content": "Let me look.",
                        "tool_calls": [tool_call("toolu_1")]}]}),
    ("assistant tool_use only has null content, empty input is {}",
     {"messages": [HI, {"role": "assistant", "content": [tool_use("toolu_1"),
                                                         tool_use("toolu_2", "ls", {})]}]},
     {"messages": [HI, {"role": "assistant", "content": None, "tool_calls": [
         tool_call("toolu_1"), tool_call("toolu_2", "ls", "{}")]}]}),
    ("assistant text blocks join without separator",
     {"messages": [HI, {"role": "assistant", "content": [text("The answer "), text("is 4.")]}]},
     {"messages": [HI, {"role": "assistant", "content": "The answer is 4."}]}),
    ("assistant thinking history is not sent to an OpenAI-format model",
     {"messages": [HI, {"role": "assistant", "content": [
         {"type": "thinking", "thinking": "step 1", "signature": "sig1"},
         {"type": "redacted_thinking", "data": "opaque"},
         {"type": "thinking", "thinking": "step 2", "signature": "sig2"},
         text("done")]}]},
     {"messages": [HI, {"role": "assistant", "content": "done"}]}),
    ("assistant with only thinking gets empty content",
     {"messages": [HI, {"role": "assistant", "content": [
         {"type": "redacted_thinking", "data": "opaque"}]}]},
     {"messages": [HI, {"role": "assistant", "content": ""}]}),
    # --- tool results
    ("tool_result string",
     {"messages": [{"role": "user", "content": [
         {"type": "tool_result", "tool_use_id": "toolu_1", "content": "file body"}]}]},
     {"messages": [{"role": "tool", "tool_call_id": "toolu_1", "content": "file body"}]}),
    ("tool results first, one message each, then the rest of the user turn",
     {"messages": [{"role": "user", "content": [
         text("also this"),
         {"type": "tool_result", "tool_use_id": "toolu_1", "content": [text("a"), text("b")]},
         {"type": "tool_result", "tool_use_id": "toolu_2", "content": "oops", "is_error": True},
         {"type": "tool_result", "tool_use_id": "toolu_3", "is_error": True},
         {"type": "tool_result", "tool_use_id": "toolu_4"}]}]},
     {"messages": [{"role": "tool", "tool_call_id": "toolu_1", "content": "a\nb"},
                   {"role": "tool", "tool_call_id": "toolu_2", "content": "Error: oops"},
                   {"role": "tool", "tool_call_id": "toolu_3", "content": "Error"},
                   {"role": "tool", "tool_call_id": "toolu_4", "content": ""},
                   {"role": "user", "content": [text("also this")]}]}),
    ("images in a tool_result go to the user message right after the tool messages",
     {"messages": [{"role": "user", "content": [
         {"type": "tool_result", "tool_use_id": "toolu_1",
          "content": [text("screenshot:"), IMAGE_B64]},
         text("what do you see?")]}]},
     {"messages": [{"role": "tool", "tool_call_id": "toolu_1", "content": "screenshot:"},
                   {"role": "user", "content": [PART_B64, text("what do you see?")]}]}),
    # --- tools and tool_choice
    ("custom tools kept, server tools dropped",
     {"tools": [{**READ_TOOL, "cache_control": EPHEMERAL},
                {"type": "custom", "name": "ls", "input_schema": EMPTY_SCHEMA},
                {"type": "web_search_20250305", "name": "web_search", "max_uses": 3},
                {"type": "bash_20250124", "name": "bash"},
                {"type": "text_editor_20250728", "name": "str_replace_based_edit_tool"}]},
     {"tools": [READ_FUNCTION, {"type": "function", "function": {"name": "ls",
                                                                  "parameters": EMPTY_SCHEMA}}]}),
    ("only server tools: no tools, no tool_choice",
     {"tools": [{"type": "web_search_20250305", "name": "web_search"}],
      "tool_choice": {"type": "any", "disable_parallel_tool_use": True}}, {}),
    ("tool_choice auto", {"tools": [READ_TOOL], "tool_choice": {"type": "auto"}},
     {"tools": [READ_FUNCTION], "tool_choice": "auto"}),
    ("tool_choice any", {"tools": [READ_TOOL], "tool_choice": {"type": "any"}},
     {"tools": [READ_FUNCTION], "tool_choice": "required"}),
    ("tool_choice tool", {"tools": [READ_TOOL], "tool_choice": {"type": "tool", "name": "read"}},
     {"tools": [READ_FUNCTION],
      "tool_choice": {"type": "function", "function": {"name": "read"}}}),
    ("tool_choice none", {"tools": [READ_TOOL], "tool_choice": {"type": "none"}},
     {"tools": [READ_FUNCTION], "tool_choice": "none"}),
    ("disable_parallel_tool_use",
     {"tools": [READ_TOOL], "tool_choice": {"type": "auto", "disable_parallel_tool_use": True}},
     {"tools": [READ_FUNCTION], "tool_choice": "auto", "parallel_tool_calls": False}),
    # --- sampling, stop, user, stream
    ("stop_sequences", {"stop_sequences": ["###", "END"]}, {"stop": ["###", "END"]}),
    ("temperature and top_p; top_k dropped by default",
     {"temperature": 0.2, "top_p": 0.9, "top_k": 40}, {"temperature": 0.2, "top_p": 0.9}),
    ("metadata.user_id short", {"metadata": {"user_id": "u-42"}}, {"user": "u-42"}),
    ("metadata.user_id over 64 chars is hashed", {"metadata": {"user_id": "u" * 65}},
     {"user": hashlib.sha256(b"u" * 65).hexdigest()}),
    ("stream true asks for usage", {"stream": True},
     {"stream": True, "stream_options": {"include_usage": True}}),
    ("stream false", {"stream": False}, {}),
    ("thinking dropped for a non-reasoning model",
     {"thinking": {"type": "enabled", "budget_tokens": 10000}}, {}),
    ("unknown and Anthropic-only fields not forwarded",
     {"service_tier": "auto", "container": "c1", "mcp_servers": [], "foo": 1,
      "context_management": {}}, {}),
]


@pytest.mark.parametrize("name, body, expected", A_TO_O, ids=[case[0] for case in A_TO_O])
def test_anthropic_to_openai(name, body, expected):
    assert anthropic_to_openai_request({**A_BODY, **body}, "gpt-4o") == {**O_OUT, **expected}


A_TO_O_REASONING = [
    ("o4-mini", {}, {"max_completion_tokens": 100}),
    ("o3", {"temperature": 1, "top_p": 0.5}, {"max_completion_tokens": 100}),
    ("o1", {"thinking": {"type": "enabled", "budget_tokens": 1024}},
     {"max_completion_tokens": 100, "reasoning_effort": "low"}),
    ("openai/o3-mini", {"thinking": {"type": "enabled", "budget_tokens": 4095}},
     {"max_completion_tokens": 100, "reasoning_effort": "low"}),
    ("o4-mini", {"thinking": {"type": "enabled", "budget_tokens": 4096}},
     {"max_completion_tokens": 100, "reasoning_effort": "medium"}),
    ("gpt-5", {"thinking": {"type": "enabled", "budget_tokens": 16383}},
     {"max_completion_tokens": 100, "reasoning_effort": "medium"}),
    ("gpt-5-mini", {"thinking": {"type": "enabled", "budget_tokens": 16384}},
     {"max_completion_tokens": 100, "reasoning_effort": "high"}),
    ("o4-mini", {"thinking": {"type": "disabled"}}, {"max_completion_tokens": 100}),
    ("o4-mini", {"thinking": {"type": "adaptive"}}, {"max_completion_tokens": 100}),
    ("gpt-4.1", {"thinking": {"type": "enabled", "budget_tokens": 20000}}, {"max_tokens": 100}),
]


@pytest.mark.parametrize("model, body, expected", A_TO_O_REASONING)
def test_anthropic_to_openai_reasoning_models(model, body, expected):
    out = anthropic_to_openai_request({**A_BODY, **body}, model)
    assert out == {"model": model, "messages": [HI], **expected}


@pytest.mark.parametrize("allow, expected", [(False, {}), (True, {"top_k": 40})])
def test_anthropic_top_k_only_when_allowed(allow, expected):
    out = anthropic_to_openai_request({**A_BODY, "top_k": 40}, "gpt-4o", allow_top_k=allow)
    assert out == {**O_OUT, **expected}


# ---- OpenAI → Anthropic -------------------------------------------------------------------

O_BODY = {"model": "gpt-4o", "messages": [HI]}
A_OUT = {"model": "claude-sonnet-4-5", "max_tokens": 4096, "messages": [HI]}

O_TO_A = [
    # --- system
    ("system string", {"messages": [{"role": "system", "content": "Be brief."}, HI]},
     {"system": "Be brief."}),
    ("developer message", {"messages": [{"role": "developer", "content": "Be brief."}, HI]},
     {"system": "Be brief."}),
    ("several system messages stay separate blocks",
     {"messages": [{"role": "system", "content": "A"},
                   {"role": "developer", "content": [text("B"), text("C")]}, HI]},
     {"system": [text("A"), text("B"), text("C")]}),
    ("system in mid-conversation merges into system",
     {"messages": [{"role": "system", "content": "A"}, HI,
                   {"role": "assistant", "content": "hello"},
                   {"role": "system", "content": "B"}, {"role": "user", "content": "bye"}]},
     {"system": [text("A"), text("B")],
      "messages": [HI, {"role": "assistant", "content": "hello"},
                   {"role": "user", "content": "bye"}]}),
    ("empty system dropped", {"messages": [{"role": "system", "content": ""}, HI]}, {}),
    # --- user content parts
    ("user parts: text, images, pdf; empty text, audio, file_id, non-pdf dropped",
     {"messages": [{"role": "user", "content": [
         text("look"), text(""), PART_B64, PART_URL,
         {"type": "image_url", "image_url": {"url": "https://example.com/d.png",
                                             "detail": "high"}},
         {"type": "file", "file": {"filename": "spec.pdf",
                                   "file_data": f"data:application/pdf;base64,{PDF}"}},
         {"type": "file", "file": {"file_data": f"data:application/pdf;base64,{PDF}"}},
         {"type": "file", "file": {"file_id": "file-abc"}},
         {"type": "file", "file": {"filename": "a.txt",
                                   "file_data": "data:text/plain;base64,eA=="}},
         {"type": "input_audio", "input_audio": {"data": "AAAA", "format": "wav"}}]}]},
     {"messages": [{"role": "user", "content": [
         text("look"), IMAGE_B64, IMAGE_URL,
         {"type": "image", "source": {"type": "url", "url": "https://example.com/d.png"}},
         {"type": "document", "title": "spec.pdf", "source": {
             "type": "base64", "media_type": "application/pdf", "data": PDF}},
         {"type": "document", "source": {
             "type": "base64", "media_type": "application/pdf", "data": PDF}}]}]}),
    # --- assistant
    ("assistant content + tool_calls",
     {"messages": [HI, {"role": "assistant", "content": "Let me look.",
                        "tool_calls": [tool_call("call_1")]}]},
     {"messages": [HI, {"role": "assistant", "content": [text("Let me look."),
                                                         tool_use("call_1")]}]}),
    ("assistant tool_calls: null content, invalid / non-object / empty arguments",
     {"messages": [HI, {"role": "assistant", "content": None, "tool_calls": [
         tool_call("call_1", "read", '{"path": "a.py"'), tool_call("call_2", "read", "[1]"),
         tool_call("call_3", "ls", ""),
         {"id": "call_4", "type": "custom", "custom": {"name": "x", "input": "y"}}]}]},
     {"messages": [HI, {"role": "assistant", "content": [
         tool_use("call_1", "read", {"_raw": '{"path": "a.py"'}),
         tool_use("call_2", "read", {"_raw": "[1]"}), tool_use("call_3", "ls", {})]}]}),
    ("assistant content parts and refusal become text",
     {"messages": [HI, {"role": "assistant", "content": [
         text("a"), {"type": "refusal", "refusal": "no"}]}]},
     {"messages": [HI, {"role": "assistant", "content": [text("a"), text("no")]}]}),
    ("assistant thinking_blocks first, as-is; reasoning_content ignored",
     {"messages": [HI, {"role": "assistant", "content": "done", "reasoning_content": "hmm",
                        "thinking_blocks": [
                            {"type": "thinking", "thinking": "hmm", "signature": "sig1"},
                            {"type": "redacted_thinking", "data": "opaque"}],
                        "tool_calls": [tool_call("call_1")]}]},
     {"messages": [HI, {"role": "assistant", "content": [
         {"type": "thinking", "thinking": "hmm", "signature": "sig1"},
         {"type": "redacted_thinking", "data": "opaque"}, text("done"), tool_use("call_1")]}]}),
    ("reasoning_content without thinking_blocks dropped",
     {"messages": [HI, {"role": "assistant", "content": "done", "reasoning_content": "hmm"}]},
     {"messages": [HI, {"role": "assistant", "content": "done"}]}),
    # --- tool messages and merging
    ("consecutive tool messages + following user merge into one user turn",
     {"messages": [HI, {"role": "assistant", "content": None,
                        "tool_calls": [tool_call("call_1"), tool_call("call_2")]},
                   {"role": "tool", "tool_call_id": "call_1", "content": "one"},
                   {"role": "tool", "tool_call_id": "call_2", "content": [text("two")]},
                   {"role": "user", "content": "thanks"}]},
     {"messages": [HI, {"role": "assistant", "content": [tool_use("call_1"), tool_use("call_2")]},
                   {"role": "user", "content": [
                       {"type": "tool_result", "tool_use_id": "call_1", "content": "one"},
                       {"type": "tool_result", "tool_use_id": "call_2", "content": [text("two")]},
                       text("thanks")]}]}),
    ("user before tool message: tool_result blocks still first; empty tool content omitted",
     {"messages": [HI, {"role": "assistant", "content": None, "tool_calls": [tool_call("c1")]},
                   {"role": "user", "content": [PART_URL]},
                   {"role": "tool", "tool_call_id": "c1", "content": ""}]},
     {"messages": [HI, {"role": "assistant", "content": [tool_use("c1")]},
                   {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "c1"},
                                                IMAGE_URL]}]}),
    ("consecutive user / assistant messages merge; empty messages skipped",
     {"messages": [HI, {"role": "user", "content": "again"},
                   {"role": "assistant", "content": ""}, {"role": "user", "content": [text("x")]},
                   {"role": "assistant", "content": "a"}, {"role": "assistant", "content": "b"},
                   {"role": "function", "name": "f", "content": "legacy"}]},
     {"messages": [{"role": "user", "content": [text("hi"), text("again"), text("x")]},
                   {"role": "assistant", "content": [text("a"), text("b")]}]}),
    # --- tools and tool_choice
    ("tools: parameters → input_schema, missing → empty object schema, non-function dropped",
     {"tools": [READ_FUNCTION, {"type": "function", "function": {"name": "ls"}},
                {"type": "custom", "custom": {"name": "grammar"}}]},
     {"tools": [READ_TOOL, {"name": "ls", "input_schema": EMPTY_SCHEMA}]}),
    ("tool_choice auto", {"tools": [READ_FUNCTION], "tool_choice": "auto"},
     {"tools": [READ_TOOL], "tool_choice": {"type": "auto"}}),
    ("tool_choice required", {"tools": [READ_FUNCTION], "tool_choice": "required"},
     {"tools": [READ_TOOL], "tool_choice": {"type": "any"}}),
    ("tool_choice none", {"tools": [READ_FUNCTION], "tool_choice": "none"},
     {"tools": [READ_TOOL], "tool_choice": {"type": "none"}}),
    ("tool_choice function",
     {"tools": [READ_FUNCTION], "tool_choice": {"type": "function", "function": {"name": "read"}}},
     {"tools": [READ_TOOL], "tool_choice": {"type": "tool", "name": "read"}}),
    ("parallel_tool_calls false alone", {"tools": [READ_FUNCTION], "parallel_tool_calls": False},
     {"tools": [READ_TOOL], "tool_choice": {"type": "auto", "disable_parallel_tool_use": True}}),
    ("parallel_tool_calls false with required",
     {"tools": [READ_FUNCTION], "tool_choice": "required", "parallel_tool_calls": False},
     {"tools": [READ_TOOL], "tool_choice": {"type": "any", "disable_parallel_tool_use": True}}),
    ("parallel_tool_calls true is the default",
     {"tools": [READ_FUNCTION], "parallel_tool_calls": True}, {"tools": [READ_TOOL]}),
    ("tool_choice without tools dropped", {"tool_choice": "required"}, {}),
    # --- sampling, stop, user, stream
    ("stop string", {"stop": "END"}, {"stop_sequences": ["END"]}),
    ("stop list", {"stop": ["a", "b"]}, {"stop_sequences": ["a", "b"]}),
    ("temperature clamped to 1; top_p; top_k (vLLM extension)",
     {"temperature": 1.5, "top_p": 0.9, "top_k": 20},
     {"temperature": 1, "top_p": 0.9, "top_k": 20}),
    ("temperature 0", {"temperature": 0}, {"temperature": 0}),
    ("user → metadata.user_id", {"user": "u-42"}, {"metadata": {"user_id": "u-42"}}),
    ("safety_identifier → metadata.user_id", {"safety_identifier": "s-1"},
     {"metadata": {"user_id": "s-1"}}),
    ("stream; stream_options dropped",
     {"stream": True, "stream_options": {"include_usage": True}}, {"stream": True}),
    ("fields without an Anthropic equivalent dropped; refusable ones asking for nothing",
     {"n": 1, "presence_penalty": 0.5, "frequency_penalty": 0.1, "seed": 7, "logprobs": False,
      "top_logprobs": 0, "modalities": ["text"], "audio": None, "functions": [],
      "response_format": {"type": "text"}, "store": True, "metadata": {"a": "b"},
      "logit_bias": {"1": 2}, "service_tier": "auto", "verbosity": "low", "foo": "bar"}, {}),
    # --- max tokens
    ("max_tokens", {"max_tokens": 500}, {"max_tokens": 500}),
    ("max_completion_tokens wins", {"max_completion_tokens": 600, "max_tokens": 500},
     {"max_tokens": 600}),
]


@pytest.mark.parametrize("name, body, expected", O_TO_A, ids=[case[0] for case in O_TO_A])
def test_openai_to_anthropic(name, body, expected):
    out = openai_to_anthropic_request({**O_BODY, **body}, "claude-sonnet-4-5",
                                      default_max_tokens=4096)
    assert out == {**A_OUT, **expected}


THINKING_CASES = [
    # (name, body, max_output_tokens, expected extras)
    ("default clamped to the model limit", {}, 2000, {"max_tokens": 2000}),
    ("requested clamped to the model limit", {"max_tokens": 99999}, 8192, {"max_tokens": 8192}),
    ("low within requested max", {"reasoning_effort": "low", "max_tokens": 10000}, None,
     {"max_tokens": 10000, "thinking": {"type": "enabled", "budget_tokens": 2048}}),
    ("medium, no max: max = budget + default", {"reasoning_effort": "medium"}, None,
     {"max_tokens": 8192 + 4096, "thinking": {"type": "enabled", "budget_tokens": 8192}}),
    ("high, no max, clamped: budget lowered under max", {"reasoning_effort": "high"}, 16000,
     {"max_tokens": 16000, "thinking": {"type": "enabled", "budget_tokens": 15999}}),
    ("high within a small requested max", {"reasoning_effort": "high",
                                           "max_completion_tokens": 5000}, None,
     {"max_tokens": 5000, "thinking": {"type": "enabled", "budget_tokens": 4999}}),
    ("minimal", {"reasoning_effort": "minimal", "max_tokens": 4000}, None,
     {"max_tokens": 4000, "thinking": {"type": "enabled", "budget_tokens": 1024}}),
    ("xhigh", {"reasoning_effort": "xhigh", "max_tokens": 64000}, None,
     {"max_tokens": 64000, "thinking": {"type": "enabled", "budget_tokens": 32768}}),
    ("budget cannot fit 1024: no thinking, sampling kept",
     {"reasoning_effort": "low", "max_tokens": 1000, "temperature": 0.5}, None,
     {"max_tokens": 1000, "temperature": 0.5}),
    ("none", {"reasoning_effort": "none", "temperature": 0.5}, None, {"temperature": 0.5}),
    ("thinking drops temperature, top_p, top_k",
     {"reasoning_effort": "low", "max_tokens": 8000, "temperature": 0.5, "top_p": 0.9,
      "top_k": 5}, None,
     {"max_tokens": 8000, "thinking": {"type": "enabled", "budget_tokens": 2048}}),
    ("forced tool choice: no thinking, max not raised",
     {"reasoning_effort": "high", "tools": [READ_FUNCTION], "tool_choice": "required"}, None,
     {"tools": [READ_TOOL], "tool_choice": {"type": "any"}}),
]


@pytest.mark.parametrize("name, body, limit, expected", THINKING_CASES,
                         ids=[case[0] for case in THINKING_CASES])
def test_openai_to_anthropic_max_tokens_and_thinking(name, body, limit, expected):
    out = openai_to_anthropic_request({**O_BODY, **body}, "claude-sonnet-4-5",
                                      default_max_tokens=4096, max_output_tokens=limit)
    assert out == {**A_OUT, **expected}


@pytest.mark.parametrize("field", DROPPED_ANTHROPIC_FIELDS)
def test_dropped_anthropic_fields_not_forwarded(field):
    assert anthropic_to_openai_request({**A_BODY, field: "x"}, "gpt-4o") == O_OUT


@pytest.mark.parametrize("field", DROPPED_OPENAI_FIELDS)
def test_dropped_openai_fields_not_forwarded(field):
    out = openai_to_anthropic_request({**O_BODY, field: "x"}, "claude-sonnet-4-5",
                                      default_max_tokens=4096)
    assert out == A_OUT


# ---- round trips --------------------------------------------------------------------------


def _without_cache_control(value):
    if isinstance(value, dict):
        return {k: _without_cache_control(v) for k, v in value.items() if k != "cache_control"}
    if isinstance(value, list):
        return [_without_cache_control(v) for v in value]
    return value


ANTHROPIC_ROUND_TRIP = {
    "model": "claude-sonnet-4-5",
    "max_tokens": 2048,
    "system": [{"type": "text", "text": "You are helpful.", "cache_control": EPHEMERAL},
               text("Answer tersely.")],
    "messages": [
        {"role": "user", "content": [IMAGE_B64, IMAGE_URL, text("Read a.py please.")]},
        {"role": "assistant", "content": [text("Reading."), tool_use("toolu_01"),
                                          tool_use("toolu_02", "ls", {"dir": "."})]},
        {"role": "user", "content": [
            {"type": "tool_result", "tool_use_id": "toolu_01", "content": "print(1)"},
            {"type": "tool_result", "tool_use_id": "toolu_02", "content": "a.py"},
            text("Now explain.")]},
        {"role": "assistant", "content": "It prints 1."},
    ],
    "tools": [READ_TOOL, {"name": "ls", "input_schema": EMPTY_SCHEMA}],
    "tool_choice": {"type": "auto", "disable_parallel_tool_use": True},
    "stop_sequences": ["\n\nHuman:"],
    "temperature": 0.3,
    "metadata": {"user_id": "user-7"},
    "stream": True,
}


def test_round_trip_anthropic_openai_anthropic():
    openai_body = anthropic_to_openai_request(ANTHROPIC_ROUND_TRIP, "gpt-4o")
    back = openai_to_anthropic_request(openai_body, "claude-sonnet-4-5", default_max_tokens=1)
    # the two system blocks come back as one string joined by a blank line
    assert back == {**_without_cache_control(ANTHROPIC_ROUND_TRIP),
                    "system": "You are helpful.\n\nAnswer tersely."}


OPENAI_ROUND_TRIP = {
    "model": "gpt-4o",
    "messages": [
        {"role": "system", "content": "You are helpful."},
        {"role": "user", "content": [text("What is this?"), PART_B64, PART_URL]},
        {"role": "assistant", "content": "Checking.",
         "tool_calls": [tool_call("call_a"), tool_call("call_b", "ls", '{"dir":"."}')]},
        {"role": "tool", "tool_call_id": "call_a", "content": "print(1)"},
        {"role": "tool", "tool_call_id": "call_b", "content": "a.py"},
        {"role": "assistant", "content": "A cat."},
        {"role": "user", "content": "thanks"},
    ],
    "tools": [READ_FUNCTION],
    "tool_choice": "required",
    "parallel_tool_calls": False,
    "stop": ["END", "STOP"],
    "temperature": 0.7,
    "top_p": 0.95,
    "max_tokens": 300,
    "user": "u-1",
    "stream": True,
    "stream_options": {"include_usage": True},
}


def test_round_trip_openai_anthropic_openai():
    anthropic_body = openai_to_anthropic_request(OPENAI_ROUND_TRIP, "claude-sonnet-4-5",
                                                 default_max_tokens=4096)
    assert anthropic_to_openai_request(anthropic_body, "gpt-4o") == OPENAI_ROUND_TRIP


def test_translation_does_not_mutate_input():
    body = copy.deepcopy(ANTHROPIC_ROUND_TRIP)
    openai_body = anthropic_to_openai_request(body, "gpt-4o")
    assert body == ANTHROPIC_ROUND_TRIP
    snapshot = copy.deepcopy(openai_body)
    openai_to_anthropic_request(openai_body, "claude-sonnet-4-5", default_max_tokens=10)
    assert openai_body == snapshot


def test_results_validate_against_sdk_request_types():
    openai_body = anthropic_to_openai_request(ANTHROPIC_ROUND_TRIP, "gpt-4o")
    TypeAdapter(CompletionCreateParams).validate_python(openai_body)
    anthropic_body = openai_to_anthropic_request(OPENAI_ROUND_TRIP, "claude-sonnet-4-5",
                                                 default_max_tokens=4096)
    TypeAdapter(MessageCreateParams).validate_python(anthropic_body)


# ---- a Claude Code–shaped request -----------------------------------------------------------

CLAUDE_CODE_USER_ID = ("user_" + "3f" * 32 + "_account_0c1e6a2b-9d4f-4b8a-9a61-2d3e4f5a6b7c"
                       "_session_7d8e9f0a-1b2c-4d3e-8f4a-5b6c7d8e9f0a")
BASH_SCHEMA = {
    "type": "object",
    "properties": {"command": {"type": "string", "description": "The command to execute"},
                   "timeout": {"type": "number"},
                   "description": {"type": "string"}},
    "required": ["command"],
    "additionalProperties": False,
    "$schema": "http://json-schema.org/draft-07/schema#",
}
READ_SCHEMA = {
    "type": "object",
    "properties": {"file_path": {"type": "string"}, "offset": {"type": "number"},
                   "limit": {"type": "number"}},
    "required": ["file_path"],
    "additionalProperties": False,
    "$schema": "http://json-schema.org/draft-07/schema#",
}
SIGNATURE = "EqQBCkYIBxgCKkDq5x0uXr2Zg3Q9Yb7oP1m4sN8Tz2Vw6Jk=="

CLAUDE_CODE_REQUEST = {
    "model": "claude-sonnet-4-5-20250929",
    "max_tokens": 32000,
    "system": [
        {"type": "text", "text": "You are Claude Code, Anthropic's official CLI for Claude.",
         "cache_control": EPHEMERAL},
        {"type": "text", "text": "You are an interactive CLI tool that helps users with "
                                 "software engineering tasks.", "cache_control": EPHEMERAL},
    ],
    "messages": [
        {"role": "user", "content": [
            text("<system-reminder>As you answer, use the TodoWrite tool.</system-reminder>"),
            {"type": "text", "text": "Run the tests and fix the failure.",
             "cache_control": EPHEMERAL}]},
        {"role": "assistant", "content": [
            {"type": "thinking", "thinking": "Run pytest first.", "signature": SIGNATURE},
            text("I'll run the test suite."),
            {"type": "tool_use", "id": "toolu_01AbC", "name": "Bash",
             "input": {"command": "pytest -q", "description": "Run tests"}}]},
        {"role": "user", "content": [
            {"type": "tool_result", "tool_use_id": "toolu_01AbC",
             "content": "FAILED tests/test_x.py::test_x - assert 1 == 2", "is_error": True}]},
        {"role": "assistant", "content": [
            {"type": "tool_use", "id": "toolu_02DeF", "name": "Read",
             "input": {"file_path": "/repo/tests/test_x.py"}}]},
        {"role": "user", "content": [
            {"type": "tool_result", "tool_use_id": "toolu_02DeF",
             "content": [text("     1\tdef test_x():\n     2\t    assert 1 == 2")]},
            {"type": "text", "text": "<system-reminder>Keep going.</system-reminder>",
             "cache_control": EPHEMERAL}]},
    ],
    "tools": [
        {"name": "Bash", "description": "Executes a bash command.", "input_schema": BASH_SCHEMA},
        {"name": "Read", "description": "Reads a file.", "input_schema": READ_SCHEMA,
         "cache_control": EPHEMERAL},
    ],
    "metadata": {"user_id": CLAUDE_CODE_USER_ID},
    "thinking": {"type": "enabled", "budget_tokens": 31999},
    "temperature": 1,
    "stream": True,
}

CLAUDE_CODE_MESSAGES = [
    {"role": "system", "content": "You are Claude Code, Anthropic's official CLI for Claude.\n\n"
     "You are an interactive CLI tool that helps users with software engineering tasks."},
    {"role": "user", "content": [
        text("<system-reminder>As you answer, use the TodoWrite tool.</system-reminder>"),
        text("Run the tests and fix the failure.")]},
    {"role": "assistant", "content": "I'll run the test suite.",
     "tool_calls": [{"id": "toolu_01AbC", "type": "function", "function": {
         "name": "Bash", "arguments": '{"command":"pytest -q","description":"Run tests"}'}}]},
    {"role": "tool", "tool_call_id": "toolu_01AbC",
     "content": "Error: FAILED tests/test_x.py::test_x - assert 1 == 2"},
    {"role": "assistant", "content": None,
     "tool_calls": [{"id": "toolu_02DeF", "type": "function", "function": {
         "name": "Read", "arguments": '{"file_path":"/repo/tests/test_x.py"}'}}]},
    {"role": "tool", "tool_call_id": "toolu_02DeF",
     "content": "     1\tdef test_x():\n     2\t    assert 1 == 2"},
    {"role": "user", "content": [text("<system-reminder>Keep going.</system-reminder>")]},
]
CLAUDE_CODE_TOOLS = [
    {"type": "function", "function": {"name": "Bash", "description": "Executes a bash command.",
                                      "parameters": BASH_SCHEMA}},
    {"type": "function", "function": {"name": "Read", "description": "Reads a file.",
                                      "parameters": READ_SCHEMA}},
]


@pytest.mark.parametrize("model, expected", [
    ("gpt-4o", {"max_tokens": 32000, "temperature": 1}),
    ("o4-mini", {"max_completion_tokens": 32000, "reasoning_effort": "high"}),
])
def test_claude_code_request_to_openai(model, expected):
    out = anthropic_to_openai_request(CLAUDE_CODE_REQUEST, model)
    assert out == {
        "model": model,
        "messages": CLAUDE_CODE_MESSAGES,
        "tools": CLAUDE_CODE_TOOLS,
        "user": hashlib.sha256(CLAUDE_CODE_USER_ID.encode()).hexdigest(),
        "stream": True,
        "stream_options": {"include_usage": True},
        **expected,
    }
    TypeAdapter(CompletionCreateParams).validate_python(out)
    assert len(out["user"]) == 64
