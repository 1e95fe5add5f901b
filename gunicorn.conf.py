"""gunicorn -c gunicorn.conf.py wsgi:app

gevent workers: an LLM request is mostly waiting on the vendor, so one worker holds thousands of
open (streaming) requests as greenlets; the SDKs' sockets and Redis become cooperative through
gevent's monkey-patching and psycopg2 through psycogreen (post_fork below, app/green.py).
"""
import ctypes
import gc
import importlib.util
import multiprocessing
import os
import shutil
import signal
import sys
import tempfile
import time

M_MMAP_THRESHOLD = -3  # glibc's mallopt() parameter


def _load_by_path(name, *parts):
    """A module of app/ loaded by its path: the master must import nothing of the app, which a
    worker imports after gevent's patching."""
    spec = importlib.util.spec_from_file_location(name, os.path.join(
        os.path.dirname(os.path.abspath(__file__)), "app", *parts))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# .env (and .flaskenv) through the app's own loader, before any setting is read: real
# environment variables win over it.
_settings_env = _load_by_path("gateway_settings_env", "settings_env.py")
_settings_env.load_env()
_PROBLEMS = []


def _number(name, default, kind=int):
    try:
        return _settings_env.number(name, default, kind, minimum=0)
    except _settings_env.SettingError as exc:
        _PROBLEMS.append(str(exc))
        return default


bind = os.environ.get("GATEWAY_BIND", "127.0.0.1:5000")
# server/worker.py: gunicorn's gevent_pywsgi worker (gevent's own WSGI server, whose HTTP handling
# costs less per request than gunicorn's parser: +15-25 % requests/s in the benchmark) with a
# bound on every wait for a client's bytes, and a 503 when all its connections are taken.
GATEWAY_WORKER = "server.worker.GatewayWorker"
worker_class = os.environ.get("GUNICORN_WORKER_CLASS", GATEWAY_WORKER)
GEVENT = worker_class.startswith("gevent") or worker_class == GATEWAY_WORKER
# WEB_CONCURRENCY, else one worker per core with REDIS_URL, and ONE without it: limits and budgets
# are then counted in each worker's memory, and several workers would each allow the full limit.
try:
    workers = _settings_env.default_workers(multiprocessing.cpu_count())
except _settings_env.SettingError as exc:
    _PROBLEMS.append(str(exc))
    workers = 1
worker_connections = _number("GUNICORN_WORKER_CONNECTIONS", 2000)
# Streams can last minutes; the timeout only catches a worker whose loop is stuck.
timeout = _number("GUNICORN_TIMEOUT", 120)
graceful_timeout = _number("GUNICORN_GRACEFUL_TIMEOUT", 60)
# Longest idle time of a kept-alive connection; above nginx's default upstream keepalive_timeout
# of 60 s.
keepalive = _number("GUNICORN_KEEPALIVE", 75)
# Slow clients (server/handler.py), in seconds: the request line and headers must arrive within
# HEADER_TIMEOUT; waiting for the body may take BODY_TIMEOUT plus one second per BODY_MIN_RATE
# bytes received; each write of the answer must be taken within SEND_TIMEOUT.
CLIENT_BOUNDS = {
    "header_timeout": _number("GUNICORN_HEADER_TIMEOUT", 20, float),
    "body_timeout": _number("GUNICORN_BODY_TIMEOUT", 20, float),
    "body_min_rate": _number("GUNICORN_BODY_MIN_RATE", 16384, float),
    "send_timeout": _number("GUNICORN_SEND_TIMEOUT", 120, float),
}
if _PROBLEMS:  # one line per bad setting, not gunicorn's traceback of the config file
    sys.exit("\n".join(f"gunicorn.conf.py: {problem}" for problem in _PROBLEMS))
accesslog = os.environ.get("GUNICORN_ACCESS_LOG") or None
errorlog = "-"
# Workers only serve: without the `flask db` commands, Flask-Migrate and Alembic stay unloaded.
raw_env = ["GATEWAY_DB_COMMANDS=0"]
loglevel = os.environ.get("LOG_LEVEL", "info").lower()
# Prometheus metrics (app/observability/metrics.py): each worker keeps its values in files of this
# directory and a scrape served by any worker sums them all (prometheus-client's multiprocess
# mode). Set here, in the master, so every worker has it before it imports prometheus-client;
# emptied when the master starts, and removed when it exits unless PROMETHEUS_MULTIPROC_DIR was
# given.
METRICS_DIR_OWNED = os.path.join(tempfile.gettempdir(), f"gateway-metrics-{os.getpid()}")
os.environ.setdefault("PROMETHEUS_MULTIPROC_DIR", METRICS_DIR_OWNED)

# LOG_FORMAT=json: gunicorn's own lines, and its access log when GUNICORN_ACCESS_LOG is set, are
# JSON objects like the app's: its logger with app/observability/logs.py's formatter on each of
# its handlers (loaded by its path: the master must import nothing of the app, which a worker
# imports after gevent's patching). Not logconfig_dict: that turns gunicorn's access log on.
if os.environ.get("LOG_FORMAT", "").strip().lower() == "json":
    from gunicorn.glogging import Logger

    _log_format = _load_by_path("gateway_log_format", "observability", "logs.py")

    class JsonLogger(Logger):
        def setup(self, cfg):
            super().setup(cfg)
            formatter = _log_format.JsonFormatter()
            for handler in self.error_log.handlers + self.access_log.handlers:
                handler.setFormatter(formatter)

        def access(self, resp, req, environ, request_time):
            if environ is not None:  # gevent's worker has none for a request it could not parse
                super().access(resp, req, environ, request_time)

    logger_class = JsonLogger


