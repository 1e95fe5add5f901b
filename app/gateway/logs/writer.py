"""Request-log rows go to a bounded in-process queue; a background thread writes them in batches,
so no request waits on the database for its log, and no row is lost (DESIGN.md §8).

- A batch the database does not take (down, unreachable, any error) is appended to this writer's
  spool file (app/gateway/logs/spool.py: JSON lines, fsync'd once per batch), and so is a row
  submitted while the queue is full: submit() never blocks, never raises, never drops.
- While the spool holds rows, newer rows are appended behind them (order is kept) and the writer
  probes the database with the oldest spooled batch, backing off from retry_seconds to
  max_retry_seconds; once a probe succeeds it replays the spool in order, batch by batch, and
  writes to the database directly again only when the spool is empty. A file is removed only
  once all its rows are committed.
- Inserts skip request_ids already in the table, so a batch written twice (committed, then the
  process died before the spool moved past it) is not duplicated.
- The first start takes over the spool files that dead processes left behind and replays them.
- close(timeout) flushes the queue (to the database, or to the spool if it is down); near the
  deadline it spills whatever is still queued or being written to the spool.
- The writer waits once per batch (up to flush_seconds, less once batch_size rows are queued).
"""
import contextlib
import logging
import queue
import threading
import time

from .dead_letters import DeadLetters
from .outage import Outage
from .spool import Spool, encode

log = logging.getLogger(__name__)
_WAKE = object()  # put on the queue by close() so the writer thread notices at once


