"""Answers for a Responses client: the response object, its items, its usage.

A translated answer is built on a *shell*: the response object with the request's settings echoed
(instructions, tools, text, reasoning, …) as OpenAI returns them, the gateway's own id
(`resp_…`), and status/output/usage filled in when the answer is known. Non-streamed answers come
through the Chat Completions pivot (translate_response.py makes a Chat answer of an Anthropic
one); streams are built event by event (stream_to_responses.py) with the same item shapes.
"""
import secrets
import time

from . import compaction
from .reasoning_carry import thinking_in_encrypted_content
from .translate_blocks import dicts, obj, text_of


def new_id(prefix):
    return f"{prefix}_{secrets.token_hex(16)}"


def response_shell(body, model, stored=False, response_id=None):
    """The response object of a request, before its answer: status in_progress, no output.
    stored: whether the gateway keeps it (its `store`, as the client can rely on it)."""
    reasoning = obj(body.get("reasoning"))
    return {
        "id": response_id or new_id("resp"), "object": "response",
        "created_at": int(time.time()), "status": "in_progress", "background": False,
        "error": None, "incomplete_details": None, "instructions": body.get("instructions"),
        "max_output_tokens": body.get("max_output_tokens"), "max_tool_calls": None,
        "model": model, "output": [],
        "parallel_tool_calls": body.get("parallel_tool_calls", True),
        "previous_response_id": body.get("previous_response_id"),
        "reasoning": {"effort": reasoning.get("effort"), "summary": reasoning.get("summary")},
        "service_tier": body.get("service_tier") or "default",
        "store": stored,
        "temperature": body.get("temperature", 1.0),
        "text": body.get("text") or {"format": {"type": "text"}},
        "tool_choice": body.get("tool_choice", "auto"), "tools": body.get("tools") or [],
        "top_logprobs": body.get("top_logprobs", 0), "top_p": body.get("top_p", 1.0),
        "truncation": body.get("truncation", "disabled"), "usage": None,
        "user": body.get("user"), "safety_identifier": body.get("safety_identifier"),
        "prompt_cache_key": body.get("prompt_cache_key"), "metadata": body.get("metadata") or {},
    }


def completed(shell, output, usage, incomplete_reason=None, model=None):
    """The shell, finished: its output items, usage and status."""
    response = {**shell, "output": output, "usage": usage,
                "status": "incomplete" if incomplete_reason else "completed",
                "incomplete_details": {"reason": incomplete_reason} if incomplete_reason else None}
    if model:
        response["model"] = model
    return response


# --- items ------------------------------------------------------------------------------------

def message_item(parts, item_id=None, status="completed"):
    return {"id": item_id or new_id("msg"), "type": "message", "status": status,
            "role": "assistant", "content": parts}


def text_part(text=""):
    return {"type": "output_text", "text": text, "annotations": [], "logprobs": []}


def refusal_part(text=""):
    return {"type": "refusal", "refusal": text}


def reasoning_item(summary_texts, encrypted_content=None, item_id=None):
    item = {"id": item_id or new_id("rs"), "type": "reasoning",
            "summary": [{"type": "summary_text", "text": t} for t in summary_texts]}
    if encrypted_content is not None:
        item["encrypted_content"] = encrypted_content
    return item


def reasoning_of_thinking(block):
    """An Anthropic thinking (or redacted_thinking) block as a reasoning item that carries it."""
    thinking = text_of(block.get("thinking"))
    return reasoning_item([thinking] if thinking else [], thinking_in_encrypted_content(block))


# --- usage and status -------------------------------------------------------------------------

def usage_from_chat(usage):
    """A Chat Completions usage as a Responses usage."""
    usage = obj(usage)
    prompt, completion = usage.get("prompt_tokens") or 0, usage.get("completion_tokens") or 0
    return {"input_tokens": prompt,
            "input_tokens_details": {"cached_tokens": obj(usage.get("prompt_tokens_details"))
                                     .get("cached_tokens") or 0},
            "output_tokens": completion,
            "output_tokens_details": {"reasoning_tokens": obj(usage.get(
                "completion_tokens_details")).get("reasoning_tokens") or 0},
            "total_tokens": prompt + completion}


def usage_from_anthropic(usage):
    """An Anthropic usage as a Responses usage: the input counts every prompt token, cached ones
    included."""
    usage = obj(usage)
    cached = usage.get("cache_read_input_tokens") or 0
    prompt = (usage.get("input_tokens") or 0) + cached + (
        usage.get("cache_creation_input_tokens") or 0)
    output = usage.get("output_tokens") or 0
    return {"input_tokens": prompt, "input_tokens_details": {"cached_tokens": cached},
            "output_tokens": output, "output_tokens_details": {"reasoning_tokens": 0},
            "total_tokens": prompt + output}


def incomplete_reason_of_chat(finish_reason):
    return {"length": "max_output_tokens", "content_filter": "content_filter"}.get(finish_reason)


def incomplete_reason_of_anthropic(stop_reason):
    return {"max_tokens": "max_output_tokens",
            "model_context_window_exceeded": "max_output_tokens"}.get(stop_reason)


# --- a whole Chat answer ----------------------------------------------------------------------

def chat_to_responses_response(answer, shell, tool_names):
    """A chat.completion (from an OpenAI-format vendor, or an Anthropic answer translated to one)
    as the Responses object of shell. tool_names: request_from_responses.ToolNames."""
    choice = next(iter(dicts(answer.get("choices"))), {})
    message = obj(choice.get("message"))
    model = answer.get("model") if isinstance(answer.get("model"), str) else None
    usage = usage_from_chat(answer.get("usage"))
    reason = incomplete_reason_of_chat(choice.get("finish_reason"))
    if tool_names.compaction:  # the answer is the summary (compaction.py)
        summary = text_of(message.get("content"))
        return completed(shell, [compaction.item(summary)], usage, reason, model)
    output = []
    blocks = dicts(message.get("thinking_blocks"))
    if blocks:
        output += [reasoning_of_thinking(block) for block in blocks]
    elif text_of(message.get("reasoning_content")):
        output.append(reasoning_item([message["reasoning_content"]]))
    parts = []
    if text_of(message.get("content")):
        parts.append(text_part(message["content"]))
    if text_of(message.get("refusal")):
        parts.append(refusal_part(message["refusal"]))
    if parts:
        output.append(message_item(parts))
    for call in dicts(message.get("tool_calls")):
        function = obj(call.get("function"))
        item = tool_names.item_of_call(call.get("id"), function.get("name"),
                                       text_of(function.get("arguments")) or "{}")
        output.append({"id": new_id("fc" if item["type"] == "function_call" else "ctc"),
                       **item, "status": "completed"})
    return completed(shell, output, usage, reason, model)
