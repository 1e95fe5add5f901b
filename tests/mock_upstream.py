"""A real HTTP server on 127.0.0.1 that pretends to be the OpenAI and the Anthropic APIs.

The official ``openai`` and ``anthropic`` SDKs talk to it over real sockets::

    m = MockUpstream().start()
    client = openai.OpenAI(base_url=m.openai_base_url, api_key="x", max_retries=0)
    m.script(Stream(openai_chunks("hi", tool_calls=[("call_1", "f", '{"a": 1}')])))
    ...
    assert m.last().json["model"] == "gpt-test"
    m.stop()

Every request is recorded in ``requests``.  Each POST consumes one scripted answer from a FIFO
(``script``); with the FIFO empty the default behaviour answers (an echo of the last user message
in the right vendor format — Chat Completions, Responses (``tests/mock_responses.py``) or
Messages — token counts, embeddings, a model list, 404 otherwise).

Scripted answers: ``Reply`` (a whole answer), ``Stream`` (server-sent events, optionally cut
mid-way), ``Hang`` (never answers), or a callable taking the ``Received`` request and returning
one of those.  A ``Reply`` with neither ``json`` nor ``body`` answers with the default body for
the path (status < 400) or with a vendor-shaped error body (status >= 400).

Standard library only.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import http.server
import json as _json
import re
import select
import socket
import struct
import sys
import threading
import time
import traceback
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

__all__ = [
    "Hang",
    "MockUpstream",
    "Received",
    "Reply",
    "Stream",
    "anthropic_events",
    "anthropic_message",
    "openai_chunks",
    "openai_completion",
    "openai_interleaved_tool_chunks",
]

_POLL = 0.02  # how often waits look at the client socket for EOF


# --------------------------------------------------------------------------------------------
# What the server records and what tests script
# --------------------------------------------------------------------------------------------


@dataclass
class Received:
    """One request as the server received it."""

    method: str
    path: str  # without the query string
    query: str
    headers: dict  # keys lower-cased
    body: bytes
    conn_id: int = 0  # which TCP connection carried it (1, 2, ... in accept order)

    @property
    def json(self) -> Any:
        """The body parsed as JSON, or None when empty or not JSON."""
        if not self.body:
            return None
        try:
            return _json.loads(self.body)
        except ValueError:
            return None


@dataclass
class Reply:
    """A whole (non-streamed) answer."""

    status: int = 200
    json: Any = None
    body: bytes | None = None  # raw; wins over json
    headers: dict = field(default_factory=dict)
    delay: float = 0.0  # seconds to sleep before answering


@dataclass
class Stream:
    """A server-sent-events answer.

    ``events`` items are ``(event_name_or_None, data)``: a dict is JSON-encoded, a str is sent
    verbatim (e.g. ``"[DONE]"``) as the ``data:`` field; a bytes item (instead of a tuple) is
    written raw, without any SSE framing.
    """

    events: list
    status: int = 200
    headers: dict = field(default_factory=dict)
    delay: float = 0.0  # before the first byte
    chunk_delay: float = 0.0  # between events
    cut_after: int | None = None  # close the TCP connection abruptly after this many events


@dataclass
class Hang:
    """Accept the request and never answer for ``seconds``, then close the connection.

    Ends early (recording a disconnect) when the client closes its side.
    """

    seconds: float = 10.0


# --------------------------------------------------------------------------------------------
# Builders for realistic answers
# --------------------------------------------------------------------------------------------


def _now() -> int:
    return int(time.time())


def _pieces(text: str) -> list[str]:
    """Word pieces (leading whitespace kept) whose concatenation is ``text``."""
    if not text:
        return []
    return re.findall(r"\s*\S+|\s+", text)


def _fragments(s: str, size: int | None) -> list[str]:
    size = size or 8
    return [s[i : i + size] for i in range(0, len(s), size)]


def _openai_usage(usage) -> dict:
    prompt, completion, cached = (tuple(usage) + (0, 0, 0))[:3]
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
        "prompt_tokens_details": {"cached_tokens": cached},
    }


def openai_completion(
    text: str = "",
    model: str = "gpt-test",
    tool_calls=None,
    finish_reason: str | None = None,
    usage=(10, 5, 0),
) -> dict:
    """An OpenAI Chat Completions response. ``tool_calls``: [(id, name, arguments_json), ...];
    ``usage``: (prompt, completion, cached)."""
    message: dict[str, Any] = {
        "role": "assistant",
        "content": text if (text or not tool_calls) else None,
        "refusal": None,
    }
    if tool_calls:
        message["tool_calls"] = [
            {"id": call_id, "type": "function", "function": {"name": name, "arguments": args}}
            for call_id, name, args in tool_calls
        ]
    return {
        "id": f"chatcmpl-{uuid.uuid4().hex[:24]}",
        "object": "chat.completion",
        "created": _now(),
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": message,
                "logprobs": None,
                "finish_reason": finish_reason or ("tool_calls" if tool_calls else "stop"),
            }
        ],
        "usage": _openai_usage(usage),
        "system_fingerprint": "fp_mock",
    }


def openai_chunks(
    text: str = "",
    model: str = "gpt-test",
    tool_calls=None,
    usage=(10, 5, 0),
    include_usage: bool = True,
    split: int | None = None,
    finish_reason: str | None = None,
) -> list:
    """OpenAI streaming events: [(None, chunk_dict), ..., (None, "[DONE]")]."""
    ident = f"chatcmpl-{uuid.uuid4().hex[:24]}"
    created = _now()

    def chunk(delta: dict | None, finish: str | None = None, choices: list | None = None) -> dict:
        out: dict[str, Any] = {
            "id": ident,
            "object": "chat.completion.chunk",
            "created": created,
            "model": model,
            "system_fingerprint": "fp_mock",
            "choices": choices
            if choices is not None
            else [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}],
        }
        if include_usage:
            out["usage"] = None
        return out

    chunks = [chunk({"role": "assistant", "content": "", "refusal": None})]
    chunks += [chunk({"content": piece}) for piece in _pieces(text)]
    for index, (call_id, name, args) in enumerate(tool_calls or []):
        first = {
            "index": index,
            "id": call_id,
            "type": "function",
            "function": {"name": name, "arguments": ""},
        }
        chunks.append(chunk({"tool_calls": [first]}))
        for frag in _fragments(args, split):
            fragment = {"index": index, "function": {"arguments": frag}}
            chunks.append(chunk({"tool_calls": [fragment]}))
    chunks.append(chunk({}, finish_reason or ("tool_calls" if tool_calls else "stop")))
    if include_usage:
        last = chunk(None, choices=[])
        last["usage"] = _openai_usage(usage)
        chunks.append(last)
    return [(None, c) for c in chunks] + [(None, "[DONE]")]


def _thinking_parts(thinking) -> tuple[str, str]:
    if isinstance(thinking, (tuple, list)):
        return thinking[0], thinking[1]
    return thinking, "sig_" + hashlib.sha256(thinking.encode()).hexdigest()[:32]


def anthropic_message(
    text: str = "",
    model: str = "claude-test",
    tool_uses=None,
    stop_reason: str | None = None,
    usage=(10, 5, 0),
    thinking=None,
) -> dict:
    """An Anthropic Messages response. ``tool_uses``: [(id, name, input_dict), ...];
    ``usage``: (input, output, cache_read); ``thinking``: text or (text, signature)."""
    input_tokens, output_tokens, cache_read = (tuple(usage) + (0, 0, 0))[:3]
    content: list[dict] = []
    if thinking is not None:
        thought, signature = _thinking_parts(thinking)
        content.append({"type": "thinking", "thinking": thought, "signature": signature})
    if text:
        content.append({"type": "text", "text": text})
    for tool_id, name, tool_input in tool_uses or []:
        content.append({"type": "tool_use", "id": tool_id, "name": name, "input": tool_input})
    return {
        "id": f"msg_{uuid.uuid4().hex[:24]}",
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": content,
        "stop_reason": stop_reason or ("tool_use" if tool_uses else "end_turn"),
        "stop_sequence": None,
        "usage": {
            "input_tokens": input_tokens,
            "output_tokens": output_tokens,
            "cache_read_input_tokens": cache_read,
            "cache_creation_input_tokens": 0,
        },
    }


def anthropic_events(
    text: str = "",
    model: str = "claude-test",
    tool_uses=None,
    usage=(10, 5, 0),
    thinking=None,
    split: int | None = None,
    stop_reason: str | None = None,
) -> list:
    """Anthropic streaming events: [(event_name, data_dict), ...]."""
    input_tokens, output_tokens, cache_read = (tuple(usage) + (0, 0, 0))[:3]
    events: list = [
        (
            "message_start",
            {
                "type": "message_start",
                "message": {
                    "id": f"msg_{uuid.uuid4().hex[:24]}",
                    "type": "message",
                    "role": "assistant",
                    "model": model,
                    "content": [],
                    "stop_reason": None,
                    "stop_sequence": None,
                    "usage": {
                        "input_tokens": input_tokens,
                        "cache_creation_input_tokens": 0,
                        "cache_read_input_tokens": cache_read,
                        "output_tokens": 1,
                    },
                },
            },
        ),
        ("ping", {"type": "ping"}),
    ]
    index = 0

    def block(start: dict, deltas: list[dict]) -> None:
        nonlocal index
        events.append(
            ("content_block_start",
             {"type": "content_block_start", "index": index, "content_block": start})
        )
        for delta in deltas:
            events.append(
                ("content_block_delta",
                 {"type": "content_block_delta", "index": index, "delta": delta})
            )
        events.append(("content_block_stop", {"type": "content_block_stop", "index": index}))
        index += 1

    if thinking is not None:
        thought, signature = _thinking_parts(thinking)
        block(
            {"type": "thinking", "thinking": "", "signature": ""},
            [{"type": "thinking_delta", "thinking": p} for p in _pieces(thought)]
            + [{"type": "signature_delta", "signature": signature}],
        )
    if text:
        block({"type": "text", "text": ""},
              [{"type": "text_delta", "text": p} for p in _pieces(text)])
    for tool_id, name, tool_input in tool_uses or []:
        block(
            {"type": "tool_use", "id": tool_id, "name": name, "input": {}},
            [{"type": "input_json_delta", "partial_json": ""}]
            + [
                {"type": "input_json_delta", "partial_json": frag}
                for frag in _fragments(_json.dumps(tool_input), split)
            ],
        )
    events.append(
        (
            "message_delta",
            {
                "type": "message_delta",
                "delta": {
                    "stop_reason": stop_reason or ("tool_use" if tool_uses else "end_turn"),
                    "stop_sequence": None,
                },
                "usage": {"output_tokens": output_tokens},
            },
        )
    )
    events.append(("message_stop", {"type": "message_stop"}))
    return events


def openai_interleaved_tool_chunks(
    tool_calls,
    model: str = "gpt-test",
    usage=(10, 5, 0),
    split: int = 4,
    finish_reason: str = "tool_calls",
) -> list:
    """An OpenAI stream of parallel tool calls whose argument fragments interleave by index
    (every call starts, then one fragment of each in turn), as some OpenAI-compatible servers
    send them. ``tool_calls``: [(id, name, arguments_json), ...]."""
    events = openai_chunks(model=model, usage=usage)
    head, finish, tail = events[0], events[-3], events[-2:]  # role; finish; usage + [DONE]

    def chunk(tool_calls_delta):
        data = _json.loads(_json.dumps(head[1]))
        data["choices"][0]["delta"] = {"tool_calls": tool_calls_delta}
        return (None, data)

    out = [head]
    out += [chunk([{"index": i, "id": call_id, "type": "function",
                    "function": {"name": name, "arguments": ""}}])
            for i, (call_id, name, _) in enumerate(tool_calls)]
    parts = [_fragments(args, split) for _, _, args in tool_calls]
    for step in range(max(len(p) for p in parts)):
        out += [chunk([{"index": i, "function": {"arguments": p[step]}}])
                for i, p in enumerate(parts) if step < len(p)]
    finish[1]["choices"][0]["finish_reason"] = finish_reason
    return out + [finish] + tail


# --------------------------------------------------------------------------------------------
# Default behaviour
# --------------------------------------------------------------------------------------------


def _text_of(content) -> str:
    """The text of a message content: a string, or the joined "text" parts of a list."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(
            part["text"]
            for part in content
            if isinstance(part, dict) and part.get("type") == "text"
            and isinstance(part.get("text"), str)
        )
    return ""


