"""The OpenAI Agents SDK (PyPI openai-agents, pinned in requirements.txt) with its default model
class, ``OpenAIResponsesModel`` (POST /v1/responses), through the gateway on each upstream format:
an agent with a function tool calls it, the result goes back up, the final output comes down.

What it sends: ``instructions``, ``input`` messages without a ``type``, ``include: []``, the tool
``strict: true``, no ``stream`` (``Runner.run_sync``) or ``stream: true``
(``Runner.run_streamed``), no ``store`` (OpenAI's default, true) and no ``previous_response_id``:
the second request carries the whole history (``function_call`` and ``function_call_output``
items)."""

import asyncio
import contextlib

import pytest
from agents import (
    Agent,
    Runner,
    function_tool,
    set_default_openai_api,
    set_default_openai_client,
    set_tracing_disabled,
)
from openai import AsyncOpenAI

from tests.clients.agent import tool_results

PROMPT = "create hello.txt containing hi"
TIMEOUT = 30


@pytest.fixture
def agents_client(gw):
    """The SDK's default client pointed at the gateway, tracing off (it would upload traces)."""
    client = AsyncOpenAI(base_url=f"{gw.url}/v1", api_key=gw.key, max_retries=0,
                         timeout=TIMEOUT)
    set_tracing_disabled(True)
    set_default_openai_api("responses")
    set_default_openai_client(client, use_for_tracing=False)
    yield client
    with contextlib.suppress(Exception):  # its connections belong to run_sync's closed loop
        asyncio.run(client.close())


def file_agent(model, written):
    @function_tool
    def write_file(path: str, content: str) -> str:
        """Write content to the file at path (relative to the working directory)."""
        written[path] = content
        return f"wrote {len(content.encode())} bytes to {path}"

    return Agent(name="writer", instructions="You write files when asked to.", model=model,
                 tools=[write_file])


def check_run(gw, result, written):
    assert written == {"hello.txt": "hi"}
    assert result.final_output == "Done: wrote 2 bytes to hello.txt"
    assert len(result.raw_responses) == 2
    assert all(r.usage.input_tokens > 0 and r.usage.output_tokens > 0
               for r in result.raw_responses)
    calls = [item for item in result.new_items if item.type == "tool_call_item"]
    outputs = [item for item in result.new_items if item.type == "tool_call_output_item"]
    assert [c.raw_item.name for c in calls] == ["write_file"]
    assert [o.output for o in outputs] == ["wrote 2 bytes to hello.txt"]
    results = [text for r in gw.upstream.requests for text in tool_results(r)]
    assert results == ["wrote 2 bytes to hello.txt"], results
    seen = gw.assert_clean_exchange(inference_requests=2)
    assert [e.path for e in seen] == ["/v1/responses"] * 2


def test_agent_with_a_function_tool(gw, agents_client, model):
    written: dict = {}
    result = Runner.run_sync(file_agent(model, written), PROMPT, max_turns=4)
    check_run(gw, result, written)


def test_agent_with_a_function_tool_streamed(gw, agents_client, model):
    written: dict = {}

    async def run():
        result = Runner.run_streamed(file_agent(model, written), PROMPT, max_turns=4)
        kinds = [event.type async for event in result.stream_events()]
        return result, kinds

    result, kinds = asyncio.run(run())
    assert "raw_response_event" in kinds
    check_run(gw, result, written)
