"""Request translation of mid-conversation system messages, structured output, prompt-caching
marks from OpenAI clients, images in tool messages, and the OpenAI options an Anthropic model
cannot honour (a 400 naming the field, never a silent drop)."""
import pytest
from anthropic.types import MessageCreateParams
from openai.types.chat.completion_create_params import CompletionCreateParams
from pydantic import TypeAdapter

from app.errors import InvalidRequest
from app.formats.translate_request import (
    REFUSED_OPENAI_FIELDS,
    anthropic_to_openai_request,
    openai_to_anthropic_request,
)

PNG = "iVBORw0KGgo="
PART_PNG = {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG}"}}
IMAGE_PNG = {"type": "image", "source": {"type": "base64", "media_type": "image/png",
                                         "data": PNG}}
EPHEMERAL = {"type": "ephemeral"}
HOUR = {"type": "ephemeral", "ttl": "1h"}
HI = {"role": "user", "content": "hi"}
A_BODY = {"model": "claude-opus-4-8", "max_tokens": 100, "messages": [HI]}
O_BODY = {"model": "gpt-4o", "messages": [HI]}
FUNCTION = {"type": "function", "function": {"name": "read", "parameters": {"type": "object"}}}


def text(value, **extra):
    return {"type": "text", "text": value, **extra}


def to_openai(**body):
    out = anthropic_to_openai_request({**A_BODY, **body}, "gpt-4o")
    TypeAdapter(CompletionCreateParams).validate_python(out)
    return out


def to_anthropic(**body):
    out = openai_to_anthropic_request({**O_BODY, **body}, "claude-opus-4-8",
                                      default_max_tokens=1000)
    TypeAdapter(MessageCreateParams).validate_python(out)
    return out


# ---- mid-conversation system messages (Claude Code 2.1, beta mid-conversation-system) --------

def test_mid_conversation_system_messages_stay_in_place_as_system_messages():
    body = {"system": "You are Claude Code.", "messages": [
        HI,
        {"role": "assistant", "content": [{"type": "tool_use", "id": "toolu_1", "name": "Read",
                                           "input": {"file_path": "a.py"}}]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_1",
                                      "content": "print(1)"}]},
        {"role": "system", "content": [text("Plan mode is on.", cache_control=HOUR),
                                       text("Do not edit files.")]},
        {"role": "assistant", "content": "Understood."},
        {"role": "user", "content": "go on"},
        {"role": "system", "content": "Be brief."}]}
    TypeAdapter(MessageCreateParams).validate_python({**A_BODY, **body})
    assert to_openai(**body)["messages"] == [
        {"role": "system", "content": "You are Claude Code."},
        HI,
        {"role": "assistant", "content": None, "tool_calls": [{
            "id": "toolu_1", "type": "function",
            "function": {"name": "Read", "arguments": '{"file_path":"a.py"}'}}]},
        {"role": "tool", "tool_call_id": "toolu_1", "content": "print(1)"},
        {"role": "system", "content": "Plan mode is on.\n\nDo not edit files."},
        {"role": "assistant", "content": "Understood."},
        {"role": "user", "content": "go on"},
        {"role": "system", "content": "Be brief."}]


def test_empty_mid_conversation_system_message_is_skipped():
    assert to_openai(messages=[HI, {"role": "system", "content": []}])["messages"] == [HI]


# ---- structured output --------------------------------------------------------------------

PERSON = {"type": "object", "properties": {"name": {"type": "string"},
                                           "age": {"type": "integer"}},
          "required": ["name", "age"], "additionalProperties": False}


def json_schema(schema, **extra):
    return {"type": "json_schema", "json_schema": {"name": "Person", "schema": schema, **extra}}


def test_openai_json_schema_becomes_anthropic_output_config():
    out = to_anthropic(response_format=json_schema(PERSON, strict=True,
                                                   description="A person"))
    assert out["output_config"] == {"format": {"type": "json_schema", "schema": PERSON}}


