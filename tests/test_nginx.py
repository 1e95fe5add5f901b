"""deploy/nginx.conf under a real nginx (Debian's package; .ci/run installs it, and without it
these tests fail) in front of the gateway served on loopback, over TLS with a self-signed
certificate made here: the file itself is rendered, only its ports and certificate paths
replaced. The gateway runs with TRUSTED_PROXY_COUNT=1; the client connects from 127.0.0.2, so
the address nginx forwards is told apart from nginx's own (127.0.0.1)."""
import datetime
import getpass
import ipaddress
import os
import re
import shutil
import socket
import ssl
import subprocess
import time
from pathlib import Path

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from app.config import Config
from app.routes.body import too_large
from tests.conftest import create_key, logged, serving
from tests.gunicorn_runner import GunicornRunner, free_port
from tests.mock_upstream import Stream, openai_chunks
from tests.tcp_proxy import TcpProxy

ROOT = Path(__file__).resolve().parent.parent
CONF = ROOT / "deploy" / "nginx.conf"
CLIENT_ADDRESS = "127.0.0.2"
HI = [{"role": "user", "content": "hello there gateway"}]


def nginx_binary():
    found = shutil.which("nginx", path=f"{os.environ.get('PATH', '')}:/usr/sbin:/sbin")
    if found is None:
        pytest.fail("nginx is not installed (Debian's `nginx` package; .ci/run installs it)")
    return found


def self_signed(directory):
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


def render(upstream_port, http_port, tls_port, cert, key):
    """deploy/nginx.conf with test ports and certificate; every line replaced must be there."""
    text = CONF.read_text()
    for old, new in [
        ("server 127.0.0.1:8000;", f"server 127.0.0.1:{upstream_port};"),
        ("listen 80;", f"listen 127.0.0.1:{http_port};"),
        ("listen [::]:80;", ""),
        ("listen 443 ssl;", f"listen 127.0.0.1:{tls_port} ssl;"),
        ("listen [::]:443 ssl;", ""),
        ("/etc/ssl/certs/gateway.example.com.pem", str(cert)),
        ("/etc/ssl/private/gateway.example.com.key", str(key)),
    ]:
        assert text.count(old) == 1, f"deploy/nginx.conf has no single {old!r}"
        text = text.replace(old, new)
    return text


def wait_for_port(port, process, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"nginx exited: {process.stderr.read().decode(errors='replace')}")
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    pytest.fail("nginx did not listen in time")


