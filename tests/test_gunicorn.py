"""`gunicorn -c gunicorn.conf.py wsgi:app` (gevent workers) serves the same app, streams, and
writes every queued request log when it is stopped with SIGTERM."""
import os
import signal
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import openai
import pytest
import requests
import yaml

from tests.conftest import DATABASE_URL, create_key, gateway_config, logged

ROOT = Path(__file__).resolve().parent.parent
GUNICORN = Path(sys.executable).parent / "gunicorn"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def gunicorn_server(app, upstream, tmp_path):
    config = gateway_config(upstream)
    config["providers"]["slow-mock"] = {"vendor": "mock", "chunk_delay_ms": 20}
    config["models"].append({"name": "mock-slow",
                             "deployments": [{"provider": "slow-mock", "model": "echo"}]})
    config_path = tmp_path / "gateway.yaml"
    config_path.write_text(yaml.safe_dump(config))
    port = free_port()
    env = {**os.environ, "DATABASE_URL": DATABASE_URL, "GATEWAY_CONFIG": str(config_path),
           "GATEWAY_BIND": f"127.0.0.1:{port}", "WEB_CONCURRENCY": "1", "LOG_LEVEL": "warning"}
    process = subprocess.Popen([str(GUNICORN), "-c", "gunicorn.conf.py", "wsgi:app"], cwd=ROOT,
                               env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            if requests.get(f"{url}/health/live", timeout=1).status_code == 200:
                break
        except requests.RequestException:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            pytest.fail(f"gunicorn did not start:\n{process.stdout.read().decode()}")
        time.sleep(0.1)
    yield url, process
    if process.poll() is None:
        process.kill()
    process.wait(timeout=10)


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
