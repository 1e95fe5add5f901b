"""The one error path: code raises a GatewayError; one renderer per API surface shapes it.

OpenAI surface (and /admin): {"error": {"message", "type", "param", "code"}}
Anthropic surface (/v1/messages…): {"type": "error", "error": {"type", "message"}}
"""
import logging

from flask import jsonify, request
from werkzeug.exceptions import HTTPException

log = logging.getLogger(__name__)


class GatewayError(Exception):
    status = 500
    openai_type = "api_error"
    anthropic_type = "api_error"
    code = None
    retryable = False  # another attempt (deployment, key, fallback) may succeed
    upstream_status = None  # the upstream's HTTP status, when the upstream answered with one
    retry_after = None  # seconds the upstream asked us to wait (429), when it said so

    def __init__(self, message, *, param=None, code=None, status=None, headers=None,
                 retryable=None, upstream_status=None):
        super().__init__(message)
        self.message = message
        self.param = param
        if code is not None:
            self.code = code
        if status is not None:
            self.status = status
        if retryable is not None:
            self.retryable = retryable
        if upstream_status is not None:
            self.upstream_status = upstream_status
        self.headers = dict(headers or {})

    def openai_body(self):
        return {"error": {"message": self.message, "type": self.openai_type,
                          "param": self.param, "code": self.code}}

    def anthropic_body(self):
        return {"type": "error", "error": {"type": self.anthropic_type, "message": self.message}}


class InvalidRequest(GatewayError):
    status = 400
    openai_type = anthropic_type = "invalid_request_error"


class AuthenticationFailed(GatewayError):
    status = 401
    openai_type = "invalid_request_error"
    anthropic_type = "authentication_error"
    code = "invalid_api_key"


class PermissionDenied(GatewayError):
    status = 403
    openai_type = anthropic_type = "permission_error"


class NotFound(GatewayError):
    status = 404
    openai_type = "invalid_request_error"
    anthropic_type = "not_found_error"
    code = "not_found"


class RequestTooLarge(GatewayError):
    status = 413
    openai_type = "invalid_request_error"
    anthropic_type = "request_too_large"
    code = "request_too_large"


class RateLimited(GatewayError):
    status = 429
    openai_type = "rate_limit_error"
    anthropic_type = "rate_limit_error"
    code = "rate_limit_exceeded"


class ServiceUnavailable(GatewayError):
    """A dependency of the gateway (Redis, the database) cannot serve this request now; the
    headers carry retry-after."""
    status = 503
    code = "service_unavailable"


class UpstreamError(GatewayError):
    """The vendor failed (5xx, bad gateway, its own auth); 502 unless a status is given."""
    status = 502
    code = "upstream_error"
    retryable = True


class UpstreamOverloaded(GatewayError):
    """The vendor said it is overloaded (Anthropic 529); OpenAI clients get 503."""
    status = 529
    anthropic_type = "overloaded_error"
    code = "upstream_overloaded"
    retryable = True


class UpstreamTimeout(GatewayError):
    status = 504
    anthropic_type = "api_error"
    code = "upstream_timeout"
    retryable = True


class InternalError(GatewayError):
    status = 500
    code = "internal_error"


def surface_of(path, headers):
    """The error shape a request's client reads: Anthropic's on /v1/messages, and on /v1/models
    when an Anthropic SDK asks (it sends anthropic-version); OpenAI's elsewhere."""
    if path.startswith("/v1/messages"):
        return "anthropic"
    if path.startswith("/v1/models") and "anthropic-version" in headers:
        return "anthropic"
    return "openai"


def client_status(error, surface):
    """The HTTP status a client of `surface` gets for error: 529 (overloaded) is Anthropic's
    own; OpenAI clients get 503."""
    return 503 if error.status == 529 and surface != "anthropic" else error.status


def render(error, surface):
    body = error.anthropic_body() if surface == "anthropic" else error.openai_body()
    response = jsonify(body)
    response.status_code = client_status(error, surface)
    response.headers.update(error.headers)
    return response


def _from_http_exception(exc):
    if exc.code == 404:
        return NotFound(f"Unknown route: {request.method} {request.path}", code="unknown_route")
    if exc.code == 413:
        return RequestTooLarge(exc.description or "Request body too large")
    if exc.code == 405:
        allowed = sorted(getattr(exc, "valid_methods", None) or ())
        return InvalidRequest(f"Method {request.method} is not allowed on {request.path}",
                              status=405, code="method_not_allowed",
                              headers={"Allow": ", ".join(allowed)} if allowed else None)
    if exc.code and exc.code < 500:
        return InvalidRequest(exc.description or exc.name, status=exc.code)
    return InternalError(exc.description or exc.name, status=exc.code or 500)


def register_error_handlers(app):
    def handle_gateway_error(error):
        return render(error, surface_of(request.path, request.headers))

    def handle_http_exception(exc):
        return handle_gateway_error(_from_http_exception(exc))

    def handle_unexpected(exc):
        from .gateway.breaker import DATABASE_FAILURES

        if isinstance(exc, DATABASE_FAILURES):  # e.g. an admin call while the database is down
            log.warning("%s %s: the database is unavailable (%s)", request.method, request.path,
                        str(exc).strip().split("\n")[0][:200])
            return handle_gateway_error(ServiceUnavailable(
                "The database is unavailable; retry shortly.", code="database_unavailable",
                headers={"retry-after": "5"}))
        log.exception("unhandled error on %s %s", request.method, request.path)
        return handle_gateway_error(InternalError("The gateway hit an internal error."))

    app.register_error_handler(GatewayError, handle_gateway_error)
    app.register_error_handler(HTTPException, handle_http_exception)
    app.register_error_handler(Exception, handle_unexpected)
