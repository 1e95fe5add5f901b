"""Structured logs and the gateway's access log.

- LOG_FORMAT=json: every log line is one JSON object (JsonFormatter): time, level, logger,
  message, pid, and whatever a call passes in `extra` as fields of its own; text (the default)
  is for development. gunicorn.conf.py gives gunicorn's own lines the same formatter.
- AccessLog: one line per API request through the pipeline (logger "gateway.access", at INFO;
  ACCESS_LOG=0 turns it off), made from the request's log row when it is over. When the JSON
  handler configure() set on the root logger is the only one the line would reach, the line is
  written to that handler's stream at once, the same line JsonFormatter would make: logging's
  record, its handler chain and the formatter's walk over the record cost five times the line
  itself, on every request. Any other set-up (a handler of a test, of a logging config) gets
  the record through logging, as any other line.

Never logged: a key's secret or the Authorization / x-api-key header (a key is named by its id
and display prefix), nor prompt or answer text: the row holds none, and no setting logs it.

This module imports nothing of the app: gunicorn.conf.py loads it by its path in the master,
before a worker's gevent patching (which must come before the app's imports).
"""
import logging
import os
import re
import time
from collections.abc import Mapping
from decimal import Decimal

import orjson

ACCESS_LOGGER = "gateway.access"
CHATTY_HTTP_LOGGERS = ("httpx", "httpx2", "httpcore", "httpcore2")
FORMATS = ("text", "json")
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"

# What every LogRecord has; any other attribute came from `extra` and becomes a field.
_RECORD_ATTRIBUTES = frozenset(vars(logging.makeLogRecord({}))) | {"message", "asctime",
                                                                   "taskName"}
# A key-like token inside an error message (a gateway key, a vendor's key): its first characters
# stay, to tell keys apart, the rest never reaches a log.
_SECRET = re.compile(r"\b((?:sk|pk|rk|key)[-_][A-Za-z0-9]{0,8})[A-Za-z0-9_\-]{8,}")
ERROR_MESSAGE_CHARS = 300


def _default(value):
    if isinstance(value, Decimal):
        return float(value)
    return str(value)


_second = [None, ""]  # the last whole second formatted, and its text


def _utc_time(created):
    """created (epoch seconds) as 2026-12-03T16:04:32.123Z; the part up to the second is
    formatted once per second."""
    second, fraction = divmod(created, 1)
    micro = round(fraction * 1e6)  # as datetime.fromtimestamp rounds (half to even)
    if micro >= 1_000_000:
        second, micro = second + 1, micro - 1_000_000
    if _second[0] != second:
        _second[:] = second, time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
    return f"{_second[1]}.{micro // 1000:03d}Z"


def _head(created, level, logger, message, pid):
    """The fields every JSON line starts with."""
    return {"time": _utc_time(created), "level": level, "logger": logger, "message": message,
            "pid": pid}


def _dumps(entry):
    return orjson.dumps(entry, default=_default, option=orjson.OPT_NON_STR_KEYS).decode()


class JsonFormatter(logging.Formatter):
    """One JSON object per record, on one line (a traceback is the "exception" field)."""

    def format(self, record):
        entry = _head(record.created, record.levelname, record.name, record.getMessage(),
                      record.process)
        if record.name == "gunicorn.access" and isinstance(record.args, Mapping):
            entry.update(_gunicorn_access(record.args))
        for name, value in vars(record).items():
            if name not in _RECORD_ATTRIBUTES and not name.startswith("_"):
                entry[name] = value
        if record.exc_info:
            record.exc_text = record.exc_text or self.formatException(record.exc_info)
        if record.exc_text:
            entry["exception"] = record.exc_text
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        return _dumps(entry)


def _gunicorn_access(atoms):
    """The fields of gunicorn's access line (its atoms; request headers are never among them,
    save the response's x-request-id to find the gateway's own line)."""
    status = atoms.get("s")
    # gevent's workers give the response headers as bytes
    request_id = atoms.get("{x-request-id}o") or atoms.get("{b'x-request-id'}o")
    if isinstance(request_id, bytes):
        request_id = request_id.decode("latin-1")
    return {"remote_addr": atoms.get("h"), "method": atoms.get("m"), "path": atoms.get("U"),
            "status": int(status) if str(status).isdigit() else status,
            "bytes": atoms.get("B"), "duration_ms": atoms.get("M"),
            "user_agent": atoms.get("a"), "request_id": request_id}


def formatter(log_format):
    if log_format not in FORMATS:
        raise ValueError(f"LOG_FORMAT must be one of {', '.join(FORMATS)}, not {log_format!r}")
    return JsonFormatter() if log_format == "json" else logging.Formatter(TEXT_FORMAT)


