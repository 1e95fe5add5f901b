"""Structure checks of an OpenAI Responses API request (POST /v1/responses): every field the
gateway reads or translates has the shape OpenAI documents, or the request gets a 400 whose
`param` names the field.

Input items of the known types (message, function_call, function_call_output, reasoning,
item_reference, custom tool calls) are checked field by field; content parts of the known types
(input_text, input_image, input_file, output_text, refusal) too. Tools only need a string `type`
(and a name for function tools): which tool types each vendor can run is decided by the
translation (request_from_responses.py), and a Responses-format vendor decides for itself.
"""
from ..errors import InvalidRequest
from .checks import (
    MAX_INTEGER,
    block_type,
    field,
    invalid,
    items_of,
    objects,
    path,
    require_choice,
    require_int,
    require_positive_int,
    require_type,
    strings,
)

MESSAGE_ROLES = ("user", "assistant", "system", "developer")
INPUT_PART_TYPES = ("input_text", "input_image", "input_file", "output_text", "refusal")
TOOL_CHOICES = ("none", "auto", "required")
TRUNCATIONS = ("auto", "disabled")
EFFORTS = ("none", "minimal", "low", "medium", "high", "xhigh")
SUMMARIES = ("auto", "concise", "detailed")


def check_responses_request(body):
    require_type(body, "model", str, "a string", required=True)
    check_input(body)
    for name in ("instructions", "previous_response_id", "user", "safety_identifier",
                 "prompt_cache_key", "service_tier"):
        require_type(body, name, str, "a string")
    for name in ("stream", "store", "parallel_tool_calls", "background"):
        require_type(body, name, bool, "a boolean")
    require_positive_int(body, "max_output_tokens")
    require_int(body, "max_tool_calls", 1)
    require_int(body, "top_logprobs", 0, 20)
    for name in ("temperature", "top_p"):
        require_type(body, name, (int, float), "a number")
    require_choice(body, "truncation", TRUNCATIONS)
    require_type(body, "metadata", dict, "an object")
    require_type(body, "stream_options", dict, "an object")
    strings(body, "include")
    _check_reasoning(body)
    _check_text(body)
    for where, tool in objects(body, "tools"):
        _check_tool(tool, where)
    _check_tool_choice(body)


def check_compact_request(body):
    """POST /v1/responses/compact: {model, input, instructions} (tools and the rest as in a
    Responses request, checked alike)."""
    check_responses_request(body)
    for name in ("stream", "background", "previous_response_id"):
        if body.get(name) not in (None, False):
            raise invalid(f"'{name}' does not apply to a compaction.", name)


def check_input(body):
    value = field(body, "input", (str, list), "a string or an array of input items")
    if isinstance(value, list):
        for where, item in items_of(value, "input"):
            check_input_item(item, where)


def check_input_item(item, where):
    kind = field(item, "type", str, where=where, required="role" not in item) or "message"
    if kind == "message":
        require_choice(item, "role", MESSAGE_ROLES, where=where, required=True)
        content = field(item, "content", (str, list), "a string or an array of content parts",
                        where=where, required=True)
        if isinstance(content, list):
            for part_where, part in items_of(content, path(where, "content")):
                check_content_part(part, part_where)
    elif kind in ("function_call", "custom_tool_call"):
        for name in ("call_id", "name"):
            field(item, name, str, where=where, required=True)
        field(item, "arguments" if kind == "function_call" else "input", str, where=where,
              required=True)
    elif kind in ("function_call_output", "custom_tool_call_output"):
        field(item, "call_id", str, where=where, required=True)
        output = field(item, "output", (str, list), "a string or an array of content parts",
                       where=where, required=True)
        if isinstance(output, list):
            for part_where, part in items_of(output, path(where, "output")):
                check_content_part(part, part_where)
    elif kind == "reasoning":
        for part_where, part in objects(item, "summary", where=where):
            field(part, "text", str, where=part_where)
        field(item, "encrypted_content", str, where=where)
    elif kind == "item_reference":
        field(item, "id", str, where=where, required=True)
    elif kind == "compaction":
        field(item, "encrypted_content", str, where=where, required=True)
    elif kind == "additional_tools":
        for tool_where, tool in objects(item, "tools", where=where):
            _check_tool(tool, tool_where)


def check_content_part(part, where):
    kind = block_type(part, where)
    if kind not in INPUT_PART_TYPES:
        raise invalid(f"Invalid value for '{path(where, 'type')}': expected one of "
                      f"{', '.join(INPUT_PART_TYPES)}, got {kind!r}.", path(where, "type"))
    if kind in ("input_text", "output_text"):
        field(part, "text", str, where=where, required=True)
    elif kind == "refusal":
        field(part, "refusal", str, where=where, required=True)
    elif kind == "input_image":
        for name in ("image_url", "file_id", "detail"):
            field(part, name, str, where=where)
        if part.get("image_url") is None and part.get("file_id") is None:
            raise InvalidRequest(f"Missing required parameter: '{path(where, 'image_url')}' "
                                 "(or 'file_id').", param=path(where, "image_url"),
                                 code="missing_required_parameter")
    elif kind == "input_file":
        for name in ("file_data", "file_id", "file_url", "filename"):
            field(part, name, str, where=where)


def _check_reasoning(body):
    reasoning = require_type(body, "reasoning", dict, "an object")
    if reasoning is not None:
        require_choice(reasoning, "effort", EFFORTS, where="reasoning")
        require_choice(reasoning, "summary", SUMMARIES, where="reasoning")
        require_choice(reasoning, "generate_summary", SUMMARIES, where="reasoning")


def _check_text(body):
    text = require_type(body, "text", dict, "an object")
    if text is None:
        return
    field(text, "verbosity", str, where="text")
    fmt = field(text, "format", dict, where="text")
    if fmt is None:
        return
    kind = require_choice(fmt, "type", ("text", "json_schema", "json_object"),
                          where="text.format", required=True)
    if kind == "json_schema":
        field(fmt, "name", str, where="text.format", required=True)
        field(fmt, "schema", dict, where="text.format", required=True)
        field(fmt, "strict", bool, where="text.format")
        field(fmt, "description", str, where="text.format")


def _check_tool(tool, where):
    kind = block_type(tool, where)
    if kind in ("function", "custom"):
        field(tool, "name", str, where=where, required=True)
        field(tool, "description", str, where=where)
    if kind == "function":
        field(tool, "parameters", dict, where=where)
        field(tool, "strict", bool, where=where)
    if kind == "namespace":
        field(tool, "name", str, where=where, required=True)
        for inner_where, inner in objects(tool, "tools", where=where):
            _check_tool(inner, inner_where)


def _check_tool_choice(body):
    choice = field(body, "tool_choice", (str, dict), "a string or an object")
    if isinstance(choice, str):
        require_choice(body, "tool_choice", TOOL_CHOICES)
    elif isinstance(choice, dict):
        kind = block_type(choice, "tool_choice")
        if kind in ("function", "custom"):
            field(choice, "name", str, where="tool_choice", required=True)


__all__ = ["MAX_INTEGER", "check_responses_request"]
