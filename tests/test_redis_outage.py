"""Redis down, cut or silent (a TCP proxy in front of it): no answer is lost, nothing is a 500,
nothing waits longer than the socket timeout more than once per probe interval, the limits
degrade as configured, and every slot or reservation is released when Redis is back (or expires
with its lease when its release never gets there)."""
import os
import time
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlparse

import pytest
import requests

from tests.conftest import clear_of_a_minute_boundary, create_key, gateway_config, logged, serving
from tests.tcp_proxy import TcpProxy

REDIS_URL = os.environ.get("REDIS_URL")
pytestmark = [pytest.mark.redis,
              pytest.mark.skipif(not REDIS_URL, reason="needs REDIS_URL: Redis is cut off "
                                                       "through a TCP proxy")]
HI = [{"role": "user", "content": "hi"}]


@pytest.fixture
def proxy():
    target = urlparse(REDIS_URL)
    proxy = TcpProxy(target.hostname or "127.0.0.1", target.port or 6379).start()
    yield proxy
    proxy.stop()


def _proxied_url(proxy):
    target = urlparse(REDIS_URL)
    return f"redis://127.0.0.1:{proxy.port}{target.path or '/0'}"


def _config(upstream, latency_ms=300):
    config = gateway_config(upstream)
    config["providers"]["slow"] = {"vendor": "mock", "latency_ms": latency_ms}
    config["models"].append({"name": "mock-slow", "price": {"input_per_mtok": 50,
                                                            "output_per_mtok": 50},
                             "deployments": [{"provider": "slow", "model": "echo"}]})
    return config


def _gateway(app_factory, upstream, proxy, **overrides):
    return app_factory(REDIS_URL=_proxied_url(proxy), GATEWAY_CONFIG=_config(upstream),
                       REDIS_SOCKET_TIMEOUT_SECONDS=0.5, REDIS_RETRY_SECONDS=0.5, **overrides)


def _post(base, key, model="mock-echo", path="/v1/chat/completions", **extra):
    body = {"model": model, "messages": HI, **extra}
    if path == "/v1/messages":
        body["max_tokens"] = 20
        return requests.post(f"{base}{path}", json=body, headers={"x-api-key": key}, timeout=30)
    return requests.post(f"{base}{path}", json=body, timeout=30,
                         headers={"Authorization": f"Bearer {key}"})


@pytest.mark.parametrize("cut", ["refuse", "silence"])
def test_answers_rows_and_slots_survive_redis_cut_while_requests_settle(
        app_factory, upstream, proxy, cut):
    app = _gateway(app_factory, upstream, proxy)
    key = create_key(app, max_parallel=4, rpm=1000)
    with serving(app) as base, ThreadPoolExecutor(max_workers=8) as pool:
        assert _post(base, key).status_code == 200  # Redis known good
        futures = [pool.submit(_post, base, key, "mock-slow", stream=(i % 2 == 1))
                   for i in range(4)]
        time.sleep(0.15)  # all four admitted, waiting on the slow upstream
        getattr(proxy, cut)()
        answers = [f.result() for f in futures]
        assert [a.status_code for a in answers] == [200] * 4
        assert all("hi" in a.text for a in answers)
        assert len(logged(app, count=5)) == 5
        assert {r.status_code for r in logged(app, count=5)} == {200}
        proxy.forward()
        time.sleep(0.6)  # the breaker's next probe
        # the four slots whose settles waited for Redis are free again: four fit at once
        futures = [pool.submit(_post, base, key, "mock-slow") for _ in range(4)]
        assert [f.result().status_code for f in futures] == [200] * 4


