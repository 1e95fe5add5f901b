"""openai-python's Responses API surface (``client.responses``) through the gateway, on a model
behind each upstream format: ``create`` (JSON and ``stream=True``), the ``stream`` helper (its
final response, output and usage), ``parse`` with a pydantic ``text_format`` (and the same
streamed), and a function tool round trip -- the whole history sent back with the
``function_call_output``, and, with stored responses on (``RESPONSES_STORE``, set for this
session's gateway), only the output with ``previous_response_id``."""

import json

import openai
import pytest

from tests.clients.agent import tool_results
from tests.clients.shapes import EXPECTED, FILE_PROMPT, PROMPT, Person

TIMEOUT = 30
WRITE_FILE = {
    "type": "function", "name": "write_file",
    "description": "Write content to the file at path (relative to the working directory).",
    "parameters": {"type": "object",
                   "properties": {"path": {"type": "string"}, "content": {"type": "string"}},
                   "required": ["path", "content"], "additionalProperties": False},
    "strict": True,
}
TEXT_EVENTS = ["response.created", "response.in_progress", "response.output_item.added",
               "response.content_part.added", "response.output_text.delta",
               "response.output_text.done", "response.content_part.done",
               "response.output_item.done", "response.completed"]


@pytest.fixture
def client(gw):
    return openai.OpenAI(base_url=f"{gw.url}/v1", api_key=gw.key, max_retries=0,
                         timeout=TIMEOUT)


def check_response(response, model, text=None):
    assert response.object == "response"
    assert response.status == "completed", response
    assert response.model, response
    if text is not None:
        assert response.output_text == text
        assert [item.type for item in response.output] == ["message"]
        assert response.output[0].role == "assistant"
    assert response.usage.input_tokens > 0 and response.usage.output_tokens > 0
    assert response.usage.total_tokens == (response.usage.input_tokens
                                           + response.usage.output_tokens)
    assert response.usage.input_tokens_details.cached_tokens >= 0
    assert response.usage.output_tokens_details.reasoning_tokens >= 0


def deduplicated(kinds):
    """The event types in order, runs of one type collapsed (the deltas)."""
    return [kind for i, kind in enumerate(kinds) if i == 0 or kinds[i - 1] != kind]


def test_create(gw, client, model):
    response = client.responses.create(model=model, input="Say hello to the gateway")
    check_response(response, model, "Say hello to the gateway")
    gw.assert_clean_exchange()


def test_create_with_instructions_and_items(gw, client, model):
    response = client.responses.create(
        model=model, instructions="Answer in English.", max_output_tokens=200,
        input=[{"role": "developer", "content": "Be brief."},
               {"type": "message", "role": "user",
                "content": [{"type": "input_text", "text": "first words"}]},
               {"role": "assistant", "content": "an earlier answer"},
               {"role": "user", "content": [{"type": "input_text", "text": "last words"}]}])
    check_response(response, model, "last words")
    gw.assert_clean_exchange()


def test_create_stream(gw, client, model):
    events = list(client.responses.create(model=model, input="Stream these five words please",
                                          stream=True))
    kinds = [event.type for event in events]
    assert deduplicated(kinds) == TEXT_EVENTS, kinds
    numbers = [event.sequence_number for event in events]
    assert numbers == sorted(set(numbers)), numbers
    text = "".join(e.delta for e in events if e.type == "response.output_text.delta")
    assert text == "Stream these five words please"
    final = events[-1].response
    check_response(final, model, text)
    assert events[0].response.id == final.id
    gw.assert_clean_exchange()


def test_stream_helper(gw, client, model):
    with client.responses.stream(model=model, input="Helpers collect the stream") as stream:
        deltas = [event.delta for event in stream if event.type == "response.output_text.delta"]
        response = stream.get_final_response()
    assert "".join(deltas) == "Helpers collect the stream"
    check_response(response, model, "Helpers collect the stream")
    gw.assert_clean_exchange()


def test_parse(gw, client, model):
    response = client.responses.parse(model=model, input=PROMPT, text_format=Person)
    assert response.output_parsed == EXPECTED
    check_response(response, model)
    sent = gw.upstream.last().json
    assert json.dumps(sent).count("zip_code") >= 1  # the schema reached the model
    gw.assert_clean_exchange()


def test_parse_stream(gw, client, model):
    with client.responses.stream(model=model, input=PROMPT, text_format=Person) as stream:
        for _ in stream:
            pass
        response = stream.get_final_response()
    assert response.output_parsed == EXPECTED
    check_response(response, model)
    gw.assert_clean_exchange()


def call_tool(client, model, stream, **params):
    if not stream:
        return client.responses.create(model=model, tools=[WRITE_FILE], **params)
    with client.responses.stream(model=model, tools=[WRITE_FILE], **params) as s:
        kinds = [event.type for event in s]
        response = s.get_final_response()
    assert kinds[0] == "response.created" and kinds[-1] == "response.completed", kinds
    return response


@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
def test_function_tool_round_trip(gw, client, model, stream):
    first = call_tool(client, model, stream, input=FILE_PROMPT)
    [call] = [item for item in first.output if item.type == "function_call"]
    assert (call.name, json.loads(call.arguments)) == (
        "write_file", {"path": "hello.txt", "content": "hi"})
    assert call.call_id
    check_response(first, model)

    history = [{"role": "user", "content": FILE_PROMPT},
               *[item.model_dump(exclude_none=True) for item in first.output],
               {"type": "function_call_output", "call_id": call.call_id,
                "output": "wrote 2 bytes to hello.txt"}]
    final = call_tool(client, model, stream, input=history)
    check_response(final, model, "Done: wrote 2 bytes to hello.txt")
    assert tool_results(gw.upstream.last()) == ["wrote 2 bytes to hello.txt"]
    gw.assert_clean_exchange(inference_requests=2)


@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
def test_function_tool_round_trip_with_previous_response_id(gw, client, model, stream):
    assert gw.app.config.get("RESPONSES_STORE"), "the session gateway stores responses"
    first = call_tool(client, model, stream, input=FILE_PROMPT, store=True)
    [call] = [item for item in first.output if item.type == "function_call"]
    output = {"type": "function_call_output", "call_id": call.call_id,
              "output": "wrote 2 bytes to hello.txt"}
    final = call_tool(client, model, stream, input=[output], previous_response_id=first.id,
                      store=True)
    check_response(final, model, "Done: wrote 2 bytes to hello.txt")
    # The gateway sent the model the whole conversation: the prompt, the call and its output.
    sent = json.dumps(gw.upstream.last().json)
    assert "create hello.txt containing hi" in sent and call.call_id in sent
    assert tool_results(gw.upstream.last()) == ["wrote 2 bytes to hello.txt"]
    gw.assert_clean_exchange(inference_requests=2)
