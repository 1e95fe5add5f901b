"""Anthropic Messages: request checks, usage, stream meter and frames."""
import time

import orjson

from ..errors import UpstreamError, UpstreamOverloaded
from ..gateway.pricing import Usage
from .checks import check_messages, require_positive_int, require_type
from .sse import encode

ROLES = ("user", "assistant")
OUTPUT_EVENTS = ("content_block_start", "content_block_delta")


def check_messages_request(body, *, count_tokens=False):
    """Raise InvalidRequest naming the first malformed field."""
    require_type(body, "model", str, "a string", required=True)
    check_messages(require_type(body, "messages", list, "an array", required=True), ROLES)
    if not count_tokens:
        require_positive_int(body, "max_tokens", required=True)
    require_type(body, "system", (str, list), "a string or an array of text blocks")
    require_type(body, "stream", bool, "a boolean")
    for name in ("temperature", "top_p"):
        require_type(body, name, (int, float), "a number")
    require_type(body, "top_k", int, "an integer")
    require_type(body, "stop_sequences", list, "an array of strings")
    require_type(body, "tools", list, "an array")
    for name in ("tool_choice", "metadata", "thinking"):
        require_type(body, name, dict, "an object")


def usage_of(usage):
    """Usage from an Anthropic usage object: input_tokens there excludes cache reads and writes."""
    usage = usage or {}
    cached = usage.get("cache_read_input_tokens") or 0
    written = usage.get("cache_creation_input_tokens") or 0
    return Usage(input_tokens=(usage.get("input_tokens") or 0) + cached + written,
                 output_tokens=usage.get("output_tokens") or 0,
                 cached_tokens=cached, cache_write_tokens=written)


class StreamMeter:
    """Watches native Anthropic events: the first output's time and the running usage."""

    def __init__(self):
        self._usage = {}
        self.first_output_at = None

    @property
    def usage(self):
        return usage_of(self._usage) if self._usage else None

    def observe(self, event, data):
        kind = data.get("type", event)
        if kind == "message_start":
            self._usage.update((data.get("message") or {}).get("usage") or {})
        elif kind == "message_delta":
            self._usage.update({k: v for k, v in (data.get("usage") or {}).items()
                                if v is not None})
        elif kind in OUTPUT_EVENTS and self.first_output_at is None:
            self.first_output_at = time.perf_counter()


def parse_event(event):
    try:
        data = orjson.loads(event.data)
    except orjson.JSONDecodeError:
        raise UpstreamError("Upstream sent a malformed stream event.",
                            code="upstream_bad_response") from None
    if data.get("type", event.event) == "error":
        error = data.get("error") or {}
        cls = UpstreamOverloaded if error.get("type") == "overloaded_error" else UpstreamError
        raise cls(f"Upstream error mid-stream: {error.get('message')}")
    return data


def passthrough_stream(events, meter):
    """Native Anthropic events out as they came in (no [DONE] on Anthropic streams)."""
    for event in events:
        data = parse_event(event)
        name = event.event or data.get("type")
        meter.observe(name, data)
        yield encode(event.data, name)


def frame(name, data):
    return encode(orjson.dumps(data), name)


PING = frame("ping", {"type": "ping"})


def error_frame(error):
    """An error after the stream began, as Anthropic streams carry it."""
    return frame("error", error.anthropic_body())
