"""OpenAI Chat Completions request → Anthropic Messages request (translate_request.py has the
decisions, what is knowingly dropped and what is refused)."""
from .checks import refuse_unsupported
from .structured_output import response_format_to_anthropic
from .translate_blocks import (
    dicts,
    openai_message_to_anthropic_content,
    openai_part_to_anthropic_block,
    tool_choice_to_anthropic,
    tool_to_anthropic,
    with_cache_control,
)

EFFORT_BUDGETS = {"minimal": 1024, "low": 2048, "medium": 8192, "high": 24576,
                  "xhigh": 32768, "max": 32768}
MIN_THINKING_BUDGET = 1024
MAX_CACHE_BREAKPOINTS = 4  # Anthropic refuses a request with more cache_control blocks
TOOL_RESULT_BLOCKS = ("text", "image", "document")  # what Anthropic takes in a tool_result


def openai_to_anthropic_request(body: dict, upstream_model: str, *, default_max_tokens: int,
                                max_output_tokens: int | None = None) -> dict:
    """OpenAI Chat Completions request → Anthropic Messages request for upstream_model.
    InvalidRequest (400) for what an Anthropic model cannot honour (refuse_unhonourable)."""
    refuse_unhonourable(body)
    system, messages = _split_system(dicts(body.get("messages")))
    out = {"model": upstream_model, "messages": _messages_to_anthropic(messages)}
    if system:
        plain = len(system) == 1 and "cache_control" not in system[0]
        out["system"] = system[0]["text"] if plain else system
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
    if (output_format := response_format_to_anthropic(body.get("response_format"))) is not None:
        out["output_config"] = {"format": output_format}
    if body.get("stream"):
        out["stream"] = True
    _keep_last_breakpoints(out)
    return out


def refuse_unhonourable(body: dict) -> None:
    """400 for OpenAI options that ask for an answer an Anthropic model cannot give: several
    choices, log probabilities, audio output, legacy `functions`, web search options."""
    reasons = (
        ("n", isinstance(body.get("n"), int) and body["n"] > 1,
         "this model answers with one choice only; send n: 1 (or leave it out)"),
        ("logprobs", body.get("logprobs") is True,
         "this model does not return log probabilities"),
        ("top_logprobs", type(body.get("top_logprobs")) is int and body["top_logprobs"] > 0,
         "this model does not return log probabilities"),
        ("modalities", isinstance(body.get("modalities"), list) and "audio" in body["modalities"],
         "this model does not answer with audio"),
        ("audio", body.get("audio") is not None, "this model does not answer with audio"),
        ("functions", bool(body.get("functions")),
         "legacy functions are not translated; send them as `tools` of type function"),
        ("web_search_options", body.get("web_search_options") is not None,
         "this model does not search the web through Chat Completions options"),
    )
    refuse_unsupported(reasons, "served by an Anthropic-format vendor")


def _split_system(messages) -> tuple[list, list]:
    """System/developer messages (wherever they are) → system text blocks; the rest."""
    system, rest = [], []
    for message in messages:
        if message.get("role") in ("system", "developer"):
            system.extend(_message_cache_control(_text_blocks(message.get("content")), message))
        else:
            rest.append(message)
    return system, rest


def _text_blocks(content) -> list:
    if isinstance(content, str):
        return [{"type": "text", "text": content}] if content else []
    return [with_cache_control({"type": "text", "text": part["text"]}, part)
            for part in dicts(content)
            if part.get("type") == "text" and isinstance(part.get("text"), str) and part["text"]]


def _message_cache_control(blocks: list, message: dict) -> list:
    """A message-level cache_control (LiteLLM's convention) marks the message's last block."""
    if blocks and isinstance(message.get("cache_control"), dict):
        blocks[-1] = with_cache_control(dict(blocks[-1]), message)
    return blocks


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
        result = with_cache_control({"type": "tool_result",
                                     "tool_use_id": message.get("tool_call_id")}, message)
        if isinstance(content, str) and content:
            result["content"] = content
        elif isinstance(content, list):
            blocks = [openai_part_to_anthropic_block(part) for part in dicts(content)]
            blocks = [block for block in blocks if block and block["type"] in TOOL_RESULT_BLOCKS]
            if blocks:
                result["content"] = blocks
        return "user", [result]
    if role == "assistant":
        blocks = openai_message_to_anthropic_content(message, unsigned_reasoning=False)
        if (isinstance(content, str) and blocks == [{"type": "text", "text": content}]
                and not isinstance(message.get("cache_control"), dict)):
            return role, content
        return role, _message_cache_control(blocks, message)
    if role == "user":
        if isinstance(content, str):
            if isinstance(message.get("cache_control"), dict) and content:
                return role, _message_cache_control(_text_blocks(content), message)
            return role, content
        blocks = [openai_part_to_anthropic_block(part) for part in dicts(content)]
        return role, _message_cache_control([block for block in blocks if block], message)
    return role, None


def _as_blocks(content) -> list:
    return [{"type": "text", "text": content}] if isinstance(content, str) else content


def _keep_last_breakpoints(out: dict) -> None:
    """Anthropic takes at most MAX_CACHE_BREAKPOINTS cache_control marks (tools, then system,
    then messages, in prompt order); beyond that only the last ones are kept, as they cache the
    longest prefixes."""
    marked = [tool for tool in out.get("tools", ()) if "cache_control" in tool]
    if isinstance(out.get("system"), list):
        marked += [block for block in out["system"] if "cache_control" in block]
    for turn in out["messages"]:
        content = turn["content"]
        if content.__class__ is str:
            continue
        for block in content:
            if block["type"] == "tool_result" and block.get("content").__class__ is list:
                marked += [inner for inner in block["content"] if "cache_control" in inner]
            if "cache_control" in block:
                marked.append(block)
    for block in marked[:-MAX_CACHE_BREAKPOINTS]:
        del block["cache_control"]