def _words(value) -> int:
    """Words of every text found in a content value (str, parts, nested tool results)."""
    if isinstance(value, str):
        return len(value.split())
    if isinstance(value, list):
        return sum(_words(v) for v in value)
    if isinstance(value, dict):
        if isinstance(value.get("text"), str):
            return _words(value["text"])
        if "content" in value:
            return _words(value["content"])
    return 0


def _messages(body) -> list:
    messages = body.get("messages") if isinstance(body, dict) else None
    return [m for m in messages if isinstance(m, dict)] if isinstance(messages, list) else []


def _last_user_text(body) -> str:
    for message in reversed(_messages(body)):
        if message.get("role") == "user":
            return _text_of(message.get("content"))
    return ""


def _prompt_words(body) -> int:
    total = sum(_words(m.get("content")) for m in _messages(body))
    if isinstance(body, dict):
        total += _words(body.get("system"))
    return total


def _embedding(text: str) -> list[float]:
    digest = hashlib.sha256(text.encode()).digest()
    return [(b - 128) / 128 for b in digest[:8]]  # exact in float32, so base64 == float


_ANTHROPIC_ERRORS = {
    400: "invalid_request_error",
    401: "authentication_error",
    402: "billing_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    500: "api_error",
    504: "timeout_error",
    529: "overloaded_error",
}

