"""Property-based fuzz (hypothesis) of the Responses API surface and routes: POST /v1/responses
towards a Chat-format, an Anthropic-format and a Responses-format upstream (the loopback mock),
and /v1/chat/completions and /v1/messages towards the Responses-format one, so the pass-through
and every translation to and from the Responses API see malformed bodies: never a 5xx, always
the client's own error shape, and a 200 stream never carries an `error` or `response.failed`
event (a translator crashing mid-stream) while the upstream is healthy.

As in test_fuzz_api.py (whose strategies and mutator this reuses): bodies mostly well-formed,
with one or two values anywhere replaced by JSON of another shape, nulls, deep nesting or
garbage; a key with TPM and budget limits so every request takes the token estimate too;
deterministic (derandomize) and bounded for CI — FUZZ_EXAMPLES scales the example counts and
FUZZ_RANDOM=1 draws fresh examples, as there.
"""
import json
import os
import re
from dataclasses import dataclass

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.conftest import create_key, gateway_config
from tests.fuzz_helpers import Tally, assert_openai_error
from tests.mock_responses import responses_events, responses_object
from tests.mock_upstream import (
    Reply,
    Stream,
    anthropic_events,
    anthropic_message,
    openai_chunks,
    openai_completion,
)
from tests.test_fuzz_api import (
    FUZZ,
    arguments,
    chat_bodies,
    check_answer,
    data_uris,
    garbage,
    maybe,
    messages_bodies,
    mutated,
    obj,
    post,
    texts,
)

# The Responses surface gets the default example count; the Chat and Anthropic clients towards
# the Responses vendor (their bodies are fuzzed towards the other vendors in test_fuzz_api.py)
# get fewer, which keeps this module near 30 s in CI.
MAX_EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", 1000))
ROUTE_EXAMPLES = MAX_EXAMPLES * 4 // 10
RESPONSES_MODEL = "resp-test"


def responses_config(upstream):
    """The test catalog plus a Responses-format provider and model (when conftest's catalog
    does not have them already)."""
    config = gateway_config(upstream)
    config["providers"].setdefault("up-responses", {
        "vendor": "openai_responses", "base_url": upstream.openai_base_url,
        "api_keys": ["upstream-responses-key"], "timeout_seconds": 2})
    if not any(model["name"] == RESPONSES_MODEL for model in config["models"]):
        config["models"].append({
            "name": RESPONSES_MODEL, "num_retries": 0, "max_output_tokens": 16384,
            "deployments": [{"provider": "up-responses", "model": "resp-upstream"}],
            "price": {"input_per_mtok": 2.0, "output_per_mtok": 8.0}})
    return config


@pytest.fixture
def app(app_factory, upstream):
    return app_factory(GATEWAY_CONFIG=responses_config(upstream))


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def limited_key(app):
    """Limits make every request take the token estimate and the budget reservation."""
    return create_key(app, tpm=2_000_000_000, max_budget_usd=1_000_000)


# --- Responses API request bodies -------------------------------------------------------------
# Well-formed, with the unusual but valid: nulls for optional fields, every item and part type,
# hosted and unknown tools, items the non-Responses vendors refuse. mutated() breaks them.

input_parts = st.one_of(
    obj({"type": st.just("input_text"), "text": texts}),
    obj({"type": st.just("input_image")}, image_url=data_uris, file_id=maybe(texts),
        detail=maybe(st.sampled_from(["auto", "low", "high"]))),
    obj({"type": st.just("input_file")}, file_data=maybe(data_uris), file_url=maybe(data_uris),
        file_id=maybe(texts), filename=maybe(texts)),
    obj({"type": st.just("output_text"), "text": texts},
        annotations=maybe(st.just([])), logprobs=maybe(st.just([]))),
    obj({"type": st.just("refusal"), "refusal": texts}),
)
contents = st.one_of(texts, st.lists(input_parts, max_size=3))
summaries = st.lists(obj({"type": st.just("summary_text"), "text": texts}), max_size=2)
statuses = maybe(st.sampled_from(["completed", "in_progress", "incomplete"]))
parameters = st.sampled_from([
    {"type": "object", "properties": {"a": {"type": "string"}}, "required": ["a"],
     "additionalProperties": False}, {"type": "object", "properties": {}}])
function_tool = obj({"type": st.just("function"), "name": texts},
                    description=maybe(texts), parameters=maybe(parameters),
                    strict=maybe(st.booleans()))
