"""The mock upstream's scripted agent (tests/clients/agent.py), straight from the official SDKs
without the gateway, in both wire formats, JSON and SSE: what the client tests rely on."""

import json

import anthropic
import openai
import pytest

from tests.clients.agent import file_request, sample, tool_results
from tests.clients.shapes import EXPECTED, FILE_PROMPT, Person

WRITE = {"type": "object", "properties": {
    "file_path": {"type": "string", "description": "The absolute path to the file to write"},
    "content": {"type": "string"}}, "required": ["file_path", "content"]}


def test_sample_fills_every_property_of_a_pydantic_schema():
    assert sample(Person.model_json_schema()) == EXPECTED.model_dump()
    assert sample({"type": ["null", "integer"]}) == 42
    assert sample({"anyOf": [{"type": "null"}, {"type": "number"}]}) == 1.5


@pytest.mark.parametrize("text, wanted", [
    ("create hello.txt containing hi", ("hello.txt", "hi")),
    ("Please create a file named notes/a.md with content 'two words'.", ("notes/a.md",
                                                                       "two words")),
    ("Describe a person.", None),
])
def test_file_request(text, wanted):
    assert file_request(text) == wanted


@pytest.fixture
def direct_openai(upstream):
    return openai.OpenAI(base_url=upstream.openai_base_url, api_key="x", max_retries=0,
                         timeout=10)


@pytest.fixture
def direct_anthropic(upstream):
    return anthropic.Anthropic(base_url=upstream.anthropic_base_url, api_key="x", max_retries=0,
                               timeout=10)


@pytest.mark.parametrize("stream", [False, True])
def test_openai_format(upstream, direct_openai, stream):
    upstream.agent_cwd = "/work/dir"
    tools = [{"type": "function", "function": {"name": "Write", "parameters": WRITE}}]
    messages = [{"role": "user", "content": FILE_PROMPT}]
    if stream:
        with direct_openai.chat.completions.stream(model="m", messages=messages,
                                                    tools=tools) as s:
            message = s.get_final_completion().choices[0].message
    else:
        message = direct_openai.chat.completions.create(model="m", messages=messages,
                                                        tools=tools).choices[0].message
    call = message.tool_calls[0]
    assert (call.function.name, json.loads(call.function.arguments)) == (
        "Write", {"file_path": "/work/dir/hello.txt", "content": "hi"})

    messages += [message.model_dump(exclude_none=True),
                 {"role": "tool", "tool_call_id": call.id, "content": "written"}]
    final = direct_openai.chat.completions.create(model="m", messages=messages, tools=tools)
    assert final.choices[0].message.content == "Done: written"
    assert tool_results(upstream.last()) == ["written"]

    parsed = direct_openai.chat.completions.parse(
        model="m", messages=[{"role": "user", "content": "x"}], response_format=Person)
    assert parsed.choices[0].message.parsed == EXPECTED


@pytest.mark.parametrize("stream", [False, True])
def test_anthropic_format(upstream, direct_anthropic, stream):
    tools = [{"name": "Write", "input_schema": WRITE}]
    system = "# Environment\n - Primary working directory: /home/me/project\n"
    messages = [{"role": "user", "content": FILE_PROMPT}]
    params = {"model": "m", "max_tokens": 100, "system": system, "tools": tools}
    if stream:
        with direct_anthropic.messages.stream(messages=messages, **params) as s:
            message = s.get_final_message()
    else:
        message = direct_anthropic.messages.create(messages=messages, **params)
    [use] = [b for b in message.content if b.type == "tool_use"]
    assert (use.name, use.input) == (
        "Write", {"file_path": "/home/me/project/hello.txt", "content": "hi"})
    assert message.stop_reason == "tool_use"

    messages += [{"role": "assistant", "content": message.content},
                 {"role": "user", "content": [{"type": "tool_result", "tool_use_id": use.id,
                                               "content": "written"}]}]
    final = direct_anthropic.messages.create(messages=messages, **params)
    assert [b.text for b in final.content] == ["Done: written"]

    forced = direct_anthropic.messages.create(
        model="m", max_tokens=100, messages=[{"role": "user", "content": "x"}],
        tools=[{"name": "Person", "input_schema": Person.model_json_schema()}],
        tool_choice={"type": "tool", "name": "Person"})
    assert forced.content[0].input == EXPECTED.model_dump()
    parsed = direct_anthropic.messages.parse(
        model="m", max_tokens=100, messages=[{"role": "user", "content": "x"}],
        output_format=Person)
    assert parsed.parsed_output == EXPECTED


