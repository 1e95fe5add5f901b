"""Property-based fuzz (hypothesis) of /v1/chat/completions and /v1/messages, each towards an
OpenAI-format and an Anthropic-format upstream (the loopback mock), so both the pass-through and
the translation paths see malformed bodies: never a 5xx, always the surface's own error shape,
and a 200 stream never carries an error frame (a translator crashing mid-stream).

The bodies are mostly well-formed with some fields wrong (a wrong type, a null, an unknown block
type, garbage JSON, deep nesting), which is what reaches the translators; fully random JSON
would stop at the first check. A key with TPM and budget limits makes every request go through
the token estimate too. Deterministic (derandomize) and bounded (MAX_EXAMPLES) for CI.
"""
import json
import os

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import create_key
from tests.fuzz_helpers import Tally, assert_anthropic_error, assert_openai_error

MAX_EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", 1000))  # a bigger exploratory run: set it
# ... and FUZZ_RANDOM=1 for fresh random examples instead of the fixed (derandomized) ones
FUZZ = settings(max_examples=MAX_EXAMPLES, derandomize=not os.environ.get("FUZZ_RANDOM"),
                deadline=None, database=None, suppress_health_check=list(HealthCheck))

scalars = st.one_of(st.none(), st.booleans(), st.integers(-2**40, 2**40),
                    st.floats(allow_nan=False, allow_infinity=False), st.text(max_size=12))
garbage = st.recursive(scalars, lambda inner: st.lists(inner, max_size=3)
                       | st.dictionaries(st.text(max_size=6), inner, max_size=3), max_leaves=8)
deep = st.integers(40, 300).map(lambda depth: json.loads("[" * depth + "1" + "]" * depth))
texts = st.text(max_size=24)
data_uris = st.sampled_from(["data:image/png;base64,iVBORw0KGgo=", "data:application/pdf;base64,"
                             "JVBERi0xLjQ=", "https://example.com/cat.png", "data:,x", ""])


def maybe(strategy):
    """The well-formed thing, or now and then a null (which counts as absent)."""
    return st.one_of(strategy, strategy, strategy, strategy, st.none())


def paths(value, here=()):
    """Every place in a JSON value: the paths of its items and members, depth first."""
    found = [here]
    if isinstance(value, dict):
        for key, item in value.items():
            found += paths(item, here + (key,))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            found += paths(item, here + (i,))
    return found


@st.composite
def mutated(draw, bodies):
    """A well-formed body, left as it is half the time, else with one or two of its values
    (anywhere, at any depth but the model) replaced by JSON of another shape or deep nesting."""
    body = json.loads(json.dumps(draw(bodies)))  # a copy: st.just values are shared
    for _ in range(draw(st.sampled_from([0, 0, 1, 2]))):
        places = [p for p in paths(body) if p and p != ("model",)]
        place = draw(st.sampled_from(places))
        parent = body
        for step in place[:-1]:
            parent = parent[step]
        parent[place[-1]] = draw(st.one_of(garbage, garbage, garbage, deep))
    return body


def obj(required=None, **optional):
    return st.fixed_dictionaries(required or {}, optional=optional)


# --- OpenAI Chat Completions ------------------------------------------------------------------
# Well-formed, with the unusual but valid: nulls for optional fields, unknown part / tool / call
# types, tool results without calls, reasoning history, odd numbers. mutated() breaks them.

openai_parts = st.one_of(
    obj({"type": st.just("text"), "text": texts}),
    obj({"type": st.just("image_url"),
         "image_url": obj({"url": data_uris}, detail=maybe(st.sampled_from(["auto", "low"])))}),
    obj({"type": st.just("file"), "file": obj(file_data=maybe(data_uris), file_id=maybe(texts),
                                              filename=maybe(texts))}),
    obj({"type": st.just("input_audio"), "input_audio": obj({"data": texts, "format": texts})}),
    obj({"type": st.just("refusal"), "refusal": texts}),
    obj({"type": st.just("future_part")}, text=texts),
)
arguments = st.sampled_from(['{"a": 1}', "", "[1]", "not json", '{"x": [null]}'])
tool_calls = maybe(st.lists(st.one_of(
    obj({"id": texts, "function": obj({"name": texts, "arguments": arguments})},
        type=maybe(st.just("function"))),
    obj({"id": texts, "type": st.just("custom"), "custom": obj({"name": texts,
                                                                 "input": texts})}),
    obj({"type": st.just("other")}, other=garbage)), max_size=2))