custom_tool = obj({"type": st.just("custom"), "name": texts}, description=maybe(texts),
                  format=maybe(st.just({"type": "text"})))
tools = st.one_of(
    function_tool, custom_tool,
    obj({"type": st.just("namespace"), "name": texts},
        description=maybe(texts), tools=st.lists(st.one_of(function_tool, custom_tool),
                                                 max_size=2)),
    obj({"type": st.sampled_from(["web_search", "web_search_preview"])},
        search_context_size=maybe(st.sampled_from(["low", "medium", "high"]))),
    obj({"type": st.just("file_search"), "vector_store_ids": st.lists(texts, max_size=2)}),
    obj({"type": st.sampled_from(["future_tool", "local_shell"])}, name=maybe(texts)),
)
input_items = st.one_of(
    obj({"role": st.sampled_from(["user", "assistant", "system", "developer"]),
         "content": contents}, type=maybe(st.just("message")), id=maybe(texts),
        status=statuses),
    obj({"type": st.just("function_call"), "call_id": texts, "name": texts,
         "arguments": arguments}, id=maybe(texts), status=statuses,
        namespace=maybe(texts)),
    obj({"type": st.just("function_call_output"), "call_id": texts,
         "output": st.one_of(texts, st.lists(input_parts, max_size=2))}, id=maybe(texts)),
    obj({"type": st.just("custom_tool_call"), "call_id": texts, "name": texts,
         "input": texts}, id=maybe(texts)),
    obj({"type": st.just("custom_tool_call_output"), "call_id": texts,
         "output": st.one_of(texts, st.lists(input_parts, max_size=2))}),
    obj({"type": st.just("reasoning"), "summary": summaries},
        id=maybe(texts), encrypted_content=maybe(texts),
        content=maybe(st.lists(obj({"type": st.just("reasoning_text"), "text": texts}),
                               max_size=1))),
    obj({"type": st.just("item_reference"), "id": texts}),
    obj({"type": st.just("additional_tools"), "tools": st.lists(tools, max_size=2)},
        role=maybe(st.just("developer"))),
    obj({"type": st.sampled_from(["web_search_call", "future_item"])}, id=maybe(texts)),
)
tool_choices = maybe(st.one_of(
    st.sampled_from(["auto", "none", "required"]),
    obj({"type": st.sampled_from(["function", "custom"]), "name": texts},
        namespace=maybe(texts)),
    obj({"type": st.sampled_from(["web_search", "file_search", "allowed_tools"])},
        mode=maybe(st.sampled_from(["auto", "required"])), tools=maybe(garbage)),
))
text_formats = st.one_of(
    obj({"type": st.just("text")}),
    obj({"type": st.just("json_object")}),
    obj({"type": st.just("json_schema"), "name": texts, "schema": parameters},
        strict=maybe(st.booleans()), description=maybe(texts)),
)


def responses_bodies(model):
    return obj({"model": st.just(model),
                "input": st.one_of(texts, st.lists(input_items, min_size=1, max_size=4))},
               instructions=maybe(texts), stream=maybe(st.booleans()),
               max_output_tokens=maybe(st.integers(1, 100_000)),
               temperature=maybe(st.floats(0, 2)), top_p=maybe(st.floats(0, 1)),
               tools=maybe(st.lists(tools, max_size=3)), tool_choice=tool_choices,
               parallel_tool_calls=maybe(st.booleans()),
               text=maybe(obj(format=maybe(text_formats),
                              verbosity=maybe(st.sampled_from(["low", "medium", "high"])))),
               reasoning=maybe(obj(
                   effort=maybe(st.sampled_from(["none", "minimal", "low", "medium", "high",
                                                 "xhigh"])),
                   summary=maybe(st.sampled_from(["auto", "concise", "detailed"])))),
               store=maybe(st.booleans()),
               include=maybe(st.lists(st.sampled_from(
                   ["reasoning.encrypted_content", "message.output_text.logprobs",
                    "file_search_call.results"]), max_size=2)),
               metadata=maybe(st.dictionaries(st.text(max_size=8), st.text(max_size=12),
                                              max_size=2)),
               previous_response_id=st.one_of(st.none(), st.none(), st.none(), texts),
               background=st.one_of(st.none(), st.none(), st.booleans()),
               truncation=maybe(st.sampled_from(["auto", "disabled"])),
               user=maybe(st.text(max_size=40)), safety_identifier=maybe(texts),
               prompt_cache_key=maybe(texts), max_tool_calls=maybe(st.integers(1, 10)),
               top_logprobs=maybe(st.integers(0, 20)),
               stream_options=maybe(obj(include_obfuscation=maybe(st.booleans()))))