class Nginx:
    def __init__(self, prefix, upstream_url):
        upstream_port = int(upstream_url.rsplit(":", 1)[1])
        self.http_port, self.tls_port = free_port(), free_port()
        self.cert, key = self_signed(prefix)
        (prefix / "llm-gateway.conf").write_text(
            render(upstream_port, self.http_port, self.tls_port, self.cert, key))
        user = f"user {getpass.getuser()};" if os.geteuid() == 0 else ""
        temp = " ".join(f"{kind}_temp_path {prefix / kind};"
                        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
        (prefix / "nginx.conf").write_text(
            f"{user}\nworker_processes 1;\nevents {{ worker_connections 256; }}\n"
            f"http {{ access_log off; {temp}\n include {prefix / 'llm-gateway.conf'}; }}\n")
        self.process = subprocess.Popen(
            [nginx_binary(), "-p", str(prefix), "-c", str(prefix / "nginx.conf"),
             "-g", f"daemon off; pid {prefix / 'nginx.pid'}; error_log stderr;"],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        wait_for_port(self.tls_port, self.process)
        self.url = f"https://127.0.0.1:{self.tls_port}"

    def client(self, **kwargs):
        """An HTTPS client trusting the test certificate, connecting from CLIENT_ADDRESS."""
        context = ssl.create_default_context(cafile=str(self.cert))
        transport = httpx.HTTPTransport(verify=context, local_address=CLIENT_ADDRESS)
        return httpx.Client(base_url=self.url, transport=transport, timeout=30, **kwargs)

    def stop(self):
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


@pytest.fixture
def gateway(app_factory):
    return app_factory(TRUSTED_PROXY_COUNT=1)


@pytest.fixture
def nginx(gateway, tmp_path):
    with serving(gateway) as url:
        server = Nginx(tmp_path, url)
        try:
            yield server
        finally:
            server.stop()


@pytest.fixture
def key(gateway):
    return create_key(gateway)


def test_the_example_sizes_bodies_like_the_gateway():
    text = CONF.read_text()
    size = re.search(r"^\s*client_max_body_size (\d+)m;", text, re.M)
    assert size and int(size.group(1)) * 1024 * 1024 == Config.MAX_REQUEST_BYTES
    assert text.count(f"the limit of {Config.MAX_REQUEST_BYTES} bytes") == 2


def test_plain_http_is_redirected_to_https(nginx):
    response = httpx.get(f"http://127.0.0.1:{nginx.http_port}/v1/models")
    assert response.status_code == 308
    assert response.headers["location"].startswith("https://127.0.0.1")


def test_a_streams_first_event_arrives_before_the_upstream_finishes(nginx, key, upstream):
    upstream.script(Stream(openai_chunks(" ".join(["word"] * 30), model="gpt-upstream"),
                           chunk_delay=0.1))
    with nginx.client() as client:
        start = time.monotonic()
        with client.stream("POST", "/v1/chat/completions", headers={
                "Authorization": f"Bearer {key}"}, json={
                "model": "gpt-test", "messages": HI, "stream": True}) as response:
            assert response.status_code == 200
            assert response.headers["content-type"].startswith("text/event-stream")
            lines = response.iter_lines()
            first = next(line for line in lines if line.startswith("data:"))
            first_at = time.monotonic()
            rest = [line for line in lines if line.startswith("data:")]
        end = time.monotonic()
    assert '"chat.completion.chunk"' in first and rest[-1] == "data: [DONE]"
    # The upstream takes ~3 s (30 words, 0.1 s apart). Buffered, every event would arrive at
    # its end, together; unbuffered, the first arrives while most of the stream is still to come
    # (however long the connection and the first request took to set up).
    assert end - first_at > 1.5, (first_at - start, end - first_at)


def test_a_client_that_disconnects_closes_the_upstream(nginx, key, upstream):
    upstream.script(Stream(openai_chunks(" ".join(["word"] * 100), model="gpt-upstream"),
                           chunk_delay=0.05))
    with nginx.client() as client, client.stream(
            "POST", "/v1/chat/completions", headers={"Authorization": f"Bearer {key}"},
            json={"model": "gpt-test", "messages": HI, "stream": True}) as response:
        next(line for line in response.iter_lines() if line.startswith("data:"))
        since = time.monotonic()
    # the client is gone ~5 s before the upstream would finish
    assert upstream.wait_disconnect(timeout=3.0, since=since) is not None


@pytest.mark.parametrize(("path", "model", "shape"), [
    ("/v1/chat/completions", "gpt-test", "openai"),
    ("/v1/messages", "claude-test", "anthropic"),
])
def test_a_body_over_the_limit_gets_413_in_the_clients_error_shape(nginx, gateway, key,
                                                                   upstream, path, model, shape):
    limit = Config.MAX_REQUEST_BYTES
    body = b'{"model": "%s", "max_tokens": 5, "messages": [], "pad": "' % model.encode()
    body += b"x" * (limit + 1 - len(body) - 2) + b'"}'
    with nginx.client() as client:
        response = client.post(path, content=body, headers={
            "Authorization": f"Bearer {key}", "Content-Type": "application/json",
            "anthropic-version": "2023-06-01"})
    assert response.status_code == 413
    assert response.headers["content-type"] == "application/json"
    error = too_large(limit)
    expected = error.anthropic_body() if shape == "anthropic" else error.openai_body()
    assert response.json() == expected
    # the same error the gateway gives for a body over MAX_REQUEST_BYTES nginx did not stop
    direct = gateway.test_client().post(path, data=body, headers={
        "Authorization": f"Bearer {key}", "Content-Type": "application/json"})
    assert (direct.status_code, direct.get_json()) == (413, expected)
    assert upstream.requests == []


def test_the_client_address_reaches_the_request_log_and_a_forged_one_does_not(nginx, gateway,
                                                                              key):
    with nginx.client() as client:
        response = client.post("/v1/chat/completions", headers={
            "Authorization": f"Bearer {key}", "X-Forwarded-For": "203.0.113.9"}, json={
            "model": "mock-echo", "messages": HI})
    assert response.status_code == 200
    row = logged(gateway, response.headers["x-request-id"])
    assert row.client_address == CLIENT_ADDRESS


def test_behind_gunicorn_connections_are_kept_alive_and_the_address_is_logged(app, upstream,
                                                                              tmp_path):
    """A real gunicorn (werkzeug's server closes every connection): nginx reaches it through a
    connection counter and reuses one connection for requests of different clients."""
    runner = GunicornRunner(upstream, tmp_path, chunk_delay_ms=20)
    url, _ = runner.start(TRUSTED_PROXY_COUNT="1")
    counter = TcpProxy("127.0.0.1", int(url.rsplit(":", 1)[1])).start()
    (tmp_path / "nginx").mkdir()
    server = Nginx(tmp_path / "nginx", f"http://127.0.0.1:{counter.port}")
    key = create_key(app)
    try:
        ids = []
        for _ in range(3):
            with server.client() as client:  # a new client connection each time
                response = client.post("/v1/chat/completions", headers={
                    "Authorization": f"Bearer {key}", "X-Forwarded-For": "203.0.113.9"},
                    json={"model": "mock-echo", "messages": HI})
                assert response.status_code == 200
                ids.append(response.headers["x-request-id"])
        assert counter.connections == 1
        for request_id in ids:
            assert logged(app, request_id).client_address == CLIENT_ADDRESS
    finally:
        server.stop()
        counter.refuse()
        runner.stop()
