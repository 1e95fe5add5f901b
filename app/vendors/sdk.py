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
import itertools
import threading
import time

import httpx2
import orjson

from ..errors import UpstreamError, UpstreamTimeout
from ..formats.sse import iter_events
from .base import DEFAULT_CALL, UpstreamResponse, UpstreamStream, VendorHandler
from .errors import from_sdk_error

RAW_STREAM = {"X-Stainless-Raw-Response": "stream", "Content-Type": "application/json"}


class SDKHandler(VendorHandler):
    sdk = None  # the SDK module, which holds the error classes
    chat_path = None

    def __init__(self, provider):
        super().__init__(provider)
        timeout = httpx2.Timeout(provider.answer_timeout,
                                 connect=provider.connect_timeout_seconds)
        # One client per provider key, each with its own connection pool.
        self.clients = [self.make_client(key, timeout) for key in provider.api_keys]
        self._next = itertools.cycle(range(len(self.clients)))
        self._lock = threading.Lock()

    def make_client(self, api_key, timeout):
        raise NotImplementedError

    def _client(self, key):
        """The client of key index `key`; without one, each key in turn."""
        if key is None:
            with self._lock:
                key = next(self._next)
        return self.clients[key]

    def _timeout(self, deadline, stream):
        provider = self.provider
        first_byte = provider.first_byte_timeout if stream else provider.answer_timeout
        connect = provider.connect_timeout_seconds
        if deadline is not None:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise UpstreamTimeout(f"No time left to call upstream {provider.name}",
                                      code="deadline_exceeded")
            first_byte, connect = min(first_byte, remaining), min(connect, remaining)
        return httpx2.Timeout(first_byte, connect=connect)

    def post(self, path, body, *, stream, headers=None, call=DEFAULT_CALL):
        """POST a JSON body; UpstreamResponse, or UpstreamStream of SSE events when stream."""
        options = {"headers": {**RAW_STREAM, **(headers or {})},
                   "timeout": self._timeout(call.deadline, stream)}
        try:
            response = self._client(call.key).post(path, cast_to=httpx2.Response,
                                                   content=orjson.dumps(body), options=options)
        except Exception as exc:
            raise self.map_error(exc) from exc
        if stream:
            timeouts = response.request.extensions.get("timeout")
            if isinstance(timeouts, dict):
                timeouts["read"] = self.provider.idle_timeout
            return UpstreamStream(self._events(response), response.close)
        try:
            content = response.read()
        except Exception as exc:
            raise self.map_error(exc) from exc
        finally:
            response.close()
        try:
            data = orjson.loads(content)
        except orjson.JSONDecodeError:
            raise UpstreamError(f"Upstream {self.provider.name} answered with invalid JSON",
                                code="upstream_bad_response") from None
        return UpstreamResponse(body=content, data=data, status=response.status_code)

    def _events(self, response):
        try:
            yield from iter_events(response.iter_bytes())
        except Exception as exc:
            raise self.map_error(exc) from exc
        finally:
            response.close()

    def map_error(self, exc):
        return from_sdk_error(exc, self.sdk, self.provider.name) or exc

    def chat(self, body, *, stream, headers=None, call=DEFAULT_CALL):
        return self.post(self.chat_path, body, stream=stream, headers=headers, call=call)

    def close(self):
        for client in self.clients:
            client.close()
