"""The mock upstream's Responses API: what it sends validates against openai-python's own types
(strict pydantic validation, not the SDK's lenient construction), and the SDK's responses.create
and responses.stream read it over real sockets."""
import openai
import pydantic
import pytest
from openai.types.responses import Response, ResponseStreamEvent

from tests.mock_responses import responses_events, responses_failure, responses_object
from tests.mock_upstream import Reply, Stream

STREAM_EVENT = pydantic.TypeAdapter(ResponseStreamEvent)
TOOLS = [("call_1", "get_weather", '{"city": "Paris", "unit": "c"}'),
         ("call_2", "get_time", '{"tz": "CET"}')]


@pytest.fixture
def client(upstream):
    with openai.OpenAI(base_url=upstream.openai_base_url, api_key="k", max_retries=0) as c:
        yield c


def check_stream(events, complete=True):
    """Strict validation of every event, and the documented shape of the sequence (a failed
    stream may leave its last item open)."""
    for name, data in events:
        STREAM_EVENT.validate_python(data)
        assert name == data["type"]
    assert [d["sequence_number"] for _, d in events] == list(range(len(events)))
    kinds = [d["type"] for _, d in events]
    assert kinds[:2] == ["response.created", "response.in_progress"]
    opened = [d["output_index"] for _, d in events if d["type"] == "response.output_item.added"]
    closed = [d["output_index"] for _, d in events if d["type"] == "response.output_item.done"]
    assert opened == list(range(len(opened)))
    assert closed == opened[:len(closed)]  # items close in the order they opened
    assert closed == opened or not complete
    return kinds


VARIANTS = {
    "text": {"text": "Hello there, friend."},
    "tools": {"tool_calls": TOOLS, "split": 5},
    "everything": {"text": "Let me check.", "tool_calls": TOOLS,
                   "reasoning": ("Weather wanted; call the tool.", "gAAAA-enc"),
                   "usage": (100, 40, 64, 12)},
    "incomplete": {"text": "cut sh", "status": "incomplete"},
    "empty": {},
}


@pytest.mark.parametrize("variant", VARIANTS)
def test_every_builder_output_validates_against_the_sdk_types(variant):
    kwargs = VARIANTS[variant]
    final = Response.model_validate(responses_object(**{k: v for k, v in kwargs.items()
                                                        if k != "split"}))
    kinds = check_stream(responses_events(**kwargs))
    ending = "response.incomplete" if kwargs.get("status") == "incomplete" else \
        "response.completed"
    assert kinds[-1] == ending
    if variant == "incomplete":
        assert final.incomplete_details.reason == "max_output_tokens"
        assert final.output[-1].status == "incomplete"


def test_a_failing_stream_validates_and_ends_with_response_failed():
    kinds = check_stream(responses_failure(code="server_error", message="boom", text="a b",
                                           error_event=True), complete=False)
    assert kinds[-2:] == ["error", "response.failed"]
    assert "response.output_text.delta" in kinds


def test_deltas_add_up_to_the_done_events_and_the_final_output():
    events = [d for _, d in responses_events("one two three", tool_calls=TOOLS[:1],
                                             reasoning="think first", split=3)]
    by_type = {}
    for data in events:
        by_type.setdefault(data["type"], []).append(data)
    text = "".join(d["delta"] for d in by_type["response.output_text.delta"])
    arguments = "".join(d["delta"] for d in by_type["response.function_call_arguments.delta"])
    summary = "".join(d["delta"] for d in by_type["response.reasoning_summary_text.delta"])
    assert text == by_type["response.output_text.done"][0]["text"] == "one two three"
    assert arguments == by_type["response.function_call_arguments.done"][0]["arguments"]
    assert summary == by_type["response.reasoning_summary_text.done"][0]["text"]
    output = events[-1]["response"]["output"]
    assert [item["type"] for item in output] == ["reasoning", "message", "function_call"]
    assert output[2]["arguments"] == arguments == TOOLS[0][2]


def test_the_default_answer_echoes_the_last_user_text(client, upstream):
    response = client.responses.create(
        model="gpt-x", instructions="be brief", store=False,
        input=[{"role": "user", "content": "first"},
               {"role": "assistant", "content": "ok"},
               {"role": "user", "content": [{"type": "input_text", "text": "say this back"}]}])
    assert response.output_text == "say this back"
    assert response.model == "gpt-x" and response.status == "completed"
    assert response.instructions == "be brief" and response.store is False
    assert response.usage.output_tokens == 3 and response.usage.input_tokens > 3
    assert upstream.last().path == "/v1/responses"


def test_the_default_answer_streams_when_asked(client):
    events = list(client.responses.create(model="gpt-x", input="stream me please", stream=True))
    assert events[0].type == "response.created" and events[-1].type == "response.completed"
    assert "".join(e.delta for e in events if e.type == "response.output_text.delta") == \
        "stream me please"
    assert events[-1].response.output_text == "stream me please"


@pytest.mark.parametrize("stream", [False, True])
def test_the_default_answer_echoes_the_text_and_reasoning_settings(client, stream):
    """`text` and `reasoning` are request fields the answer echoes and the builders' arguments."""
    text = {"format": {"type": "json_object"}, "verbosity": "low"}
    answer = client.responses.create(model="gpt-x", input="echo me", text=text, stream=stream,
                                     reasoning={"effort": "low", "summary": "auto"})
    response = list(answer)[-1].response if stream else answer
    assert response.output_text == "echo me"
    assert [item.type for item in response.output] == ["message"]
    assert response.text.format.type == "json_object" and response.text.verbosity == "low"
    assert (response.reasoning.effort, response.reasoning.summary) == ("low", "auto")


def test_responses_stream_gives_the_final_response_with_output_and_usage(client, upstream):
    upstream.script(Stream(responses_events("Let me check.", tool_calls=TOOLS,
                                            reasoning=("Need the weather.", "enc-1"),
                                            usage=(100, 40, 64, 12))))
    with client.responses.stream(model="gpt-x", input="weather?") as stream:
        texts = [e.delta for e in stream if e.type == "response.output_text.delta"]
        final = stream.get_final_response()
    assert "".join(texts) == final.output_text == "Let me check."
    reasoning, message, *calls = final.output
    assert reasoning.summary[0].text == "Need the weather." and \
        reasoning.encrypted_content == "enc-1"
    assert message.role == "assistant"
    assert [(c.call_id, c.name, c.arguments) for c in calls] == TOOLS
    usage = final.usage
    assert (usage.input_tokens, usage.output_tokens, usage.total_tokens) == (100, 40, 140)
    assert usage.input_tokens_details.cached_tokens == 64
    assert usage.output_tokens_details.reasoning_tokens == 12


@pytest.mark.parametrize("status, error_cls", [
    (400, openai.BadRequestError), (401, openai.AuthenticationError),
    (429, openai.RateLimitError), (500, openai.InternalServerError),
    (503, openai.InternalServerError)])
def test_errors_come_in_openais_shape(client, upstream, status, error_cls):
    upstream.script(Reply(status=status))
    with pytest.raises(error_cls) as info:
        client.responses.create(model="gpt-x", input="hi")
    assert info.value.status_code == status
    assert info.value.body["message"] == f"mock upstream error {status}"
    assert set(info.value.body) == {"message", "type", "param", "code"}
