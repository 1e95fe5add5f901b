"""OpenTelemetry traces (app/observability/tracing.py) against a real OTLP/HTTP receiver on
loopback: one trace per request, a request span with the GenAI attributes, a span per upstream
attempt, the client's trace id kept and each attempt's traceparent sent upstream; nothing at all
without OTEL_EXPORTER_OTLP_ENDPOINT."""
import http.server
import re
import signal
import threading
import time

import pytest
import requests
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from tests.conftest import create_key
from tests.gunicorn_runner import GunicornRunner
from tests.mock_upstream import Reply, Stream, openai_chunks
from tests.resilience_helpers import HI, chat, config, gateway, model

CLIENT_TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
CLIENT_SPAN = "00f067aa0ba902b7"
TRACEPARENT = re.compile(r"^00-([0-9a-f]{32})-([0-9a-f]{16})-(0[01])$")


class Receiver:
    """An OTLP/HTTP collector on loopback: POST /v1/traces, protobuf bodies decoded."""

    def __init__(self):
        self.spans = []  # (resource attributes, span)
        self.paths = []
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                receiver.paths.append((self.path, self.headers.get("Content-Type")))
                request = ExportTraceServiceRequest()
                request.ParseFromString(body)
                for resource_spans in request.resource_spans:
                    resource = _attributes(resource_spans.resource.attributes)
                    for scope_spans in resource_spans.scope_spans:
                        receiver.spans.extend((resource, s) for s in scope_spans.spans)
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def endpoint(self):
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()


def _value(value):
    kind = value.WhichOneof("value")
    return getattr(value, kind) if kind else None


def _attributes(pairs):
    return {pair.key: _value(pair.value) for pair in pairs}


@pytest.fixture
def receiver():
    with Receiver() as receiver:
        yield receiver


@pytest.fixture
def traced(app_factory, upstream):
    """traced(endpoint) -> (app, key, tracing): a gateway exporting to endpoint; its tracer
    provider is shut down after the test."""
    built = []

    def build(endpoint):
        app, key = gateway(app_factory, config(upstream, [model()]),
                           OTEL_EXPORTER_OTLP_ENDPOINT=endpoint,
                           OTEL_SERVICE_NAME="gateway-under-test")
        built.append(app.extensions["tracing"])
        return app, key, built[-1]

    yield build
    for tracing in built:
        tracing.exporter.shutdown()  # what is left is dropped, not sent
        tracing.shutdown()


def traced_gateway(traced, receiver):
    return traced(receiver.endpoint)


def flushed(tracing, receiver):
    assert tracing.force_flush(10_000)
    by_id = {s.span_id.hex(): (resource, s) for resource, s in receiver.spans}
    return by_id


