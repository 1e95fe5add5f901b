"""SIGHUP to gunicorn's master (`systemctl reload`, deploy/gateway.service's ExecReload) reloads
the providers and models of GATEWAY_CONFIG without dropping a stream in flight: the master starts
new workers, which build the app afresh (preload_app is off) and so read the YAML again, and stops
the old ones gracefully, letting their requests finish within graceful_timeout. SIGTERM's drain is
tested in tests/test_shutdown.py."""
import copy
import signal
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import openai
import pytest
import requests
import yaml

from app.extensions import db
from app.repositories import request_logs
from tests.conftest import create_key
from tests.gunicorn_runner import GunicornRunner
from tests.mock_upstream import Stream, openai_chunks

CHUNK_DELAY = 0.1


@pytest.fixture
def gunicorn(upstream, tmp_path):
    runner = GunicornRunner(upstream, tmp_path, chunk_delay_ms=0)
    url, process = runner.start(LOG_SPOOL_DIR=str(tmp_path / "spool"),
                                GUNICORN_GRACEFUL_TIMEOUT="60")
    yield runner, url, process
    runner.stop()


def gated_stream(gate, sent, after=10, limit=500):
    """OpenAI stream events, one word per CHUNK_DELAY until `gate` is set, then `after` more
    (at most `limit` words): the stream lasts as long as the new worker takes to boot, and
    goes on once it serves. Each word sent is appended to `sent`."""
    events = openai_chunks("w", model="gpt-upstream")
    head, piece, tail = events[0], events[1], events[2:]
    yield head
    remaining = after
    for i in range(limit):
        if gate.is_set():
            if remaining == 0:
                break
            remaining -= 1
        event = copy.deepcopy(piece)
        event[1]["choices"][0]["delta"]["content"] = word = f"w{i} "
        sent.append(word)
        yield event
    yield from tail


def add_model(config_path, name, upstream_model):
    config = yaml.safe_load(config_path.read_text())
    config["models"].append({"name": name, "num_retries": 0,
                             "deployments": [{"provider": "up-openai", "model": upstream_model}]})
    config_path.write_text(yaml.safe_dump(config))


def logged_by_client_id(app, request_id, timeout=30.0):
    deadline = time.monotonic() + timeout
    while True:
        with app.app_context():
            rows = request_logs.find(request_id)
            for row in rows:
                db.session.expunge(row)
        if rows or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert rows, f"no request log for {request_id}"
    return rows[0]


def test_sighup_reloads_gateway_config_and_lets_in_flight_streams_finish(gunicorn, app,
                                                                       upstream):
    runner, url, process = gunicorn
    key = create_key(app)
    headers = {"Authorization": f"Bearer {key}"}

    def ask(model, request_id):
        return requests.post(f"{url}/v1/chat/completions",
                             headers={**headers, "x-request-id": request_id},
                             json={"model": model, "messages": [{"role": "user", "content": "hi"}]},
                             timeout=60)

    assert ask("gpt-new", "before").status_code == 404  # not in the YAML yet

    gate, sent = threading.Event(), []
    upstream.script(Stream(gated_stream(gate, sent), chunk_delay=CHUNK_DELAY))
    client = openai.OpenAI(base_url=f"{url}/v1", api_key=key, max_retries=0, timeout=60)
    started = threading.Event()

    def stream():
        chunks = client.chat.completions.create(
            model="gpt-test", stream=True, messages=[{"role": "user", "content": "go"}],
            extra_headers={"x-request-id": "in-flight"})
        text = ""
        for chunk in chunks:
            if chunk.choices and chunk.choices[0].delta.content:
                started.set()
                text += chunk.choices[0].delta.content
        return text

    with ThreadPoolExecutor(max_workers=1) as pool:
        future = pool.submit(stream)
        assert started.wait(timeout=30), "the stream did not start"
        add_model(runner.config_path, "gpt-new", "gpt-upstream-new")
        process.send_signal(signal.SIGHUP)
        # A new worker answers for the new model while the old one still streams.
        deadline, answer = time.monotonic() + 60, None
        while time.monotonic() < deadline:
            answer = ask("gpt-new", "after")
            if answer.status_code == 200:
                break
            time.sleep(0.1)
        assert answer is not None and answer.status_code == 200, answer.text
        assert not future.done(), "the stream ended before the new worker answered"
        words_before = len(sent)
        gate.set()
        # every word, in order, including those sent after the new worker took over
        assert future.result(timeout=60) == "".join(sent)
        assert len(sent) > words_before

    assert upstream.last().json["model"] == "gpt-upstream-new"
    assert process.poll() is None  # the master lives on
    # The old worker wrote its stream's request log before it exited.
    row = logged_by_client_id(app, "in-flight")
    assert row.status_code == 200 and row.stream

    process.send_signal(signal.SIGTERM)
    output, _ = process.communicate(timeout=60)
    assert process.returncode == 0, output.decode()
