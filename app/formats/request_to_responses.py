"""OpenAI Chat Completions request → OpenAI Responses API request, for a vendor that speaks the
Responses API (`openai_responses`). Chat Completions is the pivot between formats, so Anthropic
clients reach such a vendor through request_to_openai.py and then this module.

The messages become `input` items (request_to_responses_input.py); the options map one to one
where Responses has the same knob under another name:

- `max_completion_tokens` (else `max_tokens`) → `max_output_tokens`; `reasoning_effort` →
  `reasoning.effort`; `response_format` → `text.format` (json_schema flattened: name, schema,
  strict, description); `verbosity` → `text.verbosity`; `logprobs: true` → `include:
  ["message.output_text.logprobs"]` with `top_logprobs`; `web_search_options` → a `web_search`
  tool (search_context_size, user_location); `stream_options.include_obfuscation` → the same.
- tools: function tools flattened (`{"type": "function", "name", "description", "parameters",
  "strict"}`), `strict` sent as false when absent (Chat's default; Responses would default to
  true); custom tools flattened too; a tool of another type goes as sent (the vendor decides).
  tool_choice "auto"/"none"/"required" as is, `{"type": "function", "function": {"name"}}` →
  `{"type": "function", "name"}` (custom and allowed_tools likewise flattened).
- passed as they are: temperature, top_p, parallel_tool_calls, metadata, user,
  safety_identifier, prompt_cache_key, prompt_cache_retention, prompt_cache_options,
  service_tier, moderation, stream.
- `store` is false unless the client sets it (OpenAI's Responses default is true: the gateway
  keeps nothing upstream a Chat client did not ask to keep). When nothing is stored and the model
  is a reasoning model, `include: ["reasoning.encrypted_content"]` asks for the reasoning items
  whole, so they can go back in the next turn (an item known only by id fails with 404 when
  store is false; non-reasoning models refuse the include with a 400, so it is not sent to them).
- `stream_options.include_usage`: no Responses field; usage always comes in response.completed.

Refused with a 400 naming the field (REFUSED_FIELDS; Responses has no way to honour them, and
dropping them would answer something else than what was asked): `n` > 1, `stop`, non-zero
`presence_penalty` / `frequency_penalty`, `seed`, a non-empty `logit_bias`, `top_k`, `audio`,
`modalities` with "audio", `prediction`, legacy `functions` / `function_call`; in messages,
role "function" and `input_audio` parts (request_to_responses_input.py).

Knowingly dropped: `cache_control` marks (OpenAI caches prompt prefixes by itself), a message's
`name`, `reasoning_content` without a reasoning item in `thinking_blocks` (see the input module).
"""
from .checks import refuse_unsupported
from .request_to_openai import is_reasoning_model
from .request_to_responses_input import messages_to_input
from .translate_blocks import dicts, empty_schema, obj

LOGPROBS_INCLUDE = "message.output_text.logprobs"
ENCRYPTED_REASONING_INCLUDE = "reasoning.encrypted_content"
PASSED_FIELDS = ("temperature", "top_p", "parallel_tool_calls", "metadata", "user",
                 "safety_identifier", "prompt_cache_key", "prompt_cache_retention",
                 "prompt_cache_options", "service_tier", "moderation", "top_logprobs")
REFUSED_FIELDS = ("n", "stop", "presence_penalty", "frequency_penalty", "seed", "logit_bias",
                  "top_k", "audio", "modalities", "prediction", "functions", "function_call")


def chat_to_responses_request(body: dict, model: str) -> dict:
    """A checked Chat Completions request → a Responses API request for model.
    InvalidRequest (400, param naming the field) for what Responses cannot honour."""
    refuse_unhonourable(body)
    instructions, items = messages_to_input(dicts(body.get("messages")))
    out = {"model": model, "input": items}
    if instructions:
        out["instructions"] = instructions
    for name in PASSED_FIELDS:
        if body.get(name) is not None:
            out[name] = body[name]
    tools = [_tool(tool) for tool in dicts(body.get("tools"))]
    if (search := _web_search_tool(body.get("web_search_options"))) is not None:
        tools.append(search)
    if tools:
        out["tools"] = tools
    if (choice := tool_choice_to_responses(body.get("tool_choice"))) is not None:
        out["tool_choice"] = choice
    max_tokens = body.get("max_completion_tokens") or body.get("max_tokens")
    if max_tokens is not None:
        out["max_output_tokens"] = max_tokens
    if isinstance(body.get("reasoning_effort"), str):
        out["reasoning"] = {"effort": body["reasoning_effort"]}
    text = {}
    if (text_format := response_format_to_text_format(body.get("response_format"))) is not None:
        text["format"] = text_format
    if body.get("verbosity") is not None:
        text["verbosity"] = body["verbosity"]
    if text:
        out["text"] = text
    out["store"] = body.get("store") is True
    include = []
    if body.get("logprobs") is True:
        include.append(LOGPROBS_INCLUDE)
    if not out["store"] and (is_reasoning_model(model) and "-chat" not in model
                             or "reasoning" in out):
        include.append(ENCRYPTED_REASONING_INCLUDE)
    if include:
        out["include"] = include
    if body.get("stream") is True:
        out["stream"] = True
        options = obj(body.get("stream_options"))
        if options.get("include_obfuscation") is not None:
            out["stream_options"] = {"include_obfuscation": options["include_obfuscation"]}
    return out


