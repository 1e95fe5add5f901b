"""The official Python SDKs' structured-output helpers through the gateway, on both upstream
formats: openai ``chat.completions.parse``/``.stream`` with ``response_format=<pydantic model>``
and anthropic ``messages.parse``/``.stream`` with ``output_format=<pydantic model>``."""

import anthropic
import openai
import pytest

from tests.clients.shapes import EXPECTED, PROMPT, Person

TIMEOUT = 30


@pytest.fixture
def openai_client(gw):
    return openai.OpenAI(base_url=f"{gw.url}/v1", api_key=gw.key, max_retries=0, timeout=TIMEOUT)


@pytest.fixture
def anthropic_client(gw):
    return anthropic.Anthropic(base_url=gw.url, api_key=gw.key, max_retries=0, timeout=TIMEOUT)


def test_openai_parse(gw, openai_client, model):
    completion = openai_client.chat.completions.parse(
        model=model, messages=[{"role": "user", "content": PROMPT}], response_format=Person)
    message = completion.choices[0].message
    assert message.refusal is None
    assert message.parsed == EXPECTED
    assert completion.choices[0].finish_reason == "stop"
    gw.assert_clean_exchange()


def test_openai_parse_stream(gw, openai_client, model):
    with openai_client.chat.completions.stream(
        model=model, messages=[{"role": "user", "content": PROMPT}], response_format=Person,
        stream_options={"include_usage": True},
    ) as stream:
        for _ in stream:
            pass
        completion = stream.get_final_completion()
    assert completion.choices[0].message.parsed == EXPECTED
    assert completion.usage is not None and completion.usage.completion_tokens > 0
    gw.assert_clean_exchange()


def test_anthropic_parse(gw, anthropic_client, model):
    message = anthropic_client.messages.parse(
        model=model, max_tokens=1024, messages=[{"role": "user", "content": PROMPT}],
        output_format=Person)
    assert message.parsed_output == EXPECTED
    assert message.stop_reason == "end_turn"
    gw.assert_clean_exchange()


def test_anthropic_parse_stream(gw, anthropic_client, model):
    with anthropic_client.messages.stream(
        model=model, max_tokens=1024, messages=[{"role": "user", "content": PROMPT}],
        output_format=Person,
    ) as stream:
        for _ in stream:
            pass
        message = stream.get_final_message()
    assert message.parsed_output == EXPECTED
    assert message.stop_reason == "end_turn"
    gw.assert_clean_exchange()
