"""The database as the request-log writer sees it: up, or down since a failed write and probed
again after a delay that doubles from `first` up to `longest` seconds."""
import logging
import time

log = logging.getLogger("app.gateway.logs.writer")


class Outage:
    def __init__(self, first=0.5, longest=5.0):
        self.first = first
        self.longest = longest
        self.delay = first
        self.retry_at = 0.0  # when to probe the database again while the spool holds rows
        self.down = False
        self.errors = 0  # failed writes (metrics)

    def failed(self, exc, count, spool):
        """A write of count rows failed: say so (loudly the first time) and schedule a probe."""
        if not self.down:
            log.error("request-log writer: the database did not take %d rows (%s: %s); "
                      "spooling to %s until it does", count, type(exc).__name__,
                      str(exc).strip().split("\n")[0][:300], spool.path)
        else:
            log.warning("request-log writer: database still unavailable (%s); %d rows spooled",
                        type(exc).__name__, spool.backlog)
        self.down = True
        self.errors += 1
        self.schedule()

    def schedule(self):
        self.retry_at = time.monotonic() + self.next_delay()

    def next_delay(self):
        delay = self.delay
        self.delay = min(self.delay * 2, self.longest)
        return delay

    def recovered(self, spool):
        if self.down:
            log.warning("request-log writer: the database is back; %d spooled rows to replay",
                        spool.backlog)
        self.down = False
        self.delay = self.first
        self.retry_at = 0.0
