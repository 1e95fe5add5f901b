"""Keep-alive pings written straight to the client during a stream's silences, without a reader
thread (app/vendors/silence.py): the wait for the upstream's next bytes is cut into slices, in
the SDK transport's reads and in the mock vendor's pauses, and the gateway pings after each
silent one through the server's write callable (gevent workers give it as
environ["gateway.send_now"]; the test client is handed one here)."""
import json
import time

import httpcore2
import pytest

from app.vendors import silence
from app.vendors.transport import _ProbedOnReuse
from tests.conftest import create_key, logged
from tests.mock_upstream import Stream, openai_chunks

PING = b": keep-alive\n\n"
HI = [{"role": "user", "content": "hi"}]


class SilentStream:
    """An httpcore network stream whose reads time out `silent` times, then return data."""

    def __init__(self, silent=0, waits=False):
        self.silent, self.waits, self.timeouts = silent, waits, []

    def read(self, max_bytes, timeout=None):
        self.timeouts.append(timeout)
        if self.silent is None or len(self.timeouts) <= self.silent:
            if self.waits:
                time.sleep(timeout)
            raise httpcore2.ReadTimeout("timed out")
        return b"data"


def watched(interval, call):
    """call() with a watch set, as pinging() sets it while a frame is awaited."""
    pings = []

    def frames_source():
        yield call()

    frames = silence.pinging(frames_source(), interval, pings.append, PING)
    return next(frames), pings


def test_a_read_pings_after_each_silent_slice_then_returns_the_data():
    inner = SilentStream(silent=3)
    data, pings = watched(0.05, lambda: _ProbedOnReuse(inner).read(4096, timeout=60))
    assert data == b"data" and pings == [PING] * 3
    assert inner.timeouts == [0.05] * 4  # each wait a slice, none the whole 60 s


def test_a_read_keeps_its_own_timeout_while_it_pings():
    inner = SilentStream(silent=None, waits=True)
    started = time.monotonic()
    with pytest.raises(httpcore2.ReadTimeout):
        watched(0.1, lambda: _ProbedOnReuse(inner).read(4096, timeout=0.35))
    assert 0.3 < time.monotonic() - started < 1.0
    assert all(t <= 0.1 for t in inner.timeouts) and len(inner.timeouts) in (4, 5)


def test_without_a_watch_a_read_is_plain():
    inner = SilentStream(silent=1)
    with pytest.raises(httpcore2.ReadTimeout):
        _ProbedOnReuse(inner).read(4096, timeout=30)
    assert inner.timeouts == [30]


def test_the_watch_is_set_only_while_a_frame_is_awaited():
    seen = []

    def frames():
        seen.append(silence.current())
        yield b"one"
        seen.append(silence.current())
        yield b"two"

    stream = silence.pinging(frames(), 0.5, lambda data: None, PING)
    assert next(stream) == b"one" and silence.current() is None
    assert next(stream) == b"two" and silence.current() is None
    assert [watch[0] for watch in seen] == [0.5, 0.5]


def test_closing_the_pinging_stream_closes_the_frames():
    closed = []

    def frames():
        try:
            yield b"one"
            yield b"two"
        finally:
            closed.append(True)

    stream = silence.pinging(frames(), 0.5, lambda data: None, PING)
    next(stream)
    stream.close()
    assert closed == [True]


def test_a_failed_ping_raises_client_gone_from_the_write_error():
    def refuse(data):
        raise BrokenPipeError("client gone")

    def frames():
        silence.sleep(0.08)
        yield b"never"

    with pytest.raises(silence.ClientGone) as info:
        next(silence.pinging(frames(), 0.03, refuse, PING))
    assert isinstance(info.value.__cause__, BrokenPipeError)


def test_a_watched_sleep_pings_in_slices():
    _, pings = watched(0.04, lambda: silence.sleep(0.1))
    assert pings == [PING, PING]


def test_a_stream_pings_through_the_servers_write_callable(app_factory, upstream):
    app = app_factory(STREAM_KEEPALIVE_SECONDS=0.1)
    key = create_key(app)
    upstream.script(Stream(openai_chunks("slow words here", model="gpt-upstream"),
                           chunk_delay=0.35))
    sent = []
    response = app.test_client().post(
        "/v1/chat/completions", json={"model": "gpt-test", "messages": HI, "stream": True},
        headers={"Authorization": f"Bearer {key}"},
        environ_overrides={"gateway.send_now": sent.append})
    body = response.get_data()
    assert len(sent) >= 4 and set(sent) == {PING}  # ~0.35 s between chunks, a ping per 0.1 s
    assert PING not in body  # none went through the response iterable
    chunks = [json.loads(line[6:]) for line in body.split(b"\n\n") if line.startswith(b"data: {")]
    assert "".join(c["choices"][0]["delta"].get("content") or ""
                   for c in chunks if c["choices"]) == "slow words here"
    assert body.endswith(b"data: [DONE]\n\n")
    assert logged(app, count=1)[0].status_code == 200


def test_a_ping_that_finds_the_client_gone_ends_the_stream_as_499(app_factory, upstream):
    app = app_factory(STREAM_KEEPALIVE_SECONDS=0.1)
    key = create_key(app)
    upstream.script(Stream(openai_chunks("slow words here", model="gpt-upstream"),
                           chunk_delay=0.35))

    def gone(data):
        raise ConnectionResetError(104, "Connection reset by peer")

    response = app.test_client().post(
        "/v1/chat/completions", json={"model": "gpt-test", "messages": HI, "stream": True},
        headers={"Authorization": f"Bearer {key}"}, buffered=False,
        environ_overrides={"gateway.send_now": gone})
    frames = iter(response.response)
    assert next(frames).startswith(b"data: {")  # the first chunk, before the silence
    with pytest.raises(ConnectionResetError):  # the server's own write error, for it to handle
        list(frames)
    [row] = logged(app, count=1)
    assert row.status_code == 499 and row.error_type == "client_disconnected"
    assert upstream.wait_disconnect(timeout=2.0) is not None  # the upstream call was closed
