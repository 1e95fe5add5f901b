"""Field checks shared by the request validators of both surfaces; errors name the field.

Every body the gateway parses (inference and admin) goes through parse_json_object, which also
caps how deeply it nests: MAX_JSON_DEPTH levels, the body object being level 1. Deeper JSON
would pass orjson's parser (1024 levels) and then break what walks it again: orjson refuses to
encode more than 254 levels, and recursive walks (token estimates) hit Python's recursion limit.

The helpers take `where`, the path of the object they look into ("messages[0].content[1]"), and
name the full path of the field in the error (`param` on the OpenAI surface; the Anthropic surface
has no param, so every message names the path too).
"""
from itertools import chain

import orjson

from ..errors import InvalidRequest

MAX_JSON_DEPTH = 64
# Integers the gateway reads (token counts, n, top_k, token ids) stay within 32 bits: larger ones
# mean nothing to any vendor, and past 64 bits orjson parses them as floats.
MAX_INTEGER = 2**31 - 1
_CONTAINERS = (dict, list)
_CONTAINER_TYPES = frozenset(_CONTAINERS)


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
    check_depth(body)
    return body


def check_depth(body, limit=MAX_JSON_DEPTH):
    """400 naming the top-level field whose value nests deeper than limit levels in all."""
    for name, value in body.items():
        if isinstance(value, _CONTAINERS) and _deeper_than(value, limit - 1):
            raise InvalidRequest(f"'{name}' is nested too deeply: a request body may nest at "
                                 f"most {limit} levels of arrays and objects.", param=name,
                                 code="nesting_too_deep")


def _deeper_than(value, limit):
    """Whether value (an array or object, level 1) has containers below level `limit`. Level by
    level, so no depth can exhaust the stack; a list comprehension over `__class__` (orjson
    makes plain dicts and lists) keeps a 4 MB body of token arrays to ~15 ms."""
    level, depth = [value], 1
    while level:
        if depth > limit:
            return True
        children = chain.from_iterable(node.values() if node.__class__ is dict else node
                                       for node in level)
        level = [child for child in children if child.__class__ in _CONTAINER_TYPES]
        depth += 1
    return False


def invalid(message, param):
    return InvalidRequest(message, param=param, code="invalid_value")


def refuse_unsupported(reasons, served_by):
    """A 400 for the first of `reasons` ((name, asked, why) each) the request asks for: a
    parameter the vendor serving the model cannot honour, never silently dropped."""
    for name, asked, why in reasons:
        if asked:
            raise InvalidRequest(f"Unsupported parameter: '{name}': {why} ({served_by}).",
                                 param=name, code="unsupported_parameter")


def path(where, name):
    return f"{where}.{name}" if where else name


# The JSON classes a field of these kinds may be, checked by identity first (a parsed body holds
# exactly these classes); anything else takes the isinstance path.
_EXACT = {(int, float): (int, float), (str, list): (str, list), (str, dict): (str, dict),
          (list, dict): (list, dict)}
LABELS = {str: "a string", bool: "a boolean", int: "an integer", dict: "an object",
          list: "an array", (int, float): "a number", (str, list): "a string or an array"}


def field(obj, name, kinds, label=None, *, where="", required=False):
    """obj[name] if it is of kinds (None when absent or null and optional); else InvalidRequest
    naming where.name. Booleans are not integers or numbers here."""
    value = obj.get(name)
    if value is None:
        if required:
            param = path(where, name)
            raise InvalidRequest(f"Missing required parameter: '{param}'.", param=param,
                                 code="missing_required_parameter")
        return None
    if value.__class__ is kinds or value.__class__ in _EXACT.get(kinds, ()):
        return value  # the common case, without building the field's path
    kinds = kinds if isinstance(kinds, tuple) else (kinds,)
    if isinstance(value, bool) and bool not in kinds or not isinstance(value, kinds):
        param = path(where, name)
        label = label or LABELS.get(kinds if len(kinds) > 1 else kinds[0], "another type")
        raise invalid(f"Invalid type for '{param}': expected {label}, got "
                      f"{_json_type(value)}.", param)
    return value


def require_type(body, name, kinds, label, *, required=False):
    """A top-level field of the body (see field)."""
    return field(body, name, kinds, label, required=required)


def require_int(obj, name, low, high=MAX_INTEGER, *, where="", required=False):
    value = field(obj, name, int, "an integer", where=where, required=required)
    if value is not None and not low <= value <= high:
        raise invalid(f"Invalid value for '{path(where, name)}': must be an integer from {low} "
                      f"to {high}.", path(where, name))
    return value


def require_positive_int(body, name, *, required=False, where=""):
    return require_int(body, name, 1, where=where, required=required)


def require_choice(obj, name, choices, *, where="", required=False):
    value = field(obj, name, str, where=where, required=required)
    if value is not None and value not in choices:
        raise invalid(f"Invalid value for '{path(where, name)}': expected one of "
                      f"{', '.join(choices)}, got {_show(value)}.", path(where, name))
    return value


def objects(obj, name, *, where="", required=False, min_items=0):
    """obj[name] as a list of objects: yields (path of the item, item)."""
    items = field(obj, name, list, "an array", where=where, required=required)
    return items_of(items, path(where, name), min_items=min_items)


def items_of(items, where, *, kind=dict, label="an object", min_items=0):
    if items is None:
        return []
    if len(items) < min_items:
        raise invalid(f"'{where}' must contain at least {min_items} item(s).", where)
    out = []
    for i, item in enumerate(items):
        if isinstance(item, bool) or not isinstance(item, kind):
            raise invalid(f"Invalid type for '{where}[{i}]': expected {label}, got "
                          f"{_json_type(item)}.", f"{where}[{i}]")
        out.append((f"{where}[{i}]", item))
    return out


def strings(obj, name, *, where=""):
    """obj[name] as a list of strings (None when absent)."""
    items = field(obj, name, list, "an array of strings", where=where)
    items_of(items, path(where, name), kind=str, label="a string")
    return items


def block_type(block, where):
    """The `type` of a content block or part: a string, required."""
    return field(block, "type", str, where=where, required=True)


def _json_type(value):
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    return {str: "a string", list: "an array", dict: "an object"}.get(type(value), "a value")


def _show(value, limit=40):
    """A client's string for an error message: repr (control characters escaped), cut short."""
    text = value if len(value) <= limit else value[:limit] + "…"
    return repr(text)