# --- upstream answers ---------------------------------------------------------------------------
# Half the examples get the mock's default answer (an echo of the last user text); the others a
# healthy answer of another shape in the upstream's own format: tool calls (named after the
# request's tools, so custom and namespaced tools are turned back), reasoning, a cut-short end.

@dataclass(frozen=True)
class Answer:
    text: str
    calls: tuple  # (index into the request's tool names, arguments JSON), ...
    reasoning: str | None
    incomplete: bool

    def __call__(self, received):
        body = received.json if isinstance(received.json, dict) else {}
        stream, model = body.get("stream") is True, body.get("model") or "upstream"
        names = [name for name in map(_tool_name, body.get("tools") or []) if name] or ["f"]
        calls = [(f"call_{i}", names[at % len(names)], arguments)
                 for i, (at, arguments) in enumerate(self.calls)]
        if received.path == "/v1/responses":
            build = responses_events if stream else responses_object
            answer = build(self.text, model=model, tool_calls=calls,
                           reasoning=None if self.reasoning is None else (self.reasoning, "enc"),
                           status="incomplete" if self.incomplete else "completed")
        elif received.path == "/v1/messages":
            uses = [(call_id, name, _object(arguments)) for call_id, name, arguments in calls]
            stop = "max_tokens" if self.incomplete else None
            answer = (anthropic_events if stream else anthropic_message)(
                self.text, model=model, tool_uses=uses, thinking=self.reasoning,
                stop_reason=stop)
        else:
            finish = "length" if self.incomplete else None
            answer = (openai_chunks(self.text, model=model, tool_calls=calls,
                                    finish_reason=finish) if stream else
                      openai_completion(self.text, model=model, tool_calls=calls,
                                        finish_reason=finish))
        return Stream(answer) if stream else Reply(json=answer)


def _tool_name(tool):
    if not isinstance(tool, dict):
        return None
    function = tool.get("function")
    return function.get("name") if isinstance(function, dict) else tool.get("name")


def _object(arguments):
    try:
        value = json.loads(arguments)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


answers = st.one_of(st.none(), st.builds(
    Answer, text=texts,
    calls=st.lists(st.tuples(st.integers(0, 3), st.sampled_from(
        ['{"a": "x"}', '{"input": "*** Begin Patch"}', "{}", "", "not json"])),
        max_size=2).map(tuple),
    reasoning=st.one_of(st.none(), texts), incomplete=st.booleans()))


def answering(upstream, answer):
    """The upstream's next answer: the default one (answer None) or answer's."""
    upstream.reset()
    if answer is not None:
        upstream.script(answer)


# --- the properties ---------------------------------------------------------------------------

def check_responses_answer(response, sent):
    """Never a 5xx; an error in OpenAI's shape whose `param` (when it has one) is the path of a
    field of the body sent; a 200 stream of Responses events with no error event, no failed
    response, and a terminal event at its end."""
    stream = sent.get("stream") is True
    assert response.status_code < 500, response.get_data(as_text=True)[:2000]
    if response.status_code >= 400:
        error = assert_openai_error(response)
        if response.status_code == 400 and error["param"] is not None:
            assert names_a_field(sent, error["param"], error["code"]), error
        return
    body = response.get_data(as_text=True)
    if response.mimetype == "text/event-stream":
        events = [json.loads(line[5:]) for line in body.split("\n") if line.startswith("data:")]
        assert events, body
        for event in events:  # an error after the stream began: a broken translation
            assert event.get("type") not in ("error", "response.failed"), body[:2000]
            assert "error" not in event or event["error"] is None, body[:2000]
        assert events[-1]["type"] in ("response.completed", "response.incomplete"), body[-2000:]
    else:
        assert not stream
        answer = json.loads(body)
        assert answer["object"] == "response" and answer["status"] != "failed", answer


def names_a_field(body, param, code):
    """Is param ("input[2].content[0].text") the path of a value in body, or, for a missing
    parameter, of a place in an object of it?"""
    value = body
    steps = re.findall(r"[^.\[\]]+|\[\d+\]", param)
    for i, step in enumerate(steps):
        if step.startswith("["):
            if not isinstance(value, list) or int(step[1:-1]) >= len(value):
                return False
            value = value[int(step[1:-1])]
        elif isinstance(value, dict) and step in value:
            value = value[step]
        else:
            return (isinstance(value, dict) and i == len(steps) - 1
                    and code == "missing_required_parameter")
    return True


