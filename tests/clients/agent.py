"""A scripted "agent" for the mock upstream (``MockUpstream(agent=True)``), in its three wire
formats: Chat Completions, Anthropic Messages and the Responses API.

It answers what no test scripted, from the request alone, the way a capable model would for the
few prompts the client tests send:

- the latest turn carries tool results -> a short final text, ``"Done: <first result>"``;
- the request forces a tool (OpenAI ``tool_choice`` "required" or a named function, Anthropic
  ``tool_choice`` "any" or "tool") -> a call of that tool, arguments generated from its schema
  (or the file arguments below when it is a file-writing tool);
- the latest user turn asks to create a file ("create hello.txt containing hi") and a tool that
  writes files is offered (a tool with a path-like and a content-like string property, such as
  Claude Code's ``Write(file_path, content)``) -> a call of that tool; the path is absolute,
  under the client's working directory, when the tool's path property says "absolute" (the
  directory is read from the prompt's "Primary working directory: ..." or ``cwd``);
- the same, with no such tool but a shell tool (a command-like string or array property, such as
  Codex's ``exec_command(cmd)`` or ``shell(command)``) -> a call of it with a ``printf`` command
  that writes the file in the working directory (only the command argument: the other properties
  of such tools are knobs better left to their defaults);
- the same, with only Codex's "code mode" tool (what Codex offers the models it knows: a free-form
  ``exec`` tool running JavaScript that reaches the other tools as ``tools.exec_command(...)``;
  a ``custom`` tool, inside a ``namespace`` and an ``additional_tools`` input item, on the
  Responses API; a function taking ``{"input": string}`` once translated) -> a call of it with a
  script running that ``printf`` command;
- Codex's context compaction: its summarization prompt ("CONTEXT CHECKPOINT COMPACTION", an
  ordinary turn: local compaction), or any prompt asking to write a summary (the gateway's, when
  it serves a remote compaction itself) -> a summary; the Responses API's ``compaction_trigger``
  input item (remote compaction, which Codex asks of a provider named "OpenAI") -> one
  ``compaction`` item, as OpenAI answers; a conversation carried on past either (the summary
  handed over, a message saying the conversation was compacted, or a ``compaction`` item last)
  -> "Done: <summary>";
- a structured-output request (OpenAI ``response_format`` json_schema, Responses ``text.format``
  json_schema, Anthropic ``output_config.format`` / ``output_format`` json_schema) -> JSON
  satisfying the schema (``sample``);
- anything else -> None: the mock's default answer (an echo of the last user message).

Answers are JSON or SSE as the request asks (``stream``). Standard library only.
"""

from __future__ import annotations

import base64
import json
import os
import re
import shlex
import time
import uuid
from typing import Any

from tests.mock_upstream import (
    Received,
    Reply,
    Stream,
    anthropic_events,
    anthropic_message,
    openai_chunks,
    openai_completion,
)

__all__ = ["answer", "sample", "tool_results", "file_request", "write_tool", "shell_tool",
           "code_mode_tool", "responses_object", "responses_events"]

_CREATE = re.compile(
    r"\bcreate\s+(?:a\s+file\s+(?:named\s+|called\s+)?|the\s+file\s+|file\s+)?"
    r"[`'\"]?(?P<path>[\w][\w./-]*)[`'\"]?\s+(?:containing|with\s+(?:the\s+)?content)\s+"
    r"[`'\"]?(?P<content>[^`'\"\n]+?)[`'\"]?\s*[.!]?\s*$",
    re.IGNORECASE | re.MULTILINE,
)
_CWD = re.compile(r"(?:Primary working directory|[Ww]orking directory|cwd)\s*:\s*(/[^\s`'\"]*)")
_PATH_NAMES = ("file_path", "filepath", "path", "filename", "file_name", "file")
_CONTENT_NAMES = ("content", "contents", "text", "data", "body")
_COMMAND_NAMES = ("cmd", "command")
_TEXT_PARTS = ("text", "input_text", "output_text")


# --------------------------------------------------------------------------------------------
# Values that satisfy a JSON schema
# --------------------------------------------------------------------------------------------