def test_a_slot_whose_release_never_reaches_redis_expires_with_its_lease(app_factory, upstream,
                                                                        proxy):
    dying = _gateway(app_factory, upstream, proxy, LIMIT_LEASE_SECONDS=1)
    key = create_key(dying, max_parallel=1)
    # made first: building an app on a loaded machine can outlast the lease
    survivor = app_factory(GATEWAY_CONFIG=_config(upstream))  # straight to Redis
    with serving(dying) as base, ThreadPoolExecutor(max_workers=2) as pool:
        slow = pool.submit(_post, base, key, "mock-slow")
        time.sleep(0.15)
        proxy.refuse()  # its settle (and every renewal of its lease) cannot reach Redis ...
        cut = time.monotonic()
        assert slow.result().status_code == 200
    dying.extensions["gateway"].limiter.store.close()  # ... and its worker dies with it
    proxy.forward()
    client = survivor.test_client()
    headers = {"Authorization": f"Bearer {key}"}
    body = {"model": "mock-echo", "messages": HI}
    while client.post("/v1/chat/completions", json=body, headers=headers).status_code == 429:
        assert time.monotonic() - cut < 3, "the dead worker's slot never expired"
        time.sleep(0.05)
    # held until its lease ran out: 1 s from its admission, 0.15 s before the cut
    assert time.monotonic() - cut >= 0.6


@pytest.mark.parametrize("cut", ["refuse", "silence"])
def test_with_redis_down_limits_degrade_without_500s_or_waits(app_factory, upstream, proxy,
                                                              cut):
    app = _gateway(app_factory, upstream, proxy)
    rated = create_key(app, "rated@example.com", rpm=5)
    budgeted = create_key(app, "budget@example.com", max_budget_usd=10)
    free = create_key(app, "free@example.com")
    with serving(app) as base:
        clear_of_a_minute_boundary()  # the local rpm window is the wall-clock minute
        assert _post(base, rated).status_code == 200
        getattr(proxy, cut)()
        started = time.monotonic()
        statuses = [_post(base, rated).status_code for _ in range(8)]
        # rpm counted in this process while Redis is down: 5 per minute still hold
        assert statuses == [200] * 5 + [429] * 3
        for path in ("/v1/chat/completions", "/v1/messages"):
            refused = _post(base, budgeted, path=path)
            assert refused.status_code == 503 and int(refused.headers["retry-after"]) >= 1
            error = refused.json()["error"]
            assert error["type"] == "api_error" and "budget" in error["message"]
            if path == "/v1/messages":
                assert refused.json()["type"] == "error"
            else:
                assert error["code"] == "limits_unavailable"
        assert all(_post(base, free).status_code == 200 for _ in range(10))
        # one wait of the socket timeout (0.5 s) per probe interval, not one per request
        assert time.monotonic() - started < 4
        proxy.forward()
        time.sleep(0.6)
        assert _post(base, budgeted).status_code == 200  # Redis is back: budgets again
    breaker = app.extensions["gateway"].limiter.breaker
    assert not breaker.down and breaker.failures >= 1


def test_rate_limits_may_fail_closed_too(app_factory, upstream, proxy):
    app = _gateway(app_factory, upstream, proxy, REDIS_DOWN_RATE_LIMITS="closed")
    key = create_key(app, rpm=100)
    with serving(app) as base:
        proxy.refuse()
        refused = _post(base, key)
    assert refused.status_code == 503 and refused.json()["error"]["code"] == "limits_unavailable"


def test_budgets_counted_locally_are_added_to_redis_when_it_is_back(app_factory, upstream,
                                                                    proxy, redis_client):
    app = _gateway(app_factory, upstream, proxy, REDIS_DOWN_BUDGETS="local")
    key = create_key(app, max_budget_usd=10)
    gateway = app.extensions["gateway"]
    with serving(app) as base:
        first = _post(base, key, "mock-slow")
        assert first.status_code == 200
        spent_before = 10 - float(first.headers["x-gateway-budget-remaining-usd"])
        proxy.refuse()
        during = [_post(base, key, "mock-slow") for _ in range(3)]
        assert [a.status_code for a in during] == [200] * 3
        proxy.forward()
        time.sleep(0.6)
        after = _post(base, key, "mock-slow")
    assert after.status_code == 200
    remaining = float(after.headers["x-gateway-budget-remaining-usd"])
    assert remaining == pytest.approx(10 - 5 * spent_before, abs=1e-5)
    assert not gateway.limiter.breaker.down


