"""One exchange per (client format, vendor format) pair: what goes up, what comes back.

Same format: the body passes through with only the model rewritten, and the answer's bytes come
back untouched. Different formats: formats/translate_* convert request, answer and stream; a
request the vendor's format cannot honour is a 400 before any upstream call. Every answer's
`model` is the one the vendor reports (the upstream model sent when it names none).
A streamed exchange returns a StreamPlan; the pipeline primes, keeps alive and logs it.
"""
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import orjson

from ..formats import anthropic_messages, openai_chat, stream_frames
from ..formats.translate_request import anthropic_to_openai_request, openai_to_anthropic_request
from ..formats.translate_response import anthropic_to_openai_response, openai_to_anthropic_response
from . import tokens

OPENAI_HOSTS = ("api.openai.com",)


@dataclass
class Answer:
    body: bytes


@dataclass
class StreamPlan:
    upstream: object  # vendors.base.UpstreamStream, closed when the stream ends
    frames: Iterator[bytes]  # what the client receives
    meter: object  # first-output time and usage, read when the stream ends
    error_frame: Callable  # GatewayError -> bytes in the client's format
    ping: bytes  # keep-alive frame in the client's format
    ends: Callable = None  # bytes -> True when they carry the stream's terminator
    first: bytes = b""  # the first frame, read by the pipeline before it answers


def openai_chat_exchange(handler, route, body, record):
    """An OpenAI Chat Completions client."""
    stream = body.get("stream") is True
    model = route.deployment.model
    if handler.native_format == "openai_chat":
        upstream_body = {**body, "model": model}
        if not stream:
            answer = handler.chat(upstream_body, stream=False, call=route.call)
            record.account(openai_chat.usage_of(answer.data))
            return Answer(answer.body)
        upstream = handler.chat(openai_chat.with_usage_requested(upstream_body), stream=True,
                            call=route.call)
        meter = openai_chat.StreamMeter()
        frames = openai_chat.passthrough_stream(upstream, meter, openai_chat.wants_usage(body))
    else:
        upstream_body = openai_to_anthropic_request(
            body, model, default_max_tokens=route.entry.default_max_tokens,
            max_output_tokens=route.entry.max_output_tokens)
        if not stream:
            answer = handler.chat(upstream_body, stream=False, call=route.call)
            record.account(anthropic_messages.usage_of(answer.data.get("usage")))
            return Answer(orjson.dumps(anthropic_to_openai_response(answer.data, model)))
        upstream = handler.chat(upstream_body, stream=True, call=route.call)
        meter = anthropic_messages.StreamMeter()
        frames = stream_frames.openai_from_anthropic(upstream, meter, model,
                                                     openai_chat.wants_usage(body))
    return StreamPlan(upstream, frames, meter, openai_chat.error_frame,
                      openai_chat.KEEPALIVE, openai_chat.ends_stream)


def anthropic_messages_exchange(handler, route, body, record, headers):
    """An Anthropic Messages client."""
    stream = body.get("stream") is True
    model = route.deployment.model
    if handler.native_format == "anthropic_messages":
        upstream_body = {**body, "model": model}
        if not stream:
            answer = handler.chat(upstream_body, stream=False, headers=headers, call=route.call)
            record.account(anthropic_messages.usage_of(answer.data.get("usage")))
            return Answer(answer.body)
        upstream = handler.chat(upstream_body, stream=True, headers=headers, call=route.call)
        meter = anthropic_messages.StreamMeter()
        frames = anthropic_messages.passthrough_stream(upstream, meter)
    else:
        upstream_body = anthropic_to_openai_request(
            body, model, allow_top_k=_is_openai_compatible_server(route.provider),
            max_output_tokens=route.entry.max_output_tokens)
        if not stream:
            answer = handler.chat(upstream_body, stream=False, call=route.call)
            record.account(openai_chat.usage_of(answer.data))
            return Answer(orjson.dumps(openai_to_anthropic_response(answer.data, model)))
        upstream = handler.chat(upstream_body, stream=True, call=route.call)
        meter = openai_chat.StreamMeter()
        frames = stream_frames.anthropic_from_openai(
            upstream, meter, model, tokens.count_chat_tokens(upstream_body, model))
    return StreamPlan(upstream, frames, meter, anthropic_messages.error_frame,
                      anthropic_messages.PING, anthropic_messages.ends_stream)


def count_tokens_exchange(handler, route, body, headers):
    """/v1/messages/count_tokens: the vendor's own counter for Anthropic models, a BPE tokenizer
    on the translated request for OpenAI-format ones."""
    model = route.deployment.model
    if handler.native_format == "anthropic_messages":
        return Answer(handler.count_tokens({**body, "model": model}, headers=headers,
                                           call=route.call).body)
    openai_body = anthropic_to_openai_request({**body, "max_tokens": 1}, model)
    return Answer(orjson.dumps({"input_tokens": tokens.count_chat_tokens(openai_body, model)}))


def embeddings_exchange(handler, route, body, record):
    answer = handler.embeddings({**body, "model": route.deployment.model}, call=route.call)
    record.account(openai_chat.usage_of(answer.data))
    return Answer(answer.body)


def _is_openai_compatible_server(provider):
    """vLLM, Ollama and the like accept top_k; api.openai.com rejects it."""
    return bool(provider.base_url) and not any(h in provider.base_url for h in OPENAI_HOSTS)
