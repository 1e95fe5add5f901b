"""A Responses API request → the Chat Completions pivot, as plain dicts.

Chat Completions is the pivot between formats (reasoning_carry.py says how reasoning crosses it):
a Responses client's request becomes a Chat Completions request here, and goes on unchanged to an
OpenAI-format vendor or through request_to_anthropic.py to an Anthropic one.

Input items become messages in order: `instructions` and system/developer items → system and
developer messages; user items → user messages (input_text → text, input_image → image_url,
input_file with file_data → file); assistant message items, `function_call` items and `reasoning`
items that follow each other become ONE assistant message (text, tool_calls, thinking_blocks), so
an assistant turn of [output_text, function_call] keeps its call; `function_call_output` → a tool
message whose content is the output as sent (a string stays a string, parts become parts).

Reasoning: an item whose `encrypted_content` carries an Anthropic thinking block (as this gateway
hands them out) becomes that block again; any other reasoning item was made by an OpenAI model and
can only go back to one (the Responses-format route passes it through untouched): it is left out.

Tools: responses_tools.py (functions, custom and namespaced tools; hosted tools left out and
returned, for the response header and the log). A compaction trigger or item: compaction.py.

Refused with a 400 naming the field (no Chat Completions equivalent, the answer would not be what
was asked): `background`, `conversation`, `prompt`, `max_tool_calls`, `item_reference` items,
input_image/input_file given by `file_id` or `file_url`, a tool_choice naming a hosted tool.
Accepted without effect: `store` (the gateway's own store, stored_responses.py), `include`,
`truncation` (the gateway never cuts input; "auto" only matters past the context window),
`reasoning.summary` (summaries are what the vendor gives), `stream_options`.
"""
import orjson

from ..errors import InvalidRequest
from . import compaction
from .reasoning_carry import thinking_from_encrypted_content
from .responses_tools import (
    NAMESPACE_SEPARATOR,
    ToolNames,
    additional_tools,
    chat_tool_choice,
    chat_tools,
    refused,
)
from .translate_blocks import dicts, obj, text_of

REFUSED_FIELDS = ("background", "conversation", "prompt", "max_tool_calls")
_PASSED = ("temperature", "top_p", "parallel_tool_calls", "user", "safety_identifier",
           "metadata", "prompt_cache_key", "service_tier")


def responses_to_chat_request(body, history=(), instructions=None):
    """(Chat Completions request, ToolNames, hosted tool types left out). history: the items of
    a stored conversation (previous_response_id) that go before `input`; instructions: the
    stored ones, used when the request has none of its own."""
    for name in REFUSED_FIELDS:
        if body.get(name) not in (None, False):
            raise refused(name, f"'{name}' has no equivalent for this model's vendor.")
    names, dropped = ToolNames(), []
    chat = {"model": body["model"], "messages": _messages(body, history, instructions, names)}
    tools = chat_tools(body.get("tools"), names, dropped)
    for where, item in additional_tools(list(history), body.get("input")):
        tools += chat_tools(item.get("tools"), names, dropped, where)
    # tool_choice is checked even when no tool is left to choose (a 400 for a malformed one)
    choice = chat_tool_choice(body["tool_choice"], names) \
        if body.get("tool_choice") is not None else None
    if tools:
        chat["tools"] = tools  # kept: the history may hold their calls
        if names.compaction:
            choice = "none"  # a compaction answers with a summary, not a call
        if choice is not None:
            chat["tool_choice"] = choice
    for name in _PASSED:
        if body.get(name) is not None:
            chat[name] = body[name]
    if body.get("max_output_tokens") is not None:
        chat["max_completion_tokens"] = body["max_output_tokens"]
    reasoning = obj(body.get("reasoning"))
    if reasoning.get("effort"):
        chat["reasoning_effort"] = reasoning["effort"]
    if body.get("top_logprobs"):
        chat["logprobs"], chat["top_logprobs"] = True, body["top_logprobs"]
    _text_options(obj(body.get("text")), chat)
    if body.get("stream") is True:
        chat["stream"] = True
        chat["stream_options"] = {"include_usage": True}
    return chat, names, dropped


# Chat Completions fields of the pivot → the Responses fields they were made from, so that a 400
# of the next translation step (request_to_anthropic.py) names the client's own field.
_CHAT_FIELDS = (("response_format.json_schema", "text.format"), ("response_format", "text.format"),
                ("max_completion_tokens", "max_output_tokens"), ("max_tokens", "max_output_tokens"),
                ("reasoning_effort", "reasoning.effort"), ("top_logprobs", "top_logprobs"),
                ("logprobs", "top_logprobs"), ("verbosity", "text.verbosity"),
                ("messages", "input"), ("tools", "tools"), ("tool_choice", "tool_choice"))


def in_responses_terms(error):
    """An InvalidRequest about the Chat pivot, naming the Responses field it came from (a message
    or tool keeps only `input` / `tools`: the pivot merges and flattens them)."""
    param = error.param
    for chat, field in _CHAT_FIELDS:
        if param == chat or param and param.startswith((chat + ".", chat + "[")):
            rest = param[len(chat):] if field not in ("input", "tools") else ""
            error.param = field + rest
            error.message = error.message.replace(f"'{param}'", f"'{error.param}'")
            break
    return error