def _large_blocks_back_to_the_os():
    """glibc's malloc takes a block under its mmap threshold from the heap, and raises that
    threshold (up to 32 MiB) each time it frees a larger mmapped block: after the first large
    request body, every body and its copies come from the heap, whose freed pages the worker
    keeps (after 20 concurrent bodies of 30 MB, ~115 MB). A fixed threshold makes each block of
    1 MiB or more an mmap of its own, returned to the OS when freed (then: ~1 MB)."""
    try:
        ctypes.CDLL("libc.so.6").mallopt(M_MMAP_THRESHOLD, 1024 * 1024)
    except (OSError, AttributeError):  # not glibc
        pass


def on_starting(server):
    """A fresh metrics directory: files left by an earlier run would be counted again. Default
    directories of masters that were killed before on_exit are removed. Several workers without
    Redis: a loud warning, since each of them counts every limit alone."""
    warning = _settings_env.per_worker_limits_warning(server.cfg.workers)
    if warning:
        server.log.warning("WARNING: %s", warning)
    path = os.environ["PROMETHEUS_MULTIPROC_DIR"]
    os.makedirs(path, exist_ok=True)
    for name in os.listdir(path):
        if name.endswith(".db"):
            os.remove(os.path.join(path, name))
    prefix = os.path.basename(METRICS_DIR_OWNED).rsplit("-", 1)[0] + "-"
    for name in os.listdir(tempfile.gettempdir()):
        pid = name[len(prefix):]
        if name.startswith(prefix) and pid.isdigit() and not _alive(int(pid)):
            shutil.rmtree(os.path.join(tempfile.gettempdir(), name), ignore_errors=True)


def _alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    return True


def child_exit(server, worker):
    """A worker is gone: its in-flight gauges stop counting (its counters stay in the sums)."""
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)


def on_exit(server):
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR") == METRICS_DIR_OWNED:
        shutil.rmtree(METRICS_DIR_OWNED, ignore_errors=True)


def post_fork(server, worker):
    worker.client_bounds = CLIENT_BOUNDS
    _large_blocks_back_to_the_os()
    if GEVENT:
        # Before anything connects to PostgreSQL; nothing of the app may be imported here: it
        # must be imported after gevent's monkey-patching (which comes after post_fork).
        from psycogreen.gevent import patch_psycopg

        patch_psycopg()


def _gateway(worker):
    app = getattr(worker, "wsgi", None)  # the Flask app, once the worker has loaded it
    return getattr(app, "extensions", {}).get("gateway") if app is not None else None


def _log_writer(worker):
    gateway = _gateway(worker)
    return gateway.log_writer if gateway is not None else None


def post_worker_init(worker):
    """Start the request-log writer now, so spool files left by dead workers are replayed without
    waiting for a request; take what the worker loaded out of the cyclic garbage collector's
    work; and note when SIGTERM comes, to keep worker_exit within the time the
    master grants (it kills the worker graceful_timeout after its SIGTERM)."""
    if GEVENT:  # by its path: the floor of the benchmark, served by this file, loads no app
        _load_by_path("gateway_green", "green.py").use_native_zero_timeout_poll()
    writer = _log_writer(worker)
    if writer is not None:
        writer.start()
    sampler = getattr(worker, "wsgi", None) and worker.wsgi.extensions.get("metrics")
    if sampler:  # this worker's log-writer and breaker figures, into its metrics files
        sampler["sampler"].start()
    # What is loaded by now lives as long as the worker: keep it out of the cyclic collector's
    # full collections. With ~500 requests in flight each one stopped the worker for 150-330 ms
    # (about every 5 s); frozen, 10-80 ms.
    gc.collect()
    gc.freeze()
    handle_exit = worker.handle_exit

    def on_sigterm(sig, frame):
        worker.shutdown_started = time.monotonic()
        handle_exit(sig, frame)

    signal.signal(signal.SIGTERM, on_sigterm)
    signal.siginterrupt(signal.SIGTERM, False)


def worker_abort(worker):
    """SIGABRT (the worker missed its timeout): SIGKILL follows shortly, so put every queued log
    row into the spool at once; worker_exit then runs as well."""
    writer = _log_writer(worker)
    if writer is not None:
        writer.spill()


def worker_exit(server, worker):
    """Every way out but SIGKILL (SIGTERM once in-flight requests are done, SIGINT/SIGQUIT,
    SIGABRT) ends here, in the worker: write every queued request log to the database, or to the
    spool if the database is down or too slow for the time left; send the batched health
    outcomes, the limit settles waiting to ride with an admission and the metrics' tally."""
    gateway = _gateway(worker)
    if gateway is None:
        return
    gateway.health.flush()
    gateway.limiter.flush()
    metrics = worker.wsgi.extensions.get("metrics")
    if metrics:  # the tally of the last requests, into this worker's metrics files
        metrics["sampler"].sample()
    writer = gateway.log_writer
    left = float(graceful_timeout)
    if getattr(worker, "shutdown_started", None) is not None:
        left -= time.monotonic() - worker.shutdown_started
    writer.close(timeout=max(1.0, left - 1.0))
