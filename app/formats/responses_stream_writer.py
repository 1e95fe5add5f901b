"""The Responses stream a client reads, written event by event.

One writer per stream, fed by a translator (stream_to_responses.py) with what the upstream says:
reasoning text, answer text, a refusal, a function call and its argument fragments. The writer
keeps the documented sequence — `response.created`, `response.in_progress`; one item open at a
time, bracketed by `response.output_item.added` / `.done` (items close in the order they opened),
text parts by `response.content_part.added` / `.done`, reasoning summaries by
`response.reasoning_summary_part.added` / `.done`; then `response.completed` (or `.incomplete`,
`.failed`) whose `output` holds every item — and numbers every event (`sequence_number`, from 0).

A compaction (compaction.py) has one item, the summary: in compaction mode the writer keeps the
answer's text and writes it as that item at the end; reasoning and calls are left out.

Every method returns a list of (event name, data).
"""
from . import compaction
from .response_to_responses import (
    completed,
    message_item,
    new_id,
    reasoning_item,
    refusal_part,
    text_part,
)


class ResponsesStreamWriter:
    def __init__(self, shell, compaction=False):
        self.response = shell
        self.compaction = compaction
        self._summary = []  # the answer's text, in compaction mode
        self.output = []  # closed items, in order
        self._sequence = 0
        self._item = None  # the open item
        self._part = None  # its open content part (message) or summary part (reasoning)

    @property
    def next_sequence_number(self):
        return self._sequence

    def _event(self, name, /, **data):
        """(name, data); positional-only, as events carry a `name` field of their own (a
        function call's)."""
        event = {"type": name, "sequence_number": self._sequence, **data}
        self._sequence += 1
        return name, event

    def start(self, model=None):
        if model:
            self.response = {**self.response, "model": model}
        return [self._event("response.created", response=self.response),
                self._event("response.in_progress", response=self.response)]

    # --- items ---------------------------------------------------------------------------------

    def _open(self, item):
        if self.compaction:
            return []
        out = self.close()
        item["status"] = "in_progress"
        self._item = item
        return out + [self._event("response.output_item.added", output_index=len(self.output),
                                  item=_copy(item))]

    def close(self):
        """Close the open item (and its part), if any."""
        item = self._item
        if item is None:
            return []
        out = self._close_part()
        self._item = None
        if item["type"] == "function_call":
            out.append(self._event("response.function_call_arguments.done", item_id=item["id"],
                                   output_index=len(self.output), name=item["name"],
                                   arguments=item["arguments"]))
        elif item["type"] == "custom_tool_call":
            out.append(self._event("response.custom_tool_call_input.done", item_id=item["id"],
                                   output_index=len(self.output), input=item["input"]))
        if item["type"] != "reasoning":
            item["status"] = "completed"
        else:
            item.pop("status", None)
        out.append(self._event("response.output_item.done", output_index=len(self.output),
                               item=item))
        self.output.append(item)
        return out

    def _close_part(self):
        part, self._part = self._part, None
        if part is None:
            return []
        index = len(self.output)
        item = self._item
        if item["type"] == "reasoning":
            number = len(item["summary"]) - 1
            return [self._event("response.reasoning_summary_text.done", item_id=item["id"],
                                output_index=index, summary_index=number, text=part["text"]),
                    self._event("response.reasoning_summary_part.done", item_id=item["id"],
                                output_index=index, summary_index=number, part=dict(part))]
        number = len(item["content"]) - 1
        kind = part["type"]
        done = (self._event("response.output_text.done", item_id=item["id"], output_index=index,
                            content_index=number, text=part["text"], logprobs=[])
                if kind == "output_text" else
                self._event("response.refusal.done", item_id=item["id"], output_index=index,
                            content_index=number, refusal=part["refusal"]))
        return [done, self._event("response.content_part.done", item_id=item["id"],
                                  output_index=index, content_index=number, part=dict(part))]

    def _in_message(self, kind):
        """The open message item with an open part of kind (opening what is needed)."""
        out = []
        if self._item is None or self._item["type"] != "message":
            out += self._open(message_item([], new_id("msg")))
        if self._part is None or self._part["type"] != kind:
            out += self._close_part()
            part = text_part() if kind == "output_text" else refusal_part()
            self._item["content"].append(part)
            self._part = part
            out.append(self._event("response.content_part.added", item_id=self._item["id"],
                                   output_index=len(self.output),
                                   content_index=len(self._item["content"]) - 1, part=dict(part)))
        return out

    def text(self, delta):
        if self.compaction:
            self._summary.append(delta)
            return []
        out = self._in_message("output_text")
        self._part["text"] += delta
        return out + [self._event("response.output_text.delta", item_id=self._item["id"],
                                  output_index=len(self.output),
                                  content_index=len(self._item["content"]) - 1, delta=delta,
                                  logprobs=[])]

    def refusal(self, delta):
        if self.compaction:
            return []
        out = self._in_message("refusal")
        self._part["refusal"] += delta
        return out + [self._event("response.refusal.delta", item_id=self._item["id"],
                                  output_index=len(self.output),
                                  content_index=len(self._item["content"]) - 1, delta=delta)]

    def reasoning(self, delta, new_item=False):
        """Reasoning summary text; new_item starts another reasoning item."""
        if self.compaction:
            return []
        out = []
        if new_item or self._item is None or self._item["type"] != "reasoning":
            out += self._open(reasoning_item([], item_id=new_id("rs")))
        if self._part is None:
            part = {"type": "summary_text", "text": ""}
            self._item["summary"].append(part)
            self._part = part
            out.append(self._event("response.reasoning_summary_part.added",
                                   item_id=self._item["id"], output_index=len(self.output),
                                   summary_index=len(self._item["summary"]) - 1,
                                   part=dict(part)))
        self._part["text"] += delta
        return out + [self._event("response.reasoning_summary_text.delta",
                                  item_id=self._item["id"], output_index=len(self.output),
                                  summary_index=len(self._item["summary"]) - 1, delta=delta)]

    def open_reasoning(self):
        """Start a reasoning item (its summary text may follow)."""
        return self._open(reasoning_item([], item_id=new_id("rs")))

    def reasoning_item(self, encrypted_content):
        """Close the open reasoning item with its encrypted content (a whole new item when none
        is open)."""
        if self.compaction:
            return []
        out = []
        if self._item is None or self._item["type"] != "reasoning":
            out += self.open_reasoning()
        self._item["encrypted_content"] = encrypted_content
        return out + self.close()

    def call(self, item):
        """Open a function_call (or custom_tool_call) item: {"type", "call_id", "name", …}."""
        prefix = "fc" if item["type"] == "function_call" else "ctc"
        item = {"id": new_id(prefix), **item}
        item.setdefault("arguments" if item["type"] == "function_call" else "input", "")
        return self._open(item)

    def arguments(self, delta):
        item = self._item
        if item is None:  # compaction mode: no call is open
            return []
        if item["type"] == "custom_tool_call":
            item["input"] += delta
            return [self._event("response.custom_tool_call_input.delta", item_id=item["id"],
                                output_index=len(self.output), delta=delta)]
        item["arguments"] += delta
        return [self._event("response.function_call_arguments.delta", item_id=item["id"],
                            output_index=len(self.output), delta=delta)]

    @property
    def open_call(self):
        item = self._item
        return item if item is not None and item["type"].endswith("call") else None

    # --- the end ---------------------------------------------------------------------------------

    def finish(self, usage, incomplete_reason=None):
        out = self.close()
        if self.compaction:
            summary = compaction.item("".join(self._summary))
            index = len(self.output)
            self.output.append(summary)
            out += [self._event("response.output_item.added", output_index=index, item=summary),
                    self._event("response.output_item.done", output_index=index, item=summary)]
        self.response = completed(self.response, self.output, usage, incomplete_reason)
        name = "response.incomplete" if incomplete_reason else "response.completed"
        return out + [self._event(name, response=self.response)]

    def failed(self, error):
        """The stream failed after it began: what is open closes, then `response.failed`."""
        out = self.close()
        body = error.openai_body()["error"]
        self.response = {**self.response, "status": "failed", "output": self.output,
                         "error": {"code": body["code"] or "server_error",
                                   "message": body["message"]}}
        return out + [self._event("response.failed", response=self.response)]


def _copy(item):
    """An item as announced when it opens (later changes to the open item do not show)."""
    copy = dict(item)
    for key in ("content", "summary"):
        if key in copy:
            copy[key] = [dict(part) for part in copy[key]]
    return copy
