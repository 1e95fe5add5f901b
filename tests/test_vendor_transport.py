"""app/vendors/transport.py: httpx's pool probes an idle connection once, when a request takes it,
and a connection its server closed while idle is replaced without failing the request."""
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import httpcore2
import httpx2
import pytest

from app.vendors import sdk
from app.vendors.transport import Transport, _ProbedOnReuse

LIMITS = httpx2.Limits(max_connections=64, max_keepalive_connections=64, keepalive_expiry=30)


class Server:
    """HTTP/1.1 on loopback: answers "ok" after `delay` seconds, keeps each connection open, or
    closes it right after the answer (as a server does with idle connections) when close_idle."""

    def __init__(self, delay=0.0, close_idle=False):
        self.delay, self.close_idle = delay, close_idle
        self.connections = 0
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.listener.getsockname()[1]}/"
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            self.connections += 1
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn):
        with conn:
            buffer = b""
            while True:
                while b"\r\n\r\n" not in buffer:
                    chunk = conn.recv(65536)
                    if not chunk:
                        return
                    buffer += chunk
                head, _, buffer = buffer.partition(b"\r\n\r\n")
                length = next((int(line.split(b":")[1]) for line in head.split(b"\r\n")
                               if line.lower().startswith(b"content-length:")), 0)
                while len(buffer) < length:
                    buffer += conn.recv(65536)
                buffer = buffer[length:]
                time.sleep(self.delay)
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
                if self.close_idle:
                    return

    def close(self):
        self.listener.close()


@pytest.fixture
def probes(monkeypatch):
    """How many times a socket was polled for readability (httpcore's idle-connection check)."""
    from httpcore2._backends import sync

    calls = []
    real = sync.is_socket_readable

    def counted(sock):
        calls.append(sock)
        return real(sock)

    monkeypatch.setattr(sync, "is_socket_readable", counted)
    return calls


def _fill_pool(client, url, connections):
    """`connections` requests at once, so that the pool ends up holding that many idle ones."""
    with ThreadPoolExecutor(connections) as pool:
        answers = list(pool.map(lambda _: client.post(url, content=b"{}"), range(connections)))
    assert [a.text for a in answers] == ["ok"] * connections


@pytest.mark.parametrize("transport, most", [(lambda: Transport(verify=sdk.tls_context(),
                                                                limits=LIMITS), 1),
                                             (lambda: httpx2.HTTPTransport(limits=LIMITS), None)])
def test_a_request_probes_only_the_connection_it_takes(transport, most, probes):
    server = Server(delay=0.2)
    try:
        with httpx2.Client(transport=transport()) as client:
            _fill_pool(client, server.url, 6)
            assert server.connections == 6
            probes.clear()
            assert client.post(server.url, content=b"{}").text == "ok"
        if most is None:  # httpx's own pool: every idle connection, on the way in and out
            assert len(probes) >= 2 * 5
        else:
            assert len(probes) == most
        assert server.connections == 6  # a kept connection was reused
    finally:
        server.close()


def test_a_connection_the_server_closed_while_idle_is_replaced(probes):
    server = Server(close_idle=True)
    try:
        with httpx2.Client(transport=Transport(verify=sdk.tls_context(), limits=LIMITS)) as client:
            for _ in range(5):
                assert client.post(server.url, content=b'{"a": 1}').text == "ok"
                time.sleep(0.05)  # the server's close reaches the idle connection
        assert server.connections == 5
        assert len(probes) == 4  # each reuse was probed once, found closed, and replaced
    finally:
        server.close()


def test_a_fresh_connection_is_not_probed_and_tls_streams_stay_probed():
    class Inner:
        def __init__(self):
            self.written, self.closed = [], False

        def read(self, max_bytes, timeout=None):
            return b"answer"

        def write(self, buffer, timeout=None):
            self.written.append(buffer)

        def close(self):
            self.closed = True

        def start_tls(self, ssl_context, server_hostname=None, timeout=None):
            return Inner()

        def get_extra_info(self, info):
            return True if info == "is_readable" else "other"

    stream = _ProbedOnReuse(Inner())
    stream.write(b"first request")  # a new connection: written without a probe
    assert stream.get_extra_info("is_readable") is False  # the pool's scan costs nothing
    assert stream.get_extra_info("server_addr") == "other"
    assert stream.read(10) == b"answer"
    with pytest.raises(httpcore2.ConnectionNotAvailable):
        stream.write(b"second request")  # reused, and the inner socket says its server closed
    assert stream._stream.closed and stream._stream.written == [b"first request"]
    assert isinstance(stream.start_tls(None, "example.com"), _ProbedOnReuse)
