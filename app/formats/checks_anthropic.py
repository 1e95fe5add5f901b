"""Structure checks of an Anthropic Messages request: every field the gateway reads or translates
(app/formats/translate_*.py, app/gateway/tokens.py) has the shape Anthropic documents, or the
request gets a 400 whose message names the field (the Anthropic error shape has no `param`; the
OpenAI-shaped renderings still carry it).

Known block types (text, image, document, tool_use, tool_result, thinking, redacted_thinking)
and source types (base64, url, text, content, file) are checked field by field; a block of
another type (server tool results, search results, container uploads...) only needs a string
`type`: towards an Anthropic vendor it goes through unchanged and the vendor decides, and the
translation to Chat Completions leaves it out. Likewise custom tools need a name and an
input_schema, server tools (any other `type`) only their type.

Nested content is checked for what can stand there and the translators read: text, image and
document blocks in a tool_result's content, text and image blocks in a document's `content`
source; any other type there only needs its string `type`. So the checks (and the spec in
app/routes/docs/messages.yml) are finite, not recursive.
"""
from .checks import (
    block_type,
    field,
    items_of,
    objects,
    path,
    require_choice,
    require_positive_int,
    strings,
)

ROLES = ("user", "assistant", "system")  # "system": a mid-conversation system message
TOOL_CHOICE_TYPES = ("auto", "any", "tool", "none")


def check_anthropic_messages(body):
    for where, message in objects(body, "messages", required=True, min_items=1):
        role = require_choice(message, "role", ROLES, where=where, required=True)
        if role == "system":
            _system_content(message, "content", where, required=True)
            continue
        content = field(message, "content", (str, list),
                        "a string or an array of content blocks", where=where, required=True)
        if isinstance(content, list):
            for block_where, block in items_of(content, path(where, "content")):
                check_block(block, block_where)


def check_block(block, where, known=None):
    kind = block_type(block, where)
    check = (known or _BLOCKS).get(kind)
    if check is not None:
        check(block, where)


def _text(block, where):
    field(block, "text", str, where=where, required=True)


def _image(block, where):
    _source(block, where)


def _document(block, where):
    source = _source(block, where)
    for name in ("title", "context"):
        field(block, name, str, where=where)
    if source.get("type") == "content":
        content = field(source, "content", (str, list), "a string or an array of content blocks",
                        where=path(where, "source"), required=True)
        if isinstance(content, list):
            for inner_where, inner in items_of(content, path(where, "source.content")):
                check_block(inner, inner_where, _DOCUMENT_CONTENT)


def _source(block, where):
    source = field(block, "source", dict, where=where, required=True)
    where = path(where, "source")
    kind = field(source, "type", str, where=where, required=True)
    if kind == "base64":
        for name in ("media_type", "data"):
            field(source, name, str, where=where, required=True)
    elif kind == "url":
        field(source, "url", str, where=where, required=True)
    elif kind == "text":
        field(source, "data", str, where=where, required=True)
        field(source, "media_type", str, where=where)
    elif kind == "file":
        field(source, "file_id", str, where=where, required=True)
    return source


def _tool_use(block, where):
    for name in ("id", "name"):
        field(block, name, str, where=where, required=True)
    field(block, "input", dict, where=where, required=True)


def _tool_result(block, where):
    field(block, "tool_use_id", str, where=where, required=True)
    field(block, "is_error", bool, where=where)
    content = field(block, "content", (str, list), "a string or an array of content blocks",
                    where=where)
    if isinstance(content, list):
        for inner_where, inner in items_of(content, path(where, "content")):
            check_block(inner, inner_where, _TOOL_RESULT_CONTENT)


def _thinking(block, where):
    for name in ("thinking", "signature"):
        field(block, name, str, where=where, required=True)


def _redacted_thinking(block, where):
    field(block, "data", str, where=where, required=True)


_BLOCKS = {"text": _text, "image": _image, "document": _document, "tool_use": _tool_use,
           "tool_result": _tool_result, "thinking": _thinking,
           "redacted_thinking": _redacted_thinking}
_TOOL_RESULT_CONTENT = {"text": _text, "image": _image, "document": _document}
_DOCUMENT_CONTENT = {"text": _text, "image": _image}


def check_system(body):
    _system_content(body, "system", "")


def _system_content(obj, name, where, required=False):
    """The top-level system, or the content of a mid-conversation system message: a string or
    text blocks only."""
    system = field(obj, name, (str, list), "a string or an array of text blocks", where=where,
                   required=required)
    if isinstance(system, list):
        for block_where, block in items_of(system, path(where, name)):
            require_choice(block, "type", ("text",), where=block_where, required=True)
            _text(block, block_where)


def check_tools(body):
    for where, tool in objects(body, "tools"):
        kind = field(tool, "type", str, where=where)
        if kind not in (None, "custom"):
            continue
        field(tool, "name", str, where=where, required=True)
        field(tool, "description", str, where=where)
        field(tool, "input_schema", dict, where=where, required=True)


def check_tool_choice(body):
    choice = field(body, "tool_choice", dict)
    if choice is None:
        return
    kind = require_choice(choice, "type", TOOL_CHOICE_TYPES, where="tool_choice", required=True)
    field(choice, "name", str, where="tool_choice", required=kind == "tool")
    field(choice, "disable_parallel_tool_use", bool, where="tool_choice")


def check_options(body):
    """stop_sequences, metadata, thinking and output_config: what the translators read."""
    strings(body, "stop_sequences")
    metadata = field(body, "metadata", dict)
    if metadata is not None:
        field(metadata, "user_id", str, where="metadata")
    thinking = field(body, "thinking", dict)
    if thinking is not None:
        field(thinking, "type", str, where="thinking", required=True)
        require_positive_int(thinking, "budget_tokens", where="thinking")
    output_config = field(body, "output_config", dict)
    if output_config is not None:
        field(output_config, "effort", str, where="output_config")
        output_format = field(output_config, "format", dict, where="output_config")
        if output_format is not None:
            field(output_format, "type", str, where="output_config.format", required=True)
            field(output_format, "schema", dict, where="output_config.format")
