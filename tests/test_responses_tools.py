"""Tools on POST /v1/responses through the openai SDK on the three routes, sync and stream:
function calls (one, two in parallel, interleaved Chat chunks, empty arguments), functions inside
a `namespace` tool, `custom` tools, hosted tools left out (header and log), tool_choice,
structured output with responses.parse, and a request shaped as Codex CLI sends it."""
import json

import pytest
from pydantic import BaseModel

from tests.conftest import logged
from tests.mock_upstream import Stream, openai_interleaved_tool_chunks
from tests.responses_helpers import (
    ROUTES,
    STREAMS,
    VENDORS,
    ask,
    calls_of,
    check_stream,
    raw_events,
    script,
    sent,
)

WEATHER = {"type": "function", "name": "get_weather", "description": "The weather.",
           "parameters": {"type": "object", "properties": {"city": {"type": "string"}},
                          "required": ["city"]}}
NOW = {"type": "function", "name": "now", "parameters": {"type": "object", "properties": {}}}
AGENTS = {"type": "namespace", "name": "multi_agent_v1", "description": "Sub-agents.",
          "tools": [{"type": "function", "name": "spawn_agent", "description": "Spawn one.",
                     "strict": False,
                     "parameters": {"type": "object", "properties": {
                         "task": {"type": "string"}}, "required": ["task"],
                         "additionalProperties": False}}]}
PATCH = {"type": "custom", "name": "apply_patch", "description": "Apply a patch."}
WEB = {"type": "web_search", "external_web_access": False}


def _names_sent(body, vendor):
    if vendor == "chat":
        return [t["function"]["name"] for t in body.get("tools", [])]
    if vendor == "anthropic":
        return [t["name"] for t in body.get("tools", [])]
    return [t.get("name") or t["type"] for t in body.get("tools", [])]


@pytest.mark.parametrize("stream", STREAMS)
@pytest.mark.parametrize("vendor", VENDORS)
def test_one_function_call(openai_client, upstream, vendor, stream):
    script(upstream, vendor, stream, calls=[("call_1", "get_weather", '{"city": "Paris"}')],
           split=4)
    response, events = ask(openai_client, stream, model=ROUTES[vendor], input="Weather?",
                           tools=[WEATHER], tool_choice={"type": "function",
                                                         "name": "get_weather"})
    [call] = calls_of(response)
    assert (call.type, call.call_id, call.name, json.loads(call.arguments)) == (
        "function_call", "call_1", "get_weather", {"city": "Paris"})
    assert call.status == "completed" and response.status == "completed"
    body = sent(upstream)
    if vendor == "chat":
        assert body["tool_choice"] == {"type": "function", "function": {"name": "get_weather"}}
    elif vendor == "anthropic":
        assert body["tool_choice"] == {"type": "tool", "name": "get_weather"}
    else:
        assert body["tool_choice"] == {"type": "function", "name": "get_weather"}


@pytest.mark.parametrize("vendor", VENDORS)
def test_two_parallel_calls_stream_in_the_documented_sequence(openai_client, upstream, vendor):
    calls = [("call_1", "get_weather", '{"city": "Paris"}'),
             ("call_2", "get_weather", '{"city": "Rome"}')]
    script(upstream, vendor, True, "Checking both.", calls=calls, split=3)
    events, _ = raw_events(openai_client, model=ROUTES[vendor], input="Both?", tools=[WEATHER])
    response = check_stream(events)
    assert [(c.call_id, json.loads(c.arguments)) for c in calls_of(response)] == [
        ("call_1", {"city": "Paris"}), ("call_2", {"city": "Rome"})]
    assert response.output_text == "Checking both."
    kinds = [e.type for e in events]
    assert kinds.count("response.output_item.added") == 3
    assert kinds.count("response.function_call_arguments.done") == 2
    assert kinds[-1] == "response.completed"


@pytest.mark.parametrize("stream", STREAMS)
@pytest.mark.parametrize("vendor", ["chat", "anthropic"])
def test_empty_arguments_are_an_empty_object(openai_client, upstream, vendor, stream):
    script(upstream, vendor, stream, calls=[("call_1", "now", "")])
    response, _ = ask(openai_client, stream, model=ROUTES[vendor], input="Time?", tools=[NOW])
    [call] = calls_of(response)
    assert (call.name, call.arguments) == ("now", "{}")


