"""Streaming translation between OpenAI chat.completion.chunk dicts and Anthropic stream events.

Pure state machines on plain dicts: the caller reads the upstream's SSE, parses each event, feeds
it in, and encodes what comes out (DESIGN §4, "Wire formats clients rely on").
"""
import json
import time
import uuid

from ..errors import UpstreamError, UpstreamOverloaded
from .translate_response import (
    anthropic_stop_to_openai,
    anthropic_usage_to_openai,
    openai_stop_to_anthropic,
    openai_usage_to_anthropic,
)


def _event(name, **data):
    return name, {"type": name, **data}


def _object(value):
    """A JSON object of an upstream chunk or event; anything else reads as empty, so a malformed
    upstream stream yields less output, never a crash."""
    return value if isinstance(value, dict) else {}


def _objects(value):
    return [item for item in value if isinstance(item, dict)] if isinstance(value, list) else []


def _key(value):
    """An index from an upstream chunk, usable as a dict key (None when it is not a scalar)."""
    return value if isinstance(value, (int, str)) and not isinstance(value, bool) else None


class OpenAIToAnthropicStream:
    """OpenAI chat.completion.chunk dicts in → Anthropic stream events out, as (event_name, data).

    Content blocks are opened lazily as output arrives (thinking, text, one per tool call) and
    closed when the kind of output changes; indexes count from 0 in emission order. Empty deltas
    open nothing, so an empty answer is message_start, ping, message_delta, message_stop with no
    content block (as Anthropic sends it: an empty text block would be rejected if a client sent
    the history back).
    """

    def __init__(self, model, input_tokens, message_id=None):
        self.model = model
        self.input_tokens = input_tokens or 0
        self.message_id = message_id or f"msg_{uuid.uuid4().hex[:24]}"
        self.usage = None  # the last raw OpenAI usage seen, for the caller's accounting
        self.finish_reason = None
        self.dropped_tool_fragments = 0  # argument fragments for an already-closed tool block
        self._started = False
        self._next_index = 0
        self._open = None  # (kind, block_index, tool_key or None) of the open block
        self._tools = {}  # OpenAI tool-call index → (block index, call id)
        self._had_tool_use = False

    def start(self):
        if self._started:
            return []
        self._started = True
        message = {
            "id": self.message_id, "type": "message", "role": "assistant", "model": self.model,
            "content": [], "stop_reason": None, "stop_sequence": None,
            "usage": {"input_tokens": self.input_tokens, "output_tokens": 0,
                      "cache_read_input_tokens": 0, "cache_creation_input_tokens": 0},
        }
        return [_event("message_start", message=message), _event("ping")]

    def feed(self, chunk):
        chunk = _object(chunk)
        if "error" in chunk and chunk["error"]:
            error = chunk["error"]
            message = error.get("message") if isinstance(error, dict) else str(error)
            raise UpstreamError(f"Upstream error mid-stream: {message}")
        out = self.start()
        if chunk.get("usage"):
            self.usage = chunk["usage"]
        for choice in _objects(chunk.get("choices")):
            if choice.get("index", 0) != 0:
                continue  # n > 1 has no Anthropic equivalent: only the first choice is relayed
            delta = _object(choice.get("delta"))
            reasoning = delta.get("reasoning_content") or delta.get("reasoning")
            if isinstance(reasoning, str) and reasoning:
                out += self._open_block("thinking")
                out.append(self._delta({"type": "thinking_delta", "thinking": reasoning}))
            for key in ("content", "refusal"):  # a refusal's text is the answer's text
                if isinstance(delta.get(key), str) and delta[key]:
                    out += self._open_block("text")
                    out.append(self._delta({"type": "text_delta", "text": delta[key]}))
            for call in _objects(delta.get("tool_calls")):
                out += self._tool_fragment(call)
            if choice.get("finish_reason"):
                self.finish_reason = choice["finish_reason"]
        return out

    def finish(self):
        out = self.start() + self._close()
        stop_reason = openai_stop_to_anthropic(self.finish_reason, self._had_tool_use)
        usage = openai_usage_to_anthropic(self.usage) if self.usage else {"output_tokens": 0}
        out.append(_event("message_delta",
                          delta={"stop_reason": stop_reason, "stop_sequence": None},
                          usage=usage))
        out.append(_event("message_stop"))
        return out

    # -- blocks ------------------------------------------------------------------------------

    def _delta(self, delta):
        return _event("content_block_delta", index=self._open[1], delta=delta)

    def _close(self):
        if self._open is None:
            return []
        index = self._open[1]
        self._open = None
        return [_event("content_block_stop", index=index)]

    def _open_block(self, kind, tool_key=None, content_block=None):
        if self._open is not None and self._open[0] == kind and self._open[2] == tool_key:
            return []
        out = self._close()
        index = self._next_index
        self._next_index += 1
        self._open = (kind, index, tool_key)
        if content_block is None:
            content_block = ({"type": "text", "text": ""} if kind == "text"
                             else {"type": "thinking", "thinking": "", "signature": ""})
        out.append(_event("content_block_start", index=index, content_block=content_block))
        return out

    def _tool_fragment(self, call):
        key = _key(call.get("index", 0))
        function = _object(call.get("function"))
        call_id = call.get("id") if isinstance(call.get("id"), str) else None
        known = self._tools.get(key)
        out = []
        if known is None or (call_id and call_id != known[1]):
            # A new tool call: a new index, or a new id at a reused index (some upstreams send
            # every parallel call at index 0). An id repeated on every fragment is the same call.
            call_id = call_id or f"toolu_{uuid.uuid4().hex[:24]}"
            self._tools[key] = (self._next_index, call_id)
            name = function.get("name") if isinstance(function.get("name"), str) else ""
            block = {"type": "tool_use", "id": call_id, "name": name, "input": {}}
            out += self._open_block("tool_use", (key, call_id), block)
            self._had_tool_use = True
        elif self._open is None or self._open[1] != known[0]:
            # Interleaved parallel calls (rare): this call's block is already closed and
            # Anthropic has no way to reopen a block, so the fragment is dropped and counted
            # (the caller may log dropped_tool_fragments). Never crash the stream over it.
            if function.get("arguments"):
                self.dropped_tool_fragments += 1
            return out
        arguments = function.get("arguments")
        if isinstance(arguments, str) and arguments:
            out.append(self._delta({"type": "input_json_delta", "partial_json": arguments}))
        return out


class AnthropicToOpenAIStream:
    """Anthropic stream events in → OpenAI chat.completion.chunk dicts out.

    thinking → delta.reasoning_content (several thinking blocks joined by a blank line, as in the
    non-streamed translation). The thinking blocks also travel whole, signatures intact, in
    delta.thinking_blocks so that clients which send the history back keep the signatures: all of
    them in ONE chunk just before the finish chunk, because the OpenAI SDK's accumulator merges a
    list delta without "index" keys only once (a second one raises RuntimeError), and an "index"
    key would be sent back to Anthropic, which rejects unknown block fields.
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
            self._merge_usage(_object(data.get("message")).get("usage"))
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
            call = {"index": state["tool_index"], "id": block.get("id"), "type": "function",
                    "function": {"name": block.get("name"),
                                 "arguments": json.dumps(initial) if initial else ""}}
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
        if state and state["type"] == "thinking":
            self._thinking_blocks.append({"type": "thinking",
                                          "thinking": "".join(state["thinking"]),
                                          "signature": state["signature"]})
        return []