def _messages(body, history, instructions, names):
    messages = []
    system = body.get("instructions") if body.get("instructions") is not None else instructions
    if system:
        messages.append({"role": "system", "content": system})
    items = body.get("input")
    if isinstance(items, str):
        items = [{"type": "message", "role": "user", "content": items}]
    assistant = None
    for item, where in _located(list(history), items or []):
        kind = item.get("type") or "message"
        role = item.get("role")
        if kind in ("function_call", "custom_tool_call", "reasoning") or (
                kind == "message" and role == "assistant"):
            if assistant is None:
                assistant = {"role": "assistant", "content": None}
                messages.append(assistant)
            _add_to_assistant(assistant, item, kind, where)
            continue
        assistant = None
        if kind == "message":
            messages.append(_message(item, role, where))
        elif kind in ("function_call_output", "custom_tool_call_output"):
            messages.append({"role": "tool", "tool_call_id": item.get("call_id"),
                             "content": _tool_output(item.get("output"), f"{where}.output")})
        elif kind == "additional_tools":
            continue  # their tools join the request's (Codex sends its tools so)
        elif kind in ("compaction_trigger", "compaction"):
            messages.append(_compaction_message(item, where, names))
        elif kind == "item_reference":
            raise refused(f"{where}.id", "item_reference is not supported: send the item "
                           "itself, or use previous_response_id.")
        else:
            raise refused(f"{where}.type", f"Input items of type {kind!r} have no equivalent "
                           "for this model's vendor.")
    return [m for m in messages if m["role"] != "assistant" or _has_turn(m)]


def _compaction_message(item, where, names):
    if compaction.is_trigger(item):
        names.compaction = True
        return {"role": "user", "content": compaction.PROMPT}
    summary = compaction.summary_of(item)
    if summary is None:
        raise refused(f"{where}.encrypted_content", "This compaction item was made by OpenAI: "
                       "only OpenAI's models can read it.")
    return {"role": "user", "content": compaction.SUMMARY_PREFIX + summary}


def _located(history, items):
    for i, item in enumerate(history):
        yield item, f"previous_response_id[{i}]"
    for i, item in enumerate(dicts(items)):
        yield item, f"input[{i}]"


def _has_turn(message):
    return message.get("content") or message.get("tool_calls") or message.get("refusal") \
        or message.get("thinking_blocks")


def _add_to_assistant(message, item, kind, where):
    if kind == "reasoning":
        block = thinking_from_encrypted_content(item.get("encrypted_content"))
        if block is not None:
            message.setdefault("thinking_blocks", []).append(block)
    elif kind in ("function_call", "custom_tool_call"):
        name = item.get("name")
        if item.get("namespace"):
            name = f"{item['namespace']}{NAMESPACE_SEPARATOR}{name}"
        arguments = item.get("arguments") or "{}" if kind == "function_call" else \
            orjson.dumps({"input": item.get("input") or ""}).decode()
        message.setdefault("tool_calls", []).append(
            {"id": item.get("call_id"), "type": "function",
             "function": {"name": name, "arguments": arguments}})
    else:
        content = item.get("content")
        parts = [{"type": "text", "text": content}] if isinstance(content, str) else []
        for part in dicts(content):
            if part.get("type") == "refusal":
                message["refusal"] = (message.get("refusal") or "") + text_of(part.get("refusal"))
            else:
                parts.append({"type": "text", "text": text_of(part.get("text"))})
        text = "".join(p["text"] for p in parts)
        if text:
            message["content"] = (message.get("content") or "") + text


def _message(item, role, where):
    content = item.get("content")
    if isinstance(content, str):
        return {"role": role, "content": content}
    parts = [_part(part, f"{where}.content[{i}]") for i, part in enumerate(dicts(content))]
    if role in ("system", "developer"):
        return {"role": role, "content": "\n\n".join(p.get("text", "") for p in parts)}
    return {"role": role, "content": parts}


def _part(part, where):
    kind = part.get("type")
    if kind in ("input_text", "output_text"):
        return {"type": "text", "text": part.get("text")}
    if kind == "refusal":
        return {"type": "text", "text": part.get("refusal")}
    if kind == "input_image":
        if part.get("image_url") is None:
            raise refused(f"{where}.file_id", "Images given by file_id are stored at OpenAI; "
                           "send image_url (a URL or a data URI) for this model.")
        image = {"url": part["image_url"]}
        if part.get("detail"):
            image["detail"] = part["detail"]
        return {"type": "image_url", "image_url": image}
    # input_file
    if part.get("file_data") is None:
        name = next((n for n in ("file_id", "file_url") if part.get(n) is not None), None)
        if name is None:
            raise InvalidRequest(f"Missing required parameter: '{where}.file_data' (an "
                                 "input_file needs file_data, file_id or file_url).",
                                 param=f"{where}.file_data", code="missing_required_parameter")
        raise refused(f"{where}.{name}", f"Files given by {name} cannot reach this model's "
                      "vendor; send file_data (a base64 data URI).")
    file = {"file_data": part["file_data"]}
    if part.get("filename"):
        file["filename"] = part["filename"]
    return {"type": "file", "file": file}


def _tool_output(output, where):
    if isinstance(output, str) or output is None:
        return output or ""
    return [_part(part, f"{where}[{i}]") for i, part in enumerate(dicts(output))]


def _text_options(text, chat):
    fmt = obj(text.get("format"))
    if fmt.get("type") == "json_schema":
        schema = {"name": fmt.get("name"), "schema": fmt.get("schema")}
        for key in ("strict", "description"):
            if fmt.get(key) is not None:
                schema[key] = fmt[key]
        chat["response_format"] = {"type": "json_schema", "json_schema": schema}
    elif fmt.get("type") == "json_object":
        chat["response_format"] = {"type": "json_object"}
    if text.get("verbosity"):
        chat["verbosity"] = text["verbosity"]