_OPENAI_ERRORS = {
    400: ("invalid_request_error", None),
    401: ("invalid_request_error", "invalid_api_key"),
    403: ("invalid_request_error", "unsupported_country_region_territory"),
    404: ("invalid_request_error", "model_not_found"),
    429: ("requests", "rate_limit_exceeded"),
}


def _is_anthropic_path(path: str) -> bool:
    return path.startswith("/v1/messages") or path.startswith("/v1/complete")


def _error_body(path: str, status: int, message: str | None = None) -> dict:
    message = message or f"mock upstream error {status}"
    server_side = status >= 500
    if _is_anthropic_path(path):
        fallback_kind = "api_error" if server_side else "invalid_request_error"
        kind = _ANTHROPIC_ERRORS.get(status, fallback_kind)
        return {"type": "error", "error": {"type": kind, "message": message}}
    fallback = ("server_error" if server_side else "invalid_request_error", None)
    kind, code = _OPENAI_ERRORS.get(status, fallback)
    return {"error": {"message": message, "type": kind, "param": None, "code": code}}


def _default_answer(received: Received):
    """The answer when nothing is scripted: a Reply or a Stream."""
    method, path = received.method, received.path
    body = received.json if isinstance(received.json, dict) else {}
    if method == "POST" and path == "/v1/chat/completions":
        text = _last_user_text(body)
        model = body.get("model") or "gpt-test"
        usage = (_prompt_words(body), len(text.split()), 0)
        if body.get("stream"):
            options = body.get("stream_options") or {}
            include = bool(isinstance(options, dict) and options.get("include_usage"))
            return Stream(openai_chunks(text, model=model, usage=usage, include_usage=include))
        return Reply(json=openai_completion(text, model=model, usage=usage))
    if method == "POST" and path == "/v1/messages":
        text = _last_user_text(body)
        model = body.get("model") or "claude-test"
        usage = (_prompt_words(body), len(text.split()), 0)
        if body.get("stream"):
            return Stream(anthropic_events(text, model=model, usage=usage))
        return Reply(json=anthropic_message(text, model=model, usage=usage))
    if method == "POST" and path == "/v1/responses":
        from tests.mock_responses import default_responses_answer

        return default_responses_answer(body)
    if method == "POST" and path == "/v1/messages/count_tokens":
        return Reply(json={"input_tokens": _prompt_words(body)})
    if method == "POST" and path == "/v1/embeddings":
        inputs = body.get("input", "")
        inputs = inputs if isinstance(inputs, list) else [inputs]
        as_base64 = body.get("encoding_format") == "base64"
        data, words = [], 0
        for i, item in enumerate(inputs):
            item_text = item if isinstance(item, str) else _json.dumps(item)
            words += (len(item_text.split()) if isinstance(item, str)
                      else len(item) if isinstance(item, list) else 1)
            vector = _embedding(item_text)
            encoded: Any = vector
            if as_base64:
                encoded = base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode()
            data.append({"object": "embedding", "index": i, "embedding": encoded})
        return Reply(json={
            "object": "list",
            "data": data,
            "model": body.get("model") or "text-embedding-test",
            "usage": {"prompt_tokens": words, "total_tokens": words},
        })
    if method == "GET" and path == "/v1/models":
        return Reply(json={
            "object": "list",
            "data": [{"id": "gpt-test", "object": "model", "created": 1700000000,
                      "owned_by": "mock-upstream"}],
        })
    message = (f"Unknown request URL: {method} {path}. Please check the URL for typos, "
               "or see the docs at https://platform.openai.com/docs/api-reference/.")
    return Reply(status=404, json={"error": {"message": message, "type": "invalid_request_error",
                                             "param": None, "code": "unknown_url"}})


