"""The request-log writer: batched, ordered, retried, bounded, never blocking the request.
(Spooling while the database is down: tests/test_durable_logs.py.)"""
import threading
import time

import pytest

from app.gateway.logs.writer import RequestLogWriter


def rows(n, start=0):
    return [{"request_id": f"req_{i}"} for i in range(start, start + n)]


class FakeStore:
    """write_batch stand-in: records every batch; optionally fails the first `failures` calls."""

    def __init__(self, failures=0):
        self.batches = []
        self.calls = 0
        self.failures = failures
        self.lock = threading.Lock()

    def write_batch(self, batch):
        with self.lock:
            self.calls += 1
            if self.calls <= self.failures:
                raise ConnectionError("database is down")
            self.batches.append(list(batch))

    @property
    def written(self):
        return [row for batch in self.batches for row in batch]


@pytest.fixture
def writers(tmp_path):
    made = []

    def make(write_batch, **kwargs):
        kwargs.setdefault("flush_seconds", 0.02)
        kwargs.setdefault("spool_dir", tmp_path / "spool")
        writer = RequestLogWriter(write_batch, **kwargs)
        made.append(writer)
        return writer

    yield make
    for writer in made:
        writer.close(timeout=2)


@pytest.mark.parametrize("count, batch_size", [(1, 10), (10, 10), (25, 10), (100, 7), (50, 1)])
def test_rows_are_written_in_batches_in_submission_order(writers, count, batch_size):
    store = FakeStore()
    writer = writers(store.write_batch, batch_size=batch_size)
    submitted = rows(count)
    for row in submitted:
        writer.submit(row)
    assert writer.flush(timeout=5) is True
    assert store.written == submitted
    assert all(1 <= len(batch) <= batch_size for batch in store.batches)
    assert writer.dropped == 0


def test_rows_submitted_together_share_a_batch(writers):
    store = FakeStore()
    gate = threading.Event()

    def slow_write(batch):
        gate.wait(5)
        store.write_batch(batch)

    writer = writers(slow_write, batch_size=100, flush_seconds=0.05)
    writer.submit({"request_id": "first"})
    time.sleep(0.1)  # the writer is now stuck writing "first"
    for row in rows(30):
        writer.submit(row)
    gate.set()
    assert writer.flush(timeout=5)
    # one batch for "first", then the 30 queued rows in (at most a few) large batches
    assert store.written == [{"request_id": "first"}, *rows(30)]
    assert len(store.batches) <= 3


def test_flush_with_nothing_submitted_returns_at_once(writers):
    writer = writers(FakeStore().write_batch)
    started = time.monotonic()
    assert writer.flush(timeout=5) is True
    assert time.monotonic() - started < 0.5


def test_flush_returns_false_when_rows_are_still_unwritten(writers):
    gate = threading.Event()
    store = FakeStore()

    def blocked(batch):
        gate.wait(5)
        store.write_batch(batch)

    writer = writers(blocked)
    writer.submit({"request_id": "a"})
    assert writer.flush(timeout=0.1) is False
    gate.set()
    assert writer.flush(timeout=5) is True
    assert store.written == [{"request_id": "a"}]


def test_failed_writes_are_retried_and_nothing_is_lost_or_duplicated(writers):
    store = FakeStore(failures=2)
    writer = writers(store.write_batch, batch_size=50, retry_seconds=0.01)
    submitted = rows(20)
    for row in submitted:
        writer.submit(row)
    assert writer.flush(timeout=5) is True  # durable: in the spool
    assert writer.flush(timeout=5, committed=True) is True  # and then in the database
    assert store.calls >= 3
    assert store.written == submitted  # written once each, in order
    assert writer.dropped == 0


def test_full_queue_spools_without_blocking_raising_or_dropping(writers):
    entered, release = threading.Event(), threading.Event()
    store = FakeStore()

    def blocked(batch):
        entered.set()
        release.wait(5)
        store.write_batch(batch)

    writer = writers(blocked, queue_size=2, batch_size=1)
    writer.submit({"request_id": "req_0"})
    assert entered.wait(2), "the writer never picked up the first row"
    started = time.monotonic()
    for row in rows(10, start=1):
        writer.submit(row)  # must neither raise nor block
    assert time.monotonic() - started < 0.5
    assert writer.dropped == 0
    assert writer.spooled == 8  # two fit in the queue, the other eight go to the spool
    assert writer.pending_spool == 8
    release.set()
    assert writer.flush(timeout=5, committed=True) is True
    ids = [row["request_id"] for row in store.written]
    assert ids[0] == "req_0" and sorted(ids) == sorted(r["request_id"] for r in rows(11))


def test_close_flushes_pending_rows(tmp_path):
    store = FakeStore()
    writer = RequestLogWriter(store.write_batch, batch_size=10, flush_seconds=0.1,
                              spool_dir=tmp_path)
    submitted = rows(35)
    for row in submitted:
        writer.submit(row)
    assert writer.close(timeout=5) is True
    assert store.written == submitted


def test_submissions_from_many_threads_are_all_written(writers):
    store = FakeStore()
    writer = writers(store.write_batch, batch_size=64)

    def work(t):
        for i in range(200):
            writer.submit({"request_id": f"t{t}_{i}"})

    threads = [threading.Thread(target=work, args=(t,)) for t in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert writer.flush(timeout=5) is True
    ids = [row["request_id"] for row in store.written]
    assert sorted(ids) == sorted(f"t{t}_{i}" for t in range(8) for i in range(200))
    for t in range(8):  # each thread's rows keep their order
        mine = [i for i in ids if i.startswith(f"t{t}_")]
        assert mine == [f"t{t}_{i}" for i in range(200)]


def test_a_batch_waits_once_for_its_rows_and_no_longer_once_it_is_full(writers):
    """The writer waits up to flush_seconds for a batch to fill (one wait, not a wake-up per
    row); batch_size rows queued end the wait at once, and so does close()."""
    store = FakeStore()
    writer = writers(store.write_batch, batch_size=10, flush_seconds=0.3)
    started = time.monotonic()
    for row in rows(3):
        writer.submit(row)
    assert writer.flush(timeout=5)
    assert store.batches == [rows(3)] and time.monotonic() - started >= 0.25

    slow = writers(FakeStore().write_batch, batch_size=10, flush_seconds=30)
    started = time.monotonic()
    for row in rows(20):
        slow.submit(row)
    assert slow.flush(timeout=5) and time.monotonic() - started < 5  # two full batches
    slow.submit(rows(1, 20)[0])
    started = time.monotonic()
    assert slow.close(timeout=5) and time.monotonic() - started < 5  # the last one with close
