"""The mock upstream's OpenAI Responses API (``POST /v1/responses``): builders and the default.

The wire format is OpenAI's API reference (and what openai-python's types require)::

    m.script(Reply(json=responses_object("hi", tool_calls=[("call_1", "f", '{"a": 1}')])))
    m.script(Stream(responses_events("hi", reasoning=("thought", "enc_1"), usage=(10, 5, 2, 3))))
    m.script(Stream(responses_failure(code="server_is_overloaded", text="partial")))

``usage`` is (input_tokens, output_tokens, cached_tokens, reasoning_tokens); ``reasoning`` is the
summary text, or (summary text, encrypted_content); ``tool_calls`` are
[(call_id, name, arguments_json), ...]. Items come in the order reasoning, message, function calls.
A stream is ``(event name, data)`` pairs, each data with its ``type`` and a ``sequence_number``
from 0; it has no ``[DONE]``. ``**fields`` override top-level fields of the response object
(e.g. ``instructions``, ``tools``) in every snapshot of it.

Standard library only.
"""
from __future__ import annotations

import copy
import time
import uuid
from typing import Any

from tests.mock_upstream import Reply, Stream, _fragments, _pieces

__all__ = ["default_responses_answer", "responses_events", "responses_failure",
           "responses_object"]

# Request fields the default answer echoes in its response object, as OpenAI does.
ECHOED_FIELDS = ("instructions", "max_output_tokens", "metadata", "parallel_tool_calls",
                 "previous_response_id", "reasoning", "store", "temperature", "text",
                 "tool_choice", "tools", "top_p", "truncation", "user", "safety_identifier")


def _id(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex}"


def responses_usage(usage=(10, 5, 0, 0)) -> dict:
    """The usage object from (input, output, cached, reasoning) token counts."""
    inp, out, cached, reasoning = (tuple(usage) + (0, 0, 0, 0))[:4]
    return {"input_tokens": inp,
            "input_tokens_details": {"cached_tokens": cached, "cache_write_tokens": 0},
            "output_tokens": out, "output_tokens_details": {"reasoning_tokens": reasoning},
            "total_tokens": inp + out}


def _reasoning_parts(reasoning) -> tuple[str, str | None]:
    if isinstance(reasoning, (tuple, list)):
        return reasoning[0], reasoning[1]
    return reasoning, None


def _items(text, tool_calls, reasoning, status) -> list[dict]:
    """The finished output items; the last is `incomplete` when the response is."""
    items: list[dict] = []
    if reasoning is not None:
        summary, encrypted = _reasoning_parts(reasoning)
        item: dict[str, Any] = {
            "id": _id("rs"), "type": "reasoning",
            "summary": [{"type": "summary_text", "text": summary}] if summary else []}
        if encrypted is not None:
            item["encrypted_content"] = encrypted
        items.append(item)
    if text or not (tool_calls or reasoning is not None):
        items.append({"id": _id("msg"), "type": "message", "status": "completed",
                      "role": "assistant",
                      "content": [{"type": "output_text", "text": text, "annotations": [],
                                   "logprobs": []}]})
    for call_id, name, arguments in tool_calls or ():
        items.append({"id": _id("fc"), "type": "function_call", "status": "completed",
                      "arguments": arguments, "call_id": call_id, "name": name})
    if status == "incomplete" and items and "status" in items[-1]:
        items[-1]["status"] = "incomplete"
    return items


def _response(model, status, output, usage, incomplete_reason, fields) -> dict:
    now = int(time.time())
    response = {
        "id": _id("resp"), "object": "response", "created_at": now, "status": status,
        "background": False, "completed_at": now if status == "completed" else None,
        "error": None,
        "incomplete_details": {"reason": incomplete_reason} if status == "incomplete" else None,
        "instructions": None, "max_output_tokens": None, "max_tool_calls": None, "model": model,
        "output": output, "parallel_tool_calls": True, "previous_response_id": None,
        "prompt_cache_key": None, "reasoning": {"effort": None, "summary": None},
        "safety_identifier": None, "service_tier": "default", "store": True,
        "temperature": 1.0, "text": {"format": {"type": "text"}, "verbosity": "medium"},
        "tool_choice": "auto", "tools": [], "top_logprobs": 0, "top_p": 1.0,
        "truncation": "disabled", "usage": usage, "user": None, "metadata": {},
    }
    response.update(fields)
    return response


def responses_object(text: str = "", model: str = "gpt-test", tool_calls=None, reasoning=None,
                     usage=(10, 5, 0, 0), status: str = "completed",
                     incomplete_reason: str = "max_output_tokens", **fields) -> dict:
    """A Responses API response object (non-streamed answer)."""
    output = _items(text, tool_calls, reasoning, status)
    return _response(model, status, output, responses_usage(usage), incomplete_reason, fields)


