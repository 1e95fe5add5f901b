"""TRUSTED_PROXY_COUNT (app/proxies.py): which address the gateway takes for the client's —
the request log's client_address — from the socket's peer and X-Forwarded-For."""
import pytest

from app import create_app
from tests.conftest import create_key, logged

HI = [{"role": "user", "content": "hello"}]
PEER = "10.0.0.1"
FORWARDED = "203.0.113.9, 198.51.100.7"


def logged_address(app, forwarded=FORWARDED, proto=None):
    key = create_key(app)
    headers = {"Authorization": f"Bearer {key}"}
    if forwarded is not None:
        headers["X-Forwarded-For"] = forwarded
    if proto is not None:
        headers["X-Forwarded-Proto"] = proto
    response = app.test_client().post("/v1/chat/completions", headers=headers,
                                      json={"model": "mock-echo", "messages": HI},
                                      environ_base={"REMOTE_ADDR": PEER})
    assert response.status_code == 200
    return logged(app, response.headers["x-request-id"]).client_address


@pytest.mark.parametrize(("count", "address"), [
    (0, PEER),  # the default: X-Forwarded-For is the client's own word, never taken
    (1, "198.51.100.7"),  # one proxy: the address it appended
    (2, "203.0.113.9"),  # two: the first proxy's peer
])
def test_the_logged_address_follows_the_trusted_proxy_count(app_factory, count, address):
    assert logged_address(app_factory(TRUSTED_PROXY_COUNT=count)) == address


def test_without_a_forwarded_header_the_peer_is_the_client(app_factory):
    assert logged_address(app_factory(TRUSTED_PROXY_COUNT=1), forwarded=None) == PEER


def test_more_proxies_trusted_than_forwarded_leaves_the_peer(app_factory):
    # a client reaching the gateway without the proxies cannot pose as a proxy chain
    assert logged_address(app_factory(TRUSTED_PROXY_COUNT=3)) == PEER


def test_the_scheme_is_taken_from_the_trusted_proxy_only(app_factory):
    seen = []
    for count in (0, 1):
        app = app_factory(TRUSTED_PROXY_COUNT=count)

        @app.get("/scheme-probe")
        def probe():
            from flask import request
            seen.append(request.scheme)
            return ""

        app.test_client().get("/scheme-probe", headers={"X-Forwarded-Proto": "https"})
    assert seen == ["http", "https"]


def test_a_negative_count_is_refused():
    with pytest.raises(ValueError, match="TRUSTED_PROXY_COUNT"):
        create_app({"TRUSTED_PROXY_COUNT": -1, "SQLALCHEMY_DATABASE_URI": "sqlite://"})
