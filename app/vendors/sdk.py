"""Shared plumbing for handlers built on an official Stainless SDK (openai, anthropic).

The SDK keeps auth, timeouts and its error classes; the body goes out as bytes and comes back as
the raw HTTP response (RAW_RESPONSE_HEADER = "stream"), so a pass-through answer is never parsed
into SDK objects only to be serialised again.
"""
import itertools
import threading

import httpx2
import orjson

from ..errors import UpstreamError
from ..formats.sse import iter_events
from .base import UpstreamResponse, UpstreamStream, VendorHandler
from .errors import from_sdk_error

RAW_STREAM = {"X-Stainless-Raw-Response": "stream", "Content-Type": "application/json"}


class SDKHandler(VendorHandler):
    sdk = None  # the SDK module, which holds the error classes
    chat_path = None

    def __init__(self, provider):
        super().__init__(provider)
        timeout = httpx2.Timeout(provider.timeout_seconds, connect=provider.connect_timeout_seconds)
        # One client per provider key, each with its own connection pool; used in turn.
        self.clients = [self.make_client(key, timeout) for key in provider.api_keys]
        self._next = itertools.cycle(self.clients)
        self._lock = threading.Lock()

    def make_client(self, api_key, timeout):
        raise NotImplementedError

    def _client(self):
        with self._lock:
            return next(self._next)

    def post(self, path, body, *, stream, headers=None):
        """POST a JSON body; UpstreamResponse, or UpstreamStream of SSE events when stream."""
        options = {"headers": {**RAW_STREAM, **(headers or {})}}
        try:
            response = self._client().post(path, cast_to=httpx2.Response,
                                           content=orjson.dumps(body), options=options)
        except Exception as exc:
            raise self.map_error(exc) from exc
        if stream:
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

    def chat(self, body, *, stream, headers=None):
        return self.post(self.chat_path, body, stream=stream, headers=headers)

    def close(self):
        for client in self.clients:
            client.close()
