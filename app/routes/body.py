"""Reading a request body: at most MAX_REQUEST_BYTES, into one bytes object, within the worker's
budget of request bodies in flight (MAX_BODY_BYTES_IN_FLIGHT).

A body with a Content-Length is read with one read of exactly that length (the WSGI servers
fill one bytes object, nothing is joined or copied); a chunked body (no Content-Length) is read
piece by piece and answered 413 as soon as it passes the limit, like a Content-Length over it —
never cut at the limit.

The budget: from the read until the route has its answer (for a stream, until the stream
starts), a request holds its body — the bytes read, then the object parsed from them, then the
JSON sent upstream (app/vendors/sdk.py lets it go once sent) — about twice its size at most for
text. A worker holds at most MAX_BODY_BYTES_IN_FLIGHT of bodies at once: a body that would go
over is answered 503 with retry-after without being read, and one that could never fit alone
413.
"""
import threading

from flask import after_this_request, current_app, request

from ..errors import GatewayError, InvalidRequest, RequestTooLarge

PIECE = 64 * 1024  # a chunked body is read this much at a time
STEP = 1024 * 1024  # and taken from the budget this much at a time
RETRY_AFTER = "1"
DEFAULT_BUDGET = 256 * 1024 * 1024


class IncompleteBody(OSError):
    """The client closed its side before sending all of its Content-Length."""


class BodyBudgetExceeded(GatewayError):
    """503: the worker already holds as many request bodies as it may; retry shortly."""

    status = 503
    anthropic_type = "overloaded_error"
    code = "body_budget_exceeded"


class BodyBudget:
    """Bytes of request bodies one worker holds at once."""

    def __init__(self, limit):
        self.limit = limit
        self.held = 0
        self._lock = threading.Lock()

    def lease(self, size):
        lease = Lease(self)
        lease.grow(size)
        return lease

    def _take(self, size):
        if size > self.limit:
            raise RequestTooLarge(f"Request body exceeds the {self.limit} bytes of request "
                                  "bodies this gateway holds at once.")
        with self._lock:
            if self.held + size > self.limit:
                raise BodyBudgetExceeded(
                    "The gateway holds as many request bodies as it may at the moment; retry "
                    "shortly.", headers={"retry-after": RETRY_AFTER})
            self.held += size

    def _give(self, size):
        with self._lock:
            self.held -= size


class Lease:
    """A request's share of the budget; release() (idempotent) gives it back."""

    def __init__(self, budget):
        self.budget, self.size = budget, 0

    def grow(self, size):
        if self.budget is None:
            raise RuntimeError("released lease")
        self.budget._take(size)
        self.size += size

    def release(self, response=None):
        budget, self.budget = self.budget, None
        if budget is not None:
            budget._give(self.size)
        return response


def budget(app):
    """The app's (that is, the worker's) BodyBudget."""
    found = app.extensions.get("body_budget")
    if found is None:
        limit = app.config.get("MAX_BODY_BYTES_IN_FLIGHT", DEFAULT_BUDGET)
        found = app.extensions.setdefault("body_budget", BodyBudget(limit))
    return found


def read_body():
    """The request body as bytes (b"" when there is none); GatewayError 413 over
    MAX_REQUEST_BYTES, 503 over the worker's budget, 408 or 400 when the client does not send
    all of it (then the connection is closed)."""
    limit = current_app.config["MAX_REQUEST_BYTES"]
    environ = request.environ
    length = request.content_length
    chunked = (length is None and environ.get("wsgi.input_terminated")
               and "chunked" in environ.get("HTTP_TRANSFER_ENCODING", "").lower())
    if length is None and not chunked:
        return b""
    if length is not None and length > limit:
        raise too_large(limit)
    lease = budget(current_app).lease(length or 0)
    after_this_request(lease.release)
    stream = environ["wsgi.input"]
    try:
        if chunked:
            return _read_chunked(stream, limit, lease)
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


def _read_chunked(stream, limit, lease):
    parts, got = [], 0
    while piece := stream.read(PIECE):
        got += len(piece)
        if got > limit:
            raise too_large(limit)
        if got > lease.size:
            lease.grow(max(STEP, got - lease.size))
        parts.append(piece)
    return b"".join(parts)
