"""The Anthropic surface: /v1/messages and /v1/messages/count_tokens (`?beta=true` accepted)."""
from pathlib import Path

from flasgger import swag_from
from flask import Blueprint

from . import gateway, inbound, respond

bp = Blueprint("anthropic", __name__)
DOCS = Path(__file__).parent / "docs"


@bp.post("/messages")
@swag_from(str(DOCS / "messages.yml"))
def messages():
    return respond(gateway().handle(inbound("anthropic", "messages")))


@bp.post("/messages/count_tokens")
@swag_from(str(DOCS / "count_tokens.yml"))
def count_tokens():
    return respond(gateway().handle(inbound("anthropic", "count_tokens")))
