"""OpenAI Chat Completions (and Embeddings): request checks, usage, stream-chunk helpers."""
import time

import orjson

from ..errors import UpstreamError, UpstreamOverloaded
from ..gateway.pricing import Usage
from .checks import MAX_INTEGER, field, require_int, require_positive_int, require_type
from .checks_openai import (
    check_chat_messages,
    check_embeddings_input,
    check_response_format,
    check_stop,
    check_tool_choice,
    check_tools,
)
from .sse import DONE, KEEPALIVE_COMMENT, encode


def check_chat_request(body):
    """Raise InvalidRequest naming the first malformed field the gateway reads or translates;
    the rest is the vendor's call (checks_openai.py says what is checked)."""
    require_type(body, "model", str, "a string", required=True)
    check_chat_messages(body)
    require_type(body, "stream", bool, "a boolean")
    options = require_type(body, "stream_options", dict, "an object")
    if options is not None:
        field(options, "include_usage", bool, where="stream_options")
    for name in ("max_tokens", "max_completion_tokens", "n"):
        require_positive_int(body, name)
    for name in ("temperature", "top_p", "presence_penalty", "frequency_penalty"):
        require_type(body, name, (int, float), "a number")
    require_int(body, "top_k", -MAX_INTEGER - 1)
    for name in ("user", "safety_identifier", "reasoning_effort"):
        require_type(body, name, str, "a string")
    for name in ("parallel_tool_calls", "logprobs"):
        require_type(body, name, bool, "a boolean")
    require_int(body, "top_logprobs", 0)
    check_stop(body)
    check_response_format(body)
    check_tools(body)
    check_tool_choice(body)


def check_embeddings_request(body):
    require_type(body, "model", str, "a string", required=True)
    check_embeddings_input(body)
    require_positive_int(body, "dimensions")
    for name in ("encoding_format", "user"):
        require_type(body, name, str, "a string")


def usage_of(data):
    usage = data.get("usage") or {}
    details = usage.get("prompt_tokens_details") or {}
    return Usage(input_tokens=usage.get("prompt_tokens") or 0,
                 output_tokens=usage.get("completion_tokens") or 0,
                 cached_tokens=details.get("cached_tokens") or 0)


def wants_usage(body):
    options = body.get("stream_options") or {}
    return options.get("include_usage") is True


def with_usage_requested(body):
    """The upstream body of a streamed request: always ask for the final usage chunk."""
    return {**body, "stream_options": {**(body.get("stream_options") or {}), "include_usage": True}}


def is_usage_only(chunk):
    return not chunk.get("choices") and chunk.get("usage") is not None


def has_output(chunk):
    for choice in chunk.get("choices") or ():
        delta = choice.get("delta") or {}
        if (delta.get("content") or delta.get("tool_calls") or delta.get("reasoning_content")
                or delta.get("refusal") or choice.get("finish_reason")):
            return True
    return False


class StreamMeter:
    """Watches native OpenAI chunks: the first output's time, the final usage, and the output
    seen so far (for the usage of a stream cut before its usage chunk)."""

    def __init__(self):
        self.usage = None
        self.first_output_at = None
        self.output_chars = 0

    def observe(self, chunk):
        if self.first_output_at is None and has_output(chunk):
            self.first_output_at = time.perf_counter()
        if isinstance(chunk.get("usage"), dict):
            self.usage = usage_of(chunk)
        for choice in chunk.get("choices") or ():
            delta = choice.get("delta") if isinstance(choice, dict) else None
            if isinstance(delta, dict):
                self.output_chars += output_chars(delta)

    def partial_usage(self, input_tokens):
        """The usage of a stream that ended without its own: what it was sent and received."""
        return Usage(input_tokens=input_tokens, output_tokens=-(-self.output_chars // 4))


def output_chars(delta):
    """Characters of text, reasoning and tool arguments in one streamed delta."""
    total = 0
    for key in ("content", "reasoning_content", "refusal"):
        if isinstance(delta.get(key), str):
            total += len(delta[key])
    for call in delta.get("tool_calls") or ():
        function = call.get("function") if isinstance(call, dict) else None
        if isinstance(function, dict) and isinstance(function.get("arguments"), str):
            total += len(function["arguments"])
    return total


KEEPALIVE = KEEPALIVE_COMMENT


def ends_stream(frames):
    """Do these frames (one, or several joined) end the stream?"""
    return frames.endswith(DONE)


def error_frame(error):
    """An error after the stream began, as OpenAI streams carry it (the SDK raises APIError)."""
    return b"data: " + orjson.dumps(error.openai_body()) + b"\n\ndata: [DONE]\n\n"


def chunks(events):
    """Parsed chunks of a native OpenAI stream, up to [DONE]; an error object raises, and so
    does a stream that ends with neither [DONE] nor a finish_reason (it was cut)."""
    finished = False
    for event in events:
        if event.data == b"[DONE]":
            return
        try:
            chunk = orjson.loads(event.data)
        except orjson.JSONDecodeError:
            raise UpstreamError("Upstream sent a malformed stream chunk.",
                                code="upstream_bad_response") from None
        if not isinstance(chunk, dict):
            raise UpstreamError("Upstream sent a malformed stream chunk.",
                                code="upstream_bad_response")
        if "error" in chunk:
            error = chunk["error"] if isinstance(chunk["error"], dict) else {}
            overloaded = any("overloaded" in str(error.get(k) or "") for k in ("type", "code"))
            cls = UpstreamOverloaded if overloaded else UpstreamError
            raise cls(f"Upstream error mid-stream: {error.get('message')}")
        finished = finished or any(isinstance(c, dict) and c.get("finish_reason")
                                   for c in chunk.get("choices") or ())
        yield event, chunk
    if not finished:
        raise UpstreamError("The upstream stream ended before the answer was complete (no "
                            "finish_reason, no [DONE]).", code="upstream_stream_cut")


def translated(events, meter, translator):
    """The events `translator` makes of a vendor's chunks (metered): start(chunk) before each
    chunk's feed (it acts on the first, which names the model), and start() at the end for a
    stream without chunks."""
    for _, chunk in chunks(events):
        yield from translator.start(chunk)
        meter.observe(chunk)
        yield from translator.feed(chunk)
    yield from translator.start()


def passthrough_stream(events, meter, client_wants_usage):
    """Native OpenAI chunks out as they came in; the usage-only chunk only when the client asked
    for it (the gateway always asks the upstream). Ends with [DONE]."""
    for event, chunk in chunks(events):
        meter.observe(chunk)
        if client_wants_usage or not is_usage_only(chunk):
            yield encode(event.data)
    yield DONE
