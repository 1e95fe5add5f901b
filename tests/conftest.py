"""Fixtures: the app on SQLite (or TEST_DATABASE_URL), a live gateway on a real socket, a real
mock upstream on 127.0.0.1, and official-SDK clients pointed at the gateway."""
import contextlib
import os
import tempfile
import threading
import time

import anthropic
import openai
import pytest
import redis
from flask_migrate import upgrade
from sqlalchemy import text
from werkzeug.serving import make_server

from app import create_app
from app.config import TestingConfig
from app.extensions import db
from app.repositories import keys as key_repo
from app.repositories import request_logs
from app.repositories import users as user_repo
from tests.mock_upstream import MockUpstream

# The dashboard tests' browser fixtures (browser, site, page): tests/browser.py.
pytest_plugins = ("tests.browser",)

PRICE = {"input_per_mtok": 2.0, "output_per_mtok": 8.0, "cached_input_per_mtok": 0.5}


def _database_url():
    url = os.environ.get("TEST_DATABASE_URL")
    if url:
        return url
    path = os.path.join(tempfile.mkdtemp(prefix="gateway-tests-"), "test.db")
    return f"sqlite:///{path}"


DATABASE_URL = _database_url()


@pytest.fixture(scope="session")
def upstream():
    server = MockUpstream().start()
    yield server
    server.stop()


@pytest.fixture(autouse=True)
def _fresh_upstream(upstream):
    upstream.reset()


def gateway_config(upstream, **provider_overrides):
    return {
        "providers": {
            "mock": {"vendor": "mock"},
            "up-openai": {"vendor": "openai", "base_url": upstream.openai_base_url,
                          "api_keys": ["upstream-openai-key"], "timeout_seconds": 2,
                          **provider_overrides},
            "up-anthropic": {"vendor": "anthropic", "base_url": upstream.anthropic_base_url,
                             "api_keys": ["upstream-anthropic-key"], "timeout_seconds": 2,
                             **provider_overrides},
            "up-responses": {"vendor": "openai_responses", "base_url": upstream.openai_base_url,
                             "api_keys": ["upstream-responses-key"], "timeout_seconds": 2,
                             **provider_overrides},
        },
        # num_retries 0: these tests see each upstream answer as it is; retries, fallbacks and
        # cooldowns are tested in test_resilience*.py and test_routing*.py.
        "models": [
            {"name": "mock-echo", "deployments": [{"provider": "mock", "model": "echo"}],
             "price": {"input_per_mtok": 1, "output_per_mtok": 1}},
            {"name": "gpt-test",
             "deployments": [{"provider": "up-openai", "model": "gpt-upstream"}], "price": PRICE,
             "max_output_tokens": 16384, "num_retries": 0},
            {"name": "claude-test",
             "deployments": [{"provider": "up-anthropic", "model": "claude-upstream"}],
             "price": PRICE, "num_retries": 0},
            {"name": "resp-test",
             "deployments": [{"provider": "up-responses", "model": "resp-upstream"}],
             "price": PRICE, "num_retries": 0},
        ],
    }


def make_app(upstream, **overrides):
    config = {key: getattr(TestingConfig, key) for key in dir(TestingConfig) if key.isupper()}
    config.update(SQLALCHEMY_DATABASE_URI=DATABASE_URL, GATEWAY_CONFIG=gateway_config(upstream))
    config.update(overrides)
    return create_app(config)


@pytest.fixture(scope="session")
def _schema(upstream):
    """Build the schema once per run through the migrations (what `flask db upgrade` runs)."""
    app = make_app(upstream)
    with app.app_context():
        db.drop_all()
        with db.engine.begin() as conn:
            conn.execute(text("DROP TABLE IF EXISTS alembic_version"))
        upgrade()
        db.engine.dispose()


def _clean_tables():
    with db.engine.begin() as conn:
        for table in reversed(db.metadata.sorted_tables):
            conn.execute(table.delete())


@pytest.fixture
def redis_client():
    """A client of the REDIS_URL server; the test is skipped without one."""
    url = os.environ.get("REDIS_URL")
    if not url:
        pytest.skip("REDIS_URL not set")
    client = redis.Redis.from_url(url)
    yield client
    client.close()


