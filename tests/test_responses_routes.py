"""POST /v1/responses end to end through the official openai SDK on the three routes a Responses
client has (a Chat Completions, an Anthropic and a Responses upstream), sync and stream: text
answers, usage, the vendor's model, incomplete answers, and what the upstream received of every
request field; errors before and after the stream began, and the request log row of each."""
from decimal import Decimal

import openai
import pytest

from tests.conftest import logged
from tests.mock_responses import responses_failure
from tests.mock_upstream import Reply, Stream, anthropic_events, openai_chunks
from tests.responses_helpers import (
    PNG,
    ROUTES,
    STREAMS,
    UPSTREAM_MODEL,
    VENDORS,
    ask,
    check_stream,
    raw_events,
    raw_sse,
    script,
    sent,
)

IMAGE = f"data:image/png;base64,{PNG}"
LOOKUP = {"type": "function", "name": "lookup", "description": "Look a thing up.",
          "parameters": {"type": "object", "properties": {"q": {"type": "string"}},
                         "required": ["q"]}}
CONVERSATION = [
    {"type": "message", "role": "developer",
     "content": [{"type": "input_text", "text": "Use tools."}]},
    {"type": "message", "role": "user",
     "content": [{"type": "input_text", "text": "What is in this image?"},
                 {"type": "input_image", "image_url": IMAGE, "detail": "auto"}]},
    {"type": "message", "role": "assistant", "id": "msg_1", "status": "completed",
     "content": [{"type": "output_text", "text": "Let me look.", "annotations": []}]},
    {"type": "function_call", "call_id": "call_1", "name": "lookup", "arguments": '{"q": "png"}'},
    {"type": "function_call_output", "call_id": "call_1", "output": "a red pixel"},
    {"type": "message", "role": "user", "content": "And now?"},
]


@pytest.mark.parametrize("stream", STREAMS)
@pytest.mark.parametrize("vendor", VENDORS)
def test_a_text_answer_its_usage_and_the_vendors_model(openai_client, upstream, app, vendor,
                                                       stream):
    script(upstream, vendor, stream, "Hello there, friend.", reasoning_tokens=3)
    raw = openai_client.responses.with_raw_response.create(model=ROUTES[vendor], input="Hi",
                                                           stream=stream)
    if stream:
        response = check_stream(list(raw.parse()))
    else:
        response = raw.parse()
    assert response.output_text == "Hello there, friend."
    assert response.status == "completed" and response.incomplete_details is None
    assert response.model == UPSTREAM_MODEL[vendor]
    usage = response.usage
    assert (usage.input_tokens, usage.input_tokens_details.cached_tokens,
            usage.output_tokens, usage.total_tokens) == (20, 4, 7, 27)
    assert usage.output_tokens_details.reasoning_tokens == (0 if vendor == "anthropic" else 3)
    row = logged(app, raw.headers["x-request-id"])
    assert (row.surface, row.endpoint, row.model, row.status_code, row.stream) == (
        "responses", "responses", ROUTES[vendor], 200, stream)
    assert (row.input_tokens, row.cached_tokens, row.output_tokens) == (20, 4, 7)
    assert row.upstream_model == UPSTREAM_MODEL[vendor]
    assert Decimal(row.cost_usd) == Decimal("0.00009")  # 16×2 + 4×0.5 + 7×8 per million


@pytest.mark.parametrize("stream", STREAMS)
@pytest.mark.parametrize("vendor", VENDORS)
def test_max_output_reached_is_incomplete(openai_client, upstream, vendor, stream):
    """(The SDK's stream helper wants response.completed: the raw stream is read here.)"""
    script(upstream, vendor, stream, "Cut sho", length=True)
    request = {"model": ROUTES[vendor], "input": "Hi", "max_output_tokens": 16}
    if stream:
        events, _ = raw_events(openai_client, **request)
        response = check_stream(events)
        assert events[-1].type == "response.incomplete"
    else:
        response = openai_client.responses.create(**request)
    assert response.status == "incomplete"
    assert response.incomplete_details.reason == "max_output_tokens"
    assert response.output_text == "Cut sho"


