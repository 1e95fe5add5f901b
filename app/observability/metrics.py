"""Prometheus metrics at GET /metrics (README "Metrics").

Counters and histograms are kept by prometheus-client. Under gunicorn each worker writes its
values to files in PROMETHEUS_MULTIPROC_DIR (set by gunicorn.conf.py before any worker imports
this), and a scrape served by any worker sums every worker's (multiprocess mode); in a single
process (flask run, the tests) the default registry is read.

The hot path stays cheap: a request's increments are summed in memory (tally.py) and written
to prometheus-client every SAMPLE_SECONDS, before a scrape and when a worker exits; labels only
from bounded sets (surfaces, the configured model and provider names, status codes, the
gateway's own error codes), never a raw client string. What lives elsewhere is read, not pushed:
- per worker (log-writer queue and spool, dead letters, Redis and database errors): copied into
  metrics every SAMPLE_SECONDS by a thread gunicorn.conf.py starts in each worker, and by the
  worker serving the scrape at that moment;
- shared (circuits and provider-key cooldowns, in Redis): read at scrape time
  (health_gauges.py).
"""
import hmac
import logging
import os
import threading
import time
import weakref

if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):  # before prometheus_client reads it
    os.makedirs(os.environ["PROMETHEUS_MULTIPROC_DIR"], exist_ok=True)

from flask import Blueprint, Response, current_app, request  # noqa: E402
from prometheus_client import (  # noqa: E402
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client import values as prometheus_values  # noqa: E402

from .health_gauges import HealthCollector  # noqa: E402
from .tally import Tally  # noqa: E402

log = logging.getLogger(__name__)


class _ProcessId:
    """This process's id, read once per process: in multiprocess mode prometheus-client asks
    for it on every increment (to notice a fork), a system call each time."""
    value = os.getpid()

    @classmethod
    def refresh(cls):
        cls.value = os.getpid()


os.register_at_fork(after_in_child=_ProcessId.refresh)
if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):  # before the first value is made
    prometheus_values.ValueClass = prometheus_values.MultiProcessValue(lambda: _ProcessId.value)

SAMPLE_SECONDS = 2.0
UNKNOWN = "unknown"  # a model name not in the configuration (or none given)
NONE = "none"  # no provider: the request never reached an upstream
MAX_OUTCOMES = 64  # distinct attempt outcomes (error codes) before the rest are "other"
LIMIT_KINDS = {"rpm_limit_exceeded": "rpm", "tpm_limit_exceeded": "tpm",
               "parallel_limit_exceeded": "parallel", "budget_exceeded": "budget",
               "limits_unavailable": "limits_unavailable",
               "budget_unavailable": "budget_unavailable"}
SECONDS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0)
FIRST_TOKEN_SECONDS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 3.0, 5.0, 10.0, 20.0, 30.0, 60.0)

REQUESTS = Counter("gateway_requests", "Inference requests finished",
                   ["surface", "model", "provider", "status"])
LATENCY = Histogram("gateway_request_duration_seconds", "Request latency, received to finished",
                    ["surface", "model", "provider"], buckets=SECONDS)
FIRST_TOKEN = Histogram("gateway_time_to_first_token_seconds",
                        "Time to the first output token of streamed answers",
                        ["surface", "model", "provider"], buckets=FIRST_TOKEN_SECONDS)
TOKENS = Counter("gateway_tokens", "Tokens accounted", ["model", "provider", "type"])
COST = Counter("gateway_cost_usd", "Cost accounted, in USD", ["model", "provider"])
ATTEMPTS = Counter("gateway_upstream_attempts", "Upstream attempts by outcome",
                   ["provider", "upstream_model", "outcome"])
RETRIES = Counter("gateway_upstream_retries", "Upstream attempts after a request's first",
                  ["model"])
FALLBACKS = Counter("gateway_upstream_fallbacks",
                    "Upstream attempts on a deployment of a fallback model", ["model"])
