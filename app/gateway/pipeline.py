"""The request pipeline: authenticate → route → call the vendor → account → log.

Plain Python: routes hand in an Inbound (bytes and headers, no Flask objects) and get a Reply.
Every inference request, failed or not, streamed or not, leaves one request-log row.
"""
import itertools
import logging
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field

import orjson

from ..errors import GatewayError, InternalError, InvalidRequest
from ..formats import anthropic_messages, openai_chat, openai_responses
from ..formats.checks import parse_json_object
from ..observability import RequestObservers
from ..vendors.silence import ClientGone
from . import exchanges
from .keepalive import with_keepalive
from .pricing import Usage
from .record import RequestRecord
from .routing.attempts import DEPLOYMENT_HEADER, Attempts
from .routing.health import Health
from .routing.health_stores import MemoryHealthStore
from .stored_responses import input_list
from .tokens import estimate, estimate_input

log = logging.getLogger(__name__)

CLIENT_CLOSED = 499  # nginx's "client closed request"
DROPPED_TOOLS_HEADER = "x-gateway-dropped-tools"


@dataclass
class Inbound:
    surface: str  # "openai" | "anthropic" | "responses"
    endpoint: str  # "chat" | "embeddings" | "messages" | "count_tokens" | "responses"
    request_id: str
    api_key: str | None
    read_body: Callable[[], bytes]
    headers: Mapping = field(default_factory=dict)  # read-only: the client's headers
    client_request_id: str | None = None  # the client's own id, kept beside request_id
    client_address: str | None = None
    traceparent: str | None = None  # the client's W3C traceparent header (observability/tracing)
    send_now: Callable[[bytes], None] | None = None  # writes to the client at once (streams)


@dataclass
class Reply:
    body: bytes | None = None
    stream: Iterator[bytes] | None = None
    status: int = 200
    headers: dict = field(default_factory=dict)


