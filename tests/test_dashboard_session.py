"""The dashboard's session (Flask test client): an API key exchanged for a cookie that is
HttpOnly, SameSite=Lax and Secure over TLS; the admin API takes it with the same authorization
as the key itself; every state-changing request made with it needs the page's CSRF token."""
import pytest

from app.repositories import request_logs
from tests.conftest import log_row
from tests.dashboard_helpers import bearer, csrf_of, log_in, new_key

COOKIE = "gateway_session"


@pytest.fixture
def people(app):
    return {"admin": new_key(app, "root@example.com", role="admin", name="root"),
            "alice": new_key(app, "alice@example.com", name="alice-laptop"),
            "bob": new_key(app, "bob@example.com", name="bob-ci")}


def session_cookie(response):
    cookies = [c for c in response.headers.getlist("Set-Cookie") if c.startswith(COOKIE + "=")]
    assert len(cookies) == 1, response.headers.getlist("Set-Cookie")
    return cookies[0]


def test_login_sets_an_httponly_lax_cookie_that_never_holds_the_key(app, people):
    client = app.test_client()
    response, _ = log_in(client, people["alice"]["secret"])
    assert response.status_code == 200
    assert response.get_json()["who"] == {"label": "alice@example.com", "role": "member",
                                          "is_admin": False,
                                          "user_id": people["alice"]["user_id"]}
    cookie = session_cookie(response)
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Path=/" in cookie
    assert "Secure" not in cookie  # plain http: a Secure cookie would never come back
    assert people["alice"]["secret"] not in cookie
    assert people["alice"]["secret"][6:] not in cookie


def test_only_a_request_with_the_cookie_builds_the_cookies_signer(app, people, monkeypatch):
    from app.dashboard.session import SessionInterface

    built = []
    real = SessionInterface.get_signing_serializer
    monkeypatch.setattr(SessionInterface, "get_signing_serializer",
                        lambda self, app: built.append(1) or real(self, app))
    client = app.test_client()
    response = client.get("/admin/keys", headers=bearer(people["admin"]["secret"]))
    assert response.status_code == 200 and built == []  # an API call: no cookie, no signer
    response, _ = log_in(client, people["alice"]["secret"])
    assert response.status_code == 200 and built
    built.clear()
    response = client.get("/admin/keys")  # the session's cookie is read and checked
    assert response.status_code == 200 and built
    assert [k["id"] for k in response.get_json()["data"]] == [people["alice"]["id"]]


def test_the_cookie_is_secure_when_the_request_came_over_tls(app, people):
    client = app.test_client()
    response, _ = log_in(client, people["alice"]["secret"], base_url="https://gateway.test")
    assert response.status_code == 200
    assert "Secure" in session_cookie(response)


def test_login_needs_the_login_pages_csrf_token_and_a_valid_key(app, people):
    client = app.test_client()
    response = client.post("/dashboard/login", json={"key": people["alice"]["secret"]})
    assert response.status_code == 403
    assert response.get_json()["error"]["code"] == "csrf_failed"
    token = csrf_of(client.get("/dashboard/login"))
    response = client.post("/dashboard/login", json={"key": "sk-gw-wrong"},
                           headers={"X-CSRF-Token": token})
    assert response.status_code == 401
    assert client.get("/admin/keys").status_code == 401  # no session was opened
    response = client.post("/dashboard/login", json={}, headers={"X-CSRF-Token": token})
    assert response.status_code == 400


def test_a_session_is_the_same_principal_as_its_key(app, people):
    client = app.test_client()
    _, token = log_in(client, people["alice"]["secret"])
    listed = client.get("/admin/keys").get_json()
    assert [k["id"] for k in listed["data"]] == [people["alice"]["id"]]
    bob_key = people["bob"]["id"]
    assert client.get(f"/admin/keys/{bob_key}").status_code == 404
    response = client.post(f"/admin/keys/{bob_key}/revoke", headers={"X-CSRF-Token": token})
    assert response.status_code == 404
    response = client.get("/admin/users")
    assert response.status_code == 403
    assert response.get_json()["error"]["code"] == "admin_required"
    with app.app_context():
        request_logs.insert_batch([log_row("bob-1", api_key_id=bob_key,
                                           user_id=people["bob"]["user_id"])])
    usage = client.get(f"/admin/usage?user_id={people['bob']['user_id']}").get_json()
    assert usage["data"] == []  # a member's report is its own user's, whatever it asks for
    admin = app.test_client()
    log_in(admin, people["admin"]["secret"])
    assert admin.get("/admin/keys").get_json()["total"] == 3
    assert admin.get(f"/admin/keys/{bob_key}").status_code == 200
    assert admin.get("/admin/usage").get_json()["totals"]["requests"] == 1


