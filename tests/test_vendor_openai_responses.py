"""The openai_responses vendor against the real mock upstream (real sockets), the classification
of a Responses stream's error events, and the catalog fields of such a provider."""
import orjson
import pytest

from app.errors import (
    InvalidRequest,
    NotFound,
    RateLimited,
    UpstreamError,
    UpstreamOverloaded,
)
from app.formats.openai_responses import error_of_event
from app.gateway.catalog.loader import ConfigError, Provider, load_catalog
from app.vendors.base import UpstreamResponse, UpstreamStream
from app.vendors.manager import VendorManager
from app.vendors.openai_responses import OpenAIResponsesHandler
from tests.mock_responses import responses_events, responses_failure, responses_object
from tests.mock_upstream import Reply, Stream

BODY = {"model": "o3-pro", "input": [{"role": "user", "content": "ping pong"}],
        "instructions": "be brief", "store": False}


@pytest.fixture
def handler(upstream):
    handler = OpenAIResponsesHandler(Provider(
        name="oar", vendor="openai_responses", base_url=upstream.openai_base_url,
        api_keys=("key-a", "key-b"), timeout_seconds=10.0))  # room on a loaded CI machine
    yield handler
    handler.close()


def test_the_body_goes_to_responses_as_it_is_and_comes_back_raw(handler, upstream):
    answer = handler.chat(BODY, stream=False)
    assert isinstance(answer, UpstreamResponse) and answer.status == 200
    assert orjson.loads(answer.body) == answer.data
    assert answer.data["object"] == "response" and answer.data["model"] == "o3-pro"
    assert answer.data["output"][0]["content"][0]["text"] == "ping pong"
    received = upstream.last()
    assert received.path == "/v1/responses" and received.json == BODY
    assert received.headers["authorization"] == "Bearer key-a"


def test_a_stream_is_the_upstreams_named_events(handler, upstream):
    upstream.script(Stream(responses_events("a b c", model="o3-pro",
                                            tool_calls=[("call_1", "f", '{"x": 1}')])))
    stream = handler.chat({**BODY, "stream": True}, stream=True)
    assert isinstance(stream, UpstreamStream)
    events = list(stream)
    datas = [orjson.loads(e.data) for e in events]
    assert [e.event for e in events] == [d["type"] for d in datas]
    assert datas[0]["type"] == "response.created" and datas[-1]["type"] == "response.completed"
    assert "".join(d["delta"] for d in datas if d["type"] == "response.output_text.delta") \
        == "a b c"
    assert [d["sequence_number"] for d in datas] == list(range(len(datas)))
    assert datas[-1]["response"]["output"][-1]["call_id"] == "call_1"


def test_provider_keys_take_turns(handler, upstream):
    for _ in range(4):
        handler.chat(BODY, stream=False)
    assert [r.headers["authorization"] for r in upstream.requests] == \
        ["Bearer key-a", "Bearer key-b"] * 2


def test_only_the_openai_beta_header_of_the_client_is_forwarded(handler, upstream):
    handler.chat(BODY, stream=False, headers={"OpenAI-Beta": "responses=experimental",
                                              "Authorization": "Bearer client-key",
                                              "session_id": "s1"})
    received = upstream.last()
    assert received.headers["openai-beta"] == "responses=experimental"
    assert received.headers["authorization"] == "Bearer key-a"
    assert "session_id" not in received.headers


@pytest.mark.parametrize("status, error_cls, http_status", [
    (400, InvalidRequest, 400),
    (404, NotFound, 404),
    (429, RateLimited, 429),
    (500, UpstreamError, 502),
    (503, UpstreamOverloaded, 529),  # an overload: 503 to OpenAI clients, 529 to Anthropic's
    (529, UpstreamOverloaded, 529),
])
@pytest.mark.parametrize("stream", [False, True])
def test_upstream_statuses_map_to_gateway_errors(handler, upstream, status, error_cls,
                                                 http_status, stream):
    upstream.script(Reply(status=status, headers={"retry-after": "5"}))
    with pytest.raises(error_cls) as info:
        handler.chat({**BODY, "stream": stream}, stream=stream)
    assert info.value.status == http_status
    assert f"mock upstream error {status}" in info.value.message
    if status == 429:
        assert info.value.retry_after == 5.0


def test_a_stream_cut_mid_way_raises_a_gateway_error(handler, upstream):
    upstream.script(Stream(responses_events("one two three four"), cut_after=4))
    received = []
    with pytest.raises(UpstreamError):
        for event in handler.chat({**BODY, "stream": True}, stream=True):
            received.append(event)
    assert len(received) == 4


def test_embeddings_use_the_same_account(handler, upstream):
    answer = handler.embeddings({"model": "text-embedding-3-small", "input": "hi"})
    assert upstream.last().path == "/v1/embeddings"
    assert answer.data["data"][0]["object"] == "embedding"


def test_the_manager_builds_it_for_vendor_openai_responses(upstream):
    manager = VendorManager()
    provider = Provider(name="r", vendor="openai_responses", base_url=upstream.openai_base_url,
                        api_keys=("k",))
    handler = manager.get_handler(provider)
    assert isinstance(handler, OpenAIResponsesHandler)
    assert handler.native_format == "openai_responses"
    manager.close()


