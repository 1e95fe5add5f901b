"""Structured logs (app/observability/logs.py): with LOG_FORMAT=json every line is one JSON object;
one access line per API request (gateway.access) with its ids, key prefix, user, model, provider,
status and latency; never a key's secret, never prompt or answer text. The tests read the lines
as written: through the JSON formatter in-process, and from a real gunicorn's output."""
import datetime
import io
import json
import logging
import os
import signal
import socket
import subprocess
import sys

import pytest
import requests
from hypothesis import given, settings
from hypothesis import strategies as st

from app.gateway.auth import DISPLAY_CHARS
from app.observability.logs import (
    ACCESS_LOGGER,
    CHATTY_HTTP_LOGGERS,
    JsonFormatter,
    _utc_time,
    configure,
    formatter,
    redact,
)
from tests.conftest import create_key
from tests.gunicorn_runner import ROOT, GunicornRunner

PROMPT = "the secret recipe is forty-two"
ACCESS_FIELDS = {"request_id", "client_request_id", "surface", "endpoint", "key_id",
                 "key_prefix", "user_id", "project_id", "model", "provider", "upstream_model",
                 "stream", "status", "error_type", "error_message", "input_tokens",
                 "output_tokens", "cached_tokens", "cost_usd", "latency_ms", "ttft_ms",
                 "attempts", "time", "level", "logger", "message", "pid"}


class Lines:
    """What a JSON-formatted handler on the root logger wrote."""

    def __init__(self):
        self.stream = io.StringIO()
        self.handler = logging.StreamHandler(self.stream)
        self.handler.setFormatter(JsonFormatter())

    @property
    def text(self):
        return self.stream.getvalue()

    def all(self):
        return [json.loads(line) for line in self.text.splitlines()]

    def access(self):
        return [entry for entry in self.all() if entry["logger"] == ACCESS_LOGGER]


@pytest.fixture
def log_lines(caplog):
    caplog.set_level(logging.DEBUG)
    lines = Lines()
    root = logging.getLogger()
    root.addHandler(lines.handler)
    yield lines
    root.removeHandler(lines.handler)


def _chat(client, key, model="mock-echo", **extra):
    headers = {"x-request-id": "client-7"} if key is None else {
        "Authorization": f"Bearer {key}", "x-request-id": "client-7"}
    return client.post("/v1/chat/completions", headers=headers,
                       json={"model": model, "messages": [{"role": "user", "content": PROMPT}],
                             **extra})


def test_a_success_is_one_json_access_line_with_ids_key_prefix_user_model_and_latency(
        app, log_lines):
    key = create_key(app)
    answer = _chat(app.test_client(), key)
    assert answer.status_code == 200
    [line] = log_lines.access()
    assert set(line) == ACCESS_FIELDS
    assert line["level"] == "INFO" and line["time"].endswith("Z")
    assert line["request_id"] == answer.headers["x-request-id"]
    assert line["client_request_id"] == "client-7"
    assert line["key_prefix"] == key[:DISPLAY_CHARS] and isinstance(line["key_id"], int)
    assert isinstance(line["user_id"], int)
    assert (line["model"], line["provider"], line["upstream_model"]) == ("mock-echo", "mock",
                                                                         "echo")
    assert (line["surface"], line["endpoint"], line["status"], line["stream"]) == (
        "openai", "chat", 200, False)
    assert line["error_type"] is None and line["attempts"] == 1
    assert line["input_tokens"] > 0 and line["output_tokens"] > 0 and line["cost_usd"] > 0
    assert isinstance(line["latency_ms"], int) and line["latency_ms"] >= 0
    assert line["request_id"] in line["message"] and "status=200" in line["message"]
    assert PROMPT not in log_lines.text and key not in log_lines.text


def test_a_stream_has_its_line_when_it_is_over_with_time_to_first_token(app, log_lines):
    key = create_key(app)
    answer = _chat(app.test_client(), key, stream=True)
    assert "data: [DONE]" in answer.get_data(as_text=True)
    [line] = log_lines.access()
    assert line["stream"] is True and line["status"] == 200
    assert line["ttft_ms"] is not None and line["output_tokens"] > 0
    assert PROMPT not in log_lines.text


def test_errors_401_404_429_each_have_their_line_and_no_secret(app, log_lines):
    client = app.test_client()
    wrong = "sk-gw-" + "W" * 43  # a well-formed key that is not one
    assert _chat(client, wrong).status_code == 401
    assert _chat(client, None).status_code == 401
    key = create_key(app, rpm=1)
    assert _chat(client, key, model="no-such-model").status_code == 404
    assert _chat(client, key).status_code == 200
    assert _chat(client, key).status_code == 429
    lines = log_lines.access()
    assert [line["status"] for line in lines] == [401, 401, 404, 200, 429]
    assert [line["error_type"] for line in lines][:2] == ["invalid_api_key", "missing_api_key"]
    assert lines[0]["key_prefix"] is None and lines[0]["key_id"] is None
    assert lines[2]["model"] == "no-such-model" and lines[2]["key_prefix"] == key[:DISPLAY_CHARS]
    assert lines[4]["error_type"] and lines[4]["error_message"]
    for secret in (wrong, key, wrong[DISPLAY_CHARS:], key[DISPLAY_CHARS:], PROMPT):
        assert secret not in log_lines.text  # at DEBUG, from every logger


