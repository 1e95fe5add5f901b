"""`gunicorn -c gunicorn.conf.py wsgi:app` (gevent workers) serves the same app, streams (with
their keep-alive pings), and writes every queued request log when it is stopped with SIGTERM."""
import json
import signal
from concurrent.futures import ThreadPoolExecutor

import openai
import pytest
import requests

from tests.conftest import create_key, logged
from tests.gunicorn_runner import GunicornRunner


@pytest.fixture
def gunicorn_server(app, upstream, tmp_path):
    runner = GunicornRunner(upstream, tmp_path, chunk_delay_ms=20)
    yield runner.start()
    runner.stop()


def test_gunicorn_serves_streams_concurrently_and_logs_everything(gunicorn_server, app):
    url, process = gunicorn_server
    client = openai.OpenAI(base_url=f"{url}/v1", api_key=create_key(app), max_retries=0)
    answer = client.chat.completions.create(model="gpt-test",
                                            messages=[{"role": "user", "content": "via gunicorn"}])
    assert answer.choices[0].message.content == "via gunicorn"

    words = " ".join(f"w{i}" for i in range(10))

    def stream(_):
        chunks = client.chat.completions.create(
            model="mock-slow", stream=True, messages=[{"role": "user", "content": words}])
        return "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)

    with ThreadPoolExecutor(max_workers=40) as pool:
        results = list(pool.map(stream, range(40)))
    assert results == [words] * 40  # one gevent worker held all 40 streams

    process.send_signal(signal.SIGTERM)
    output, _ = process.communicate(timeout=30)
    assert process.returncode == 0, output.decode()
    rows = logged(app, count=41)
    assert len(rows) == 41 and all(r.status_code == 200 for r in rows)
    assert sum(r.stream for r in rows) == 40


@pytest.fixture
def slow_stream_server(app, upstream, tmp_path):
    runner = GunicornRunner(upstream, tmp_path, chunk_delay_ms=150)
    yield runner.start(STREAM_KEEPALIVE_SECONDS="0.04")
    runner.stop()


def test_gevent_workers_ping_silent_streams_and_end_abandoned_ones(slow_stream_server, app):
    """The keep-alive of gevent workers (gateway/keepalive_gevent.py) in the real server: pings
    between slow chunks, the whole answer, and a client that leaves mid-stream logged as 499
    while the worker goes on serving."""
    url, _ = slow_stream_server
    key = create_key(app)
    body = {"model": "mock-slow", "stream": True,
            "messages": [{"role": "user", "content": "one two three"}]}
    headers = {"authorization": f"Bearer {key}"}
    with requests.post(f"{url}/v1/chat/completions", json=body, headers=headers, stream=True,
                       timeout=30) as response:
        raw = response.raw.read()
    frames = raw.split(b"\n\n")
    assert frames.count(b": keep-alive") >= 3  # ~150 ms between chunks, a ping every 40 ms
    chunks = [json.loads(f[6:]) for f in frames if f.startswith(b"data: {")]
    assert "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks
                   if c["choices"]) == "one two three"
    assert frames[-2] == b"data: [DONE]"

    abandoned = requests.post(f"{url}/v1/chat/completions", json=body, headers=headers,
                              stream=True, timeout=30)
    request_id = abandoned.headers["x-request-id"]
    next(abandoned.iter_content(chunk_size=1))  # the stream has begun
    abandoned.close()
    assert logged(app, request_id=request_id, timeout=10).status_code == 499
    again = requests.post(f"{url}/v1/chat/completions", headers=headers, timeout=30, json={
        "model": "gpt-test", "messages": [{"role": "user", "content": "still serving"}]})
    assert again.status_code == 200
