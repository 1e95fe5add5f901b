"""Request logs are never lost (DESIGN.md §8): spooled while the database is down, replayed in
order and without duplicates once it is back, taken over from dead processes, and a request
never fails over its log."""
import os
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from decimal import Decimal
from types import SimpleNamespace

import pytest
import requests
from sqlalchemy import create_engine, func, select
from sqlalchemy.engine import make_url

from app.config import database_url
from app.extensions import db
from app.gateway.auth import hash_key
from app.gateway.logs import spool as spool_mod
from app.gateway.logs.spool import Spool, encode
from app.gateway.logs.writer import RequestLogWriter
from app.models import ApiKey, RequestLog
from app.repositories import principals, request_logs
from tests.conftest import DATABASE_URL, create_key, log_row, serving
from tests.tcp_proxy import TcpProxy


class Store:
    """write_batch stand-in that can be switched down (raises like a refused connection)."""

    def __init__(self):
        self.down = False
        self.written = []
        self.lock = threading.Lock()

    def write_batch(self, batch):
        with self.lock:
            if self.down:
                raise ConnectionRefusedError("database is down")
            self.written.extend(batch)

    @property
    def ids(self):
        return [row["request_id"] for row in self.written]


@pytest.fixture
def writers(tmp_path):
    made = []

    def make(write_batch, **kwargs):
        kwargs = {"flush_seconds": 0.02, "spool_dir": tmp_path / "spool", "retry_seconds": 0.02,
                  "max_retry_seconds": 0.1, **kwargs}
        made.append(RequestLogWriter(write_batch, **kwargs))
        return made[-1]

    yield make
    for writer in made:
        writer.close(timeout=2)


def dead_pid():
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_spool_round_trips_rows_losslessly_and_in_order(tmp_path):
    spool = Spool(tmp_path)
    first = [log_row("a", cost_usd=Decimal("0.0000012345"), created_at=datetime(2025, 1, 2, 3, 4,
                                                                               5, 123456),
                     error_message="ünïcode \n \"quoted\"", time_to_first_token_ms=None),
             {"request_id": "b", "when": datetime(2025, 1, 2, tzinfo=UTC), "n": 1.5, "ok": True,
              "attempts": [{"provider": "p", "status": 529, "error": None}, {"status": 200}]}]
    second = [log_row(f"c{i}", cost_usd=Decimal(i) / 3) for i in range(5)]
    spool.append(first)
    spool.append(second)
    assert spool.backlog == 7 and len(spool.path.read_bytes().splitlines()) == 7
    rows, cursor = spool.peek(100)
    assert rows == first + second
    assert isinstance(rows[0]["cost_usd"], Decimal) and rows[0]["cost_usd"] == first[0]["cost_usd"]
    assert rows[1]["when"].tzinfo is not None
    spool.commit(cursor)
    assert spool.backlog == 0 and not spool.path.exists()  # removed once everything is committed
    assert spool.peek(100) == (None, None)


def test_spool_fsyncs_once_per_batch_and_skips_a_torn_last_line(tmp_path, monkeypatch):
    real_fsync, synced = os.fsync, []

    def counting_fsync(fd):
        synced.append(os.path.isfile(f"/proc/self/fd/{fd}") and os.path.realpath(
            f"/proc/self/fd/{fd}"))
        real_fsync(fd)

    monkeypatch.setattr(spool_mod.os, "fsync", counting_fsync)
    spool = Spool(tmp_path)
    for batch in range(3):
        spool.append([log_row(f"r{batch}_{i}") for i in range(10)])
    assert [path for path in synced if path] == [str(spool.path)] * 3
    with open(spool.path, "ab") as f:
        f.write(encode(log_row("torn"))[:20])  # a writer that died mid-line
    rows, cursor = spool.peek(1000)
    assert [r["request_id"] for r in rows] == [f"r{b}_{i}" for b in range(3) for i in range(10)]
    spool.commit(cursor)
    assert not spool.path.exists()


def test_rows_spooled_while_the_database_is_down_are_replayed_in_order_before_newer_rows(writers):
    store = Store()
    writer = writers(store.write_batch, batch_size=16)
    submitted = [{"request_id": f"r{i}"} for i in range(300)]
    for row in submitted[:50]:
        writer.submit(row)
    assert writer.flush(timeout=5, committed=True)
    store.down = True
    for row in submitted[50:200]:
        writer.submit(row)
    assert writer.flush(timeout=5)  # durable: in the spool, fsync'd
    assert writer.pending_spool == 150 and writer.spool_path.exists()
    assert writer.flush(timeout=0.3, committed=True) is False
    store.down = False
    for row in submitted[200:]:
        writer.submit(row)
    assert writer.flush(timeout=10, committed=True)
    assert store.ids == [row["request_id"] for row in submitted]  # each once, in order
    assert writer.dropped == 0 and writer.pending_spool == 0
    assert not writer.spool_path.exists()


