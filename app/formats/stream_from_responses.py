"""Responses API stream events in → OpenAI chat.completion.chunk dicts out (the streamed form of
response_from_responses.py; same chunk shape as stream_to_openai.AnthropicToOpenAIStream).

- The first chunk (role "assistant") goes out with the first output item, not on
  response.created: a response that fails before saying anything still raises before any chunk,
  so the pipeline's priming read answers its real HTTP status (and may retry elsewhere).
- response.output_text.delta → content (with logprobs when the vendor sends them);
  response.refusal.delta → refusal; reasoning summary (else reasoning text) deltas →
  reasoning_content, summary parts and items separated by a blank line.
- function_call / custom_tool_call items → tool_calls, indexed in order of appearance: id
  (= call_id), type and name when the item is added, then each argument fragment as received; a
  call whose arguments stay empty gets "{}". A vendor that sends no deltas still gets its text,
  reasoning and arguments out, from the finished items.
- At the end, ONE chunk with every reasoning item whole in `thinking_blocks` (signature carrying
  the item, as in the non-streamed translation; one chunk because the OpenAI SDK's accumulator
  merges a list without "index" keys only once), one with the url_citation `annotations`, then
  the finish chunk, and with include_usage the usage chunk (finish()).
- response.failed and `error` events raise the GatewayError they mean (openai_responses.error_of).
"""
import time
import uuid

from .openai_responses import error_of
from .response_from_responses import (
    chat_annotation,
    chat_logprob,
    finish_reason,
    reasoning_text,
    responses_usage_to_chat,
    thinking_block,
    tool_call_of,
)
from .translate_blocks import dicts, obj, scalar_key, text_of

CALL_ITEMS = ("function_call", "custom_tool_call")
TERMINAL_EVENTS = ("response.completed", "response.incomplete")


