"""OpenAI chat.completion.chunk dicts in → Anthropic stream events out (translate_stream.py)."""
import uuid

import orjson

from ..errors import UpstreamError
from .translate_blocks import dicts, obj, scalar_key
from .translate_response import openai_stop_to_anthropic, openai_usage_to_anthropic

_EMPTY_BLOCKS = {"text": {"type": "text", "text": ""},
                 "thinking": {"type": "thinking", "thinking": "", "signature": ""}}
_DELTAS = {"text": ("text_delta", "text"), "thinking": ("thinking_delta", "thinking")}


def _event(name, **data):
    return name, {"type": name, **data}


class OpenAIToAnthropicStream:
    """OpenAI chat.completion.chunk dicts in → Anthropic stream events out, as (event_name, data).

    Content blocks are opened lazily as output arrives (thinking, text, one per tool call) and
    closed when the kind of output changes; indexes count from 0 in emission order. Empty deltas
    open nothing, so an empty answer is message_start, ping, message_delta, message_stop with no
    content block (as Anthropic sends it: an empty text block would be rejected if a client sent
    the history back).

    Tool calls: Anthropic blocks cannot interleave, OpenAI tool calls can (parallel calls whose
    argument fragments alternate by index). A tool call streams live, fragment by fragment, as
    long as nothing else arrives before its arguments are complete JSON. When a new call, text or
    thinking arrives while they are not, that output is held back, and so is all output after
    it, except the live call's own fragments: at the end the live block closes and every held
    item follows whole, in order of first appearance (one start, one delta, one stop each). A
    fragment for a call whose arguments were already complete JSON would only make them invalid
    and is left out.

    model is the upstream model the gateway sent; message_start carries the model the first
    chunk names, that one only when the chunk has none.

    sign_thinking(signature) ends the thinking block with its signature (Anthropic's
    signature_delta), for a stream whose reasoning has one (a Responses-format vendor's reasoning
    item, carried: reasoning_carry.py).
    """

    def __init__(self, model, input_tokens, message_id=None):
        self.model = model
        self.input_tokens = input_tokens or 0
        self.message_id = message_id or f"msg_{uuid.uuid4().hex[:24]}"
        self.usage = None  # the last raw OpenAI usage seen, for the caller's accounting
        self.finish_reason = None
        self._started = False
        self._next_index = 0
        self._open = None  # (kind, block index) of the open block
        self._live = None  # the call streaming in the open block: {"id", "name", "parts", "state"}
        self._calls = {}  # OpenAI tool-call index → its call dict
        self._held = []  # output held back: call dicts and {"kind", "parts"} text/thinking
        self._had_tool_use = False

    def start(self, chunk=None):
        """message_start and ping, once; chunk is the upstream's first (it names the model)."""
        if self._started:
            return []
        self._started = True
        model = obj(chunk).get("model")
        message = {
            "id": self.message_id, "type": "message", "role": "assistant",
            "model": model if isinstance(model, str) and model else self.model,
            "content": [], "stop_reason": None, "stop_sequence": None,
            "usage": {"input_tokens": self.input_tokens, "output_tokens": 0,
                      "cache_read_input_tokens": 0, "cache_creation_input_tokens": 0},
        }
        return [_event("message_start", message=message), _event("ping")]

    def feed(self, chunk):
        chunk = obj(chunk)
        if "error" in chunk and chunk["error"]:
            error = chunk["error"]
            message = error.get("message") if isinstance(error, dict) else str(error)
            raise UpstreamError(f"Upstream error mid-stream: {message}")
        out = self.start(chunk)
        if chunk.get("usage"):
            self.usage = chunk["usage"]
        for choice in dicts(chunk.get("choices")):
            if choice.get("index", 0) != 0:
                continue  # n > 1 has no Anthropic equivalent: only the first choice is relayed
            delta = obj(choice.get("delta"))
            reasoning = delta.get("reasoning_content") or delta.get("reasoning")
            if isinstance(reasoning, str) and reasoning:
                out += self._content("thinking", reasoning)
            for key in ("content", "refusal"):  # a refusal's text is the answer's text
                if isinstance(delta.get(key), str) and delta[key]:
                    out += self._content("text", delta[key])
            for call in dicts(delta.get("tool_calls")):
                out += self._tool_fragment(call)
            if choice.get("finish_reason"):
                self.finish_reason = choice["finish_reason"]
        return out

    def finish(self):
        out = self.start() + self._close()
        for item in self._held:
            out += self._whole(item)
        self._held = []
        stop_reason = openai_stop_to_anthropic(self.finish_reason, self._had_tool_use)
        usage = openai_usage_to_anthropic(self.usage) if self.usage else {"output_tokens": 0}
        out.append(_event("message_delta",
                          delta={"stop_reason": stop_reason, "stop_sequence": None},
                          usage=usage))
        out.append(_event("message_stop"))
        return out

    def sign_thinking(self, signature):
        """The open thinking block gets its signature and closes; with none open (a reasoning
        item without summary text), a thinking block with empty text carries it."""
        out = self.start()
        if self._open is None or self._open[0] != "thinking":
            if self._must_hold():
                return out  # cannot interleave with a live tool call: left out
            out += self._open_block("thinking", dict(_EMPTY_BLOCKS["thinking"]))
        out.append(_event("content_block_delta", index=self._open[1],
                          delta={"type": "signature_delta", "signature": signature}))
        return out + self._close()

    # -- blocks ------------------------------------------------------------------------------

    def _delta(self, kind, text):
        if kind == "tool_use":
            delta = {"type": "input_json_delta", "partial_json": text}
        else:
            name, key = _DELTAS[kind]
            delta = {"type": name, key: text}
        return _event("content_block_delta", index=self._open[1], delta=delta)

    def _close(self):
        if self._live is not None:
            self._live["state"] = "closed"
            self._live = None
        if self._open is None:
            return []
        index = self._open[1]
        self._open = None
        return [_event("content_block_stop", index=index)]

    def _open_block(self, kind, content_block):
        out = self._close()
        index = self._next_index
        self._next_index += 1
        self._open = (kind, index)
        out.append(_event("content_block_start", index=index, content_block=content_block))
        return out

    def _must_hold(self):
        """Whether new output has to wait: output is held already, or the live tool call may
        still get fragments (its arguments are not complete JSON yet)."""
        if self._held:
            return True
        if self._live is None:
            return False
        arguments = "".join(self._live["parts"])
        try:
            orjson.loads(arguments)
        except orjson.JSONDecodeError:
            return True
        return False

    def _content(self, kind, text):
        if self._open is not None and self._open[0] == kind:
            return [self._delta(kind, text)]
        if self._must_hold():
            last = self._held[-1] if self._held else None
            if last is not None and last.get("kind") == kind:
                last["parts"].append(text)
            else:
                self._held.append({"kind": kind, "parts": [text]})
            return []
        return self._open_block(kind, dict(_EMPTY_BLOCKS[kind])) + [self._delta(kind, text)]

    def _tool_fragment(self, call):
        key = scalar_key(call.get("index", 0))
        function = obj(call.get("function"))
        call_id = call.get("id") if isinstance(call.get("id"), str) else None
        arguments = function.get("arguments")
        arguments = arguments if isinstance(arguments, str) else ""
        known = self._calls.get(key)
        if known is None or (call_id and call_id != known["id"]):
            # A new tool call: a new index, or a new id at a reused index (some upstreams send
            # every parallel call at index 0). An id repeated on every fragment is the same call.
            name = function.get("name") if isinstance(function.get("name"), str) else ""
            known = {"id": call_id or f"toolu_{uuid.uuid4().hex[:24]}", "name": name,
                     "parts": [], "state": "held"}
            self._calls[key] = known
            self._had_tool_use = True
            if self._must_hold():
                self._held.append(known)
            else:
                out = self._open_block("tool_use", self._tool_block(known))
                known["state"], self._live = "live", known
                return out + self._arguments(known, arguments)
        return self._arguments(known, arguments)

    def _arguments(self, call, arguments):
        """A fragment of call's arguments: streamed when the call is live, kept when it is
        held, left out when its block has closed (see the class docstring)."""
        if not arguments or call["state"] == "closed":
            return []
        call["parts"].append(arguments)
        return [self._delta("tool_use", arguments)] if call["state"] == "live" else []

    @staticmethod
    def _tool_block(call):
        return {"type": "tool_use", "id": call["id"], "name": call["name"], "input": {}}

    def _whole(self, item):
        """A held item as one whole block."""
        kind = item.get("kind", "tool_use")
        block = self._tool_block(item) if kind == "tool_use" else dict(_EMPTY_BLOCKS[kind])
        out = self._open_block(kind, block)
        text = "".join(item["parts"])
        if text:
            out.append(self._delta(kind, text))
        return out + self._close()