def test_leftover_spools_of_dead_processes_are_replayed_once_at_start(tmp_path, writers):
    directory = tmp_path / "spool"
    directory.mkdir()
    expected = []
    for f in range(12):
        rows = [log_row(f"dead{f}_{i}") for i in range(25)]
        expected += [r["request_id"] for r in rows]
        (directory / f"requests-{dead_pid()}-{f:04x}.jsonl").write_bytes(
            b"".join(encode(r) for r in rows))
    alive = directory / f"requests-{os.getppid()}-beef.jsonl"
    alive.write_bytes(encode(log_row("not-mine")))
    stores = [Store() for _ in range(4)]
    made = [writers(store.write_batch, batch_size=10) for store in stores]
    threads = [threading.Thread(target=writer.start) for writer in made]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert all(writer.flush(timeout=10, committed=True) for writer in made)
    written = [i for store in stores for i in store.ids]
    assert sorted(written) == sorted(expected)  # every row once, though 4 writers raced
    for store in stores:  # each file is replayed in order
        for f in range(12):
            mine = [i for i in store.ids if i.startswith(f"dead{f}_")]
            assert mine in ([], [f"dead{f}_{i}" for i in range(25)])
    assert sorted(os.listdir(directory)) == [alive.name]  # a live process's spool is left alone


def test_a_closed_writers_spool_is_taken_over_by_the_next_writer(writers):
    store = Store()
    store.down = True
    first = writers(store.write_batch)
    for i in range(20):
        first.submit({"request_id": f"r{i}"})
    assert first.close(timeout=2) is True  # flushed to the spool
    assert first.pending_spool == 20 and first.dropped == 0
    first.submit({"request_id": "late"})  # after close: straight to the spool
    store.down = False
    second = writers(store.write_batch)
    assert second.flush(timeout=5, committed=True)
    assert store.ids == [f"r{i}" for i in range(20)] + ["late"]


def test_outages_coming_and_going_under_load_lose_duplicate_and_reorder_nothing(writers):
    store = Store()
    writer = writers(store.write_batch, batch_size=50, flush_seconds=0.005)
    done = threading.Event()

    def flap():
        while not done.is_set():
            store.down = not store.down
            time.sleep(0.015)
        store.down = False

    def work(t):
        for i in range(1000):
            writer.submit({"request_id": f"t{t}_{i}"})
            if i % 100 == 0:
                time.sleep(0.01)

    flapper = threading.Thread(target=flap)
    flapper.start()
    with ThreadPoolExecutor(max_workers=4) as pool:
        list(pool.map(work, range(4)))
    done.set()
    flapper.join()
    assert writer.flush(timeout=20, committed=True)
    assert writer.spooled > 0 and writer.dropped == 0
    assert len(store.ids) == len(set(store.ids)) == 4000
    for t in range(4):  # each thread's rows keep their order through spool and replay
        assert [i for i in store.ids if i.startswith(f"t{t}_")] == [f"t{t}_{i}"
                                                                   for i in range(1000)]


def test_close_spills_to_the_spool_when_the_database_hangs(writers):
    release = threading.Event()

    def hanging(batch):
        release.wait(10)
        raise TimeoutError("database did not answer")

    writer = writers(hanging, batch_size=4)
    for i in range(10):
        writer.submit({"request_id": f"r{i}"})
    time.sleep(0.1)  # the writer is stuck in the database with a batch
    started = time.monotonic()
    assert writer.close(timeout=1.0) is True
    assert time.monotonic() - started < 1.5
    release.set()
    writer._thread.join(timeout=2)  # its write returns at last: the spool is no longer its own
    store = Store()
    assert writers(store.write_batch).flush(timeout=5, committed=True)
    assert sorted(store.ids) == sorted(f"r{i}" for i in range(10))


def test_submit_never_raises_even_when_neither_database_nor_disk_take_rows(tmp_path, writers):
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("")
    store = Store()
    store.down = True
    writer = writers(store.write_batch, spool_dir=blocker / "spool", queue_size=2)
    for i in range(10):
        writer.submit({"request_id": f"r{i}"})  # queue overflow, unwritable spool: no exception
    assert writer.close(timeout=1) is False
    assert writer.dropped == 10  # counted and logged in full: the only way a row can be lost