def test_interleaved_chat_tool_chunks_come_out_as_whole_items(openai_client, upstream):
    calls = [("call_a", "get_weather", '{"city": "Paris"}'),
             ("call_b", "get_weather", '{"city": "Oslo"}'),
             ("call_c", "now", "{}")]
    upstream.script(Stream(openai_interleaved_tool_chunks(calls, "gpt-upstream", split=3)))
    events, _ = raw_events(openai_client, model="gpt-test", input="All", tools=[WEATHER, NOW])
    response = check_stream(events)
    assert [(c.call_id, c.name, json.loads(c.arguments)) for c in calls_of(response)] == [
        ("call_a", "get_weather", {"city": "Paris"}), ("call_b", "get_weather", {"city": "Oslo"}),
        ("call_c", "now", {})]


def test_interleaved_chunks_through_the_sdk_accumulator(openai_client, upstream):
    calls = [("call_a", "get_weather", '{"city": "Paris"}'),
             ("call_b", "get_weather", '{"city": "Oslo"}')]
    upstream.script(Stream(openai_interleaved_tool_chunks(calls, "gpt-upstream", split=2)))
    response, _ = ask(openai_client, True, model="gpt-test", input="All", tools=[WEATHER])
    assert [json.loads(c.arguments)["city"] for c in calls_of(response)] == ["Paris", "Oslo"]


@pytest.mark.parametrize("stream", STREAMS)
@pytest.mark.parametrize("vendor", ["chat", "anthropic"])
def test_namespace_functions_come_back_with_their_namespace_and_go_back_up(
        openai_client, upstream, vendor, stream):
    script(upstream, vendor, stream,
           calls=[("call_9", "multi_agent_v1__spawn_agent", '{"task": "lint"}')])
    response, _ = ask(openai_client, stream, model=ROUTES[vendor], input="Go", tools=[AGENTS])
    assert _names_sent(sent(upstream), vendor) == ["multi_agent_v1__spawn_agent"]
    [call] = calls_of(response)
    assert (call.type, call.namespace, call.name, call.call_id) == (
        "function_call", "multi_agent_v1", "spawn_agent", "call_9")
    script(upstream, vendor, stream, "Spawned.")
    history = [{"type": "message", "role": "user", "content": "Go"},
               call.model_dump(exclude_none=True),
               {"type": "function_call_output", "call_id": "call_9", "output": "agent 7"}]
    ask(openai_client, stream, model=ROUTES[vendor], input=history, tools=[AGENTS])
    body = sent(upstream)
    if vendor == "chat":
        assert body["messages"][1]["tool_calls"][0]["function"]["name"] == \
            "multi_agent_v1__spawn_agent"
    else:
        assert body["messages"][1]["content"][0]["name"] == "multi_agent_v1__spawn_agent"


def test_a_namespace_tool_passes_through_to_a_responses_vendor(openai_client, upstream):
    script(upstream, "responses", False, "ok")
    openai_client.responses.create(model="resp-test", input="Go", tools=[AGENTS, WEB, PATCH])
    assert sent(upstream)["tools"] == [AGENTS, WEB, PATCH]


@pytest.mark.parametrize("stream", STREAMS)
@pytest.mark.parametrize("vendor", ["chat", "anthropic"])
def test_a_custom_tool_call_comes_back_with_its_input_unwrapped(openai_client, upstream, vendor,
                                                                stream):
    patch = "*** Begin Patch\n*** Add File: a.txt\n+hi\n*** End Patch"
    script(upstream, vendor, stream,
           calls=[("call_p", "apply_patch", json.dumps({"input": patch}))], split=5)
    response, _ = ask(openai_client, stream, model=ROUTES[vendor], input="Patch",
                      tools=[PATCH])
    [call] = calls_of(response)
    assert (call.type, call.name, call.input, call.call_id) == (
        "custom_tool_call", "apply_patch", patch, "call_p")
    script(upstream, vendor, stream, "Applied.")
    history = [{"type": "message", "role": "user", "content": "Patch"},
               call.model_dump(exclude_none=True),
               {"type": "custom_tool_call_output", "call_id": "call_p", "output": "Done!"}]
    response, _ = ask(openai_client, stream, model=ROUTES[vendor], input=history, tools=[PATCH])
    assert response.output_text == "Applied."
    body = sent(upstream)
    if vendor == "chat":
        assert json.loads(body["messages"][1]["tool_calls"][0]["function"]["arguments"]) == {
            "input": patch}
        assert body["messages"][2] == {"role": "tool", "tool_call_id": "call_p",
                                       "content": "Done!"}
    else:
        assert body["messages"][1]["content"][0]["input"] == {"input": patch}
        assert body["messages"][2]["content"][0]["tool_use_id"] == "call_p"


