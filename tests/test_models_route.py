"""/v1/models answers each SDK in its own shape: OpenAI's list, or Anthropic's (type, display_name,
created_at, paging) when the Anthropic SDK asks — with its errors in Anthropic's shape too."""
import anthropic
import openai
import pytest

from tests.conftest import create_key


def test_the_anthropic_sdk_lists_and_retrieves_models_in_its_own_shape(anthropic_client):
    models = list(anthropic_client.models.list())
    assert {m.id for m in models} == {"mock-echo", "gpt-test", "claude-test", "resp-test"}
    for model in models:
        assert model.type == "model" and model.display_name == model.id
        assert model.created_at.year == 1970
    one = anthropic_client.models.retrieve("gpt-test")
    assert (one.id, one.type, one.max_tokens) == ("gpt-test", "model", 16384)


def test_anthropic_paging_walks_every_model_once(live_server, app):
    key = create_key(app)
    client = anthropic.Anthropic(base_url=live_server, api_key=key, max_retries=0)
    first = client.models.list(limit=2)
    assert len(first.data) == 2 and first.has_more and first.last_id == first.data[-1].id
    walked = [m.id for m in client.models.list(limit=1)]  # the SDK follows after_id by itself
    assert sorted(walked) == ["claude-test", "gpt-test", "mock-echo", "resp-test"]
    back = client.models.list(before_id=first.data[-1].id, limit=5)
    assert [m.id for m in back.data] == [first.data[0].id] and not back.has_more


def test_the_openai_sdk_still_gets_openai_objects(openai_client):
    model = openai_client.models.retrieve("claude-test")
    assert (model.id, model.object, model.owned_by) == ("claude-test", "model", "gateway")


def test_errors_on_models_come_in_the_anthropic_shape_to_the_anthropic_sdk(live_server, app):
    client = anthropic.Anthropic(base_url=live_server, api_key=create_key(app, models=["gpt-*"]),
                                 max_retries=0)
    with pytest.raises(anthropic.NotFoundError) as info:
        client.models.retrieve("claude-test")
    assert info.value.body["type"] == "error"
    assert info.value.body["error"]["type"] == "not_found_error"
    with pytest.raises(anthropic.BadRequestError):
        client.models.list(limit=5000)
    bad = anthropic.Anthropic(base_url=live_server, api_key="sk-gw-nope", max_retries=0)
    with pytest.raises(anthropic.AuthenticationError) as info:
        bad.models.list()
    assert info.value.body["error"]["type"] == "authentication_error"
    openai_client = openai.OpenAI(base_url=f"{live_server}/v1", api_key="sk-gw-nope",
                                  max_retries=0)
    with pytest.raises(openai.AuthenticationError) as info:
        openai_client.models.list()
    assert info.value.body["code"] == "invalid_api_key"
