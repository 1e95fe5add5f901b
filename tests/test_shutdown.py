"""Graceful shutdown under gunicorn (gevent workers): SIGTERM to the master lets in-flight streams
finish, and the workers' exit hook writes every request log -- to the database, or to the spool
when the database is down, whence the next start replays it."""
import signal
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import openai
import pytest
import requests
from sqlalchemy import create_engine, select
from sqlalchemy.engine import make_url

from app.config import database_url
from app.models import RequestLog
from tests.conftest import DATABASE_URL, create_key
from tests.gunicorn_runner import GunicornRunner
from tests.tcp_proxy import TcpProxy

WORDS = " ".join(f"w{i}" for i in range(20))


@pytest.fixture
def gunicorn(upstream, tmp_path):
    """start(database_url) -> (base url, process): `gunicorn -c gunicorn.conf.py wsgi:app`."""
    runner = GunicornRunner(upstream, tmp_path, chunk_delay_ms=100)

    def start(database=DATABASE_URL):
        return runner.start(database, LOG_SPOOL_DIR=str(tmp_path / "spool"),
                            KEY_CACHE_TTL_SECONDS="300", GUNICORN_GRACEFUL_TIMEOUT="30",
                            # rows wait in the queue until the worker's exit hook flushes them
                            LOG_FLUSH_SECONDS="60")

    yield start
    runner.stop()


def stop(process):
    process.send_signal(signal.SIGTERM)
    output, _ = process.communicate(timeout=60)
    assert process.returncode == 0, output.decode()
    return output.decode()


def request_ids(key_prefix=None):
    engine = create_engine(database_url(DATABASE_URL))
    with engine.connect() as conn:
        ids = conn.scalars(select(RequestLog.client_request_id)).all()
    engine.dispose()
    return sorted(ids)


def test_sigterm_lets_in_flight_streams_finish_and_logs_every_one(gunicorn, app):
    url, process = gunicorn()
    client = openai.OpenAI(base_url=f"{url}/v1", api_key=create_key(app), max_retries=0,
                           timeout=60)
    client.chat.completions.create(model="mock-echo", messages=[{"role": "user", "content": "hi"}],
                                   extra_headers={"x-request-id": "warm-up"})
    count, started = 50, threading.Semaphore(0)

    def stream(i):
        chunks = client.chat.completions.create(
            model="mock-slow", stream=True, messages=[{"role": "user", "content": WORDS}],
            extra_headers={"x-request-id": f"stream-{i}"})
        text = ""
        for chunk in chunks:
            if chunk.choices and chunk.choices[0].delta.content and not text:
                started.release()  # this stream is flowing: it is in flight in the worker
            text += (chunk.choices[0].delta.content or "") if chunk.choices else ""
        return text

    with ThreadPoolExecutor(max_workers=count) as pool:
        futures = [pool.submit(stream, i) for i in range(count)]
        for _ in range(count):
            assert started.acquire(timeout=30), "the streams did not all start"
        process.send_signal(signal.SIGTERM)  # every stream still has ~1.5 s to go
        results = [future.result(timeout=60) for future in futures]
    assert results == [WORDS] * count
    output, _ = process.communicate(timeout=60)
    assert process.returncode == 0, output.decode()
    assert request_ids() == sorted(["warm-up"] + [f"stream-{i}" for i in range(count)])


@pytest.mark.postgres
@pytest.mark.skipif(not DATABASE_URL.startswith("postgresql"),
                    reason="needs TEST_DATABASE_URL on PostgreSQL: the database is cut off "
                           "through a TCP proxy, which SQLite (a file) has no equivalent of")
def test_sigterm_with_the_database_down_spools_and_the_next_start_replays(gunicorn, app,
                                                                         tmp_path):
    target = make_url(database_url(DATABASE_URL))
    proxy = TcpProxy(target.host or "127.0.0.1", target.port or 5432).start()
    try:
        proxied = target.set(host="127.0.0.1", port=proxy.port).render_as_string(
            hide_password=False)
        url, process = gunicorn(proxied)
        headers = {"Authorization": f"Bearer {create_key(app)}"}

        def call(request_id):
            response = requests.post(
                f"{url}/v1/chat/completions", headers={**headers, "x-request-id": request_id},
                json={"model": "mock-echo", "messages": [{"role": "user", "content": "x"}]},
                timeout=30)
            return response.status_code

        assert call("before") == 200  # the key is now in the worker's cache
        proxy.refuse()
        with ThreadPoolExecutor(max_workers=8) as pool:
            assert set(pool.map(call, [f"down-{i}" for i in range(40)])) == {200}
        stop(process)
        spooled = list((tmp_path / "spool").glob("requests-*.jsonl"))
        assert spooled and sum(len(p.read_bytes().splitlines()) for p in spooled) >= 40
        assert "down-0" not in request_ids()

        proxy.forward()
        url, process = gunicorn(proxied)  # replays the dead worker's spool, with no request
        expected = sorted(["before"] + [f"down-{i}" for i in range(40)])
        deadline = time.monotonic() + 20
        while request_ids() != expected and time.monotonic() < deadline:
            time.sleep(0.2)
        assert request_ids() == expected
        assert not list((tmp_path / "spool").glob("requests-*.jsonl"))
        stop(process)
    finally:
        proxy.stop()