@pytest.mark.parametrize("stream", STREAMS)
@pytest.mark.parametrize("vendor", VENDORS)
def test_the_upstream_receives_every_field_of_the_request(openai_client, upstream, vendor,
                                                          stream):
    script(upstream, vendor, stream, "Done.")
    response, _ = ask(openai_client, stream, model=ROUTES[vendor], instructions="Be brief.",
                      input=CONVERSATION, tools=[LOOKUP], tool_choice="required",
                      parallel_tool_calls=False, max_output_tokens=300, temperature=0.5,
                      top_p=0.9, metadata={"team": "blue"}, user="user-1")
    assert response.output_text == "Done."
    body = sent(upstream)
    if vendor == "responses":
        assert body["model"] == "resp-upstream"
        assert body["instructions"] == "Be brief."
        assert body["input"] == CONVERSATION
        assert body["tools"] == [LOOKUP]
        assert (body["tool_choice"], body["parallel_tool_calls"], body["max_output_tokens"],
                body["temperature"], body["top_p"], body["metadata"], body["user"]) == (
            "required", False, 300, 0.5, 0.9, {"team": "blue"}, "user-1")
        assert body.get("stream", False) is stream
    elif vendor == "chat":
        assert body["model"] == "gpt-upstream"
        assert body["messages"] == [
            {"role": "system", "content": "Be brief."},
            {"role": "developer", "content": "Use tools."},
            {"role": "user", "content": [
                {"type": "text", "text": "What is in this image?"},
                {"type": "image_url", "image_url": {"url": IMAGE, "detail": "auto"}}]},
            {"role": "assistant", "content": "Let me look.", "tool_calls": [
                {"id": "call_1", "type": "function",
                 "function": {"name": "lookup", "arguments": '{"q": "png"}'}}]},
            {"role": "tool", "tool_call_id": "call_1", "content": "a red pixel"},
            {"role": "user", "content": "And now?"}]
        assert body["tools"] == [{"type": "function", "function": {
            "name": "lookup", "description": "Look a thing up.",
            "parameters": LOOKUP["parameters"]}}]
        assert (body["tool_choice"], body["parallel_tool_calls"],
                body["max_completion_tokens"], body["temperature"], body["top_p"],
                body["metadata"], body["user"]) == (
            "required", False, 300, 0.5, 0.9, {"team": "blue"}, "user-1")
        if stream:
            assert body["stream"] is True and body["stream_options"] == {"include_usage": True}
    else:
        assert body["model"] == "claude-upstream"
        system = body["system"]
        text = system if isinstance(system, str) else " ".join(b["text"] for b in system)
        assert "Be brief." in text and "Use tools." in text
        assert body["messages"] == [
            {"role": "user", "content": [
                {"type": "text", "text": "What is in this image?"},
                {"type": "image", "source": {"type": "base64", "media_type": "image/png",
                                             "data": PNG}}]},
            {"role": "assistant", "content": [
                {"type": "text", "text": "Let me look."},
                {"type": "tool_use", "id": "call_1", "name": "lookup", "input": {"q": "png"}}]},
            {"role": "user", "content": [
                {"type": "tool_result", "tool_use_id": "call_1", "content": "a red pixel"},
                {"type": "text", "text": "And now?"}]}]
        assert body["tools"] == [{"name": "lookup", "description": "Look a thing up.",
                                  "input_schema": LOOKUP["parameters"]}]
        assert body["tool_choice"] == {"type": "any", "disable_parallel_tool_use": True}
        assert (body["max_tokens"], body["temperature"], body["top_p"]) == (300, 0.5, 0.9)
        assert body["metadata"] == {"user_id": "user-1"}
        assert body.get("stream", False) is stream


@pytest.mark.parametrize("stream", STREAMS)
@pytest.mark.parametrize("vendor", VENDORS)
def test_reasoning_effort_reaches_every_vendor(openai_client, upstream, vendor, stream):
    script(upstream, vendor, stream, "Thought.")
    response, _ = ask(openai_client, stream, model=ROUTES[vendor], input="Think.",
                      reasoning={"effort": "medium", "summary": "auto"})
    assert response.output_text == "Thought."
    if vendor != "responses":  # the shell echoes the request (a Responses vendor's own object)
        assert response.reasoning.effort == "medium"
    body = sent(upstream)
    if vendor == "responses":
        assert body["reasoning"] == {"effort": "medium", "summary": "auto"}
    elif vendor == "chat":
        assert body["reasoning_effort"] == "medium"
    else:
        assert body["thinking"] == {"type": "enabled", "budget_tokens": 8192}
        assert body["max_tokens"] > 8192