def test_a_failed_then_served_request_is_one_trace_with_a_span_per_attempt(traced, upstream,
                                                                           receiver):
    app, key, tracing = traced_gateway(traced, receiver)
    upstream.script(Reply(status=503))
    response = app.test_client().post(
        "/v1/chat/completions", json={"model": "multi", "messages": HI},
        headers={"Authorization": f"Bearer {key}",
                 "traceparent": f"00-{CLIENT_TRACE}-{CLIENT_SPAN}-01"})
    assert response.status_code == 200, response.get_data(as_text=True)
    spans = flushed(tracing, receiver)
    assert receiver.paths and all(p == ("/v1/traces", "application/x-protobuf")
                                  for p in receiver.paths)
    assert len(spans) == 3
    assert {s.trace_id.hex() for _, s in spans.values()} == {CLIENT_TRACE}

    resource, request = next(v for v in spans.values() if v[1].parent_span_id.hex() == CLIENT_SPAN)
    assert resource["service.name"] == "gateway-under-test"
    assert request.name == "chat multi"
    assert request.kind == request.SPAN_KIND_SERVER
    attrs = _attributes(request.attributes)
    assert attrs["gen_ai.operation.name"] == "chat"
    assert attrs["gen_ai.request.model"] == "multi"
    assert attrs["gen_ai.response.model"] == "up-b"
    assert attrs["gen_ai.provider.name"] == attrs["gen_ai.system"] == "openai"
    assert attrs["gen_ai.usage.input_tokens"] > 0 and attrs["gen_ai.usage.output_tokens"] > 0
    assert attrs["http.response.status_code"] == 200
    assert "error.type" not in attrs
    assert attrs["gateway.request_id"] == response.headers["x-request-id"]
    assert attrs["gateway.deployment"] == "dep-b/up-b"
    assert attrs["gateway.attempts"] == 2
    assert attrs["gateway.key_prefix"] and attrs["gateway.key_prefix"] != key
    assert key not in str(request)  # no secret in the span

    attempts = sorted((s for _, s in spans.values() if s is not request),
                      key=lambda s: s.start_time_unix_nano)
    assert [s.parent_span_id for s in attempts] == [request.span_id] * 2
    assert [s.name for s in attempts] == ["chat up-a", "chat up-b"]
    assert all(s.kind == s.SPAN_KIND_CLIENT for s in attempts)
    first, second = (_attributes(s.attributes) for s in attempts)
    assert (first["http.response.status_code"], first["gateway.provider"]) == (503, "dep-a")
    assert first["error.type"] and attempts[0].status.code == attempts[0].status.STATUS_CODE_ERROR
    assert (second["http.response.status_code"], second["gateway.provider"]) == (200, "dep-b")
    assert second["gen_ai.request.model"] == "up-b" and second["server.address"] == "127.0.0.1"
    assert second["gen_ai.usage.output_tokens"] == attrs["gen_ai.usage.output_tokens"]
    assert "error.type" not in second
    for span in attempts:
        assert request.start_time_unix_nano <= span.start_time_unix_nano
        assert span.start_time_unix_nano <= span.end_time_unix_nano
        assert span.end_time_unix_nano <= request.end_time_unix_nano
    assert attempts[0].end_time_unix_nano <= attempts[1].start_time_unix_nano

    # Each attempt told its upstream its own span as the parent, in the client's trace.
    sent = [TRACEPARENT.match(r.headers.get("traceparent", "")) for r in upstream.requests]
    assert all(sent), [r.headers for r in upstream.requests]
    assert [m.group(1) for m in sent] == [CLIENT_TRACE] * 2
    assert [m.group(2) for m in sent] == [s.span_id.hex() for s in attempts]
    assert [m.group(3) for m in sent] == ["01", "01"]


def test_without_a_client_traceparent_a_new_trace_reaches_upstream(traced, upstream,
                                                                   receiver):
    app, key, tracing = traced_gateway(traced, receiver)
    upstream.script(Stream(openai_chunks("streamed answer", model="up-a")))
    response = chat(app, key, stream=True)
    assert response.status_code == 200
    response.get_data()
    spans = flushed(tracing, receiver)
    assert len(spans) == 2
    request = next(s for _, s in spans.values() if not s.parent_span_id)
    attempt = next(s for _, s in spans.values() if s.parent_span_id)
    assert attempt.parent_span_id == request.span_id and attempt.trace_id == request.trace_id
    assert _attributes(request.attributes)["gateway.stream"] is True
    # The streamed attempt's span lasts as long as the stream.
    assert attempt.end_time_unix_nano == request.end_time_unix_nano
    match = TRACEPARENT.match(upstream.requests[0].headers["traceparent"])
    assert match.groups() == (request.trace_id.hex(), attempt.span_id.hex(), "01")


def test_a_failed_request_has_its_error_type(traced, upstream, receiver):
    app, key, tracing = traced_gateway(traced, receiver)
    upstream.script(Reply(status=400, json={"error": {"message": "bad"}}))
    response = chat(app, key)
    assert response.status_code == 400
    spans = flushed(tracing, receiver)
    request = next(s for _, s in spans.values() if not s.parent_span_id)
    attrs = _attributes(request.attributes)
    assert attrs["http.response.status_code"] == 400 and attrs["error.type"]
    assert attrs["gateway.attempts"] == 1