roles = st.sampled_from(["system", "developer", "user", "assistant", "tool"])
openai_messages = st.lists(st.one_of(
    obj({"role": roles}, content=maybe(st.one_of(texts, st.lists(openai_parts, max_size=3))),
        tool_calls=tool_calls, name=maybe(texts), reasoning_content=maybe(texts),
        refusal=maybe(texts), thinking_blocks=maybe(st.lists(obj(
            {"type": st.sampled_from(["thinking", "redacted_thinking"])},
            thinking=texts, signature=texts, data=texts), max_size=2))),
    obj({"role": st.just("tool"), "tool_call_id": texts},
        content=st.one_of(texts, st.lists(openai_parts, max_size=2)))),
    min_size=1, max_size=4)
openai_tools = maybe(st.lists(st.one_of(
    obj({"type": st.just("function"), "function": obj(
        {"name": texts}, description=maybe(texts), strict=maybe(st.booleans()),
        parameters=maybe(st.just({"type": "object", "properties": {"a": {"type": "string"}}})))}),
    obj({"type": st.just("custom"), "custom": obj({"name": texts})}),
    obj({"type": st.just("web_search")})), max_size=2))
tool_choices = maybe(st.one_of(
    st.sampled_from(["auto", "none", "required"]),
    obj({"type": st.just("function"), "function": obj({"name": texts})}),
    obj({"type": st.just("allowed_tools")}, allowed_tools=garbage)))


def chat_bodies(model):
    return obj({"model": st.just(model), "messages": openai_messages},
               stream=maybe(st.booleans()), max_tokens=maybe(st.integers(1, 100_000)),
               max_completion_tokens=maybe(st.integers(1, 100_000)),
               temperature=maybe(st.floats(0, 2)), top_p=maybe(st.floats(0, 1)),
               top_k=maybe(st.integers(-1, 100)), n=maybe(st.integers(1, 3)),
               stop=maybe(st.one_of(texts, st.lists(texts, max_size=3))),
               tools=openai_tools, tool_choice=tool_choices,
               parallel_tool_calls=maybe(st.booleans()), user=maybe(st.text(max_size=80)),
               reasoning_effort=maybe(st.sampled_from(["minimal", "low", "high", "none", "x"])),
               stream_options=maybe(obj(include_usage=maybe(st.booleans()))),
               metadata=garbage, response_format=garbage)


# --- Anthropic Messages -----------------------------------------------------------------------

sources = st.one_of(
    obj({"type": st.just("base64"), "media_type": st.sampled_from(["image/png",
                                                                   "application/pdf"]),
         "data": texts}),
    obj({"type": st.just("url"), "url": data_uris}),
    obj({"type": st.just("text"), "data": texts}, media_type=maybe(texts)),
    obj({"type": st.just("content"), "content": st.one_of(texts, st.lists(st.one_of(
        obj({"type": st.just("text"), "text": texts}), obj({"type": st.just("other")})),
        max_size=2))}),
    obj({"type": st.just("file"), "file_id": texts}),
    obj({"type": st.just("other")}, other=garbage))
text_block = obj({"type": st.just("text"), "text": texts})
media_blocks = st.one_of(obj({"type": st.just("image"), "source": sources}),
                         obj({"type": st.just("document"), "source": sources},
                             title=maybe(texts), context=maybe(texts)))
anthropic_blocks = st.one_of(
    text_block, media_blocks,
    obj({"type": st.just("tool_use"), "id": texts, "name": texts,
         "input": st.dictionaries(st.text(max_size=4), garbage, max_size=2)}),
    obj({"type": st.just("tool_result"), "tool_use_id": texts},
        content=maybe(st.one_of(texts, st.lists(st.one_of(
            text_block, media_blocks, obj({"type": st.just("search_result")})), max_size=2))),
        is_error=maybe(st.booleans())),
    obj({"type": st.just("thinking"), "thinking": texts, "signature": texts}),
    obj({"type": st.just("redacted_thinking"), "data": texts}),
    obj({"type": st.sampled_from(["server_tool_use", "search_result"])}, source=garbage),
)
anthropic_messages = st.lists(obj(
    {"role": st.sampled_from(["user", "assistant"]),
     "content": st.one_of(texts, st.lists(anthropic_blocks, max_size=3))}),
    min_size=1, max_size=4)
