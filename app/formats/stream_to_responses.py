"""Upstream streams → the Responses stream a client reads (responses_stream_writer.py).

Two translators feed one writer: Chat Completions chunks (OpenAI-format vendors) and Anthropic
events. Anthropic's blocks map one to one onto Responses items (thinking → a reasoning item whose
encrypted_content carries the signed block, text → a message, tool_use → a function call), so they
stream live. Chat tool calls may interleave by index, Responses items may not: a call streams live
while nothing else arrives before its arguments are complete JSON; output arriving meanwhile (a
second call, text) is held and follows whole when the live call ends — every item arrives whole,
in order, opened and closed once. Calls of `custom` tools (sent upstream as functions taking
{"input": …}) are held too and come out as custom_tool_call items with the input unwrapped.

Frame generators (`responses_from_chat`, `responses_from_anthropic`) produce the SSE bytes; the
first frame only after the upstream's first event, so the pipeline's priming read still sees an
upstream that fails before saying anything.
"""
import orjson

from . import anthropic_messages, openai_chat
from .openai_responses import frame
from .reasoning_carry import thinking_in_encrypted_content
from .response_to_responses import (
    incomplete_reason_of_anthropic,
    incomplete_reason_of_chat,
    usage_from_anthropic,
    usage_from_chat,
)
from .translate_blocks import dicts, obj, scalar_key, text_of


def _complete_json(text):
    try:
        orjson.loads(text)
    except orjson.JSONDecodeError:
        return False
    return True


class ChatToResponsesStream:
    def __init__(self, writer, tool_names):
        self.writer = writer
        self.names = tool_names
        self.usage = None
        self.finish_reason = None
        self._calls = {}  # chat tool-call index → {"id", "name", "arguments"}
        self._live = None  # the index of the call streaming live
        self._held = []  # ("call", index) | ("text"|"refusal"|"reasoning", [text]) in order
        self._started = False

    def start(self, chunk=None):
        """response.created and .in_progress, once; chunk is the upstream's first."""
        if self._started:
            return []
        self._started = True
        model = obj(chunk).get("model")
        return self.writer.start(model if isinstance(model, str) else None)

    def feed(self, chunk):
        if isinstance(chunk.get("usage"), dict):
            self.usage = chunk["usage"]
        out = []
        for choice in dicts(chunk.get("choices")):
            if choice.get("index", 0) != 0:
                continue
            delta = obj(choice.get("delta"))
            for key, kind in (("reasoning_content", "reasoning"), ("reasoning", "reasoning"),
                              ("content", "text"), ("refusal", "refusal")):
                if text_of(delta.get(key)):
                    out += self._output(kind, delta[key])
            for call in dicts(delta.get("tool_calls")):
                out += self._call(call)
            if choice.get("finish_reason"):
                self.finish_reason = choice["finish_reason"]
        return out

    def _output(self, kind, text):
        if self._held or self._live_incomplete():
            if self._held and self._held[-1][0] == kind:
                self._held[-1][1].append(text)
            else:
                self._held.append((kind, [text]))
            return []
        self._live = None
        return getattr(self.writer, kind)(text)

    def _live_incomplete(self):
        return self._live is not None and not _complete_json(self._calls[self._live]["arguments"])

    def _call(self, call):
        index = scalar_key(call.get("index"))
        function = obj(call.get("function"))
        fragment = text_of(function.get("arguments"))
        state = self._calls.get(index)
        if state is None:
            state = self._calls[index] = {"id": call.get("id"), "name": function.get("name"),
                                          "arguments": ""}
            custom = state["name"] in self.names.custom
            if self._held or self._live_incomplete() or custom:
                self._held.append(("call", index))
                state["arguments"] += fragment
                return []
            self._live = index
            state["arguments"] += fragment
            out = self.writer.call(self._item(state))
            return out + (self.writer.arguments(fragment) if fragment else [])
        if not state["name"] and function.get("name"):
            state["name"] = function["name"]
        if index != self._live:
            state["arguments"] += fragment
            return []
        if _complete_json(state["arguments"]) and fragment:
            return []  # it would only make complete arguments invalid
        state["arguments"] += fragment
        return self.writer.arguments(fragment) if fragment else []

    def _item(self, state, whole=False):
        item = self.names.item_of_call(state["id"], state["name"] or "", state["arguments"])
        if not whole:
            item["arguments" if item["type"] == "function_call" else "input"] = ""
        return item

    def finish(self):
        out = []
        if self._live is not None and not self._calls[self._live]["arguments"]:
            out += self.writer.arguments("{}")
        for kind, value in self._held:
            if kind == "call":
                state = self._calls[value]
                state["arguments"] = state["arguments"] or "{}"
                item = self._item(state, whole=True)
                body = item.pop("arguments" if item["type"] == "function_call" else "input")
                out += self.writer.call(item) + self.writer.arguments(body)
            else:
                out += getattr(self.writer, kind)("".join(value))
        self._held = []
        return out + self.writer.finish(usage_from_chat(self.usage),
                                        incomplete_reason_of_chat(self.finish_reason))