IN_FLIGHT = Gauge("gateway_requests_in_flight", "Requests being served", ["surface"],
                  multiprocess_mode="livesum")
STREAMS = Gauge("gateway_streams_in_flight", "Answers streaming to clients", ["surface"],
                multiprocess_mode="livesum")
REJECTIONS = Counter("gateway_limit_rejections", "Requests refused by limits and budgets",
                     ["kind"])
LOG_QUEUE = Gauge("gateway_log_queue_depth", "Request-log rows queued for the database",
                  multiprocess_mode="livesum")
LOG_BACKLOG = Gauge("gateway_log_spool_backlog_rows",
                    "Request-log rows in the spool, not yet in the database",
                    multiprocess_mode="livesum")
LOG_SPOOLED = Counter("gateway_log_spooled_rows", "Request-log rows appended to the spool")
LOG_DEAD = Counter("gateway_log_dead_letter_rows",
                   "Request-log rows the database refused (the dead-letter file)")
LOG_DROPPED = Counter("gateway_log_dropped_rows", "Request-log rows neither written nor spooled")
DEPENDENCY_ERRORS = Counter("gateway_dependency_errors", "Failed calls to Redis or the database",
                            ["dependency"])
DEPENDENCY_DOWN = Gauge("gateway_dependency_down",
                        "1 while a worker's breaker holds Redis or the database for down",
                        ["dependency"], multiprocess_mode="livemax")


_children = {}


def _child(metric, *values):
    """metric.labels(*values), remembered: the label sets are bounded, and labels() costs more
    than the increment itself."""
    child = _children.get((metric, values))
    if child is None:
        child = _children[(metric, values)] = metric.labels(*values)
    return child


class MetricsObserver:
    """The pipeline's observer (app/observability/__init__.py): counts each request, in the
    tally (written to the metrics by Sampler.sample)."""

    def __init__(self, catalog, tally):
        self.catalog = catalog
        self.tally = tally
        self._streaming = weakref.WeakSet()  # records whose answer is streaming
        self._outcomes = set()

    def request_started(self, record):
        self.tally.add(((_child(IN_FLIGHT, record.row["surface"]), 1),))

    def stream_started(self, record):
        self._streaming.add(record)
        self.tally.add(((_child(STREAMS, record.row["surface"]), 1),))

    def request_finished(self, row, record):
        surface = row["surface"]
        added = [(_child(IN_FLIGHT, surface), -1)]
        if record in self._streaming:
            self._streaming.discard(record)
            added.append((_child(STREAMS, surface), -1))
        requested = row.get("model")
        entry = self.catalog.models.get(requested) if isinstance(requested, str) else None
        model = entry.name if entry is not None else UNKNOWN
        provider = row.get("provider") or NONE
        added.append((_child(REQUESTS, surface, model, provider, str(row["status_code"])), 1))
        observed = [(_child(LATENCY, surface, model, provider), SECONDS,
                     row["latency_ms"] / 1000)]
        if row.get("time_to_first_token_ms") is not None:
            observed.append((_child(FIRST_TOKEN, surface, model, provider), FIRST_TOKEN_SECONDS,
                             row["time_to_first_token_ms"] / 1000))
        for kind in ("input", "output", "cached"):
            count = row.get(f"{kind}_tokens") or 0
            if count:
                added.append((_child(TOKENS, model, provider, kind), count))
        if row.get("cost_usd"):
            added.append((_child(COST, model, provider), float(row["cost_usd"])))
        kind = LIMIT_KINDS.get(row.get("error_type"))
        if kind is not None:
            added.append((_child(REJECTIONS, kind), 1))
        self._attempts(added, row.get("attempts") or (), entry, model)
        self.tally.add(added, observed)

    def _attempts(self, added, attempts, entry, model):
        if not attempts:
            return
        own = {d.id for d in entry.deployments} if entry is not None else set()
        fallbacks = 0
        for attempt in attempts:
            added.append((_child(ATTEMPTS, attempt["provider"], attempt["model"],
                                 self._outcome(attempt)), 1))
            if f"{attempt['provider']}/{attempt['model']}" not in own:
                fallbacks += 1
        if len(attempts) > 1:
            added.append((_child(RETRIES, model), len(attempts) - 1))
        if fallbacks and entry is not None:
            added.append((_child(FALLBACKS, model), fallbacks))

    def _outcome(self, attempt):
        error = attempt.get("error")
        if error is None:
            return "success"
        error = str(error)
        if error not in self._outcomes:
            if len(self._outcomes) >= MAX_OUTCOMES:
                return "other"
            self._outcomes.add(error)
        return error


