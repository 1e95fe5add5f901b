"""The real client programs' fixtures: one gateway and one mock upstream (in agent mode) for the
whole session, a key, and a tally of every HTTP exchange the gateway served during a test.

The gateway has a database of its own, a SQLite file in a temporary directory, whatever
TEST_DATABASE_URL says: tests/conftest.py's ``app_factory`` deletes every row of the test database
after each test that uses it, and its ``_schema`` drops and rebuilds the tables, which would take
this session-long gateway's key and request logs away (on PostgreSQL as on SQLite). Redis
(REDIS_URL) is shared as in the other tests: this database's installation id gives the gateway a
key prefix of its own, and its key has no limits.

The clients are installed by ``make test`` (tests/clients/requirements.txt into the virtualenv,
``npm ci`` here from package-lock.json). A missing client fails the run; nothing is skipped.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from flask_migrate import upgrade

from app.extensions import db
from app.repositories import request_logs
from tests.conftest import create_key, gateway_config, make_app, serving
from tests.mock_upstream import MockUpstream

HERE = Path(__file__).resolve().parent
NODE_MODULES = HERE / "node_modules"
CLAUDE = NODE_MODULES / ".bin" / "claude"
CODEX = NODE_MODULES / ".bin" / "codex"
NODE_PACKAGES = ("@anthropic-ai/claude-code", "@anthropic-ai/sdk", "openai", "@openai/codex", "ai",
                 "@ai-sdk/openai", "@ai-sdk/anthropic")
INSTALL_HINT = "run `make test` (it runs `npm ci --prefix tests/clients`)"

# Chat Completions upstream, Anthropic Messages upstream, Responses API upstream (openai_responses)
MODELS = ("gpt-test", "claude-test", "responses-test")
# Gateway aliases of the three named like models Codex 0.171 knows (its bundled catalog).
CODEX_KNOWN = {"gpt-test": "gpt-6.2-sol", "claude-test": "gpt-6.2-astra",
               "responses-test": "gpt-6.1-sol"}


def node_binary() -> str:
    node = shutil.which("node")
    if node is None:
        pytest.fail("node is not installed: the client tests need Node.js and npm", pytrace=False)
    return node


def require_node_packages() -> None:
    """Fail (never skip) when the pinned Node.js clients are not installed."""
    node_binary()
    missing = [name for name in NODE_PACKAGES
               if not (NODE_MODULES / name / "package.json").is_file()]
    if missing:
        pytest.fail(f"Node.js clients not installed ({', '.join(missing)}): {INSTALL_HINT}",
                    pytrace=False)


# --------------------------------------------------------------------------------------------
# What the gateway served
# --------------------------------------------------------------------------------------------


@dataclass
class Exchange:
    """One request the gateway answered: method, path (with query), status, request id."""

    method: str
    path: str
    status: int
    request_id: str | None


@dataclass
class Tally:
    """A WSGI middleware that records every request the gateway answers."""

    wsgi_app: object
    exchanges: list[Exchange] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def __call__(self, environ, start_response):
        path = environ.get("PATH_INFO", "")
        if environ.get("QUERY_STRING"):
            path += "?" + environ["QUERY_STRING"]
        method = environ.get("REQUEST_METHOD", "")

        def recording_start_response(status, headers, exc_info=None):
            request_id = next((v for k, v in headers if k.lower() == "x-request-id"), None)
            with self.lock:
                self.exchanges.append(Exchange(method, path, int(status.split()[0]), request_id))
            return start_response(status, headers, exc_info)

        return self.wsgi_app(environ, recording_start_response)

    def clear(self) -> None:
        with self.lock:
            self.exchanges.clear()

    def snapshot(self) -> list[Exchange]:
        with self.lock:
            return list(self.exchanges)


@dataclass
class Gateway:
    url: str
    key: str
    app: object
    tally: Tally
    upstream: MockUpstream

    def exchanges(self) -> list[Exchange]:
        return self.tally.snapshot()

    def log_rows(self, timeout: float = 10.0) -> list:
        """The request-log rows of this test's exchanges that carry a request id (every
        inference request), waiting for each to be written (a stream's row is queued when the
        response ends, which can be just after the client read it all)."""
        writer = self.app.extensions["gateway"].log_writer
        ids = [e.request_id for e in self.exchanges()
               if e.request_id and e.path.startswith("/v1/")]
        deadline = time.monotonic() + timeout
        rows = {}
        while True:
            assert writer.flush(timeout=timeout), "the gateway's log writer did not flush"
            with self.app.app_context():
                for request_id in ids:
                    if request_id not in rows:
                        row = request_logs.by_request_id(request_id)
                        if row is not None:
                            db.session.expunge(row)
                            rows[request_id] = row
            if len(rows) == len(ids) or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        missing = [i for i in ids if i not in rows]
        assert not missing, f"no request log for {missing}"
        return [rows[i] for i in ids]

    def assert_clean_exchange(self, *, inference_requests: int = 1) -> list[Exchange]:
        """Every request of this test was answered below 400, logged below 400, and at least
        ``inference_requests`` of them reached a model."""
        exchanges = self.exchanges()
        described = "\n".join(f"  {e.method} {e.path} -> {e.status}" for e in exchanges)
        failed = [e for e in exchanges if e.status >= 400]
        assert not failed, f"the gateway answered an error status:\n{described}"
        rows = self.log_rows()
        bad = [(r.request_id, r.status_code, r.error_type, r.error_message) for r in rows
               if r.status_code >= 400]
        assert not bad, f"request logs with an error status: {bad}\n{described}"
        assert len(rows) >= inference_requests, f"too few model requests:\n{described}"
        return exchanges


# --------------------------------------------------------------------------------------------
# Session-wide gateway and mock upstream
# --------------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def upstream():
    """The mock upstream of this directory's tests, in agent mode (tests/clients/agent.py).
    It overrides tests/conftest.py's ``upstream``, so its autouse ``_fresh_upstream`` resets
    this one (scripts, recorded requests) before every test."""
    server = MockUpstream(agent=True).start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def gateway(upstream, tmp_path_factory):
    """The gateway served by a threaded werkzeug server on a real socket, with models
    ``gpt-test`` (OpenAI-format upstream), ``claude-test`` (Anthropic-format upstream) and
    ``responses-test`` (a Responses API upstream, vendor ``openai_responses``)."""
    directory = tmp_path_factory.mktemp("clients-gateway")
    config = gateway_config(upstream, timeout_seconds=60)
    config["providers"]["up-responses"] = {
        "vendor": "openai_responses", "base_url": upstream.openai_base_url,
        "api_keys": ["upstream-responses-key"], "timeout_seconds": 60}
    config["models"].append({
        "name": "responses-test", "num_retries": 0, "price": config["models"][1]["price"],
        "deployments": [{"provider": "up-responses", "model": "gpt-responses-upstream"}]})
    # Aliases named like models Codex knows (test_codex.py: Codex's "code mode" request shape).
    by_name = {entry["name"]: entry for entry in config["models"]}
    for name, alias in CODEX_KNOWN.items():
        config["models"].append({**by_name[name], "name": alias})
    app = make_app(
        upstream,
        SQLALCHEMY_DATABASE_URI=f"sqlite:///{directory / 'gateway.db'}",
        GATEWAY_CONFIG=config,
        LOG_SPOOL_DIR=str(directory / "spool"),
        RESPONSES_STORE=True,  # stored responses on: previous_response_id works
    )
    with app.app_context():
        upgrade()
    key = create_key(app, email="clients@example.com")
    tally = Tally(app.wsgi_app)
    app.wsgi_app = tally
    with serving(app) as url:
        yield Gateway(url=url, key=key, app=app, tally=tally, upstream=upstream)
    gateway_state = app.extensions["gateway"]
    gateway_state.log_writer.close()
    gateway_state.vendors.close()
    with app.app_context():
        db.engine.dispose()


@pytest.fixture
def gw(gateway):
    """The session's gateway, its tally of exchanges emptied for this test."""
    gateway.tally.clear()
    gateway.upstream.agent_cwd = None
    return gateway


