"""The Vercel AI SDK (npm ``ai`` with ``@ai-sdk/openai`` and ``@ai-sdk/anthropic``, pinned in
package-lock.json) run by Node.js against the gateway (tests/clients/ts/ai_sdk.mjs), on a model
behind each upstream format: ``createOpenAI({baseURL, apiKey})(model)`` -- the provider's default,
the Responses API -- and ``createAnthropic({baseURL, apiKey})(model)`` (Messages), each with
``generateText`` and ``streamText``: a tool run over two steps (the call, its result sent back,
the final text), and structured output (``Output.object``: Responses ``text.format``)."""

import pytest

from tests.clients.conftest import run_node_script
from tests.clients.shapes import EXPECTED

SURFACES = {"responses": "/v1/responses", "messages": "/v1/messages"}


def run(gw, model, scenario, workdir=None):
    args = [model, scenario] + ([str(workdir)] if workdir else [])
    return run_node_script("ai_sdk.mjs", *args,
                           env={"GATEWAY_URL": gw.url, "GATEWAY_KEY": gw.key})


@pytest.mark.parametrize("stream", [False, True], ids=["generateText", "streamText"])
@pytest.mark.parametrize("surface", SURFACES)
def test_tool_steps(gw, model, surface, stream, workdir):
    scenario = f"{surface}-tools" + ("-stream" if stream else "")
    result = run(gw, model, scenario, workdir)
    assert [(c["name"], c["args"]) for c in result["toolCalls"]] == [
        ("write_file", {"path": "hello.txt", "content": "hi"})], result
    call_id = result["toolCalls"][0]["id"]
    assert result["toolResults"] == [{"id": call_id, "content": "wrote 2 bytes to hello.txt"}]
    assert (workdir / "hello.txt").read_text() == "hi"
    assert result["text"] == "Done: wrote 2 bytes to hello.txt", result
    assert result["stepFinishReasons"] == ["tool-calls", "stop"], result
    assert result["finishReason"] == "stop", result
    assert result["usage"]["inputTokens"] > 0 and result["usage"]["outputTokens"] > 0, result
    assert result["warnings"] == [], result
    if stream:
        assert result["parts"] > 6, result
    seen = gw.assert_clean_exchange(inference_requests=2)
    assert [e.path for e in seen] == [SURFACES[surface]] * 2


@pytest.mark.parametrize("stream", [False, True], ids=["generateText", "streamText"])
@pytest.mark.parametrize("surface", SURFACES)
def test_structured_output(gw, model, surface, stream):
    result = run(gw, model, f"{surface}-structured" + ("-stream" if stream else ""))
    assert result["parsed"] == EXPECTED.model_dump(), result
    assert result["finishReason"] == "stop", result
    seen = gw.assert_clean_exchange()
    assert [e.path for e in seen] == [SURFACES[surface]]