class AnthropicToResponsesStream:
    def __init__(self, writer, tool_names):
        self.writer = writer
        self.names = tool_names
        self.usage = {}
        self.stop_reason = None
        self._blocks = {}  # Anthropic block index → its state

    def feed(self, name, data):
        kind = data.get("type") or name
        if kind == "message_start":
            message = obj(data.get("message"))
            self._merge_usage(message.get("usage"))
            model = message.get("model")
            return self.writer.start(model if isinstance(model, str) and model else None)
        if kind == "content_block_start":
            return self._start(scalar_key(data.get("index")), obj(data.get("content_block")))
        if kind == "content_block_delta":
            return self._delta(self._blocks.get(scalar_key(data.get("index"))),
                               obj(data.get("delta")))
        if kind == "content_block_stop":
            return self._stop(self._blocks.pop(scalar_key(data.get("index")), None))
        if kind == "message_delta":
            self._merge_usage(data.get("usage"))
            self.stop_reason = obj(data.get("delta")).get("stop_reason") or self.stop_reason
        return []

    def _merge_usage(self, usage):
        self.usage.update({k: v for k, v in obj(usage).items() if v is not None})

    def _start(self, index, block):
        kind = block.get("type")
        state = self._blocks[index] = {"type": kind, "text": "", "signature": "",
                                       "arguments": ""}
        if kind == "text":
            return self.writer.text(block["text"]) if text_of(block.get("text")) else []
        if kind == "thinking":
            state["signature"] = text_of(block.get("signature"))
            out = self.writer.open_reasoning()
            return out + self._thinking(state, text_of(block.get("thinking")))
        if kind == "redacted_thinking":
            return self.writer.reasoning_item(thinking_in_encrypted_content(
                {"type": "redacted_thinking", "data": block.get("data")}))
        if kind == "tool_use":
            state["call"] = {"id": block.get("id"), "name": block.get("name")}
            state["arguments"] = orjson.dumps(block["input"]).decode() \
                if block.get("input") else ""
            if block.get("name") in self.names.custom:
                return []  # held: the input comes out whole, unwrapped, at the block's stop
            item = self.names.item_of_call(block.get("id"), block.get("name"), "")
            out = self.writer.call(item)
            return out + (self.writer.arguments(state["arguments"]) if state["arguments"] else [])
        return []  # server tool use and its results: no Responses item here

    def _thinking(self, state, text):
        state["text"] += text
        return self.writer.reasoning(text) if text else []

    def _delta(self, state, delta):
        if state is None:
            return []
        kind = delta.get("type")
        if kind == "text_delta" and text_of(delta.get("text")):
            return self.writer.text(delta["text"])
        if kind == "thinking_delta" and text_of(delta.get("thinking")):
            return self._thinking(state, delta["thinking"])
        if kind == "signature_delta":
            state["signature"] = text_of(delta.get("signature"))
        if kind == "input_json_delta" and "call" in state and text_of(delta.get("partial_json")):
            state["arguments"] += delta["partial_json"]
            if state["call"]["name"] not in self.names.custom:
                return self.writer.arguments(delta["partial_json"])
        return []

    def _stop(self, state):
        if state is None:
            return []
        if state["type"] == "thinking":
            block = {"type": "thinking", "thinking": state["text"],
                     "signature": state["signature"]}
            return self.writer.reasoning_item(thinking_in_encrypted_content(block))
        if "call" in state:
            call = state["call"]
            if call["name"] in self.names.custom:
                item = self.names.item_of_call(call["id"], call["name"],
                                               state["arguments"] or "{}")
                text = item.pop("input")
                return self.writer.call(item) + self.writer.arguments(text) + self.writer.close()
            out = [] if state["arguments"] else self.writer.arguments("{}")
            return out + self.writer.close()
        return []

    def finish(self):
        return self.writer.finish(usage_from_anthropic(self.usage),
                                  incomplete_reason_of_anthropic(self.stop_reason))


def _frames(events):
    for name, data in events:
        yield frame(name, data)


def responses_from_chat(events, meter, writer, tool_names, keep):
    """OpenAI chunks from the vendor → Responses events for the client. keep(response) gets the
    finished response object before the frame that carries it leaves."""
    translator = ChatToResponsesStream(writer, tool_names)
    yield from _frames(openai_chat.translated(events, meter, translator))
    last = translator.finish()
    keep(writer.response)
    yield from _frames(last)


def responses_from_anthropic(events, meter, writer, tool_names, keep):
    """Anthropic events from the vendor → Responses events for the client (keep: as above)."""
    translator = AnthropicToResponsesStream(writer, tool_names)
    for _, name, data in anthropic_messages.events_of(events):
        meter.observe(name, data)
        yield from _frames(translator.feed(name, data))
    last = translator.finish()
    keep(writer.response)
    yield from _frames(last)
