"""gunicorn -c gunicorn.conf.py wsgi:app

gevent workers: an LLM request is mostly waiting on the vendor, so one worker holds thousands of
open (streaming) requests as greenlets; the SDKs' sockets and Redis become cooperative through
gevent's monkey-patching and psycopg2 through psycogreen (post_fork below, app/green.py).
"""
import ctypes
import gc
import multiprocessing
import os
import signal
import time

M_MMAP_THRESHOLD = -3  # glibc's mallopt() parameter

bind = os.environ.get("GATEWAY_BIND", "127.0.0.1:5000")
# server/worker.py: gunicorn's gevent_pywsgi worker (gevent's own WSGI server, whose HTTP handling
# costs less per request than gunicorn's parser: +15-25 % requests/s in the benchmark) with a
# bound on every wait for a client's bytes, and a 503 when all its connections are taken.
GATEWAY_WORKER = "server.worker.GatewayWorker"
worker_class = os.environ.get("GUNICORN_WORKER_CLASS", GATEWAY_WORKER)
GEVENT = worker_class.startswith("gevent") or worker_class == GATEWAY_WORKER
workers = int(os.environ.get("WEB_CONCURRENCY", multiprocessing.cpu_count()))
worker_connections = int(os.environ.get("GUNICORN_WORKER_CONNECTIONS", 2000))
# Streams can last minutes; the timeout only catches a worker whose loop is stuck.
timeout = int(os.environ.get("GUNICORN_TIMEOUT", 120))
graceful_timeout = int(os.environ.get("GUNICORN_GRACEFUL_TIMEOUT", 60))
# Longest idle time of a kept-alive connection; above nginx's default upstream keepalive_timeout
# of 60 s.
keepalive = int(os.environ.get("GUNICORN_KEEPALIVE", 75))
# Slow clients (server/handler.py), in seconds: the request line and headers must arrive within
# HEADER_TIMEOUT; waiting for the body may take BODY_TIMEOUT plus one second per BODY_MIN_RATE
# bytes received; each write of the answer must be taken within SEND_TIMEOUT.
CLIENT_BOUNDS = {
    "header_timeout": float(os.environ.get("GUNICORN_HEADER_TIMEOUT", 20)),
    "body_timeout": float(os.environ.get("GUNICORN_BODY_TIMEOUT", 20)),
    "body_min_rate": float(os.environ.get("GUNICORN_BODY_MIN_RATE", 16384)),
    "send_timeout": float(os.environ.get("GUNICORN_SEND_TIMEOUT", 120)),
}
accesslog = os.environ.get("GUNICORN_ACCESS_LOG") or None
errorlog = "-"
# Workers only serve: without the `flask db` commands, Flask-Migrate and Alembic stay unloaded.
raw_env = ["GATEWAY_DB_COMMANDS=0"]
loglevel = os.environ.get("LOG_LEVEL", "info").lower()


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
    if GEVENT:
        from app.green import use_native_zero_timeout_poll

        use_native_zero_timeout_poll()
    writer = _log_writer(worker)
    if writer is not None:
        writer.start()
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
    outcomes."""
    gateway = _gateway(worker)
    if gateway is None:
        return
    gateway.health.flush()
    writer = gateway.log_writer
    left = float(graceful_timeout)
    if getattr(worker, "shutdown_started", None) is not None:
        left -= time.monotonic() - worker.shutdown_started
    writer.close(timeout=max(1.0, left - 1.0))
