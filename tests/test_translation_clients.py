"""What official clients send, end to end through the gateway on real sockets to the mock
upstream, on both vendor formats, streamed and not: mid-conversation system messages (Claude
Code), structured output (openai .parse(), anthropic messages.parse(), LangChain
with_structured_output), OpenAI options an Anthropic model cannot honour (400), prompt-caching
marks from OpenAI clients, and images in OpenAI tool messages."""
import anthropic
import openai
import pytest
from langchain_anthropic import ChatAnthropic
from langchain_openai import ChatOpenAI
from pydantic import BaseModel

from tests.conftest import logged
from tests.mock_upstream import (
    Reply,
    Stream,
    anthropic_events,
    anthropic_message,
    openai_chunks,
    openai_completion,
)

MODELS = {"openai": "gpt-test", "anthropic": "claude-test"}  # vendor format → model
VENDORS = list(MODELS)
STREAMS = [False, True]
PNG = ("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5E"
       "rkJggg==")
EPHEMERAL = {"type": "ephemeral"}
BETA = "mid-conversation-system-2026-04-07"


class Person(BaseModel):
    name: str
    age: int


ADA = Person(name="Ada", age=36)
ADA_JSON = '{"name": "Ada", "age": 36}'


def script_text(upstream, vendor, text, stream, usage=(10, 5, 0)):
    """The vendor answers text in its own format (upstream model names as the mock's)."""
    if vendor == "openai":
        upstream.script(Stream(openai_chunks(text, "gpt-upstream", usage=usage)) if stream
                        else Reply(json=openai_completion(text, "gpt-upstream", usage=usage)))
    else:
        upstream.script(Stream(anthropic_events(text, "claude-upstream", usage=usage)) if stream
                        else Reply(json=anthropic_message(text, "claude-upstream", usage=usage)))


def ask_openai(client, stream, **request):
    if stream:
        with client.chat.completions.stream(**request) as events:
            return events.get_final_completion()
    if "response_format" in request and isinstance(request["response_format"], type):
        return client.chat.completions.parse(**request)
    return client.chat.completions.create(**request)


def ask_anthropic(client, stream, **request):
    request.setdefault("max_tokens", 100)
    if stream:
        with client.messages.stream(**request) as events:
            return events.get_final_message()
    if "output_format" in request:
        return client.messages.parse(**request)
    return client.messages.create(**request)


# ---- mid-conversation system messages --------------------------------------------------------

CLAUDE_CODE_TURNS = [
    {"role": "user", "content": "Read a.py"},
    {"role": "assistant", "content": [{"type": "tool_use", "id": "toolu_1", "name": "Read",
                                       "input": {"file_path": "a.py"}}]},
    {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_1",
                                  "content": "print(1)"}]},
    {"role": "system", "content": [{"type": "text", "text": "Plan mode is active.",
                                    "cache_control": {"type": "ephemeral", "ttl": "1h"}}]},
]


@pytest.mark.parametrize("stream", STREAMS)
@pytest.mark.parametrize("vendor", VENDORS)
def test_claude_code_mid_conversation_system_message(vendor, stream, anthropic_client,
                                                     upstream):
    script_text(upstream, vendor, "Planning.", stream)
    message = ask_anthropic(anthropic_client, stream, model=MODELS[vendor],
                            system="You are Claude Code.", messages=CLAUDE_CODE_TURNS,
                            extra_headers={"anthropic-beta": BETA})
    assert message.content[0].text == "Planning."
    sent = upstream.last()
    if vendor == "anthropic":  # passes through unchanged, the beta header with it
        assert sent.json["messages"] == CLAUDE_CODE_TURNS
        assert BETA in sent.headers["anthropic-beta"]
    else:  # an OpenAI system message in the same place, not a user message
        assert [m["role"] for m in sent.json["messages"]] == [
            "system", "user", "assistant", "tool", "system"]
        assert sent.json["messages"][-1] == {"role": "system", "content": "Plan mode is active."}


