"""A fast mock LLM upstream for the benchmark: one asyncio process (uvloop when installed), fixed
pre-encoded answers, HTTP/1.1 keep-alive, both wire formats.

    POST /{mode}/v1/chat/completions   OpenAI Chat Completions (SSE when "stream": true)
    POST /{mode}/v1/messages           Anthropic Messages (SSE when "stream": true)

Modes: `instant` answers at once; `delay` answers after --delay-ms (default 1000); `trickle`
sends its first chunk at once, then --chunks (default 50) chunks --chunk-ms (default 20) apart
(a non-streamed request to it waits as long as the stream would take).

    python bench/upstream.py --port 18080
"""
import argparse
import asyncio
import re
import time

import orjson

STREAM_FLAG = re.compile(rb'"stream"\s*:\s*true')
USAGE = {"prompt_tokens": 12, "completion_tokens": 50, "total_tokens": 62}
TOKEN = "tok "


def _openai_completion():
    return orjson.dumps({
        "id": "chatcmpl-bench", "object": "chat.completion", "created": 1764000000,
        "model": "bench", "system_fingerprint": None,
        "choices": [{"index": 0, "finish_reason": "stop", "logprobs": None,
                     "message": {"role": "assistant", "content": TOKEN * 50, "refusal": None}}],
        "usage": USAGE})


