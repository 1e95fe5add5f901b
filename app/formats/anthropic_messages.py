"""Anthropic Messages: request checks, usage, stream meter and frames."""
import time
from dataclasses import replace

import orjson

from ..errors import UpstreamError, UpstreamOverloaded
from ..gateway.pricing import Usage
from .checks import MAX_INTEGER, require_int, require_positive_int, require_type
from .checks_anthropic import (
    check_anthropic_messages,
    check_options,
    check_system,
    check_tool_choice,
    check_tools,
)
from .sse import encode, json_object

OUTPUT_EVENTS = ("content_block_start", "content_block_delta")


def check_messages_request(body, *, count_tokens=False):
    """Raise InvalidRequest naming the first malformed field the gateway reads or translates;
    the rest is the vendor's call (checks_anthropic.py says what is checked)."""
    require_type(body, "model", str, "a string", required=True)
    check_anthropic_messages(body)
    if not count_tokens:
        require_positive_int(body, "max_tokens", required=True)
    check_system(body)
    require_type(body, "stream", bool, "a boolean")
    for name in ("temperature", "top_p"):
        require_type(body, name, (int, float), "a number")
    require_int(body, "top_k", -MAX_INTEGER - 1)
    check_tools(body)
    check_tool_choice(body)
    check_options(body)


def usage_of(usage):
    """Usage from an Anthropic usage object: input_tokens there excludes cache reads and writes."""
    usage = usage or {}
    cached = usage.get("cache_read_input_tokens") or 0
    written = usage.get("cache_creation_input_tokens") or 0
    return Usage(input_tokens=(usage.get("input_tokens") or 0) + cached + written,
                 output_tokens=usage.get("output_tokens") or 0,
                 cached_tokens=cached, cache_write_tokens=written)


DELTA_TEXT = ("text", "thinking", "partial_json")


class StreamMeter:
    """Watches native Anthropic events: the first output's time, the running usage, and the
    output seen so far (for the usage of a stream cut before its final message_delta)."""

    def __init__(self):
        self._usage = {}
        self.first_output_at = None
        self.output_chars = 0
        self.complete = False  # the final message_delta (cumulative usage) arrived

    @property
    def usage(self):
        return usage_of(self._usage) if self._usage and self.complete else None

    def observe(self, event, data):
        kind = data.get("type", event)
        if kind == "message_start":
            message = data.get("message")
            usage = message.get("usage") if isinstance(message, dict) else None
            if isinstance(usage, dict):
                self._usage.update(usage)
        elif kind == "message_delta":
            usage = data.get("usage")
            if isinstance(usage, dict):
                self._usage.update({k: v for k, v in usage.items() if v is not None})
                self.complete = True
        elif kind in OUTPUT_EVENTS:
            if self.first_output_at is None:
                self.first_output_at = time.perf_counter()
            delta = data.get("delta")
            if isinstance(delta, dict):
                self.output_chars += sum(len(delta[k]) for k in DELTA_TEXT
                                         if isinstance(delta.get(k), str))

    def partial_usage(self, input_tokens):
        """The usage of a stream that ended without its final usage: message_start's input
        count (else the estimate given) and at least the output seen."""
        usage = usage_of(self._usage) if self._usage else Usage(input_tokens=input_tokens)
        return replace(usage, output_tokens=max(usage.output_tokens,
                                                -(-self.output_chars // 4)))


def parse_event(event):
    data = json_object(event)
    if data.get("type", event.event) == "error":
        error = data.get("error") or {}
        cls = UpstreamOverloaded if error.get("type") == "overloaded_error" else UpstreamError
        raise cls(f"Upstream error mid-stream: {error.get('message')}")
    return data


def events_of(upstream):
    """(event name, parsed data) of a native Anthropic stream; an error event raises, and so
    does a stream that ends without message_stop (it was cut)."""
    for event in upstream:
        data = parse_event(event)
        name = event.event or data.get("type")
        yield event, name, data
        if name == "message_stop":
            return
    raise UpstreamError("The upstream stream ended before the answer was complete (no "
                        "message_stop).", code="upstream_stream_cut")


def passthrough_stream(events, meter):
    """Native Anthropic events out as they came in (no [DONE] on Anthropic streams)."""
    for event, name, data in events_of(events):
        meter.observe(name, data)
        yield encode(event.data, name)


def frame(name, data):
    return encode(orjson.dumps(data), name)


PING = frame("ping", {"type": "ping"})


def ends_stream(frames):
    """Do these frames (one, or several joined) end the stream? message_stop is the last event
    (its data is a few dozen bytes)."""
    return b"event: message_stop\n" in frames[-256:]


def error_frame(error):
    """An error after the stream began, as Anthropic streams carry it."""
    return frame("error", error.anthropic_body())
