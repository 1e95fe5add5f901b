"""OpenAI Responses API (/v1/responses): request checks, usage, stream events, frames.

A Responses stream is a sequence of named events (`event: response.output_text.delta`), each
with a `type` equal to its name and a `sequence_number`; it ends with `response.completed`,
`response.incomplete` or `response.failed` (no `[DONE]`). An `error` event or a failed response
raises the GatewayError it means (an overload stays an overload).
"""
import time
from dataclasses import replace

import orjson

from ..errors import InvalidRequest, RateLimited, UpstreamError, UpstreamOverloaded
from ..gateway.pricing import Usage
from .checks_responses import (  # noqa: F401 - this format's checks
    check_compact_request,
    check_responses_request,
)
from .sse import KEEPALIVE_COMMENT, encode, json_object

TERMINAL_EVENTS = ("response.completed", "response.incomplete", "response.failed")
OUTPUT_EVENTS = ("response.output_text.delta", "response.function_call_arguments.delta",
                 "response.reasoning_summary_text.delta", "response.reasoning_text.delta",
                 "response.refusal.delta", "response.custom_tool_call_input.delta")
KEEPALIVE = KEEPALIVE_COMMENT


def usage_of(usage):
    """A Responses `usage` object as the gateway's Usage."""
    if not isinstance(usage, dict):
        return Usage()
    details = usage.get("input_tokens_details")
    cached = details.get("cached_tokens") if isinstance(details, dict) else 0
    return Usage(input_tokens=usage.get("input_tokens") or 0,
                 output_tokens=usage.get("output_tokens") or 0, cached_tokens=cached or 0)


# Codes of a Responses API error (a failed response's `error`, an `error` stream event), from
# OpenAI's API reference and what its servers send: an overload stays an overload, a rate limit a
# rate limit, a fault of the request the caller's; anything else (server_error, unknown) is the
# upstream's failure.
OVERLOAD_CODES = frozenset({"server_is_overloaded", "slow_down"})
OVERLOAD_STATUSES = (503, 529)
RATE_LIMIT_CODES = frozenset({"rate_limit_exceeded", "insufficient_quota"})
REQUEST_ERROR_CODES = frozenset({
    "invalid_prompt", "context_length_exceeded", "data_residency_mismatch", "bio_policy",
    "misalignment_policy_violation", "empty_image_file", "failed_to_download_image",
    "unsupported_image_media_type", "image_content_policy_violation", "image_file_not_found"})


def error_of(error, context="Upstream error mid-stream"):
    """The GatewayError a Responses error object means."""
    error = error if isinstance(error, dict) else {}
    code, kind = str(error.get("code") or ""), str(error.get("type") or "")
    message = f"{context}: {error.get('message') or code or 'the response failed'}"
    status = error.get("status") or error.get("http_status_code")
    if (code in OVERLOAD_CODES or "overloaded" in code or "overloaded" in kind
            or status in OVERLOAD_STATUSES):
        return UpstreamOverloaded(message)
    if code in RATE_LIMIT_CODES or kind in ("rate_limit_error", "tokens", "requests"):
        return RateLimited(message, retryable=True, upstream_status=429)
    if (code in REQUEST_ERROR_CODES or code.startswith(("invalid_", "image_"))
            or kind == "invalid_request_error"):
        param = error.get("param") if isinstance(error.get("param"), str) else None
        return InvalidRequest(message, param=param, code="upstream_invalid_request")
    return UpstreamError(message)


def error_of_event(name, data):
    """The GatewayError an `error` or `response.failed` event reports; None for other events.
    An `error` event holds code/message/param at its top level (the reference) or under `error`
    (as sent in practice); `response.failed` in `response.error`."""
    if not isinstance(data, dict):
        return None
    kind = data.get("type") or name
    if kind == "error":
        return error_of(data.get("error") if isinstance(data.get("error"), dict) else data)
    if kind == "response.failed":
        response = data.get("response") if isinstance(data.get("response"), dict) else {}
        return error_of(response.get("error"))
    return None


def events_of(upstream):
    """(SSE event, name, parsed data) of a native Responses stream, up to its terminal event; an
    `error` event or `response.failed` raises, and so does a stream cut before its end."""
    for event in upstream:
        data = json_object(event)
        name = data.get("type") or event.event
        error = error_of_event(name, data)
        if error is not None:
            raise error
        yield event, name, data
        if name in TERMINAL_EVENTS:
            return
    raise UpstreamError("The upstream stream ended before the answer was complete (no "
                        "response.completed).", code="upstream_stream_cut")


class StreamMeter:
    """Watches native Responses events: the first output's time, the final usage, and the output
    seen so far (for the usage of a stream cut before its end)."""

    def __init__(self):
        self.usage = None
        self.first_output_at = None
        self.output_chars = 0

    def observe(self, name, data):
        item = data.get("item")
        if name in OUTPUT_EVENTS or name == "response.output_item.added" and isinstance(
                item, dict) and item.get("type") in ("function_call", "custom_tool_call"):
            if self.first_output_at is None:
                self.first_output_at = time.perf_counter()
            delta = data.get("delta")
            if isinstance(delta, str):
                self.output_chars += len(delta)
        elif name in TERMINAL_EVENTS:
            response = data.get("response")
            if isinstance(response, dict) and isinstance(response.get("usage"), dict):
                self.usage = usage_of(response["usage"])

    def partial_usage(self, input_tokens):
        return replace(Usage(input_tokens=input_tokens), output_tokens=-(-self.output_chars // 4))


def passthrough_stream(events, meter, on_event=None):
    """Native Responses events out as they came in. on_event(name, data), when given, sees each
    (the stored-responses path keeps the final response)."""
    for event, name, data in events_of(events):
        meter.observe(name, data)
        if on_event is not None:
            on_event(name, data)
        yield encode(event.data, name)


def frame(name, data):
    return encode(orjson.dumps(data), name)


def ends_stream(frames):
    """Do these frames (one, or several joined) end the stream? A terminal event is the last
    one; JSON data holds no raw newline, so an event line can only be the SSE framing's."""
    return any(frames.startswith(line) or b"\n" + line in frames for line in _TERMINAL_LINES)


_TERMINAL_LINES = tuple(b"event: " + name.encode() + b"\n" for name in TERMINAL_EVENTS)


def error_frame(error, sequence_number=None):
    """An error after the stream began: an `error` event (the OpenAI SDK raises APIError on an
    event whose data has `error`; Codex and the Agents SDK read `message` and `code`)."""
    body = error.openai_body()["error"]
    data = {"type": "error", "code": body["code"], "message": body["message"],
            "param": body["param"], "error": body}
    if sequence_number is not None:
        data["sequence_number"] = sequence_number
    return frame("error", data)
