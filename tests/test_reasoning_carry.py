"""Reasoning goes back to the vendor that made it, whole, across client formats (README: Reasoning
across formats; app/formats/reasoning_carry.py): an Anthropic model's signed thinking reaches a
Responses client as a reasoning item and returns to Anthropic as the same block; a Responses
vendor's reasoning item reaches an Anthropic client as a thinking block and returns as the same
item. Official SDKs, real sockets, streamed and not."""
import anthropic
import openai
import pytest

from app.formats.reasoning_carry import (
    reasoning_from_signature,
    reasoning_in_signature,
    thinking_from_encrypted_content,
    thinking_in_encrypted_content,
)
from tests.conftest import create_key, gateway_config, serving
from tests.mock_responses import responses_events, responses_object
from tests.mock_upstream import Reply, Stream, anthropic_events, anthropic_message

STREAMS = [False, True]
THINKING = ("Let me think.", "sig-anthropic-123")


@pytest.fixture
def gateway(app_factory, upstream):
    """A gateway with a Responses-format model `rt` beside the conftest ones; yields (url, key)."""
    config = gateway_config(upstream)
    config["providers"]["carry-responses"] = {
        "vendor": "openai_responses", "base_url": upstream.openai_base_url,
        "api_keys": ["k"], "timeout_seconds": 2}
    config["models"].append({"name": "rt", "num_retries": 0,
                             "deployments": [{"provider": "carry-responses",
                                              "model": "resp-up"}]})
    app = app_factory(GATEWAY_CONFIG=config)
    key = create_key(app)
    with serving(app) as url:
        yield url, key


def test_the_carriers_round_trip_and_ignore_foreign_values():
    block = {"type": "thinking", "thinking": "t", "signature": "s"}
    item = {"type": "reasoning", "id": "rs_1", "summary": [], "encrypted_content": "E"}
    assert thinking_from_encrypted_content(thinking_in_encrypted_content(block)) == block
    assert reasoning_from_signature(reasoning_in_signature(item)) == item
    # the vendors' own opaque values, and a carrier of the other kind, carry nothing
    assert thinking_from_encrypted_content("gAAAAB-openai-encrypted") is None
    assert reasoning_from_signature("EqQBCkYIBxgCKkA-anthropic") is None
    assert reasoning_from_signature(thinking_in_encrypted_content(block)) is None
    assert thinking_from_encrypted_content("gw-thinking.v1:!!not base64") is None


@pytest.mark.parametrize("stream", STREAMS)
def test_anthropic_thinking_through_a_responses_client(gateway, upstream, stream):
    url, key = gateway
    client = openai.OpenAI(base_url=f"{url}/v1", api_key=key, max_retries=0)
    upstream.script(Stream(anthropic_events("Answer", "claude-up", thinking=THINKING)) if stream
                    else Reply(json=anthropic_message("Answer", "claude-up", thinking=THINKING)))
    if stream:
        with client.responses.stream(model="claude-test", input="hi") as events:
            response = events.get_final_response()
    else:
        response = client.responses.create(model="claude-test", input="hi")
    reasoning, message = response.output
    assert reasoning.type == "reasoning" and message.type == "message"
    assert [part.text for part in reasoning.summary] == ["Let me think."]
    assert response.output_text == "Answer"

    history = [{"role": "user", "content": "hi"},
               *[item.model_dump(exclude_none=True) for item in response.output],
               {"role": "user", "content": "and then?"}]
    client.responses.create(model="claude-test", input=history)
    assistant = upstream.last().json["messages"][1]
    assert assistant["role"] == "assistant"
    assert assistant["content"][0] == {"type": "thinking", "thinking": "Let me think.",
                                       "signature": "sig-anthropic-123"}
    assert assistant["content"][1]["text"] == "Answer"


@pytest.mark.parametrize("stream", STREAMS)
def test_responses_reasoning_through_an_anthropic_client(gateway, upstream, stream):
    url, key = gateway
    client = anthropic.Anthropic(base_url=url, api_key=key, max_retries=0)
    answer = {"text": "Answer", "reasoning": ("I think", "ENC123")}
    upstream.script(Stream(responses_events(**answer)) if stream
                    else Reply(json=responses_object(**answer)))
    request = {"model": "rt", "max_tokens": 100,
               "messages": [{"role": "user", "content": "hi"}]}
    if stream:
        with client.messages.stream(**request) as events:
            message = events.get_final_message()
    else:
        message = client.messages.create(**request)
    assert "".join(b.text for b in message.content if b.type == "text") == "Answer"
    carriers = [b for b in message.content
                if b.type == "thinking" and reasoning_from_signature(b.signature)]
    assert len(carriers) == 1

    history = [{"role": "user", "content": "hi"},
               {"role": "assistant",
                "content": [b.model_dump(exclude_none=True) for b in message.content]},
               {"role": "user", "content": "more"}]
    client.messages.create(model="rt", max_tokens=100, messages=history)
    sent = upstream.last().json["input"]
    reasoning = [item for item in sent if item.get("type") == "reasoning"]
    assert len(reasoning) == 1 and reasoning[0]["encrypted_content"] == "ENC123"
    # it goes back before the assistant's text, where the vendor produced it
    assert sent.index(reasoning[0]) < next(i for i, item in enumerate(sent)
                                           if item.get("role") == "assistant")


def test_responses_reasoning_through_a_chat_client_goes_back(gateway, upstream):
    url, key = gateway
    client = openai.OpenAI(base_url=f"{url}/v1", api_key=key, max_retries=0)
    upstream.script(Reply(json=responses_object(text="Answer", reasoning=("I think", "ENC9"))))
    answer = client.chat.completions.create(model="rt",
                                            messages=[{"role": "user", "content": "hi"}])
    message = answer.choices[0].message.model_dump(exclude_none=True)
    assert message["reasoning_content"] == "I think"
    client.chat.completions.create(model="rt", messages=[
        {"role": "user", "content": "hi"}, message, {"role": "user", "content": "more"}])
    sent = upstream.last().json["input"]
    assert [item["encrypted_content"] for item in sent if item.get("type") == "reasoning"] \
        == ["ENC9"]