anthropic_tools = maybe(st.lists(st.one_of(
    obj({"name": texts, "input_schema": st.just({"type": "object"})},
        type=maybe(st.just("custom")), description=maybe(texts)),
    obj({"type": st.sampled_from(["web_search_20250305", "bash_20250124"])},
        name=texts)), max_size=2))
anthropic_tool_choices = maybe(st.one_of(
    obj({"type": st.sampled_from(["auto", "any", "none"])},
        disable_parallel_tool_use=maybe(st.booleans())),
    obj({"type": st.just("tool"), "name": texts},
        disable_parallel_tool_use=maybe(st.booleans()))))


def messages_bodies(model):
    return obj({"model": st.just(model), "max_tokens": st.integers(1, 100_000),
                "messages": anthropic_messages},
               system=maybe(st.one_of(texts, st.lists(text_block, max_size=2))),
               stream=maybe(st.booleans()), temperature=maybe(st.floats(0, 1)),
               top_p=maybe(st.floats(0, 1)), top_k=maybe(st.integers(-1, 100)),
               stop_sequences=maybe(st.lists(texts, max_size=2)), tools=anthropic_tools,
               tool_choice=anthropic_tool_choices,
               metadata=maybe(obj(user_id=maybe(st.text(max_size=80)))),
               thinking=maybe(obj({"type": st.sampled_from(["enabled", "disabled", "adaptive"])},
                                  budget_tokens=maybe(st.integers(1, 40_000)))),
               container=garbage)


# --- the properties ---------------------------------------------------------------------------

@pytest.fixture
def limited_key(app):
    """Limits make every request take the token estimate and the budget reservation."""
    return create_key(app, tpm=2_000_000_000, max_budget_usd=1_000_000)


def check_answer(response, surface, stream):
    assert response.status_code < 500, response.get_data(as_text=True)[:2000]
    if response.status_code >= 400:
        (assert_openai_error if surface == "openai" else assert_anthropic_error)(response)
        return
    body = response.get_data(as_text=True)
    if response.mimetype == "text/event-stream":
        events = [json.loads(line[5:]) for line in body.split("\n")
                  if line.startswith("data:") and line != "data: [DONE]"]
        assert events, body
        for event in events:  # an error after the stream began: a broken translation
            assert "error" not in event and event.get("type") != "error", body[:2000]
    else:
        assert not stream
        answer = json.loads(body)
        assert "choices" in answer if surface == "openai" else answer["type"] == "message"


def post(client, path, key, body):
    return client.post(path, data=json.dumps(body), content_type="application/json",
                       headers={"Authorization": f"Bearer {key}"})


@pytest.mark.parametrize("model", ["gpt-test", "claude-test"])
def test_chat_completions_never_5xx(app, client, limited_key, model):
    tally = Tally(app)

    @FUZZ
    @given(body=mutated(chat_bodies(model)))
    def fuzz(body):
        response = post(client, "/v1/chat/completions", limited_key, body)
        check_answer(response, "openai", body.get("stream") is True)

    fuzz()
    print(f"\nfuzz chat -> {model}: {dict(tally.counts)}")
    assert tally.counts["requests"] >= MAX_EXAMPLES // 2 and not tally.counts["5xx"]


@pytest.mark.parametrize("model", ["gpt-test", "claude-test"])
def test_messages_never_5xx(app, client, limited_key, model):
    tally = Tally(app)

    @FUZZ
    @given(body=mutated(messages_bodies(model)))
    def fuzz(body):
        response = post(client, "/v1/messages", limited_key, body)
        check_answer(response, "anthropic", body.get("stream") is True)

    fuzz()
    print(f"\nfuzz messages -> {model}: {dict(tally.counts)}")
    assert tally.counts["requests"] >= MAX_EXAMPLES // 2 and not tally.counts["5xx"]
