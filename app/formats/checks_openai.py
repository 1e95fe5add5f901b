"""Structure checks of an OpenAI Chat Completions request: every field the gateway reads or
translates (app/formats/translate_*.py, app/gateway/tokens.py) has the shape OpenAI documents,
or the request gets a 400 whose `param` names the field.

Known content-part types (text, image_url, input_audio, file, refusal), tool-call types
(function, custom) and tool types (function, custom) are checked field by field. A part, tool
call or tool of another type only needs a string `type`: towards an OpenAI-format vendor it goes
through unchanged and the vendor decides; the translation to Anthropic leaves it out.
"""
from .checks import (
    MAX_INTEGER,
    block_type,
    field,
    invalid,
    items_of,
    objects,
    path,
    require_choice,
)

ROLES = ("system", "developer", "user", "assistant", "tool", "function")
TOOL_CHOICES = ("none", "auto", "required")


def check_chat_messages(body):
    for where, message in objects(body, "messages", required=True, min_items=1):
        check_chat_message(message, where)


def check_chat_message(message, where):
    role = require_choice(message, "role", ROLES, where=where, required=True)
    content = field(message, "content", (str, list),
                    "a string, an array of content parts or null", where=where)
    field(message, "cache_control", dict, where=where)
    if isinstance(content, list):
        for part_where, part in items_of(content, path(where, "content")):
            check_content_part(part, part_where)
    for name in ("name", "refusal", "reasoning_content"):
        field(message, name, str, where=where)
    field(message, "tool_call_id", str, where=where, required=role == "tool")
    field(message, "function_call", dict, where=where)
    for block_where, block in objects(message, "thinking_blocks", where=where):
        block_type(block, block_where)
    for call_where, call in objects(message, "tool_calls", where=where):
        check_tool_call(call, call_where)


def check_content_part(part, where):
    kind = block_type(part, where)
    field(part, "cache_control", dict, where=where)  # LiteLLM's convention for prompt caching
    if kind == "text":
        field(part, "text", str, where=where, required=True)
    elif kind == "refusal":
        field(part, "refusal", str, where=where, required=True)
    elif kind == "image_url":
        image = field(part, "image_url", dict, where=where, required=True)
        field(image, "url", str, where=path(where, "image_url"), required=True)
        field(image, "detail", str, where=path(where, "image_url"))
    elif kind == "input_audio":
        audio = field(part, "input_audio", dict, where=where, required=True)
        for name in ("data", "format"):
            field(audio, name, str, where=path(where, "input_audio"), required=True)
    elif kind == "file":
        file = field(part, "file", dict, where=where, required=True)
        for name in ("file_data", "file_id", "filename"):
            field(file, name, str, where=path(where, "file"))


def check_tool_call(call, where):
    kind = field(call, "type", str, where=where)
    if kind is None:
        kind = "function"  # as the translators read it
    elif kind not in ("function", "custom"):
        return
    field(call, "id", str, where=where, required=True)
    inner = field(call, kind, dict, where=where, required=True)
    field(inner, "name", str, where=path(where, kind), required=True)
    field(inner, "arguments" if kind == "function" else "input", str, where=path(where, kind),
          required=True)


def check_tools(body):
    for where, tool in objects(body, "tools"):
        kind = field(tool, "type", str, where=where, required=True)
        if kind not in ("function", "custom"):
            continue
        field(tool, "cache_control", dict, where=where)
        inner = field(tool, kind, dict, where=where, required=True)
        inner_where = path(where, kind)
        field(inner, "name", str, where=inner_where, required=True)
        field(inner, "description", str, where=inner_where)
        if kind == "function":
            field(inner, "parameters", dict, where=inner_where)
            field(inner, "strict", bool, where=inner_where)


def check_tool_choice(body):
    choice = field(body, "tool_choice", (str, dict), "a string or an object")
    if isinstance(choice, str):
        if choice not in TOOL_CHOICES:
            raise invalid(f"Invalid value for 'tool_choice': expected one of "
                          f"{', '.join(TOOL_CHOICES)} or an object.", "tool_choice")
    elif choice is not None:
        kind = field(choice, "type", str, where="tool_choice", required=True)
        if kind in ("function", "custom"):
            inner = field(choice, kind, dict, where="tool_choice", required=True)
            field(inner, "name", str, where=f"tool_choice.{kind}", required=True)


def check_response_format(body):
    response_format = field(body, "response_format", dict)
    if response_format is None:
        return
    kind = field(response_format, "type", str, where="response_format", required=True)
    spec = field(response_format, "json_schema", dict, where="response_format",
                 required=kind == "json_schema")
    if spec is not None:
        where = "response_format.json_schema"
        field(spec, "name", str, where=where, required=True)
        for name, kinds in (("schema", dict), ("description", str), ("strict", bool)):
            field(spec, name, kinds, where=where)


def check_stop(body):
    stop = field(body, "stop", (str, list), "a string or an array of strings")
    if isinstance(stop, list):
        items_of(stop, "stop", kind=str, label="a string")


def check_embeddings_input(body):
    """A string, an array of strings, an array of token ids, or an array of token arrays."""
    value = field(body, "input", (str, list), "a string or an array", required=True)
    if value == [] or value == "":
        raise invalid("'input' must not be empty.", "input")
    if isinstance(value, str):
        return
    first = value[0]
    if isinstance(first, str):
        ok, expected = (lambda item: isinstance(item, str)), "a string"
    elif _is_token(first):
        ok, expected = _is_token, f"a token id (an integer from 0 to {MAX_INTEGER})"
    else:
        ok, expected = _is_token_array, "a non-empty array of token ids"
    for i, item in enumerate(value):
        if not ok(item):
            raise invalid(f"Invalid value for 'input[{i}]': expected {expected}, like the "
                          "other items ('input' is a string, an array of strings, an array of "
                          "token ids or an array of token arrays).", f"input[{i}]")


def _is_token_array(value):
    return isinstance(value, list) and bool(value) and all(_is_token(t) for t in value)


def _is_token(value):
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= MAX_INTEGER