class ResponsesToChatStream:
    """Responses stream events in → OpenAI chat.completion.chunk dicts out. model is the upstream
    model the gateway sent; the chunks carry the model the response names, that one only when it
    names none."""

    def __init__(self, model, include_usage, completion_id=None, created=None):
        self.model = model
        self.include_usage = include_usage
        self.completion_id = completion_id or f"chatcmpl-{uuid.uuid4().hex[:24]}"
        self.created = int(time.time()) if created is None else created
        self._usage = {}
        self._started = False
        self._items = {}  # output_index → state of the item
        self._tool_count = 0
        self._reasoning_sent = False
        self._reasoning_items = []  # whole reasoning items, in order
        self._annotations = []
        self.finished = False

    @property
    def usage(self):
        """The Responses usage of the finished response (raw dict), for accounting."""
        return dict(self._usage)

    def _chunk(self, delta, finish_reason=None, logprobs=None):
        out = {"id": self.completion_id, "object": "chat.completion.chunk",
               "created": self.created, "model": self.model,
               "choices": [{"index": 0, "delta": delta, "logprobs": logprobs,
                            "finish_reason": finish_reason}]}
        if self.include_usage:
            out["usage"] = None
        return out

    def _out(self, delta, logprobs=None):
        """A content chunk, preceded by the role chunk when it is the first."""
        chunks = [] if self._started else [self._chunk({"role": "assistant", "content": ""})]
        self._started = True
        return chunks + [self._chunk(delta, logprobs=logprobs)] if delta else chunks

    def feed(self, event, data):
        data = obj(data)
        kind = data.get("type") or event
        if kind == "error":
            raise error_of(obj(data.get("error")) or data)
        if kind in ("response.failed", "response.created", "response.in_progress",
                    "response.queued", *TERMINAL_EVENTS):
            response = obj(data.get("response"))
            if isinstance(response.get("model"), str) and response["model"]:
                self.model = response["model"]
            if kind == "response.failed":
                raise error_of(obj(response.get("error")))
            return self._finish(response) if kind in TERMINAL_EVENTS else []
        index = scalar_key(data.get("output_index"))
        if kind == "response.output_item.added":
            return self._item_added(index, obj(data.get("item")))
        if kind == "response.output_item.done":
            return self._item_done(index, obj(data.get("item")))
        state = self._items.get(index)
        delta = text_of(data.get("delta"))
        if state is None or not delta:
            return []
        if kind == "response.output_text.delta":
            state["text"] = True
            logprobs = [chat_logprob(entry) for entry in dicts(data.get("logprobs"))]
            return self._out({"content": delta},
                             {"content": logprobs, "refusal": None} if logprobs else None)
        if kind == "response.refusal.delta":
            state["text"] = True
            return self._out({"refusal": delta})
        if kind in ("response.function_call_arguments.delta",
                    "response.custom_tool_call_input.delta") and "tool_index" in state:
            state["arguments"] = True
            return self._out({"tool_calls": [self._call_delta(state, delta)]})
        if kind == "response.reasoning_summary_text.delta":
            return self._reasoning(state, ("summary", data.get("summary_index")), delta)
        if kind == "response.reasoning_text.delta" and not state.get("summary"):
            return self._reasoning(state, ("content", data.get("content_index")), delta)
        return []  # content_part, *.done, annotations (taken from the items), hosted tools

    def finish(self):
        if not self.include_usage:
            return []
        return [{"id": self.completion_id, "object": "chat.completion.chunk",
                 "created": self.created, "model": self.model, "choices": [],
                 "usage": responses_usage_to_chat(self._usage)}]

    def _item_added(self, index, item):
        kind = item.get("type")
        state = self._items[index] = {"type": kind, "text": False, "arguments": False,
                                      "part": None}
        if kind not in CALL_ITEMS:
            return self._out({}) if kind in ("message", "reasoning") else []
        state["tool_index"] = self._tool_count
        state["call"] = "function" if kind == "function_call" else "custom"
        self._tool_count += 1
        call = tool_call_of(item)
        initial = item.get("arguments" if kind == "function_call" else "input")
        state["arguments"] = bool(initial)
        inner = {"name": item.get("name")}
        inner["arguments" if kind == "function_call" else "input"] = text_of(initial)
        return self._out({"tool_calls": [{"index": state["tool_index"], "id": call["id"],
                                          "type": call["type"], call["type"]: inner}]})

    def _call_delta(self, state, fragment):
        key = "arguments" if state["call"] == "function" else "input"
        return {"index": state["tool_index"], state["call"]: {key: fragment}}

    def _reasoning(self, state, part, text):
        # a new summary part, or a new reasoning item, is separated by a blank line
        separator = "\n\n" if state["part"] != part and self._reasoning_sent else ""
        state["part"] = part
        state["summary"] = state.get("summary") or part[0] == "summary"
        self._reasoning_sent = True
        return self._out({"reasoning_content": separator + text})

    def _item_done(self, index, item):
        state = self._items.get(index)
        out = [] if state is not None else self._item_added(index, item)
        state = self._items[index]
        kind = item.get("type")
        if kind == "reasoning":
            self._reasoning_items.append(item)
            text = reasoning_text(item)
            if state["part"] is None and text:
                out += self._reasoning(state, ("item", index), text)
        elif kind == "message":
            for part in dicts(item.get("content")):
                self._annotations += filter(None, map(chat_annotation,
                                                      dicts(part.get("annotations"))))
            if not state["text"]:
                out += self._missed_text(item)
        elif kind in CALL_ITEMS and not state["arguments"]:
            state["arguments"] = True
            call = tool_call_of(item)
            fragment = call[call["type"]]["arguments" if call["type"] == "function" else "input"]
            if fragment:
                out += self._out({"tool_calls": [self._call_delta(state, fragment)]})
        return out

    def _missed_text(self, item):
        """The text and refusal of a message item whose deltas never came."""
        out = []
        for part in dicts(item.get("content")):
            if part.get("type") == "output_text" and text_of(part.get("text")):
                out += self._out({"content": part["text"]})
            elif part.get("type") == "refusal" and text_of(part.get("refusal")):
                out += self._out({"refusal": part["refusal"]})
        return out

    def _finish(self, response):
        if self.finished:
            return []
        self.finished = True
        self._usage = obj(response.get("usage"))
        out = self._out({})
        output = dicts(response.get("output"))
        reasoning = [item for item in output if item.get("type") == "reasoning"]
        blocks = [thinking_block(item) for item in reasoning or self._reasoning_items]
        if blocks:
            out.append(self._chunk({"thinking_blocks": blocks}))
        if self._annotations:
            out.append(self._chunk({"annotations": self._annotations}))
        had_calls = self._tool_count > 0 or any(item.get("type") in CALL_ITEMS for item in output)
        return out + [self._chunk({}, finish_reason(response, had_calls))]
