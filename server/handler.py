"""gevent's WSGI handler with a bound on every wait for the client.

A connection is always in one of three phases, each with its bound:

- waiting for a request: a new connection must send its request line and headers within
  `header_timeout` of its accept; a kept-alive one may stay idle up to `keepalive` seconds, then
  has `header_timeout` from the first byte of its next request to the end of its headers;
- reading the body: the time spent waiting for body bytes may not exceed
  `body_timeout + received / body_min_rate` — a grace period, then a minimum average rate; time
  the application spends elsewhere (authenticating, calling the vendor) does not count;
- answering: a write to the client (an SSE event, a whole answer) may wait at most
  `send_timeout` for the client to take it.

Nothing is paid for this while the client keeps up: a read or write is first tried at once on
the socket, and only one that has to wait is noted (in `Watch.waiting`). Once a second, the
worker's Watch shuts down the socket of every wait over its bound, which ends the wait; a client
still sending its headers or its body then gets 408 (the body's, from the application:
app/routes/body.py), and the connection is closed.
"""
import errno
import io
import logging
import socket
import time
from dataclasses import dataclass

import gevent
from gevent.socket import socket as GeventSocket
from gunicorn.workers.ggevent import PyWSGIHandler

log = logging.getLogger(__name__)

# The environ key of the handler's write callable (PEP 3333's, sent at once): the gateway's
# streams write their keep-alive pings with it (app/routes/__init__.py, app/vendors/silence.py).
SEND_NOW = "gateway.send_now"
REQUEST_TIMEOUT_BODY = (b'{"type": "error", "error": {"type": "invalid_request_error", "code": '
                        b'"request_timeout", "param": null, "message": "The request was not '
                        b'received in time."}}')
REQUEST_TIMEOUT = (b"HTTP/1.1 408 Request Timeout\r\nContent-Type: application/json\r\n"
                   b"Connection: close\r\nContent-Length: %d\r\n\r\n%s"
                   % (len(REQUEST_TIMEOUT_BODY), REQUEST_TIMEOUT_BODY))


@dataclass(frozen=True)
class Bounds:
    """Seconds, and bytes per second for body_min_rate (gunicorn.conf.py reads them)."""
    header_timeout: float = 20.0
    body_timeout: float = 20.0
    body_min_rate: float = 16384.0
    send_timeout: float = 120.0
    keepalive: float = 75.0


class ClientTimeout(TimeoutError):
    """The client did not send its request (line, headers or body) within its bound."""


class Watch:
    """The waits of one worker's connections; check() ends those over their bound. Once the
    worker is stopping (`closing`), kept-alive connections are closed instead of waiting idle."""

    interval = 1.0

    def __init__(self, bounds):
        self.bounds = bounds
        self.waiting = set()  # ClientIO objects waiting on their client now
        self.closing = False

    def run(self):
        while True:
            gevent.sleep(self.interval)
            try:
                self.check(time.monotonic())
            except Exception:
                log.exception("checking the client connections' bounds failed")

    def check(self, now):
        for io_ in [io_ for io_ in self.waiting if io_.overdue(now)]:
            io_.expire()


