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

from ..errors import InvalidRequest
from ..formats import anthropic_messages, openai_chat, openai_responses, stream_frames
from ..formats.openai_responses import frame as responses_frame
from ..formats.request_from_responses import in_responses_terms, responses_to_chat_request
from ..formats.request_to_responses import chat_to_responses_request
from ..formats.response_from_responses import responses_to_chat_response
from ..formats.response_to_responses import chat_to_responses_response, response_shell
from ..formats.responses_stream_writer import ResponsesStreamWriter
from ..formats.stream_to_responses import responses_from_anthropic, responses_from_chat
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

    def prime(self):
        """Read the first frame before answering, so a failure before any output still gets
        its real HTTP status — and can still be retried on another deployment."""
        try:
            self.first = next(self.frames, b"")
        except BaseException:
            self.upstream.close()
            raise


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
    elif handler.native_format == "openai_responses":
        upstream_body = chat_to_responses_request(body, model)
        if not stream:
            answer = handler.chat(upstream_body, stream=False, call=route.call)
            record.account(openai_responses.usage_of(answer.data.get("usage")))
            return Answer(orjson.dumps(responses_to_chat_response(answer.data, model)))
        upstream = handler.chat(upstream_body, stream=True, call=route.call)
        meter = openai_responses.StreamMeter()
        frames = stream_frames.chat_from_responses(upstream, meter, model,
                                                   openai_chat.wants_usage(body))
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
    elif handler.native_format == "openai_responses":
        chat_body = anthropic_to_openai_request(body, model,
                                                max_output_tokens=route.entry.max_output_tokens,
                                                keep_reasoning_items=True)
        upstream_body = chat_to_responses_request(chat_body, model)
        if not stream:
            answer = handler.chat(upstream_body, stream=False, call=route.call)
            record.account(openai_responses.usage_of(answer.data.get("usage")))
            chat_answer = responses_to_chat_response(answer.data, model)
            return Answer(orjson.dumps(openai_to_anthropic_response(chat_answer, model)))
        upstream = handler.chat(upstream_body, stream=True, call=route.call)
        meter = openai_responses.StreamMeter()
        frames = stream_frames.anthropic_from_responses(
            upstream, meter, model, tokens.count_chat_tokens(chat_body, model))
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


@dataclass
class ResponsesContext:
    """What the pipeline prepared for a Responses request: the stored conversation before its
    input (previous_response_id; None when the gateway keeps no responses), and what to do with
    the finished response object (keep it, when the store is on)."""
    history: list | None
    instructions: str | None
    keep: Callable  # dict -> None
    stored: bool = False  # keep keeps it
    dropped_tools: list = None  # hosted tools left out on the serving route


def openai_responses_exchange(handler, route, body, record, context):
    """An OpenAI Responses client. A Responses-format vendor gets the body with only the model
    rewritten (and a stored conversation put before the input); the others get it translated
    through the Chat Completions pivot, and their answers are built into a response object."""
    stream = body.get("stream") is True
    model = route.deployment.model
    if handler.native_format == "openai_responses":
        upstream_body = {**body, "model": model}
        if context.history is not None and body.get("previous_response_id") is not None:
            upstream_body.pop("previous_response_id")
            upstream_body["input"] = context.history + _items(body.get("input"))
            if context.instructions and body.get("instructions") is None:
                upstream_body["instructions"] = context.instructions
        if not stream:
            answer = handler.chat(upstream_body, stream=False, call=route.call)
            record.account(openai_responses.usage_of(answer.data.get("usage")))
            context.keep(answer.data)
            return Answer(answer.body)
        upstream = handler.chat(upstream_body, stream=True, call=route.call)
        meter = openai_responses.StreamMeter()
        frames = openai_responses.passthrough_stream(upstream, meter, _keeper(context))
        return StreamPlan(upstream, frames, meter, openai_responses.error_frame,
                          openai_responses.KEEPALIVE, openai_responses.ends_stream)
    if body.get("previous_response_id") is not None and context.history is None:
        raise InvalidRequest("previous_response_id needs stored responses, which this gateway "
                             "does not keep (RESPONSES_STORE is off): send the whole conversation "
                             "in input.", param="previous_response_id",
                             code="responses_store_disabled")
    chat_body, names, dropped = responses_to_chat_request(body, context.history or (),
                                                          context.instructions)
    chat_body["model"] = model
    shell = response_shell(body, model, context.stored)
    if handler.native_format == "anthropic_messages":
        try:
            upstream_body = openai_to_anthropic_request(
                chat_body, model, default_max_tokens=route.entry.default_max_tokens,
                max_output_tokens=route.entry.max_output_tokens)
        except InvalidRequest as error:
            raise in_responses_terms(error) from None
        if "web_search" in dropped and getattr(route.provider, "web_search", False):
            dropped.remove("web_search")
            upstream_body.setdefault("tools", []).append(ANTHROPIC_WEB_SEARCH)
    else:
        upstream_body = chat_body
    context.dropped_tools = sorted(set(dropped))
    if context.dropped_tools:
        record.note("dropped_tools", context.dropped_tools)
    if not stream:
        answer = handler.chat(upstream_body, stream=False, call=route.call)
        if handler.native_format == "anthropic_messages":
            record.account(anthropic_messages.usage_of(answer.data.get("usage")))
            chat_answer = anthropic_to_openai_response(answer.data, model)
        else:
            record.account(openai_chat.usage_of(answer.data))
            chat_answer = answer.data
        response = chat_to_responses_response(chat_answer, shell, names)
        context.keep(response)
        return Answer(orjson.dumps(response))
    upstream = handler.chat(upstream_body, stream=True, call=route.call)
    writer = ResponsesStreamWriter(shell, compaction=names.compaction)
    if handler.native_format == "anthropic_messages":
        meter = anthropic_messages.StreamMeter()
        frames = responses_from_anthropic(upstream, meter, writer, names, context.keep)
    else:
        meter = openai_chat.StreamMeter()
        frames = responses_from_chat(upstream, meter, writer, names, context.keep)
    return StreamPlan(upstream, frames, meter, lambda error: _failed_frames(writer, error),
                      openai_responses.KEEPALIVE, openai_responses.ends_stream)


ANTHROPIC_WEB_SEARCH = {"type": "web_search_20250305", "name": "web_search"}


def _items(value):
    if isinstance(value, str):
        return [{"type": "message", "role": "user", "content": value}]
    return list(value or [])


def _keeper(context):
    def on_event(name, data):
        if name in openai_responses.TERMINAL_EVENTS and isinstance(data.get("response"), dict):
            context.keep(data["response"])
    return on_event


def _failed_frames(writer, error):
    return b"".join(responses_frame(name, data) for name, data in writer.failed(error))


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