def sample(schema: Any, name: str = "value", root: Any = None) -> Any:
    """A deterministic value satisfying ``schema`` (objects, arrays, strings, integers, numbers,
    booleans, enums, const, nullable types, anyOf/oneOf/allOf, local $refs).

    Every property of an object is filled; a string is ``"sample <property name>"``, an integer
    42, a number 1.5, a boolean true, an array one item, an enum or anyOf its first choice."""
    root = schema if root is None else root
    if not isinstance(schema, dict):
        return None
    if "$ref" in schema:
        return sample(_resolve(schema["$ref"], root), name, root)
    if "const" in schema:
        return schema["const"]
    if isinstance(schema.get("enum"), list) and schema["enum"]:
        return schema["enum"][0]
    for combinator in ("anyOf", "oneOf"):
        options = schema.get(combinator)
        if isinstance(options, list) and options:
            chosen = next((o for o in options if not _is_null(o)), options[0])
            return sample(chosen, name, root)
    if isinstance(schema.get("allOf"), list) and schema["allOf"]:
        merged: dict = {}
        for part in schema["allOf"]:
            part = _resolve(part["$ref"], root) if isinstance(part, dict) and "$ref" in part \
                else part
            if isinstance(part, dict):
                merged.update(part)
        return sample(merged, name, root)
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "null")
    if kind is None:
        kind = "object" if "properties" in schema else "string"
    if kind == "object":
        properties = schema.get("properties") or {}
        return {key: sample(sub, key, root) for key, sub in properties.items()}
    if kind == "array":
        items = schema.get("items")
        count = max(1, int(schema.get("minItems") or 1))
        return [sample(items if isinstance(items, dict) else {}, name, root)
                for _ in range(count)]
    if kind == "integer":
        return 42
    if kind == "number":
        return 1.5
    if kind == "boolean":
        return True
    if kind == "null":
        return None
    return f"sample {name}"


def _is_null(schema: Any) -> bool:
    return isinstance(schema, dict) and schema.get("type") == "null"


def _resolve(ref: str, root: Any) -> Any:
    node = root
    for part in ref.lstrip("#/").split("/"):
        if not part:
            continue
        node = node.get(part.replace("~1", "/").replace("~0", "~")) if isinstance(node, dict) \
            else None
    return node if isinstance(node, dict) else {}


# --------------------------------------------------------------------------------------------
# Reading a request in either format
# --------------------------------------------------------------------------------------------


def _texts(content: Any) -> list[str]:
    """The texts of a message content (a string, or text parts/blocks)."""
    if isinstance(content, str):
        return [content]
    if isinstance(content, list):
        return [part["text"] for part in content
                if isinstance(part, dict) and part.get("type") in _TEXT_PARTS
                and isinstance(part.get("text"), str)]
    return []


def _strings(value: Any):
    if isinstance(value, str):
        yield value
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)


def _is_openai(received: Received) -> bool:
    return received.path.endswith("/chat/completions")


def _is_anthropic(received: Received) -> bool:
    return received.path.rstrip("/").endswith("/v1/messages")


def _is_responses(received: Received) -> bool:
    return received.path.rstrip("/").endswith("/responses")


def _items(body: dict) -> list:
    """A Responses request's input as items (a string input is one user message)."""
    value = body.get("input")
    if isinstance(value, str):
        return [{"type": "message", "role": "user", "content": value}]
    return [item for item in value if isinstance(item, dict)] if isinstance(value, list) else []


def _is_message(item: dict) -> bool:
    return item.get("type", "message") == "message" and "role" in item


def _turn(body: dict) -> tuple[str, list]:
    """The latest conversational message (system/developer ones skipped): (role, message)."""
    messages = body.get("messages")
    if not isinstance(messages, list):
        messages = [item for item in _items(body) if _is_message(item)]
    for message in reversed(messages):
        if isinstance(message, dict) and message.get("role") not in ("system", "developer"):
            return message.get("role", ""), message
    return "", {}


def tool_results(received: Received) -> list[str]:
    """The texts of the tool results the latest turn of ``received`` carries (both formats)."""
    body = received.json if isinstance(received.json, dict) else {}
    if _is_responses(received):
        out = []
        for item in reversed(_items(body)):
            kind = item.get("type", "message")
            if kind in ("function_call_output", "custom_tool_call_output"):
                output = item.get("output")
                out.insert(0, output if isinstance(output, str) else "".join(_texts(output)))
            elif kind == "message" and item.get("role") in ("system", "developer"):
                continue
            elif kind not in ("function_call", "custom_tool_call", "reasoning"):
                break
        return out
    if _is_openai(received):
        out = []
        for message in reversed(body.get("messages") or []):
            if not isinstance(message, dict) or message.get("role") in ("system", "developer"):
                continue
            if message.get("role") != "tool":
                break
            out.insert(0, "".join(_texts(message.get("content"))))
        return out
    role, message = _turn(body)
    content = message.get("content") if role == "user" else None
    if not isinstance(content, list):
        return []
    out = []
    for block in content:
        if isinstance(block, dict) and block.get("type") == "tool_result":
            inner = block.get("content")
            out.append("".join(_texts(inner)) if not isinstance(inner, str) else inner)
    return out


