"""The request pipeline: authenticate → route → call the vendor → account → log.

Plain Python: routes hand in an Inbound (bytes and headers, no Flask objects) and get a Reply.
Every inference request, failed or not, streamed or not, leaves one request-log row.
"""
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import orjson

from ..errors import GatewayError, InternalError, InvalidRequest
from ..formats import openai_chat
from .record import RequestRecord

log = logging.getLogger(__name__)

CLIENT_CLOSED = 499  # nginx's "client closed request"


@dataclass
class Inbound:
    surface: str  # "openai" | "anthropic"
    endpoint: str  # "chat" | "embeddings" | "messages"
    request_id: str
    api_key: str | None
    read_body: Callable[[], bytes]
    headers: dict = field(default_factory=dict)


@dataclass
class Reply:
    body: bytes | None = None
    stream: Iterator[bytes] | None = None
    status: int = 200
    headers: dict = field(default_factory=dict)


def parse_json_object(raw):
    if not raw or not raw.strip():
        raise InvalidRequest("Request body is empty; expected a JSON object.", code="invalid_json")
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise InvalidRequest(f"Request body is not valid JSON: {exc}",
                             code="invalid_json") from None
    if not isinstance(body, dict):
        raise InvalidRequest("Request body must be a JSON object.", code="invalid_json")
    return body


class Gateway:
    def __init__(self, router, vendors, authenticator, log_writer):
        self.router = router
        self.vendors = vendors
        self.authenticator = authenticator
        self.log_writer = log_writer
        self._endpoints = {"chat": self._chat, "embeddings": self._embeddings}

    def authenticate(self, api_key):
        return self.authenticator.authenticate(api_key)

    def list_models(self, api_key):
        return self.router.visible_models(self.authenticate(api_key))

    def handle(self, inbound):
        record = RequestRecord(inbound.request_id, inbound.surface, inbound.endpoint)
        try:
            principal = self.authenticate(inbound.api_key)
            record.caller(principal)
            body = parse_json_object(inbound.read_body())
            reply = self._endpoints[inbound.endpoint](record, principal, body, inbound)
        except GatewayError as error:
            record.fail(error)
            self.log_writer.submit(record.finish())
            raise
        except Exception:
            record.fail(InternalError("internal error"))
            self.log_writer.submit(record.finish())
            raise
        if reply.stream is None:
            self.log_writer.submit(record.finish())
            reply.headers["x-gateway-cost-usd"] = f"{record.cost:.10f}".rstrip("0").rstrip(".")
        return reply

    # --- OpenAI Chat Completions -------------------------------------------------------------

    def _chat(self, record, principal, body, inbound):
        openai_chat.check_chat_request(body)
        stream = body.get("stream") is True
        record.request(body["model"], stream)
        route = self.router.pick(body["model"], principal)
        record.route(route)
        handler = self.vendors.get_handler(route.provider)
        if handler.native_format != "openai_chat":
            raise InvalidRequest(f"The model `{body['model']}` is served in the "
                                 f"{handler.native_format} format, which the OpenAI surface "
                                 "cannot translate to yet.", param="model",
                                 code="translation_unavailable")
        upstream_body = {**body, "model": route.deployment.model}
        if not stream:
            answer = handler.chat(upstream_body, stream=False)
            record.account(openai_chat.usage_of(answer.data))
            return Reply(body=answer.body)
        upstream = handler.chat(openai_chat.with_usage_requested(upstream_body), stream=True)
        meter = openai_chat.StreamMeter()
        frames = openai_chat.passthrough_stream(upstream, meter, openai_chat.wants_usage(body))
        return self._stream(record, upstream, frames, meter, openai_chat.error_frame)

    def _embeddings(self, record, principal, body, inbound):
        openai_chat.check_embeddings_request(body)
        record.request(body["model"], False)
        route = self.router.pick(body["model"], principal)
        record.route(route)
        answer = self.vendors.get_handler(route.provider).embeddings(
            {**body, "model": route.deployment.model})
        record.account(openai_chat.usage_of(answer.data))
        return Reply(body=answer.body)

    # --- streaming ---------------------------------------------------------------------------

    def _stream(self, record, upstream, frames, meter, error_frame):
        """Read the first frame before answering, so an upstream failure that happens before any
        output still gets its real HTTP status; then stream, log when done."""
        try:
            first = next(frames, b"")
        except BaseException:
            upstream.close()
            raise
        return Reply(stream=self._stream_body(record, upstream, first, frames, meter, error_frame),
                     headers={"cache-control": "no-cache", "x-accel-buffering": "no"})

    def _stream_body(self, record, upstream, first, frames, meter, error_frame):
        try:
            yield first
            yield from frames
        except GatewayError as error:
            record.fail(error)
            yield error_frame(error)
        except GeneratorExit:
            record.fail(InvalidRequest("client disconnected", status=CLIENT_CLOSED),
                        "client_disconnected")
            raise
        except Exception:
            log.exception("stream of request %s failed", record.row["request_id"])
            error = InternalError("The gateway hit an internal error mid-stream.")
            record.fail(error)
            yield error_frame(error)
        finally:
            upstream.close()
            record.first_output(meter.first_output_at)
            if meter.usage is not None:
                record.account(meter.usage)
            self.log_writer.submit(record.finish())