def _clear_redis_limits():
    """Limit counters, circuits and provider-key cooldowns shared through Redis start afresh
    (each test's database also gets a new installation id, hence a new key prefix)."""
    url = os.environ.get("REDIS_URL")
    if url:
        client = redis.Redis.from_url(url)
        keys = list(client.scan_iter("gw:*"))
        if keys:
            client.delete(*keys)
        client.close()


@pytest.fixture
def app_factory(_schema, upstream):
    """Build apps sharing the test database (and Redis, when REDIS_URL is set); every one is
    closed (log writer flushed) after, and limit counters start from zero."""
    _clear_redis_limits()
    apps = []

    def build(**overrides):
        app = make_app(upstream, **overrides)
        apps.append(app)
        return app

    yield build
    for app in apps:
        gateway = app.extensions["gateway"]
        gateway.log_writer.close()
        gateway.vendors.close()
        with app.app_context():
            db.engine.dispose()
    with make_app(upstream).app_context():
        _clean_tables()
        db.engine.dispose()


@pytest.fixture
def app(app_factory):
    return app_factory()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


@contextlib.contextmanager
def serving(app):
    """The app served by a threaded werkzeug server on a real socket; yields its base URL."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                              daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=5)


@pytest.fixture
def live_server(app):
    with serving(app) as url:
        yield url


@pytest.fixture
def admin_user(app):
    with app.app_context():
        user = user_repo.create("admin@example.com", name="Admin", role="admin")
        return user.id


def clear_of_a_minute_boundary(seconds=8):
    """Wait for the next minute when fewer than `seconds` are left of this one: counts of a
    minute's window that rolls over mid-test start again from zero."""
    left = 60 - time.time() % 60
    if left < seconds:
        time.sleep(left + 0.05)


def create_key(app, email="dev@example.com", **kwargs):
    """Create a user (if needed) and a key; returns the secret."""
    with app.app_context():
        user = user_repo.get_by_email(email) or user_repo.create(email)
        _, secret = key_repo.create(user, **kwargs)
        return secret


@pytest.fixture
def api_key(app):
    return create_key(app)


@pytest.fixture
def openai_client(live_server, api_key):
    return openai.OpenAI(base_url=f"{live_server}/v1", api_key=api_key, max_retries=0, timeout=10)


@pytest.fixture
def anthropic_client(live_server, api_key):
    return anthropic.Anthropic(base_url=live_server, api_key=api_key, max_retries=0, timeout=10)


def log_row(request_id, **overrides):
    """A request_logs row (a dict for request_logs.insert_batch) with neutral defaults."""
    from decimal import Decimal

    from app.models import utcnow

    row = {
        "request_id": request_id, "surface": "openai", "endpoint": "chat",
        "created_at": utcnow(), "api_key_id": None, "user_id": None, "project_id": None,
        "model": "mock-echo", "provider": "mock", "upstream_model": "echo", "stream": False,
        "status_code": 200, "error_type": None, "error_message": None,
        "time_to_first_token_ms": None, "input_tokens": 0, "output_tokens": 0,
        "cached_tokens": 0, "cache_write_tokens": 0, "cost_usd": Decimal(0), "latency_ms": 5,
    }
    row.update(overrides)
    return row


def logged(app, request_id=None, count=None, timeout=5.0):
    """The request-log rows (or the one with request_id), once written. A stream's row is queued
    when the server finishes the response, which can be just after the client has read it all,
    so this waits for the row(s) it is asked for."""
    deadline = time.monotonic() + timeout
    writer = app.extensions["gateway"].log_writer
    while True:
        assert writer.flush(timeout=timeout), "log writer did not flush"
        with app.app_context():
            if request_id is not None:
                rows = [r for r in [request_logs.by_request_id(request_id)] if r is not None]
            else:
                rows = list(reversed(request_logs.recent(1000)))
            for row in rows:
                db.session.expunge(row)
        wanted = 1 if request_id is not None else count
        if wanted is None or len(rows) >= wanted or time.monotonic() > deadline:
            break
        time.sleep(0.01)
    if request_id is not None:
        assert rows, f"no request log for {request_id}"
        return rows[0]
    return rows