def _user_text(body: dict) -> str:
    role, message = _turn(body)
    return "\n".join(_texts(message.get("content"))) if role == "user" else ""


def _tools(received: Received) -> list[tuple[str, dict]]:
    """Offered function tools as (name, parameters schema)."""
    body = received.json if isinstance(received.json, dict) else {}
    tools = body.get("tools") if isinstance(body.get("tools"), list) else []
    out = []
    for tool in tools:
        if not isinstance(tool, dict):
            continue
        if _is_responses(received):
            if tool.get("type") == "function" and isinstance(tool.get("name"), str):
                out.append((tool["name"], tool.get("parameters") or {}))
        elif _is_openai(received):
            function = tool.get("function") if tool.get("type") == "function" else None
            if isinstance(function, dict) and isinstance(function.get("name"), str):
                out.append((function["name"], function.get("parameters") or {}))
        elif isinstance(tool.get("name"), str) and "input_schema" in tool:
            out.append((tool["name"], tool.get("input_schema") or {}))
    return out


def _forced_tool(received: Received, tools: list[tuple[str, dict]]) -> tuple[str, dict] | None:
    body = received.json if isinstance(received.json, dict) else {}
    choice = body.get("tool_choice")
    if not tools or choice is None:
        return None
    name = None
    if _is_responses(received):
        if choice == "required":
            return write_tool(tools) or tools[0]
        if isinstance(choice, dict) and choice.get("type") == "function":
            name = choice.get("name")
    elif _is_openai(received):
        if choice == "required":
            return write_tool(tools) or tools[0]
        if isinstance(choice, dict) and isinstance(choice.get("function"), dict):
            name = choice["function"].get("name")
    elif isinstance(choice, dict):
        if choice.get("type") == "any":
            return write_tool(tools) or tools[0]
        if choice.get("type") == "tool":
            name = choice.get("name")
    return next((tool for tool in tools if tool[0] == name), None)


def write_tool(tools: list[tuple[str, dict]]) -> tuple[str, dict] | None:
    """The offered tool that writes a file: a path-like and a content-like property."""
    for name, schema in tools:
        properties = schema.get("properties") if isinstance(schema, dict) else None
        if not isinstance(properties, dict):
            continue
        if _prop(properties, _PATH_NAMES) and _prop(properties, _CONTENT_NAMES):
            return name, schema
    return None


def shell_tool(tools: list[tuple[str, dict]]) -> tuple[str, dict] | None:
    """The offered tool that runs a shell command: a ``cmd``/``command`` property, a string or
    an array of strings (Codex's ``exec_command(cmd)``, the older ``shell(command)``)."""
    for name, schema in tools:
        properties = schema.get("properties") if isinstance(schema, dict) else None
        key = _prop(properties, _COMMAND_NAMES) if isinstance(properties, dict) else None
        if key and (properties[key] or {}).get("type") in ("string", "array"):
            return name, schema
    return None


COMPACTION_PROMPT = "CONTEXT CHECKPOINT COMPACTION"
HANDOFF = "Here is the summary produced by the other language model"
SUMMARY = "Summary: hello.txt was created containing hi; nothing is left to do."
# A request to summarize the conversation: Codex's local compaction prompt, or one asking to
# write a summary (the gateway's own, when it serves Codex's remote compaction on a model that
# has none); a conversation that goes on from a summary: Codex's hand-over, or a message saying
# the conversation was compacted (the gateway's reading of its compaction item).
_SUMMARIZE = re.compile(COMPACTION_PROMPT + r"|\b(?:write|create)\b[^.\n]{0,40}\bsummary\b",
                        re.IGNORECASE)
_HANDED_OVER = re.compile(re.escape(HANDOFF) + r"|\bcompacted\b", re.IGNORECASE)