def _openai_chunk(delta, finish=None, usage=None, choices=True):
    chunk = {"id": "chatcmpl-bench", "object": "chat.completion.chunk", "created": 1764000000,
             "model": "bench",
             "choices": [{"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None}]
             if choices else []}
    if usage is not None:
        chunk["usage"] = usage
    return b"data: " + orjson.dumps(chunk) + b"\n\n"


def _openai_stream(chunks):
    """(first frame, middle frame, closing frames) of an OpenAI stream of `chunks` tokens."""
    first = _openai_chunk({"role": "assistant", "content": TOKEN})
    middle = _openai_chunk({"content": TOKEN})
    last = (_openai_chunk({}, finish="stop") + _openai_chunk({}, usage=USAGE, choices=False)
            + b"data: [DONE]\n\n")
    return first, middle, last


def _anthropic_message():
    return orjson.dumps({
        "id": "msg_bench", "type": "message", "role": "assistant", "model": "bench",
        "content": [{"type": "text", "text": TOKEN * 50}], "stop_reason": "end_turn",
        "stop_sequence": None, "usage": {"input_tokens": 12, "output_tokens": 50}})


def _event(name, data):
    return b"event: " + name.encode() + b"\ndata: " + orjson.dumps(data) + b"\n\n"


def _anthropic_stream(chunks):
    delta = {"type": "content_block_delta", "index": 0,
             "delta": {"type": "text_delta", "text": TOKEN}}
    start = {"id": "msg_bench", "type": "message", "role": "assistant", "model": "bench",
             "content": [], "stop_reason": None, "stop_sequence": None,
             "usage": {"input_tokens": 12, "output_tokens": 1}}
    first = (_event("message_start", {"type": "message_start", "message": start})
             + _event("content_block_start", {"type": "content_block_start", "index": 0,
                                              "content_block": {"type": "text", "text": ""}})
             + _event("content_block_delta", delta))
    middle = _event("content_block_delta", delta)
    last = (_event("content_block_stop", {"type": "content_block_stop", "index": 0})
            + _event("message_delta", {"type": "message_delta",
                                       "delta": {"stop_reason": "end_turn", "stop_sequence": None},
                                       "usage": {"output_tokens": 50}})
            + _event("message_stop", {"type": "message_stop"}))
    return first, middle, last


def _response(status, content_type, body):
    head = (f"HTTP/1.1 {status}\r\ncontent-type: {content_type}\r\n"
            f"content-length: {len(body)}\r\n\r\n").encode()
    return head + body


STREAM_HEAD = (b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n"
               b"cache-control: no-cache\r\ntransfer-encoding: chunked\r\n\r\n")


def _chunked(data):
    return b"%x\r\n%s\r\n" % (len(data), data)


class Answers:
    def __init__(self, chunks):
        self.json = {"chat": _response("200 OK", "application/json", _openai_completion()),
                     "messages": _response("200 OK", "application/json", _anthropic_message())}
        self.stream = {"chat": _openai_stream(chunks), "messages": _anthropic_stream(chunks)}
        self.not_found = _response("404 Not Found", "application/json",
                                   b'{"error":{"message":"no such path","type":"not_found"}}')


class Upstream(asyncio.Protocol):
    """One client connection: parse each request (headers + content-length body), answer it."""

    def __init__(self, options, answers):
        self.options, self.answers = options, answers
        self.buffer = b""
        self.transport = None
        self.close_after = False
        self.busy = False  # an answer is still being sent; further requests wait in the buffer

    def connection_made(self, transport):
        self.transport = transport

    def data_received(self, data):
        self.buffer += data
        if not self.busy:
            self._next_request()

    def _next_request(self):
        end = self.buffer.find(b"\r\n\r\n")
        if end < 0:
            return
        head = self.buffer[:end].decode("latin-1")
        length = 0
        for line in head.split("\r\n")[1:]:
            name, _, value = line.partition(":")
            if name.strip().lower() == "content-length":
                length = int(value)
        if len(self.buffer) < end + 4 + length:
            return
        body = self.buffer[end + 4:end + 4 + length]
        self.buffer = self.buffer[end + 4 + length:]
        path = head.split(" ", 2)[1]
        self.close_after = "connection: close" in head.lower()
        self._answer(path, body)

    def _answer(self, path, body):
        mode, _, rest = path.lstrip("/").partition("/")
        kind = {"v1/chat/completions": "chat", "v1/messages": "messages"}.get(rest)
        if kind is None or mode not in ("instant", "delay", "trickle"):
            return self._send(self.answers.not_found)
        stream = STREAM_FLAG.search(body) is not None
        loop = asyncio.get_running_loop()
        if mode == "delay":
            self.busy = True
            loop.call_later(self.options.delay_ms / 1000, self._reply, kind, stream, 0)
        elif mode == "trickle":
            self._reply(kind, stream, self.options.chunks)
        else:
            self._reply(kind, stream, 0)

    def _reply(self, kind, stream, chunks):
        if self.transport.is_closing():
            return
        if not stream:
            if chunks:
                self.busy = True
                delay = chunks * self.options.chunk_ms / 1000
                return asyncio.get_running_loop().call_later(delay, self._send,
                                                              self.answers.json[kind])
            return self._send(self.answers.json[kind])
        first, middle, last = self.answers.stream[kind]
        if not chunks:
            body = _chunked(first + middle * (self.options.chunks - 1) + last)
            return self._send(STREAM_HEAD + body + b"0\r\n\r\n")
        self.busy = True
        self.transport.write(STREAM_HEAD + _chunked(first))
        self._schedule(middle, last, 1, time.monotonic())

    def _schedule(self, middle, last, sent, started):
        """Chunks go out on a fixed grid from the stream's start, so timer lag does not add up."""
        due = started + sent * self.options.chunk_ms / 1000 - time.monotonic()
        asyncio.get_running_loop().call_later(max(0.0, due), self._trickle, middle, last, sent,
                                              started)

    def _trickle(self, middle, last, sent, started):
        if self.transport.is_closing():
            return
        if sent + 1 >= self.options.chunks:
            return self._send(_chunked(middle + last) + b"0\r\n\r\n")
        self.transport.write(_chunked(middle))
        self._schedule(middle, last, sent + 1, started)

    def _send(self, data):
        self.transport.write(data)
        self.busy = False
        if self.close_after:
            self.transport.close()
        elif self.buffer:
            self._next_request()


async def serve(options):
    answers = Answers(options.chunks)
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: Upstream(options, answers), options.host,
                                      options.port, backlog=4096, reuse_address=True)
    print(f"mock upstream on http://{options.host}:{options.port}", flush=True)
    async with server:
        await server.serve_forever()


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=18080)
    parser.add_argument("--delay-ms", type=float, default=1000)
    parser.add_argument("--chunks", type=int, default=50)
    parser.add_argument("--chunk-ms", type=float, default=20)
    options = parser.parse_args()
    try:
        import uvloop
        run = uvloop.run
    except ImportError:
        run = asyncio.run
    try:
        run(serve(options))
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