def test_openai_schema_objects_are_closed_for_anthropic_everywhere():
    open_person = {"type": "object", "properties": {"name": {"type": "string"}}}
    schema = {"type": "object", "title": "Team",
              "properties": {"lead": {"$ref": "#/$defs/Person"},
                             "members": {"type": "array", "items": open_person},
                             "extra": {"anyOf": [open_person, {"type": "null"}]}},
              "$defs": {"Person": open_person}}
    closed = {**open_person, "additionalProperties": False}
    body = {"response_format": json_schema(schema)}
    out = to_anthropic(**body)
    assert out["output_config"]["format"]["schema"] == {
        **schema, "additionalProperties": False,
        "properties": {"lead": {"$ref": "#/$defs/Person"},
                       "members": {"type": "array", "items": closed},
                       "extra": {"anyOf": [closed, {"type": "null"}]}},
        "$defs": {"Person": closed}}
    assert "additionalProperties" not in body["response_format"]["json_schema"]["schema"]


@pytest.mark.parametrize("extra, param", [
    (True, "response_format.json_schema.schema.additionalProperties"),
    ({"type": "string"}, "response_format.json_schema.schema.properties.tags.additionalProperties"),
])
def test_openai_schema_allowing_other_properties_is_refused(extra, param):
    if param.endswith("tags.additionalProperties"):
        schema = {"type": "object", "properties": {"tags": {"type": "object",
                                                            "additionalProperties": extra}}}
    else:
        schema = {**PERSON, "additionalProperties": extra}
    with pytest.raises(InvalidRequest) as raised:
        to_anthropic(response_format=json_schema(schema))
    assert raised.value.param == param and raised.value.status == 400
    assert "cannot be honoured" in raised.value.message


def test_openai_json_object_is_refused_towards_anthropic():
    with pytest.raises(InvalidRequest) as raised:
        to_anthropic(response_format={"type": "json_object"})
    assert raised.value.param == "response_format.type"
    assert "json_object" in raised.value.message and "json_schema" in raised.value.message


def test_openai_text_format_asks_for_nothing():
    assert "output_config" not in to_anthropic(response_format={"type": "text"})


@pytest.mark.parametrize("schema, strict", [
    (PERSON, True),
    ({**PERSON, "required": ["name"]}, False),  # an optional property: not strict-mode valid
    ({"type": "object", "properties": {"p": PERSON, "q": {"type": "array", "items": {
        **PERSON, "additionalProperties": True}}}, "required": ["p", "q"],
      "additionalProperties": False}, False),
])
def test_anthropic_output_config_becomes_openai_response_format(schema, strict):
    out = to_openai(output_config={"format": {"type": "json_schema", "schema": schema},
                                   "effort": "high"})
    assert out["response_format"] == {"type": "json_schema", "json_schema": {
        "name": "output", "schema": schema, "strict": strict}}


def test_anthropic_output_config_without_format_asks_for_nothing():
    assert "response_format" not in to_openai(output_config={"effort": "low"})


def test_anthropic_output_format_of_another_type_is_refused():
    with pytest.raises(InvalidRequest) as raised:
        to_openai(output_config={"format": {"type": "regex", "pattern": "a+"}})
    assert raised.value.param == "output_config.format"


# ---- OpenAI options an Anthropic model cannot honour ----------------------------------------

REFUSED = {"n": 2, "logprobs": True, "top_logprobs": 3, "modalities": ["text", "audio"],
           "audio": {"voice": "alloy", "format": "wav"}, "functions": [{"name": "f"}],
           "web_search_options": {}}


def test_every_refused_field_has_a_case():
    assert set(REFUSED) == set(REFUSED_OPENAI_FIELDS)