@pytest.mark.parametrize("stream", STREAMS)
@pytest.mark.parametrize("vendor", ["chat", "anthropic"])
def test_a_custom_tool_inside_a_namespace_comes_back_with_its_namespace(openai_client, upstream,
                                                                       vendor, stream):
    """Codex's code mode: a free-form ``exec`` tool in the ``functions`` namespace."""
    code = {"type": "namespace", "name": "functions", "description": "",
            "tools": [{"type": "custom", "name": "exec", "description": "Run JavaScript."}]}
    script(upstream, vendor, stream,
           calls=[("call_x", "functions__exec", json.dumps({"input": "text(1)"}))], split=4)
    response, _ = ask(openai_client, stream, model=ROUTES[vendor], input="Run", tools=[code])
    [call] = calls_of(response)
    dumped = call.model_dump(exclude_none=True)
    assert (dumped["type"], dumped.get("namespace"), dumped["name"], dumped["input"]) == (
        "custom_tool_call", "functions", "exec", "text(1)")
    script(upstream, vendor, stream, "Ran.")
    history = [{"type": "message", "role": "user", "content": "Run"}, dumped,
               {"type": "custom_tool_call_output", "call_id": "call_x", "output": "1"}]
    ask(openai_client, stream, model=ROUTES[vendor], input=history, tools=[code])
    body = sent(upstream)
    if vendor == "chat":
        assert body["messages"][1]["tool_calls"][0]["function"]["name"] == "functions__exec"
    else:
        assert body["messages"][1]["content"][0]["name"] == "functions__exec"


@pytest.mark.parametrize("stream", STREAMS)
@pytest.mark.parametrize("vendor", VENDORS)
def test_web_search_is_left_out_where_it_cannot_run_and_said_so(openai_client, upstream, app,
                                                                vendor, stream):
    script(upstream, vendor, stream, "No search.")
    raw = openai_client.responses.with_raw_response.create(
        model=ROUTES[vendor], input="Search", tools=[WEATHER, WEB], stream=stream)
    response = check_stream(list(raw.parse())) if stream else raw.parse()
    assert response.output_text == "No search."
    row = logged(app, raw.headers["x-request-id"])
    if vendor == "responses":
        assert sent(upstream)["tools"] == [WEATHER, WEB]
        assert "x-gateway-dropped-tools" not in raw.headers
        return
    assert _names_sent(sent(upstream), vendor) == ["get_weather"]
    assert raw.headers["x-gateway-dropped-tools"] == "web_search"
    assert row.attempts[-1]["dropped_tools"] == ["web_search"]


# ---- structured output ------------------------------------------------------------------------

class Person(BaseModel):
    name: str
    age: int


@pytest.mark.parametrize("stream", STREAMS)
@pytest.mark.parametrize("vendor", VENDORS)
def test_parse_with_a_pydantic_model_on_every_route(openai_client, upstream, vendor, stream):
    script(upstream, vendor, stream, '{"name": "Ada", "age": 36}')
    response, _ = ask(openai_client, stream, model=ROUTES[vendor], input="Who?",
                      text_format=Person)
    assert response.output_parsed == Person(name="Ada", age=36)
    body = sent(upstream)
    if vendor == "chat":
        schema = body["response_format"]["json_schema"]
        assert body["response_format"]["type"] == "json_schema"
    elif vendor == "anthropic":
        schema = body["output_config"]["format"]
        assert schema["type"] == "json_schema"
    else:
        schema = body["text"]["format"]
        assert schema["type"] == "json_schema" and schema["name"] == "Person"
    assert schema["schema"]["properties"].keys() == {"name", "age"}