class RequestLogWriter:
    def __init__(self, write_batch, *, queue_size=50_000, batch_size=500, flush_seconds=0.5,
                 spool_dir=None, retry_seconds=0.5, max_retry_seconds=5.0):
        """write_batch(rows) writes a list of row dicts in one transaction (raises when the
        database is unavailable), ignores rows whose request_id is already written, and returns
        the rows the database refused for their content as [(row, reason)] (they go to the
        dead-letter file). spool_dir: where rows wait while the database is unavailable."""
        self._write_batch = write_batch
        self._queue = queue.Queue(maxsize=queue_size)
        self._batch_size = batch_size
        self._flush_seconds = flush_seconds
        self._spool = Spool(spool_dir)
        self.dead_letters = DeadLetters(self._spool.directory)
        self._pending = 0  # rows submitted and not yet durable (committed or spooled)
        self._inflight = None  # the batch handed to write_batch, until it returns
        self._cond = threading.Condition()
        self._more = threading.Event()  # ends the writer's wait for a batch to fill up
        self._thread = None
        self._scanning = False  # the writer is still taking over orphaned spool files
        self._stopping = False
        self._spilling = False  # close() ran out of time: everything goes to the spool now
        self._outage = Outage(retry_seconds, max_retry_seconds)
        self._full_logged_at = -60.0
        self.dropped = 0  # rows neither written nor spooled (the spool itself failed); else 0

    # --- the API -----------------------------------------------------------------------------

    @property
    def pending_spool(self):
        """Rows in the spool (this writer's and the files it adopted), not yet committed."""
        return self._spool.backlog

    @property
    def spooled(self):
        """Rows ever appended to this writer's spool."""
        return self._spool.appended

    @property
    def spool_path(self):
        return self._spool.path

    def spool_writable(self):
        return self._spool.writable()

    def start(self):
        """Start the writer thread (on first submit); it first replays dead ones' spools."""
        with self._cond:
            if self._thread is None:
                self._scanning = True
                self._thread = threading.Thread(target=self._run, name="request-log-writer",
                                                daemon=True)
                self._thread.start()

    def submit(self, row):
        """Queue one row; never blocks and never raises. When the queue is full, or the writer
        is closing, the row goes straight to the spool."""
        try:
            if self._thread is None and not self._stopping:
                self.start()
            with self._cond:
                self._pending += 1
            if not self._stopping:
                try:
                    self._queue.put_nowait(row)
                    if self._queue.qsize() + 1 >= self._batch_size:  # the writer holds one
                        self._more.set()
                    return
                except queue.Full:
                    if time.monotonic() - self._full_logged_at > 10:
                        self._full_logged_at = time.monotonic()
                        log.warning("request-log queue full (%d rows): spooling new rows to %s",
                                    self._queue.maxsize, self._spool.path)
            self._spool_rows([row], retry=False)
        except Exception:  # never fail a request over its log
            log.exception("request log could not be queued: %s", _line(row))

    def flush(self, timeout=10.0, committed=False):
        """Wait until every submitted row is durable (committed, or spooled); with
        committed=True, until the spool is replayed too. True if it was within timeout."""
        if committed and self._thread is None:
            self.start()
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._pending or (committed and (self._scanning or self._spool.backlog)):
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._cond.wait(min(remaining, 0.1))
        return True

    def close(self, timeout=10.0):
        """Flush the queue (to the database, or the spool when it is down) and stop the thread;
        rows still unwritten when the deadline nears are spilled to the spool. True if every
        submitted row is durable."""
        deadline = time.monotonic() + timeout
        self._stopping = True
        self._outage.retry_at = 0.0  # one last probe of the database for what is spooled
        self._wake()
        if not self.flush(max(0.0, timeout - min(1.0, timeout * 0.2))):
            self.spill()
            self.flush(max(0.0, deadline - time.monotonic()))
        if self._thread is not None:
            self._wake()
            self._thread.join(timeout=max(0.05, deadline - time.monotonic()))
        if self._thread is None:
            self._spool.release()
        return self.flush(0) and not self.dropped

    def spill(self):
        """Move what is queued or being written to the spool now (the database may be hanging);
        a batch that the database commits after all is skipped when the spool is replayed."""
        self._spilling = True
        with self._cond:
            rows, self._inflight = self._inflight or [], None
        while True:
            try:
                row = self._queue.get_nowait()
            except queue.Empty:
                break
            if row is not _WAKE:
                rows.append(row)
        if rows:
            log.warning("request-log writer: spilling %d unwritten rows to %s", len(rows),
                        self._spool.path)
            self._spool_rows(rows, retry=False)

    # --- the writer thread -------------------------------------------------------------------

    def _run(self):
        try:
            self._loop()
        finally:
            if self._stopping:  # closed: what is left in the spool is for the next writer
                self._spool.release()

    def _loop(self):
        try:
            adopted = self._spool.adopt_orphans()
            if adopted:
                log.warning("request-log writer: replaying %d rows left by dead processes",
                            adopted)
        except Exception:
            log.exception("request-log writer: could not take over orphaned spool files")
        with self._cond:
            self._scanning = False
            self._cond.notify_all()
        while True:
            backlog = self._spool.backlog > 0
            if self._stopping and self._queue.empty() and (not backlog or self._spilling):
                break
            wait = 0.2
            if backlog:
                wait = min(wait, max(0.0, self._outage.retry_at - time.monotonic()))
            batch = self._next_batch(wait, linger=not backlog)
            if batch:
                if self._spilling or backlog or not self._write(batch):
                    self._spool_rows(batch, retry=True)
            if (self._spool.backlog and not self._spilling
                    and time.monotonic() >= self._outage.retry_at and not self._replay()
                    and self._stopping):
                break  # shutting down with the database still down: the spool keeps the rest

    def _next_batch(self, wait, linger):
        try:
            batch = [self._queue.get(timeout=wait) if wait > 0 else self._queue.get_nowait()]
        except queue.Empty:
            return []
        self._more.clear()
        if (linger and batch[0] is not _WAKE and not self._stopping
                and self._queue.qsize() + 1 < self._batch_size):
            self._more.wait(self._flush_seconds)
        while len(batch) < self._batch_size and batch[-1] is not _WAKE:
            try:
                batch.append(self._queue.get_nowait())
            except queue.Empty:
                break
        return [row for row in batch if row is not _WAKE]

    def _write(self, batch):
        """Write batch to the database; True once it is committed (or spilled meanwhile)."""
        with self._cond:
            if self._spilling:
                return False
            self._inflight = batch
        try:
            self._commit(batch)
        except Exception as exc:
            self._outage.failed(exc, len(batch), self._spool)
            with self._cond:
                mine = self._inflight is batch
                self._inflight = None
            return not mine  # spill() took it: it is in the spool already
        with self._cond:
            mine = self._inflight is batch
            self._inflight = None
        self._outage.recovered(self._spool)
        if mine:
            self._done(len(batch))
        return True

    def _replay(self):
        """Write the oldest spooled batch; False if the database did not take it."""
        try:
            rows, cursor = self._spool.peek(self._batch_size)
        except Exception:
            log.exception("request-log writer: could not read the spool")
            self._outage.schedule()
            return False
        if cursor is None:
            return True
        if rows:
            try:
                self._commit(rows)
            except Exception as exc:
                self._outage.failed(exc, len(rows), self._spool)
                return False
        self._spool.commit(cursor)
        self._outage.recovered(self._spool)
        with self._cond:
            self._cond.notify_all()
        return True

    def _spool_rows(self, rows, retry):
        """Append rows to the spool (they are then durable); if even that fails, retry with
        back-off (writer thread) or give up on them loudly (request threads, spill)."""
        while True:
            try:
                self._spool.append(rows)
                break
            except Exception:
                log.exception("request-log writer: could not append %d rows to %s", len(rows),
                              self._spool.path)
                if not retry or self._spilling:
                    self.dropped += len(rows)
                    for row in rows:
                        log.error("request log lost: %s", _line(row))
                    break
            time.sleep(self._outage.next_delay())
            try:  # the disk refuses them: maybe the database takes them by now
                self._commit(rows)
                self._outage.recovered(self._spool)
                break
            except Exception:
                pass
        self._done(len(rows))

    def _commit(self, rows):
        """Write rows to the database (raises if it is down); refused rows: dead letters."""
        refused = self._write_batch(rows)
        if refused:
            self.dead_letters.add(refused)

    def _wake(self):
        with contextlib.suppress(queue.Full):
            self._queue.put_nowait(_WAKE)
        self._more.set()

    def _done(self, count):
        with self._cond:
            self._pending -= count
            self._cond.notify_all()


def _line(row):
    try:
        return encode(row).decode().rstrip("\n")
    except Exception:
        return repr(row)