@pytest.mark.parametrize("model", ["gpt-test", "claude-test", RESPONSES_MODEL])
def test_responses_never_5xx(app, client, upstream, limited_key, model):
    tally = Tally(app)

    @settings(FUZZ, max_examples=MAX_EXAMPLES)
    @given(body=mutated(responses_bodies(model)), answer=answers)
    def fuzz(body, answer):
        answering(upstream, answer)
        response = post(client, "/v1/responses", limited_key, body)
        check_responses_answer(response, body)

    fuzz()
    print(f"\nfuzz responses -> {model}: {dict(tally.counts)}")
    assert tally.counts["requests"] >= MAX_EXAMPLES // 2 and not tally.counts["5xx"]


@pytest.mark.parametrize("path, surface, bodies", [
    ("/v1/chat/completions", "openai", chat_bodies),
    ("/v1/messages", "anthropic", messages_bodies),
], ids=["chat", "messages"])
def test_other_surfaces_to_a_responses_vendor_never_5xx(app, client, upstream, limited_key,
                                                       path, surface, bodies):
    tally = Tally(app)

    @settings(FUZZ, max_examples=ROUTE_EXAMPLES)
    @given(body=mutated(bodies(RESPONSES_MODEL)), answer=answers)
    def fuzz(body, answer):
        answering(upstream, answer)
        response = post(client, path, limited_key, body)
        check_answer(response, surface, body.get("stream") is True)
        if surface == "openai" and response.status_code == 400:
            error = response.get_json()["error"]
            assert error["param"] is None or names_a_field(body, error["param"],
                                                           error["code"]), error

    fuzz()
    print(f"\nfuzz {surface} -> {RESPONSES_MODEL}: {dict(tally.counts)}")
    assert tally.counts["requests"] >= ROUTE_EXAMPLES // 2 and not tally.counts["5xx"]


# --- what the fuzzer found --------------------------------------------------------------------

def answer_to(client, key, body):
    response = post(client, "/v1/responses", key, body)
    return response.status_code, assert_openai_error(response) if response.status_code >= 400 \
        else response.get_json()


@pytest.mark.parametrize("model", ["gpt-test", RESPONSES_MODEL])
@pytest.mark.parametrize("item, param", [
    ({}, "input[0].type"),  # neither type nor role: was an invalid_value
    ({"role": "user", "content": [{"type": "input_image"}]}, "input[0].content[0].image_url"),
])
def test_a_missing_field_of_an_item_is_a_missing_parameter(client, limited_key, model, item,
                                                           param):
    status, error = answer_to(client, limited_key, {"model": model, "input": [item]})
    assert status == 400 and (error["param"], error["code"]) == (
        param, "missing_required_parameter"), error


@pytest.mark.parametrize("body, param", [
    ({"input": [{"role": "user", "content": "hi"},
                {"type": "additional_tools", "tools": [{"type": "local_shell"}]}]},
     "input[1].tools[0].type"),
    ({"input": "hi", "tools": [{"type": "function", "name": "f"}, {
        "type": "namespace", "name": "ns", "tools": [{"type": "function", "name": "g"},
                                                     {"type": "local_shell"}]}]},
     "tools[1].tools[1].type"),
])
def test_an_unknown_tool_inside_another_is_named_where_it_is(client, limited_key, body, param):
    status, error = answer_to(client, limited_key, {"model": "gpt-test", **body})
    assert status == 400 and error["param"] == param, error


def test_an_input_file_without_any_source_names_a_field_it_lacks(client, limited_key):
    body = {"model": "gpt-test", "input": [
        {"role": "user", "content": [{"type": "input_file", "filename": "a.pdf"}]}]}
    status, error = answer_to(client, limited_key, body)
    assert status == 400 and error["param"] == "input[0].content[0].file_data", error
    assert error["code"] == "missing_required_parameter", error
    assert not error["message"].startswith("Files given by"), error


@pytest.mark.parametrize("fields, param", [
    ({"top_logprobs": 5}, "top_logprobs"),
    ({"text": {"format": {"type": "json_object"}}}, "text.format.type"),
])
def test_a_responses_client_on_an_anthropic_route_is_told_its_own_field(client, limited_key,
                                                                         fields, param):
    status, error = answer_to(client, limited_key, {"model": "claude-test", "input": "hi",
                                                    **fields})
    assert status == 400 and error["param"] == param, error
