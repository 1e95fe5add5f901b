"""Reasoning across the Responses surface, sync and stream: Anthropic thinking (signed) reaching a
Responses client as a reasoning item whose encrypted_content, sent back, reaches Anthropic as the
same signed block; a Chat upstream's reasoning_content as a reasoning summary; a Responses
vendor's reasoning item reaching Chat and Anthropic clients as a thinking block and going back
to the vendor as the same item."""
import json

import pytest

from tests.mock_responses import responses_events, responses_object
from tests.mock_upstream import Reply, Stream, anthropic_events, anthropic_message
from tests.responses_helpers import STREAMS, ask, check_stream, raw_events, sent

WEATHER = {"type": "function", "name": "get_weather",
           "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}
THOUGHT = ("The user wants Paris weather; call the tool.", "sig_EuYBCkQYAiJA")


@pytest.mark.parametrize("stream", STREAMS)
def test_anthropic_thinking_goes_round_a_responses_client_signed(openai_client, upstream,
                                                                 stream):
    uses = [("toolu_1", "get_weather", {"city": "Paris"})]
    upstream.script(Stream(anthropic_events(model="claude-upstream", tool_uses=uses,
                                            thinking=THOUGHT)) if stream
                    else Reply(json=anthropic_message(model="claude-upstream", tool_uses=uses,
                                                      thinking=THOUGHT)))
    request = {"model": "claude-test", "input": "Weather in Paris?", "tools": [WEATHER],
               "reasoning": {"effort": "low"}, "include": ["reasoning.encrypted_content"]}
    if stream:
        events, _ = raw_events(openai_client, **request)
        response = check_stream(events)
        kinds = [e.type for e in events]
        assert "response.reasoning_summary_text.delta" in kinds
    else:
        response = openai_client.responses.create(**request)
    reasoning, call = response.output
    assert reasoning.type == "reasoning" and reasoning.encrypted_content
    assert [part.text for part in reasoning.summary] == [THOUGHT[0]]
    assert (call.type, call.call_id, json.loads(call.arguments)) == (
        "function_call", "toolu_1", {"city": "Paris"})

    upstream.script(Stream(anthropic_events("Sunny.", "claude-upstream")) if stream
                    else Reply(json=anthropic_message("Sunny.", "claude-upstream")))
    history = [{"type": "message", "role": "user", "content": "Weather in Paris?"},
               reasoning.model_dump(exclude_none=True), call.model_dump(exclude_none=True),
               {"type": "function_call_output", "call_id": "toolu_1", "output": "sunny"}]
    response, _ = ask(openai_client, stream, **{**request, "input": history})
    assert response.output_text == "Sunny."
    assistant = sent(upstream)["messages"][1]
    assert assistant["role"] == "assistant"
    assert assistant["content"][0] == {"type": "thinking", "thinking": THOUGHT[0],
                                       "signature": THOUGHT[1]}
    assert assistant["content"][1]["type"] == "tool_use"


@pytest.mark.parametrize("stream", STREAMS)
def test_a_chat_upstreams_reasoning_content_is_a_reasoning_summary(openai_client, upstream,
                                                                   stream):
    from tests.mock_upstream import openai_chunks, openai_completion

    if stream:
        events = openai_chunks("42.", "gpt-upstream")
        events.insert(1, (None, {**events[1][1], "choices": [
            {"index": 0, "delta": {"reasoning_content": "Six times seven."},
             "finish_reason": None}]}))
        upstream.script(Stream(events))
    else:
        answer = openai_completion("42.", "gpt-upstream")
        answer["choices"][0]["message"]["reasoning_content"] = "Six times seven."
        upstream.script(Reply(json=answer))
    response, _ = ask(openai_client, stream, model="gpt-test", input="6*7?")
    reasoning, message = response.output
    assert reasoning.type == "reasoning"
    assert [part.text for part in reasoning.summary] == ["Six times seven."]
    assert message.type == "message" and response.output_text == "42."


ITEM_SUMMARY, ENCRYPTED = "Compare the two.", "gAAAAB_opaque_encrypted"


def _reasoning_answer(upstream, stream, text="Paris.", calls=None):
    upstream.script(Stream(responses_events(text, "resp-upstream", tool_calls=calls,
                                            reasoning=(ITEM_SUMMARY, ENCRYPTED))) if stream
                    else Reply(json=responses_object(text, "resp-upstream", tool_calls=calls,
                                                     reasoning=(ITEM_SUMMARY, ENCRYPTED))))


def _reasoning_items_sent(upstream):
    return [item for item in sent(upstream)["input"] if item.get("type") == "reasoning"]


@pytest.mark.parametrize("stream", STREAMS)
def test_a_responses_reasoning_item_reaches_a_chat_client_and_goes_back(openai_client,
                                                                        upstream, stream):
    if stream:
        blocks = _thinking_blocks_streamed(openai_client, upstream)
    else:
        _reasoning_answer(upstream, False)
        answer = openai_client.chat.completions.create(
            model="resp-test", messages=[{"role": "user", "content": "Capital?"}])
        message = answer.choices[0].message
        assert message.content == "Paris."
        extra = message.model_extra or {}
        blocks = extra["thinking_blocks"]
        assert extra.get("reasoning_content") == ITEM_SUMMARY
    assert [b["thinking"] for b in blocks] == [ITEM_SUMMARY]
    assert all(b["signature"] for b in blocks)
    _reasoning_answer(upstream, False, "Still Paris.")
    history = [{"role": "user", "content": "Capital?"},
               {"role": "assistant", "content": "Paris.", "thinking_blocks": blocks},
               {"role": "user", "content": "Sure?"}]
    again = openai_client.chat.completions.create(model="resp-test", messages=history)
    assert again.choices[0].message.content == "Still Paris."
    [item] = _reasoning_items_sent(upstream)
    assert item["encrypted_content"] == ENCRYPTED
    assert [part["text"] for part in item["summary"]] == [ITEM_SUMMARY]


def _thinking_blocks_streamed(openai_client, upstream):
    """The thinking blocks a Chat client accumulates from the raw chunks' deltas."""
    _reasoning_answer(upstream, True)
    chunks = list(openai_client.chat.completions.create(
        model="resp-test", messages=[{"role": "user", "content": "Capital?"}], stream=True))
    blocks = []
    for chunk in chunks:
        for choice in chunk.choices:
            blocks += (choice.delta.model_extra or {}).get("thinking_blocks") or []
    merged = {}
    for block in blocks:
        entry = merged.setdefault(block.get("index", 0), {"type": "thinking", "thinking": "",
                                                          "signature": ""})
        entry["thinking"] += block.get("thinking") or ""
        entry["signature"] += block.get("signature") or ""
    assert merged, "no thinking_blocks in the streamed deltas"
    return list(merged.values())


@pytest.mark.parametrize("stream", STREAMS)
def test_a_responses_reasoning_item_reaches_an_anthropic_client_and_goes_back(
        anthropic_client, upstream, stream):
    _reasoning_answer(upstream, stream, "", calls=[("call_1", "get_weather",
                                                    '{"city": "Paris"}')])
    request = {"model": "resp-test", "max_tokens": 200,
               "messages": [{"role": "user", "content": "Weather?"}],
               "tools": [{"name": "get_weather", "input_schema": WEATHER["parameters"]}]}
    if stream:
        with anthropic_client.messages.stream(**request) as events:
            message = events.get_final_message()
    else:
        message = anthropic_client.messages.create(**request)
    # streamed or not, one thinking block first, signed with the item (as Anthropic sends it:
    # the summary streams as thinking_delta, the item's end is its signature_delta)
    thinking, tool_use = message.content
    assert thinking.signature
    assert thinking.type == "thinking" and thinking.thinking == ITEM_SUMMARY
    assert tool_use.type == "tool_use"
    assert (tool_use.id, tool_use.input) == ("call_1", {"city": "Paris"})
    assert message.stop_reason == "tool_use"
    _reasoning_answer(upstream, False, "Sunny.")
    history = request["messages"] + [
        {"role": "assistant", "content": [block.model_dump() for block in message.content]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "call_1",
                                      "content": "sunny"}]}]
    again = anthropic_client.messages.create(**{**request, "messages": history})
    assert again.content[-1].text == "Sunny."
    [item] = _reasoning_items_sent(upstream)
    assert item["encrypted_content"] == ENCRYPTED
    kinds = [item.get("type") for item in sent(upstream)["input"]]
    assert kinds.index("reasoning") < kinds.index("function_call") < kinds.index(
        "function_call_output")
