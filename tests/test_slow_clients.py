"""Slow clients against the real server (`gunicorn -c gunicorn.conf.py`, one gevent worker):
connections that trickle their headers or their body are closed within the configured bounds,
normal requests are still answered meanwhile, and a worker whose connections are all taken
answers 503 with retry-after at once instead of leaving new connections waiting."""
import http.client
import json
import selectors
import signal
import socket
import threading
import time
from collections import Counter

import pytest
import requests

from tests.conftest import create_key
from tests.gunicorn_runner import GunicornRunner

SLACK = 6.0  # seconds on top of a bound: a loaded 2-core machine, the test's own trickle tick
CHAT = {"model": "mock-echo", "messages": [{"role": "user", "content": "hello"}]}


@pytest.fixture
def gunicorn(upstream, tmp_path):
    runner = GunicornRunner(upstream, tmp_path, chunk_delay_ms=0)
    yield runner.start
    runner.stop()


class Trickle:
    """`count` connections that send `head` at once, then one byte of `tail` every `interval`
    seconds (all from one thread); notes when, and with what, the server ends each of them."""

    def __init__(self, url, count, head, tail=b"a", interval=0.5):
        host, port = url.removeprefix("http://").split(":")
        self.address = (host, int(port))
        self.count, self.head, self.tail, self.interval = count, head, tail, interval
        self.opened = {}  # socket -> time.monotonic() of its connect
        self.ended = []  # (seconds from connect to the server's end, first bytes received)
        self._stop = threading.Event()
        self._lock = threading.Lock()

    def __enter__(self):
        for _ in range(self.count):
            sock = socket.create_connection(self.address, timeout=10)
            self.opened[sock] = time.monotonic()
            sock.sendall(self.head)
            sock.setblocking(False)
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join(timeout=10)
        for sock in self.opened:
            sock.close()

    def open_count(self):
        with self._lock:
            return self.count - len(self.ended)

    def wait_all_ended(self, timeout):
        deadline = time.monotonic() + timeout
        while self.open_count() and time.monotonic() < deadline:
            time.sleep(0.1)
        return self.open_count() == 0

    def statuses(self):
        return sorted(self.counts())

    def counts(self):
        """{first 12 bytes of what the server sent ("" for nothing): how many connections}"""
        with self._lock:
            return dict(Counter(first[:12].decode(errors="replace") for _, first in self.ended))

    def _end(self, selector, sock, first):
        selector.unregister(sock)
        with self._lock:
            self.ended.append((time.monotonic() - self.opened[sock], first))

    def _run(self):
        selector = selectors.DefaultSelector()
        for sock in self.opened:
            selector.register(sock, selectors.EVENT_READ)
        next_tick, position = time.monotonic(), 0
        while not self._stop.is_set() and selector.get_map():
            for key, _ in selector.select(timeout=max(0.0, next_tick - time.monotonic())):
                try:
                    first = key.fileobj.recv(4096)
                except OSError:
                    first = b""
                self._end(selector, key.fileobj, first)
            if time.monotonic() >= next_tick:
                byte = self.tail[position % len(self.tail):][:1]
                position += 1
                for key in list(selector.get_map().values()):
                    try:
                        key.fileobj.send(byte)
                    except BlockingIOError:
                        pass
                    except OSError:
                        self._end(selector, key.fileobj, b"")
                next_tick = time.monotonic() + self.interval


def call_until_answered(url, key, deadline):
    """POST a chat request, retrying a 503 after its retry-after, until `deadline`: what an SDK
    does. (status, seconds taken); status None when nothing came back in time."""
    started = time.monotonic()
    while time.monotonic() < deadline:
        try:
            response = requests.post(f"{url}/v1/chat/completions", json=CHAT, timeout=max(
                0.5, deadline - time.monotonic()), headers={"Authorization": f"Bearer {key}"})
        except requests.RequestException:  # closed unanswered: the worker sheds too much
            time.sleep(0.2)
            continue
        if response.status_code != 503:
            return response.status_code, time.monotonic() - started
        assert response.headers["retry-after"] == "1"
        time.sleep(1)
    return None, time.monotonic() - started


def normal_requests(url, key, count, within):
    results = [None] * count
    deadline = time.monotonic() + within

    def run(i):
        results[i] = call_until_answered(url, key, deadline)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def test_trickled_headers_are_cut_and_normal_requests_still_answered(gunicorn, app):
    """The issue's case, scaled to one worker: more slow connections than the worker holds."""
    header_timeout, pool = 3, 600
    url, _ = gunicorn(GUNICORN_WORKER_CONNECTIONS=str(pool),
                      GUNICORN_HEADER_TIMEOUT=str(header_timeout))
    key = create_key(app)
    head = b"POST /v1/chat/completions HTTP/1.1\r\nHost: gw\r\nX-Slow: "
    with Trickle(url, 900, head) as slow:
        time.sleep(0.5)
        results = normal_requests(url, key, 5, within=header_timeout + 2 * SLACK)
        all_ended = slow.wait_all_ended(header_timeout + SLACK)
        print(f"\nheaders trickled on {slow.count} connections into a {pool}-connection worker:"
              f" still open {slow.open_count()} after {header_timeout + SLACK:.0f} s, ended with"
              f" {slow.counts()}; normal requests (status, seconds): {results}")
        assert [status for status, _ in results] == [200] * 5
        assert all_ended, f"{slow.open_count()} trickling connections still open"
        assert max(elapsed for elapsed, _ in slow.ended) < header_timeout + SLACK
        assert set(slow.statuses()) <= {"", "HTTP/1.1 408", "HTTP/1.1 503"}