def refuse_unhonourable(body: dict) -> None:
    """400 for Chat Completions options the Responses API has no field for, when they ask for
    something (n: 1, a zero penalty, modalities ["text"] ask for nothing and pass)."""
    def number(name):
        value = body.get(name)
        return isinstance(value, (int, float)) and not isinstance(value, bool) and value != 0

    reasons = (
        ("n", isinstance(body.get("n"), int) and body["n"] > 1,
         "the Responses API answers with one output only; send n: 1 (or leave it out)"),
        ("stop", bool(body.get("stop")), "the Responses API has no stop sequences"),
        ("presence_penalty", number("presence_penalty"),
         "the Responses API has no presence penalty"),
        ("frequency_penalty", number("frequency_penalty"),
         "the Responses API has no frequency penalty"),
        ("seed", body.get("seed") is not None, "the Responses API takes no seed"),
        ("logit_bias", bool(body.get("logit_bias")), "the Responses API takes no logit bias"),
        ("top_k", body.get("top_k") is not None, "the Responses API takes no top_k"),
        ("audio", body.get("audio") is not None, "the Responses API does not answer with audio"),
        ("modalities", isinstance(body.get("modalities"), list) and "audio" in body["modalities"],
         "the Responses API does not answer with audio"),
        ("prediction", body.get("prediction") is not None,
         "the Responses API takes no predicted output"),
        ("functions", bool(body.get("functions")),
         "legacy functions are not translated; send them as `tools` of type function"),
        ("function_call", body.get("function_call") is not None,
         "legacy function_call is not translated; send `tool_choice`"),
    )
    refuse_unsupported(reasons, "this model is served by a Responses API vendor")


def _tool(tool: dict) -> dict:
    """A Chat tool in the Responses form: function and custom tools flattened."""
    kind = tool.get("type")
    inner = tool.get(kind) if kind in ("function", "custom") else None
    if not isinstance(inner, dict):
        return {k: v for k, v in tool.items() if k != "cache_control"}
    out = {"type": kind, "name": inner.get("name")}
    if inner.get("description"):
        out["description"] = inner["description"]
    if kind == "function":
        parameters = inner.get("parameters")
        out["parameters"] = parameters if isinstance(parameters, dict) else empty_schema()
        out["strict"] = inner.get("strict") is True
    elif inner.get("format") is not None:
        out["format"] = inner["format"]
    return out


def _web_search_tool(options) -> dict | None:
    """Chat's web_search_options as the Responses web_search tool."""
    if not isinstance(options, dict):
        return None
    tool = {"type": "web_search"}
    if options.get("search_context_size") is not None:
        tool["search_context_size"] = options["search_context_size"]
    location = obj(options.get("user_location"))
    approximate = obj(location.get("approximate"))
    if approximate:
        tool["user_location"] = {"type": "approximate", **approximate}
    return tool


def tool_choice_to_responses(choice):
    """Chat tool_choice → the Responses form (None when absent)."""
    if not isinstance(choice, dict):
        return choice
    kind = choice.get("type")
    if kind in ("function", "custom") and isinstance(choice.get(kind), dict):
        return {"type": kind, "name": choice[kind].get("name")}
    if kind == "allowed_tools" and isinstance(choice.get("allowed_tools"), dict):
        allowed = choice["allowed_tools"]
        refs = []
        for ref in dicts(allowed.get("tools")):
            inner = ref.get(ref.get("type"))
            refs.append({"type": ref.get("type"), "name": inner.get("name")}
                        if isinstance(inner, dict) else ref)
        return {"type": "allowed_tools", "mode": allowed.get("mode", "auto"), "tools": refs}
    return choice


def response_format_to_text_format(response_format) -> dict | None:
    """Chat response_format → Responses text.format (None when absent)."""
    if not isinstance(response_format, dict):
        return None
    if response_format.get("type") != "json_schema":
        return {"type": response_format.get("type")}
    spec = obj(response_format.get("json_schema"))
    out = {"type": "json_schema", "name": spec.get("name")}
    for name in ("schema", "description", "strict"):
        if spec.get(name) is not None:
            out[name] = spec[name]
    return out