@pytest.mark.parametrize("name, value", REFUSED.items())
def test_openai_option_asking_for_what_anthropic_cannot_give_is_a_400(name, value):
    with pytest.raises(InvalidRequest) as raised:
        to_anthropic(**{name: value})
    assert raised.value.status == 400 and raised.value.param == name
    assert f"'{name}'" in raised.value.message


def test_n_2_says_the_model_answers_one_choice():
    with pytest.raises(InvalidRequest, match="one choice"):
        to_anthropic(n=2)


# ---- cache_control from OpenAI clients (LiteLLM's convention) -------------------------------

def test_cache_control_on_parts_messages_and_tools_reaches_anthropic():
    out = to_anthropic(
        tools=[{**FUNCTION, "cache_control": EPHEMERAL}],
        messages=[{"role": "system", "content": [text("Long rules.", cache_control=HOUR)]},
                  {"role": "user", "content": [text("Look:"), {**PART_PNG,
                                                               "cache_control": EPHEMERAL}]},
                  {"role": "assistant", "content": "Seen.", "cache_control": EPHEMERAL}])
    assert out["tools"][0]["cache_control"] == EPHEMERAL
    assert out["system"] == [text("Long rules.", cache_control=HOUR)]  # a list keeps the mark
    assert out["messages"] == [
        {"role": "user", "content": [text("Look:"), {**IMAGE_PNG, "cache_control": EPHEMERAL}]},
        {"role": "assistant", "content": [text("Seen.", cache_control=EPHEMERAL)]}]


def test_message_level_cache_control_marks_the_last_block():
    out = to_anthropic(messages=[
        {"role": "developer", "content": "Rules.", "cache_control": EPHEMERAL},
        {"role": "user", "content": "question", "cache_control": EPHEMERAL},
        {"role": "assistant", "content": None, "tool_calls": [{
            "id": "c1", "type": "function", "function": {"name": "read", "arguments": "{}"}}]},
        {"role": "tool", "tool_call_id": "c1", "content": "result", "cache_control": EPHEMERAL}])
    assert out["system"] == [text("Rules.", cache_control=EPHEMERAL)]
    assert out["messages"][0] == {"role": "user",
                                  "content": [text("question", cache_control=EPHEMERAL)]}
    assert out["messages"][2]["content"] == [{"type": "tool_result", "tool_use_id": "c1",
                                              "content": "result", "cache_control": EPHEMERAL}]


def test_more_than_four_cache_marks_keep_the_last_four():
    marked = [{"role": "user", "content": [text(f"part {i}", cache_control=EPHEMERAL)]}
              for i in range(4)]
    body = {"tools": [{**FUNCTION, "cache_control": EPHEMERAL}],
            "messages": [{"role": "system", "content": "S", "cache_control": EPHEMERAL},
                         *marked]}
    out = to_anthropic(**body)
    assert "cache_control" not in out["tools"][0]
    assert out["system"] == [text("S")]  # its mark went too: the last 4 are the user parts
    content = out["messages"][0]["content"]
    assert [block.get("cache_control") for block in content] == [EPHEMERAL] * 4
    assert body["tools"][0]["cache_control"] == EPHEMERAL  # the client's body is untouched


# ---- images in OpenAI tool messages ---------------------------------------------------------

def test_images_in_a_tool_message_go_inside_the_tool_result():
    out = to_anthropic(messages=[
        HI,
        {"role": "assistant", "content": None, "tool_calls": [{
            "id": "c1", "type": "function",
            "function": {"name": "screenshot", "arguments": "{}"}}]},
        {"role": "tool", "tool_call_id": "c1", "content": [
            text("Here it is:"), {**PART_PNG, "cache_control": EPHEMERAL},
            {"type": "input_audio", "input_audio": {"data": "AAAA", "format": "wav"}}]}])
    assert out["messages"][2] == {"role": "user", "content": [{
        "type": "tool_result", "tool_use_id": "c1",
        "content": [text("Here it is:"), {**IMAGE_PNG, "cache_control": EPHEMERAL}]}]}