@pytest.mark.parametrize("headers", [{}, {"X-CSRF-Token": "wrong"}, {"X-CSRF-Token": ""}])
def test_state_changing_requests_with_the_cookie_need_the_csrf_header(app, people, headers):
    client = app.test_client()
    log_in(client, people["alice"]["secret"])
    for method, path in (("POST", "/admin/keys"),
                         ("PATCH", f"/admin/keys/{people['alice']['id']}"),
                         ("POST", f"/admin/keys/{people['alice']['id']}/revoke"),
                         ("POST", "/dashboard/logout")):
        response = client.open(path, method=method, json={"name": "x"}, headers=headers)
        assert response.status_code == 403, (method, path, response.get_data(as_text=True))
        assert response.get_json()["error"]["code"] == "csrf_failed"
    assert client.get("/admin/keys").get_json()["total"] == 1  # nothing was created
    assert client.get(f"/admin/keys/{people['alice']['id']}").get_json()["state"] == "active"


def test_with_the_csrf_header_the_session_creates_and_revokes(app, people):
    client = app.test_client()
    _, token = log_in(client, people["alice"]["secret"])
    created = client.post("/admin/keys", json={"name": "new"}, headers={"X-CSRF-Token": token})
    assert created.status_code == 201
    assert created.get_json()["key"].startswith("sk-gw-")
    assert created.get_json()["user_id"] == people["alice"]["user_id"]
    revoked = client.post(f"/admin/keys/{created.get_json()['id']}/revoke",
                          headers={"X-CSRF-Token": token})
    assert revoked.status_code == 200 and revoked.get_json()["state"] == "revoked"


def test_a_bearer_key_needs_no_csrf_token_even_beside_a_cookie(app, people):
    client = app.test_client()
    log_in(client, people["alice"]["secret"])
    response = client.post("/admin/keys", json={"name": "by-bearer"},
                           headers=bearer(people["admin"]["secret"]))
    assert response.status_code == 201
    assert response.get_json()["user_id"] == people["admin"]["user_id"]  # the key's, not the
    assert app.test_client().post("/admin/keys", json={}).status_code == 401  # cookie's


def test_logout_ends_the_session(app, people):
    client = app.test_client()
    _, token = log_in(client, people["alice"]["secret"])
    response = client.post("/dashboard/logout", headers={"X-CSRF-Token": token})
    assert response.status_code == 200 and response.get_json()["next"] == "/dashboard/login"
    assert client.get("/admin/keys").status_code == 401
    response = client.get("/dashboard/keys")
    assert response.status_code == 302
    assert response.headers["Location"] == "/dashboard/login?next=/dashboard/keys"


def test_revoking_the_key_ends_its_sessions(app, people):
    client = app.test_client()
    log_in(client, people["alice"]["secret"])
    response = app.test_client().post(f"/admin/keys/{people['alice']['id']}/revoke",
                                      headers=bearer(people["admin"]["secret"]))
    assert response.status_code == 200
    response = client.get("/admin/keys")
    assert response.status_code == 401
    assert response.get_json()["error"]["code"] == "revoked_api_key"
    assert client.get("/dashboard/").status_code == 302


def test_pages_redirect_to_login_and_login_redirects_only_inside_the_dashboard(app, people):
    client = app.test_client()
    response = client.get("/dashboard/")
    assert response.status_code == 302
    assert response.headers["Location"] == "/dashboard/login?next=/dashboard/"
    token = csrf_of(client.get("/dashboard/login"))
    for target, expected in (("/dashboard/keys", "/dashboard/keys"),
                             ("https://evil.example/dashboard", "/dashboard/"),
                             ("//evil.example/dashboard", "/dashboard/"),
                             ("/admin/keys", "/dashboard/")):
        response = client.post("/dashboard/login",
                               json={"key": people["alice"]["secret"], "next": target},
                               headers={"X-CSRF-Token": token})
        assert response.get_json()["next"] == expected, target
        token = csrf_of(client.get("/dashboard/keys"))
    page = client.get("/dashboard/keys")
    assert page.status_code == 200 and "alice@example.com" in page.get_data(as_text=True)
    assert "script-src 'self'" in page.headers["Content-Security-Policy"]
    assert page.headers["Cache-Control"] == "no-store"


def test_chart_js_is_served_by_the_gateway(client):
    response = client.get("/dashboard/static/vendor/chartjs/chart.umd.min.js")
    assert response.status_code == 200
    assert b"Chart.js v4.6.1" in response.data[:200]
    assert client.get("/dashboard/static/vendor/chartjs/LICENSE.md").status_code == 200


def test_session_cookie_secure_forces_the_secure_flag(app_factory, monkeypatch):
    monkeypatch.setenv("SESSION_COOKIE_SECURE", "1")
    app = app_factory()
    key = new_key(app, "alice@example.com")
    response, _ = log_in(app.test_client(), key["secret"])
    assert response.status_code == 200 and "Secure" in session_cookie(response)


def test_without_secret_key_one_is_kept_in_the_instance_folder(app, tmp_path, monkeypatch):
    from app.dashboard.session import secret_key

    monkeypatch.delenv("SECRET_KEY", raising=False)
    fake = type("App", (), {"config": {}, "instance_path": str(tmp_path / "instance")})()
    first = secret_key(fake)
    assert len(first) >= 48 and secret_key(fake) == first  # created once, then reused
    path = tmp_path / "instance" / "secret_key"
    assert path.stat().st_mode & 0o777 == 0o600
    assert [p.name for p in path.parent.iterdir()] == ["secret_key"]
    monkeypatch.setenv("SECRET_KEY", "from-the-environment")
    assert secret_key(fake) == "from-the-environment"