@pytest.mark.parametrize("stream", STREAMS)
@pytest.mark.parametrize("vendor", VENDORS)
def test_a_string_input_and_a_shorthand_message(openai_client, upstream, vendor, stream):
    script(upstream, vendor, stream, "ok")
    ask(openai_client, stream, model=ROUTES[vendor],
        input=[{"role": "user", "content": "plain shorthand"}])
    body = sent(upstream)
    if vendor == "responses":
        assert body["input"] == [{"role": "user", "content": "plain shorthand"}]
    elif vendor == "chat":
        assert body["messages"] == [{"role": "user", "content": "plain shorthand"}]
    else:
        assert body["messages"] == [{"role": "user", "content": "plain shorthand"}]


# ---- errors --------------------------------------------------------------------------------

BAD_INPUTS = [
    ([{"type": "function_call_output", "output": "x"}], "input[0].call_id"),
    ([{"type": "function_call", "name": "f", "arguments": "{}"}], "input[0].call_id"),
    ([{"type": "message", "role": "user", "content": [{"type": "input_text"}]}],
     "input[0].content[0].text"),
    ([{"type": "message", "role": "user", "content": 5}], "input[0].content"),
    ([{"type": "message", "role": "robot", "content": "hi"}], "input[0].role"),
]


@pytest.mark.parametrize("items, param", BAD_INPUTS)
@pytest.mark.parametrize("vendor", VENDORS)
def test_malformed_input_items_are_a_400_naming_the_field(openai_client, upstream, app, vendor,
                                                          items, param):
    with pytest.raises(openai.BadRequestError) as caught:
        openai_client.responses.create(model=ROUTES[vendor], input=items)
    assert caught.value.body["param"] == param, caught.value.body
    assert caught.value.body["type"] == "invalid_request_error"
    assert upstream.requests == []
    row = logged(app, caught.value.response.headers["x-request-id"])
    assert (row.surface, row.endpoint, row.status_code) == ("responses", "responses", 400)


@pytest.mark.parametrize("vendor", ["chat", "anthropic"])
def test_unknown_input_items_are_a_400_naming_the_field(openai_client, upstream, vendor):
    with pytest.raises(openai.BadRequestError) as caught:
        openai_client.responses.create(model=ROUTES[vendor], input=[{"type": "no_such_item"}])
    assert caught.value.body["param"] == "input[0].type", caught.value.body
    assert upstream.requests == []


UPSTREAM_400 = {"error": {"message": "Invalid value: 'no_such_item'.",
                          "type": "invalid_request_error", "param": "input[0].type",
                          "code": None}}


def test_a_responses_vendors_400_comes_back_a_400_with_its_message(openai_client, upstream):
    upstream.script(Reply(status=400, json=UPSTREAM_400))
    with pytest.raises(openai.BadRequestError) as caught:
        openai_client.responses.create(model="resp-test", input=[{"type": "no_such_item"}])
    assert "no_such_item" in caught.value.body["message"]
    assert len(upstream.requests) == 1


def test_a_responses_vendors_400_keeps_the_param_it_names(openai_client, upstream):
    upstream.script(Reply(status=400, json=UPSTREAM_400))
    with pytest.raises(openai.BadRequestError) as caught:
        openai_client.responses.create(model="resp-test", input=[{"type": "no_such_item"}])
    assert caught.value.body["param"] == "input[0].type"


@pytest.mark.parametrize("vendor", VENDORS)
@pytest.mark.parametrize("request_fields, param", [
    ({"tools": [{"type": "no_such_tool", "name": "x"}]}, "tools[0].type"),
    ({"background": True}, "background"),
])
def test_unknown_tool_types_and_background_are_400s(openai_client, upstream, vendor,
                                                    request_fields, param):
    """Only where the request is translated: a Responses vendor runs its own tools and
    background mode, so they pass through unchanged."""
    if vendor == "responses":
        script(upstream, vendor, False, "ok")
        openai_client.responses.create(model=ROUTES[vendor], input="hi", **request_fields)
        body = sent(upstream)
        assert {k: body[k] for k in request_fields} == request_fields
        return
    with pytest.raises(openai.BadRequestError) as caught:
        openai_client.responses.create(model=ROUTES[vendor], input="hi", **request_fields)
    assert caught.value.body["param"] == param, caught.value.body
    assert upstream.requests == []


