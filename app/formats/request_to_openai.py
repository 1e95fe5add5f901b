"""Anthropic Messages request → OpenAI Chat Completions request (translate_request.py has the
decisions and what is knowingly dropped)."""
import hashlib

from .reasoning_carry import reasoning_from_signature
from .structured_output import output_config_to_openai
from .translate_blocks import (
    anthropic_block_to_openai_part,
    dicts,
    tool_choice_to_openai,
    tool_result_to_openai,
    tool_to_openai,
)
from .translate_blocks import anthropic_content_to_openai_message as _assistant_to_openai

REASONING_MODEL_PREFIXES = ("o1", "o3", "o4", "gpt-5")
OPENAI_USER_MAX = 64


def is_reasoning_model(model: str) -> bool:
    """OpenAI reasoning models (max_completion_tokens, reasoning_effort); "org/o3" counts."""
    return model.rsplit("/", 1)[-1].lower().startswith(REASONING_MODEL_PREFIXES)


def anthropic_to_openai_request(body: dict, upstream_model: str, *, allow_top_k: bool = False,
                                max_output_tokens: int | None = None,
                                keep_reasoning_items: bool = False) -> dict:
    """Anthropic Messages request → OpenAI Chat Completions request for upstream_model.
    When body["stream"] is true: "stream": True and "stream_options": {"include_usage": True}.
    max_tokens is clamped to max_output_tokens (the model's limit) when given.
    keep_reasoning_items: keep, in `thinking_blocks`, the thinking blocks that carry a Responses
    reasoning item (reasoning_carry.py), for the pivot on to a Responses-format vendor."""
    reasoning = is_reasoning_model(upstream_model)
    out = {"model": upstream_model,
           "messages": _system_to_openai(body.get("system"))
           + _messages_to_openai(body, keep_reasoning_items)}
    if body.get("max_tokens") is not None:
        limit = body["max_tokens"]
        if max_output_tokens:
            limit = min(limit, max_output_tokens)
        out["max_completion_tokens" if reasoning else "max_tokens"] = limit
    if body.get("stop_sequences") and isinstance(body["stop_sequences"], list):
        out["stop"] = list(body["stop_sequences"])
    sampling = ("top_k",) if allow_top_k else ()
    if not reasoning:
        sampling += ("temperature", "top_p")
    for name in sampling:
        if body.get(name) is not None:
            out[name] = body[name]
    thinking = body.get("thinking") if isinstance(body.get("thinking"), dict) else {}
    if reasoning and thinking.get("type") == "enabled":
        budget = thinking.get("budget_tokens")
        budget = budget if isinstance(budget, int) else 0
        out["reasoning_effort"] = "low" if budget < 4096 else "medium" if budget < 16384 else "high"
    user = (body.get("metadata") or {}).get("user_id")
    if isinstance(user, str) and user:
        out["user"] = (user if len(user) <= OPENAI_USER_MAX
                       else hashlib.sha256(user.encode()).hexdigest())
    tools = [tool_to_openai(tool) for tool in dicts(body.get("tools"))]
    tools = [tool for tool in tools if tool]
    choice = body.get("tool_choice") if isinstance(body.get("tool_choice"), dict) else {}
    if tools:
        out["tools"] = tools
        if (mapped := tool_choice_to_openai(choice)) is not None:
            out["tool_choice"] = mapped
        if choice.get("disable_parallel_tool_use") is True:
            out["parallel_tool_calls"] = False
    if (response_format := output_config_to_openai(body.get("output_config"))) is not None:
        out["response_format"] = response_format
    if body.get("stream"):
        out["stream"] = True
        out["stream_options"] = {"include_usage": True}
    return out


def _system_to_openai(system) -> list:
    text = _system_text(system)
    return [{"role": "system", "content": text}] if text else []


def _system_text(content) -> str:
    """System content (a string or text blocks) as ONE string, blocks joined by a blank line:
    several OpenAI-compatible servers accept only strings in system messages."""
    if isinstance(content, str):
        return content
    return "\n\n".join(block["text"] for block in dicts(content)
                       if block.get("type") == "text" and isinstance(block.get("text"), str)
                       and block["text"])


def _messages_to_openai(body, keep_reasoning_items=False) -> list:
    out = []
    for message in dicts(body.get("messages")):
        content = message.get("content")
        role = message.get("role")
        if role == "assistant":
            converted = _assistant_to_openai(content)
            # Anthropic thinking signatures mean nothing to an OpenAI-format model, and some of
            # them (DeepSeek, Cerebras) reject reasoning_content in input messages.
            converted.pop("reasoning_content", None)
            blocks = converted.pop("thinking_blocks", None)
            carried = [block for block in blocks or () if keep_reasoning_items
                       and reasoning_from_signature(block.get("signature")) is not None]
            if carried:
                converted["thinking_blocks"] = carried
            if converted["content"] is None and "tool_calls" not in converted:
                converted["content"] = ""
            out.append(converted)
        elif role == "system":  # a mid-conversation system message stays where it is
            out.extend(_system_to_openai(content))
        elif isinstance(content, str):
            out.append({"role": "user", "content": content})
        else:
            out.extend(_user_blocks_to_openai(dicts(content)))
    return out


def _user_blocks_to_openai(blocks) -> list:
    """tool_result blocks → tool messages first, then one user message with everything else."""
    tool_messages, media, parts = [], [], []
    for block in blocks:
        if block.get("type") == "tool_result":
            text, extra = tool_result_to_openai(block.get("content"))
            if block.get("is_error"):
                text = f"Error: {text}" if text else "Error"
            tool_messages.append({"role": "tool", "tool_call_id": block.get("tool_use_id"),
                                  "content": text})
            media.extend(extra)
        else:
            part = anthropic_block_to_openai_part(block)
            if part:
                parts.append(part)
    user_parts = media + parts
    return tool_messages + ([{"role": "user", "content": user_parts}] if user_parts else [])
