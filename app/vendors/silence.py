"""Keep-alive pings without a second thread or greenlet per stream.

While the pipeline waits for a stream's next frame (pinging()), a vendor's wait for the
upstream's next bytes is cut into slices of `interval` seconds, and after each slice without
data `on_silence()` runs: the pipeline writes a keep-alive frame straight to the client, through
the server's write callable (gevent workers: server/handler.py), while the read goes on in the
same greenlet. Waits that honour it: the SDK transport's socket reads (transport.py) and the mock
vendor's pauses (sleep() here). Without a watch set, reads and sleeps are plain.
"""
import contextvars
import time

_WATCH = contextvars.ContextVar("gateway_silence_watch", default=None)
_END = object()


class ClientGone(BaseException):
    """A ping could not be written: the client went away (the cause is the write's error). A
    BaseException, so that the SDKs' and httpx's `except Exception` let it through to the
    pipeline (their cleanup, closing the upstream connection, still runs)."""


def current():
    """(interval, on_silence) while a stream's frame is awaited, else None."""
    return _WATCH.get()


def pinging(frames, interval, send_now, ping):
    """frames; while each one is awaited, `ping` is sent with send_now(bytes) after every
    `interval` seconds of silence. A failed send raises ClientGone from the frame's wait."""

    def on_silence():
        try:
            send_now(ping)
        except Exception as error:
            raise ClientGone() from error

    watch = (interval, on_silence)
    try:
        while True:
            token = _WATCH.set(watch)
            try:
                frame = next(frames, _END)
            finally:
                _WATCH.reset(token)
            if frame is _END:
                return
            yield frame
    finally:
        close = getattr(frames, "close", None)
        if close is not None:
            close()


def sleep(seconds):
    """time.sleep, calling on_silence after each `interval` of it while a watch is set."""
    watch = _WATCH.get()
    if watch is None:
        time.sleep(seconds)
        return
    interval, on_silence = watch
    deadline = time.monotonic() + seconds
    while (left := deadline - time.monotonic()) > 0:
        if left < interval:
            time.sleep(left)
            return
        time.sleep(interval)
        on_silence()
