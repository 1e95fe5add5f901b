"""A deterministic offline vendor: answers with the last user message, streams it word by word,
and reports usage (one token per whitespace-separated word). Used by the quickstart, tests and
benchmarks. Options (in the provider's config): latency_ms before answering, chunk_delay_ms
between streamed chunks."""
import hashlib
import struct
import time

import orjson

from ..formats.sse import SSEEvent
from . import silence
from .base import DEFAULT_CALL, UpstreamResponse, UpstreamStream, VendorHandler

MAX_DIMENSIONS = 4096  # of the mock's embeddings, whatever `dimensions` asks


def message_text(content):
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(p.get("text", "") for p in content if isinstance(p, dict))
    return ""


def count_words(text):
    return len(text.split())


class MockHandler(VendorHandler):
    vendor = "mock"
    native_format = "openai_chat"

    def __init__(self, provider):
        super().__init__(provider)
        self.latency = float(provider.options.get("latency_ms", 0)) / 1000
        self.chunk_delay = float(provider.options.get("chunk_delay_ms", 0)) / 1000
        self._created = int(time.time())

    def chat(self, body, *, stream, headers=None, call=DEFAULT_CALL):
        messages = body.get("messages") or []
        reply = next((message_text(m.get("content")) for m in reversed(messages)
                      if isinstance(m, dict) and m.get("role") == "user"), "")
        prompt_tokens = sum(count_words(message_text(m.get("content"))) + 1
                            for m in messages if isinstance(m, dict))
        usage = {"prompt_tokens": prompt_tokens, "completion_tokens": count_words(reply),
                 "total_tokens": prompt_tokens + count_words(reply)}
        ident = "chatcmpl-mock-" + hashlib.sha1(reply.encode()).hexdigest()[:12]
        if self.latency:
            time.sleep(self.latency)
        if stream:
            return UpstreamStream(self._chunks(ident, body["model"], reply, usage))
        data = {"id": ident, "object": "chat.completion", "created": self._created,
                "model": body["model"],
                "choices": [{"index": 0, "finish_reason": "stop", "logprobs": None,
                             "message": {"role": "assistant", "content": reply}}],
                "usage": usage}
        return UpstreamResponse(body=orjson.dumps(data), data=data)

    def _chunks(self, ident, model, reply, usage):
        base = {"id": ident, "object": "chat.completion.chunk", "created": self._created,
                "model": model}

        def chunk(delta, finish=None):
            choice = {"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None}
            return SSEEvent(None, orjson.dumps({**base, "choices": [choice]}))

        yield chunk({"role": "assistant", "content": ""})
        words = reply.split(" ") if reply else []
        for i, word in enumerate(words):
            if self.chunk_delay:
                silence.sleep(self.chunk_delay)
            yield chunk({"content": word if i == 0 else " " + word})
        yield chunk({}, "stop")
        yield SSEEvent(None, orjson.dumps({**base, "choices": [], "usage": usage}))

    def embeddings(self, body, call=DEFAULT_CALL):
        inputs = body.get("input")
        if not isinstance(inputs, list) or all(isinstance(x, int) for x in inputs):
            inputs = [inputs]  # one string, or one input of token ids
        dims = min(body.get("dimensions") or 16, MAX_DIMENSIONS)
        data = []
        for i, item in enumerate(inputs):
            seed = hashlib.sha256(orjson.dumps(item)).digest()
            raw = (seed * (dims * 4 // len(seed) + 1))[: dims * 4]
            vector = [round(v / 2**32, 6) for v in struct.unpack(f"<{dims}I", raw)]
            data.append({"object": "embedding", "index": i, "embedding": vector})
        tokens = sum(count_words(x) if isinstance(x, str) else
                     len(x) if isinstance(x, list) else 1 for x in inputs)
        payload = {"object": "list", "data": data, "model": body["model"],
                   "usage": {"prompt_tokens": tokens, "total_tokens": tokens}}
        return UpstreamResponse(body=orjson.dumps(payload), data=payload)
