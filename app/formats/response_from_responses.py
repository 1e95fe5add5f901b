"""A Responses API response → a Chat Completions answer (chat.completion), for Chat clients (and,
through the pivot, Anthropic clients) of a vendor that speaks the Responses API.

Decisions:
- `content`: the `output_text` parts of every message item joined with "" (null when there is
  none); `refusal` parts likewise into `refusal`; url_citation annotations → the message's
  `annotations` (Chat's shape); output_text logprobs → `choices[0].logprobs.content`.
- `function_call` items → tool_calls (`id` = call_id; empty arguments → "{}"); `custom_tool_call`
  items → custom tool calls. Hosted-tool items (web_search_call, ...) have no Chat form.
- `reasoning` items: their summary texts (else their reasoning_text content) → `reasoning_content`
  (items joined by a blank line), and each item whole in a `thinking_blocks` entry whose
  signature carries it (reasoning_carry.reasoning_in_signature), so that the item goes back to
  the vendor when the client returns the history (request_to_responses_input.py).
- finish_reason: status "incomplete" → "length" for max_output_tokens (or max_messages),
  "content_filter" for content_filter — before "tool_calls", since a call cut by the token limit
  has truncated arguments; else "tool_calls" when there is any call, else "stop".
- A response with status "failed" raises its error (openai_responses.error_of).
- `model`: the one the vendor reports, else the model sent; `id`: "chatcmpl-" + the response id.
"""
import time
import uuid

from .openai_responses import error_of
from .reasoning_carry import reasoning_in_signature
from .translate_blocks import dicts, obj, text_of

INCOMPLETE_FINISH = {"max_output_tokens": "length", "max_messages": "length",
                     "content_filter": "content_filter"}


def _count(value) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 0


def responses_usage_to_chat(usage) -> dict:
    """Responses usage → Chat usage (input_tokens already counts the cached part)."""
    usage = obj(usage)
    prompt, completion = _count(usage.get("input_tokens")), _count(usage.get("output_tokens"))
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
        "prompt_tokens_details": {
            "cached_tokens": _count(obj(usage.get("input_tokens_details")).get("cached_tokens"))},
        "completion_tokens_details": {"reasoning_tokens": _count(
            obj(usage.get("output_tokens_details")).get("reasoning_tokens"))},
    }


def finish_reason(response: dict, had_tool_calls: bool) -> str:
    """The Chat finish_reason of a finished Responses response."""
    if response.get("status") == "incomplete":
        reason = obj(response.get("incomplete_details")).get("reason")
        if reason in INCOMPLETE_FINISH:
            return INCOMPLETE_FINISH[reason]
    return "tool_calls" if had_tool_calls else "stop"


def reasoning_text(item: dict) -> str:
    """The readable text of a reasoning item: its summaries, else its reasoning_text content."""
    texts = [text_of(part.get("text")) for part in dicts(item.get("summary"))]
    if not any(texts):
        texts = [text_of(part.get("text")) for part in dicts(item.get("content"))]
    return "\n\n".join(text for text in texts if text)


def thinking_block(item: dict) -> dict:
    """A reasoning item as the thinking block that carries it whole."""
    return {"type": "thinking", "thinking": reasoning_text(item),
            "signature": reasoning_in_signature(item)}


def chat_annotation(annotation: dict) -> dict | None:
    """A Responses url_citation annotation in Chat's shape (None for other kinds)."""
    if annotation.get("type") != "url_citation":
        return None
    return {"type": "url_citation",
            "url_citation": {k: annotation.get(k)
                             for k in ("start_index", "end_index", "url", "title")}}


def chat_logprob(entry: dict) -> dict:
    """A Responses logprob entry as a Chat one (the same fields; bytes null when absent)."""
    return {"token": entry.get("token"), "logprob": entry.get("logprob"),
            "bytes": entry.get("bytes"),
            "top_logprobs": [{"token": top.get("token"), "logprob": top.get("logprob"),
                              "bytes": top.get("bytes")}
                             for top in dicts(entry.get("top_logprobs"))]}


def tool_call_of(item: dict) -> dict | None:
    """A function_call / custom_tool_call item as a Chat tool call (None for other items)."""
    if item.get("type") == "function_call":
        return {"id": item.get("call_id"), "type": "function",
                "function": {"name": item.get("name"),
                             "arguments": text_of(item.get("arguments")) or "{}"}}
    if item.get("type") == "custom_tool_call":
        return {"id": item.get("call_id"), "type": "custom",
                "custom": {"name": item.get("name"), "input": text_of(item.get("input"))}}
    return None


def responses_to_chat_response(data: dict, model: str) -> dict:
    """A Responses object → a chat.completion with one choice; model is the upstream model
    sent, for a response that names none."""
    if data.get("status") == "failed":
        raise error_of(obj(data.get("error")), "Upstream error")
    texts, refusals, calls, annotations, logprobs, thoughts, blocks = [], [], [], [], [], [], []
    for item in dicts(data.get("output")):
        kind = item.get("type")
        if kind == "message":
            for part in dicts(item.get("content")):
                if part.get("type") == "output_text":
                    texts.append(text_of(part.get("text")))
                    annotations += filter(None, map(chat_annotation,
                                                    dicts(part.get("annotations"))))
                    logprobs += map(chat_logprob, dicts(part.get("logprobs")))
                elif part.get("type") == "refusal":
                    refusals.append(text_of(part.get("refusal")))
        elif kind == "reasoning":
            blocks.append(thinking_block(item))
            if blocks[-1]["thinking"]:
                thoughts.append(blocks[-1]["thinking"])
        elif (call := tool_call_of(item)) is not None:
            calls.append(call)
    message = {"role": "assistant", "content": "".join(texts) if texts else None,
               "refusal": "".join(refusals) if refusals else None}
    if calls:
        message["tool_calls"] = calls
    if annotations:
        message["annotations"] = annotations
    if thoughts:
        message["reasoning_content"] = "\n\n".join(thoughts)
    if blocks:
        message["thinking_blocks"] = blocks
    upstream_id = data.get("id")
    created = data.get("created_at")
    reported = data.get("model")
    out = {
        "id": f"chatcmpl-{upstream_id}" if upstream_id else f"chatcmpl-{uuid.uuid4().hex}",
        "object": "chat.completion",
        "created": int(created) if isinstance(created, (int, float)) else int(time.time()),
        "model": reported if isinstance(reported, str) and reported else model,
        "choices": [{"index": 0, "message": message,
                     "finish_reason": finish_reason(data, bool(calls)),
                     "logprobs": {"content": logprobs, "refusal": None} if logprobs else None}],
        "usage": responses_usage_to_chat(data.get("usage")),
    }
    if isinstance(data.get("service_tier"), str):
        out["service_tier"] = data["service_tier"]
    return out
