"""The OpenAI surface: /v1/chat/completions and /v1/embeddings (/v1/models: models.py)."""
from pathlib import Path

from flasgger import swag_from
from flask import Blueprint

from . import gateway, inbound, respond

bp = Blueprint("openai", __name__)
DOCS = Path(__file__).parent / "docs"


@bp.post("/chat/completions")
@swag_from(str(DOCS / "chat_completions.yml"))
def chat_completions():
    return respond(gateway().handle(inbound("openai", "chat")))


@bp.post("/embeddings")
@swag_from(str(DOCS / "embeddings.yml"))
def embeddings():
    return respond(gateway().handle(inbound("openai", "embeddings")))
