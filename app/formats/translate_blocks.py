"""Pieces shared by the request and response translators: content blocks ⇄ content parts, the
assistant turn in both shapes (a response's message and an assistant message in request history
are the same thing), tool definitions and tool choice, tool-call arguments.

See translate_response.py for the decisions on thinking blocks, arguments and refusals.
"""
import orjson

THINKING_TYPES = ("thinking", "redacted_thinking")
THINKING_KEYS = ("type", "thinking", "signature", "data")  # what Anthropic accepts back


def dicts(items) -> list:
    """The objects of a JSON array (nothing when it is not one). Requests are checked before
    translation (checks_*.py); this keeps the translators from crashing on anything else."""
    return [item for item in items if isinstance(item, dict)] if isinstance(items, list) else []


def obj(value) -> dict:
    """A JSON object from an upstream answer or a body; anything else reads as empty, so
    malformed input yields less output, never a crash."""
    return value if isinstance(value, dict) else {}


def scalar_key(value):
    """An index from an upstream chunk, usable as a dict key (None when it is not a scalar)."""
    return value if isinstance(value, (int, str)) and not isinstance(value, bool) else None


def text_of(value) -> str:
    return value if isinstance(value, str) else ""


def dump_arguments(value) -> str:
    """A tool_use input as OpenAI function arguments (a JSON string)."""
    return orjson.dumps({} if value is None else value).decode()


def parse_arguments(text) -> dict:
    """OpenAI function arguments as a tool_use input: {} when empty, {"_raw": text} when the
    text is not a JSON object."""
    if not isinstance(text, str) or not text.strip():
        return {}
    try:
        value = orjson.loads(text)
    except orjson.JSONDecodeError:
        return {"_raw": text}
    return value if isinstance(value, dict) else {"_raw": text}


def anthropic_content_to_openai_message(content) -> dict:
    """Assistant content (a string or blocks) as an OpenAI assistant message."""
    if isinstance(content, str):
        return {"role": "assistant", "content": content}
    texts, calls, thinking_blocks, thoughts = [], [], [], []
    for block in dicts(content):
        kind = block.get("type")
        if kind == "text":
            texts.append(text_of(block.get("text")))
        elif kind == "tool_use":
            calls.append({"id": block.get("id"), "type": "function",
                          "function": {"name": block.get("name"),
                                       "arguments": dump_arguments(block.get("input"))}})
        elif kind in THINKING_TYPES:
            thinking_blocks.append(dict(block))
            if kind == "thinking":
                thoughts.append(text_of(block.get("thinking")))
    message = {"role": "assistant", "content": "".join(texts) if texts else None}
    if calls:
        message["tool_calls"] = calls
    if thoughts:
        message["reasoning_content"] = "\n\n".join(thoughts)
    if thinking_blocks:
        message["thinking_blocks"] = thinking_blocks
    return message


def openai_message_to_anthropic_content(message: dict, *, unsigned_reasoning: bool) -> list:
    """An OpenAI assistant message as Anthropic content blocks: thinking, text, tool_use.
    unsigned_reasoning: turn a bare reasoning_content into a thinking block (responses only)."""
    blocks = [{k: v for k, v in block.items() if k in THINKING_KEYS}
              for block in dicts(message.get("thinking_blocks"))
              if block.get("type") in THINKING_TYPES]
    reasoning = message.get("reasoning_content")
    if not blocks and unsigned_reasoning and isinstance(reasoning, str) and reasoning:
        blocks.append({"type": "thinking", "thinking": reasoning, "signature": ""})
    content = message.get("content")
    if isinstance(content, str):
        if content:
            blocks.append({"type": "text", "text": content})
    else:
        for part in dicts(content):
            text = part.get("text") if part.get("type") == "text" else part.get("refusal")
            if isinstance(text, str) and text:
                blocks.append(with_cache_control({"type": "text", "text": text}, part))
    refusal = message.get("refusal")
    if isinstance(refusal, str) and refusal:
        blocks.append({"type": "text", "text": refusal})
    for call in dicts(message.get("tool_calls")):
        function = call.get("function")
        if call.get("type", "function") != "function" or not isinstance(function, dict):
            continue
        blocks.append({"type": "tool_use", "id": call.get("id"), "name": function.get("name"),
                       "input": parse_arguments(function.get("arguments"))})
    return blocks


def anthropic_block_to_openai_part(block: dict) -> dict | None:
    """A user content block (text, image, document) as an OpenAI content part; None if it has
    no Chat Completions form (file sources, URL documents, unknown types)."""
    kind = block.get("type")
    source = block.get("source") if isinstance(block.get("source"), dict) else {}
    source_type = source.get("type")
    if kind == "text":
        return {"type": "text", "text": text_of(block.get("text"))}
    if kind == "image" and source_type in ("base64", "url"):
        url = source.get("url") if source_type == "url" else _data_uri(source)
        return {"type": "image_url", "image_url": {"url": url}}
    if kind == "document" and source_type == "base64":
        return {"type": "file", "file": {"filename": block.get("title") or "document.pdf",
                                         "file_data": _data_uri(source)}}
    if kind == "document" and source_type == "text":
        return {"type": "text", "text": text_of(source.get("data"))}
    if kind == "document" and source_type == "content":
        inner = source.get("content")
        text = inner if isinstance(inner, str) else "\n".join(
            text_of(item.get("text")) for item in dicts(inner) if item.get("type") == "text")
        return {"type": "text", "text": text}
    return None


