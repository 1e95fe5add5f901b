"""Map the official SDKs' exceptions (openai and anthropic share their shape) to GatewayErrors."""
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

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


def upstream_param(body_bytes):
    """error.param of an OpenAI-shaped error body (the field the upstream names), or None."""
    try:
        param = orjson.loads(body_bytes)["error"]["param"]
    except (orjson.JSONDecodeError, KeyError, TypeError):
        return None
    return param if isinstance(param, str) and param else None


def retryable_status(status):
    """Statuses another attempt may fix: timeout, conflict, rate limit, server errors, 529."""
    return status in (408, 409, 429) or status >= 500


def retry_after_seconds(headers):
    """The wait an upstream asked for: retry-after-ms (OpenAI), retry-after in seconds or as an
    HTTP date; None when absent or unreadable."""
    value = headers.get("retry-after-ms")
    if value:
        try:
            return max(float(value) / 1000, 0.0)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        return max(float(value), 0.0)
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max((when - datetime.now(UTC)).total_seconds(), 0.0)


def from_status(status, body_bytes, headers, provider):
    """The GatewayError for an upstream answer with HTTP status >= 400. Its `retryable` says
    whether another attempt may succeed; `upstream_status` keeps the upstream's status."""
    error = _error_for(status, body_bytes, headers, provider)
    error.upstream_status = status
    error.retryable = retryable_status(status)
    if status == 429:
        error.retry_after = retry_after_seconds(headers)
    return error


def _error_for(status, body_bytes, headers, provider):
    message = upstream_message(body_bytes, f"upstream returned HTTP {status}")
    if status == 429:
        retry_after = headers.get("retry-after")
        return RateLimited(f"Upstream rate limit ({provider}): {message}",
                           headers={"retry-after": retry_after} if retry_after else None)
    if status in (503, 529):  # an overload stays an overload: 529 / 503 to the client
        return UpstreamOverloaded(f"Upstream overloaded ({provider}, HTTP {status}): {message}")
    if status in (401, 403):
        return UpstreamError(f"Upstream {provider} rejected the gateway's credentials "
                             f"(HTTP {status}): {message}", code="upstream_auth_failed")
    if status == 404:
        return NotFound(message, code="upstream_not_found")
    if status == 413:
        return RequestTooLarge(message)
    if 400 <= status < 500:
        return InvalidRequest(message, status=status, code="upstream_invalid_request",
                              param=upstream_param(body_bytes))
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
