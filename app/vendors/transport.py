"""The HTTP transport under every SDK client: httpx's own, with one change to its connection pool.

httpcore's pool asks every idle connection whether its server has closed it (a poll() of the
socket) each time a request enters or leaves the pool: 2 × the idle connections per request, a
dozen syscalls per request at 16 clients and hundreds after a burst, though a request takes one
connection. Here the question is asked once, of the connection a request takes, just before its
first byte is written: a connection the server closed while idle is closed and the pool gives the
request another one (httpcore's ConnectionNotAvailable), as it would have done after its scan.
Everything else (TLS, timeouts, limits, keep-alive expiry, errors) is httpx's.

While the pipeline awaits a stream's next frame (silence.py), a read waits in slices of the
keep-alive interval and pings the client after each silent one; its own timeout still holds.
"""
import contextlib
import contextvars
import functools
import socket
import time

import httpcore2
import httpx2

from . import silence

# TCP keep-alive on every upstream connection, as the anthropic SDK sets on its own transport: a
# peer that vanished during a long stream is noticed after ~6 minutes of silence, not never.
KEEPALIVE = [(socket.SOL_SOCKET, socket.SO_KEEPALIVE, True)] + [
    (socket.IPPROTO_TCP, option, value)
    for option, value in ((getattr(socket, "TCP_KEEPIDLE", None), 60),
                          (getattr(socket, "TCP_KEEPINTVL", None), 60),
                          (getattr(socket, "TCP_KEEPCNT", None), 5)) if option is not None]


MIN_WAIT = 0.001  # a read's last slice: a zero timeout would make the socket non-blocking
_READ_DEADLINE = contextvars.ContextVar("gateway_upstream_read_deadline", default=None)


@contextlib.contextmanager
def reads_within(seconds):
    """Every upstream read in this block gives up (httpcore2.ReadTimeout) `seconds` after its
    start, whatever its request's read timeout: httpcore fixes that one when a body's reading
    begins."""
    token = _READ_DEADLINE.set(time.monotonic() + seconds)
    try:
        yield
    finally:
        _READ_DEADLINE.reset(token)


@functools.lru_cache(maxsize=256)
def _parsed(url):
    return httpx2.URL(url)


class HttpClient(httpx2.Client):
    """The SDK clients' httpx2 client. An SDK builds each request's URL as an httpx2.URL and hands
    httpx its string, which httpx parses again (~16 µs a request): here each distinct URL string
    is parsed once. httpx2.URL is immutable, so requests may share one."""

    def build_request(self, method, url, *args, **kwargs):
        if isinstance(url, str):
            url = _parsed(url)
        return super().build_request(method, url, *args, **kwargs)


class _ProbedOnReuse(httpcore2.NetworkStream):
    """A connection's socket: says "not readable" to the pool's scan, and checks for real when a
    request is about to be written on it after an earlier answer was read."""

    def __init__(self, stream):
        self._stream = stream
        self._reused = False  # an answer was read: the next write starts another request

    def read(self, max_bytes, timeout=None):
        self._reused = True
        cap = _READ_DEADLINE.get()
        if cap is not None:
            left = cap - time.monotonic()
            if left <= 0:
                raise httpcore2.ReadTimeout("the read's time is up")
            timeout = left if timeout is None else min(timeout, left)
        watch = silence.current()
        if watch is None:
            return self._stream.read(max_bytes, timeout)
        interval, on_silence = watch
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            wait = interval if deadline is None else min(
                interval, max(deadline - time.monotonic(), MIN_WAIT))
            try:
                return self._stream.read(max_bytes, wait)
            except httpcore2.ReadTimeout:  # the socket stays usable: nothing was consumed
                if deadline is not None and time.monotonic() >= deadline:
                    raise
                on_silence()

    def write(self, buffer, timeout=None):
        if self._reused:
            self._reused = False
            if self._stream.get_extra_info("is_readable"):  # the server closed it while idle
                self._stream.close()
                raise httpcore2.ConnectionNotAvailable()
        self._stream.write(buffer, timeout)

    def close(self):
        self._stream.close()

    def start_tls(self, ssl_context, server_hostname=None, timeout=None):
        return _ProbedOnReuse(self._stream.start_tls(ssl_context, server_hostname, timeout))

    def get_extra_info(self, info):
        if info == "is_readable":
            return False
        return self._stream.get_extra_info(info)


class _Backend(httpcore2.NetworkBackend):
    def __init__(self):
        self._backend = httpcore2.SyncBackend()

    def connect_tcp(self, host, port, timeout=None, local_address=None, socket_options=None):
        return _ProbedOnReuse(self._backend.connect_tcp(host, port, timeout, local_address,
                                                        socket_options))

    def connect_unix_socket(self, path, timeout=None, socket_options=None):
        return _ProbedOnReuse(self._backend.connect_unix_socket(path, timeout, socket_options))

    def sleep(self, seconds):
        self._backend.sleep(seconds)


class Transport(httpx2.HTTPTransport):
    """httpx2.HTTPTransport (HTTP/1.1, no proxy: the gateway's upstream calls) whose pool probes
    a connection once, when a request reuses it."""

    def __init__(self, *, verify, limits):
        super().__init__(verify=verify, limits=limits)
        self._pool = httpcore2.ConnectionPool(
            ssl_context=verify, max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry, socket_options=KEEPALIVE,
            network_backend=_Backend())
