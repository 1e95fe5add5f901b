"""Requests between Anthropic Messages and OpenAI Chat Completions, as plain dicts.

The caller has validated the body in its own format and chosen the upstream model. Only fields
with a mapping are read: any other top-level field (unknown or vendor extension) is not forwarded.

Anthropic → OpenAI, knowingly dropped:
- `cache_control` on system, blocks and tools: OpenAI caches prompt prefixes by itself.
- server/built-in tools (any `type` but "custom": web_search_*, bash_*, text_editor_*, ...): they
  run inside Anthropic's API; `tool_choice` and parallelism go too when no tool is left.
- tool `strict` (OpenAI strict mode imposes its own schema rules, a 400 risk) and other tool extras.
- `top_k` unless allow_top_k (vLLM-style servers accept it, api.openai.com rejects it).
- `thinking` for non-reasoning models; `temperature` / `top_p` for reasoning models (o1/o3/o4/
  gpt-5 reject non-default sampling). Adaptive or disabled thinking maps to nothing.
- documents with a `url`/`file` source, images with a `file` source (no Chat Completions form);
  document `citations`/`context`; unknown block types (search_result, server tool results).
- `metadata` other than `user_id`; a user_id over 64 characters goes as its SHA-256 hex digest,
  since OpenAI limits `user` to 64 characters.
- DROPPED_ANTHROPIC_FIELDS: top-level fields with no Chat Completions equivalent.

OpenAI → Anthropic, knowingly dropped:
- DROPPED_OPENAI_FIELDS: sampling/output options Anthropic lacks (n, penalties, logit_bias,
  logprobs, seed, response_format, audio, ...), OpenAI-side storage/caching/routing options,
  `stream_options` (Anthropic streams always report usage), legacy functions/function_call and
  role "function" messages.
- `reasoning_content` without `thinking_blocks` (Anthropic rejects unsigned thinking).
- file parts with a `file_id` or not a PDF data URI (Chat Completions files are PDFs);
  `input_audio` parts; tools of a type other than "function".
- `temperature`, `top_p`, `top_k` when thinking is on (Anthropic forbids them with thinking), and
  thinking itself when tool_choice forces a tool (Anthropic forbids that combination).

Decisions:
- Anthropic system text blocks become ONE system message whose string joins them with blank
  lines. Back: every system/developer message, also one in mid-conversation, is merged into
  `system` in order (Anthropic has no mid-conversation system turn); one block → a string.
- tool_result: one tool message each, before the rest of that user turn; its text joined with
  "\n"; is_error → "Error: " prefix (not parsed back); its images/PDFs open the user message that
  follows. A PDF without a title gets filename "document.pdf" (filename ⇄ title).
  Back: tool messages and the user messages after them merge into one user turn, tool_result
  blocks first; any consecutive same-role messages merge; empty messages are skipped.
- Assistant thinking history is not sent to OpenAI-format models (their servers either ignore
  Anthropic's signed thinking or reject `reasoning_content` in input); back, an OpenAI client's
  `thinking_blocks` (as this gateway returns them) become Anthropic thinking blocks, signed.
- max tokens: requested, else default_max_tokens, then clamped to max_output_tokens. With
  reasoning_effort and no requested max, max_tokens = budget + default (then clamped); the budget
  is then lowered to max_tokens - 1 (both count thinking), and thinking is dropped if < 1024.
- reasoning_effort budgets: minimal 1024, low 2048, medium 8192, high 24576, xhigh/max 32768;
  "none" → no thinking. OpenAI temperature (0–2) is clamped to Anthropic's 0–1.
- `stream` is only sent when true; `user` (else `safety_identifier`) → `metadata.user_id`.
"""
import hashlib

from .translate_blocks import (
    anthropic_block_to_openai_part,
    dicts,
    openai_message_to_anthropic_content,
    openai_part_to_anthropic_block,
    tool_choice_to_anthropic,
    tool_choice_to_openai,
    tool_result_to_openai,
    tool_to_anthropic,
    tool_to_openai,
)
from .translate_blocks import anthropic_content_to_openai_message as _assistant_to_openai

DROPPED_ANTHROPIC_FIELDS = (
    "cache_control", "container", "context_management", "diagnostics", "inference_geo",
    "mcp_servers", "output_config", "service_tier", "speed", "user_profile_id", "workspace_id",
)
DROPPED_OPENAI_FIELDS = (
    "audio", "frequency_penalty", "function_call", "functions", "logit_bias", "logprobs",
    "metadata", "modalities", "moderation", "n", "prediction", "presence_penalty",
    "prompt_cache_key", "prompt_cache_options", "prompt_cache_retention", "response_format",
    "seed", "service_tier", "store", "stream_options", "top_logprobs", "verbosity",
    "web_search_options",
)

REASONING_MODEL_PREFIXES = ("o1", "o3", "o4", "gpt-5")
EFFORT_BUDGETS = {"minimal": 1024, "low": 2048, "medium": 8192, "high": 24576,
                  "xhigh": 32768, "max": 32768}
MIN_THINKING_BUDGET = 1024
OPENAI_USER_MAX = 64


def is_reasoning_model(model: str) -> bool:
    """OpenAI reasoning models (max_completion_tokens, reasoning_effort); "org/o3" counts."""
    return model.rsplit("/", 1)[-1].lower().startswith(REASONING_MODEL_PREFIXES)


# ---- Anthropic → OpenAI -------------------------------------------------------------------