def configure(level, log_format):
    """logging.basicConfig with LOG_FORMAT's formatter: a stderr handler on the root logger,
    unless it has handlers already (pytest's, or a logging setup made before the app)."""
    global _configured
    handler = logging.StreamHandler()
    handler.setFormatter(formatter(log_format))
    root = logging.getLogger()
    if not root.handlers:  # ours, not a test runner's that may show them
        # Neither format shows where a record was made, or its thread's or process's name: not
        # looked up for every record (the logging HOWTO's "Optimization").
        logging._srcfile = None
        logging.logThreads = False
        logging.logMultiprocessing = False
    logging.basicConfig(level=level, handlers=[handler])
    if root.handlers == [handler]:
        _configured = handler
    # The HTTP clients under the vendor SDKs say "HTTP Request: POST …" at INFO for every upstream
    # call: the access log already has each request with its deployment and status, so they
    # speak from WARNING up unless LOG_LEVEL=DEBUG asks for everything.
    number = logging.getLevelName(str(level).upper()) if isinstance(level, str) else level
    number = number if isinstance(number, int) else logging.INFO
    for name in CHATTY_HTTP_LOGGERS:
        logging.getLogger(name).setLevel(number if number <= logging.DEBUG
                                         else max(number, logging.WARNING))


def redact(text):
    """An error message fit for a log: key-like tokens cut to their prefix, and short."""
    if not text:
        return text
    text = _SECRET.sub(r"\1…", str(text))
    return text if len(text) <= ERROR_MESSAGE_CHARS else text[:ERROR_MESSAGE_CHARS] + "…"


def access_fields(row, record):
    """The fields of a request's access line, from its log row (never any text of the
    request or its answer)."""
    attempts = row.get("attempts") or ()
    return {
        "request_id": row["request_id"], "client_request_id": row.get("client_request_id"),
        "surface": row["surface"], "endpoint": row["endpoint"],
        "key_id": row.get("api_key_id"), "key_prefix": getattr(record, "key_prefix", None),
        "user_id": row.get("user_id"), "project_id": row.get("project_id"),
        "model": row.get("model"), "provider": row.get("provider"),
        "upstream_model": row.get("upstream_model"), "stream": bool(row.get("stream")),
        "status": row["status_code"], "error_type": row.get("error_type"),
        "error_message": redact(row.get("error_message")),
        "input_tokens": row.get("input_tokens"), "output_tokens": row.get("output_tokens"),
        "cached_tokens": row.get("cached_tokens"),
        "cost_usd": float(row.get("cost_usd") or 0),
        "latency_ms": row.get("latency_ms"), "ttft_ms": row.get("time_to_first_token_ms"),
        "attempts": len(attempts),
    }


def _summary(fields):
    """The message: the same facts on one line for LOG_FORMAT=text."""
    parts = [fields["request_id"], f"{fields['surface']}/{fields['endpoint']}",
             f"status={fields['status']}", f"latency_ms={fields['latency_ms']}"]
    for name in ("model", "provider", "key_prefix", "user_id", "error_type"):
        if fields[name] is not None:
            parts.append(f"{name}={fields[name]}")
    if fields["stream"]:
        parts.append("stream")
    return " ".join(str(part) for part in parts)


_configured = None  # the handler configure() set on the root logger, while it is the only one


class _Pid:
    """This process's id, read once per process (LogRecord asks the system on every record)."""
    value = os.getpid()

    @classmethod
    def refresh(cls):
        cls.value = os.getpid()


os.register_at_fork(after_in_child=_Pid.refresh)


def _direct_handler(logger):
    """configure()'s JSON handler, when it alone would write this logger's INFO lines (no other
    handler or filter on the way, none of the logger's own): its line can be written without
    logging's record. None otherwise."""
    handler = _configured
    if handler is None or handler.filters or handler.level > logging.INFO or type(
            handler.formatter) is not JsonFormatter:
        return None
    node = logger
    while node.parent is not None:  # up to the root logger
        if node.handlers or node.filters or not node.propagate:
            return None
        node = node.parent
    return handler if node.handlers == [handler] and not node.filters else None


class AccessLog:
    """Observer of the pipeline (app/observability/__init__.py): one access line per request."""

    def __init__(self, logger=None):
        self.log = logger or logging.getLogger(ACCESS_LOGGER)

    def request_finished(self, row, record):
        if not self.log.isEnabledFor(logging.INFO):
            return
        fields = access_fields(row, record)
        handler = _direct_handler(self.log)
        if handler is None:
            self.log.info(_summary(fields), extra=fields)
            return
        line = _dumps(_head(time.time(), "INFO", self.log.name, _summary(fields), _Pid.value)
                      | fields)
        with handler.lock:
            handler.stream.write(line + handler.terminator)
            handler.stream.flush()


def register(app, gateway):
    """The access log among the gateway's observers, unless ACCESS_LOG=0."""
    if app.config.get("ACCESS_LOG", True):
        gateway.observers.add(AccessLog())
