"""Shared plumbing for handlers built on an official Stainless SDK (openai, anthropic).

The SDK keeps auth, timeouts and its error classes; the body goes out as bytes and comes back as
the raw HTTP response (RAW_RESPONSE_HEADER = "stream"), so a pass-through answer is never parsed
into SDK objects only to be serialised again.

Timeouts (httpx2): the read timeout bounds every wait for bytes. Until a stream's headers arrive
it is the provider's first_byte_timeout (a non-streamed answer, whose headers come when it is
complete, gets answer_timeout), capped by the attempt's deadline; once a stream's headers are in,
it becomes the idle_timeout — the longest silence between two chunks — so a healthy stream of
any length is never cut. httpx2 reads a request's timeouts from
`request.extensions["timeout"]` when the body starts to be read, which is where it is changed.
"""
import functools
import itertools
import threading
import time

import httpx2
import orjson

from ..errors import UpstreamError, UpstreamTimeout
from ..formats.sse import iter_events
from .base import DEFAULT_CALL, UpstreamResponse, UpstreamStream, VendorHandler
from .errors import from_sdk_error
from .transport import HttpClient, Transport, reads_within

# Every request's: the body is sent as bytes, the answer comes back as the raw HTTP response.
RAW_STREAM = {"X-Stainless-Raw-Response": "stream", "Content-Type": "application/json"}
# The SDKs' telemetry headers (platform, timeouts, retry count) are left out: they describe the
# gateway, not the caller, and each header is walked on every request by the SDK, httpx and h11
# (without them an upstream call costs ~30 us less).
TELEMETRY_HEADERS = ("X-Stainless-Lang", "X-Stainless-Package-Version", "X-Stainless-OS",
                     "X-Stainless-Arch", "X-Stainless-Runtime", "X-Stainless-Runtime-Version",
                     "X-Stainless-Async", "X-Stainless-Timeout", "X-Stainless-Retry-Count",
                     "X-Stainless-Read-Timeout")
# The openai SDK adds these two per request unless the request's own headers omit them.
PER_REQUEST_TELEMETRY = ("X-Stainless-Retry-Count", "X-Stainless-Read-Timeout")
# httpcore's connection pool looks at each of its connections on every request (an O(n) scan;
# app/vendors/transport.py spares it a poll() of each idle one): with 500 requests in flight in
# one worker's pool, that scan took a third of the worker's time. So each provider key has up to
# POOL_SHARDS SDK clients, each with its own pool; a request goes to the first client with fewer
# than SHARD_LOAD requests in flight, so a quiet gateway reuses one pool's connections and a busy
# one spreads over several. Each pool keeps up to 256 idle connections (the SDKs' default, 100,
# made every answer beyond it close its connection and the next request open a new one).
POOL_SHARDS = 8
SHARD_LOAD = 64
POOL_LIMITS = httpx2.Limits(max_connections=1024, max_keepalive_connections=256,
                            keepalive_expiry=30)

# When a stream's reader stops (at OpenAI's [DONE], Anthropic's message_stop, or because its client
# left), what is left of the answer is read before it is closed: normally only the body's last
# chunk, and then the connection goes back to the pool. Closed unread, it was closed, and the next
# stream opened a new one (a TCP and TLS handshake each). A stream left mid-answer is closed after
# at most DRAIN_BYTES or DRAIN_SECONDS more of it.
DRAIN_SECONDS = 0.05
DRAIN_BYTES = 16384

# A body at least this large goes to httpx as a one-item iterator (with its Content-Length), not
# as bytes: httpx keeps bytes on its request until the answer is over (a stream's: minutes), an
# iterator's item only until it is sent; only the parsed body stays, for another attempt.
ONE_SHOT_BYTES = 1024 * 1024


def drain(body):
    """Read what is left of a stream's body (its byte iterator) within DRAIN_BYTES and
    DRAIN_SECONDS; past either, or on any failure, the connection is closed with the answer."""
    left = DRAIN_BYTES
    with reads_within(DRAIN_SECONDS):
        try:
            for chunk in body:
                left -= len(chunk)
                if left < 0:
                    return
        except Exception:  # noqa: BLE001 - a read error, the time is up, a reader inside it
            return


@functools.cache
def tls_context():
    """One TLS context for every SDK client of the process (httpx's defaults: the CA bundle, the
    environment's settings). httpx builds one per client otherwise, loading the CA bundle each
    time: ~15 ms of CPU and ~1 MB, and a busy worker has up to POOL_SHARDS clients per provider
    key, created while requests wait."""
    return httpx2.create_ssl_context()


def http_client(timeout):
    """A new SDK client's httpx2 client: the settings the SDKs' own default client has (this
    timeout, these limits, redirects followed), the transport of app/vendors/transport.py
    (httpx's, probing an idle connection only when a request takes it), and each URL parsed once
    (transport.HttpClient). The limits and TLS context also go to the client for a proxy it may
    take from the environment."""
    return HttpClient(timeout=timeout, limits=POOL_LIMITS, verify=tls_context(),
                      follow_redirects=True,
                      transport=Transport(verify=tls_context(), limits=POOL_LIMITS))


