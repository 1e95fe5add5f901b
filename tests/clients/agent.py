"""A scripted "agent" for the mock upstream (``MockUpstream(agent=True)``), in both wire formats.

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
- a structured-output request (OpenAI ``response_format`` json_schema, Anthropic
  ``output_config.format`` / ``output_format`` json_schema) -> JSON satisfying the schema
  (``sample``);
- anything else -> None: the mock's default answer (an echo of the last user message).

Answers are JSON or SSE as the request asks (``stream``). Standard library only.
"""

from __future__ import annotations

import json
import os
import re
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

__all__ = ["answer", "sample", "tool_results", "file_request", "write_tool"]

_CREATE = re.compile(
    r"\bcreate\s+(?:a\s+file\s+(?:named\s+|called\s+)?|the\s+file\s+|file\s+)?"
    r"[`'\"]?(?P<path>[\w][\w./-]*)[`'\"]?\s+(?:containing|with\s+(?:the\s+)?content)\s+"
    r"[`'\"]?(?P<content>[^`'\"\n]+?)[`'\"]?\s*[.!]?\s*$",
    re.IGNORECASE | re.MULTILINE,
)
_CWD = re.compile(r"(?:Primary working directory|[Ww]orking directory|cwd)\s*:\s*(/[^\s`'\"]*)")
_PATH_NAMES = ("file_path", "filepath", "path", "filename", "file_name", "file")
_CONTENT_NAMES = ("content", "contents", "text", "data", "body")


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
                if isinstance(part, dict) and part.get("type") in ("text", "input_text")
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


def _turn(body: dict) -> tuple[str, list]:
    """The latest conversational message (system/developer ones skipped): (role, message)."""
    messages = body.get("messages")
    for message in reversed(messages if isinstance(messages, list) else []):
        if isinstance(message, dict) and message.get("role") not in ("system", "developer"):
            return message.get("role", ""), message
    return "", {}


def tool_results(received: Received) -> list[str]:
    """The texts of the tool results the latest turn of ``received`` carries (both formats)."""
    body = received.json if isinstance(received.json, dict) else {}
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
        if _is_openai(received):
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
    if _is_openai(received):
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


def _prop(properties: dict, names: tuple[str, ...]) -> str | None:
    return next((n for n in names if n in properties), None)


def file_request(text: str) -> tuple[str, str] | None:
    """(path, content) when ``text`` asks to create a file ("create hello.txt containing hi")."""
    match = _CREATE.search(text or "")
    return (match["path"], match["content"].strip()) if match else None


def _structured_schema(received: Received) -> dict | None:
    body = received.json if isinstance(received.json, dict) else {}
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
    return max(1, sum(len(s.split()) for s in _strings(body.get("messages"))))


def _reply(received: Received, text: str = "", call: tuple[str, dict] | None = None):
    body = received.json if isinstance(received.json, dict) else {}
    model = body.get("model") or ("gpt-test" if _is_openai(received) else "claude-test")
    usage = (_words(body), max(1, len(text.split())) + (5 if call else 0), 0)
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
        _is_openai(received) or received.path.rstrip("/").endswith("/v1/messages")
    ):
        return None
    body = received.json
    if not isinstance(body, dict):
        return None
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
    schema = _structured_schema(received)
    if schema is not None:
        return _reply(received, json.dumps(sample(schema)))
    return None