class Sampler:
    """Writes the tally of this worker's requests to the metrics, and copies its other figures
    (log writer, breakers): gauges as they are, running totals as the increase since the last
    sample."""

    def __init__(self, gateway, tally):
        self._gateway = weakref.ref(gateway)
        self._tally = tally
        self._seen = {}
        self._lock = threading.Lock()
        self._thread = None

    def sample(self):
        gateway = self._gateway()
        if gateway is None:
            return False
        writer = gateway.log_writer
        self._tally.flush()
        with self._lock:
            LOG_QUEUE.set(writer._queue.qsize())
            LOG_BACKLOG.set(writer.pending_spool)
            self._add(LOG_SPOOLED, "spooled", writer.spooled)
            self._add(LOG_DEAD, "dead", writer.dead_letters.count)
            self._add(LOG_DROPPED, "dropped", writer.dropped)
            database = [gateway.authenticator.breaker, getattr(writer, "_outage", None)]
            redis = [gateway.health.breaker]
            for name, sources in (("database", database), ("redis", redis)):
                sources = [s for s in sources if s is not None]
                errors = sum(getattr(s, "errors", 0) for s in sources)
                self._add(DEPENDENCY_ERRORS.labels(name), name, errors)
                DEPENDENCY_DOWN.labels(name).set(int(any(s.down for s in sources)))
        return True

    def _add(self, counter, name, total):
        increase = total - self._seen.get(name, 0)
        if increase > 0:
            counter.inc(increase)
        self._seen[name] = total

    def start(self, seconds=SAMPLE_SECONDS):
        """Sample every `seconds` in a thread (a greenlet under gevent) of this worker."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, args=(seconds,), daemon=True,
                                            name="metrics-sampler")
            self._thread.start()

    def _run(self, seconds):
        while True:
            time.sleep(seconds)
            try:
                if not self.sample():
                    return
            except Exception:
                log.exception("metrics: sampling failed")


bp = Blueprint("metrics", __name__)


@bp.get("/metrics")
def scrape():
    token = current_app.config.get("METRICS_BEARER_TOKEN") or ""
    if token:
        given = request.headers.get("Authorization", "")
        if not hmac.compare_digest(given.encode(), f"Bearer {token}".encode()):
            return Response("unauthorized\n", status=401, mimetype="text/plain",
                            headers={"WWW-Authenticate": 'Bearer realm="metrics"'})
    parts = current_app.extensions["metrics"]
    try:
        parts["sampler"].sample()
    except Exception:
        log.exception("metrics: sampling failed")
    body = generate_latest(_registry()) + generate_latest(parts["health"])
    return Response(body, mimetype=CONTENT_TYPE_LATEST)


def _registry():
    """Every worker's values in multiprocess mode, else this process's."""
    path = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if not path:
        return REGISTRY
    from prometheus_client import multiprocess

    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry, path=path)
    return registry


def register(app, gateway):
    """METRICS_ENABLED: observe the pipeline and serve /metrics."""
    if not app.config.get("METRICS_ENABLED", True):
        return
    tally = Tally()
    gateway.observers.add(MetricsObserver(gateway.router.catalog, tally))
    health = CollectorRegistry(auto_describe=False)
    health.register(HealthCollector(gateway))
    app.extensions["metrics"] = {"sampler": Sampler(gateway, tally), "health": health}
    app.register_blueprint(bp)
