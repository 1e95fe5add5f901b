"""The interface every vendor handler implements (strategy pattern), and what calls return."""
from dataclasses import dataclass, field

from ..errors import InvalidRequest


@dataclass(frozen=True)
class Call:
    """How one attempt reaches the upstream."""
    key: int | None = None  # index into provider.api_keys; None: the handler takes turns
    deadline: float | None = None  # time.monotonic() by which the answer must have started
    traceparent: str | None = None  # W3C trace context sent upstream (only when traces are on)


DEFAULT_CALL = Call()


@dataclass
class UpstreamResponse:
    """A complete (non-streamed) answer: the raw bytes for pass-through and their parsed form."""
    body: bytes
    data: dict
    status: int = 200


@dataclass
class UpstreamStream:
    """An open streamed answer: an iterator of SSEEvents in the vendor's native format."""
    events: object
    close: object = field(default=lambda: None)

    def __iter__(self):
        return iter(self.events)


class VendorHandler:
    """One upstream account. Created once per provider and reused, so its SDK client pools
    connections. Bodies go in and come out in `native_format`; translation is not its job."""

    vendor = "base"
    native_format = "openai_chat"  # or "anthropic_messages"

    def __init__(self, provider):
        self.provider = provider

    def chat(self, body, *, stream, headers=None, call=DEFAULT_CALL):
        """Send a chat request in the native format; return UpstreamResponse or UpstreamStream.
        Raise a GatewayError (see vendors/errors.py) when the upstream fails. `call` picks the
        provider key and the deadline of this attempt."""
        raise NotImplementedError

    def embeddings(self, body, call=DEFAULT_CALL):
        raise InvalidRequest(f"Provider {self.provider.name!r} ({self.vendor}) does not serve "
                             "embeddings", param="model", code="embeddings_not_supported")

    def close(self):
        pass
