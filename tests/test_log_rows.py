"""No row stops request logging: a value the database would refuse (a NUL byte, text longer than
its column, a number out of range) is repaired; a row refused all the same goes to the
dead-letter file with one loud log line; and writers updating the same keys never deadlock."""
import threading
from datetime import timedelta
from decimal import Decimal

import orjson
import pytest
from sqlalchemy import func, select

from app.extensions import db
from app.gateway.logs.spool import Spool, decode
from app.gateway.logs.writer import RequestLogWriter
from app.models import ApiKey, RequestLog, utcnow
from app.repositories import keys as key_repo
from app.repositories import request_logs
from tests.conftest import DATABASE_URL, create_key, log_row, logged


def _rows(app):
    with app.app_context():
        return db.session.execute(select(RequestLog.request_id, RequestLog.model,
                                         RequestLog.status_code)).all()


def test_repair_escapes_nul_cuts_text_and_holds_numbers_in_range():
    row = log_row("r1", model="a\x00b" + "x" * 300, error_message="bad\x00" * 400,
                  input_tokens=10**12, output_tokens=-(10**12), cost_usd=Decimal("1e15"),
                  client_request_id="\ud800oops")
    repaired = request_logs.repair_row(row)
    assert repaired["model"].startswith("a\\u0000b") and len(repaired["model"]) == 200
    assert "\x00" not in repaired["error_message"] and len(repaired["error_message"]) == 1000
    assert (repaired["input_tokens"], repaired["output_tokens"]) == (2**31 - 1, -(2**31))
    assert repaired["cost_usd"] == Decimal("9999999999")
    repaired["client_request_id"].encode()  # no lone surrogate left
    assert row["model"].startswith("a\x00b")  # the caller's dict is left alone


def test_nul_bytes_in_client_input_never_stop_request_logging(app, api_key):
    """Six requests naming a model with a NUL byte, then 200 normal ones: every one has its
    row (on PostgreSQL the NUL once stopped the worker's logging for good)."""
    client = app.test_client()
    headers = {"Authorization": f"Bearer {api_key}"}
    for _ in range(6):
        response = client.post("/v1/chat/completions", headers=headers,
                               json={"model": "a\x00b", "messages": [{"role": "user",
                                                                      "content": "hi"}]})
        assert response.status_code == 404
    for i in range(200):
        response = client.post("/v1/chat/completions", headers=headers,
                               json={"model": "mock-echo",
                                     "messages": [{"role": "user", "content": f"m{i}"}]})
        assert response.status_code == 200
    rows = logged(app, count=206)
    assert len(rows) == 206
    nul_rows = [r for r in rows if r.status_code == 404]
    assert len(nul_rows) == 6 and {r.model for r in nul_rows} == {"a\\u0000b"}
    writer = app.extensions["gateway"].log_writer
    assert writer.pending_spool == 0 and writer.dead_letters.count == 0


def test_a_refused_row_goes_to_the_dead_letters_and_the_rows_after_it_are_written(
        app, caplog):
    writer = app.extensions["gateway"].log_writer
    writer.submit(log_row("before"))
    writer.submit(log_row("refused", latency_ms=None))  # NOT NULL: refused by any database
    for i in range(50):
        writer.submit(log_row(f"after{i}"))
    assert writer.flush(timeout=10, committed=True)
    ids = {r.request_id for r in _rows(app)}
    assert ids == {"before", *(f"after{i}" for i in range(50))}
    lines = writer.dead_letters.path.read_bytes().splitlines()
    assert len(lines) == 1
    letter = decode(lines[0] + b"\n")
    assert letter["row"]["request_id"] == "refused" and "latency_ms" in letter["reason"]
    assert writer.pending_spool == 0
    assert any("refused 1 row(s)" in r.getMessage() and r.levelname == "ERROR"
               for r in caplog.records)


def test_a_spooled_batch_holding_a_refused_row_is_replayed_past_it(app, tmp_path):
    """The spool a dead worker left holds a bad row in its first batch: the next writer moves
    that row to the dead letters and replays the rest, instead of retrying it forever."""
    orphan = Spool(tmp_path)
    orphan.append([log_row("s0"), log_row("s1", latency_ms=None), log_row("s2", model="n\x00")])
    orphan.append([log_row(f"s{i}") for i in range(3, 10)])
    orphan.release()  # its writer is gone: the next one adopts the file
    writer = app.extensions["gateway"].log_writer
    writer.close()
    fresh = RequestLogWriter(writer._write_batch, spool_dir=tmp_path, flush_seconds=0.01,
                             retry_seconds=0.01)
    try:
        assert fresh.flush(timeout=10, committed=True)
        rows = {r.request_id: r.model for r in _rows(app)}
        assert set(rows) == {f"s{i}" for i in range(10)} - {"s1"}
        assert rows["s2"] == "n\\u0000"
        assert fresh.dead_letters.count == 1
        assert not list(tmp_path.glob("requests-*.jsonl"))
    finally:
        fresh.close()


@pytest.mark.postgres
@pytest.mark.skipif(not DATABASE_URL.startswith("postgresql"),
                    reason="row locks and deadlock detection are PostgreSQL's")
def test_two_writers_touching_the_same_keys_in_opposite_orders_never_deadlock(app, monkeypatch):
    """Each writer's transaction pauses (at a barrier) after its first key update. Updated in
    the order the batch gave, writer A would hold key 1 and wait for key 2 while writer B holds
    key 2 and waits for key 1: PostgreSQL would kill one with a deadlock error."""
    create_key(app, "a@example.com")
    create_key(app, "b@example.com")
    with app.app_context():
        first, second = db.session.scalars(select(ApiKey.id).order_by(ApiKey.id)).all()[:2]
    barrier = threading.Barrier(2, timeout=3)
    execute = db.session.execute
    state = threading.local()

    def paused_execute(*args, **kwargs):
        result = execute(*args, **kwargs)
        if getattr(state, "pause", False):
            state.pause = False
            try:
                barrier.wait()
            except threading.BrokenBarrierError:
                pass  # the other writer waits on a row lock held here: go on
        return result

    monkeypatch.setattr(key_repo.db.session, "execute", paused_execute)
    errors, now = [], utcnow()

    def writer(order):
        with app.app_context():
            state.pause = True
            try:
                key_repo.touch_last_used({key_id: now + timedelta(seconds=1) for key_id in order})
                db.session.commit()
            except Exception as exc:  # a deadlock would surface here
                errors.append(exc)
                db.session.rollback()

    threads = [threading.Thread(target=writer, args=(order,))
               for order in ((first, second), (second, first))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=20)
    assert errors == []
    with app.app_context():
        touched = db.session.scalar(select(func.count()).select_from(ApiKey)
                                    .where(ApiKey.last_used_at.is_not(None)))
    assert touched == 2


def test_the_dead_letter_file_is_json_lines_of_reason_and_row(tmp_path):
    from app.gateway.logs.dead_letters import DeadLetters

    letters = DeadLetters(tmp_path)
    letters.add([(log_row("x", cost_usd=Decimal("0.5")), "DataError: value too long")])
    line = (tmp_path / "dead-letters.jsonl").read_bytes()
    assert orjson.loads(line)["reason"] == "DataError: value too long"
    assert decode(line)["row"]["cost_usd"] == Decimal("0.5")