def test_trickled_bodies_get_408_under_the_minimum_rate(gunicorn, app):
    grace, rate = 2, 1000  # a trickle of 2 bytes/s is far under 1000 bytes/s
    url, _ = gunicorn(GUNICORN_BODY_TIMEOUT=str(grace), GUNICORN_BODY_MIN_RATE=str(rate))
    key = create_key(app)
    head = (f"POST /v1/chat/completions HTTP/1.1\r\nHost: gw\r\nAuthorization: Bearer {key}\r\n"
            "Content-Type: application/json\r\nContent-Length: 100000\r\n\r\n"
            '{"model": "mock-echo", "messages": [').encode()
    with Trickle(url, 300, head, tail=b" ") as slow:
        time.sleep(0.5)
        results = normal_requests(url, key, 5, within=grace + SLACK)
        all_ended = slow.wait_all_ended(grace + SLACK)
        print(f"\nbodies trickled on {slow.count} connections: still open {slow.open_count()}"
              f" after {grace + SLACK:.0f} s, ended with {slow.counts()};"
              f" normal requests (status, seconds): {results}")
        assert [status for status, _ in results] == [200] * 5
        assert all_ended, f"{slow.open_count()} trickling connections still open"
        assert slow.statuses() == ["HTTP/1.1 408"]
        assert max(elapsed for elapsed, _ in slow.ended) < grace + SLACK


def test_a_full_worker_answers_503_at_once_and_idle_connections_close(gunicorn, app):
    pool, keepalive = 50, 2
    url, _ = gunicorn(GUNICORN_WORKER_CONNECTIONS=str(pool), GUNICORN_KEEPALIVE=str(keepalive))
    key = create_key(app)
    headers = {"Authorization": f"Bearer {key}"}
    with Trickle(url, pool, b"GET /health/live HTTP/1.1\r\n", interval=1.0) as holders:
        time.sleep(0.5)  # every connection of the worker is now taken by a slow client
        assert holders.open_count() == pool
        started = time.monotonic()
        response = requests.post(f"{url}/v1/chat/completions", json=CHAT, headers=headers,
                                 timeout=10)
        took = time.monotonic() - started
        print(f"\n{pool} of {pool} connections taken: answered {response.status_code}"
              f" in {took * 1000:.0f} ms")
        assert response.status_code == 503 and took < 2
        assert response.headers["retry-after"] == "1"
        assert response.json()["error"]["type"] == "overloaded_error"

    time.sleep(0.5)  # the holders are closed: the worker has room again
    host, port = url.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=10)
    connection.request("POST", "/v1/chat/completions", body=json.dumps(CHAT),
                       headers={**headers, "Content-Type": "application/json"})
    answer = connection.getresponse()
    assert answer.status == 200 and answer.getheader("connection") != "close"
    answer.read()
    connection.sock.settimeout(keepalive + SLACK)
    started = time.monotonic()
    assert connection.sock.recv(1) == b""  # the server closed the kept-alive, idle connection
    idle = time.monotonic() - started
    print(f"kept-alive connection closed after {idle:.1f} s idle (keepalive {keepalive} s)")
    assert keepalive - 0.5 < idle < keepalive + SLACK
    connection.close()


def test_an_answer_the_client_does_not_take_is_cut_after_the_send_timeout(gunicorn, app):
    send_timeout = 2
    url, _ = gunicorn(GUNICORN_SEND_TIMEOUT=str(send_timeout))
    key = create_key(app)
    words = "word " * 2_000_000  # a 10 MB answer: more than the sockets' buffers hold
    body = json.dumps({"model": "mock-echo", "messages": [{"role": "user", "content": words}]})
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=30) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
        sock.sendall(f"POST /v1/chat/completions HTTP/1.1\r\nHost: gw\r\nAuthorization: Bearer "
                     f"{key}\r\nContent-Type: application/json\r\nContent-Length: {len(body)}"
                     f"\r\n\r\n{body}".encode())
        time.sleep(send_timeout + 4)  # not reading: the worker's write waits, then gives up
        sock.settimeout(5)
        received = b""
        try:
            while chunk := sock.recv(1 << 20):
                received += chunk
        except ConnectionResetError:
            pass
    head, _, content = received.partition(b"\r\n\r\n")
    length = int(head.lower().split(b"content-length: ")[1].split(b"\r\n")[0])
    print(f"\nan answer of {length} bytes not read for {send_timeout + 4} s:"
          f" {len(content)} bytes of it received before the connection was closed")
    assert head.startswith(b"HTTP/1.1 200") and len(content) < length


def test_a_stopping_worker_closes_its_idle_kept_alive_connections(gunicorn, app):
    url, process = gunicorn(GUNICORN_GRACEFUL_TIMEOUT="30")
    host, port = url.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=10)
    connection.request("GET", "/health/live")
    answer = connection.getresponse()
    assert answer.status == 200 and answer.getheader("connection") != "close"
    answer.read()  # the connection is now idle, kept alive for the next request
    started = time.monotonic()
    process.send_signal(signal.SIGTERM)
    process.communicate(timeout=40)
    took = time.monotonic() - started
    print(f"\nstopped in {took:.1f} s with an idle kept-alive connection open")
    assert process.returncode == 0 and took < 10  # not the 30 s of graceful_timeout
    connection.close()
