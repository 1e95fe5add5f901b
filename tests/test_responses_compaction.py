"""Codex's remote compaction (app/formats/compaction.py), served for every model: an input that
ends in a compaction trigger is answered with one `compaction` item carrying the model's summary,
streamed or not; sent back, the item reaches the model as the summary. OpenAI's own compaction
items only go to OpenAI (a 400 elsewhere, passed through to a Responses-format vendor)."""
import openai
import pytest

from app.formats import compaction
from tests.mock_upstream import (
    Reply,
    Stream,
    anthropic_events,
    anthropic_message,
    openai_chunks,
    openai_completion,
)

MODELS = {"openai": "gpt-test", "anthropic": "claude-test"}
HISTORY = [
    {"type": "message", "role": "developer",
     "content": [{"type": "input_text", "text": "Be brief."}]},
    {"type": "message", "role": "user",
     "content": [{"type": "input_text", "text": "Make hello.txt"}]},
    {"type": "function_call", "call_id": "call_1", "name": "exec_command",
     "arguments": '{"cmd": "printf hi > hello.txt"}'},
    {"type": "function_call_output", "call_id": "call_1", "output": "exit 0"},
]
TOOLS = [{"type": "function", "name": "exec_command",
          "parameters": {"type": "object", "properties": {"cmd": {"type": "string"}}}}]
SUMMARY = "The user wanted hello.txt; it was created with printf. Nothing is open."


def _texts(message):
    """The texts of a message of either format (a string, or text blocks among others)."""
    content = message["content"]
    if isinstance(content, str):
        return [content]
    return [block["text"] for block in content if block.get("type") == "text"]


def _script(upstream, vendor, stream, text):
    if vendor == "openai":
        upstream.script(Stream(openai_chunks(text, "gpt-up")) if stream
                        else Reply(json=openai_completion(text, "gpt-up")))
    else:
        upstream.script(Stream(anthropic_events(text, "claude-up")) if stream
                        else Reply(json=anthropic_message(text, "claude-up")))


@pytest.mark.parametrize("vendor", list(MODELS))
@pytest.mark.parametrize("stream", [False, True])
def test_a_compaction_trigger_is_answered_with_one_compaction_item(openai_client, upstream,
                                                                   vendor, stream):
    _script(upstream, vendor, stream, SUMMARY)
    request = {"model": MODELS[vendor], "input": [*HISTORY, {"type": "compaction_trigger"}],
               "tools": TOOLS, "store": False}
    if stream:
        with openai_client.responses.stream(**request) as events:
            kinds = [event.type for event in events]
            response = events.get_final_response()
        assert kinds == ["response.created", "response.in_progress",
                         "response.output_item.added", "response.output_item.done",
                         "response.completed"]
    else:
        response = openai_client.responses.create(**request)
    [item] = response.output
    assert item.type == "compaction"
    assert compaction.summary_of(item.model_dump()) == SUMMARY

    sent = upstream.last().json
    last = sent["messages"][-1]
    assert last["role"] == "user" and _texts(last)[-1] == compaction.PROMPT
    assert sent["tool_choice"] == ({"type": "none"} if vendor == "anthropic" else "none")

    # the next turn sends the item in place of the history: the model reads the summary
    _script(upstream, vendor, False, "ok")
    openai_client.responses.create(model=MODELS[vendor], input=[
        HISTORY[0], item.model_dump(exclude_none=True),
        {"role": "user", "content": "Now add a newline."}])
    messages = upstream.last().json["messages"]
    texts = [text for m in messages if m["role"] == "user" for text in _texts(m)]
    assert texts == [compaction.SUMMARY_PREFIX + SUMMARY, "Now add a newline."]


def test_openais_own_compaction_item_is_a_400_elsewhere(openai_client, upstream):
    with pytest.raises(openai.BadRequestError) as caught:
        openai_client.responses.create(model="claude-test", input=[
            {"type": "compaction", "encrypted_content": "gAAAA-openai-opaque"},
            {"role": "user", "content": "go on"}])
    assert caught.value.body["param"] == "input[0].encrypted_content"
    assert not upstream.requests


def test_a_responses_vendor_gets_the_trigger_as_sent(openai_client, upstream):
    openai_client.responses.create(model="resp-test",
                                   input=[*HISTORY, {"type": "compaction_trigger"}])
    assert upstream.last().json["input"][-1] == {"type": "compaction_trigger"}


@pytest.mark.parametrize("model", ["gpt-test", "claude-test"])
def test_the_compact_endpoint_answers_the_compaction_item(openai_client, upstream, model):
    """POST /v1/responses/compact (Codex before its compaction trigger): the same, unary."""
    _script(upstream, "openai" if model == "gpt-test" else "anthropic", False, SUMMARY)
    answer = openai_client.post("/responses/compact", cast_to=object, body={
        "model": model, "input": HISTORY, "instructions": "You are Codex."})
    assert answer["object"] == "response.compaction"
    [item] = answer["output"]
    assert item["type"] == "compaction" and compaction.summary_of(item) == SUMMARY
    assert answer["usage"]["output_tokens"] > 0


def test_the_compact_endpoint_passes_the_trigger_to_a_responses_vendor(openai_client, upstream):
    answer = openai_client.post("/responses/compact", cast_to=object,
                                body={"model": "resp-test", "input": HISTORY})
    assert upstream.last().path == "/v1/responses"
    sent = upstream.last().json
    assert sent["input"][-1] == {"type": "compaction_trigger"} and sent["store"] is False
    assert answer["object"] == "response.compaction" and isinstance(answer["output"], list)


def test_the_compact_endpoint_refuses_a_stream(openai_client):
    with pytest.raises(openai.BadRequestError) as caught:
        openai_client.post("/responses/compact", cast_to=object,
                           body={"model": "gpt-test", "input": HISTORY, "stream": True})
    assert caught.value.body["param"] == "stream"