# -- a failure inside a Responses stream ----------------------------------------------------


def _failure_events(handler, upstream, **kwargs):
    """The (name, data) events the handler yields for a scripted failing stream, and the
    GatewayErrors error_of_event finds in them."""
    upstream.script(Stream(responses_failure(**kwargs)))
    events = [(e.event, orjson.loads(e.data))
              for e in handler.chat({**BODY, "stream": True}, stream=True)]
    return events, [error for error in (error_of_event(n, d) for n, d in events) if error]


def test_an_overload_mid_stream_stays_an_overload(handler, upstream):
    events, errors = _failure_events(handler, upstream, code="server_is_overloaded",
                                     message="busy", text="partial answer", error_event=True)
    assert [e[0] for e in events][-2:] == ["error", "response.failed"]
    assert [type(e) for e in errors] == [UpstreamOverloaded, UpstreamOverloaded]
    assert errors[0].status == 529 and "busy" in errors[0].message


def test_a_server_error_mid_stream_is_an_upstream_error(handler, upstream):
    _, errors = _failure_events(handler, upstream, code="server_error", message="boom")
    assert [type(e) for e in errors] == [UpstreamError]
    assert errors[0].status == 502 and errors[0].retryable and "boom" in errors[0].message


@pytest.mark.parametrize("name, data, error_cls", [
    # the reference's error event: code and message at the top level
    ("error", {"type": "error", "code": "slow_down", "message": "m", "sequence_number": 3},
     UpstreamOverloaded),
    # as OpenAI's servers send it: under "error"
    (None, {"type": "error", "sequence_number": 2,
            "error": {"type": "invalid_request_error", "code": "context_length_exceeded",
                      "message": "m", "param": "input"}}, InvalidRequest),
    ("error", {"type": "error", "error": {"type": "overloaded_error", "message": "m"}},
     UpstreamOverloaded),
    ("response.failed", {"type": "response.failed", "response": {
        "status": "failed", "error": {"code": "rate_limit_exceeded", "message": "m"}}},
     RateLimited),
    ("response.failed", {"type": "response.failed", "response": {
        "status": "failed", "error": {"code": "invalid_prompt", "message": "m"}}},
     InvalidRequest),
    ("response.failed", {"type": "response.failed", "response": {"status": "failed"}},
     UpstreamError),
])
def test_error_events_are_classified(name, data, error_cls):
    error = error_of_event(name, data)
    assert type(error) is error_cls
    assert error.message.startswith("Upstream error mid-stream")


def test_other_events_are_not_errors():
    for name, data in responses_events("hi", status="incomplete"):
        assert error_of_event(name, data) is None
    assert error_of_event("error", "not a dict") is None


# -- the catalog ----------------------------------------------------------------------------


def _catalog(**fields):
    return load_catalog({
        "providers": {"r": {"vendor": "openai_responses", "base_url": "http://127.0.0.1:1/v1",
                            "api_keys": ["${OPENAI_API_KEY}"], **fields}},
        "models": [{"name": "o3-pro", "deployments": [{"provider": "r", "model": "o3-pro"}]}],
    }, VendorManager.vendors(), env={"OPENAI_API_KEY": "sk-x"})


def test_the_catalog_accepts_vendor_openai_responses_with_the_openai_fields():
    provider = _catalog(timeout_seconds=30, honor_retry_after=False).providers["r"]
    assert (provider.vendor, provider.base_url, provider.api_keys) == \
        ("openai_responses", "http://127.0.0.1:1/v1", ("sk-x",))
    assert provider.first_byte_timeout == 30.0 and provider.honor_retry_after is False
    assert provider.web_search is False and provider.options == {}


def test_a_responses_provider_without_a_key_is_skipped():
    catalog = load_catalog({
        "providers": {"r": {"vendor": "openai_responses", "api_keys": ["${OPENAI_API_KEY}"]}},
        "models": [{"name": "m", "deployments": [{"provider": "r", "model": "o3-pro"}]}],
    }, VendorManager.vendors(), env={})
    assert catalog.providers == {} and catalog.models == {}


def test_web_search_is_a_validated_provider_field():
    assert _catalog(web_search=True).providers["r"].web_search is True
    for vendor in ("openai", "anthropic"):
        catalog = load_catalog({"providers": {"p": {"vendor": vendor, "api_keys": ["k"],
                                                    "web_search": True}}, "models": []},
                               VendorManager.vendors())
        assert catalog.providers["p"].web_search is True
    with pytest.raises(ConfigError, match=r"providers\.r\.web_search: must be true or false"):
        _catalog(web_search="yes")


def test_the_mock_answers_responses_objects_the_handler_passes_through(handler, upstream):
    upstream.script(Reply(json=responses_object("done", model="o3-pro", status="incomplete",
                                                usage=(7, 3, 2, 1))))
    data = handler.chat(BODY, stream=False).data
    assert data["status"] == "incomplete"
    assert data["incomplete_details"] == {"reason": "max_output_tokens"}
    assert data["usage"]["input_tokens_details"]["cached_tokens"] == 2
    assert data["usage"]["output_tokens_details"]["reasoning_tokens"] == 1
