"""OpenTelemetry traces: one trace per request, one span per upstream attempt, exported over
OTLP/HTTP — only when OTEL_EXPORTER_OTLP_ENDPOINT is set. Without it nothing is loaded, no span is
made and no header is added (the OpenTelemetry SDK is not even imported).

- The request span (kind SERVER) is a child of the client's span when the client sent a valid
  W3C `traceparent`, so the client's trace id is kept; otherwise it starts a new trace.
- Each attempt (a retry, a fallback) gets a span (kind CLIENT) under it. Its span id is made when
  the attempt starts, and the attempt sends `traceparent: 00-<trace id>-<its span id>-<flags>` to
  the vendor, so the vendor's own spans hang under the attempt that called it.
- Spans are made after the fact, when the request is over (request_finished), with the times and
  ids noted along the way: nothing on the hot path but a few ids and clock reads. The SDK's
  BatchSpanProcessor exports from its own thread (a greenlet under gevent) with a bounded queue:
  when the collector is slow or down, spans are dropped, requests never wait. The provider is
  flushed at exit (the SDK's atexit hook, which runs in each gunicorn worker as it exits).

Attributes follow the OpenTelemetry GenAI semantic conventions (gen_ai.*), plus gateway.* ones.
The client's sampled flag is honoured (the SDK's default sampler, parent-based; OTEL_TRACES_SAMPLER
and the other OTEL_* variables of the SDK and exporter apply).
"""
import random
import threading
import time
from urllib.parse import urlsplit

OPERATIONS = {"chat": "chat", "messages": "chat", "responses": "chat",
              "responses_compact": "chat", "embeddings": "embeddings",
              "count_tokens": "count_tokens"}
# gen_ai.provider.name of each vendor (the conventions' names where they have one).
PROVIDER_NAMES = {"openai": "openai", "openai_responses": "openai", "anthropic": "anthropic"}
DEFAULT_SERVICE_NAME = "llm-gateway"


def register(app, gateway):
    """Add the tracing observer to the gateway when OTEL_EXPORTER_OTLP_ENDPOINT is set; it is
    app.extensions["tracing"] (force_flush, shutdown)."""
    endpoint = (app.config.get("OTEL_EXPORTER_OTLP_ENDPOINT") or "").strip()
    if not endpoint:
        return None
    tracing = Tracing(endpoint, app.config.get("OTEL_SERVICE_NAME") or DEFAULT_SERVICE_NAME)
    gateway.observers.add(tracing)
    app.extensions["tracing"] = tracing
    return tracing


def _new_id(bits):
    while True:
        value = random.getrandbits(bits)
        if value:
            return value


class RequestTrace:
    """One request's trace, noted along the pipeline (record.trace): its ids, and each
    attempt's span id, start and end (wall-clock ns), vendor and host."""
    __slots__ = ("trace_id", "span_id", "parent", "flags", "started", "attempts")

    def __init__(self, trace_id, parent, sampled, started):
        self.trace_id = trace_id
        self.span_id = _new_id(64)  # the request span's
        self.parent = parent  # the client's SpanContext, or None
        self.flags = "01" if sampled else "00"
        self.started = started
        self.attempts = []  # [span id, start ns, end ns, vendor, server address]

    @property
    def sampled(self):
        return self.flags == "01"

    def attempt_started(self, route):
        """The attempt's span id is made now; returns its traceparent for the upstream."""
        span_id = _new_id(64)
        provider = route.provider
        host = urlsplit(provider.base_url).hostname if provider.base_url else None
        self.attempts.append([span_id, time.time_ns(), None, provider.vendor, host])
        return f"00-{self.trace_id:032x}-{span_id:016x}-{self.flags}"

    def attempt_ended(self):
        if self.attempts and self.attempts[-1][2] is None:
            self.attempts[-1][2] = time.time_ns()


class _PresetIds:
    """The SDK's IdGenerator, giving the ids chosen before the span was made (thread-local:
    greenlet-local under gevent); random ones otherwise."""

    def __init__(self):
        self._local = threading.local()

    def preset(self, trace_id, span_id):
        self._local.ids = (trace_id, span_id)

    def generate_trace_id(self):
        ids = getattr(self._local, "ids", None)
        return ids[0] if ids else _new_id(128)

    def generate_span_id(self):
        ids = getattr(self._local, "ids", None)
        self._local.ids = None
        return ids[1] if ids else _new_id(64)

    def is_trace_id_random(self):
        return True


