"""Request-log rows go to a bounded in-process queue; a background thread writes them in batches,
so no request waits on the database for its log."""
import logging
import queue
import threading
import time

log = logging.getLogger(__name__)
_WAKE = object()  # put on the queue by close() so the writer thread notices at once


class RequestLogWriter:
    def __init__(self, write_batch, *, queue_size=50_000, batch_size=500, flush_seconds=0.5):
        """write_batch(rows) writes a list of row dicts in one transaction (raises on failure)."""
        self._write_batch = write_batch
        self._queue = queue.Queue(maxsize=queue_size)
        self._batch_size = batch_size
        self._flush_seconds = flush_seconds
        self._pending = 0  # rows submitted and not yet written
        self._idle = threading.Condition()
        self._thread = None
        self._stopping = False
        self.dropped = 0

    def submit(self, row):
        """Queue one row; never blocks and never raises."""
        if self._thread is None:
            self._start()
        with self._idle:
            self._pending += 1
        try:
            self._queue.put_nowait(row)
        except queue.Full:
            self._done(1)
            self.dropped += 1
            log.error("request-log queue full (%d rows); dropped log of request %s",
                      self._queue.maxsize, row.get("request_id"))

    def flush(self, timeout=10.0):
        """Wait until every submitted row is written; True if it was within timeout."""
        deadline = time.monotonic() + timeout
        with self._idle:
            while self._pending:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._idle.wait(remaining)
        return True

    def close(self, timeout=10.0):
        flushed = self.flush(timeout)
        self._stopping = True
        if self._thread is not None:
            try:
                self._queue.put_nowait(_WAKE)
            except queue.Full:
                pass
            self._thread.join(timeout=1.0)
        return flushed

    def _start(self):
        with self._idle:
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="request-log-writer",
                                                daemon=True)
                self._thread.start()

    def _done(self, count):
        with self._idle:
            self._pending -= count
            if self._pending <= 0:
                self._idle.notify_all()

    def _next_batch(self):
        try:
            batch = [self._queue.get(timeout=0.2)]
        except queue.Empty:
            return []
        deadline = time.monotonic() + self._flush_seconds
        while len(batch) < self._batch_size:
            remaining = deadline - time.monotonic()
            try:
                batch.append(self._queue.get(timeout=remaining) if remaining > 0
                             else self._queue.get_nowait())
            except queue.Empty:
                break
        return batch

    def _run(self):
        while not (self._stopping and self._queue.empty()):
            batch = [row for row in self._next_batch() if row is not _WAKE]
            if batch:
                self._write_with_retry(batch)

    def _write_with_retry(self, batch):
        delay = 0.2
        while True:
            try:
                self._write_batch(batch)
                self._done(len(batch))
                return
            except Exception:
                log.exception("writing %d request-log rows failed; retrying in %.1fs",
                              len(batch), delay)
                if self._stopping:
                    self._done(len(batch))
                    return
                time.sleep(delay)
                delay = min(delay * 2, 5.0)
