"""Request bodies: a chunked body over MAX_REQUEST_BYTES is 413 like one with a Content-Length
(on the werkzeug server and on gunicorn), a worker holds at most MAX_BODY_BYTES_IN_FLIGHT of
bodies at once (503 with retry-after past it, 413 for a body larger than it alone), and 20
concurrent 30 MB requests keep a real gunicorn worker within that bound."""
import http.server
import json
import threading
import time

import pytest
import requests

from tests.conftest import create_key, serving
from tests.gunicorn_runner import GunicornRunner
from tests.mock_upstream import Reply, Stream, openai_chunks

LIMIT = 100_000


def chat_body(size, model="gpt-test", **extra):
    """A valid chat request of exactly `size` bytes (its first message is the padding)."""
    messages = [{"role": "user", "content": ""}, {"role": "user", "content": "hi"}]
    bare = len(json.dumps({"model": model, "messages": messages, **extra}).encode())
    messages[0]["content"] = "x" * (size - bare)
    body = json.dumps({"model": model, "messages": messages, **extra}).encode()
    assert len(body) == size
    return body


def chunked(body, piece=8192):
    return (body[i:i + piece] for i in range(0, len(body), piece))


def post(url, body, key, path="/v1/chat/completions", **kwargs):
    return requests.post(f"{url}{path}", data=body, timeout=30, **kwargs, headers={
        "Authorization": f"Bearer {key}", "x-api-key": key, "Content-Type": "application/json",
        "anthropic-version": "2023-06-01"})


def check_limit(url, key):
    for path, model, code in [("/v1/chat/completions", "gpt-test", "request_too_large"),
                              ("/v1/messages", "claude-test", None)]:
        extra = {"max_tokens": 10} if path == "/v1/messages" else {}
        over, under = chat_body(LIMIT + 1, model, **extra), chat_body(LIMIT, model, **extra)
        for body in (over, chunked(over)):
            response = post(url, body, key, path)
            assert response.status_code == 413, response.text
            error = response.json()["error"]
            assert error.get("code", code) == code and error["type"] in (
                "invalid_request_error", "request_too_large")
        assert post(url, chunked(under), key, path).status_code == 200
        assert post(url, under, key, path).status_code == 200


def test_a_chunked_body_over_the_limit_is_413_on_the_werkzeug_server(app_factory):
    app = app_factory(MAX_REQUEST_BYTES=LIMIT)
    with serving(app) as url:
        check_limit(url, create_key(app))


@pytest.fixture
def gunicorn(upstream, tmp_path):
    runner = GunicornRunner(upstream, tmp_path, chunk_delay_ms=0)
    yield runner
    runner.stop()


def test_a_chunked_body_over_the_limit_is_413_on_gunicorn(gunicorn, app):
    url, _ = gunicorn.start(MAX_REQUEST_BYTES=str(LIMIT))
    check_limit(url, create_key(app))


def test_a_worker_holds_at_most_its_budget_of_bodies(app_factory, upstream):
    app = app_factory(MAX_BODY_BYTES_IN_FLIGHT=300_000)
    key, body = create_key(app), chat_body(200_000)
    budget = lambda: app.extensions["body_budget"].held  # noqa: E731
    upstream.script(Reply(delay=1.5))
    with serving(app) as url:
        slow = threading.Thread(target=lambda: post(url, body, key))
        slow.start()
        deadline = time.monotonic() + 5
        while (app.extensions.get("body_budget") is None or budget() == 0) and \
                time.monotonic() < deadline:
            time.sleep(0.01)
        assert budget() == 200_000  # the first body is held while its upstream call lasts

        busy = post(url, body, key)
        assert busy.status_code == 503 and busy.headers["retry-after"] == "1"
        assert busy.json()["error"]["code"] == "body_budget_exceeded"
        busy = post(url, body, key, path="/v1/messages")
        assert busy.status_code == 503 and busy.json()["error"]["type"] == "overloaded_error"
        assert post(url, chat_body(300_001), key).status_code == 413  # could never fit
        slow.join()
        assert budget() == 0
        assert post(url, body, key).status_code == 200

        # A stream gives its body back once it has started.
        upstream.script(Stream(openai_chunks("a b c d"), chunk_delay=0.5))
        with post(url, chat_body(200_000, stream=True), key, stream=True) as streaming:
            assert streaming.status_code == 200
            assert budget() == 0
            assert b"[DONE]" in streaming.content