@pytest.fixture(params=MODELS)
def model(request):
    return request.param


# --------------------------------------------------------------------------------------------
# Running Node.js scripts and programs
# --------------------------------------------------------------------------------------------


def client_env(**extra: str) -> dict:
    """The environment of a client program: this one without any vendor or Claude settings,
    loopback never proxied, plus ``extra``."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("ANTHROPIC_", "OPENAI_", "CLAUDE_", "AWS_", "GOOGLE_"))
           and k.lower() not in ("http_proxy", "https_proxy", "all_proxy")}
    env["NO_PROXY"] = env["no_proxy"] = "127.0.0.1,localhost"
    env.update(extra)
    return env


def run_node_script(script: str, *args: str, env: dict | None = None,
                    timeout: float = 60) -> dict:
    """Run tests/clients/ts/<script> with node; it prints one JSON object last on stdout."""
    require_node_packages()
    proc = subprocess.run(
        [node_binary(), str(HERE / "ts" / script), *args],
        cwd=HERE, env=client_env(**(env or {})), capture_output=True, text=True,
        timeout=timeout, stdin=subprocess.DEVNULL,
    )
    assert proc.returncode == 0, (
        f"node {script} {' '.join(args)} exited {proc.returncode}\n"
        f"stdout:\n{proc.stdout[-4000:]}\nstderr:\n{proc.stderr[-4000:]}"
    )
    lines = [line for line in proc.stdout.splitlines() if line.strip()]
    assert lines, f"node {script} printed nothing; stderr:\n{proc.stderr[-4000:]}"
    return json.loads(lines[-1])


@pytest.fixture
def workdir():
    """A fresh empty directory (a client's working directory), removed after the test."""
    path = Path(tempfile.mkdtemp(prefix="gateway-client-"))
    yield path
    shutil.rmtree(path, ignore_errors=True)
