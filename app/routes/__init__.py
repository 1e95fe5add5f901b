"""Helpers shared by the blueprints: reading the caller's key and body, rendering a Reply."""
from flask import Response, current_app, g, request

from ..dashboard import session as dashboard_session
from ..errors import PermissionDenied
from ..gateway.pipeline import Inbound
from .body import read_body  # noqa: F401 - the blueprints' (and admin's) body reader


def gateway():
    return current_app.extensions["gateway"]


def api_key():
    """The key from 'Authorization: Bearer …' or 'x-api-key'."""
    auth = request.headers.get("Authorization", "")
    if auth[:7].lower() == "bearer ":
        return auth[7:].strip() or None
    return request.headers.get("x-api-key", "").strip() or None


def caller():
    """The authenticated Principal of this request: its API key's, or without one the
    dashboard session's (app/dashboard/session.py: same Principal, plus the CSRF check on
    state-changing requests). 401 when the key is missing or bad."""
    key = api_key()
    if key is None:
        principal = dashboard_session.principal()
        if principal is not None:
            return principal
    return gateway().authenticate(key, request.remote_addr)


def require_admin(principal):
    if not principal.is_admin:
        raise PermissionDenied("This endpoint needs an admin key.", code="admin_required")
    return principal


# The server's write callable, where it gives one (server/handler.py in gevent workers).
SEND_NOW = "gateway.send_now"


def inbound(surface, endpoint):
    """The request as the pipeline takes it. Its headers are the WSGI environ's, read-only, not
    a copy: only an Anthropic-format vendor reads any (the ones it forwards)."""
    return Inbound(surface=surface, endpoint=endpoint, request_id=g.request_id,
                   api_key=api_key(), read_body=read_body, headers=request.headers,
                   client_request_id=g.get("client_request_id"),
                   client_address=request.remote_addr,
                   traceparent=request.headers.get("traceparent"),
                   send_now=request.environ.get(SEND_NOW))


def respond(reply):
    """The pipeline's headers are added, not set: none of them is one a new Response has, and
    setting each one searches every header before it (a dozen limit and cost headers per
    answer)."""
    streamed = reply.stream is not None
    return Response(reply.stream if streamed else reply.body, status=reply.status,
                    headers=list(reply.headers.items()),
                    mimetype="text/event-stream" if streamed else "application/json")
