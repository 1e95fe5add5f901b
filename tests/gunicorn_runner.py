"""Start `gunicorn -c gunicorn.conf.py wsgi:app` (gevent workers) against the mock upstream, as a
real process on a free port, for the tests of what only a real server shows."""
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
import yaml

from tests.conftest import DATABASE_URL, gateway_config

ROOT = Path(__file__).resolve().parent.parent
GUNICORN = Path(sys.executable).parent / "gunicorn"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class GunicornRunner:
    """start(database, **env) -> (base url, process); every process is killed at stop()."""

    def __init__(self, upstream, tmp_path, chunk_delay_ms):
        config = gateway_config(upstream)
        config["providers"]["slow-mock"] = {"vendor": "mock", "chunk_delay_ms": chunk_delay_ms}
        config["models"].append({"name": "mock-slow",
                                 "deployments": [{"provider": "slow-mock", "model": "echo"}]})
        self.config_path = tmp_path / "gateway.yaml"
        self.config_path.write_text(yaml.safe_dump(config))
        self.processes = []

    def start(self, database=DATABASE_URL, **extra_env):
        port = free_port()
        env = {**os.environ, "DATABASE_URL": database, "GATEWAY_CONFIG": str(self.config_path),
               "GATEWAY_BIND": f"127.0.0.1:{port}", "WEB_CONCURRENCY": "1",
               "LOG_LEVEL": "warning", **extra_env}
        process = subprocess.Popen([str(GUNICORN), "-c", "gunicorn.conf.py", "wsgi:app"],
                                   cwd=ROOT, env=env, stdout=subprocess.PIPE,
                                   stderr=subprocess.STDOUT)
        self.processes.append(process)
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while True:
            try:
                if requests.get(f"{url}/health/live", timeout=1).status_code == 200:
                    return url, process
            except requests.RequestException:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                pytest.fail(f"gunicorn did not start:\n{process.stdout.read().decode()}")
            time.sleep(0.1)

    def stop(self):
        for process in self.processes:
            if process.poll() is None:
                process.kill()
            process.wait(timeout=10)
