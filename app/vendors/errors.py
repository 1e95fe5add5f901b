"""Map the official SDKs' exceptions (openai and anthropic share their shape) to GatewayErrors."""
import httpx2
import orjson

from ..errors import (
    GatewayError,
    InvalidRequest,
    NotFound,
    RateLimited,
    RequestTooLarge,
    UpstreamError,
    UpstreamOverloaded,
    UpstreamTimeout,
)


def upstream_message(body_bytes, fallback):
    """error.message from an OpenAI- or Anthropic-shaped error body."""
    try:
        data = orjson.loads(body_bytes)
        message = data["error"]["message"]
        if isinstance(message, str) and message:
            return message
    except (orjson.JSONDecodeError, KeyError, TypeError):
        pass
    return fallback


def from_status(status, body_bytes, headers, provider):
    """The GatewayError for an upstream answer with HTTP status >= 400."""
    message = upstream_message(body_bytes, f"upstream returned HTTP {status}")
    if status == 429:
        retry_after = headers.get("retry-after")
        return RateLimited(f"Upstream rate limit ({provider}): {message}",
                           headers={"retry-after": retry_after} if retry_after else None)
    if status == 529:
        return UpstreamOverloaded(f"Upstream overloaded ({provider}): {message}")
    if status in (401, 403):
        return UpstreamError(f"Upstream {provider} rejected the gateway's credentials "
                             f"(HTTP {status}): {message}", code="upstream_auth_failed")
    if status == 404:
        return NotFound(message, code="upstream_not_found")
    if status == 413:
        return RequestTooLarge(message)
    if 400 <= status < 500:
        return InvalidRequest(message, status=status, code="upstream_invalid_request")
    return UpstreamError(f"Upstream error ({provider}, HTTP {status}): {message}")


def from_sdk_error(exc, sdk, provider):
    """Translate an exception raised by an official SDK (module `sdk`) into a GatewayError."""
    if isinstance(exc, GatewayError):
        return exc
    if isinstance(exc, sdk.APIStatusError):
        response = exc.response
        try:
            body = response.content
        except Exception:  # body not read (stream closed early)
            body = b""
        return from_status(exc.status_code, body, response.headers, provider)
    if isinstance(exc, (sdk.APITimeoutError, httpx2.TimeoutException)):
        return UpstreamTimeout(f"Upstream {provider} timed out")
    if isinstance(exc, sdk.APIConnectionError):
        return UpstreamError(f"Could not connect to upstream {provider}: {exc.__cause__ or exc}",
                             code="upstream_unreachable")
    if isinstance(exc, httpx2.HTTPError):  # raised while reading a body or a stream
        return UpstreamError(f"Connection to upstream {provider} failed: {exc}",
                             code="upstream_connection_error")
    return None