def _compaction(received: Received, text: str) -> str | None:
    """What a compaction-related request asks for: "summarize" (Codex's local compaction
    prompt), "compact" (a Responses ``compaction_trigger`` item), "done" (the conversation
    after a compaction), or None."""
    if _is_responses(received):
        body = received.json if isinstance(received.json, dict) else {}
        last = [item for item in _items(body)
                if not (_is_message(item) and item.get("role") in ("system", "developer"))]
        if last and last[-1].get("type") == "compaction_trigger":
            return "compact"
        if last and last[-1].get("type") == "compaction":
            return "done"
    if _HANDED_OVER.search(text):
        return "done"
    if _SUMMARIZE.search(text):
        return "summarize"
    return None


def code_mode_tool(received: Received) -> tuple[str, str | None, str] | None:
    """Codex's code-mode tool, as (name, namespace, "custom" or "function"): a tool whose
    description says it runs JavaScript reaching ``tools.exec_command``."""
    body = received.json if isinstance(received.json, dict) else {}
    if _is_responses(received):
        tools = list(body.get("tools") or []) if isinstance(body.get("tools"), list) else []
        for item in _items(body):
            if item.get("type") == "additional_tools" and isinstance(item.get("tools"), list):
                tools += item["tools"]
        for tool in tools:
            if not isinstance(tool, dict):
                continue
            if tool.get("type") == "namespace" and isinstance(tool.get("tools"), list):
                for inner in tool["tools"]:
                    if isinstance(inner, dict) and _runs_code(inner):
                        return inner["name"], tool.get("name"), inner.get("type", "function")
            elif _runs_code(tool):
                return tool["name"], None, tool.get("type", "function")
        return None
    for tool in body.get("tools") or []:
        if not isinstance(tool, dict):
            continue
        described = tool.get("function") if _is_openai(received) else tool
        if isinstance(described, dict) and _runs_code(described):
            return described["name"], None, "function"
    return None


def _runs_code(tool: dict) -> bool:
    return (isinstance(tool.get("name"), str)
            and "tools.exec_command" in str(tool.get("description") or ""))


def code_mode_script(path: str, content: str) -> str:
    command = f"printf '%s' {shlex.quote(content)} > {shlex.quote(path)}"
    return (f"const result = await tools.exec_command({{cmd: {json.dumps(command)}}});\n"
            "text(JSON.stringify(result));\n")


def _shell_arguments(schema: dict, path: str, content: str) -> dict:
    properties = schema.get("properties") or {}
    key = _prop(properties, _COMMAND_NAMES)
    command = f"printf '%s' {shlex.quote(content)} > {shlex.quote(path)}"
    if (properties[key] or {}).get("type") == "array":
        return {key: ["bash", "-lc", command]}
    return {key: command}


def _prop(properties: dict, names: tuple[str, ...]) -> str | None:
    return next((n for n in names if n in properties), None)


def file_request(text: str) -> tuple[str, str] | None:
    """(path, content) when ``text`` asks to create a file ("create hello.txt containing hi")."""
    match = _CREATE.search(text or "")
    return (match["path"], match["content"].strip()) if match else None


def _structured_schema(received: Received) -> dict | None:
    body = received.json if isinstance(received.json, dict) else {}
    if _is_responses(received):
        text = body.get("text")
        fmt = text.get("format") if isinstance(text, dict) else None
        if isinstance(fmt, dict) and fmt.get("type") == "json_schema":
            return fmt.get("schema") if isinstance(fmt.get("schema"), dict) else {}
        if isinstance(fmt, dict) and fmt.get("type") == "json_object":
            return {"type": "object", "properties": {}}
        return None
    if _is_openai(received):
        fmt = body.get("response_format")
        if isinstance(fmt, dict) and fmt.get("type") == "json_schema":
            spec = fmt.get("json_schema") or {}
            return spec.get("schema") if isinstance(spec.get("schema"), dict) else {}
        if isinstance(fmt, dict) and fmt.get("type") == "json_object":
            return {"type": "object", "properties": {}}
        return None
    config = body.get("output_config")
    fmt = config.get("format") if isinstance(config, dict) else None
    if fmt is None:
        fmt = body.get("output_format")  # the structured-outputs beta's spelling
    if isinstance(fmt, dict) and fmt.get("type") == "json_schema":
        return fmt.get("schema") if isinstance(fmt.get("schema"), dict) else {}
    return None


def _file_arguments(received: Received, schema: dict, path: str, content: str,
                    cwd: str | None) -> dict:
    properties = schema.get("properties") or {}
    path_key = _prop(properties, _PATH_NAMES) or "file_path"
    content_key = _prop(properties, _CONTENT_NAMES) or "content"
    described = json.dumps(properties.get(path_key) or {}).lower()
    if "absolute" in described and not os.path.isabs(path):
        found = next((m.group(1) for s in _strings(received.json) for m in [_CWD.search(s)] if m),
                     None)
        base = found or cwd
        if base:
            path = os.path.join(base, path)
    arguments = sample(schema)
    arguments = arguments if isinstance(arguments, dict) else {}
    arguments.update({path_key: path, content_key: content})
    return arguments


