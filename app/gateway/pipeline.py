"""The request pipeline: authenticate → route → call the vendor → account → log.

Plain Python: routes hand in an Inbound (bytes and headers, no Flask objects) and get a Reply.
Every inference request, failed or not, streamed or not, leaves one request-log row.
"""
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import orjson

from ..errors import GatewayError, InternalError, InvalidRequest
from ..formats import anthropic_messages, openai_chat
from . import exchanges
from .keepalive import with_keepalive
from .pricing import Usage
from .record import RequestRecord
from .tokens import estimate

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
    def __init__(self, router, vendors, authenticator, log_writer, limiter,
                 keepalive_seconds=10.0):
        self.router = router
        self.vendors = vendors
        self.authenticator = authenticator
        self.log_writer = log_writer
        self.limiter = limiter
        self.keepalive_seconds = keepalive_seconds
        self._endpoints = {"chat": self._chat, "embeddings": self._embeddings,
                           "messages": self._messages, "count_tokens": self._count_tokens}

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
            self._settle(record)
            error.headers = {**record.limit_headers, **error.headers}
            self.log_writer.submit(record.finish())
            raise
        except Exception:
            record.fail(InternalError("internal error"))
            self._settle(record)
            self.log_writer.submit(record.finish())
            raise
        if reply.stream is None:
            self._settle(record)
            self.log_writer.submit(record.finish())
            reply.headers["x-gateway-cost-usd"] = f"{record.cost:.10f}".rstrip("0").rstrip(".")
        reply.headers.update(record.limit_headers)
        return reply

    def _admit(self, record, principal, route, endpoint, body):
        """Rate limits and budget reservation of every scope, before any upstream call."""
        scopes = [scope for scope in principal.scopes if scope.limited]
        if not scopes:
            return
        tokens, output = 0, 0
        if any(s.tpm is not None or s.max_budget_usd is not None for s in scopes):
            tokens, output = estimate(endpoint, body, route)
        reserve = route.entry.price.cost(Usage(input_tokens=tokens, output_tokens=output))
        record.ticket = self.limiter.admit(record.row["request_id"], scopes, tokens, reserve)
        record.limit_headers = record.ticket.headers() if record.ticket else {}

    def _settle(self, record):
        ticket, record.ticket = record.ticket, None
        if ticket is not None:
            usage = record.usage
            self.limiter.settle(ticket, usage.input_tokens + usage.output_tokens, record.cost)
            record.limit_headers = ticket.headers()

    # --- endpoints ---------------------------------------------------------------------------

    def _route(self, record, principal, body, endpoint, limited=True):
        """Pick the deployment and pass the limits; (route, vendor handler)."""
        record.request(body["model"], body.get("stream") is True)
        route = self.router.pick(body["model"], principal)
        record.route(route)
        if limited:
            self._admit(record, principal, route, endpoint, body)
        return route, self.vendors.get_handler(route.provider)

    def _chat(self, record, principal, body, inbound):
        openai_chat.check_chat_request(body)
        route, handler = self._route(record, principal, body, "chat")
        return self._reply(record, exchanges.openai_chat_exchange(handler, route, body, record))

    def _messages(self, record, principal, body, inbound):
        anthropic_messages.check_messages_request(body)
        route, handler = self._route(record, principal, body, "messages")
        plan = exchanges.anthropic_messages_exchange(handler, route, body, record, inbound.headers)
        return self._reply(record, plan)

    def _count_tokens(self, record, principal, body, inbound):
        """Not rate limited: it costs nothing and clients call it to stay within their limits."""
        anthropic_messages.check_messages_request(body, count_tokens=True)
        route, handler = self._route(record, principal, body, "count_tokens", limited=False)
        return self._reply(record, exchanges.count_tokens_exchange(handler, route, body,
                                                                   inbound.headers))

    def _embeddings(self, record, principal, body, inbound):
        openai_chat.check_embeddings_request(body)
        route, handler = self._route(record, principal, body, "embeddings")
        answer = handler.embeddings({**body, "model": route.deployment.model})
        record.account(openai_chat.usage_of(answer.data))
        return Reply(body=answer.body)

    # --- streaming ---------------------------------------------------------------------------

    def _reply(self, record, result):
        if isinstance(result, exchanges.Answer):
            return Reply(body=result.body)
        return self._stream(record, result)

    def _stream(self, record, plan):
        """Read the first frame before answering, so an upstream failure that happens before any
        output still gets its real HTTP status; then stream, log when done."""
        try:
            first = next(plan.frames, b"")
        except BaseException:
            plan.upstream.close()
            raise
        frames = with_keepalive(plan.frames, self.keepalive_seconds, plan.ping,
                                plan.upstream.close)
        return Reply(stream=self._stream_body(record, plan, first, frames),
                     headers={"cache-control": "no-cache", "x-accel-buffering": "no"})

    def _stream_body(self, record, plan, first, frames):
        try:
            yield first
            yield from frames
        except GatewayError as error:
            record.fail(error)
            yield plan.error_frame(error)
        except GeneratorExit:
            record.fail(InvalidRequest("client disconnected", status=CLIENT_CLOSED),
                        "client_disconnected")
            raise
        except Exception:
            log.exception("stream of request %s failed", record.row["request_id"])
            error = InternalError("The gateway hit an internal error mid-stream.")
            record.fail(error)
            yield plan.error_frame(error)
        finally:
            frames.close()
            plan.upstream.close()
            record.first_output(plan.meter.first_output_at)
            if plan.meter.usage is not None:
                record.account(plan.meter.usage)
            self._settle(record)
            self.log_writer.submit(record.finish())
