"""Request bodies: a chunked body over MAX_REQUEST_BYTES is 413 like one with a Content-Length
(on the werkzeug server and on gunicorn), never cut at the limit."""
import json

import pytest
import requests

from tests.conftest import create_key, serving
from tests.gunicorn_runner import GunicornRunner

LIMIT = 100_000


def chat_body(size, model="gpt-test", **extra):
    """A valid chat request of exactly `size` bytes (its first message is the padding)."""
    messages = [{"role": "user", "content": ""}, {"role": "user", "content": "hi"}]
    bare = len(json.dumps({"model": model, "messages": messages, **extra}).encode())
    messages[0]["content"] = "x" * (size - bare)
    body = json.dumps({"model": model, "messages": messages, **extra}).encode()
    assert len(body) == size
    return body


def chunked(body, piece=8192):
    return (body[i:i + piece] for i in range(0, len(body), piece))


def post(url, body, key, path="/v1/chat/completions", **kwargs):
    return requests.post(f"{url}{path}", data=body, timeout=30, **kwargs, headers={
        "Authorization": f"Bearer {key}", "x-api-key": key, "Content-Type": "application/json",
        "anthropic-version": "2023-06-01"})


def check_limit(url, key):
    for path, model, code in [("/v1/chat/completions", "gpt-test", "request_too_large"),
                              ("/v1/messages", "claude-test", None)]:
        extra = {"max_tokens": 10} if path == "/v1/messages" else {}
        over, under = chat_body(LIMIT + 1, model, **extra), chat_body(LIMIT, model, **extra)
        for body in (over, chunked(over)):
            response = post(url, body, key, path)
            assert response.status_code == 413, response.text
            error = response.json()["error"]
            assert error.get("code", code) == code and error["type"] in (
                "invalid_request_error", "request_too_large")
        assert post(url, chunked(under), key, path).status_code == 200
        assert post(url, under, key, path).status_code == 200


def test_a_chunked_body_over_the_limit_is_413_on_the_werkzeug_server(app_factory):
    app = app_factory(MAX_REQUEST_BYTES=LIMIT)
    with serving(app) as url:
        check_limit(url, create_key(app))


@pytest.fixture
def gunicorn(upstream, tmp_path):
    runner = GunicornRunner(upstream, tmp_path, chunk_delay_ms=0)
    yield runner
    runner.stop()


def test_a_chunked_body_over_the_limit_is_413_on_gunicorn(gunicorn, app):
    url, _ = gunicorn.start(MAX_REQUEST_BYTES=str(LIMIT))
    check_limit(url, create_key(app))
