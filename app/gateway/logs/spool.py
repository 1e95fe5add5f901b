"""The request-log spool: where rows go while the database does not take them (DESIGN.md §8).

Format: JSON lines, one row (a dict of RequestLog columns) per line, UTF-8. Values JSON cannot
hold are tagged losslessly: ``{"$decimal": "0.0000125"}`` (Decimal, from its exact string) and
``{"$datetime": "2025-01-02T03:04:05.123456"}`` (isoformat, tz offset kept when present).
Appends are fsync'd once per batch; a failed append is cut back off the file, so a line is either
whole or absent (a torn last line can only come from a process that died mid-write: it is skipped).

Files: each writer appends to its own ``requests-<pid>-<token>.jsonl`` in the spool directory, so
gunicorn workers (and several apps in one test process) never interleave writes. A file whose
process is dead (or, for this pid, whose writer is gone) is an orphan: a writer takes it by
renaming it atomically into its own name (``requests-<pid>-<token>.adopted-<n>.jsonl``) -- of two
processes renaming the same file only one succeeds -- and replays it. A file is removed only once
every row of it is committed; a crash in between leaves it for the next writer, and the database
ignores request_ids it already has, so replaying a file again adds no duplicate.
"""
import json
import logging
import os
import re
import threading
import uuid
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

log = logging.getLogger(__name__)

DEFAULT_DIR = Path(__file__).resolve().parents[3] / "instance" / "spool"
_NAME = re.compile(r"^requests-(\d+)-([0-9a-f]+)(?:\.adopted-\d+)?\.jsonl$")
_LIVE = set()  # "<pid>-<token>" of this process's open spools
_LIVE_LOCK = threading.Lock()
# One lock for the files of every spool of this process: a writer taking over the file of a writer
# closed in this process can then never race a late append to it (other processes never touch a
# live process's files).
_FILES_LOCK = threading.Lock()


def _default(value):
    if isinstance(value, Decimal):
        return {"$decimal": str(value)}
    if isinstance(value, datetime):
        return {"$datetime": value.isoformat()}
    if isinstance(value, date):
        return {"$date": value.isoformat()}
    log.warning("request-log spool: %s value %r written as text", type(value).__name__, value)
    return str(value)


_DECODERS = {"$decimal": Decimal, "$datetime": datetime.fromisoformat,
             "$date": date.fromisoformat}


def _object_hook(obj):
    if len(obj) == 1:
        (tag, value), = obj.items()
        decode = _DECODERS.get(tag)
        if decode is not None and isinstance(value, str):
            return decode(value)
    return obj


def encode(row):
    """One spool line (bytes, newline included)."""
    return (json.dumps(row, default=_default, ensure_ascii=False, separators=(",", ":"))
            + "\n").encode()


def decode(line):
    return json.loads(line, object_hook=_object_hook)