def _data_uri(source) -> str:
    return f"data:{source.get('media_type')};base64,{source.get('data')}"


def with_cache_control(block: dict, source) -> dict:
    """block with the cache_control of source (an OpenAI part, message or tool: LiteLLM's
    convention for Anthropic prompt caching from OpenAI clients), when it has one."""
    if "cache_control" in source and isinstance(source["cache_control"], dict):
        block["cache_control"] = source["cache_control"]
    return block


def openai_part_to_anthropic_block(part: dict) -> dict | None:
    """An OpenAI user content part as an Anthropic block (with its cache_control); None for
    empty text, audio, file ids and files that are not PDF data URIs."""
    block = _part_to_block(part)
    return with_cache_control(block, part) if block else None


def _part_to_block(part: dict) -> dict | None:
    kind = part.get("type")
    if kind == "text":
        text = part.get("text")
        return {"type": "text", "text": text} if isinstance(text, str) and text else None
    if kind == "image_url":
        image = part.get("image_url")
        url = image.get("url") if isinstance(image, dict) else image
        if not isinstance(url, str) or not url:
            return None
        media_type, data = _parse_data_uri(url)
        if data is None:
            return {"type": "image", "source": {"type": "url", "url": url}}
        return {"type": "image",
                "source": {"type": "base64", "media_type": media_type, "data": data}}
    if kind == "file":
        file = part.get("file") if isinstance(part.get("file"), dict) else {}
        media_type, data = _parse_data_uri(file.get("file_data"))
        if media_type != "application/pdf" or data is None:
            return None
        block = {"type": "document",
                 "source": {"type": "base64", "media_type": media_type, "data": data}}
        if isinstance(file.get("filename"), str) and file["filename"]:
            block["title"] = file["filename"]
        return block
    return None


def _parse_data_uri(url) -> tuple[str | None, str | None]:
    """A data URI "data:<media type>;base64,<data>" → (media type, data), else (None, None)."""
    if not isinstance(url, str):
        return None, None
    head, sep, data = url.partition(",")
    if not sep or not head.startswith("data:") or not head.endswith(";base64"):
        return None, None
    return head[len("data:"):-len(";base64")], data


def empty_schema() -> dict:
    return {"type": "object", "properties": {}}


def tool_to_openai(tool) -> dict | None:
    if not isinstance(tool, dict) or tool.get("type") not in (None, "custom"):
        return None
    function = {"name": tool.get("name")}
    if tool.get("description"):
        function["description"] = tool["description"]
    schema = tool.get("input_schema")
    function["parameters"] = schema if isinstance(schema, dict) and schema else empty_schema()
    return {"type": "function", "function": function}


def tool_to_anthropic(tool) -> dict | None:
    function = tool.get("function") if isinstance(tool, dict) else None
    if not isinstance(function, dict) or tool.get("type") != "function":
        return None
    out = {"name": function.get("name")}
    if function.get("description"):
        out["description"] = function["description"]
    schema = function.get("parameters")
    out["input_schema"] = schema if isinstance(schema, dict) and schema else empty_schema()
    return with_cache_control(out, tool)


def tool_result_to_openai(content) -> tuple[str, list]:
    """tool_result content → (text for the tool message, image/file parts for a user message)."""
    if isinstance(content, str):
        return content, []
    texts, media = [], []
    for block in dicts(content):
        part = anthropic_block_to_openai_part(block)
        if part and part["type"] == "text":
            texts.append(part["text"])
        elif part:
            media.append(part)
    return "\n".join(texts), media


# ---- OpenAI → Anthropic -------------------------------------------------------------------


def tool_choice_to_openai(choice) -> str | dict | None:
    """Anthropic tool_choice type → OpenAI's; None when it has no equivalent or is absent."""
    kind = choice.get("type") if isinstance(choice, dict) else None
    if not isinstance(kind, str):
        return None
    if kind == "tool":
        return {"type": "function", "function": {"name": choice.get("name")}}
    return {"auto": "auto", "any": "required", "none": "none"}.get(kind)


def tool_choice_to_anthropic(choice, parallel) -> dict | None:
    if isinstance(choice, dict) and isinstance(choice.get("function"), dict):
        out = {"type": "tool", "name": choice["function"].get("name")}
    elif isinstance(choice, str) and choice in ("auto", "required", "none"):
        out = {"type": {"auto": "auto", "required": "any", "none": "none"}[choice]}
    elif parallel is False:
        out = {"type": "auto"}
    else:
        return None
    if parallel is False and out["type"] != "none":
        out["disable_parallel_tool_use"] = True
    return out
