"""Vendor handlers against the real mock upstream (real sockets), and the VendorManager."""
import ssl
import time

import orjson
import pytest

from app.errors import (
    InvalidRequest,
    NotFound,
    RateLimited,
    UpstreamError,
    UpstreamOverloaded,
    UpstreamTimeout,
)
from app.gateway.catalog.loader import Provider
from app.vendors.anthropic import AnthropicHandler
from app.vendors.base import UpstreamResponse, UpstreamStream
from app.vendors.manager import VendorManager
from app.vendors.mock import MockHandler
from app.vendors.openai import OpenAIHandler
from tests.mock_upstream import (
    Hang,
    Reply,
    Stream,
    anthropic_events,
    anthropic_message,
    openai_chunks,
)

CHAT = {"model": "up-model", "messages": [{"role": "user", "content": "ping pong"}]}
MESSAGES = {"model": "claude-up", "max_tokens": 50,
            "messages": [{"role": "user", "content": "ping pong"}]}


@pytest.fixture
def openai_handler(upstream):
    handler = OpenAIHandler(Provider(name="oa", vendor="openai", base_url=upstream.openai_base_url,
                                     api_keys=("key-a", "key-b"), timeout_seconds=1.0))
    yield handler
    handler.close()


@pytest.fixture
def anthropic_handler(upstream):
    handler = AnthropicHandler(Provider(name="an", vendor="anthropic",
                                        base_url=upstream.anthropic_base_url,
                                        api_keys=("ant-key",), timeout_seconds=1.0))
    yield handler
    handler.close()


def test_openai_handler_non_stream_returns_raw_bytes_and_parsed_data(openai_handler, upstream):
    answer = openai_handler.chat(CHAT, stream=False)
    assert isinstance(answer, UpstreamResponse)
    assert orjson.loads(answer.body) == answer.data
    assert answer.data["choices"][0]["message"]["content"] == "ping pong"
    assert upstream.last().json == CHAT and upstream.last().path == "/v1/chat/completions"


def test_openai_handler_streams_events(openai_handler, upstream):
    upstream.script(Stream(openai_chunks("a b c", model="up-model")))
    stream = openai_handler.chat({**CHAT, "stream": True}, stream=True)
    assert isinstance(stream, UpstreamStream)
    datas = [event.data for event in stream]
    assert datas[-1] == b"[DONE]"
    text = "".join(orjson.loads(d)["choices"][0]["delta"].get("content") or ""
                   for d in datas[:-1] if orjson.loads(d)["choices"])
    assert text == "a b c"


def test_openai_handler_rotates_provider_keys_and_reuses_connections(openai_handler, upstream):
    for _ in range(4):
        openai_handler.chat(CHAT, stream=False)
    auths = [r.headers["authorization"] for r in upstream.requests]
    assert auths == ["Bearer key-a", "Bearer key-b"] * 2
    # one SDK client per key, created once: each client's connection is kept alive and reused
    assert len({r.conn_id for r in upstream.requests}) == 2


@pytest.mark.parametrize("status, error_cls, http_status", [
    (400, InvalidRequest, 400),
    (404, NotFound, 404),
    (422, InvalidRequest, 422),
    (429, RateLimited, 429),
    (500, UpstreamError, 502),
    (503, UpstreamOverloaded, 529),  # an overload: 503 to OpenAI clients, 529 to Anthropic's
    (529, UpstreamOverloaded, 529),
    (401, UpstreamError, 502),
])
def test_upstream_statuses_map_to_gateway_errors(openai_handler, upstream, status, error_cls,
                                                 http_status):
    upstream.script(Reply(status=status, json={"error": {"message": f"m{status}"}},
                          headers={"retry-after": "5"}))
    with pytest.raises(error_cls) as info:
        openai_handler.chat(CHAT, stream=False)
    assert info.value.status == http_status and f"m{status}" in info.value.message
    if status == 429:
        assert info.value.headers == {"retry-after": "5"}