def _is_default_shaped(reply: Reply) -> bool:
    return reply.json is None and reply.body is None and reply.status < 400


def _default_with(received: Received, reply: Reply):
    """The default answer for ``received``, with the status, headers and delay of ``reply``."""
    answer = _default_answer(received)
    headers = {**answer.headers, **reply.headers}
    if answer.status >= 400:  # no default for that path: keep its 404
        return replace(answer, headers=headers, delay=reply.delay)
    return replace(answer, status=reply.status, headers=headers, delay=reply.delay)


# --------------------------------------------------------------------------------------------
# The server
# --------------------------------------------------------------------------------------------


class _ClientGone(Exception):
    """The client closed its connection (or the server is stopping)."""


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    mock: MockUpstream

    def handle_error(self, request, client_address):
        # Connection errors are part of the game (clients time out, streams are cut): stay quiet.
        exc = sys.exc_info()[1]
        if isinstance(exc, (OSError, _ClientGone)):
            return
        if isinstance(exc, ValueError) and "closed file" in str(exc):
            return
        super().handle_error(request, client_address)


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # small SSE chunks must not wait for delayed ACKs
    timeout = None
    server_version = "MockUpstream/1.0"
    sys_version = ""
    server: _Server

    # -- plumbing --------------------------------------------------------------------------

    def setup(self):
        super().setup()
        self.conn_id = self.server.mock._register(self.connection)

    def finish(self):
        with contextlib.suppress(OSError):
            super().finish()
        self.server.mock._unregister(self.connection)

    def log_message(self, format, *args):  # noqa: A002 - silence the default request log
        pass

    def log_error(self, format, *args):  # noqa: A002
        pass

    def _gone(self) -> None:
        self.server.mock._record_disconnect()
        self.close_connection = True
        raise _ClientGone

    def _write(self, data: bytes) -> None:
        try:
            self.wfile.write(data)
            self.wfile.flush()
        except OSError:
            self._gone()

    def _wait(self, seconds: float) -> None:
        """Sleep ``seconds``, but notice the client closing its side (raises _ClientGone)."""
        deadline = time.monotonic() + seconds
        stopping = self.server.mock._stopping
        peeked_data = False
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return
            if stopping.is_set():
                self.close_connection = True
                raise _ClientGone
            if peeked_data:  # pipelined bytes waiting: cannot see EOF, just sleep
                time.sleep(min(_POLL, remaining))
                continue
            try:
                readable, _, _ = select.select([self.connection], [], [], min(_POLL, remaining))
                if readable:
                    if self.connection.recv(1, socket.MSG_PEEK) == b"":
                        self._gone()
                    peeked_data = True
            except (OSError, ValueError):
                self._gone()

    def _read_body(self) -> bytes:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            out = bytearray()
            while True:
                size_line = self.rfile.readline(65537)
                if not size_line:
                    raise _ClientGone
                size = int(size_line.split(b";", 1)[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline(65537) not in (b"\r\n", b"\n", b""):
                        pass
                    return bytes(out)
                out += self.rfile.read(size)
                self.rfile.readline(65537)
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    # -- dispatch --------------------------------------------------------------------------

    def _handle(self):
        path, _, query = self.path.partition("?")
        headers: dict[str, str] = {}
        for key, value in self.headers.items():
            key = key.lower()
            headers[key] = f"{headers[key]}, {value}" if key in headers else value
        try:
            body = self._read_body()
        except (OSError, ValueError, _ClientGone):
            self.close_connection = True
            return
        received = Received(self.command, path, query, headers, body, self.conn_id)
        mock = self.server.mock
        mock._record(received)
        answer = mock._next_scripted() if self.command == "POST" else None
        try:
            if callable(answer) and not isinstance(answer, (Reply, Stream, Hang)):
                answer = answer(received)
            if answer is None and mock.agent:
                answer = mock._agent_answer(received)
            if answer is None:
                answer = _default_answer(received)
            elif isinstance(answer, Reply) and _is_default_shaped(answer):
                answer = _default_with(received, answer)
            if isinstance(answer, Hang):
                self._hang(answer)
            elif isinstance(answer, Stream):
                self._stream(answer)
            elif isinstance(answer, Reply):
                self._reply(answer, received)
            else:
                raise TypeError(f"unknown scripted answer: {answer!r}")
        except _ClientGone:
            self.close_connection = True
        except Exception as exc:  # a bug in a test's script: answer 500 so the test sees it
            traceback.print_exc()
            error = _error_body(received.path, 500, f"mock upstream handler error: {exc!r}")
            with contextlib.suppress(_ClientGone):
                self._reply(Reply(status=500, json=error), received)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _handle

    # -- answers ---------------------------------------------------------------------------

    def _reply(self, reply: Reply, received: Received) -> None:
        if reply.delay:
            self._wait(reply.delay)
        if reply.body is not None:
            payload = reply.body
        elif reply.json is not None:
            payload = _json.dumps(reply.json).encode()
        elif reply.status >= 400:
            payload = _json.dumps(_error_body(received.path, reply.status)).encode()
        else:
            payload = b""
        lower = {k.lower() for k in reply.headers}
        head = bytearray(f"HTTP/1.1 {reply.status} {self._phrase(reply.status)}\r\n".encode())
        if "content-type" not in lower:
            head += b"Content-Type: application/json\r\n"
        head += f"Content-Length: {len(payload)}\r\n".encode()
        for key, value in reply.headers.items():
            if key.lower() != "content-length":
                head += f"{key}: {value}\r\n".encode()
        head += f"Date: {self.date_time_string()}\r\n\r\n".encode()
        self._write(bytes(head) + payload)
        if any(k.lower() == "connection" and str(v).lower() == "close"
               for k, v in reply.headers.items()):
            self.close_connection = True

    def _stream(self, stream: Stream) -> None:
        if stream.delay:
            self._wait(stream.delay)
        lower = {k.lower() for k in stream.headers}
        head = bytearray(f"HTTP/1.1 {stream.status} {self._phrase(stream.status)}\r\n".encode())
        if "content-type" not in lower:
            head += b"Content-Type: text/event-stream; charset=utf-8\r\n"
        if "cache-control" not in lower:
            head += b"Cache-Control: no-cache\r\n"
        head += b"Transfer-Encoding: chunked\r\n"
        for key, value in stream.headers.items():
            if key.lower() not in ("content-length", "transfer-encoding"):
                head += f"{key}: {value}\r\n".encode()
        head += f"Date: {self.date_time_string()}\r\n\r\n".encode()
        self._write(bytes(head))
        for sent, event in enumerate(stream.events):
            if stream.cut_after is not None and sent >= stream.cut_after:
                return self._cut()
            if sent and stream.chunk_delay:
                self._wait(stream.chunk_delay)
            payload = _sse(event)
            if payload:
                self._write(f"{len(payload):x}\r\n".encode() + payload + b"\r\n")
        if stream.cut_after is not None and stream.cut_after <= len(stream.events):
            return self._cut()
        self._write(b"0\r\n\r\n")

    def _hang(self, hang: Hang) -> None:
        self._wait(hang.seconds)
        self._cut()

    def _cut(self) -> None:
        """Close the TCP connection abruptly (no proper end of the response)."""
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.wfile.flush()
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)
        with contextlib.suppress(OSError):
            self.connection.close()

    def _phrase(self, status: int) -> str:
        if status == 529:
            return "Overloaded"
        entry = self.responses.get(status)
        return entry[0] if entry else "Unknown"


def _sse(event) -> bytes:
    if isinstance(event, (bytes, bytearray)):
        return bytes(event)
    name, data = event
    text = data if isinstance(data, str) else _json.dumps(data)
    out = f"event: {name}\n" if name else ""
    out += "".join(f"data: {line}\n" for line in text.split("\n"))
    return (out + "\n").encode()


class MockUpstream:
    """A scriptable fake of the OpenAI and Anthropic APIs on 127.0.0.1 (random free port)."""

    def __init__(self, agent: bool = False):
        # agent=True: what no script answers, tests/clients/agent.py does (file-writing tool
        # calls, final texts after tool results, structured output) before the default echo;
        # agent_cwd: the client's working directory when the prompt does not say it.
        self.agent = agent
        self.agent_cwd: str | None = None
        self.requests: list[Received] = []
        self.disconnects: list[float] = []  # time.monotonic() when a client went away mid-answer
        self._fifo: deque = deque()
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._stopping = threading.Event()
        self._connections: set = set()
        self._conn_count = 0
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self.url = ""

    # -- lifecycle -------------------------------------------------------------------------

    def start(self) -> MockUpstream:
        if self._server is not None:
            return self
        self._stopping.clear()
        server = _Server(("127.0.0.1", 0), _Handler)
        server.mock = self
        self._server = server
        self.url = f"http://127.0.0.1:{server.server_address[1]}"
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.1},
            name="mock-upstream", daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is None:
            return
        self._stopping.set()
        server.shutdown()
        server.server_close()
        with self._lock:
            connections = list(self._connections)
        for conn in connections:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> MockUpstream:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    @property
    def port(self) -> int:
        return int(self.url.rsplit(":", 1)[1]) if self.url else 0

    @property
    def openai_base_url(self) -> str:
        return self.url + "/v1"

    @property
    def anthropic_base_url(self) -> str:
        return self.url

    # -- scripting and inspection ------------------------------------------------------------

    def script(self, *responses: Reply | Stream | Hang | Callable[[Received], Any]) -> None:
        """Queue answers; each incoming POST consumes one, in order."""
        with self._lock:
            self._fifo.extend(responses)

    def reset(self) -> None:
        """Forget the scripted answers, the recorded requests and the disconnects."""
        with self._lock:
            self._fifo.clear()
            self.requests.clear()
            self.disconnects.clear()

    def last(self) -> Received:
        with self._lock:
            if not self.requests:
                raise AssertionError("the mock upstream has received no request")
            return self.requests[-1]

    @property
    def pending(self) -> int:
        """How many scripted answers are still queued."""
        with self._lock:
            return len(self._fifo)

    def wait_disconnect(self, timeout: float = 1.0, since: float | None = None) -> float | None:
        """Wait until a disconnect at or after ``since`` (monotonic) is recorded; return its time
        or None after ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                for stamp in self.disconnects:
                    if since is None or stamp >= since:
                        return stamp
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return None
                self._changed.wait(remaining)

    def wait_requests(self, count: int, timeout: float = 1.0) -> bool:
        """Wait until at least ``count`` requests have been recorded."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while len(self.requests) < count:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._changed.wait(remaining)
            return True

    # -- used by the handler ---------------------------------------------------------------

    def _record(self, received: Received) -> None:
        with self._changed:
            self.requests.append(received)
            self._changed.notify_all()

    def _record_disconnect(self) -> None:
        with self._changed:
            self.disconnects.append(time.monotonic())
            self._changed.notify_all()

    def _agent_answer(self, received: Received):
        from tests.clients.agent import answer

        return answer(received, cwd=self.agent_cwd)

    def _next_scripted(self):
        with self._lock:
            return self._fifo.popleft() if self._fifo else None

    def _register(self, conn) -> int:
        with self._lock:
            self._connections.add(conn)
            self._conn_count += 1
            return self._conn_count

    def _unregister(self, conn) -> None:
        with self._lock:
            self._connections.discard(conn)