def test_malformed_mid_conversation_system_message_is_a_400(anthropic_client, upstream):
    with pytest.raises(anthropic.BadRequestError, match=r"messages\[1\]\.content\[0\]\.type"):
        anthropic_client.messages.create(model="gpt-test", max_tokens=10, messages=[
            {"role": "user", "content": "hi"},
            {"role": "system", "content": [{"type": "image", "source": {
                "type": "base64", "media_type": "image/png", "data": PNG}}]}])
    assert upstream.requests == []


# ---- structured output -----------------------------------------------------------------------

@pytest.mark.parametrize("stream", STREAMS)
@pytest.mark.parametrize("vendor", VENDORS)
def test_openai_parse_gets_structured_output(vendor, stream, openai_client, upstream):
    script_text(upstream, vendor, ADA_JSON, stream)
    completion = ask_openai(openai_client, stream, model=MODELS[vendor], response_format=Person,
                            messages=[{"role": "user", "content": "Ada, 36"}])
    assert completion.choices[0].message.parsed == ADA
    sent = upstream.last().json
    sdk_schema = openai.lib._pydantic.to_strict_json_schema(Person)
    if vendor == "openai":
        assert sent["response_format"]["json_schema"]["schema"] == sdk_schema
    else:
        assert sent["output_config"] == {"format": {"type": "json_schema", "schema": sdk_schema}}
        assert "response_format" not in sent


@pytest.mark.parametrize("stream", STREAMS)
@pytest.mark.parametrize("vendor", VENDORS)
def test_anthropic_parse_gets_structured_output(vendor, stream, anthropic_client, upstream):
    script_text(upstream, vendor, ADA_JSON, stream)
    message = ask_anthropic(anthropic_client, stream, model=MODELS[vendor], output_format=Person,
                            messages=[{"role": "user", "content": "Ada, 36"}])
    assert message.parsed_output == ADA
    sent = upstream.last().json
    sdk_schema = anthropic.lib._parse._transform.transform_schema(Person)
    if vendor == "anthropic":
        assert sent["output_config"]["format"]["schema"] == sdk_schema
    else:
        assert sent["response_format"] == {"type": "json_schema", "json_schema": {
            "name": "output", "schema": sdk_schema, "strict": True}}


@pytest.mark.parametrize("vendor", VENDORS)
def test_langchain_with_structured_output(vendor, live_server, api_key, upstream):
    script_text(upstream, vendor, ADA_JSON, False)
    chat = ChatOpenAI(model=MODELS[vendor], base_url=f"{live_server}/v1", api_key=api_key,
                      max_retries=0)
    assert chat.with_structured_output(Person, method="json_schema").invoke("Ada, 36") == ADA
    if vendor == "anthropic":
        assert upstream.last().json["output_config"]["format"]["type"] == "json_schema"
    script_text(upstream, vendor, ADA_JSON, False)
    chat = ChatAnthropic(model=MODELS[vendor], base_url=live_server, api_key=api_key,
                         max_retries=0)
    assert chat.with_structured_output(Person, method="json_schema").invoke("Ada, 36") == ADA
    if vendor == "openai":
        assert upstream.last().json["response_format"]["type"] == "json_schema"


@pytest.mark.parametrize("stream", STREAMS)
def test_json_object_to_an_anthropic_model_is_a_400_saying_why(stream, openai_client, upstream,
                                                                app):
    with pytest.raises(openai.BadRequestError) as raised:
        ask_openai(openai_client, stream, model="claude-test",
                   response_format={"type": "json_object"},
                   messages=[{"role": "user", "content": "JSON please"}])
    assert raised.value.status_code == 400
    assert raised.value.body["param"] == "response_format.type"
    assert "json_schema" in raised.value.body["message"]
    assert upstream.requests == []
    [row] = logged(app, count=1)
    assert row.status_code == 400


# ---- OpenAI options an Anthropic model cannot honour -----------------------------------------