def test_the_budget_in_v1_usage_is_the_counter_that_admits(app_factory, upstream):
    """Right after a request (its log row not yet written), /v1/usage already counts it, as
    x-gateway-budget-remaining-usd does."""
    app = app_factory(GATEWAY_CONFIG=_config(upstream), LOG_FLUSH_SECONDS=5, LOG_BATCH_SIZE=1000)
    key = create_key(app, max_budget_usd=1)
    client = app.test_client()
    headers = {"Authorization": f"Bearer {key}"}
    answer = client.post("/v1/chat/completions", headers=headers,
                         json={"model": "mock-slow", "messages": HI})
    usage = client.get("/v1/usage", headers=headers).get_json()
    assert usage["usage"]["requests"] == 0  # the batched log has not caught up yet
    assert float(usage["budget"]["spent_usd"]) > 0
    assert float(usage["budget"]["remaining_usd"]) == pytest.approx(
        float(answer.headers["x-gateway-budget-remaining-usd"]), abs=1e-6)


def test_gateways_sharing_redis_but_not_a_database_never_share_counters(app_factory, upstream,
                                                                         tmp_path, redis_client):
    """A rebuilt database gets key ids that were used before: its budgets start unspent."""
    from app.extensions import db

    url = f"sqlite:///{tmp_path / 'rebuilt.db'}"
    spent_out = None
    for build in range(2):
        app = app_factory(SQLALCHEMY_DATABASE_URI=url, GATEWAY_CONFIG=_config(upstream))
        with app.app_context():
            db.drop_all()
            db.create_all()
        key = create_key(app, max_budget_usd="0.0005")
        client = app.test_client()
        headers = {"Authorization": f"Bearer {key}"}
        statuses = [client.post("/v1/chat/completions", headers=headers,
                                json={"model": "mock-slow", "messages": HI, "max_tokens": 2}
                                ).status_code for _ in range(6)]
        if build == 0:
            spent_out = statuses
        else:
            assert statuses == spent_out  # the same story, not a budget already spent
        app.extensions["gateway"].log_writer.close()
    assert spent_out[0] == 200 and 429 in spent_out


def test_the_redis_key_prefix_is_a_setting(app_factory, redis_client):
    app = app_factory(REDIS_KEY_PREFIX="gw:custom-test")
    key = create_key(app, rpm=10)
    assert app.test_client().post("/v1/chat/completions", json={"model": "mock-echo",
                                                                "messages": HI},
                                  headers={"Authorization": f"Bearer {key}"}).status_code == 200
    assert list(redis_client.scan_iter("gw:custom-test:lim:*"))


def test_a_workers_first_requests_read_the_installation_id_once(app_factory, monkeypatch):
    """The key prefix comes from the database's installation id: requests arriving together at
    a new worker wait for one read instead of each taking a database connection for it."""
    from app.repositories import settings

    reads = []

    def slow_installation_id():
        reads.append(1)
        time.sleep(0.3)
        return "0123456789abcdefXYZ"

    app = app_factory()
    monkeypatch.setattr(settings, "installation_id", slow_installation_id)
    store = app.extensions["gateway"].limiter.store
    with ThreadPoolExecutor(8) as pool:
        prefixes = list(pool.map(lambda _: store.prefix, range(8)))
    assert prefixes == ["gw:0123456789abcdef:lim"] * 8
    assert len(reads) == 1


def test_requests_waiting_for_a_failed_installation_id_read_share_its_error(app_factory,
                                                                            monkeypatch):
    """With the database not answering, the requests that waited for the one read fail with it
    (their limits then degrade as while Redis is down); the next request reads again."""
    from redis.exceptions import ConnectionError as RedisConnectionError

    from app.repositories import settings

    reads = []

    def failing_installation_id():
        reads.append(1)
        time.sleep(0.3)
        raise TimeoutError("database timed out")

    app = app_factory()
    monkeypatch.setattr(settings, "installation_id", failing_installation_id)
    store = app.extensions["gateway"].limiter.store

    def prefix(_):
        try:
            return store.prefix
        except RedisConnectionError as error:
            return str(error)

    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(prefix, range(8)))
    assert len(reads) == 1
    assert answers == ["the Redis key prefix (the database's installation id) could not be "
                       "read: database timed out"] * 8
    monkeypatch.setattr(settings, "installation_id", lambda: "fedcba9876543210")
    assert store.prefix == "gw:fedcba9876543210:lim"
