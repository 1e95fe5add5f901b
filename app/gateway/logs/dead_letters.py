"""Rows the database refused for their content even after repair (request_logs.repair_row):
they go to `dead-letters.jsonl` in the spool directory — one JSON line each, `{"reason", "row"}`,
in the spool's encoding — with one loud log line per batch, so they never block the rows behind
them and nothing is lost. The file is kept for an operator; the gateway never reads it."""
import logging
import os
import threading
from pathlib import Path

from .spool import encode

log = logging.getLogger("app.gateway.logs.writer")
FILE_NAME = "dead-letters.jsonl"


class DeadLetters:
    def __init__(self, directory):
        self.path = Path(directory) / FILE_NAME
        self.count = 0  # rows this process moved here
        self._lock = threading.Lock()

    def add(self, refused):
        """refused: [(row, reason)]. Never raises: a row that cannot be written here either is
        logged whole, at error level."""
        ids = ", ".join(str(row.get("request_id")) for row, _ in refused[:5])
        more = f" and {len(refused) - 5} more" if len(refused) > 5 else ""
        try:
            data = b"".join(encode({"reason": reason, "row": row}) for row, reason in refused)
            with self._lock:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
                try:
                    os.write(fd, data)
                    os.fsync(fd)
                finally:
                    os.close(fd)
                self.count += len(refused)
        except Exception:
            log.exception("request-log writer: could not write %d refused rows to %s",
                          len(refused), self.path)
            for row, reason in refused:
                log.error("request log lost (%s): %r", reason, row)
            return
        log.error("request-log writer: the database refused %d row(s) for their content (%s); "
                  "moved to %s: %s%s", len(refused), refused[0][1][:200], self.path, ids, more)
