"""LangChain's ChatOpenAI and ChatAnthropic through the gateway, on both upstream formats:
``with_structured_output`` (JSON schema and function calling) and a ``bind_tools`` round trip (the
model calls the tool, its result goes back, a final text comes), invoked and streamed."""

import pytest
from langchain_anthropic import ChatAnthropic
from langchain_core.messages import AIMessage, HumanMessage, ToolMessage
from langchain_core.tools import tool
from langchain_openai import ChatOpenAI

from tests.clients.agent import tool_results
from tests.clients.shapes import EXPECTED, FILE_PROMPT, PROMPT, Person

TIMEOUT = 30
CHAT_CLASSES = ("ChatOpenAI", "ChatAnthropic")


@pytest.fixture(autouse=True)
def _no_tracing(monkeypatch):
    """LangChain sends nothing anywhere but the gateway (no LangSmith tracing)."""
    for name in ("LANGSMITH_TRACING", "LANGCHAIN_TRACING_V2", "LANGSMITH_API_KEY",
                 "LANGCHAIN_API_KEY", "OPENAI_API_KEY", "ANTHROPIC_API_KEY", "OPENAI_BASE_URL",
                 "ANTHROPIC_BASE_URL"):
        monkeypatch.delenv(name, raising=False)


def chat_model(kind, gw, model):
    if kind == "ChatOpenAI":
        return ChatOpenAI(model=model, base_url=f"{gw.url}/v1", api_key=gw.key, timeout=TIMEOUT,
                          max_retries=0)
    return ChatAnthropic(model=model, base_url=gw.url, api_key=gw.key, timeout=TIMEOUT,
                         max_retries=0, max_tokens=1024)


@pytest.mark.parametrize("method", ["json_schema", "function_calling"])
@pytest.mark.parametrize("kind", CHAT_CLASSES)
def test_with_structured_output(gw, kind, method, model):
    structured = chat_model(kind, gw, model).with_structured_output(Person, method=method)
    assert structured.invoke(PROMPT) == EXPECTED
    gw.assert_clean_exchange()


def _write_file_tool(directory):
    @tool
    def write_file(path: str, content: str) -> str:
        """Write content to the file at path (relative to the working directory)."""
        target = directory / path
        target.write_text(content)
        return f"wrote {len(content)} bytes to {path}"

    return write_file


def _streamed(runnable, messages) -> AIMessage:
    chunks = list(runnable.stream(messages))
    assert len(chunks) > 1, "the answer did not arrive in several chunks"
    merged = chunks[0]
    for chunk in chunks[1:]:
        merged += chunk
    return merged


@pytest.mark.parametrize("stream", [False, True], ids=["invoke", "stream"])
@pytest.mark.parametrize("kind", CHAT_CLASSES)
def test_bind_tools_round_trip(gw, kind, model, stream, workdir):
    write_file = _write_file_tool(workdir)
    llm = chat_model(kind, gw, model)
    with_tools = llm.bind_tools([write_file])
    messages = [HumanMessage(FILE_PROMPT)]

    call = _streamed(with_tools, messages) if stream else with_tools.invoke(messages)
    assert [(c["name"], c["args"]) for c in call.tool_calls] == [
        ("write_file", {"path": "hello.txt", "content": "hi"})]
    assert call.tool_calls[0]["id"]

    result = write_file.invoke(call.tool_calls[0])
    assert isinstance(result, ToolMessage)
    assert (workdir / "hello.txt").read_text() == "hi"

    messages += [call, result]
    final = _streamed(with_tools, messages) if stream else with_tools.invoke(messages)
    assert final.text == "Done: wrote 2 bytes to hello.txt"
    assert not final.tool_calls
    # the tool's result reached the vendor as a tool result of the right call
    assert tool_results(gw.upstream.last()) == ["wrote 2 bytes to hello.txt"]
    gw.assert_clean_exchange(inference_requests=2)
