"""The checks of the fields the translators now read: mid-conversation system messages and
output_config on /v1/messages, response_format, cache_control and log-probability options on
/v1/chat/completions — a 400 naming the field, towards both vendor formats, never a 500."""
import pytest

from tests.conftest import create_key
from tests.test_validation import HI, bad_chat, bad_messages

MODELS = ["gpt-test", "claude-test"]


@pytest.fixture
def key(app):
    return create_key(app)


@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize("body, field", [
    ({"messages": [*HI, {"role": "system", "content": 5}]}, "messages[1].content"),
    ({"messages": [*HI, {"role": "system"}]}, "messages[1].content"),
    ({"messages": [*HI, {"role": "system", "content": [
        {"type": "tool_result", "tool_use_id": "t"}]}]}, "messages[1].content[0].type"),
    ({"messages": [*HI, {"role": "system", "content": [{"type": "text"}]}]},
     "messages[1].content[0].text"),
    ({"messages": HI, "output_config": []}, "output_config"),
    ({"messages": HI, "output_config": {"format": "json"}}, "output_config.format"),
    ({"messages": HI, "output_config": {"format": {"schema": {}}}}, "output_config.format.type"),
    ({"messages": HI, "output_config": {"format": {"type": "json_schema", "schema": []}}},
     "output_config.format.schema"),
    ({"messages": HI, "output_config": {"effort": 3}}, "output_config.effort"),
])
def test_malformed_messages_field_is_400(client, key, model, body, field):
    bad_messages(client, key, {"model": model, "max_tokens": 10, **body}, field)


@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize("body, param", [
    ({"response_format": "json"}, "response_format"),
    ({"response_format": {}}, "response_format.type"),
    ({"response_format": {"type": "json_schema"}}, "response_format.json_schema"),
    ({"response_format": {"type": "json_schema", "json_schema": {"schema": {}}}},
     "response_format.json_schema.name"),
    ({"response_format": {"type": "json_schema", "json_schema": {"name": "a", "schema": []}}},
     "response_format.json_schema.schema"),
    ({"response_format": {"type": "json_schema", "json_schema": {"name": "a", "strict": 1}}},
     "response_format.json_schema.strict"),
    ({"messages": [{"role": "user", "content": "hi", "cache_control": "ephemeral"}]},
     "messages[0].cache_control"),
    ({"messages": [{"role": "user", "content": [
        {"type": "text", "text": "hi", "cache_control": True}]}]},
     "messages[0].content[0].cache_control"),
    ({"tools": [{"type": "function", "function": {"name": "f"}, "cache_control": []}]},
     "tools[0].cache_control"),
    ({"logprobs": "yes"}, "logprobs"),
    ({"top_logprobs": -1}, "top_logprobs"),
])
def test_malformed_chat_field_is_400(client, key, model, body, param):
    bad_chat(client, key, {"model": model, "messages": HI, **body}, param)
