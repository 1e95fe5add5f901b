"""Helpers of the Responses surface's end-to-end tests (tests/test_responses_*.py): the three
routes of a Responses client (gpt-test: a Chat Completions upstream, claude-test: an Anthropic
one, resp-test: a Responses one), each scripted in its own wire format, and the checks every
Responses stream must pass."""
import json

from tests.mock_responses import responses_events, responses_object
from tests.mock_upstream import (
    Reply,
    Stream,
    anthropic_events,
    anthropic_message,
    openai_chunks,
    openai_completion,
)

ROUTES = {"chat": "gpt-test", "anthropic": "claude-test", "responses": "resp-test"}
UPSTREAM_MODEL = {"chat": "gpt-upstream", "anthropic": "claude-upstream",
                  "responses": "resp-upstream"}
VENDORS = list(ROUTES)
STREAMS = [False, True]
PNG = ("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5E"
       "rkJggg==")


def script(upstream, vendor, stream, text="", calls=(), usage=(20, 7, 4), reasoning_tokens=0,
           length=False, split=None):
    """The vendor answers in its own format. usage: (whole prompt, output, cached) — the same
    Responses usage on every route; calls: [(call_id, name, arguments_json)]; length: the
    answer hit its max output tokens."""
    prompt, output, cached = usage
    model = UPSTREAM_MODEL[vendor]
    calls = list(calls) or None
    if vendor == "chat":
        finish = "length" if length else None
        if stream:
            events = openai_chunks(text, model, tool_calls=calls, usage=usage, split=split,
                                   finish_reason=finish)
            events[-2][1]["usage"]["completion_tokens_details"] = {
                "reasoning_tokens": reasoning_tokens}
            upstream.script(Stream(events))
        else:
            answer = openai_completion(text, model, tool_calls=calls, usage=usage,
                                       finish_reason=finish)
            answer["usage"]["completion_tokens_details"] = {"reasoning_tokens": reasoning_tokens}
            upstream.script(Reply(json=answer))
    elif vendor == "anthropic":
        uses = [(i, n, json.loads(a) if a else {}) for i, n, a in calls or ()] or None
        stop = "max_tokens" if length else None
        anthropic_usage = (prompt - cached, output, cached)
        upstream.script(Stream(anthropic_events(text, model, tool_uses=uses, usage=anthropic_usage,
                                                split=split, stop_reason=stop)) if stream
                        else Reply(json=anthropic_message(text, model, tool_uses=uses,
                                                          usage=anthropic_usage,
                                                          stop_reason=stop)))
    else:
        status = "incomplete" if length else "completed"
        responses_usage = (prompt, output, cached, reasoning_tokens)
        upstream.script(Stream(responses_events(text, model, tool_calls=calls,
                                                usage=responses_usage, status=status,
                                                split=split)) if stream
                        else Reply(json=responses_object(text, model, tool_calls=calls,
                                                         usage=responses_usage, status=status)))


def ask(client, stream, **request):
    """The final response object (and the stream's events, [] when not streamed) through the
    SDK: responses.create, or responses.stream and its accumulator; responses.parse when
    text_format is given."""
    if stream:
        with client.responses.stream(**request) as events:
            seen = list(events)
            return events.get_final_response(), seen
    if "text_format" in request:
        return client.responses.parse(**request), []
    return client.responses.create(**request), []


def raw_events(client, **request):
    """The raw events of responses.create(stream=True), and the request id of the answer."""
    raw = client.responses.with_raw_response.create(stream=True, **request)
    return list(raw.parse()), raw.headers["x-request-id"]


def check_stream(events):
    """The documented Responses stream: created, in_progress, every item bracketed by
    output_item.added/.done and closed in the order it opened, parts by content_part.added/
    .done, deltas only inside an open item, sequence numbers strictly increasing, and a terminal
    event whose output is every closed item, text and arguments equal to the deltas. Returns
    the terminal event's response."""
    kinds = [e.type for e in events]
    assert kinds[:2] == ["response.created", "response.in_progress"], kinds
    assert kinds[-1] in ("response.completed", "response.incomplete"), kinds
    numbers = [e.sequence_number for e in events]
    assert all(a < b for a, b in zip(numbers, numbers[1:], strict=False)), numbers
    assert events[0].response.status == "in_progress" and events[0].response.output == []
    opened, done, parts = [], [], {}
    texts, arguments = {}, {}
    for event in events[2:-1]:
        kind = event.type
        if kind == "response.output_item.added":
            assert event.output_index == len(opened), (event.output_index, len(opened))
            assert len(opened) == len(done), "an item opened while another was open"
            opened.append(event.item.id)
        elif kind == "response.output_item.done":
            assert opened and len(done) < len(opened), "done without added"
            assert event.item.id == opened[len(done)] and event.output_index == len(done)
            assert not parts.get(event.item.id), "an item closed with a part open"
            done.append(event.item)
        else:
            item_id = getattr(event, "item_id", None)
            assert item_id is not None, kind
            assert len(opened) == len(done) + 1 and opened[-1] == item_id, \
                f"{kind} outside its open item"
            if kind == "response.content_part.added":
                assert not parts.get(item_id)
                parts[item_id] = True
            elif kind == "response.content_part.done":
                assert parts.get(item_id)
                parts[item_id] = False
            elif kind == "response.output_text.delta":
                assert parts.get(item_id)
                key = (item_id, event.content_index)
                texts[key] = texts.get(key, "") + event.delta
            elif kind == "response.output_text.done":
                assert texts.get((item_id, event.content_index), "") == event.text
            elif kind == "response.function_call_arguments.delta":
                arguments[item_id] = arguments.get(item_id, "") + event.delta
            elif kind == "response.function_call_arguments.done":
                assert arguments.get(item_id, "") == event.arguments
    assert len(opened) == len(done), "an item never closed"
    final = events[-1].response
    assert [i.model_dump() for i in final.output] == [i.model_dump() for i in done]
    for item in final.output:
        if item.type == "message":
            for index, part in enumerate(item.content):
                if part.type == "output_text":
                    assert part.text == texts.get((item.id, index), "")
        if item.type == "function_call":
            assert item.arguments == arguments.get(item.id, "")
    assert final.usage is not None
    return final


def calls_of(response):
    return [item for item in response.output if item.type in ("function_call",
                                                              "custom_tool_call")]


def sent(upstream):
    """The body the upstream received last."""
    return upstream.last().json


def raw_sse(client, **body):
    """(event name, data) of a streamed POST /v1/responses read without the SDK (which raises
    at an `error` event), and the answer's headers."""
    import httpx

    body = {**body, "stream": True}
    with httpx.Client(timeout=10) as http:
        answer = http.post(f"{client.base_url}responses", json=body,
                           headers={"authorization": f"Bearer {client.api_key}"})
    events, name = [], None
    for line in answer.text.splitlines():
        if line.startswith("event:"):
            name = line[6:].strip()
        elif line.startswith("data:"):
            events.append((name, json.loads(line[5:].strip())))
            name = None
    return events, answer.headers
