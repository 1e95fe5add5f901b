"""Observability: what operators see of the gateway — Prometheus metrics, structured (JSON) logs
and OpenTelemetry traces. Each is an observer of the request pipeline (app/gateway/pipeline.py):
the pipeline calls `observers.notify(event, ...)` at fixed points and knows nothing else of them.

Events (each observer implements the ones it needs, as methods of the same name):
- request_started(record): the request was received (gateway/record.py's RequestRecord);
- stream_started(record): its answer began streaming to the client;
- request_finished(row, record): it is over; row is its request-log row (record.finish()).

An observer that raises is logged and never fails or delays the request.
"""
import logging

log = logging.getLogger(__name__)

EVENTS = ("request_started", "stream_started", "request_finished")


class RequestObservers:
    def __init__(self, *observers):
        self._handlers = {event: [] for event in EVENTS}
        for observer in observers:
            self.add(observer)

    def add(self, observer):
        for event in EVENTS:
            handler = getattr(observer, event, None)
            if handler is not None:
                self._handlers[event].append(handler)

    def notify(self, event, *args):
        for handler in self._handlers[event]:
            try:
                handler(*args)
            except Exception:
                log.exception("observer %r failed on %s", handler, event)
