"""Hosted tools of a Responses request (README: The Responses API): web_search goes to Anthropic's
own web-search tool when the provider allows it (`web_search: true`), else it is left out and
named in x-gateway-dropped-tools and the log row; a Responses-format vendor gets every tool as
sent; a tool type that is neither hosted nor mappable is a 400."""
import openai
import pytest

from tests.conftest import create_key, gateway_config, logged, serving
from tests.mock_upstream import Reply, anthropic_message, openai_completion

CODEX_TOOLS = [
    {"type": "function", "name": "exec_command", "description": "Run a command.",
     "parameters": {"type": "object", "properties": {"cmd": {"type": "string"}},
                    "required": ["cmd"]}, "strict": False},
    {"type": "namespace", "name": "multi_agent_v1", "description": "Agents.",
     "tools": [{"type": "function", "name": "spawn_agent", "parameters": {"type": "object"}}]},
    {"type": "web_search", "external_web_access": False},
]


def _gateway(app_factory, upstream, web_search):
    config = gateway_config(upstream)
    config["providers"]["up-anthropic"]["web_search"] = web_search
    app = app_factory(GATEWAY_CONFIG=config)
    return app, create_key(app)


@pytest.mark.parametrize("web_search", [False, True])
def test_web_search_to_an_anthropic_model(app_factory, upstream, web_search):
    app, key = _gateway(app_factory, upstream, web_search)
    upstream.script(Reply(json=anthropic_message("ok", "claude-up")))
    with serving(app) as url:
        client = openai.OpenAI(base_url=f"{url}/v1", api_key=key, max_retries=0)
        raw = client.responses.with_raw_response.create(model="claude-test", input="hi",
                                                        tools=CODEX_TOOLS)
    assert raw.parse().output_text == "ok"
    tools = upstream.last().json["tools"]
    names = [tool["name"] for tool in tools]
    assert names[:2] == ["exec_command", "multi_agent_v1__spawn_agent"]
    row = logged(app, raw.headers["x-request-id"])
    if web_search:
        assert tools[2] == {"type": "web_search_20250305", "name": "web_search"}
        assert "x-gateway-dropped-tools" not in raw.headers
        assert "dropped_tools" not in row.attempts[-1]
    else:
        assert len(tools) == 2
        assert raw.headers["x-gateway-dropped-tools"] == "web_search"
        assert row.attempts[-1]["dropped_tools"] == ["web_search"]


def test_web_search_to_a_chat_model_is_left_out(app, openai_client, upstream):
    upstream.script(Reply(json=openai_completion("ok", "gpt-up")))
    raw = openai_client.responses.with_raw_response.create(model="gpt-test", input="hi",
                                                           tools=CODEX_TOOLS)
    assert raw.headers["x-gateway-dropped-tools"] == "web_search"
    assert [t["function"]["name"] for t in upstream.last().json["tools"]] == \
        ["exec_command", "multi_agent_v1__spawn_agent"]


def test_a_tool_type_with_no_equivalent_is_a_400(openai_client, upstream):
    with pytest.raises(openai.BadRequestError) as caught:
        openai_client.responses.create(model="gpt-test", input="hi",
                                       tools=[{"type": "local_shell"}])
    assert caught.value.body["param"] == "tools[0].type"
    assert not upstream.requests  # refused before any upstream call
