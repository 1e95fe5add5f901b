"""`gunicorn -c gunicorn.conf.py wsgi:app` (gevent workers) serves the same app, streams, and
writes every queued request log when it is stopped with SIGTERM."""
import signal
from concurrent.futures import ThreadPoolExecutor

import openai
import pytest

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