def test_an_unsampled_client_trace_exports_nothing_but_is_passed_on(traced, upstream,
                                                                     receiver):
    app, key, tracing = traced_gateway(traced, receiver)
    response = app.test_client().post(
        "/v1/chat/completions", json={"model": "multi", "messages": HI},
        headers={"Authorization": f"Bearer {key}",
                 "traceparent": f"00-{CLIENT_TRACE}-{CLIENT_SPAN}-00"})
    assert response.status_code == 200
    assert flushed(tracing, receiver) == {}
    match = TRACEPARENT.match(upstream.requests[0].headers["traceparent"])
    assert (match.group(1), match.group(3)) == (CLIENT_TRACE, "00")


@pytest.mark.parametrize("bad", ["garbage", f"00-{'0' * 32}-{CLIENT_SPAN}-01",
                                 f"ff-{CLIENT_TRACE}-{CLIENT_SPAN}-01"])
def test_an_invalid_client_traceparent_starts_a_new_trace(traced, upstream, receiver, bad):
    app, key, tracing = traced_gateway(traced, receiver)
    response = app.test_client().post(
        "/v1/chat/completions", json={"model": "multi", "messages": HI},
        headers={"Authorization": f"Bearer {key}", "traceparent": bad})
    assert response.status_code == 200
    spans = flushed(tracing, receiver)
    request = next(s for _, s in spans.values() if not s.parent_span_id)
    assert request.trace_id.hex() not in (CLIENT_TRACE, "0" * 32)


def test_without_an_endpoint_nothing_is_traced_nor_sent_upstream(app_factory, upstream,
                                                                 receiver):
    app, key = gateway(app_factory, config(upstream, [model()]))
    assert "tracing" not in app.extensions
    upstream.script(Reply(status=503))
    response = app.test_client().post(
        "/v1/chat/completions", json={"model": "multi", "messages": HI},
        headers={"Authorization": f"Bearer {key}",
                 "traceparent": f"00-{CLIENT_TRACE}-{CLIENT_SPAN}-01"})
    assert response.status_code == 200
    assert len(upstream.requests) == 2
    assert all("traceparent" not in r.headers for r in upstream.requests)
    assert receiver.spans == [] and receiver.paths == []


def test_a_collector_that_is_down_costs_requests_nothing(traced, upstream):
    with Receiver() as gone:
        endpoint = gone.endpoint  # a loopback port where nothing listens any more
    app, key, tracing = traced(endpoint)
    for _ in range(3):
        started = time.monotonic()
        assert chat(app, key).status_code == 200
        assert time.monotonic() - started < 1.0
    assert len(upstream.requests) == 3
    assert all(TRACEPARENT.match(r.headers["traceparent"]) for r in upstream.requests)


def test_a_gunicorn_worker_flushes_its_spans_as_it_exits(app, upstream, receiver, tmp_path):
    """The batch would wait a minute; SIGTERM makes the worker export it before it exits."""
    runner = GunicornRunner(upstream, tmp_path, chunk_delay_ms=0)
    try:
        url, process = runner.start(OTEL_EXPORTER_OTLP_ENDPOINT=receiver.endpoint,
                                    OTEL_BSP_SCHEDULE_DELAY="60000",
                                    LOG_SPOOL_DIR=str(tmp_path / "spool"))
        response = requests.post(f"{url}/v1/chat/completions", timeout=10,
                                 json={"model": "mock-echo", "messages": HI},
                                 headers={"Authorization": f"Bearer {create_key(app)}",
                                          "traceparent": f"00-{CLIENT_TRACE}-{CLIENT_SPAN}-01"})
        assert response.status_code == 200
        assert receiver.spans == []
        process.send_signal(signal.SIGTERM)
        output, _ = process.communicate(timeout=60)
        assert process.returncode == 0, output.decode()
    finally:
        runner.stop()
    names = {(s.name, s.trace_id.hex()) for _, s in receiver.spans}
    assert names == {("chat mock-echo", CLIENT_TRACE), ("chat echo", CLIENT_TRACE)}