def _count(app, key_id=None):
    with app.app_context():
        where = [] if key_id is None else [RequestLog.api_key_id == key_id]
        return db.session.execute(select(func.count(), func.count(RequestLog.request_id.distinct()))
                                  .where(*where)).one()


def test_a_replay_interrupted_after_a_partial_commit_adds_no_duplicates(app, tmp_path):
    key_id = _key_id(app, create_key(app))
    rows = [log_row(f"idem{i}", api_key_id=key_id, cost_usd=Decimal("0.000001") * i)
            for i in range(40)]
    spool = Spool(tmp_path)
    spool.append(rows)
    spool.release()  # its writer is gone: an orphan

    def write(batch):
        with app.app_context():
            request_logs.insert_batch(batch)

    def crash_after_half(batch):  # commits half the batch, then the process "dies"
        write(batch[: len(batch) // 2])
        raise RuntimeError("killed mid-replay")

    crashed = RequestLogWriter(crash_after_half, spool_dir=tmp_path, batch_size=100)
    assert crashed.flush(timeout=1, committed=True) is False
    crashed.close(timeout=0.5)
    assert tuple(_count(app, key_id)) == (20, 20)
    writer = RequestLogWriter(write, spool_dir=tmp_path, batch_size=100, retry_seconds=0.01)
    assert writer.flush(timeout=10, committed=True)
    writer.close()
    write(rows[:5])  # and once more: a row already there is skipped, not an error
    assert tuple(_count(app, key_id)) == (40, 40)
    with app.app_context():
        assert request_logs.by_request_id("idem7").cost_usd == Decimal("0.000007")
        assert db.session.get(ApiKey, key_id).last_used_at == max(r["created_at"] for r in rows)
    assert os.listdir(tmp_path) == []


def _key_id(app, secret):
    with app.app_context():
        return principals.principal_for_hash(hash_key(secret)).key_id


@pytest.mark.postgres
@pytest.mark.skipif(not DATABASE_URL.startswith("postgresql"),
                    reason="needs TEST_DATABASE_URL on PostgreSQL: the database is cut off "
                           "through a TCP proxy, which SQLite (a file) has no equivalent of")
def test_no_request_log_is_lost_while_the_database_is_unreachable(app_factory, tmp_path):
    target = make_url(database_url(DATABASE_URL))
    proxy = TcpProxy(target.host or "127.0.0.1", target.port or 5432).start()
    try:
        url = target.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
        app = app_factory(SQLALCHEMY_DATABASE_URI=url, KEY_CACHE_TTL_SECONDS=300,
                          LOG_SPOOL_DIR=str(tmp_path), LOG_BATCH_SIZE=100)
        secret = create_key(app)
        key_id = _key_id(app, secret)
        writer = app.extensions["gateway"].log_writer
        total, down_from, up_from = 2000, 500, 1300
        sessions = threading.local()
        with serving(app) as base:
            def call(i):
                if i == down_from:
                    proxy.refuse()
                elif i == up_from:
                    proxy.forward()
                session = getattr(sessions, "s", None) or requests.Session()
                sessions.s = session
                response = session.post(
                    f"{base}/v1/chat/completions", timeout=30,
                    headers={"Authorization": f"Bearer {secret}", "x-request-id": f"dl-{i}"},
                    json={"model": "mock-echo", "messages": [{"role": "user", "content": f"m{i}"}]})
                return response.status_code, response.json()["choices"][0]["message"]["content"]

            assert call(0) == (200, "m0")  # the key is now in this worker's cache
            with ThreadPoolExecutor(max_workers=6) as pool:
                results = list(pool.map(call, range(1, total)))
        assert results == [(200, f"m{i}") for i in range(1, total)]
        proxy.forward()
        assert writer.spooled > 0, "the outage never reached the log writer"
        assert writer.flush(timeout=40, committed=True), "the spool was not replayed"
        assert writer.dropped == 0
        engine = create_engine(database_url(DATABASE_URL))
        with engine.connect() as conn:
            ids = conn.scalars(select(RequestLog.client_request_id)
                               .where(RequestLog.api_key_id == key_id)).all()
        engine.dispose()
        assert len(ids) == total and set(ids) == {f"dl-{i}" for i in range(total)}
    finally:
        proxy.stop()


def test_a_batch_with_a_row_the_database_rejects_keeps_the_good_rows(app):
    """A row without its latency (NOT NULL) is refused by both databases: it is handed back,
    the rows around it are written."""
    key_id = _key_id(app, create_key(app))
    good = [log_row(f"good{i}", api_key_id=key_id, attempts=[{"provider": "mock", "status": 200}])
            for i in range(3)]
    bad = log_row("bad", api_key_id=key_id, latency_ms=None, attempts=None)
    with app.app_context():
        refused = request_logs.insert_batch([good[0], bad, good[1], good[2]])
    assert [row["request_id"] for row, _ in refused] == ["bad"]
    assert "latency_ms" in refused[0][1]
    assert tuple(_count(app, key_id)) == (3, 3)
    with app.app_context():
        row = request_logs.by_request_id("good2")
        assert row.attempts == [{"provider": "mock", "status": 200}]
        assert row.surface == "openai"
        assert request_logs.by_request_id("bad") is None


def test_a_row_without_optional_columns_gets_their_defaults(app):
    row = log_row("sparse")
    for name in ("stream", "input_tokens", "output_tokens", "cached_tokens", "cache_write_tokens",
                 "cost_usd", "created_at", "api_key_id", "error_type"):
        del row[name]
    with app.app_context():
        request_logs.insert_batch([row])
        written = request_logs.by_request_id("sparse")
    assert (written.stream, written.input_tokens, written.output_tokens, written.cost_usd,
            written.attempts, written.api_key_id) == (False, 0, 0, Decimal(0), None, None)
    assert abs((datetime.now(UTC).replace(tzinfo=None) - written.created_at).total_seconds()) < 60


def test_a_batch_larger_than_one_statement_is_written_whole(app):
    key_id = _key_id(app, create_key(app))
    rows = [log_row(f"page{i}", api_key_id=key_id) for i in range(2 * request_logs.PAGE_ROWS + 50)]
    with app.app_context():
        request_logs.insert_batch(rows)
        request_logs.insert_batch(rows[-60:])  # again: already written, skipped
    assert tuple(_count(app, key_id)) == (len(rows), len(rows))


@pytest.mark.skipif(not DATABASE_URL.startswith("postgresql"),
                    reason="the paged insert is PostgreSQL's")
def test_each_page_of_a_batch_is_repaired_and_encoded_just_before_it_is_sent(app, monkeypatch):
    """The writer shares the worker's loop with requests: it prepares one page and sends it (the
    loop serves requests while the database works), then prepares the next; never the whole
    batch in one go."""
    events = []
    repair, dumps = request_logs.repair_row, request_logs.orjson.dumps
    monkeypatch.setattr(request_logs, "repair_row",
                        lambda row: events.append("r") or repair(row))
    monkeypatch.setattr(request_logs, "orjson", SimpleNamespace(
        dumps=lambda *args, **kwargs: events.append("|") or dumps(*args, **kwargs)))
    rows = [log_row(f"paged{i}") for i in range(2 * request_logs.PAGE_ROWS + 5)]
    with app.app_context():
        request_logs.insert_batch(rows)
        assert request_logs.by_request_id(rows[-1]["request_id"]) is not None
    page = "r" * request_logs.PAGE_ROWS + "|"
    assert "".join(events) == page * 2 + "r" * 5 + "|"


def test_every_value_of_a_batch_row_is_stored_exactly(app):
    """The batch insert (PostgreSQL: one JSON document a page) keeps every column's value as
    given: quotes, backslashes and non-ASCII text, a price to the column's last digit,
    microseconds, booleans and the attempts' JSON with text that is not plain ASCII."""
    key_id = _key_id(app, create_key(app))
    attempts = [{"provider": "mock", "status": 429, "error": 'quota "x" \\ é 🦙 \u2028',
                 "latency_ms": 12.5, "nested": {"list": [1, None, True]}}]
    given = log_row("exact-1", api_key_id=key_id, stream=True, model="mo'del \"q\" \\ ü 🦙",
                    error_message="line\nbreak\ttab", cost_usd=Decimal("0.0000012345"),
                    input_tokens=2**31 - 1, time_to_first_token_ms=0, attempts=attempts,
                    created_at=datetime(2026, 12, 3, 11, 22, 33, 456789))
    with app.app_context():
        assert request_logs.insert_batch([given, log_row("exact-2", api_key_id=key_id)]) == []
        stored = request_logs.by_request_id("exact-1")
        assert (stored.stream, stored.model, stored.error_message, stored.cost_usd,
                stored.input_tokens, stored.time_to_first_token_ms, stored.attempts,
                stored.created_at) == (True, given["model"], "line\nbreak\ttab",
                                       Decimal("0.0000012345"), 2**31 - 1, 0, attempts,
                                       given["created_at"])
        assert request_logs.by_request_id("exact-2").stream is False