def pid_alive(pid):
    """True if process pid exists and is not a zombie (Linux /proc; elsewhere: exists)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat:
            return stat.read().rsplit(b")", 1)[1].split()[0] != b"Z"
    except (OSError, IndexError):
        return True


def _fsync_dir(directory):
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


class Spool:
    """One writer's spool: its own append-only file and the files it adopted, replayed oldest
    first. Thread-safe: the writer thread replays while request threads may append (full queue)."""

    def __init__(self, directory=None):
        self.directory = Path(directory or DEFAULT_DIR)
        self.owner = f"{os.getpid()}-{uuid.uuid4().hex[:12]}"
        self.path = self.directory / f"requests-{self.owner}.jsonl"
        self._files = []  # [path, offset] to replay, oldest first; our own file last
        self._adopted = 0
        self.backlog = 0  # rows spooled and not yet committed
        self.appended = 0  # rows ever appended by this spool
        with _LIVE_LOCK:
            _LIVE.add(self.owner)

    def writable(self):
        """Could rows be appended now (the directory exists or can be made, and is writable)?"""
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
        except OSError:
            return False
        return os.access(self.directory, os.W_OK)

    def release(self):
        """This spool's writer is gone: its file (if any is left) becomes an orphan."""
        with _LIVE_LOCK:
            _LIVE.discard(self.owner)

    def append(self, rows):
        """Append rows and fsync once; raises (leaving the file as it was) if that fails."""
        data = b"".join(encode(row) for row in rows)
        with _FILES_LOCK:
            self.directory.mkdir(parents=True, exist_ok=True)
            created = not self.path.exists()
            with open(self.path, "ab") as spool_file:
                size = spool_file.tell()
                try:
                    spool_file.write(data)
                    spool_file.flush()
                    os.fsync(spool_file.fileno())
                except BaseException:
                    spool_file.truncate(size)
                    raise
            if created:
                _fsync_dir(self.directory)
            if not self._files or self._files[-1][0] != self.path:
                self._files.append([self.path, 0])
            self.backlog += len(rows)
            self.appended += len(rows)

    def adopt_orphans(self):
        """Take every orphaned spool file of the directory; returns how many rows they hold."""
        try:
            names = sorted(os.listdir(self.directory))
        except FileNotFoundError:
            return 0
        found = []
        for name in names:
            match = _NAME.match(name)
            if match is None or not self._orphaned(int(match[1]), f"{match[1]}-{match[2]}"):
                continue
            try:
                found.append((os.stat(self.directory / name).st_mtime, name))
            except FileNotFoundError:
                continue
        rows = 0
        for _, name in sorted(found):
            rows += self._adopt(name)
        if rows:
            _fsync_dir(self.directory)
        return rows

    def _orphaned(self, pid, owner):
        if pid == os.getpid():
            with _LIVE_LOCK:
                return owner not in _LIVE
        return not pid_alive(pid)

    def _adopt(self, name):
        with _FILES_LOCK:
            self._adopted += 1
            target = self.directory / f"requests-{self.owner}.adopted-{self._adopted}.jsonl"
            try:
                os.rename(self.directory / name, target)
            except FileNotFoundError:  # another writer took it first
                return 0
            with open(target, "rb") as adopted:
                rows = sum(chunk.count(b"\n") for chunk in iter(lambda: adopted.read(1 << 20), b""))
            own = [entry for entry in self._files if entry[0] == self.path]
            self._files = [entry for entry in self._files if entry[0] != self.path]
            self._files += [[target, 0], *own]
            self.backlog += rows
        log.warning("request-log spool: adopted %s (%d rows) as %s", name, rows, target.name)
        return rows

    def peek(self, max_rows):
        """(rows, cursor): up to max_rows of the oldest spooled rows, not yet committed; pass the
        cursor to commit() once they are in the database. (None, None) when the spool is empty."""
        with _FILES_LOCK:
            while self._files:
                path, offset = self._files[0]
                rows, lines, end = self._read(path, offset, max_rows)
                if lines:
                    return rows, (path, end, lines)
                self._files[0][1] = end
                if not self._finish(path, end):
                    break
            return None, None

    def commit(self, cursor):
        """The rows of cursor are committed: move past them; a file read to its end is removed."""
        path, end, lines = cursor
        with _FILES_LOCK:
            for entry in self._files:
                if entry[0] == path:
                    entry[1] = end
                    break
            self.backlog = max(0, self.backlog - lines)
            self._finish(path, end)

    def _finish(self, path, offset):
        """Remove path (and forget it) if everything up to its end has been replayed."""
        try:
            size = os.path.getsize(path)
        except FileNotFoundError:
            size = 0
        if offset < size:
            return False
        self._files = [entry for entry in self._files if entry[0] != path]
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass
        return True

    @staticmethod
    def _read(path, offset, max_rows):
        """(rows, lines consumed, new offset). Skips (and logs) undecodable lines; a last line
        without its newline is torn (its writer died mid-append) and is skipped too."""
        rows, lines = [], 0
        try:
            spool_file = open(path, "rb")
        except FileNotFoundError:
            return rows, lines, offset
        with spool_file:
            spool_file.seek(offset)
            while len(rows) < max_rows:
                line = spool_file.readline()
                if not line:
                    break
                if not line.endswith(b"\n"):
                    log.error("request-log spool %s: skipping torn last line %r", path, line)
                    offset += len(line)
                    break
                offset += len(line)
                lines += 1
                try:
                    rows.append(decode(line))
                except ValueError:
                    log.error("request-log spool %s: skipping undecodable line %r", path, line)
        return rows, lines, offset
