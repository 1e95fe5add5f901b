"""A bound on every wait for PostgreSQL, on the client's side.

The server's statement_timeout and the socket's TCP user timeout and keepalives cover a slow
query and a network that drops packets; neither covers a peer that takes packets and never
answers (a hung pooler, a half-dead load balancer, a partition behind a proxy). So psycopg2 runs
in its asynchronous mode with this wait callback: everything inside `bounded(seconds)` (a key
lookup: its ping, reconnection and query together) shares one deadline; any other operation
(connect, a statement) may wait the default; past that its socket is shut down, so libpq
fails the operation as a lost connection ("server closed the connection unexpectedly", an
OperationalError SQLAlchemy knows as a disconnect: the pool drops that connection). Closing the
connection instead would block in libpq on the same silent peer.

select.poll is gevent's under gevent workers (monkey-patched), so the wait stays cooperative,
as with psycogreen; in threads it blocks only its own thread. poll, not select: select refuses a
descriptor numbered 1024 or more, and a worker holding a thousand client connections opens its
next database connection above that.
"""
import contextlib
import contextvars
import os
import select
import socket
import time

import psycopg2
from psycopg2 import extensions

_deadline = contextvars.ContextVar("database_wait_deadline", default=None)
_default = [30.0]


def install(default_seconds):
    """Bound every PostgreSQL wait of this process by default_seconds (unless bounded())."""
    _default[0] = default_seconds
    extensions.set_wait_callback(wait)


@contextlib.contextmanager
def bounded(seconds):
    """Every database wait inside the block ends at most `seconds` after the block began."""
    token = _deadline.set(time.monotonic() + seconds)
    try:
        yield
    finally:
        _deadline.reset(token)


def wait(conn):
    deadline = _deadline.get() or time.monotonic() + _default[0]
    shut = False
    while True:
        state = conn.poll()
        if state == extensions.POLL_OK:
            return
        if state not in (extensions.POLL_READ, extensions.POLL_WRITE):
            raise psycopg2.OperationalError(f"bad state from poll: {state}")
        fd = conn.fileno()
        left = deadline - time.monotonic()
        if left > 0:
            poller = select.poll()
            poller.register(fd, select.POLLIN if state == extensions.POLL_READ else select.POLLOUT)
            if poller.poll(left * 1000):  # milliseconds
                continue
        if shut:
            raise psycopg2.OperationalError("the database did not answer in time")
        _shut_down(fd)  # the next poll() raises the lost connection
        shut = True


def _shut_down(fd):
    sock = socket.socket(fileno=os.dup(fd))
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    finally:
        sock.close()
