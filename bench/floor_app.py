"""The benchmark's floor: what the fixed stack alone costs, with none of the gateway's work.

A Flask app served exactly like the gateway (gunicorn.conf.py: gevent workers) that forwards each
request through the official SDK, as the gateway does (raw response, body as bytes), to the same
mock upstream, and hands the answer back untouched: no key check, limits, budget, routing,
retries, accounting or request log. The gateway cannot be faster than this; the distance between
the two is what the gateway's own work costs.

Its memory is the stack's: it loads, and never uses, the libraries of the fixed stack that every
gateway worker loads (Flask-SQLAlchemy with SQLAlchemy, psycopg2, Flasgger, Flask-CORS) and
redis-py, the client of the Redis that production runs on. Together they are ~30 MB of a worker's
memory, which the gateway cannot do without and which is not its own work. It loads nothing of
the gateway: peak RSS per worker over the floor's (target 5) is the gateway's code, caches and
per-request state.

    BENCH_UPSTREAM=http://127.0.0.1:18080 gunicorn -c gunicorn.conf.py --pythonpath bench \
        floor_app:app
"""
import os

import anthropic
import flasgger  # noqa: F401  (the stack's memory, above)
import flask_cors  # noqa: F401
import flask_sqlalchemy  # noqa: F401
import httpx2
import openai
import orjson
import psycopg2  # noqa: F401
import redis  # noqa: F401
from flask import Flask, Response, request

UPSTREAM = os.environ.get("BENCH_UPSTREAM", "http://127.0.0.1:18080")
KEY = "sk-bench-upstream"
RAW = {"X-Stainless-Raw-Response": "stream", "Content-Type": "application/json"}
LIMITS = httpx2.Limits(max_connections=1024, max_keepalive_connections=256)
TIMEOUT = httpx2.Timeout(60, connect=5)

app = Flask(__name__)
_clients = {}


def _client(model):
    """One SDK client per upstream mode, as the gateway has one per provider (bench-<mode>)."""
    if model not in _clients:
        if model == "bench-claude":
            _clients[model] = anthropic.Anthropic(
                api_key=KEY, base_url=f"{UPSTREAM}/instant", timeout=TIMEOUT, max_retries=0,
                default_headers=RAW,
                http_client=anthropic.DefaultHttpxClient(limits=LIMITS, timeout=TIMEOUT))
        else:
            mode = model.removeprefix("bench-")
            _clients[model] = openai.OpenAI(
                api_key=KEY, base_url=f"{UPSTREAM}/{mode}/v1", timeout=TIMEOUT, max_retries=0,
                default_headers=RAW,
                http_client=openai.DefaultHttpx2Client(limits=LIMITS, timeout=TIMEOUT))
    return _clients[model]


def _forward(path):
    body = orjson.loads(request.get_data())
    upstream = _client(body["model"]).post(path, cast_to=httpx2.Response,
                                           content=orjson.dumps({**body, "model": "bench"}))
    if body.get("stream") is True:
        def relay():
            try:
                yield from upstream.iter_bytes()
            finally:
                upstream.close()

        return Response(relay(), content_type="text/event-stream")
    try:
        return Response(upstream.read(), content_type="application/json")
    finally:
        upstream.close()


@app.get("/health")
def health():
    return {"ok": True}


@app.post("/v1/chat/completions")
def chat():
    return _forward("/chat/completions")


@app.post("/v1/messages")
def messages():
    return _forward("/v1/messages")