def test_errors_before_a_stream_starts_are_raised_by_the_call(openai_handler, upstream):
    upstream.script(Reply(status=500, json={"error": {"message": "down"}}))
    with pytest.raises(UpstreamError, match="down"):
        openai_handler.chat({**CHAT, "stream": True}, stream=True)


def test_a_stream_cut_mid_way_raises_a_gateway_error(openai_handler, upstream):
    upstream.script(Stream(openai_chunks("one two three four", model="up-model"), cut_after=3))
    stream = openai_handler.chat({**CHAT, "stream": True}, stream=True)
    received = []
    with pytest.raises(UpstreamError):
        for event in stream:
            received.append(event)
    assert len(received) == 3


def test_timeout_is_upstream_timeout(openai_handler, upstream):
    upstream.script(Hang(seconds=3))
    started = time.monotonic()
    with pytest.raises(UpstreamTimeout):
        openai_handler.chat(CHAT, stream=False)
    assert time.monotonic() - started < 2.5


def test_anthropic_handler_speaks_messages_natively(anthropic_handler, upstream):
    upstream.script(Reply(json=anthropic_message("hello", model="claude-up", usage=(12, 3, 4))))
    answer = anthropic_handler.chat(MESSAGES, stream=False,
                                    headers={"anthropic-beta": "tools-2024", "Authorization": "x"})
    assert answer.data["content"][0]["text"] == "hello"
    received = upstream.last()
    assert received.path == "/v1/messages" and received.json == MESSAGES
    assert received.headers["anthropic-beta"] == "tools-2024"
    assert "anthropic-version" in received.headers
    assert "ant-key" in (received.headers.get("x-api-key", "") +
                         received.headers.get("authorization", ""))
    assert _sdk_telemetry(received) == []


def _sdk_telemetry(received):
    """x-stainless-* headers but the raw-response switch (the SDK reads it on the request)."""
    return [name for name in received.headers
            if name.startswith("x-stainless") and name != "x-stainless-raw-response"]


def test_openai_handler_sends_no_sdk_telemetry_headers(openai_handler, upstream):
    openai_handler.chat(CHAT, stream=False)
    openai_handler.chat({**CHAT, "stream": True}, stream=True).close()
    for received in upstream.requests:
        assert received.headers["authorization"].startswith("Bearer key-")
        assert received.headers["content-type"] == "application/json"
        assert "user-agent" in received.headers
        assert _sdk_telemetry(received) == []


def test_anthropic_handler_streams_named_events(anthropic_handler, upstream):
    upstream.script(Stream(anthropic_events("hi there", model="claude-up")))
    events = list(anthropic_handler.chat({**MESSAGES, "stream": True}, stream=True))
    names = [e.event for e in events]
    assert names[0] == "message_start" and names[-1] == "message_stop"
    assert "content_block_delta" in names


def test_anthropic_529_is_overloaded(anthropic_handler, upstream):
    upstream.script(Reply(status=529))
    with pytest.raises(UpstreamOverloaded):
        anthropic_handler.chat(MESSAGES, stream=False)


def test_anthropic_cut_stream_is_a_gateway_error(anthropic_handler, upstream):
    upstream.script(Stream(anthropic_events("a b c d e", model="claude-up"), cut_after=4))
    with pytest.raises(UpstreamError):
        list(anthropic_handler.chat({**MESSAGES, "stream": True}, stream=True))


def test_anthropic_count_tokens_uses_the_vendor(anthropic_handler, upstream):
    answer = anthropic_handler.count_tokens(MESSAGES)
    assert upstream.last().path == "/v1/messages/count_tokens"
    assert answer.data["input_tokens"] > 0


def test_anthropic_has_no_embeddings(anthropic_handler):
    with pytest.raises(InvalidRequest, match="embeddings"):
        anthropic_handler.embeddings({"model": "x", "input": "y"})


