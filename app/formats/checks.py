"""Field checks shared by the request validators of both surfaces; errors name the field."""
import orjson

from ..errors import InvalidRequest


def parse_json_object(raw):
    if not raw or not raw.strip():
        raise InvalidRequest("Request body is empty; expected a JSON object.", code="invalid_json")
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise InvalidRequest(f"Request body is not valid JSON: {exc}",
                             code="invalid_json") from None
    if not isinstance(body, dict):
        raise InvalidRequest("Request body must be a JSON object.", code="invalid_json")
    return body


def invalid(message, param):
    return InvalidRequest(message, param=param, code="invalid_value")


def require_type(body, name, kinds, label, *, required=False):
    """body[name] if it is of kinds (None when absent and optional); else InvalidRequest."""
    value = body.get(name)
    kinds = kinds if isinstance(kinds, tuple) else (kinds,)
    if value is None:
        if required:
            raise InvalidRequest(f"Missing required parameter: '{name}'.", param=name,
                                 code="missing_required_parameter")
        return None
    if isinstance(value, bool) and bool not in kinds or not isinstance(value, kinds):
        raise invalid(f"Invalid type for '{name}': expected {label}, got {type(value).__name__}.",
                      name)
    return value


def require_positive_int(body, name, *, required=False):
    value = require_type(body, name, int, "an integer", required=required)
    if value is not None and value < 1:
        raise invalid(f"Invalid value for '{name}': must be at least 1.", name)
    return value


def check_messages(messages, roles, name="messages"):
    if not messages:
        raise invalid(f"'{name}' must contain at least one message.", name)
    for i, message in enumerate(messages):
        where = f"{name}[{i}]"
        if not isinstance(message, dict):
            raise invalid(f"Invalid type for '{where}': expected an object.", where)
        role = message.get("role")
        if role not in roles:
            raise invalid(f"Invalid value for '{where}.role': expected one of "
                          f"{', '.join(roles)}, got {role!r}.", f"{where}.role")
        content = message.get("content")
        if content is not None and not isinstance(content, (str, list)):
            raise invalid(f"Invalid type for '{where}.content': expected a string or an "
                          "array of content blocks.", f"{where}.content")
