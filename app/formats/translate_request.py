"""Requests between Anthropic Messages and OpenAI Chat Completions, as plain dicts.

request_to_openai.py translates Anthropic → OpenAI, request_to_anthropic.py OpenAI → Anthropic,
structured_output.py `output_config.format` ⇄ `response_format`; this module names the public
functions and says what they decide. The caller has validated the body in its own format and
chosen the upstream model. Only fields with a mapping are read: any other top-level field
(unknown or vendor extension) is not forwarded.

Anthropic → OpenAI, knowingly dropped:
- `cache_control` on system, blocks and tools: OpenAI caches prompt prefixes by itself.
- server/built-in tools (any `type` but "custom": web_search_*, bash_*, text_editor_*, ...): they
  run inside Anthropic's API; `tool_choice` and parallelism go too when no tool is left.
- tool `strict` (OpenAI strict mode imposes its own schema rules, a 400 risk) and other tool extras.
- `top_k` unless allow_top_k (vLLM-style servers accept it, api.openai.com rejects it).
- `thinking` for non-reasoning models; `temperature` / `top_p` for reasoning models (o1/o3/o4/
  gpt-5 reject non-default sampling). Adaptive or disabled thinking maps to nothing;
  `output_config.effort` neither.
- documents with a `url`/`file` source, images with a `file` source (no Chat Completions form);
  document `citations`/`context`; unknown block types (search_result, server tool results).
- `metadata` other than `user_id`; a user_id over 64 characters goes as its SHA-256 hex digest,
  since OpenAI limits `user` to 64 characters.
- DROPPED_ANTHROPIC_FIELDS: top-level fields with no Chat Completions equivalent.

OpenAI → Anthropic, knowingly dropped:
- DROPPED_OPENAI_FIELDS: sampling hints Anthropic lacks (penalties, logit_bias, seed,
  verbosity, prediction), OpenAI-side storage/caching/routing/moderation options, `metadata`,
  `stream_options` (Anthropic streams always report usage), `function_call` and role
  "function" messages (legacy); also REFUSED_OPENAI_FIELDS when they ask for nothing (n: 1,
  logprobs: false, modalities: ["text"], ...).
- `reasoning_content` without `thinking_blocks` (Anthropic rejects unsigned thinking).
- file parts with a `file_id` or not a PDF data URI (Chat Completions files are PDFs);
  `input_audio` parts; tools of a type other than "function"; in a tool message, parts other
  than text, images and PDFs.
- `temperature`, `top_p`, `top_k` when thinking is on (Anthropic forbids them with thinking), and
  thinking itself when tool_choice forces a tool (Anthropic forbids that combination).
- `response_format.json_schema` `name`, `description`, `strict` (see structured_output.py).

OpenAI → Anthropic, refused with a 400 naming the field (REFUSED_OPENAI_FIELDS; the answer would
not be what was asked): `n` > 1, `logprobs: true`, `top_logprobs` > 0, `modalities` with
"audio", `audio`, legacy `functions`, `web_search_options`; `response_format` json_object, or a
schema allowing properties beyond those it lists (structured_output.py).

Decisions:
- Anthropic system text blocks become ONE system message whose string joins them with blank
  lines; a mid-conversation `{"role": "system"}` message (Claude Code sends them, beta
  mid-conversation-system-2026-04-07) becomes an OpenAI system message in the same place.
  Back: every system/developer message, also one in mid-conversation, is merged into `system`
  in order (only some Anthropic models take a mid-conversation system turn); one block without
  cache_control → a string.
- tool_result: one tool message each, before the rest of that user turn; its text joined with
  "\n"; is_error → "Error: " prefix (not parsed back); its images/PDFs open the user message that
  follows. A PDF without a title gets filename "document.pdf" (filename ⇄ title).
  Back: tool messages and the user messages after them merge into one user turn, tool_result
  blocks first (a tool message's text, image and PDF parts become the tool_result's content);
  any consecutive same-role messages merge; empty messages are skipped.
- `cache_control` of OpenAI clients (LiteLLM's convention, also LangChain's): on a content part
  → on its block; on a message → on the message's last block (a string content becomes a text
  block); on a tool (top level) → on the Anthropic tool. Anthropic takes at most 4: beyond that
  only the last 4 in prompt order (tools, system, messages) are kept, since they cache the
  longest prefixes.
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
from .request_to_anthropic import (
    EFFORT_BUDGETS,
    MAX_CACHE_BREAKPOINTS,
    MIN_THINKING_BUDGET,
    openai_to_anthropic_request,
)
from .request_to_openai import REASONING_MODEL_PREFIXES, anthropic_to_openai_request

__all__ = [
    "DROPPED_ANTHROPIC_FIELDS", "DROPPED_OPENAI_FIELDS", "EFFORT_BUDGETS",
    "MAX_CACHE_BREAKPOINTS", "MIN_THINKING_BUDGET", "REASONING_MODEL_PREFIXES",
    "REFUSED_OPENAI_FIELDS", "anthropic_to_openai_request", "openai_to_anthropic_request",
]

DROPPED_ANTHROPIC_FIELDS = (
    "cache_control", "container", "context_management", "diagnostics", "inference_geo",
    "mcp_servers", "service_tier", "speed", "user_profile_id", "workspace_id",
)
DROPPED_OPENAI_FIELDS = (
    "frequency_penalty", "function_call", "logit_bias", "metadata", "moderation", "prediction",
    "presence_penalty", "prompt_cache_key", "prompt_cache_options", "prompt_cache_retention",
    "seed", "service_tier", "store", "stream_options", "verbosity",
)
REFUSED_OPENAI_FIELDS = ("n", "logprobs", "top_logprobs", "modalities", "audio", "functions",
                         "web_search_options")
