"""Non-streamed responses between OpenAI Chat Completions and Anthropic Messages.

Also home of stop reasons and usage, which the stream translators import. Content blocks, the
assistant turn and tool definitions are in translate_blocks.py.

The `model` of every answer is the model the vendor reports, on every route, streamed or not
(as OpenAI itself answers a request for an alias with the snapshot that served it): pass-through
answers carry it byte for byte; translated ones take the upstream answer's `model`, and only
when the vendor leaves it out the upstream model name the gateway sent (`fallback_model`).

Decisions:
- Text blocks of one Anthropic message join with "" into `content` (Anthropic splits one answer
  into several text blocks around citations; streams concatenate them the same way); thinking
  blocks join with "\\n\\n" into `reasoning_content`. `content` is null when there is no text.
- `thinking` / `redacted_thinking` blocks also travel whole, signatures intact, in the
  non-standard `thinking_blocks` list, which is read back first on the way to Anthropic.
- An OpenAI `reasoning_content` without `thinking_blocks` becomes, in a response only, a
  `thinking` block with an empty signature (clients show it; streams emit it as thinking_delta).
- Tool-call arguments that are not a JSON object become `{"_raw": "<arguments>"}`, empty ones `{}`:
  Anthropic requires `input` to be an object, and the raw text stays visible to client and model.
- `refusal` text of an OpenAI message becomes a text block. Anthropic server-tool blocks
  (server_tool_use, web_search_tool_result, ...) and citations have no OpenAI form and are dropped.
- Ids keep the upstream id: "msg_" + "chatcmpl-…" one way, "chatcmpl-" + "msg_…" the other
  (and a translated id translated back is the original again).
- `stop_sequence` is always null: OpenAI does not say which stop sequence matched.
  model_context_window_exceeded → "length"; unknown reasons → "stop" / "end_turn".
"""
import time
import uuid

from .translate_blocks import (
    anthropic_content_to_openai_message,
    openai_message_to_anthropic_content,
)


def _object(value) -> dict:
    return value if isinstance(value, dict) else {}


def _count(value) -> int:
    """A token count from an upstream answer; anything but a non-negative integer counts 0."""
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 0

_OPENAI_TO_ANTHROPIC_STOP = {
    "stop": "end_turn",
    "length": "max_tokens",
    "tool_calls": "tool_use",
    "function_call": "tool_use",
    "content_filter": "refusal",
}
_ANTHROPIC_TO_OPENAI_STOP = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "pause_turn": "stop",
    "max_tokens": "length",
    "model_context_window_exceeded": "length",
    "tool_use": "tool_calls",
    "refusal": "content_filter",
}


def openai_stop_to_anthropic(finish_reason: str | None, had_tool_use: bool) -> str:
    """An OpenAI finish_reason as an Anthropic stop_reason; any tool call makes it tool_use."""
    if had_tool_use:
        return "tool_use"
    return _OPENAI_TO_ANTHROPIC_STOP.get(finish_reason if isinstance(finish_reason, str) else None,
                                         "end_turn")


def anthropic_stop_to_openai(stop_reason: str | None) -> str:
    """An Anthropic stop_reason as an OpenAI finish_reason ("stop" when unknown or missing)."""
    return _ANTHROPIC_TO_OPENAI_STOP.get(stop_reason if isinstance(stop_reason, str) else None,
                                         "stop")


def openai_usage_to_anthropic(usage: dict | None) -> dict:
    """OpenAI usage → Anthropic usage: input_tokens excludes the cached part of the prompt."""
    usage = _object(usage)
    prompt = _count(usage.get("prompt_tokens"))
    cached = _count(_object(usage.get("prompt_tokens_details")).get("cached_tokens"))
    return {
        "input_tokens": max(prompt - cached, 0),
        "output_tokens": _count(usage.get("completion_tokens")),
        "cache_read_input_tokens": cached,
        "cache_creation_input_tokens": 0,
    }


def anthropic_usage_to_openai(usage: dict | None) -> dict:
    """Anthropic usage → OpenAI usage: prompt_tokens counts fresh, cache-read and cache-write."""
    usage = _object(usage)
    cache_read = _count(usage.get("cache_read_input_tokens"))
    prompt = (_count(usage.get("input_tokens")) + cache_read
              + _count(usage.get("cache_creation_input_tokens")))
    completion = _count(usage.get("output_tokens"))
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
        "prompt_tokens_details": {"cached_tokens": cache_read},
    }


def _model(reported, fallback_model: str) -> str:
    return reported if isinstance(reported, str) and reported else fallback_model


def _translated_id(upstream_id, prefix: str, other_prefix: str) -> str:
    """The upstream id under our prefix: "abc" → prefix + "abc"; an id that already has the
    prefix stays; one we translated before (prefix + other_prefix + …) gets its prefix back."""
    if not upstream_id:
        return f"{prefix}{uuid.uuid4().hex}"
    upstream_id = str(upstream_id)
    if upstream_id.startswith(prefix):
        return upstream_id
    if upstream_id.startswith(other_prefix + prefix):
        return upstream_id[len(other_prefix):]
    return f"{prefix}{upstream_id}"


def openai_to_anthropic_response(data: dict, fallback_model: str) -> dict:
    """An OpenAI ChatCompletion as an Anthropic Message (first choice only); fallback_model is
    the upstream model sent, for an answer without `model`."""
    choices = data.get("choices")
    choice = _object(choices[0]) if isinstance(choices, list) and choices else {}
    content = openai_message_to_anthropic_content(_object(choice.get("message")),
                                                  unsigned_reasoning=True)
    had_tool_use = any(block["type"] == "tool_use" for block in content)
    return {
        "id": _translated_id(data.get("id"), "msg_", "chatcmpl-"),
        "type": "message",
        "role": "assistant",
        "model": _model(data.get("model"), fallback_model),
        "content": content,
        "stop_reason": openai_stop_to_anthropic(choice.get("finish_reason"), had_tool_use),
        "stop_sequence": None,
        "usage": openai_usage_to_anthropic(data.get("usage")),
    }


def anthropic_to_openai_response(data: dict, fallback_model: str) -> dict:
    """An Anthropic Message as an OpenAI ChatCompletion with one choice; fallback_model is the
    upstream model sent, for an answer without `model`."""
    message = anthropic_content_to_openai_message(data.get("content") or [])
    message["refusal"] = None
    finish_reason = ("tool_calls" if message.get("tool_calls")
                     else anthropic_stop_to_openai(data.get("stop_reason")))
    return {
        "id": _translated_id(data.get("id"), "chatcmpl-", "msg_"),
        "object": "chat.completion",
        "created": int(time.time()),
        "model": _model(data.get("model"), fallback_model),
        "choices": [{"index": 0, "message": message, "finish_reason": finish_reason,
                     "logprobs": None}],
        "usage": anthropic_usage_to_openai(data.get("usage")),
    }