class Gateway:
    def __init__(self, router, vendors, authenticator, log_writer, limiter,
                 keepalive_seconds=10.0, health=None):
        self.router = router
        self.vendors = vendors
        self.authenticator = authenticator
        self.log_writer = log_writer
        self.limiter = limiter
        self.keepalive_seconds = keepalive_seconds
        self.health = health or Health(MemoryHealthStore(), router.catalog.resilience)
        self.attempts = Attempts(router, vendors, self.health)
        self.responses_store = None  # stored_responses.ResponseStore; None keeps nothing
        self.observers = RequestObservers()  # metrics, access log, traces (app/observability)
        self._endpoints = {"chat": self._chat, "embeddings": self._embeddings,
                           "messages": self._messages, "count_tokens": self._count_tokens,
                           "responses": self._responses, "responses_compact": self._compact}

    def authenticate(self, api_key, address=None):
        return self.authenticator.authenticate(api_key, address)

    def list_models(self, api_key, address=None):
        return self.router.visible_models(self.authenticate(api_key, address))

    def handle(self, inbound):
        record = RequestRecord(inbound.request_id, inbound.surface, inbound.endpoint,
                               inbound.client_request_id, inbound.traceparent,
                               inbound.client_address)
        self.observers.notify("request_started", record)
        try:
            principal = self.authenticate(inbound.api_key, inbound.client_address)
            record.caller(principal)
            body = parse_json_object(inbound.read_body())
            reply = self._endpoints[inbound.endpoint](record, principal, body, inbound)
        except GatewayError as error:
            record.fail(error)
            self._finish(record)
            error.headers = {**record.limit_headers, **self._deployment(record), **error.headers}
            raise
        except Exception:
            record.fail(InternalError("internal error"))
            self._finish(record)
            raise
        if reply.stream is None:
            self._finish(record)
            reply.headers["x-gateway-cost-usd"] = f"{record.cost:.10f}".rstrip("0").rstrip(".")
        reply.headers.update(self._deployment(record))
        reply.headers.update(record.limit_headers)
        return reply

    @staticmethod
    def _deployment(record):
        deployment = record.deployment
        return {DEPLOYMENT_HEADER: deployment} if deployment else {}

    def _finish(self, record):
        """The request is over: free its deployment slot, settle its limits, queue its log."""
        record.release()
        self._settle(record)
        row = record.finish()
        self.log_writer.submit(row)
        self.observers.notify("request_finished", row, record)

    def _admit(self, record, principal, route, endpoint, body):
        """Rate limits and budget reservation of every scope, once per request, before any
        upstream call (retries and fallbacks do not count again)."""
        scopes = [scope for scope in principal.scopes if scope.limited]
        if not scopes:
            return
        tokens, output = 0, 0
        if any(s.tpm is not None or s.max_budget_usd is not None for s in scopes):
            tokens, output = estimate(endpoint, body, route)
        reserve = route.entry.price.cost(Usage(input_tokens=tokens, output_tokens=output))
        record.ticket = record.limits = self.limiter.admit(
            record.row["request_id"], scopes, tokens, reserve, output_param=_output_param(
                endpoint, body))

    def _settle(self, record):
        ticket, record.ticket = record.ticket, None
        if ticket is not None:
            usage = record.usage
            self.limiter.settle(ticket, usage.input_tokens + usage.output_tokens, record.cost)

    # --- endpoints ---------------------------------------------------------------------------

    def _serve(self, record, principal, body, inbound, endpoint, exchange, limited=True):
        """Plan the deployments, pass the limits once, then attempt until one answers.
        exchange(route, handler) -> exchanges.Answer | exchanges.StreamPlan."""
        record.request(body["model"], body.get("stream") is True)
        plan = self.router.plan(body["model"], principal)
        if limited:
            self._admit(record, principal, plan.nominal, endpoint, body)

        def attempt(route, handler):
            result = exchange(route, handler)
            if isinstance(result, exchanges.StreamPlan):
                result.prime()
            return result

        _, result = self.attempts.run(record, plan, attempt)
        if isinstance(result, exchanges.Answer):
            return Reply(body=result.body)
        return self._stream(record, result, body, inbound.send_now)

    def _chat(self, record, principal, body, inbound):
        openai_chat.check_chat_request(body)
        return self._serve(record, principal, body, inbound, "chat", lambda route, handler:
                           exchanges.openai_chat_exchange(handler, route, body, record))

    def _messages(self, record, principal, body, inbound):
        anthropic_messages.check_messages_request(body)
        return self._serve(record, principal, body, inbound, "messages", lambda route, handler:
                           exchanges.anthropic_messages_exchange(handler, route, body, record,
                                                                 inbound.headers))

    def _count_tokens(self, record, principal, body, inbound):
        """Not rate limited: it costs nothing and clients call it to stay within their limits."""
        anthropic_messages.check_messages_request(body, count_tokens=True)
        return self._serve(record, principal, body, inbound, "count_tokens", lambda route, handler:
                           exchanges.count_tokens_exchange(handler, route, body, inbound.headers),
                           limited=False)

    def _responses(self, record, principal, body, inbound):
        """POST /v1/responses. With the store on, previous_response_id is read from it (404
        when it is not the caller's) and the finished response is kept unless store is false;
        with it off, only a Responses-format vendor can take previous_response_id."""
        openai_responses.check_responses_request(body)
        store = self.responses_store
        history, instructions, keep = None, None, _keep_nothing
        if store is not None and store.enabled:
            previous = body.get("previous_response_id")
            history = []
            if previous is not None:
                instructions, history = store.history(principal, previous)
            if body.get("store") is not False:
                def keep(response):
                    store.save(principal, response, input_list(body.get("input")),
                               body.get("instructions") or instructions, previous)
        context = exchanges.ResponsesContext(history, instructions, keep,
                                             stored=keep is not _keep_nothing)
        reply = self._serve(record, principal, body, inbound, "responses", lambda route, handler:
                            exchanges.openai_responses_exchange(handler, route, body, record,
                                                                context))
        if context.dropped_tools:
            reply.headers[DROPPED_TOOLS_HEADER] = ", ".join(context.dropped_tools)
        return reply

    def _compact(self, record, principal, body, inbound):
        """POST /v1/responses/compact, the remote compaction of Codex before its compaction
        trigger (formats/compaction.py): {model, input, instructions} answered with
        {"output": [items]} replacing the input — a request whose input ends in the trigger, not
        streamed, nothing stored."""
        openai_responses.check_compact_request(body)
        request = {**body, "input": [*input_list(body.get("input")),
                                     {"type": "compaction_trigger"}],
                   "stream": False, "store": False}
        reply = self._responses(record, principal, request, inbound)
        answer = orjson.loads(reply.body)
        reply.body = orjson.dumps({key: answer.get(key) for key in ("id", "created_at", "output",
                                                                   "usage")}
                                  | {"object": "response.compaction"})
        return reply

    def _embeddings(self, record, principal, body, inbound):
        openai_chat.check_embeddings_request(body)
        return self._serve(record, principal, body, inbound, "embeddings", lambda route, handler:
                           exchanges.embeddings_exchange(handler, route, body, record))

    # --- streaming ---------------------------------------------------------------------------

    def _stream(self, record, plan, body, send_now):
        """Stream a primed plan (its first frame was read while the attempt could still be
        retried); log when done."""
        frames = with_keepalive(plan.frames, self.keepalive_seconds, plan.ping,
                                plan.upstream.close, send_now)
        self.observers.notify("stream_started", record)
        return Reply(stream=self._stream_body(record, plan, plan.first, frames, body),
                     headers={"cache-control": "no-cache", "x-accel-buffering": "no"})

    def _stream_body(self, record, plan, first, frames, body):
        """The client's frames; when they end (done, failed, cut, or the client gone), the
        request is accounted — with what was sent and received when the upstream never said
        its usage — and logged. The frame that ends the stream leaves only once the request is
        settled: a client that sends its next request as soon as it has read this answer finds
        its slot and reservation already released."""
        ended = False

        def end():
            nonlocal ended
            if not ended:
                ended = True
                self._end_stream(record, plan, frames, body)

        try:
            for frame in itertools.chain((first,), frames):
                if plan.ends(frame):
                    end()  # settled and logged before the terminator leaves
                yield frame
            end()
        except GatewayError as error:
            record.fail(error)
            record.attempt_failed(error)
            end()
            yield plan.error_frame(error)
        except (GeneratorExit, ClientGone) as gone:  # the client went away
            if not ended:
                record.fail(InvalidRequest("client disconnected", status=CLIENT_CLOSED),
                            "client_disconnected")
            if isinstance(gone, ClientGone):
                raise gone.__cause__ from None  # a ping's write error: the server handles its own
            raise
        except Exception:
            log.exception("stream of request %s failed", record.row["request_id"])
            error = InternalError("The gateway hit an internal error mid-stream.")
            record.fail(error)
            end()
            yield plan.error_frame(error)
        finally:
            end()

    def _end_stream(self, record, plan, frames, body):
        frames.close()
        plan.upstream.close()
        record.first_output(plan.meter.first_output_at)
        usage = plan.meter.usage
        record.account(usage if usage is not None
                       else plan.meter.partial_usage(estimate_input(body)))
        self._finish(record)


def _keep_nothing(response):
    pass


def _output_param(endpoint, body):
    """The request field that bounds its output, named when it is too costly for a budget."""
    fixed = {"messages": "max_tokens", "responses": "max_output_tokens", "embeddings": None}
    if endpoint in fixed:
        return fixed[endpoint]
    return "max_completion_tokens" if "max_completion_tokens" in body else "max_tokens"
