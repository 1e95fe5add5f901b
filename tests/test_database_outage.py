"""PostgreSQL refused or silent (a TCP proxy in front of it): keys this worker already knows keep
working from their last good lookup, other keys get 503 in the surface's own format, no request
waits on the database longer than DATABASE_TIMEOUT_SECONDS more than once per probe interval,
/health/ready says what is down, and every request's row is written once it is back."""
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from sqlalchemy import create_engine, func, select
from sqlalchemy.engine import make_url

from app.config import database_url
from app.models import RequestLog
from tests.conftest import DATABASE_URL, create_key, serving
from tests.tcp_proxy import TcpProxy

pytestmark = [pytest.mark.postgres,
              pytest.mark.skipif(not DATABASE_URL.startswith("postgresql"),
                                 reason="needs TEST_DATABASE_URL on PostgreSQL: the database is "
                                        "cut off through a TCP proxy")]
HI = [{"role": "user", "content": "hi"}]


@pytest.fixture
def proxied(app_factory, tmp_path):
    target = make_url(database_url(DATABASE_URL))
    proxy = TcpProxy(target.host or "127.0.0.1", target.port or 5432).start()
    url = target.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
    app = app_factory(SQLALCHEMY_DATABASE_URI=url, KEY_CACHE_TTL_SECONDS=0.2,
                      DATABASE_TIMEOUT_SECONDS=1, DATABASE_RETRY_SECONDS=0.5,
                      LOG_SPOOL_DIR=str(tmp_path / "spool"))
    yield app, proxy
    proxy.stop()


def _chat(base, key, **headers):
    return requests.post(f"{base}/v1/chat/completions", timeout=30,
                         json={"model": "mock-echo", "messages": HI},
                         headers={"Authorization": f"Bearer {key}", **headers})


def _messages(base, key):
    return requests.post(f"{base}/v1/messages", timeout=30, headers={"x-api-key": key},
                         json={"model": "mock-echo", "max_tokens": 5, "messages": HI})


def _rows(key_prefix):
    engine = create_engine(database_url(DATABASE_URL))
    with engine.connect() as conn:
        count = conn.scalar(select(func.count()).select_from(RequestLog).where(
            RequestLog.client_request_id.startswith(key_prefix)))
    engine.dispose()
    return count


@pytest.mark.parametrize("cut", ["refuse", "silence"])
def test_known_keys_ride_out_a_database_outage_and_unknown_keys_get_503(proxied, cut):
    app, proxy = proxied
    known, unknown = create_key(app, "known@example.com"), create_key(app, "new@example.com")
    writer = app.extensions["gateway"].log_writer
    total = 200
    with serving(app) as base, ThreadPoolExecutor(max_workers=8) as pool:
        assert _chat(base, known, **{"x-request-id": f"{cut}-warm"}).status_code == 200
        getattr(proxy, cut)()
        time.sleep(0.3)  # the known key's cache entry expires during the outage
        started = time.monotonic()
        statuses = list(pool.map(lambda i: _chat(base, known, **{
            "x-request-id": f"{cut}-{i}"}).status_code, range(total)))
        assert statuses == [200] * total
        # at most one wait of DATABASE_TIMEOUT_SECONDS (1 s) per probe interval (0.5 s)
        assert time.monotonic() - started < 8

        refused = _chat(base, unknown)
        assert refused.status_code == 503 and refused.headers["retry-after"] == "1"
        assert refused.json()["error"]["code"] == "auth_unavailable"
        anthropic = _messages(base, unknown)
        assert anthropic.status_code == 503
        assert anthropic.json()["type"] == "error"
        assert anthropic.json()["error"]["type"] == "api_error"

        probe_started = time.monotonic()
        ready = requests.get(f"{base}/health/ready", timeout=10)
        assert time.monotonic() - probe_started < 2
        assert ready.status_code == 200 and ready.json()["status"] == "degraded"
        assert ready.json()["checks"]["database"].startswith("error")

        proxy.forward()
        deadline = time.monotonic() + 10
        while _chat(base, unknown).status_code != 200:
            assert time.monotonic() < deadline, "the database never came back for key lookups"
            time.sleep(0.2)
        assert requests.get(f"{base}/health/ready", timeout=10).json()["status"] == "ok"
    assert writer.flush(timeout=30, committed=True)
    assert writer.dropped == 0
    assert _rows(f"{cut}-") == total + 1  # every row, none duplicated


def test_many_unknown_keys_from_one_address_reach_the_database_a_bounded_number_of_times(
        app_factory, monkeypatch):
    app = app_factory(AUTH_FAILURES_PER_MINUTE=20)
    authenticator = app.extensions["gateway"].authenticator
    calls = []
    lookup = authenticator._lookup
    monkeypatch.setattr(authenticator, "_lookup",
                        lambda h, known=False: calls.append(h) or lookup(h, known))
    good = create_key(app)
    client = app.test_client()
    statuses = [client.post("/v1/chat/completions", json={"model": "mock-echo", "messages": HI},
                            headers={"Authorization": f"Bearer sk-gw-guess-{i}"}).status_code
                for i in range(300)]
    assert statuses[:20] == [401] * 20 and set(statuses[20:]) == {429}
    assert len(calls) == 20
    # the same unknown key again: answered from memory
    for _ in range(5):
        assert client.post("/v1/models", headers={"Authorization": "Bearer sk-gw-guess-0"}
                           ).status_code in (401, 405)
    assert client.post("/v1/chat/completions", json={"model": "mock-echo", "messages": HI},
                       headers={"Authorization": f"Bearer {good}"}).status_code == 429


def test_admin_calls_while_the_database_is_down_get_503(proxied):
    app, proxy = proxied
    from tests.admin_helpers import make_user

    make_user(app, "root@example.com", role="admin")
    admin = create_key(app, "root@example.com")
    client = app.test_client()
    headers = {"Authorization": f"Bearer {admin}"}
    assert client.get("/admin/keys", headers=headers).status_code == 200
    proxy.refuse()
    response = client.get("/admin/keys", headers=headers)  # the key is known: the query fails
    assert response.status_code == 503
    assert response.get_json()["error"]["code"] == "database_unavailable"
    assert response.headers["retry-after"] == "5"