def test_access_log_0_writes_no_access_line(app_factory, log_lines):
    app = app_factory(ACCESS_LOG=False)
    assert _chat(app.test_client(), create_key(app)).status_code == 200
    assert log_lines.access() == []


def test_other_records_keep_their_extra_fields_and_tracebacks_stay_on_one_line():
    try:
        raise ValueError("boom")
    except ValueError:
        record = logging.getLogger("gateway.test").makeRecord(
            "gateway.test", logging.ERROR, __file__, 1, "failed %s", ("once",), sys.exc_info(),
            extra={"deployment": "mock/echo"})
    line = JsonFormatter().format(record)
    assert "\n" not in line
    entry = json.loads(line)
    assert entry["message"] == "failed once" and entry["deployment"] == "mock/echo"
    assert "ValueError: boom" in entry["exception"] and entry["level"] == "ERROR"
    with pytest.raises(ValueError, match="LOG_FORMAT"):
        formatter("yaml")


DIRECT_LINE_CHECK = """
import io, json, logging
from decimal import Decimal
from app.observability import logs

class Record:
    key_prefix = "sk-gw-Ab3dEf"

row = {"request_id": "req_1", "client_request_id": "c-1", "surface": "openai",
       "endpoint": "chat", "api_key_id": 3, "user_id": 4, "project_id": None, "model": "m",
       "provider": "p", "upstream_model": "u", "stream": True, "status_code": 429,
       "error_type": "rpm_limit_exceeded", "error_message": "slow down", "input_tokens": 12,
       "output_tokens": 8, "cached_tokens": 0, "cost_usd": Decimal("0.0000066"),
       "latency_ms": 2, "time_to_first_token_ms": 1, "attempts": [{}]}
made = []
factory = logging.getLogRecordFactory()
logging.setLogRecordFactory(lambda *args, **kwargs: made.append(1) or factory(*args, **kwargs))
logs.configure("INFO", "json")
[handler] = logging.getLogger().handlers
handler.setStream(direct := io.StringIO())
access = logs.AccessLog()
access.request_finished(row, Record)
assert made == [], "a record was made"
through_logging = io.StringIO()
handler.addFilter(lambda record: True)  # a filter on the way: the line goes through logging
handler.setStream(through_logging)
access.request_finished(row, Record)
assert made == [1]
print(json.dumps([direct.getvalue(), through_logging.getvalue()]))
"""


def test_the_access_line_written_directly_is_the_one_logging_would_write():
    """With configure()'s JSON handler alone on the way, the access line skips logging's record
    (app/observability/logs.py): it must be the line the formatter makes, field for field."""
    done = subprocess.run([sys.executable, "-c", DIRECT_LINE_CHECK], cwd=ROOT,
                          capture_output=True, timeout=60, text=True)
    assert done.returncode == 0, done.stderr
    direct, through_logging = json.loads(done.stdout)
    assert direct.endswith("\n") and direct.count("\n") == 1
    direct, through_logging = json.loads(direct), json.loads(through_logging)
    assert set(direct) == ACCESS_FIELDS and direct["pid"] == through_logging["pid"]
    assert direct.pop("time")[:16] == through_logging.pop("time")[:16]
    assert list(direct.items()) == list(through_logging.items())
    assert direct["status"] == 429 and direct["cost_usd"] == 0.0000066


@settings(max_examples=2000, deadline=None)
@given(st.floats(min_value=0, max_value=4e9) | st.integers(0, 4_000_000_000).map(
    lambda second: second + 0.9995) | st.integers(0, 4_000_000_000).map(
    lambda second: second + 0.9999995))
def test_a_lines_time_is_the_one_datetime_gives_though_each_second_is_formatted_once(created):
    expected = datetime.datetime.fromtimestamp(created, datetime.UTC).isoformat(
        timespec="milliseconds").replace("+00:00", "Z")
    assert _utc_time(created) == expected
    assert _utc_time(created) == expected  # from the remembered second


def test_key_like_tokens_in_an_error_message_are_cut_to_their_prefix():
    fake_key = "sk-proj-" + "abcdefghijklmnopqrstuvwxyz" + "0123"  # built, not a literal key
    message = redact(f"Incorrect API key provided: {fake_key}.")
    assert "abcdefghijklmnop" not in message and message.startswith("Incorrect API key")