# --------------------------------------------------------------------------------------------
# The answer
# --------------------------------------------------------------------------------------------


def _words(body: dict) -> int:
    prompt = [body.get("messages"), body.get("system"), body.get("input"), body.get("instructions")]
    return max(1, sum(len(s.split()) for s in _strings(prompt)))


def responses_object(text: str = "", *, model: str = "gpt-test",
                     calls: list[tuple[str, str, str]] | None = None,
                     custom: dict | None = None, items: list[dict] | None = None,
                     usage: tuple[int, int, int] = (10, 5, 0)) -> dict:
    """A completed Responses API response: a message with ``text`` (when there is any), then a
    ``function_call`` item per ``(call_id, name, arguments JSON)``, then ``custom`` (a
    ``custom_tool_call``'s name, input and optional namespace), then ``items`` as they are;
    usage (input, output, cached input tokens)."""
    output: list[dict] = []
    if text:
        output.append({"type": "message", "id": f"msg_{uuid.uuid4().hex}", "status": "completed",
                       "role": "assistant",
                       "content": [{"type": "output_text", "text": text, "annotations": []}]})
    for call_id, name, arguments in calls or []:
        output.append({"type": "function_call", "id": f"fc_{uuid.uuid4().hex}",
                       "call_id": call_id, "name": name, "arguments": arguments,
                       "status": "completed"})
    if custom:
        output.append({"type": "custom_tool_call", "id": f"ctc_{uuid.uuid4().hex}",
                       "call_id": f"call_{uuid.uuid4().hex[:24]}", **custom,
                       "status": "completed"})
    output += items or []
    prompt, completion, cached = usage
    return {
        "id": f"resp_{uuid.uuid4().hex}", "object": "response", "created_at": int(time.time()),
        "status": "completed", "error": None, "incomplete_details": None, "model": model,
        "output": output, "parallel_tool_calls": True, "tool_choice": "auto", "tools": [],
        "usage": {"input_tokens": prompt, "input_tokens_details": {"cached_tokens": cached},
                  "output_tokens": completion,
                  "output_tokens_details": {"reasoning_tokens": 0},
                  "total_tokens": prompt + completion},
    }


def responses_events(response: dict) -> list[tuple[str, dict]]:
    """The documented event sequence of a streamed ``response`` (see ``responses_object``):
    created, in_progress, each item added/done with its content part and deltas, completed."""
    shell = {key: value for key, value in response.items() if key not in ("output", "usage")}
    shell.update(status="in_progress", output=[], usage=None)
    events: list[tuple[str, dict]] = [("response.created", {"response": shell}),
                                      ("response.in_progress", {"response": shell})]
    for index, item in enumerate(response["output"]):
        at = {"output_index": index, "item_id": item.get("id")}
        if item["type"] == "message":
            events.append(("response.output_item.added", {
                "output_index": index, "item": {**item, "status": "in_progress", "content": []}}))
            part = item["content"][0]
            empty = {**part, "text": ""}
            events.append(("response.content_part.added", {**at, "content_index": 0,
                                                           "part": empty}))
            words = re.findall(r"\S+\s*", part["text"]) or [part["text"]]
            for word in words:
                events.append(("response.output_text.delta", {**at, "content_index": 0,
                                                              "delta": word, "logprobs": []}))
            events.append(("response.output_text.done", {**at, "content_index": 0,
                                                         "text": part["text"], "logprobs": []}))
            events.append(("response.content_part.done", {**at, "content_index": 0,
                                                          "part": part}))
        elif item["type"] not in ("custom_tool_call", "function_call"):
            events.append(("response.output_item.added", {"output_index": index,
                                                          "item": item}))
        elif item["type"] == "custom_tool_call":
            events.append(("response.output_item.added", {
                "output_index": index, "item": {**item, "status": "in_progress", "input": ""}}))
            events.append(("response.custom_tool_call_input.delta", {
                **at, "delta": item["input"]}))
            events.append(("response.custom_tool_call_input.done", {
                **at, "input": item["input"]}))
        else:
            events.append(("response.output_item.added", {
                "output_index": index,
                "item": {**item, "status": "in_progress", "arguments": ""}}))
            events.append(("response.function_call_arguments.delta", {
                **at, "delta": item["arguments"]}))
            events.append(("response.function_call_arguments.done", {
                **at, "name": item["name"], "arguments": item["arguments"]}))
        events.append(("response.output_item.done", {"output_index": index, "item": item}))
    events.append(("response.completed", {"response": response}))
    return [(name, {"type": name, "sequence_number": number, **data})
            for number, (name, data) in enumerate(events)]