def anthropic_to_openai_request(body: dict, upstream_model: str, *, allow_top_k: bool = False,
                                max_output_tokens: int | None = None) -> dict:
    """Anthropic Messages request → OpenAI Chat Completions request for upstream_model.
    When body["stream"] is true: "stream": True and "stream_options": {"include_usage": True}.
    max_tokens is clamped to max_output_tokens (the model's limit) when given."""
    reasoning = is_reasoning_model(upstream_model)
    out = {"model": upstream_model,
           "messages": _system_to_openai(body.get("system")) + _messages_to_openai(body)}
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
    if body.get("stream"):
        out["stream"] = True
        out["stream_options"] = {"include_usage": True}
    return out


def _system_to_openai(system) -> list:
    if isinstance(system, str):
        return [{"role": "system", "content": system}] if system else []
    texts = [block.get("text") for block in dicts(system)
             if block.get("type") == "text" and isinstance(block.get("text"), str)
             and block.get("text")]
    # one string, not text parts: several OpenAI-compatible servers accept only strings here
    return [{"role": "system", "content": "\n\n".join(texts)}] if texts else []


def _messages_to_openai(body) -> list:
    out = []
    for message in dicts(body.get("messages")):
        content = message.get("content")
        if message.get("role") == "assistant":
            converted = _assistant_to_openai(content)
            # Anthropic thinking signatures mean nothing to an OpenAI-format model, and some of
            # them (DeepSeek, Cerebras) reject reasoning_content in input messages.
            converted.pop("reasoning_content", None)
            converted.pop("thinking_blocks", None)
            if converted["content"] is None and "tool_calls" not in converted:
                converted["content"] = ""
            out.append(converted)
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


def openai_to_anthropic_request(body: dict, upstream_model: str, *, default_max_tokens: int,
                                max_output_tokens: int | None = None) -> dict:
    """OpenAI Chat Completions request → Anthropic Messages request for upstream_model."""
    system, messages = _split_system(dicts(body.get("messages")))
    out = {"model": upstream_model, "messages": _messages_to_anthropic(messages)}
    if system:
        out["system"] = system[0]["text"] if len(system) == 1 else system
    tools = [tool_to_anthropic(tool) for tool in dicts(body.get("tools"))]
    tools = [tool for tool in tools if tool]
    choice = tool_choice_to_anthropic(body.get("tool_choice"), body.get("parallel_tool_calls"))
    if tools:
        out["tools"] = tools
        if choice:
            out["tool_choice"] = choice
    effort = body.get("reasoning_effort")
    budget = EFFORT_BUDGETS.get(effort) if isinstance(effort, str) else None
    if tools and choice and choice["type"] in ("any", "tool"):
        budget = None
    requested = body.get("max_completion_tokens") or body.get("max_tokens")
    max_tokens = requested or default_max_tokens
    if budget and requested is None:
        max_tokens = budget + default_max_tokens
    if max_output_tokens:
        max_tokens = min(max_tokens, max_output_tokens)
    out["max_tokens"] = max_tokens
    if budget and min(budget, max_tokens - 1) >= MIN_THINKING_BUDGET:
        out["thinking"] = {"type": "enabled", "budget_tokens": min(budget, max_tokens - 1)}
    if "thinking" not in out:
        if body.get("temperature") is not None:
            out["temperature"] = min(max(body["temperature"], 0), 1)
        for name in ("top_p", "top_k"):
            if body.get(name) is not None:
                out[name] = body[name]
    stop = body.get("stop")
    if stop:
        out["stop_sequences"] = [stop] if isinstance(stop, str) else list(stop)
    user = body.get("user") or body.get("safety_identifier")
    if user:
        out["metadata"] = {"user_id": user}
    if body.get("stream"):
        out["stream"] = True
    return out


def _split_system(messages) -> tuple[list, list]:
    """System/developer messages (wherever they are) → system text blocks; the rest."""
    system, rest = [], []
    for message in messages:
        if message.get("role") in ("system", "developer"):
            system.extend(_text_blocks(message.get("content")))
        else:
            rest.append(message)
    return system, rest


def _text_blocks(content) -> list:
    if isinstance(content, str):
        return [{"type": "text", "text": content}] if content else []
    return [{"type": "text", "text": part["text"]} for part in dicts(content)
            if part.get("type") == "text" and isinstance(part.get("text"), str) and part["text"]]


def _messages_to_anthropic(messages) -> list:
    """Convert, drop empty turns, merge same-role neighbours, put tool_result blocks first."""
    turns = []
    for message in messages:
        role, content = _message_to_anthropic(message)
        if not content:
            continue
        if turns and turns[-1]["role"] == role:
            turns[-1]["content"] = _as_blocks(turns[-1]["content"]) + _as_blocks(content)
        else:
            turns.append({"role": role, "content": content})
    for turn in turns:
        if turn["role"] == "user" and isinstance(turn["content"], list):
            content = turn["content"]
            turn["content"] = ([b for b in content if b["type"] == "tool_result"]
                               + [b for b in content if b["type"] != "tool_result"])
    return turns


def _message_to_anthropic(message) -> tuple[str, object]:
    role, content = message.get("role"), message.get("content")
    if role == "tool":
        result = {"type": "tool_result", "tool_use_id": message.get("tool_call_id")}
        if isinstance(content, str) and content:
            result["content"] = content
        elif isinstance(content, list) and _text_blocks(content):
            result["content"] = _text_blocks(content)
        return "user", [result]
    if role == "assistant":
        blocks = openai_message_to_anthropic_content(message, unsigned_reasoning=False)
        if isinstance(content, str) and blocks == [{"type": "text", "text": content}]:
            return role, content
        return role, blocks
    if role == "user":
        if isinstance(content, str):
            return role, content
        blocks = [openai_part_to_anthropic_block(part) for part in dicts(content)]
        return role, [block for block in blocks if block]
    return role, None


def _as_blocks(content) -> list:
    return [{"type": "text", "text": content}] if isinstance(content, str) else content