class ClientIO(io.RawIOBase):
    """The client socket as the handler's raw input (and its output), in phases."""

    def __init__(self, sock, watch):
        super().__init__()
        self.sock, self.watch = sock, watch
        self.bounds = watch.bounds
        # A plain socket is tried at once, natively; a TLS one only through gevent.
        plain = type(sock) is GeventSocket
        self.try_recv_into = sock._sock.recv_into if plain else _would_block
        self.try_send = sock._sock.send if plain else _would_block
        sock.timeout = None  # the server's handshake timeout; from now on, the Watch's bounds
        self.deadline = time.monotonic() + self.bounds.header_timeout
        self.idle = False  # a kept-alive connection before the first byte of its next request
        self.body = self.sending = False
        self.waited = self.received = self.since = 0
        self.expired = None

    def readable(self):
        return True

    def expect_request(self, idle):
        self.body, self.idle = False, idle
        bounds = self.bounds
        self.deadline = time.monotonic() + (bounds.keepalive if idle else bounds.header_timeout)

    def expect_body(self):
        self.body, self.waited, self.received = True, 0.0, 0

    def readinto(self, buffer):
        if self.expired:
            raise ClientTimeout(self.expired)
        try:
            count = self.try_recv_into(buffer)
        except BlockingIOError:
            count = self._wait(self.sock.recv_into, buffer)
        if self.body:
            self.received += count
        elif self.idle and count:
            self.idle = False
            self.deadline = time.monotonic() + self.bounds.header_timeout
        return count

    def sendall(self, data):
        try:
            sent = self.try_send(data)
        except BlockingIOError:
            sent = 0
        if sent < len(data):
            self.sending = True
            try:
                self._wait(self.sock.sendall, memoryview(data)[sent:])
            except ClientTimeout as exc:  # gevent closes quietly on a broken pipe
                raise BrokenPipeError(errno.EPIPE, str(exc)) from None
            finally:
                self.sending = False

    def _wait(self, method, data):
        self.since = time.monotonic()
        waiting = self.watch.waiting
        waiting.add(self)
        try:
            result = method(data)
        except OSError:  # expire() shut the socket down under this wait
            if self.expired:
                raise ClientTimeout(self.expired) from None
            raise
        finally:
            waiting.discard(self)
            if self.body and not self.sending:
                self.waited += time.monotonic() - self.since
        if self.expired:
            raise ClientTimeout(self.expired)
        return result

    def overdue(self, now):
        bounds = self.bounds
        if self.sending:
            return now - self.since > bounds.send_timeout
        if self.body:
            return (self.waited + now - self.since
                    > bounds.body_timeout + self.received / bounds.body_min_rate)
        return now > self.deadline or (self.idle and self.watch.closing)

    def expire(self):
        """Over its bound: the wait ends (the socket is shut down) with ClientTimeout."""
        self.expired = ("the client did not take the answer in time" if self.sending else
                        "request body arrives too slowly" if self.body else
                        "request headers not received in time")
        self.watch.waiting.discard(self)
        try:
            self.sock.shutdown(socket.SHUT_RDWR if self.sending else socket.SHUT_RD)
        except OSError:
            pass


def _would_block(*args):
    raise BlockingIOError


class BoundedHandler(PyWSGIHandler):
    """gunicorn's PyWSGIHandler reading and writing through a ClientIO (server.watch)."""

    def __init__(self, sock, address, server):
        # What WSGIHandler.__init__ does, but with the bounded reader instead of sock.makefile()
        # (same 8 KiB buffer).
        self.socket, self.client_address, self.server = sock, address, server
        self.client = ClientIO(sock, server.watch)
        self.rfile = io.BufferedReader(self.client)

    def get_environ(self):
        environ = super().get_environ()
        # Bytes to the client at once, in the response being streamed: the keep-alive pings the
        # gateway sends while a frame is awaited (app/vendors/silence.py).
        environ[SEND_NOW] = self.write
        return environ

    def read_request(self, raw_requestline):
        result = super().read_request(raw_requestline)
        self.client.expect_body()
        return result

    def handle_one_request(self):
        result = super().handle_one_request()
        if result is True:  # answered, and the connection stays open for the next request
            if self.client.expired or self.server.watch.closing:
                return None  # unless its client was too slow, or the worker is stopping
            self.client.expect_request(idle=True)
        return result

    def _sendall(self, data):
        # WSGIHandler._sendall, writing through the ClientIO
        try:
            self.client.sendall(data)
        except OSError as ex:
            self.status = f"socket error: {ex}"
            if self.code > 0:
                self.code = -self.code
            raise
        self.response_length += len(data)

    def _handle_client_error(self, ex):
        if isinstance(ex, ClientTimeout):
            self.close_connection = True
            return "408", REQUEST_TIMEOUT
        return super()._handle_client_error(ex)
