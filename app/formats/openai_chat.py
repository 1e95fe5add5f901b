"""OpenAI Chat Completions (and Embeddings): request checks, usage, stream-chunk helpers."""
import time

import orjson

from ..errors import InvalidRequest
from ..gateway.pricing import Usage

ROLES = ("system", "developer", "user", "assistant", "tool", "function")


def _bad(message, param):
    return InvalidRequest(message, param=param, code="invalid_value")


def _check_type(body, name, kinds, label, *, required=False):
    value = body.get(name)
    kinds = kinds if isinstance(kinds, tuple) else (kinds,)
    if value is None:
        if required:
            raise InvalidRequest(f"Missing required parameter: '{name}'.", param=name,
                                 code="missing_required_parameter")
        return None
    if isinstance(value, bool) and bool not in kinds or not isinstance(value, kinds):
        raise _bad(f"Invalid type for '{name}': expected {label}, got {type(value).__name__}.",
                   name)
    return value


def check_chat_request(body):
    """Raise InvalidRequest naming the first malformed field; the rest is the vendor's call."""
    _check_type(body, "model", str, "a string", required=True)
    messages = _check_type(body, "messages", list, "an array", required=True)
    if not messages:
        raise _bad("'messages' must contain at least one message.", "messages")
    for i, message in enumerate(messages):
        if not isinstance(message, dict):
            raise _bad(f"Invalid type for 'messages[{i}]': expected an object.", f"messages[{i}]")
        role = message.get("role")
        if role not in ROLES:
            raise _bad(f"Invalid value for 'messages[{i}].role': expected one of "
                       f"{', '.join(ROLES)}, got {role!r}.", f"messages[{i}].role")
        content = message.get("content")
        if content is not None and not isinstance(content, (str, list)):
            raise _bad(f"Invalid type for 'messages[{i}].content': expected a string or an "
                       "array of content parts.", f"messages[{i}].content")
    _check_type(body, "stream", bool, "a boolean")
    _check_type(body, "stream_options", dict, "an object")
    for name in ("max_tokens", "max_completion_tokens", "n"):
        value = _check_type(body, name, int, "an integer")
        if value is not None and value < 1:
            raise _bad(f"Invalid value for '{name}': must be at least 1.", name)
    for name in ("temperature", "top_p", "presence_penalty", "frequency_penalty"):
        _check_type(body, name, (int, float), "a number")
    _check_type(body, "tools", list, "an array")
    _check_type(body, "stop", (str, list), "a string or an array")


def check_embeddings_request(body):
    _check_type(body, "model", str, "a string", required=True)
    value = _check_type(body, "input", (str, list), "a string or an array", required=True)
    if value == [] or value == "":
        raise _bad("'input' must not be empty.", "input")
    _check_type(body, "dimensions", int, "an integer")


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
    """Watches native OpenAI chunks: the first output's time and the final usage."""

    def __init__(self):
        self.usage = None
        self.first_output_at = None

    def observe(self, chunk):
        if self.first_output_at is None and has_output(chunk):
            self.first_output_at = time.perf_counter()
        if chunk.get("usage"):
            self.usage = usage_of(chunk)


def error_frame(error):
    """An error after the stream began, as OpenAI streams carry it (the SDK raises APIError)."""
    return b"data: " + orjson.dumps(error.openai_body()) + b"\n\ndata: [DONE]\n\n"


def passthrough_stream(events, meter, client_wants_usage):
    """Native OpenAI chunks out as they came in; the usage-only chunk only when the client asked
    for it (the gateway always asks the upstream). Ends with [DONE]."""
    from ..errors import UpstreamError
    from .sse import DONE, encode

    for event in events:
        if event.data == b"[DONE]":
            break
        try:
            chunk = orjson.loads(event.data)
        except orjson.JSONDecodeError:
            raise UpstreamError("Upstream sent a malformed stream chunk.",
                                code="upstream_bad_response") from None
        if "error" in chunk:
            raise UpstreamError(f"Upstream error mid-stream: {chunk['error'].get('message')}")
        meter.observe(chunk)
        if client_wants_usage or not is_usage_only(chunk):
            yield encode(event.data)
    yield DONE
