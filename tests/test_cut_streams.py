"""An upstream stream that ends without its terminator — OpenAI chunks with no finish_reason and
no [DONE], an Anthropic stream with no message_stop — is a cut stream, not an answer: the
client gets an error event in its own format and the row says the upstream failed, with the
usage of what was sent and received."""
import anthropic
import openai
import pytest

from tests.conftest import logged
from tests.mock_upstream import Stream, anthropic_events, openai_chunks

HI = [{"role": "user", "content": "hi"}]
TEXT = "one two three four five six"


def _openai_cut():
    """The chunks up to the last text piece: no finish_reason, no usage, no [DONE]."""
    events = openai_chunks(TEXT, "gpt-upstream")
    return [e for e in events if e[1] != "[DONE]" and not _finishes(e[1])][:5]


def _finishes(chunk):
    return isinstance(chunk, dict) and (chunk.get("usage") or any(
        c.get("finish_reason") for c in chunk.get("choices") or ()))


def _anthropic_cut():
    events = anthropic_events(TEXT, "claude-upstream")
    return [e for e in events if e[0] not in ("message_delta", "message_stop")][:6]


def _assert_cut_row(app):
    [row] = logged(app, count=1)
    assert (row.status_code, row.error_type) == (502, "upstream_stream_cut")
    assert row.input_tokens > 0 and row.output_tokens > 0 and row.cost_usd > 0
    assert row.attempts[-1]["error"] == "upstream_stream_cut"


@pytest.mark.parametrize("model", ["gpt-test", "claude-test"])
def test_a_cut_stream_reaches_openai_clients_as_an_error(openai_client, upstream, app, model):
    upstream.script(Stream(_openai_cut() if model == "gpt-test" else _anthropic_cut()))
    text = ""
    with pytest.raises(openai.APIError) as info:
        for chunk in openai_client.chat.completions.create(model=model, messages=HI,
                                                           stream=True):
            text += (chunk.choices[0].delta.content or "") if chunk.choices else ""
    assert "ended before the answer was complete" in str(info.value)
    assert text and TEXT.startswith(text)
    _assert_cut_row(app)


@pytest.mark.parametrize("model", ["gpt-test", "claude-test"])
def test_a_cut_stream_reaches_anthropic_clients_as_an_error(anthropic_client, upstream, app,
                                                            model):
    upstream.script(Stream(_openai_cut() if model == "gpt-test" else _anthropic_cut()))
    with pytest.raises(anthropic.APIError) as info:
        with anthropic_client.messages.stream(model=model, max_tokens=50, messages=HI) as stream:
            for _ in stream.text_stream:
                pass
    assert "ended before the answer was complete" in str(info.value)
    _assert_cut_row(app)


def test_an_openai_stream_with_a_finish_reason_but_no_done_is_complete(openai_client, upstream,
                                                                       app):
    """Some OpenAI-compatible servers leave out [DONE]: the finish_reason says it is whole."""
    events = [e for e in openai_chunks(TEXT, "gpt-upstream") if e[1] != "[DONE]"]
    upstream.script(Stream(events))
    text = "".join(c.choices[0].delta.content or "" for c in openai_client.chat.completions
                   .create(model="gpt-test", messages=HI, stream=True) if c.choices)
    assert text == TEXT
    [row] = logged(app, count=1)
    assert row.status_code == 200 and row.output_tokens == 5  # the upstream's usage chunk


def test_an_overload_mid_stream_stays_an_overload_for_anthropic_clients(live_server, api_key,
                                                                         upstream, app):
    """An OpenAI-format upstream's error event of type overloaded reaches an Anthropic client as
    its overloaded_error event, and the row says 529."""
    import requests

    events = [e for e in openai_chunks(TEXT, "gpt-upstream") if e[1] != "[DONE]"][:3]
    events.append((None, {"error": {"message": "busy", "type": "overloaded_error",
                                    "code": "server_overloaded"}}))
    upstream.script(Stream(events))
    response = requests.post(f"{live_server}/v1/messages", stream=True, timeout=10,
                             headers={"x-api-key": api_key},
                             json={"model": "gpt-test", "max_tokens": 20, "stream": True,
                                   "messages": HI})
    text = response.text
    assert "event: error" in text and '"type":"overloaded_error"' in text.replace(" ", "")
    [row] = logged(app, count=1)
    assert row.status_code == 529
