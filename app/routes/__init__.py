"""Helpers shared by the blueprints: reading the caller's key and body, rendering a Reply."""
from flask import Response, current_app, g, request

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
    """The authenticated Principal of this request (401 when the key is missing or bad)."""
    return gateway().authenticate(api_key(), request.remote_addr)


def require_admin(principal):
    if not principal.is_admin:
        raise PermissionDenied("This endpoint needs an admin key.", code="admin_required")
    return principal


def inbound(surface, endpoint):
    return Inbound(surface=surface, endpoint=endpoint, request_id=g.request_id,
                   api_key=api_key(), read_body=read_body, headers=dict(request.headers),
                   client_request_id=g.get("client_request_id"),
                   client_address=request.remote_addr)


def respond(reply):
    if reply.stream is not None:
        response = Response(reply.stream, status=reply.status, mimetype="text/event-stream")
    else:
        response = Response(reply.body, status=reply.status, mimetype="application/json")
    response.headers.update(reply.headers)
    return response