def test_an_app_started_with_log_format_json_logs_json_to_stderr():
    """register_logging in a fresh process (no handler on the root logger yet)."""
    code = ("import logging; from app import create_app; create_app(); "
            "logging.getLogger('gateway.test').warning('hello %s', 'json', "
            "extra={'field': 1})")
    env = {**os.environ, "LOG_FORMAT": "json", "DATABASE_URL": "sqlite://",
           "REDIS_URL": "", "GATEWAY_CONFIG": str(ROOT / "gateway.example.yaml")}
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True,
                          timeout=60, text=True)
    assert done.returncode == 0, done.stderr
    entries = [json.loads(line) for line in done.stderr.splitlines()]
    assert {"logger": "gateway.test", "message": "hello json", "field": 1}.items() \
        <= entries[-1].items()


@pytest.mark.parametrize("level, quietest", [("INFO", logging.WARNING), ("ERROR", logging.ERROR),
                                             ("DEBUG", logging.DEBUG)])
def test_the_http_clients_line_per_upstream_call_is_left_to_debug(level, quietest):
    """httpx's "HTTP Request: POST …" at INFO, once per upstream call, repeats the access log."""
    before = {name: logging.getLogger(name).level for name in CHATTY_HTTP_LOGGERS}
    try:
        configure(level, "json")
        for name in CHATTY_HTTP_LOGGERS:
            chatty = logging.getLogger(name)
            assert chatty.isEnabledFor(quietest) and not chatty.isEnabledFor(quietest - 1)
    finally:
        for name, value in before.items():
            logging.getLogger(name).setLevel(value)


def _bad_request(url):
    """A request line gevent cannot parse: answered 400 before the app sees it."""
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=5) as sock:
        sock.sendall(b"BLAH\r\n\r\n")
        assert sock.recv(100).startswith(b"HTTP/1.1 400")


def _run_gunicorn(app, upstream, tmp_path, **env):
    """Serve a success, a refused key, a stream and an unparsable request; stop; the output."""
    runner = GunicornRunner(upstream, tmp_path, chunk_delay_ms=5)
    try:
        url, process = runner.start(LOG_FORMAT="json", LOG_LEVEL="info", **env)
        key = create_key(app)
        wrong = "sk-gw-" + "V" * 43
        body = {"model": "mock-echo", "messages": [{"role": "user", "content": PROMPT}]}
        ok = requests.post(f"{url}/v1/chat/completions", json=body, timeout=10,
                           headers={"Authorization": f"Bearer {key}"})
        refused = requests.post(f"{url}/v1/messages", timeout=10,
                                json={**body, "max_tokens": 10}, headers={"x-api-key": wrong})
        streamed = requests.post(f"{url}/v1/chat/completions", json={**body, "stream": True},
                                 headers={"Authorization": f"Bearer {key}"}, timeout=10)
        assert (ok.status_code, refused.status_code, streamed.status_code) == (200, 401, 200)
        assert "data: [DONE]" in streamed.text
        _bad_request(url)
        process.send_signal(signal.SIGTERM)
        output, _ = process.communicate(timeout=30)
    finally:
        runner.stop()
    text = output.decode()
    assert process.returncode == 0, text
    for secret in (key, wrong, key[DISPLAY_CHARS:], PROMPT):
        assert secret not in text
    entries = [json.loads(line) for line in text.splitlines()]  # every line is JSON
    messages = [e["message"] for e in entries if e["logger"] == "gunicorn.error"]
    assert any(m.startswith("Booting worker") for m in messages), messages
    assert any("Invalid HTTP method" in e["message"] for e in entries
               if e["logger"] == "gevent.pywsgi")
    assert not any("Traceback" in e["message"] or "exception" in e for e in entries), text
    ids = [r.headers["x-request-id"] for r in (ok, refused, streamed)]
    access = [e for e in entries if e["logger"] == ACCESS_LOGGER]
    assert [(e["request_id"], e["status"]) for e in access] == list(zip(ids, (200, 401, 200),
                                                                        strict=True))
    assert access[0]["key_prefix"] == key[:DISPLAY_CHARS] and access[2]["stream"] is True
    assert access[1]["surface"] == "anthropic" and access[1]["key_prefix"] is None
    return entries, ids


def test_gunicorn_with_log_format_json_writes_only_json_lines(app, upstream, tmp_path):
    entries, ids = _run_gunicorn(app, upstream, tmp_path, GUNICORN_ACCESS_LOG="-")
    served = {e["request_id"]: e for e in entries if e["logger"] == "gunicorn.access"}
    assert set(ids) <= set(served) and served[ids[1]]["status"] == 401
    assert served[ids[0]]["method"] == "POST" and served[ids[0]]["path"] == "/v1/chat/completions"


def test_gunicorn_access_log_stays_off_without_gunicorn_access_log(app, upstream, tmp_path):
    entries, _ = _run_gunicorn(app, upstream, tmp_path, GUNICORN_ACCESS_LOG="")
    assert not [e for e in entries if e["logger"] == "gunicorn.access"]