def test_a_large_body_goes_upstream_whole_with_its_content_length(app, upstream):
    """Bodies over ONE_SHOT_BYTES go to httpx as a one-item iterator (let go once sent)."""
    key = create_key(app)
    with serving(app) as url:
        assert post(url, chat_body(3_000_000), key).status_code == 200
    received = upstream.requests[-1]
    assert "transfer-encoding" not in received.headers
    assert int(received.headers["content-length"]) == len(received.body)
    assert received.json["messages"][0]["content"] == "x" * len(
        received.json["messages"][0]["content"]) and len(received.body) > 2_900_000


class SinkUpstream:
    """An OpenAI-format upstream that reads each body in pieces (keeping nothing) and answers
    a short completion after `delay` seconds; on_held(n) is called 0.2 s after it has read a
    body, with the number of bodies it has read and not yet answered."""

    ANSWER = json.dumps({"id": "c", "object": "chat.completion", "created": 1, "model": "m",
                         "choices": [{"index": 0, "finish_reason": "stop",
                                      "message": {"role": "assistant", "content": "ok"}}],
                         "usage": {"prompt_tokens": 1, "completion_tokens": 1,
                                   "total_tokens": 2}}).encode()

    def __init__(self, delay, on_held=lambda held: None):
        sink, lock = self, threading.Lock()
        self.held = 0

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_POST(self):
                left = int(self.headers["Content-Length"])
                while left and (piece := self.rfile.read(min(left, 1 << 20))):
                    left -= len(piece)
                with lock:
                    sink.held += 1
                time.sleep(0.2)
                on_held(sink.held)
                time.sleep(delay)
                with lock:
                    sink.held -= 1
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(sink.ANSWER)))
                self.end_headers()
                self.wfile.write(sink.ANSWER)

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.openai_base_url, self.anthropic_base_url = f"{url}/v1", url
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


def memory_mb(pid):
    fields = dict(line.split(":", 1) for line in open(f"/proc/{pid}/status"))
    return {name: int(fields[name].split()[0]) / 1024 for name in ("VmRSS", "VmHWM")}


def test_twenty_30mb_requests_stay_within_the_workers_memory_bound(app, tmp_path):
    budget_mb, size, count = 128, 30_000_000, 20
    fits = budget_mb * 1024 * 1024 // size  # bodies the worker takes at once: 4
    worker, held = None, []  # worker RSS growth (MB) while the upstream holds `fits` bodies

    def on_held(bodies):
        if bodies == fits and worker:
            held.append(memory_mb(worker)["VmRSS"] - before)

    sink = SinkUpstream(delay=1.0, on_held=on_held)
    runner = GunicornRunner(sink, tmp_path, chunk_delay_ms=0)
    try:
        url, process = runner.start(MAX_BODY_BYTES_IN_FLIGHT=str(budget_mb << 20))
        key = create_key(app)
        assert post(url, chat_body(1000), key).status_code == 200
        pid = int(open(f"/proc/{process.pid}/task/{process.pid}/children").read().split()[0])
        with open(f"/proc/{pid}/clear_refs", "w") as refs:
            refs.write("5")  # VmHWM starts again from the current RSS
        before = memory_mb(pid)["VmRSS"]
        worker = pid
        body, statuses = chat_body(size), []

        def call():  # what the SDKs do: retry a 503 after its retry-after
            for _ in range(60):
                response = post(url, body, key)
                statuses.append(response.status_code)
                if response.status_code != 503:
                    return
                time.sleep(float(response.headers["retry-after"]))

        threads = [threading.Thread(target=call) for _ in range(count)]
        started = time.monotonic()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        after = memory_mb(pid)
        growth = after["VmHWM"] - before
        print(f"\n{count} x {size / 1e6:.0f} MB concurrently, {budget_mb} MiB of bodies in flight:"
              f" worker RSS {before:.0f} MB before, peak {after['VmHWM']:.0f} MB (+{growth:.0f}),"
              f" {after['VmRSS']:.0f} MB after; +{max(held, default=0):.0f} MB while {fits}"
              f" were at the upstream; {statuses.count(200)} answered, {statuses.count(503)}"
              f" retried 503s, {time.monotonic() - started:.1f} s")
        assert statuses.count(200) == count and set(statuses) <= {200, 503}
        # Waiting for the upstream, a request holds one parsed copy of its body, no more.
        assert held and max(held) < fits * size / 1e6 * 1.4
        # At most two copies of the bodies in flight (parsed + sent upstream) and one body being
        # parsed; 40 MB for the rest (buffers, allocator).
        assert growth < 2 * budget_mb * 1.048576 + 2 * size / 1e6 + 40
        assert after["VmRSS"] - before < 60  # and the memory went back to the system
    finally:
        runner.stop()
        sink.stop()
