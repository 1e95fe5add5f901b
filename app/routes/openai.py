"""The OpenAI surface: /v1/chat/completions, /v1/embeddings, /v1/models."""
from pathlib import Path

from flasgger import swag_from
from flask import Blueprint, jsonify, request

from ..errors import NotFound
from . import api_key, gateway, inbound, respond

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


def _model_object(entry):
    return {"id": entry.name, "object": "model", "created": 0, "owned_by": "gateway"}


@bp.get("/models")
@swag_from(str(DOCS / "models_list.yml"))
def list_models():
    models = gateway().list_models(api_key(), request.remote_addr)
    return jsonify({"object": "list", "data": [_model_object(m) for m in models]})


@bp.get("/models/<path:model>")
@swag_from(str(DOCS / "models_get.yml"))
def get_model(model):
    for entry in gateway().list_models(api_key(), request.remote_addr):
        if entry.name == model:
            return jsonify(_model_object(entry))
    raise NotFound(f"The model `{model}` does not exist or you do not have access to it.",
                   param="model", code="model_not_found")
