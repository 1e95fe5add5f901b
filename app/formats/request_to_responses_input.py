"""Chat Completions messages → Responses API `instructions` and `input` items
(request_to_responses.py has the request as a whole).

- Leading system/developer messages → `instructions`, their texts joined by a blank line; a
  system or developer message after the first other message stays where it is, as a message
  item of its role.
- user content: a string stays a string; parts text → input_text, image_url → input_image
  (`image_url`, `detail`, "auto" when absent), file → input_file (file_id or file_data, filename).
  An `input_audio` part is a 400 (Responses takes no audio input); an unknown part type goes as
  sent (the vendor decides).
- assistant: first the reasoning items carried in `thinking_blocks` signatures
  (reasoning_carry.py), then the message, its text and refusal (parts and `refusal`) joined into
  one string: an EasyInputMessage, valid on every Responses server, including those that check
  input with OpenAI's own types (they require an id and a status with `output_text` / `refusal`
  parts, ids the gateway does not have; a refusal reads the same to the model as text), then
  one `function_call` item per tool call (`custom_tool_call` for a custom tool; empty arguments
  → "{}") with its id as call_id — the order of a Responses output. Thinking blocks
  that carry no reasoning item (Anthropic's own, signed by Anthropic) mean nothing to OpenAI and
  are left out, as is a bare `reasoning_content`.
- tool → `function_call_output` (`custom_tool_call_output` when it answers a custom tool call).
  Its `output` is the content string as sent; text parts join into one string ("\\n" between
  them, as tool_result texts do); only when the parts hold images or files does `output` become
  a list (input_text / input_image / input_file), which Responses accepts.
- role "function" (legacy) is a 400 naming the message.
"""
from ..errors import InvalidRequest
from .reasoning_carry import reasoning_from_signature
from .translate_blocks import THINKING_TYPES, dicts, obj, text_of


def messages_to_input(messages: list) -> tuple[str, list]:
    """(instructions, input items) of Chat messages."""
    instructions, start = [], 0
    while start < len(messages) and messages[start].get("role") in ("system", "developer"):
        text = _text(messages[start].get("content"))
        if text:
            instructions.append(text)
        start += 1
    items, custom_calls = [], set()
    for index in range(start, len(messages)):
        items.extend(_message_items(messages[index], index, custom_calls))
    return "\n\n".join(instructions), items


def _text(content) -> str:
    if isinstance(content, str):
        return content
    return "".join(text_of(part.get("text")) for part in dicts(content)
                   if part.get("type") == "text")


def _message_items(message: dict, index: int, custom_calls: set) -> list:
    role, content = message.get("role"), message.get("content")
    where = f"messages[{index}]"
    if role in ("system", "developer"):
        if isinstance(content, list):
            content = [{"type": "input_text", "text": text_of(part.get("text"))}
                       for part in dicts(content) if part.get("type") == "text"]
        return [{"type": "message", "role": role, "content": content or ""}]
    if role == "user":
        if not isinstance(content, list):
            return [{"type": "message", "role": "user", "content": content or ""}]
        parts = [input_part(part, f"{where}.content[{i}]") for i, part in enumerate(content)
                 if isinstance(part, dict)]
        return [{"type": "message", "role": "user", "content": parts}]
    if role == "assistant":
        return _assistant_items(message, custom_calls)
    if role == "tool":
        call_id = message.get("tool_call_id")
        kind = "custom_tool_call_output" if call_id in custom_calls else "function_call_output"
        return [{"type": kind, "call_id": call_id, "output": tool_output(content)}]
    raise InvalidRequest(f"Invalid value for '{where}.role': {role!r} messages (legacy function "
                         "results) are not translated for a Responses API vendor; send tool "
                         "messages.", param=f"{where}.role", code="unsupported_value")


def input_part(part: dict, where: str) -> dict:
    """A Chat user content part as a Responses input content part."""
    kind = part.get("type")
    if kind == "text":
        return {"type": "input_text", "text": text_of(part.get("text"))}
    if kind == "image_url":
        image = part.get("image_url")
        url = image.get("url") if isinstance(image, dict) else image
        detail = image.get("detail") if isinstance(image, dict) else None
        return {"type": "input_image", "image_url": url, "detail": detail or "auto"}
    if kind == "file":
        file = obj(part.get("file"))
        out = {"type": "input_file"}
        for name in ("file_id", "file_data", "filename"):
            if file.get(name) is not None:
                out[name] = file[name]
        return out
    if kind == "input_audio":
        raise InvalidRequest(f"Invalid value for '{where}.type': audio input cannot be sent to "
                             "a Responses API vendor.", param=f"{where}.type",
                             code="unsupported_value")
    return {k: v for k, v in part.items() if k != "cache_control"}


def tool_output(content):
    """A tool message's content as a function_call_output `output`: a string whenever the
    content is only text; a list of input parts when it holds images or files."""
    if not isinstance(content, list):
        return content if isinstance(content, str) else ""
    parts = [part for part in dicts(content) if part.get("type") in ("text", "image_url", "file")]
    if all(part["type"] == "text" for part in parts):
        return "\n".join(text_of(part.get("text")) for part in parts)
    return [input_part(part, "") for part in parts]


def _assistant_items(message: dict, custom_calls: set) -> list:
    items = []
    for block in dicts(message.get("thinking_blocks")):
        if block.get("type") in THINKING_TYPES:
            item = reasoning_from_signature(block.get("signature"))
            if item is not None:
                items.append(item)
    text = _assistant_text(message)
    if text:
        items.append({"type": "message", "role": "assistant", "content": text})
    for call in dicts(message.get("tool_calls")):
        kind = call.get("type") or "function"
        inner = obj(call.get(kind))
        if kind == "custom":
            custom_calls.add(call.get("id"))
            items.append({"type": "custom_tool_call", "call_id": call.get("id"),
                          "name": inner.get("name"), "input": text_of(inner.get("input"))})
        elif kind == "function":
            items.append({"type": "function_call", "call_id": call.get("id"),
                          "name": inner.get("name"),
                          "arguments": text_of(inner.get("arguments")) or "{}"})
    return items


def _assistant_text(message: dict) -> str:
    """An assistant message's text: its text and refusal parts, then its `refusal`."""
    content = message.get("content")
    texts = [content] if isinstance(content, str) else [
        text_of(part.get("text") if part.get("type") == "text" else part.get("refusal"))
        for part in dicts(content)]
    texts.append(text_of(message.get("refusal")))
    return "".join(texts)