class ClientShards:
    """One provider key's SDK clients (created when first needed) and their requests in flight."""

    def __init__(self, make):
        self._make = make
        self.clients = [None] * POOL_SHARDS
        self.busy = [0] * POOL_SHARDS
        self._lock = threading.Lock()

    def take(self):
        """(lease, client): lease.close() when the request is over (idempotent)."""
        with self._lock:
            index = next((i for i, n in enumerate(self.busy) if n < SHARD_LOAD), None)
            if index is None:
                index = self.busy.index(min(self.busy))
            self.busy[index] += 1
            if self.clients[index] is None:
                self.clients[index] = self._make()
            return _Lease(self, index), self.clients[index]

    def _done(self, index):
        with self._lock:
            self.busy[index] -= 1

    def close(self):
        for client in self.clients:
            if client is not None:
                client.close()


class _Lease:
    def __init__(self, shards, index):
        self._shards, self._index = shards, index

    def close(self):
        shards, self._shards = self._shards, None
        if shards is not None:
            shards._done(self._index)


class SDKHandler(VendorHandler):
    sdk = None  # the SDK module, which holds the error classes
    chat_path = None

    def __init__(self, provider):
        super().__init__(provider)
        omit = self.sdk.Omit()
        self.default_headers = {**RAW_STREAM, **dict.fromkeys(TELEMETRY_HEADERS, omit)}
        self._request_headers = dict.fromkeys(PER_REQUEST_TELEMETRY, omit)
        # Without a deadline an attempt's timeouts depend only on whether it streams; the
        # non-streamed ones are also the clients' defaults.
        self._timeouts = {stream: httpx2.Timeout(
            provider.first_byte_timeout if stream else provider.answer_timeout,
            connect=provider.connect_timeout_seconds) for stream in (False, True)}
        timeout = self._timeouts[False]
        self._urls = {}  # path -> its absolute URL on the provider (absolute_url)
        self.clients = [ClientShards(functools.partial(self.make_client, key, timeout))
                        for key in provider.api_keys]
        self._next = itertools.cycle(range(len(self.clients)))
        self._lock = threading.Lock()

    def make_client(self, api_key, timeout):
        raise NotImplementedError

    def _client(self, key):
        """(lease, client) for key index `key`; without a key, each key in turn."""
        if key is None:
            with self._lock:
                key = next(self._next)
        return self.clients[key].take()

    def absolute_url(self, client, path):
        """path on the provider, as the SDK would join it to the client's base URL, made once per
        path: the SDK parses an absolute URL as it is, and a path it parses and joins to its base
        URL again on every request (~20 µs more)."""
        url = self._urls.get(path)
        if url is None:
            base = client.base_url
            url = self._urls[path] = str(base.copy_with(
                raw_path=base.raw_path + httpx2.URL(path).raw_path.lstrip(b"/")))
        return url

    def _timeout(self, deadline, stream):
        if deadline is None:
            return self._timeouts[stream]
        provider = self.provider
        first_byte = provider.first_byte_timeout if stream else provider.answer_timeout
        connect = provider.connect_timeout_seconds
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise UpstreamTimeout(f"No time left to call upstream {provider.name}",
                                  code="deadline_exceeded")
        return httpx2.Timeout(min(first_byte, remaining), connect=min(connect, remaining))

    def post(self, path, body, *, stream, headers=None, call=DEFAULT_CALL):
        """POST a JSON body; UpstreamResponse, or UpstreamStream of SSE events when stream."""
        timeout = self._timeout(call.deadline, stream)
        content = orjson.dumps(body)
        headers = {**self._request_headers, **headers} if headers else self._request_headers
        if call.traceparent is not None:
            headers = {**headers, "traceparent": call.traceparent}
        if len(content) >= ONE_SHOT_BYTES:
            headers = {**headers, "Content-Length": str(len(content))}
            content = iter((content,))
        options = {"timeout": timeout, "headers": headers}
        lease, client = self._client(call.key)
        try:
            response = client.post(self.absolute_url(client, path), cast_to=httpx2.Response,
                                   content=content, options=options)
        except Exception as exc:
            lease.close()
            raise self.map_error(exc) from exc
        if stream:
            timeouts = response.request.extensions.get("timeout")
            if isinstance(timeouts, dict):
                timeouts["read"] = self.provider.idle_timeout
            body = response.iter_bytes()

            def close():
                drain(body)
                response.close()
                lease.close()

            return UpstreamStream(self._events(body, close), close)
        try:
            content = response.read()
        except Exception as exc:
            raise self.map_error(exc) from exc
        finally:
            response.close()
            lease.close()
        try:
            data = orjson.loads(content)
        except orjson.JSONDecodeError:
            raise UpstreamError(f"Upstream {self.provider.name} answered with invalid JSON",
                                code="upstream_bad_response") from None
        return UpstreamResponse(body=content, data=data, status=response.status_code)

    def _events(self, body, close):
        try:
            yield from iter_events(body)
        except Exception as exc:
            raise self.map_error(exc) from exc
        finally:
            close()

    def map_error(self, exc):
        return from_sdk_error(exc, self.sdk, self.provider.name) or exc

    def chat(self, body, *, stream, headers=None, call=DEFAULT_CALL):
        return self.post(self.chat_path, body, stream=stream, headers=headers, call=call)

    def close(self):
        for shards in self.clients:
            shards.close()