class _Events:
    """Appends (type, data) events with increasing sequence numbers."""

    def __init__(self):
        self.events: list = []

    def add(self, kind: str, **data) -> None:
        self.events.append((kind, {"type": kind, "sequence_number": len(self.events), **data}))

    def item(self, index: int, item: dict, split: int | None) -> None:
        """One output item bracketed by output_item.added / .done, with its inner events."""
        opening = {**copy.deepcopy(item), "status": "in_progress"}
        where = {"item_id": item["id"], "output_index": index}
        if item["type"] == "message":
            opening["content"] = []
        elif item["type"] == "function_call":
            opening["arguments"] = ""
        else:  # reasoning items carry no status while they are built
            opening = {**opening, "summary": []}
            opening.pop("status")
        self.add("response.output_item.added", output_index=index, item=opening)
        if item["type"] == "message":
            for content_index, part in enumerate(item["content"]):
                at = {**where, "content_index": content_index}
                self.add("response.content_part.added", **at, part={**part, "text": ""})
                for piece in _pieces(part["text"]):
                    self.add("response.output_text.delta", **at, delta=piece, logprobs=[])
                self.add("response.output_text.done", **at, text=part["text"], logprobs=[])
                self.add("response.content_part.done", **at, part=part)
        elif item["type"] == "function_call":
            for fragment in _fragments(item["arguments"], split):
                self.add("response.function_call_arguments.delta", **where, delta=fragment)
            self.add("response.function_call_arguments.done", **where,
                     arguments=item["arguments"])
        else:
            for summary_index, part in enumerate(item["summary"]):
                at = {**where, "summary_index": summary_index}
                self.add("response.reasoning_summary_part.added", **at,
                         part={"type": "summary_text", "text": ""})
                for piece in _pieces(part["text"]):
                    self.add("response.reasoning_summary_text.delta", **at, delta=piece)
                self.add("response.reasoning_summary_text.done", **at, text=part["text"])
                self.add("response.reasoning_summary_part.done", **at, part=part)
        self.add("response.output_item.done", output_index=index, item=item)


def responses_events(text: str = "", model: str = "gpt-test", tool_calls=None, reasoning=None,
                     usage=(10, 5, 0, 0), status: str = "completed",
                     incomplete_reason: str = "max_output_tokens", split: int | None = None,
                     **fields) -> list:
    """A Responses API stream: response.created, response.in_progress, each item's events, then
    response.completed (or response.incomplete) carrying the full output and usage."""
    final = responses_object(text, model, tool_calls, reasoning, usage, status,
                             incomplete_reason, **fields)
    started = {**final, "status": "in_progress", "completed_at": None,
               "incomplete_details": None, "output": [], "usage": None}
    out = _Events()
    out.add("response.created", response=started)
    out.add("response.in_progress", response=started)
    for index, item in enumerate(final["output"]):
        out.item(index, item, split)
    out.add(f"response.{status}", response=final)
    return out.events


def responses_failure(code: str = "server_error", message: str = "The model failed.",
                      text: str = "", model: str = "gpt-test", error_event: bool = False,
                      **fields) -> list:
    """A stream that starts (created, in_progress, and `text` as deltas of an open message)
    and then fails: an `error` event when error_event, then `response.failed` whose
    response.error holds code and message."""
    out = _Events()
    started = _response(model, "in_progress", [], None, None, fields)
    out.add("response.created", response=started)
    out.add("response.in_progress", response=started)
    if text:
        item_id = _id("msg")
        out.add("response.output_item.added", output_index=0,
                item={"id": item_id, "type": "message", "status": "in_progress",
                      "role": "assistant", "content": []})
        at = {"item_id": item_id, "output_index": 0, "content_index": 0}
        out.add("response.content_part.added", **at,
                part={"type": "output_text", "text": "", "annotations": [], "logprobs": []})
        for piece in _pieces(text):
            out.add("response.output_text.delta", **at, delta=piece, logprobs=[])
    if error_event:
        out.add("error", code=code, message=message, param=None)
    failed = {**started, "status": "failed", "error": {"code": code, "message": message}}
    out.add("response.failed", response=failed)
    return out.events


# --------------------------------------------------------------------------------------------
# The default answer (nothing scripted): an echo of the last user text
# --------------------------------------------------------------------------------------------


def _content_text(content) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(part["text"] for part in content
                        if isinstance(part, dict) and isinstance(part.get("text"), str)
                        and part.get("type") in ("input_text", "output_text", "text"))
    return ""


def _input_items(body: dict) -> list:
    items = body.get("input")
    if isinstance(items, str):
        return [{"type": "message", "role": "user", "content": items}]
    return [i for i in items if isinstance(i, dict)] if isinstance(items, list) else []


def _last_user_text(body: dict) -> str:
    for item in reversed(_input_items(body)):
        if item.get("role") == "user" and item.get("type", "message") == "message":
            return _content_text(item.get("content"))
    return ""


def _prompt_words(body: dict) -> int:
    words = len(str(body.get("instructions") or "").split())
    for item in _input_items(body):
        words += len(_content_text(item.get("content")).split())
        words += len(str(item.get("output") or item.get("arguments") or "").split())
    return words


def default_responses_answer(body: dict):
    """The answer to an unscripted POST /v1/responses: the last user text echoed, streamed
    when the request says stream, with the request's settings echoed in the response object."""
    text = _last_user_text(body)
    model = body.get("model") or "gpt-test"
    usage = (_prompt_words(body), len(text.split()), 0, 0)
    fields = {k: body[k] for k in ECHOED_FIELDS if k in body}
    # `text` and `reasoning` are also the builders' arguments: set in every snapshot after
    clashing = {k: fields.pop(k) for k in ("text", "reasoning") if k in fields}
    if body.get("stream"):
        events = responses_events(text, model=model, usage=usage, **fields)
        for _, data in events:
            if isinstance(data.get("response"), dict):
                data["response"].update(clashing)
        return Stream(events)
    return Reply(json={**responses_object(text, model=model, usage=usage, **fields),
                       **clashing})