# An upstream's 5xx is the gateway's 502 on every surface (tests/test_errors.py).
UPSTREAM_ERRORS = [(429, 429, openai.RateLimitError), (500, 502, openai.InternalServerError),
                   (503, 503, openai.InternalServerError)]


@pytest.mark.parametrize("stream", STREAMS)
@pytest.mark.parametrize("vendor", VENDORS)
@pytest.mark.parametrize("status, expected, error", UPSTREAM_ERRORS)
def test_an_upstream_error_before_the_stream_is_its_real_status_in_openais_shape(
        openai_client, upstream, app, vendor, stream, status, expected, error):
    upstream.script(Reply(status=status))
    with pytest.raises(error) as caught:
        ask(openai_client, stream, model=ROUTES[vendor], input="hi")
    assert caught.value.status_code == expected
    body = caught.value.response.json()
    assert set(body["error"]) >= {"message", "type", "param", "code"}
    row = logged(app, caught.value.response.headers["x-request-id"])
    assert (row.surface, row.endpoint, row.status_code, row.stream) == (
        "responses", "responses", expected, stream)


@pytest.mark.parametrize("stream", STREAMS)
def test_an_anthropic_overload_is_a_503(openai_client, upstream, app, stream):
    upstream.script(Reply(status=529))
    with pytest.raises(openai.InternalServerError) as caught:
        ask(openai_client, stream, model="claude-test", input="hi")
    assert caught.value.status_code == 503
    assert logged(app, caught.value.response.headers["x-request-id"]).status_code == 503


def _failing_stream(vendor):
    if vendor == "responses":
        return Stream(responses_failure(code="server_error", message="boom", text="partial",
                                        model="resp-upstream"))
    if vendor == "chat":
        events = openai_chunks("partial", "gpt-upstream")[:3]
        return Stream(events + [(None, {"error": {"message": "boom", "type": "server_error"}})])
    events = anthropic_events("partial", "claude-upstream")[:5]
    return Stream(events + [("error", {"type": "error", "error": {"type": "api_error",
                                                                  "message": "boom"}})])


@pytest.mark.parametrize("vendor", VENDORS)
def test_a_failure_after_the_stream_began_is_a_failed_response(openai_client, upstream, app,
                                                               vendor):
    """Translated: `response.failed` closing what was open; passed through: an `error` event."""
    upstream.script(_failing_stream(vendor))
    events, headers = raw_sse(openai_client, model=ROUTES[vendor], input="hi")
    _check_failed(events, "boom")
    row = logged(app, headers["x-request-id"])
    assert (row.surface, row.endpoint, row.stream) == ("responses", "responses", True)
    assert row.status_code >= 500 and "boom" in row.error_message


def _check_failed(events, message=None):
    kinds = [name for name, _ in events]
    assert kinds[:2] == ["response.created", "response.in_progress"], kinds
    assert kinds[-1] in ("response.failed", "error"), kinds
    assert "response.completed" not in kinds
    numbers = [data["sequence_number"] for _, data in events if "sequence_number" in data]
    assert all(a < b for a, b in zip(numbers, numbers[1:], strict=False)), numbers
    last = events[-1][1]
    if kinds[-1] == "response.failed":
        assert last["response"]["status"] == "failed"
        error = last["response"]["error"]
        added = [d["item"]["id"] for n, d in events if n == "response.output_item.added"]
        closed = [d["item"]["id"] for n, d in events if n == "response.output_item.done"]
        assert added == closed, "an item left open by the failure"
    else:
        error = last.get("error") or last
    assert error["message"] and (message is None or message in error["message"]), last


@pytest.mark.parametrize("vendor", VENDORS)
def test_a_cut_upstream_stream_ends_in_a_failure_never_a_completion(openai_client, upstream,
                                                                    app, vendor):
    script(upstream, vendor, True, "a long enough answer to be cut in the middle of it")
    upstream._fifo[-1] = Stream(upstream._fifo[-1].events, cut_after=6)
    events, headers = raw_sse(openai_client, model=ROUTES[vendor], input="hi")
    _check_failed(events)
    row = logged(app, headers["x-request-id"])
    assert row.status_code >= 500 and row.stream is True
