"""Reading a request body: at most MAX_REQUEST_BYTES, into one bytes object.

A body with a Content-Length is read with one read of exactly that length (the WSGI servers
fill one bytes object, nothing is joined or copied); a chunked body (no Content-Length) is read
piece by piece and answered 413 as soon as it passes the limit, like a Content-Length over it —
never cut at the limit.
"""
from flask import current_app, request

from ..errors import InvalidRequest, RequestTooLarge

PIECE = 64 * 1024  # a chunked body is read this much at a time


class IncompleteBody(OSError):
    """The client closed its side before sending all of its Content-Length."""


def read_body():
    """The request body as bytes (b"" when there is none); GatewayError 413 over
    MAX_REQUEST_BYTES, 408 or 400 when the client does not send all of it (then the connection
    is closed)."""
    limit = current_app.config["MAX_REQUEST_BYTES"]
    environ = request.environ
    length = request.content_length
    chunked = (length is None and environ.get("wsgi.input_terminated")
               and "chunked" in environ.get("HTTP_TRANSFER_ENCODING", "").lower())
    if length is None and not chunked:
        return b""
    if length is not None and length > limit:
        raise too_large(limit)
    stream = environ["wsgi.input"]
    try:
        if chunked:
            return _read_chunked(stream, limit)
        return _read_exactly(stream, length)
    except (OSError, ValueError) as exc:
        raise unreadable(exc) from None


def too_large(limit):
    return RequestTooLarge(f"Request body exceeds the limit of {limit} bytes.")


def unreadable(exc):
    close = {"Connection": "close"}
    if isinstance(exc, TimeoutError):
        return InvalidRequest("The request body was not received in time.", status=408,
                              code="request_timeout", headers=close)
    return InvalidRequest(f"The request body could not be read whole: {exc}",
                          code="incomplete_body", headers=close)


def _read_exactly(stream, length):
    data = stream.read(length)
    if len(data) == length:
        return data
    parts, got = [data], len(data)  # a WSGI input may return less than asked for
    while got < length:
        piece = stream.read(length - got)
        if not piece:
            raise IncompleteBody(f"{got} of {length} bytes received")
        parts.append(piece)
        got += len(piece)
    return b"".join(parts)


def _read_chunked(stream, limit):
    parts, got = [], 0
    while piece := stream.read(PIECE):
        got += len(piece)
        if got > limit:
            raise too_large(limit)
        parts.append(piece)
    return b"".join(parts)
