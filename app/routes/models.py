"""GET /v1/models and /v1/models/{id}: the models this key may use, in the shape of the SDK that
asks — Anthropic's (type, display_name, created_at, paging by after_id/before_id/limit) when the
request carries `anthropic-version` (the anthropic SDKs always send it), else OpenAI's."""
from pathlib import Path

from flasgger import swag_from
from flask import Blueprint, jsonify, request

from ..errors import InvalidRequest, NotFound
from . import api_key, gateway

bp = Blueprint("models", __name__)
DOCS = Path(__file__).parent / "docs"
EPOCH = "1970-01-01T00:00:00Z"  # release date unknown: Anthropic's documented placeholder


def anthropic_asks():
    return "anthropic-version" in request.headers


def _openai(entry):
    return {"id": entry.name, "object": "model", "created": 0, "owned_by": "gateway"}


def _anthropic(entry):
    return {"type": "model", "id": entry.name, "display_name": entry.name, "created_at": EPOCH,
            "lifecycle": "active", "max_tokens": entry.max_output_tokens}


@bp.get("/models")
@swag_from(str(DOCS / "models_list.yml"))
def list_models():
    models = gateway().list_models(api_key(), request.remote_addr)
    page = _anthropic_page([m.name for m in models])  # its arguments are checked either way
    if not anthropic_asks():
        return jsonify({"object": "list", "data": [_openai(m) for m in models]})
    by_name = {m.name: m for m in models}
    data = [_anthropic(by_name[name]) for name in page["names"]]
    return jsonify({"data": data, "has_more": page["has_more"],
                    "first_id": data[0]["id"] if data else None,
                    "last_id": data[-1]["id"] if data else None})


@bp.get("/models/<path:model>")
@swag_from(str(DOCS / "models_get.yml"))
def get_model(model):
    for entry in gateway().list_models(api_key(), request.remote_addr):
        if entry.name == model:
            return jsonify(_anthropic(entry) if anthropic_asks() else _openai(entry))
    raise NotFound(f"The model `{model}` does not exist or you do not have access to it.",
                   param="model", code="model_not_found")


def _anthropic_page(names):
    """Anthropic's paging: `limit` (1–1000, default 20) names after `after_id` or before
    `before_id`, in the listing's order (OpenAI's list is not paged)."""
    raw = request.args.get("limit", "20")
    if not raw.isdigit() or not 1 <= int(raw) <= 1000:
        raise InvalidRequest("`limit` must be an integer from 1 to 1000.", param="limit",
                             code="invalid_value")
    limit = int(raw)
    after, before = request.args.get("after_id"), request.args.get("before_id")
    if after is not None and before is not None:
        raise InvalidRequest("Give `after_id` or `before_id`, not both.", param="before_id",
                             code="invalid_value")
    if after is not None:
        start = names.index(after) + 1 if after in names else len(names)
        chosen = names[start:start + limit]
        return {"names": chosen, "has_more": start + limit < len(names)}
    if before is not None:
        end = names.index(before) if before in names else 0
        chosen = names[max(0, end - limit):end]
        return {"names": chosen, "has_more": end - limit > 0}
    return {"names": names[:limit], "has_more": len(names) > limit}