class Tracing:
    """The pipeline observer (app/observability/__init__.py) that makes the spans."""

    def __init__(self, endpoint, service_name, exporter=None):
        from opentelemetry import context, trace
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor
        from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

        self._trace, self._context = trace, context
        self._propagator = TraceContextTextMapPropagator()
        self._ids = _PresetIds()
        self.provider = TracerProvider(resource=Resource.create({"service.name": service_name}),
                                       id_generator=self._ids, shutdown_on_exit=True)
        self.exporter = exporter or OTLPSpanExporter(
            endpoint=endpoint.rstrip("/") + "/v1/traces")
        self.provider.add_span_processor(BatchSpanProcessor(self.exporter))
        self.tracer = self.provider.get_tracer("llm-gateway")

    def force_flush(self, timeout_millis=30000):
        return self.provider.force_flush(timeout_millis)

    def shutdown(self):
        self.provider.shutdown()

    # --- observer events ---------------------------------------------------------------------

    def request_started(self, record):
        """Decide the trace id and whether it is sampled now: the attempts send them upstream."""
        parent, context = None, None
        if record.traceparent:
            context = self._propagator.extract({"traceparent": record.traceparent})
            parent = self._trace.get_current_span(context).get_span_context()
            if not parent.is_valid:
                parent, context = None, None
        trace_id = parent.trace_id if parent is not None else _new_id(128)
        sampled = self.provider.sampler.should_sample(
            context or self._context.Context(), trace_id, "request").decision.is_sampled()
        started = time.time_ns() - int((time.perf_counter() - record.started) * 1e9)
        record.trace = RequestTrace(trace_id, parent, sampled, started)

    def request_finished(self, row, record):
        trace = record.trace
        if trace is None or not trace.sampled:
            return
        ended = time.time_ns()
        operation = OPERATIONS.get(row["endpoint"], row["endpoint"])
        vendor = trace.attempts[-1][3] if trace.attempts else None
        attributes = {
            "gen_ai.operation.name": operation,
            "gen_ai.request.model": row["model"],
            "gen_ai.response.model": row["upstream_model"],
            "gen_ai.provider.name": PROVIDER_NAMES.get(vendor, vendor),
            "gen_ai.system": PROVIDER_NAMES.get(vendor, vendor),
            "http.response.status_code": row["status_code"],
            "gateway.request_id": row["request_id"],
            "gateway.client_request_id": row["client_request_id"],
            "gateway.surface": row["surface"], "gateway.endpoint": row["endpoint"],
            "gateway.stream": row["stream"], "gateway.deployment": record.deployment,
            "gateway.api_key_id": row["api_key_id"], "gateway.user_id": row["user_id"],
            "gateway.project_id": row["project_id"],
            "gateway.key_prefix": record.key_prefix,
            "gateway.attempts": len(trace.attempts),
            "gateway.cost_usd": float(row["cost_usd"] or 0),
            "gateway.time_to_first_token_ms": row["time_to_first_token_ms"],
            **_usage(row),
        }
        error = row["error_type"] if row["status_code"] >= 400 else None
        if error:
            attributes["error.type"] = error
        parent = None
        if trace.parent is not None:
            parent = self._trace.set_span_in_context(self._trace.NonRecordingSpan(trace.parent))
        span = self._span(trace, trace.span_id, _name(operation, row["model"]), parent,
                          self._trace.SpanKind.SERVER, attributes, trace.started)
        if row["status_code"] >= 500:
            span.set_status(self._trace.Status(self._trace.StatusCode.ERROR, error))
        in_request = self._trace.set_span_in_context(span)
        last = len(trace.attempts) - 1
        attempts = zip(trace.attempts, record.attempts, strict=False)
        for index, (noted, attempt) in enumerate(attempts):
            self._attempt_span(trace, in_request, operation, noted, attempt, index,
                               row if index == last and attempt["status"] == 200 else None,
                               ended)
        span.end(end_time=ended)

    def _span(self, trace, span_id, name, parent, kind, attributes, start):
        self._ids.preset(trace.trace_id, span_id)
        return self.tracer.start_span(
            name, context=parent or self._context.Context(), kind=kind, start_time=start,
            attributes={k: v for k, v in attributes.items() if v is not None})

    def _attempt_span(self, trace, parent, operation, noted, attempt, index, served, ended):
        """served: the request's row when this attempt gave the answer (its usage, its end
        being the request's when streamed)."""
        span_id, start, end, vendor, host = noted
        attributes = {
            "gen_ai.operation.name": operation,
            "gen_ai.request.model": attempt["model"],
            "gen_ai.provider.name": PROVIDER_NAMES.get(vendor, vendor),
            "gen_ai.system": PROVIDER_NAMES.get(vendor, vendor),
            "server.address": host,
            "http.response.status_code": attempt["status"],
            "error.type": attempt["error"],
            "gateway.provider": attempt["provider"],
            "gateway.provider_key_index": attempt["key"],
            "gateway.attempt": index + 1,
        }
        if served is not None:
            attributes.update(_usage(served), **{"gen_ai.response.model": attempt["model"]})
            if served["stream"]:
                end = ended
        span = self._span(trace, span_id, _name(operation, attempt["model"]), parent,
                          self._trace.SpanKind.CLIENT, attributes, start)
        if attempt["error"] or (attempt["status"] or 0) >= 400:
            span.set_status(self._trace.Status(self._trace.StatusCode.ERROR,
                                               attempt["error"]))
        span.end(end_time=end or ended)


def _name(operation, model):
    return f"{operation} {model}" if model else operation


def _usage(row):
    usage = {"gen_ai.usage.input_tokens": row["input_tokens"],
             "gen_ai.usage.output_tokens": row["output_tokens"]}
    if row.get("cached_tokens"):
        usage["gen_ai.usage.cache_read.input_tokens"] = row["cached_tokens"]
    if row.get("cache_write_tokens"):
        usage["gen_ai.usage.cache_creation.input_tokens"] = row["cache_write_tokens"]
    return usage
