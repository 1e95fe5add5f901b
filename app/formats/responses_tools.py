"""The tools of a Responses request on the Chat Completions pivot (request_from_responses.py),
and what their names stand for when the calls come back (ToolNames).

Function tools → Chat function tools; `custom` tools (free-form input, Codex's apply_patch) → a
function taking {"input": string}, whose calls come back as custom_tool_call items with the input
unwrapped; functions inside a `namespace` tool → functions named `<namespace>__<name>`, whose
calls come back as function_call items with `namespace`. Tools may also come inside
`additional_tools` input items (Codex's form for the models it knows). Hosted tools that only the
vendor can run are left out and returned by type; any other tool type is a 400.
"""
import orjson

from ..errors import InvalidRequest
from .translate_blocks import dicts

HOSTED_TOOLS = ("web_search", "web_search_preview", "web_search_preview_2025_03_11",
                "web_search_2025_08_26", "file_search", "code_interpreter", "image_generation",
                "computer_use_preview", "computer_use", "mcp")
NAMESPACE_SEPARATOR = "__"


def refused(param, message):
    return InvalidRequest(message, param=param, code="unsupported_parameter")


class ToolNames:
    """What the tool names of the translated request stand for, to turn calls back (and whether
    the request asks for a compaction, compaction.py)."""

    def __init__(self):
        self.custom = set()  # custom tools, sent as functions taking {"input": ...}
        self.namespaced = {}  # "<namespace>__<name>" → (namespace, name)
        self.compaction = False  # the input ends in a compaction trigger

    def item_of_call(self, call_id, name, arguments):
        """A Chat tool call as a Responses output item."""
        if name in self.custom:
            value = _parsed(arguments)
            text = value.get("input") if isinstance(value.get("input"), str) else arguments
            item = {"type": "custom_tool_call", "call_id": call_id, "name": name,
                    "input": text}
        else:
            item = {"type": "function_call", "call_id": call_id, "name": name,
                    "arguments": arguments}
        if name in self.namespaced:
            item["namespace"], item["name"] = self.namespaced[name]
        return item


def chat_tools(tools, names, dropped, where="tools", namespace=None):
    """The Chat tools of a list of Responses tools at `where` in the body (for the 400s)."""
    out = []
    for i, tool in enumerate(dicts(tools)):
        kind = tool.get("type")
        name = tool.get("name")
        if namespace:
            names.namespaced[f"{namespace}{NAMESPACE_SEPARATOR}{name}"] = (namespace, name)
            name = f"{namespace}{NAMESPACE_SEPARATOR}{name}"
        if kind == "function":
            function = {"name": name, "parameters": tool.get("parameters") or
                        {"type": "object", "properties": {}}}
            for key in ("description", "strict"):
                if tool.get(key) is not None:
                    function[key] = tool[key]
            out.append({"type": "function", "function": function})
        elif kind == "custom":
            names.custom.add(name)
            out.append({"type": "function", "function": {
                "name": name, "description": tool.get("description") or "",
                "parameters": {"type": "object", "properties": {"input": {
                    "type": "string", "description": "The tool's free-form input."}},
                    "required": ["input"]}}})
        elif kind == "namespace" and not namespace:
            out += chat_tools(tool.get("tools"), names, dropped, f"{where}[{i}].tools", name)
        elif kind in HOSTED_TOOLS:
            dropped.append(kind)
        else:
            raise refused(f"{where}[{i}].type", f"Tools of type {kind!r} have no equivalent "
                          "for this model's vendor.")
    return out


def chat_tool_choice(choice, names):
    if isinstance(choice, str):
        return choice
    kind = choice.get("type")
    if kind in ("function", "custom"):
        name = choice.get("name")
        if choice.get("namespace"):
            name = f"{choice['namespace']}{NAMESPACE_SEPARATOR}{name}"
        return {"type": "function", "function": {"name": name}}
    raise refused("tool_choice", f"tool_choice {kind!r} has no equivalent for this model's "
                   "vendor.")


def additional_tools(history, items):
    """(path of its tools, item) of the `additional_tools` input items: tools given inside the
    input (Codex, for the models it knows, sends every tool so, in a developer-role item)."""
    located = [(f"previous_response_id[{i}]", item) for i, item in enumerate(history)]
    located += [(f"input[{i}]", item) for i, item in enumerate(
        items if isinstance(items, list) else [])]
    return [(f"{where}.tools", item) for where, item in located
            if isinstance(item, dict) and item.get("type") == "additional_tools"]


def _parsed(arguments):
    try:
        value = orjson.loads(arguments or "{}")
    except orjson.JSONDecodeError:
        return {}
    return value if isinstance(value, dict) else {}
