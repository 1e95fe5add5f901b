"""A request no wait can admit (larger than a scope's whole TPM or budget) gets a 400 that says
why and what to change, in each surface's own error format, naming the key by name and prefix;
one that only has to wait keeps its 429 and retry-after."""
from decimal import Decimal

import pytest

from app.errors import InvalidRequest, RateLimited
from app.gateway.limits.limiter import Limiter
from app.gateway.limits.memory_store import MemoryStore
from app.gateway.limits.tickets import Scope
from tests.conftest import create_key

HI = [{"role": "user", "content": "hi"}]
LONG = [{"role": "user", "content": " ".join(["word"] * 200)}]


def test_limiter_refuses_what_can_never_fit_with_a_400():
    lim = Limiter(MemoryStore(), lambda scope, start: Decimal(0))
    scope = Scope("key:1", tpm=100, max_budget_usd=Decimal("0.001"), budget_period="daily",
                  label="key 'ci' (sk-gw-Ab3…)")
    with pytest.raises(InvalidRequest) as info:
        lim.admit("a", [scope], 101, 0)
    assert info.value.code == "request_exceeds_tpm" and info.value.status == 400
    assert "key 'ci' (sk-gw-Ab3…)" in info.value.message and "key:1" not in info.value.message
    with pytest.raises(InvalidRequest) as info:
        lim.admit("b", [scope], 10, Decimal("0.002"), output_param="max_tokens")
    assert info.value.code == "request_exceeds_budget" and info.value.param == "max_tokens"
    assert "`max_tokens`" in info.value.message
    # within the whole limits, but not now: still a retryable 429
    lim.admit("c", [scope], 60, Decimal("0.0008"))
    with pytest.raises(RateLimited) as info:
        lim.admit("d", [scope], 60, 0)
    assert info.value.code == "tpm_limit_exceeded" and "key 'ci'" in info.value.message


def _post(app, path, key, body, anthropic=False):
    headers = ({"x-api-key": key, "anthropic-version": "2023-06-01"} if anthropic
               else {"Authorization": f"Bearer {key}"})
    return app.test_client().post(path, json=body, headers=headers)


@pytest.mark.parametrize("path,body,param,anthropic", [
    ("/v1/chat/completions", {"messages": HI}, "max_tokens", False),
    ("/v1/chat/completions", {"messages": HI, "max_completion_tokens": 100000},
     "max_completion_tokens", False),
    ("/v1/messages", {"messages": HI, "max_tokens": 100000}, "max_tokens", True),
    ("/v1/responses", {"input": "hi"}, "max_output_tokens", False),
])
def test_a_request_costlier_than_the_whole_budget_is_a_400(app, path, body, param, anthropic):
    key = create_key(app, name="ci", max_budget_usd=Decimal("0.000001"), budget_period="daily")
    response = _post(app, path, key, {"model": "mock-echo", **body}, anthropic)
    assert response.status_code == 400, response.get_data(as_text=True)
    assert "retry-after" not in response.headers
    data = response.get_json()
    if anthropic:
        assert data["type"] == "error" and data["error"]["type"] == "invalid_request_error"
        message = data["error"]["message"]
    else:
        assert data["error"]["code"] == "request_exceeds_budget"
        assert data["error"]["param"] == param
        message = data["error"]["message"]
    assert f"`{param}`" in message and "key 'ci' (sk-gw-" in message and "key:" not in message


@pytest.mark.parametrize("path,body,anthropic", [
    ("/v1/chat/completions", {"messages": LONG}, False),
    ("/v1/messages", {"messages": LONG, "max_tokens": 10}, True),
    ("/v1/responses", {"input": LONG}, False),
])
def test_a_request_larger_than_the_tpm_is_a_400(app, path, body, anthropic):
    key = create_key(app, tpm=50)
    response = _post(app, path, key, {"model": "mock-echo", **body}, anthropic)
    assert response.status_code == 400, response.get_data(as_text=True)
    data = response.get_json()
    message = data["error"]["message"]
    if not anthropic:
        assert data["error"]["code"] == "request_exceeds_tpm"
    assert "50 tokens per minute" in message and "key sk-gw-" in message


def test_user_and_project_scopes_are_named_by_email_and_name(app):
    with app.app_context():
        from app.extensions import db
        from app.repositories import users as user_repo

        user = user_repo.create("ann@example.com")
        user.tpm = 20
        db.session.commit()
    key = create_key(app, email="ann@example.com")
    response = _post(app, "/v1/chat/completions", key, {"model": "mock-echo", "messages": LONG})
    assert response.status_code == 400
    assert "user ann@example.com" in response.get_json()["error"]["message"]