def test_without_agent_mode_the_default_echo_answers(direct_openai, upstream):
    upstream.agent = False
    try:
        message = direct_openai.chat.completions.create(
            model="m", messages=[{"role": "user", "content": FILE_PROMPT}],
            tools=[{"type": "function", "function": {"name": "Write", "parameters": WRITE}}],
        ).choices[0].message
    finally:
        upstream.agent = True
    assert message.tool_calls is None and message.content == FILE_PROMPT


EXEC_COMMAND = {"type": "object", "properties": {
    "cmd": {"type": "string"}, "shell": {"type": "string"}, "workdir": {"type": "string"}},
    "required": ["cmd"], "additionalProperties": False}


@pytest.mark.parametrize("stream", [False, True])
def test_responses_format(upstream, direct_openai, stream):
    """The Responses API (what an ``openai_responses`` provider speaks): the file-writing tool
    first, else a shell tool with only its command; then the final text; structured output."""

    def create(**params):
        if not stream:
            return direct_openai.responses.create(model="m", **params)
        with direct_openai.responses.stream(model="m", **params) as s:
            events = [event.type for event in s]
            response = s.get_final_response()
        assert events[:2] == ["response.created", "response.in_progress"], events
        assert events[-1] == "response.completed", events
        return response

    tools = [{"type": "function", "name": "exec_command", "parameters": EXEC_COMMAND},
             {"type": "web_search"}]
    response = create(input=FILE_PROMPT, tools=tools)
    [call] = [item for item in response.output if item.type == "function_call"]
    assert (call.name, json.loads(call.arguments)) == (
        "exec_command", {"cmd": "printf '%s' hi > hello.txt"})
    assert response.usage.input_tokens > 0 and response.usage.output_tokens > 0

    history = [{"role": "user", "content": FILE_PROMPT},
               {"type": "function_call", "call_id": call.call_id, "name": call.name,
                "arguments": call.arguments},
               {"type": "function_call_output", "call_id": call.call_id, "output": "ran"}]
    final = create(input=history, tools=tools)
    assert final.output_text == "Done: ran"
    assert tool_results(upstream.last()) == ["ran"]

    tools.append({"type": "function", "name": "Write", "parameters": WRITE})
    upstream.agent_cwd = "/w"
    response = create(input=[{"role": "user", "content": FILE_PROMPT}], tools=tools)
    [call] = [item for item in response.output if item.type == "function_call"]
    assert (call.name, json.loads(call.arguments)) == (
        "Write", {"file_path": "/w/hello.txt", "content": "hi"})

    parsed = direct_openai.responses.parse(model="m", input="x", text_format=Person)
    assert parsed.output_parsed == EXPECTED


def test_codex_code_mode_tool(upstream, direct_openai):
    """Codex's code-mode ``exec`` tool (a custom tool in a namespace of an additional_tools item
    on the Responses API; a function taking {"input": ...} once translated to chat) gets a
    script calling tools.exec_command."""
    description = "Run JavaScript code ... `await tools.exec_command(...)` ..."
    items = [{"type": "additional_tools", "role": "developer", "tools": [
        {"type": "namespace", "name": "functions", "tools": [
            {"type": "custom", "name": "exec", "description": description,
             "format": {"type": "grammar", "syntax": "lark", "definition": "start: /.+/"}}]}]},
        {"type": "message", "role": "user",
         "content": [{"type": "input_text", "text": FILE_PROMPT}]}]
    response = direct_openai.post("/responses", cast_to=object,
                                  body={"model": "m", "input": items})
    [call] = response["output"]
    assert call["type"] == "custom_tool_call"
    assert (call["namespace"], call["name"]) == ("functions", "exec")
    assert "tools.exec_command({cmd: \"printf '%s' hi > hello.txt\"})" in call["input"]

    tools = [{"type": "function", "function": {
        "name": "functions__exec", "description": description,
        "parameters": {"type": "object", "properties": {"input": {"type": "string"}}}}}]
    message = direct_openai.chat.completions.create(
        model="m", messages=[{"role": "user", "content": FILE_PROMPT}], tools=tools,
    ).choices[0].message
    [chat_call] = message.tool_calls
    assert chat_call.function.name == "functions__exec"
    assert json.loads(chat_call.function.arguments)["input"] == call["input"]
