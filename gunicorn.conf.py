"""gunicorn -c gunicorn.conf.py wsgi:app

gevent workers: an LLM request is mostly waiting on the vendor, so one worker holds thousands of
open (streaming) requests as greenlets; the SDKs' sockets and Redis become cooperative through
gevent's monkey-patching and psycopg2 through psycogreen (post_fork below).
"""
import multiprocessing
import os

bind = os.environ.get("GATEWAY_BIND", "127.0.0.1:5000")
worker_class = os.environ.get("GUNICORN_WORKER_CLASS", "gevent")
workers = int(os.environ.get("WEB_CONCURRENCY", multiprocessing.cpu_count()))
worker_connections = int(os.environ.get("GUNICORN_WORKER_CONNECTIONS", 2000))
# Streams can last minutes; the timeout only catches a worker whose loop is stuck.
timeout = int(os.environ.get("GUNICORN_TIMEOUT", 120))
graceful_timeout = int(os.environ.get("GUNICORN_GRACEFUL_TIMEOUT", 60))
keepalive = 75  # above nginx's default upstream keepalive_timeout of 60 s
accesslog = os.environ.get("GUNICORN_ACCESS_LOG") or None
errorlog = "-"
loglevel = os.environ.get("LOG_LEVEL", "info").lower()


def post_fork(server, worker):
    if worker_class == "gevent":
        from psycogreen.gevent import patch_psycopg

        patch_psycopg()


def worker_exit(server, worker):
    """Graceful shutdown: write every queued request log before the worker goes."""
    app = getattr(worker, "wsgi", None)
    gateway = getattr(app, "extensions", {}).get("gateway") if app is not None else None
    if gateway is not None:
        gateway.log_writer.close(timeout=float(graceful_timeout))
