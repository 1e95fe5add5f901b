"""The gunicorn worker class: gunicorn's gevent_pywsgi worker whose connections are bounded in
time (server/handler.py) and which sheds load when its connections are all taken.

gevent's server stops accepting while its pool (`worker_connections`) is full, so new
connections wait in the listen backlog with no answer for as long as the pool stays full. This
server keeps accepting: a connection that finds the pool full is answered at once with a short
503 (retry-after: 1, in a body both the OpenAI and the Anthropic SDKs read) and closed. Up to
MAX_REJECTING of those answers are in progress at a time; past that, new connections are closed
without one.
"""
import functools
import logging
import socket
import time

import gevent
from gunicorn.workers.ggevent import GeventPyWSGIWorker, PyWSGIServer

from .handler import BoundedHandler, Bounds, Watch

BUSY_BODY = (b'{"type": "error", "error": {"type": "overloaded_error", "code": "server_busy", '
             b'"param": null, "message": "The gateway is at its connection limit; retry '
             b'shortly."}}')
BUSY = (b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\nRetry-After: 1\r\n"
        b"Connection: close\r\nContent-Length: %d\r\n\r\n%s" % (len(BUSY_BODY), BUSY_BODY))
MAX_REJECTING = 256
LINGER_SECONDS = 2.0  # after a 503, how long the client's request is read (and dropped) for


def _never_full():
    return False


class GatewayServer(PyWSGIServer):
    def __init__(self, *args, bounds, **kwargs):
        # gevent's own errors (a request it could not parse…) as log records, not raw stderr
        # text, so that LOG_FORMAT=json makes them JSON lines like the rest.
        kwargs.setdefault("error_log", logging.getLogger("gevent.pywsgi"))
        super().__init__(*args, **kwargs)
        self.bounds = bounds
        self.watch = Watch(bounds)
        self.rejecting = 0
        self.full = _never_full  # keep accepting when the pool is full: do_handle answers 503

    def start(self):
        super().start()
        gevent.spawn(self.watch.run)

    def close(self):
        """The worker stops: no new connections, and kept-alive ones close once idle."""
        self.watch.closing = True
        super().close()

    def do_handle(self, sock, address):
        # Until the handler takes over, a TLS handshake waits at most the header timeout.
        sock.settimeout(self.bounds.header_timeout)
        if self.pool is None or not self.pool.full():
            return super().do_handle(sock, address)
        if self.rejecting >= MAX_REJECTING:
            sock.close()
            return
        self.rejecting += 1
        gevent.spawn_raw(self._reject, sock)

    def _reject(self, sock):
        """503, then read what the client sends until it closes or LINGER_SECONDS pass, so that
        closing does not reset the connection before the client has read the answer."""
        try:
            deadline = time.monotonic() + LINGER_SECONDS
            sock.settimeout(LINGER_SECONDS)
            sock.sendall(BUSY)
            sock.shutdown(socket.SHUT_WR)
            while (left := deadline - time.monotonic()) > 0:
                sock.settimeout(left)
                if not sock.recv(65536):
                    break
        except OSError:
            pass
        finally:
            sock.close()
            self.rejecting -= 1


class GatewayWorker(GeventPyWSGIWorker):
    """worker_class = "server.worker.GatewayWorker". Its bounds come from gunicorn.conf.py
    (post_fork sets `client_bounds`, a dict of Bounds fields); keepalive is gunicorn's own
    setting."""

    wsgi_handler = BoundedHandler
    client_bounds = None

    def run(self):
        bounds = Bounds(**{"keepalive": self.cfg.keepalive, **(self.client_bounds or {})})
        self.server_class = functools.partial(GatewayServer, bounds=bounds)
        super().run()
