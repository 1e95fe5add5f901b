"""Reading and writing server-sent events, on bytes."""
from dataclasses import dataclass

import orjson

from ..errors import UpstreamError


@dataclass(frozen=True)
class SSEEvent:
    event: str | None
    data: bytes


def iter_events(chunks):
    """Yield SSEEvents from an iterable of byte chunks (any split, LF or CRLF line ends)."""
    buffer = b""
    event, data = None, []
    for chunk in chunks:
        buffer += chunk
        *lines, buffer = buffer.split(b"\n")
        for line in lines:
            if line.endswith(b"\r"):
                line = line[:-1]
            if not line:
                if data:
                    yield SSEEvent(event, b"\n".join(data))
                event, data = None, []
            elif line.startswith(b"data:"):
                data.append(line[6:] if line[5:6] == b" " else line[5:])
            elif line.startswith(b"event:"):
                event = line[6:].strip().decode()
            # comments (":") and other fields (id, retry) carry nothing a proxy needs
    if data:
        yield SSEEvent(event, b"\n".join(data))


def json_object(event):
    """The JSON object an upstream's event carries; anything else is the upstream's fault."""
    try:
        data = orjson.loads(event.data)
    except orjson.JSONDecodeError:
        data = None
    if not isinstance(data, dict):
        raise UpstreamError("Upstream sent a malformed stream event.",
                            code="upstream_bad_response")
    return data


def encode(data, event=None):
    """One SSE frame; data is bytes (already serialised JSON) and must not contain newlines."""
    if event is None:
        return b"data: " + data + b"\n\n"
    return b"event: " + event.encode() + b"\ndata: " + data + b"\n\n"


DONE = b"data: [DONE]\n\n"
KEEPALIVE_COMMENT = b": keep-alive\n\n"
