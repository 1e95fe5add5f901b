"""Bad input and failing upstreams: each gets a precise error in the OpenAI shape, the right
status, an x-request-id, and a request-log row."""
from datetime import timedelta

import openai
import pytest

from app.models import utcnow
from app.repositories import keys as key_repo
from tests.conftest import create_key, logged
from tests.mock_upstream import Hang, Reply

HI = [{"role": "user", "content": "hi"}]


def error_of(response):
    body = response.get_json()
    assert set(body) == {"error"}, body
    assert set(body["error"]) == {"message", "type", "param", "code"}
    assert response.headers["x-request-id"]
    assert response.mimetype == "application/json"
    return body["error"]


def post(client, key, body=None, data=None, path="/v1/chat/completions", **headers):
    headers = {"Authorization": f"Bearer {key}", **headers}
    if data is not None:
        return client.post(path, data=data, headers=headers, content_type="application/json")
    return client.post(path, json=body, headers=headers)


@pytest.mark.parametrize("data, code, needle", [
    (b"{not json", "invalid_json", "not valid JSON"),
    (b"", "invalid_json", "empty"),
    (b"[1, 2]", "invalid_json", "JSON object"),
])
def test_malformed_body_is_400(client, api_key, app, data, code, needle):
    response = post(client, api_key, data=data)
    assert response.status_code == 400
    error = error_of(response)
    assert error["code"] == code and needle in error["message"]
    assert error["type"] == "invalid_request_error"
    assert logged(app, response.headers["x-request-id"]).status_code == 400


@pytest.mark.parametrize("body, param", [
    ({"messages": HI}, "model"),
    ({"model": "mock-echo"}, "messages"),
    ({"model": 42, "messages": HI}, "model"),
    ({"model": "mock-echo", "messages": "hi"}, "messages"),
    ({"model": "mock-echo", "messages": []}, "messages"),
    ({"model": "mock-echo", "messages": [{"role": "robot", "content": "x"}]}, "messages[0].role"),
    ({"model": "mock-echo", "messages": [{"role": "user", "content": 5}]}, "messages[0].content"),
    ({"model": "mock-echo", "messages": HI, "stream": "yes"}, "stream"),
    ({"model": "mock-echo", "messages": HI, "max_tokens": "10"}, "max_tokens"),
    ({"model": "mock-echo", "messages": HI, "max_tokens": 0}, "max_tokens"),
    ({"model": "mock-echo", "messages": HI, "temperature": "hot"}, "temperature"),
    ({"model": "mock-echo", "messages": HI, "stream_options": True}, "stream_options"),
])
def test_missing_or_wrong_fields_are_400_naming_the_field(client, api_key, body, param):
    response = post(client, api_key, body)
    assert response.status_code == 400
    error = error_of(response)
    assert error["param"] == param and param.split("[")[0] in error["message"]


@pytest.mark.parametrize("body, param", [
    ({"model": "mock-echo"}, "input"),
    ({"model": "mock-echo", "input": 3}, "input"),
    ({"model": "mock-echo", "input": []}, "input"),
])
def test_bad_embeddings_requests_name_the_field(client, api_key, body, param):
    response = post(client, api_key, body, path="/v1/embeddings")
    assert response.status_code == 400 and error_of(response)["param"] == param


def test_unknown_model_is_404(openai_client):
    with pytest.raises(openai.NotFoundError) as info:
        openai_client.chat.completions.create(model="no-such-model", messages=HI)
    assert info.value.body["code"] == "model_not_found"
    assert "no-such-model" in info.value.body["message"]


def test_missing_key_is_401(client):
    response = client.post("/v1/chat/completions", json={"model": "mock-echo", "messages": HI})
    assert response.status_code == 401
    assert error_of(response)["code"] == "missing_api_key"


def test_wrong_key_is_401_and_logged(openai_client, live_server, app):
    bad = openai.OpenAI(base_url=f"{live_server}/v1", api_key="sk-gw-wrong", max_retries=0)
    with pytest.raises(openai.AuthenticationError) as info:
        bad.chat.completions.create(model="mock-echo", messages=HI)
    assert info.value.body["code"] == "invalid_api_key"
    [row] = logged(app, count=1)
    assert row.status_code == 401 and row.api_key_id is None


def test_revoked_key_is_401(client, app, api_key):
    with app.app_context():
        key = key_repo.list_all()[0]
        key_repo.revoke(key)
        app.extensions["gateway"].authenticator.invalidate(key.key_hash)
    response = post(client, api_key, {"model": "mock-echo", "messages": HI})
    assert response.status_code == 401 and error_of(response)["code"] == "revoked_api_key"


def test_expired_key_is_401(client, app):
    key = create_key(app, expires_at=utcnow() - timedelta(seconds=1))
    response = post(client, key, {"model": "mock-echo", "messages": HI})
    assert response.status_code == 401 and error_of(response)["code"] == "expired_api_key"


