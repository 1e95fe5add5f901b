"""Structured output between OpenAI `response_format` and Anthropic `output_config.format`.

OpenAI → Anthropic:
- `{"type": "json_schema", "json_schema": {"name", "schema", "strict", "description"}}` →
  `output_config: {"format": {"type": "json_schema", "schema": <schema>}}`. Anthropic's
  constrained decoding needs `additionalProperties: false` on every object schema: it is added
  where absent (a tighter schema; every answer it allows, the client's schema allows), and an
  object that explicitly allows other properties (`true` or a schema) is a 400 naming its path,
  since Anthropic cannot honour it. Other keywords Anthropic does not support go up as sent and
  the vendor answers its own 400. `name` and `description` have no Anthropic field and are not
  sent (`strict` neither: Anthropic's decoding is always constrained).
- `{"type": "json_object"}` (JSON without a schema) → 400: Anthropic only takes a schema, and
  `{"type": "object"}` would become an object with no properties at all.
- `{"type": "text"}` is the default: nothing is sent.

Anthropic → OpenAI: `output_config.format` `{"type": "json_schema", "schema"}` →
`response_format: {"type": "json_schema", "json_schema": {"name": "output", "schema",
"strict"}}`, strict true when the schema meets OpenAI's strict-mode rules (every object has
`additionalProperties: false` and requires all its properties), else false (the model is still
given the schema; OpenAI's strict mode would refuse such a schema with a 400). Another format
type is a 400.

The answer needs no translation: the JSON is the answer's text, which OpenAI clients read in
`message.content` and Anthropic clients in the text block (SDK parse helpers included).
"""
from ..errors import InvalidRequest

SCHEMA_NAME = "output"
_SUBSCHEMA_LISTS = ("anyOf", "allOf", "oneOf", "prefixItems")
_SUBSCHEMA_MAPS = ("properties", "$defs", "definitions")


def response_format_to_anthropic(response_format) -> dict | None:
    """OpenAI response_format → Anthropic output_config.format, None when there is nothing to
    ask for; InvalidRequest when Anthropic cannot honour it."""
    if not isinstance(response_format, dict):
        return None
    kind = response_format.get("type")
    if kind == "text":
        return None
    if kind == "json_object":
        raise InvalidRequest(
            "Invalid value for 'response_format.type': this model is served by an Anthropic-"
            "format vendor, which constrains output only to a JSON schema; 'json_object' (JSON "
            "without a schema) cannot be honoured. Send type 'json_schema' with a schema.",
            param="response_format.type", code="unsupported_value")
    if kind != "json_schema":
        raise InvalidRequest(
            f"Invalid value for 'response_format.type': {kind!r} cannot be translated for this "
            "model's Anthropic-format vendor; it takes 'json_schema' or 'text'.",
            param="response_format.type", code="unsupported_value")
    spec = response_format.get("json_schema")
    schema = spec.get("schema") if isinstance(spec, dict) else None
    if not isinstance(schema, dict):
        raise InvalidRequest(
            "Missing required parameter: 'response_format.json_schema.schema' (an Anthropic-"
            "format vendor constrains output only to a given schema).",
            param="response_format.json_schema.schema", code="missing_required_parameter")
    return {"type": "json_schema",
            "schema": _closed(schema, "response_format.json_schema.schema")}


def _closed(schema, where):
    """A copy of schema whose object schemas all say additionalProperties: false."""
    if not isinstance(schema, dict):
        return schema
    out = dict(schema)
    if _is_object(schema):
        extra = schema.get("additionalProperties", False)
        if extra is not False:
            raise InvalidRequest(
                f"Invalid value for '{where}.additionalProperties': an Anthropic-format vendor "
                "constrains output only to objects without other properties (it must be false "
                "or absent), so this schema cannot be honoured.",
                param=f"{where}.additionalProperties", code="unsupported_value")
        out["additionalProperties"] = False
    for key in _SUBSCHEMA_MAPS:
        if isinstance(schema.get(key), dict):
            out[key] = {name: _closed(sub, f"{where}.{key}.{name}")
                        for name, sub in schema[key].items()}
    for key in _SUBSCHEMA_LISTS:
        if isinstance(schema.get(key), list):
            out[key] = [_closed(sub, f"{where}.{key}[{i}]") for i, sub in enumerate(schema[key])]
    items = schema.get("items")
    if isinstance(items, dict):
        out["items"] = _closed(items, f"{where}.items")
    elif isinstance(items, list):
        out["items"] = [_closed(sub, f"{where}.items[{i}]") for i, sub in enumerate(items)]
    return out


def _is_object(schema) -> bool:
    kind = schema.get("type")
    if kind is None:
        return isinstance(schema.get("properties"), dict)
    return kind == "object" or isinstance(kind, list) and "object" in kind


def output_config_to_openai(output_config) -> dict | None:
    """Anthropic output_config.format → OpenAI response_format (None without a format)."""
    output_format = output_config.get("format") if isinstance(output_config, dict) else None
    if not isinstance(output_format, dict):
        return None
    if output_format.get("type") != "json_schema" or not isinstance(output_format.get("schema"),
                                                                     dict):
        raise InvalidRequest(
            "Invalid value for 'output_config.format': this model is served by an OpenAI-format "
            "vendor, which takes a format of type 'json_schema' with a 'schema' object.",
            param="output_config.format", code="unsupported_value")
    schema = output_format["schema"]
    return {"type": "json_schema",
            "json_schema": {"name": SCHEMA_NAME, "schema": schema, "strict": _strict(schema)}}


def _strict(schema) -> bool:
    """Whether schema meets OpenAI's strict-mode rules on objects (all of them closed, every
    property required)."""
    if not isinstance(schema, dict):
        return True
    if _is_object(schema):
        properties = schema.get("properties")
        properties = properties if isinstance(properties, dict) else {}
        required = schema.get("required")
        required = required if isinstance(required, list) else []
        if (schema.get("additionalProperties") is not False
                or any(name not in required for name in properties)):
            return False
    for key in _SUBSCHEMA_MAPS:
        if isinstance(schema.get(key), dict) and not all(map(_strict, schema[key].values())):
            return False
    for key in _SUBSCHEMA_LISTS:
        if isinstance(schema.get(key), list) and not all(map(_strict, schema[key])):
            return False
    items = schema.get("items")
    return all(map(_strict, items)) if isinstance(items, list) else _strict(items)
