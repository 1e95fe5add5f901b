"""Anthropic stream events in → OpenAI chat.completion.chunk dicts out (translate_stream.py)."""
import time
import uuid

import orjson

from ..errors import UpstreamError, UpstreamOverloaded
from .translate_blocks import obj as _object
from .translate_blocks import scalar_key as _key
from .translate_response import anthropic_stop_to_openai, anthropic_usage_to_openai


class AnthropicToOpenAIStream:
    """Anthropic stream events in → OpenAI chat.completion.chunk dicts out.

    thinking → delta.reasoning_content (several thinking blocks joined by a blank line, as in the
    non-streamed translation). The thinking blocks also travel whole, signatures intact, in
    delta.thinking_blocks so that clients which send the history back keep the signatures: all of
    them in ONE chunk just before the finish chunk, because the OpenAI SDK's accumulator merges a
    list delta without "index" keys only once (a second one raises RuntimeError), and an "index"
    key would be sent back to Anthropic, which rejects unknown block fields.

    A tool call whose input stays empty gets the arguments "{}" when its block stops (JSON, as
    in the non-streamed translation; "" is not). model is the upstream model the gateway sent;
    the chunks carry the model message_start names, that one only when it names none.
    """

    def __init__(self, model, include_usage, completion_id=None, created=None):
        self.model = model
        self.include_usage = include_usage
        self.completion_id = completion_id or f"chatcmpl-{uuid.uuid4().hex[:24]}"
        self.created = int(time.time()) if created is None else created
        self._usage = {}  # message_start usage, overwritten by message_delta's non-null fields
        self._blocks = {}  # Anthropic block index → state dict
        self._tool_count = 0
        self._thinking_blocks = []  # whole thinking / redacted_thinking blocks, in order
        self._reasoning_sent = False

    @property
    def usage(self):
        """The Anthropic usage so far (raw Anthropic dict), for the caller's accounting."""
        return dict(self._usage)

    def _chunk(self, delta, finish_reason=None):
        out = {
            "id": self.completion_id, "object": "chat.completion.chunk", "created": self.created,
            "model": self.model,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish_reason,
                         "logprobs": None}],
        }
        if self.include_usage:
            out["usage"] = None
        return out

    def feed(self, event, data):
        data = _object(data)
        kind = data.get("type") or event
        if kind == "error":
            error = _object(data.get("error"))
            message = error.get("message") or "Upstream error mid-stream."
            if error.get("type") == "overloaded_error":
                raise UpstreamOverloaded(message)
            raise UpstreamError(message)
        if kind == "message_start":
            message = _object(data.get("message"))
            if isinstance(message.get("model"), str) and message["model"]:
                self.model = message["model"]
            self._merge_usage(message.get("usage"))
            return [self._chunk({"role": "assistant", "content": ""})]
        if kind == "content_block_start":
            return self._block_start(_key(data.get("index")), _object(data.get("content_block")))
        if kind == "content_block_delta":
            return self._block_delta(_key(data.get("index")), _object(data.get("delta")))
        if kind == "content_block_stop":
            return self._block_stop(_key(data.get("index")))
        if kind == "message_delta":
            self._merge_usage(data.get("usage"))
            out = self._flush_thinking_blocks()
            stop_reason = _object(data.get("delta")).get("stop_reason")
            finish = "tool_calls" if self._tool_count else anthropic_stop_to_openai(stop_reason)
            return out + [self._chunk({}, finish)]
        return []  # ping, message_stop, and event types this surface has no words for

    def finish(self):
        if not self.include_usage:
            return []
        return [{"id": self.completion_id, "object": "chat.completion.chunk",
                 "created": self.created, "model": self.model, "choices": [],
                 "usage": anthropic_usage_to_openai(self._usage)}]

    def _merge_usage(self, usage):
        for key, value in _object(usage).items():
            if value is not None:
                self._usage[key] = value

    def _flush_thinking_blocks(self):
        blocks, self._thinking_blocks = self._thinking_blocks, []
        return [self._chunk({"thinking_blocks": blocks})] if blocks else []

    def _reasoning(self, state, text):
        # a later thinking block is separated from the previous one by a blank line
        separator = "\n\n" if not state["thinking"] and self._reasoning_sent else ""
        state["thinking"].append(text)
        self._reasoning_sent = True
        return [self._chunk({"reasoning_content": separator + text})]

    def _block_start(self, index, block):
        kind = block.get("type")
        state = self._blocks[index] = {"type": kind, "thinking": [], "signature": ""}
        if kind == "tool_use":
            state["tool_index"] = self._tool_count
            self._tool_count += 1
            initial = block.get("input")
            state["arguments"] = bool(initial)
            call = {"index": state["tool_index"], "id": block.get("id"), "type": "function",
                    "function": {"name": block.get("name"),
                                 "arguments": orjson.dumps(initial).decode() if initial else ""}}
            return [self._chunk({"tool_calls": [call]})]
        if kind == "text" and block.get("text"):
            return [self._chunk({"content": block["text"]})]
        if kind == "thinking":
            state["signature"] = block.get("signature") or ""
            if block.get("thinking"):
                return self._reasoning(state, block["thinking"])
        if kind == "redacted_thinking":
            self._thinking_blocks.append({"type": "redacted_thinking", "data": block.get("data")})
        return []  # server_tool_use, web_search_tool_result, ...: no OpenAI form

    def _block_delta(self, index, delta):
        state = self._blocks.get(index)
        kind = delta.get("type")
        if state is None:
            return []
        if kind == "text_delta" and delta.get("text"):
            return [self._chunk({"content": delta["text"]})]
        if kind == "input_json_delta" and "tool_index" in state and delta.get("partial_json"):
            state["arguments"] = True
            call = {"index": state["tool_index"],
                    "function": {"arguments": delta["partial_json"]}}
            return [self._chunk({"tool_calls": [call]})]
        if kind == "thinking_delta" and delta.get("thinking"):
            return self._reasoning(state, delta["thinking"])
        if kind == "signature_delta":
            state["signature"] = delta.get("signature") or ""  # whole, as the SDK keeps it
        return []

    def _block_stop(self, index):
        state = self._blocks.pop(index, None)
        if state and "tool_index" in state and not state["arguments"]:
            call = {"index": state["tool_index"], "function": {"arguments": "{}"}}
            return [self._chunk({"tool_calls": [call]})]
        if state and state["type"] == "thinking":
            self._thinking_blocks.append({"type": "thinking",
                                          "thinking": "".join(state["thinking"]),
                                          "signature": state["signature"]})
        return []