# ---- Codex CLI ------------------------------------------------------------------------------

EXEC = {"type": "function", "name": "exec_command", "description": "Runs a command in a PTY.",
        "strict": False, "parameters": {"type": "object", "properties": {
            "cmd": {"type": "string", "description": "Shell command to execute."}},
            "required": ["cmd"], "additionalProperties": False}}
SESSION = "01a2313d-08d2-7173-9dd9-0d5f37d12fd1"
CODEX_BODY = {
    "input": [
        {"type": "message", "id": "msg_93a71dcf", "role": "developer",
         "content": [{"type": "input_text", "text": "You are a coding agent in the Codex CLI."}]},
        {"type": "message", "id": "msg_01a2313d-1", "role": "developer",
         "content": [{"type": "input_text", "text": "<permissions>workspace-write</...>"},
                     {"type": "input_text", "text": "<collaboration_mode>exec</...>"}]},
        {"type": "message", "id": "msg_01a2313d-2", "role": "user",
         "content": [{"type": "input_text", "text": "<environment_context>/repo</...>"}]},
        {"type": "message", "id": "msg_01a2313d-3", "role": "user",
         "content": [{"type": "input_text", "text": "create hello.txt containing hi"}]}],
    "tools": [EXEC, AGENTS, WEB], "tool_choice": "auto", "parallel_tool_calls": True,
    "reasoning": {"summary": "auto"}, "store": False,
    "include": ["reasoning.encrypted_content"], "prompt_cache_key": SESSION,
    "client_metadata": {"thread_id": SESSION, "session_id": SESSION,
                        "x-codex-turn-metadata": '{"request_kind":"turn"}'},
}
CODEX_FOLLOW_UP = [
    {"type": "function_call", "status": "completed", "id": "fc_1", "name": "exec_command",
     "arguments": '{"cmd": "printf hi > hello.txt"}', "call_id": "call_x"},
    {"type": "function_call_output", "id": "fco_01a2313e", "call_id": "call_x",
     "output": "Process exited with code 0\nOutput:\n"}]


@pytest.mark.parametrize("vendor", VENDORS)
def test_a_codex_turn_works_on_every_route(openai_client, upstream, app, vendor):
    """Codex streams; its first call gets exec_command, its follow-up the final text."""
    script(upstream, vendor, True, "Creating it.",
           calls=[("call_x", "exec_command", '{"cmd": "printf hi > hello.txt"}')])
    events, request_id = raw_events(openai_client, model=ROUTES[vendor],
                                    extra_body=CODEX_BODY)
    response = check_stream(events)
    [call] = calls_of(response)
    assert (call.name, json.loads(call.arguments)) == (
        "exec_command", {"cmd": "printf hi > hello.txt"})
    body = sent(upstream)
    if vendor == "responses":
        assert {k: body[k] for k in CODEX_BODY} == CODEX_BODY
    else:
        assert _names_sent(body, vendor) == ["exec_command", "multi_agent_v1__spawn_agent"]
        assert logged(app, request_id).attempts[-1]["dropped_tools"] == ["web_search"]
        text = json.dumps(body)
        assert "You are a coding agent" in text and "create hello.txt" in text
    script(upstream, vendor, True, "Created hello.txt.")
    follow_up = {**CODEX_BODY, "input": CODEX_BODY["input"] + CODEX_FOLLOW_UP}
    events, _ = raw_events(openai_client, model=ROUTES[vendor], extra_body=follow_up)
    assert check_stream(events).output_text == "Created hello.txt."
    body = sent(upstream)
    if vendor == "chat":
        assert body["messages"][-2]["tool_calls"][0]["id"] == "call_x"
        assert body["messages"][-1] == {"role": "tool", "tool_call_id": "call_x",
                                        "content": CODEX_FOLLOW_UP[1]["output"]}
    elif vendor == "anthropic":
        assert body["messages"][-2]["content"][-1]["id"] == "call_x"
        assert body["messages"][-1]["content"][0]["content"] == CODEX_FOLLOW_UP[1]["output"]
    else:
        assert body["input"][-2:] == CODEX_FOLLOW_UP