def test_body_over_the_limit_is_413(app_factory, app):
    small = app_factory(MAX_REQUEST_BYTES=1000)
    key = create_key(small)
    big = [{"role": "user", "content": "x" * 2000}]
    response = post(small.test_client(), key, {"model": "mock-echo", "messages": big})
    assert response.status_code == 413
    assert error_of(response)["code"] == "request_too_large"
    assert logged(small, response.headers["x-request-id"]).status_code == 413


def test_upstream_429_is_429_with_retry_after(openai_client, upstream, app):
    upstream.script(Reply(status=429, headers={"retry-after": "7"},
                          json={"error": {"message": "slow down", "type": "rate_limit"}}))
    with pytest.raises(openai.RateLimitError) as info:
        openai_client.chat.completions.create(model="gpt-test", messages=HI)
    assert info.value.response.headers["retry-after"] == "7"
    assert "slow down" in info.value.body["message"]
    [row] = logged(app, count=1)
    assert row.status_code == 429 and row.provider == "up-openai"


@pytest.mark.parametrize("status", [500, 502, 504])
def test_upstream_5xx_is_502_with_the_upstream_message(openai_client, upstream, status):
    upstream.script(Reply(status=status, json={"error": {"message": "boom inside"}}))
    with pytest.raises(openai.APIStatusError) as info:
        openai_client.chat.completions.create(model="gpt-test", messages=HI)
    assert info.value.status_code == 502
    assert "boom inside" in info.value.body["message"]


def test_upstream_auth_failure_is_not_the_clients_401(openai_client, upstream):
    upstream.script(Reply(status=401, json={"error": {"message": "bad upstream key"}}))
    with pytest.raises(openai.APIStatusError) as info:
        openai_client.chat.completions.create(model="gpt-test", messages=HI)
    assert info.value.status_code == 502
    assert info.value.body["code"] == "upstream_auth_failed"


def test_upstream_400_passes_through_with_its_message(openai_client, upstream):
    upstream.script(Reply(status=400, json={"error": {"message": "context too long"}}))
    with pytest.raises(openai.BadRequestError) as info:
        openai_client.chat.completions.create(model="gpt-test", messages=HI)
    assert info.value.body["message"] == "context too long"


def test_upstream_timeout_is_504(openai_client, upstream, app):
    upstream.script(Hang(seconds=4))  # the provider's timeout in the tests is 2 s
    with pytest.raises(openai.APIStatusError) as info:
        openai_client.chat.completions.create(model="gpt-test", messages=HI)
    assert info.value.status_code == 504
    assert info.value.body["code"] == "upstream_timeout"
    assert logged(app, count=1)[0].status_code == 504


def test_upstream_unreachable_is_502(app_factory, upstream):
    import socket

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    from tests.conftest import gateway_config

    config = gateway_config(upstream)
    config["providers"]["up-openai"]["base_url"] = f"http://127.0.0.1:{port}/v1"
    app = app_factory(GATEWAY_CONFIG=config)
    response = post(app.test_client(), create_key(app), {"model": "gpt-test", "messages": HI})
    assert response.status_code == 502
    assert error_of(response)["code"] == "upstream_unreachable"


def test_streamed_request_failing_before_output_gets_the_real_status(openai_client, upstream):
    upstream.script(Reply(status=429, json={"error": {"message": "busy"}}))
    with pytest.raises(openai.RateLimitError):
        list(openai_client.chat.completions.create(model="gpt-test", messages=HI, stream=True))


@pytest.mark.parametrize("method, path, status", [
    ("get", "/v1/nothing-here", 404),
    ("get", "/v1/chat/completions", 405),
])
def test_unknown_routes_get_json_not_html(client, method, path, status):
    response = getattr(client, method)(path)
    assert response.status_code == status
    error_of(response)


def test_internal_errors_hide_the_stack_trace(app, api_key, monkeypatch):
    def explode(*args, **kwargs):
        raise RuntimeError("secret internals")

    monkeypatch.setattr(app.extensions["gateway"].router, "plan", explode)
    response = post(app.test_client(), api_key, {"model": "mock-echo", "messages": HI})
    assert response.status_code == 500
    error = error_of(response)
    assert "secret internals" not in error["message"] and "Traceback" not in response.text
    assert logged(app, response.headers["x-request-id"]).status_code == 500


def test_request_id_from_the_caller_is_kept_beside_the_gateways_own(client, api_key):
    response = post(client, api_key, {"model": "mock-echo", "messages": HI},
                    **{"x-request-id": "trace-123"})
    assert response.headers["x-request-id"].startswith("req_")
    assert response.headers["x-client-request-id"] == "trace-123"