@pytest.mark.parametrize("stream", STREAMS)
@pytest.mark.parametrize("option", [{"n": 2}, {"logprobs": True, "top_logprobs": 2},
                                    {"modalities": ["text", "audio"],
                                     "audio": {"voice": "alloy", "format": "wav"}}])
def test_option_an_anthropic_model_cannot_honour_is_a_400(option, stream, openai_client,
                                                          upstream):
    with pytest.raises(openai.BadRequestError) as raised:
        ask_openai(openai_client, stream, model="claude-test",
                   messages=[{"role": "user", "content": "hi"}], **option)
    assert raised.value.body["param"] == next(iter(option))
    assert upstream.requests == []


@pytest.mark.parametrize("stream", STREAMS)
def test_n_2_reaches_an_openai_format_vendor(stream, openai_client, upstream):
    script_text(upstream, "openai", "one", stream)
    ask_openai(openai_client, stream, model="gpt-test", n=2,
               messages=[{"role": "user", "content": "hi"}])
    assert upstream.last().json["n"] == 2


# ---- cache_control from OpenAI clients -------------------------------------------------------

@pytest.mark.parametrize("stream", STREAMS)
@pytest.mark.parametrize("vendor", VENDORS)
def test_openai_cache_control_reaches_anthropic_and_cached_tokens_come_back(
        vendor, stream, openai_client, upstream):
    script_text(upstream, vendor, "ok", stream, usage=(100, 5, 75))
    tools = [{"type": "function", "cache_control": EPHEMERAL,
              "function": {"name": "read", "parameters": {"type": "object"}}}]
    messages = [{"role": "system", "content": [
                    {"type": "text", "text": "Long rules.", "cache_control": EPHEMERAL}]},
                {"role": "user", "content": [
                    {"type": "text", "text": "Long document.", "cache_control": EPHEMERAL},
                    {"type": "text", "text": "Question?"}]}]
    extra = {"stream_options": {"include_usage": True}} if stream else {}
    completion = ask_openai(openai_client, stream, model=MODELS[vendor], tools=tools,
                            messages=messages, **extra)
    assert completion.usage.prompt_tokens_details.cached_tokens == 75
    sent = upstream.last().json
    if vendor == "openai":
        assert sent["messages"] == messages and sent["tools"] == tools
        return
    assert sent["tools"][0]["cache_control"] == EPHEMERAL
    assert sent["system"] == [{"type": "text", "text": "Long rules.", "cache_control": EPHEMERAL}]
    assert sent["messages"][0]["content"] == [
        {"type": "text", "text": "Long document.", "cache_control": EPHEMERAL},
        {"type": "text", "text": "Question?"}]
    assert completion.usage.prompt_tokens == 100 + 75  # fresh + cache reads


# ---- images in OpenAI tool messages ----------------------------------------------------------

@pytest.mark.parametrize("stream", STREAMS)
@pytest.mark.parametrize("vendor", VENDORS)
def test_image_in_a_tool_message(vendor, stream, openai_client, upstream):
    script_text(upstream, vendor, "A red pixel.", stream)
    image = {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG}"}}
    messages = [
        {"role": "user", "content": "Take a screenshot."},
        {"role": "assistant", "content": None, "tool_calls": [{
            "id": "call_1", "type": "function",
            "function": {"name": "screenshot", "arguments": "{}"}}]},
        {"role": "tool", "tool_call_id": "call_1",
         "content": [{"type": "text", "text": "Screenshot:"}, image]}]
    completion = ask_openai(openai_client, stream, model=MODELS[vendor], messages=messages)
    assert completion.choices[0].message.content == "A red pixel."
    sent = upstream.last().json["messages"]
    if vendor == "openai":
        assert sent == messages
    else:
        assert sent[2] == {"role": "user", "content": [{
            "type": "tool_result", "tool_use_id": "call_1", "content": [
                {"type": "text", "text": "Screenshot:"},
                {"type": "image", "source": {"type": "base64", "media_type": "image/png",
                                             "data": PNG}}]}]}
