"""The OpenAI Responses surface: POST /v1/responses and /v1/responses/compact (stored ones:
stored_responses.py)."""
from pathlib import Path

from flasgger import swag_from
from flask import Blueprint

from . import gateway, inbound, respond

bp = Blueprint("responses", __name__)
DOCS = Path(__file__).parent / "docs"


@bp.post("/responses")
@swag_from(str(DOCS / "responses_create.yml"))
def create_response():
    return respond(gateway().handle(inbound("responses", "responses")))


@bp.post("/responses/compact")
@swag_from(str(DOCS / "responses_compact.yml"))
def compact_response():
    return respond(gateway().handle(inbound("responses", "responses_compact")))