def test_mock_handler_is_deterministic_and_streams():
    mock = MockHandler(Provider(name="m", vendor="mock"))
    body = {"model": "echo", "messages": [{"role": "system", "content": "be nice"},
                                          {"role": "user", "content": [{"type": "text",
                                                                        "text": "say this"}]}]}
    first, second = mock.chat(body, stream=False), mock.chat(body, stream=False)
    assert first.body == second.body
    assert first.data["choices"][0]["message"]["content"] == "say this"
    assert first.data["usage"] == {"prompt_tokens": 6, "completion_tokens": 2, "total_tokens": 8}
    chunks = [orjson.loads(e.data) for e in mock.chat(body, stream=True)]
    assert "".join(c["choices"][0]["delta"].get("content", "") for c in chunks
                   if c["choices"]) == "say this"
    assert chunks[-1]["usage"]["completion_tokens"] == 2


def test_mock_handler_honours_latency_option():
    mock = MockHandler(Provider(name="m", vendor="mock", options={"latency_ms": 50}))
    started = time.monotonic()
    mock.chat(CHAT, stream=False)
    assert time.monotonic() - started >= 0.05


def test_manager_creates_one_handler_per_provider_and_reuses_it(upstream):
    manager = VendorManager()
    provider = Provider(name="oa", vendor="openai", base_url=upstream.openai_base_url,
                        api_keys=("k",))
    first = manager.get_handler(provider)
    assert isinstance(first, OpenAIHandler)
    assert manager.get_handler(provider) is first
    assert isinstance(manager.get_handler(Provider(name="m", vendor="mock")), MockHandler)
    manager.close()


def test_manager_registry_accepts_new_vendors():
    class Custom(MockHandler):
        vendor = "custom"

    VendorManager.register("custom", Custom)
    try:
        assert "custom" in VendorManager.vendors()
        assert isinstance(VendorManager().get_handler(Provider(name="c", vendor="custom")), Custom)
    finally:
        VendorManager.registry.pop("custom")


def test_client_shards_fill_one_pool_before_the_next():
    from app.vendors.sdk import POOL_SHARDS, SHARD_LOAD, ClientShards

    made = []
    shards = ClientShards(lambda: made.append(object()) or made[-1])
    leases = [shards.take() for _ in range(SHARD_LOAD)]
    assert {id(client) for _, client in leases} == {id(made[0])} and len(made) == 1
    lease, second = shards.take()  # the first pool is full: the next one opens
    assert second is made[1]
    lease.close()
    lease.close()  # idempotent: counted once
    assert shards.busy[:2] == [SHARD_LOAD, 0]
    for lease, _ in leases:
        lease.close()
    assert shards.take()[1] is made[0]  # quiet again: back to the first pool
    for _ in range(POOL_SHARDS * SHARD_LOAD):
        shards.take()
    assert len(made) == POOL_SHARDS  # never more than POOL_SHARDS clients
    assert max(shards.busy) - min(shards.busy) <= 1  # beyond that, the least busy one


def test_streams_hold_their_pool_until_closed(openai_handler, upstream):
    upstream.script(Stream(openai_chunks("a b", model="up-model")))
    stream = openai_handler.chat({**CHAT, "stream": True}, stream=True)
    def in_flight():
        return sum(sum(shards.busy) for shards in openai_handler.clients)

    assert in_flight() == 1
    list(stream)
    assert in_flight() == 0


def test_every_sdk_client_of_the_process_shares_one_tls_context(openai_handler, anthropic_handler):
    from app.vendors.sdk import tls_context

    clients = [openai_handler.clients[0].take()[1], openai_handler.clients[1].take()[1],
               anthropic_handler.clients[0].take()[1]]
    contexts = {id(client._client._transport._pool._ssl_context) for client in clients}
    assert contexts == {id(tls_context())}
    assert tls_context().verify_mode == ssl.CERT_REQUIRED and tls_context().check_hostname


def test_every_sdk_client_sends_through_the_gateways_transport(openai_handler, anthropic_handler):
    from app.vendors.sdk import POOL_LIMITS
    from app.vendors.transport import KEEPALIVE, Transport

    for handler in (openai_handler, anthropic_handler):
        client = handler.clients[0].take()[1]
        transport = client._client._transport
        assert isinstance(transport, Transport)
        assert transport._pool._socket_options == KEEPALIVE
        assert transport._pool._max_connections == POOL_LIMITS.max_connections
        assert transport._pool._max_keepalive_connections == POOL_LIMITS.max_keepalive_connections
        assert transport._pool._keepalive_expiry == POOL_LIMITS.keepalive_expiry


