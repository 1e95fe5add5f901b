"""Stored responses (RESPONSES_STORE): GET and DELETE /v1/responses/{id}, and
GET /v1/responses/{id}/input_items. POST /v1/responses is routes/responses.py."""
import json
from pathlib import Path

import orjson
from flasgger import swag_from
from flask import Blueprint, Response, request
from werkzeug.routing import BaseConverter

from ..errors import InvalidRequest
from ..gateway.stored_responses import MAX_LIMIT, ResponseStore
from . import caller, gateway

bp = Blueprint("stored_responses", __name__)


class ResponseIdConverter(BaseConverter):
    """A response id in a path: any segment but `compact` (POST /v1/responses/compact is another
    resource, so OPTIONS on it must not offer GET or DELETE)."""
    regex = r"(?!compact$)[^/]+"


@bp.record_once
def _register_converter(state):
    state.app.url_map.converters["response_id"] = ResponseIdConverter
DOCS = Path(__file__).parent / "docs"
_OFF = ResponseStore(False, 0, 0)


def store():
    return getattr(gateway(), "responses_store", None) or _OFF


def _json(body):
    try:
        data = orjson.dumps(body)
    except orjson.JSONEncodeError:  # a lone surrogate the client sent: escaped, as json does
        data = json.dumps(body).encode()
    return Response(data, mimetype="application/json")


def _limit():
    value = request.args.get("limit")
    if value is None:
        return 20
    try:
        return int(value.strip())
    except ValueError:
        raise InvalidRequest(f"limit must be an integer from 1 to {MAX_LIMIT}.",
                             param="limit") from None


@bp.get("/responses/<response_id:response_id>")
@swag_from(str(DOCS / "responses_get.yml"))
def retrieve(response_id):
    return _json(store().get(caller(), response_id))


@bp.get("/responses/<response_id:response_id>/input_items")
@swag_from(str(DOCS / "responses_input_items.yml"))
def input_items(response_id):
    principal = caller()
    return _json(store().input_items(principal, response_id, after=request.args.get("after"),
                                     before=request.args.get("before"), limit=_limit(),
                                     order=request.args.get("order", "desc")))


@bp.delete("/responses/<response_id:response_id>")
@swag_from(str(DOCS / "responses_delete.yml"))
def delete(response_id):
    return _json(store().delete(caller(), response_id))
