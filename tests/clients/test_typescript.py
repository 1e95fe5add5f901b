"""The TypeScript SDKs (npm `openai` and `@anthropic-ai/sdk`, pinned in package-lock.json) run by
Node.js against the gateway, on both upstream formats: their stream helpers (openai
``chat.completions.stream`` and ``runTools``, anthropic ``messages.stream``) and the same calls
without streaming. The scripts are tests/clients/ts/*.mjs; each prints what its helper returned."""

import pytest

from tests.clients.conftest import run_node_script
from tests.clients.shapes import EXPECTED

SCRIPTS = ("openai.mjs", "anthropic.mjs")


def run(gw, script, model, scenario, workdir=None):
    args = [model, scenario] + ([str(workdir)] if workdir else [])
    return run_node_script(script, *args, env={"GATEWAY_URL": gw.url, "GATEWAY_KEY": gw.key})


@pytest.mark.parametrize("scenario", ["tools", "tools-stream"])
@pytest.mark.parametrize("script", SCRIPTS)
def test_tool_round_trip(gw, script, model, scenario, workdir):
    result = run(gw, script, model, scenario, workdir)
    assert [(c["name"], c["args"]) for c in result["toolCalls"]] == [
        ("write_file", {"path": "hello.txt", "content": "hi"})], result
    call_id = result["toolCalls"][0]["id"]
    assert result["toolResults"] == [{"id": call_id, "content": "wrote 2 bytes to hello.txt"}]
    assert (workdir / "hello.txt").read_text() == "hi"
    assert result["finalContent"] == "Done: wrote 2 bytes to hello.txt", result
    if script == "anthropic.mjs":
        assert result["stopReasons"] == ["tool_use", "end_turn"], result
    else:
        assert result["completions"] == 2, result
    if scenario == "tools-stream":
        assert result.get("chunks", 0) + result.get("events", 0) > 4, result
    gw.assert_clean_exchange(inference_requests=2)


@pytest.mark.parametrize("scenario", ["structured", "structured-stream"])
@pytest.mark.parametrize("script", SCRIPTS)
def test_structured_output(gw, script, model, scenario):
    result = run(gw, script, model, scenario)
    assert result["parsed"] == EXPECTED.model_dump(), result
    if script == "anthropic.mjs":
        assert result["stopReason"] == "end_turn", result
    else:
        assert result["finishReason"] == "stop", result
    if scenario == "structured-stream":
        assert result.get("chunks", 0) + result.get("events", 0) > 4, result
    gw.assert_clean_exchange()