@pytest.mark.parametrize("base_url", ["http://127.0.0.1:9/v1", "http://127.0.0.1:9/v1/",
                                      "https://example.com", "https://example.com/proxy/openai/v1"])
@pytest.mark.parametrize("path", ["/chat/completions", "/v1/messages/count_tokens", "embeddings"])
def test_the_absolute_url_and_the_client_settings_are_the_sdks_own(base_url, path):
    """SDKHandler.absolute_url joins a path to the base URL once, as the SDK would on every
    request (its _prepare_url is the reference); the client keeps the SDK default client's
    redirects and the handler's timeout, and parses each URL string once."""
    import openai

    handler = OpenAIHandler(Provider(name="oa", vendor="openai", base_url=base_url,
                                     api_keys=("key-a",), timeout_seconds=1.0))
    try:
        client = handler.clients[0].take()[1]
        url = handler.absolute_url(client, path)
        assert url == str(client._prepare_url(path)) and handler.absolute_url(client, path) is url
        sdk_default = openai.DefaultHttpx2Client()
        assert client._client.follow_redirects is sdk_default.follow_redirects is True
        assert client._client.timeout == client.timeout
        from app.vendors.transport import _parsed

        client._client.build_request("POST", url)
        parsed = _parsed.cache_info()
        assert str(client._client.build_request("POST", url).url) == url
        assert _parsed.cache_info().hits == parsed.hits + 1
        assert _parsed.cache_info().misses == parsed.misses
        sdk_default.close()
    finally:
        handler.close()


def _read_to(stream, last):
    """A stream's events up to the one whose data (or event name) is `last`, as the pipeline's
    readers stop there; then the stream is closed as the pipeline closes it."""
    for event in stream:
        if last in (event.data, event.event):
            break
    stream.close()


def test_a_stream_read_to_its_end_leaves_its_connection_to_the_next_request(openai_handler,
                                                                           anthropic_handler,
                                                                           upstream):
    """Readers stop at [DONE] (OpenAI) or message_stop (Anthropic), before the body's last
    chunk: it is read before the answer is closed, so the connection goes back to the pool
    instead of being closed (and the next stream opening a new one)."""
    upstream.script(*[Stream(openai_chunks("a b c")) for _ in range(4)],
                    *[Stream(anthropic_events("a b c")) for _ in range(3)])
    for _ in range(4):  # two provider keys, one client and connection each
        _read_to(openai_handler.chat({**CHAT, "stream": True}, stream=True), b"[DONE]")
    for _ in range(3):
        _read_to(anthropic_handler.chat({**MESSAGES, "stream": True}, stream=True),
                 "message_stop")
    openai_calls, anthropic_calls = upstream.requests[:4], upstream.requests[4:]
    assert [r.conn_id for r in openai_calls] == [openai_calls[0].conn_id,
                                                 openai_calls[1].conn_id] * 2
    assert len({r.conn_id for r in anthropic_calls}) == 1
    openai_handler.chat(CHAT, stream=False)
    assert upstream.last().conn_id == openai_calls[0].conn_id


@pytest.mark.parametrize("script", [
    Stream(openai_chunks("word " * 20), chunk_delay=0.5),  # a slow answer: the time bound
    Stream(openai_chunks("word " * 3000)),  # a long one, all sent at once: the byte bound
])
def test_a_stream_left_mid_answer_is_closed_within_the_drain_bounds(openai_handler, upstream,
                                                                    script):
    upstream.script(script)
    stream = openai_handler.chat({**CHAT, "stream": True}, stream=True)
    next(iter(stream))
    started = time.monotonic()
    stream.close()
    assert time.monotonic() - started < 0.4
    openai_handler.chat(CHAT, stream=False)  # the key's next request: another connection
    assert upstream.requests[0].conn_id != upstream.last().conn_id