def _reply(received: Received, text: str = "", call: tuple[str, dict] | None = None,
           custom: dict | None = None, items: list[dict] | None = None):
    """The answer: ``text``, a function ``call`` (name, arguments), or on the Responses API a
    ``custom`` tool call (name, input, namespace)."""
    body = received.json if isinstance(received.json, dict) else {}
    model = body.get("model") or ("claude-test" if _is_anthropic(received) else "gpt-test")
    usage = (_words(body), max(1, len(text.split())) + (5 if call or custom else 0), 0)
    if _is_responses(received):
        calls = [(f"call_{uuid.uuid4().hex[:24]}", call[0], json.dumps(call[1]))] if call \
            else None
        response = responses_object(text, model=model, calls=calls, custom=custom, items=items,
                                    usage=usage)
        if body.get("stream"):
            return Stream(responses_events(response))
        return Reply(json=response)
    if _is_openai(received):
        calls = [(f"call_{uuid.uuid4().hex[:24]}", call[0], json.dumps(call[1]))] if call \
            else None
        if body.get("stream"):
            options = body.get("stream_options")
            include = isinstance(options, dict) and bool(options.get("include_usage"))
            return Stream(openai_chunks(text, model=model, tool_calls=calls, usage=usage,
                                        include_usage=include))
        return Reply(json=openai_completion(text, model=model, tool_calls=calls, usage=usage))
    uses = [(f"toolu_{uuid.uuid4().hex[:24]}", call[0], call[1])] if call else None
    if body.get("stream"):
        return Stream(anthropic_events(text, model=model, tool_uses=uses, usage=usage))
    return Reply(json=anthropic_message(text, model=model, tool_uses=uses, usage=usage))


def answer(received: Received, cwd: str | None = None):
    """The agent's answer to ``received`` (a Reply or a Stream), or None for the default."""
    if received.method != "POST" or not (
        _is_openai(received) or _is_responses(received) or _is_anthropic(received)
    ):
        return None
    body = received.json
    if not isinstance(body, dict):
        return None
    compaction = _compaction(received, _user_text(body))
    if compaction == "summarize":
        return _reply(received, SUMMARY)
    if compaction == "compact":
        opaque = base64.b64encode(SUMMARY.encode()).decode()
        return _reply(received, items=[{"type": "compaction", "id": f"cmp_{uuid.uuid4().hex}",
                                        "encrypted_content": opaque}])
    if compaction == "done":
        return _reply(received, f"Done: {SUMMARY}")
    results = tool_results(received)
    if results:
        first = " ".join(results[0].split())
        return _reply(received, f"Done: {first[:200]}")
    tools = _tools(received)
    wanted = file_request(_user_text(body))
    writer = write_tool(tools)
    choice = body.get("tool_choice")
    tools_off = choice == "none" or (isinstance(choice, dict) and choice.get("type") == "none")
    forced = _forced_tool(received, tools)
    if forced is not None:
        name, schema = forced
        if wanted and writer and name == writer[0]:
            return _reply(received, call=(name, _file_arguments(received, schema, *wanted, cwd)))
        arguments = sample(schema)
        return _reply(received, call=(name, arguments if isinstance(arguments, dict) else {}))
    if wanted and writer and not tools_off:
        name, schema = writer
        return _reply(received, call=(name, _file_arguments(received, schema, *wanted, cwd)))
    shell = shell_tool(tools)
    if wanted and shell and not tools_off:
        name, schema = shell
        return _reply(received, call=(name, _shell_arguments(schema, *wanted)))
    code = code_mode_tool(received)
    if wanted and code and not tools_off:
        name, namespace, kind = code
        script = code_mode_script(*wanted)
        if kind == "custom":
            custom = {"name": name, "input": script}
            if namespace:
                custom["namespace"] = namespace
            return _reply(received, custom=custom)
        return _reply(received, call=(name, {"input": script}))
    schema = _structured_schema(received)
    if schema is not None:
        return _reply(received, json.dumps(sample(schema)))
    return None
