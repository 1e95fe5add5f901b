"""The dashboard's OpenID Connect single sign-on against a real provider (oidc-provider-mock: a
Flask app with discovery, JWKS, authorize and token endpoints signing RS256 ID tokens, served on
a loopback socket): the callback's rules through the Flask test client, and one browser login
(Playwright driving Debian's Chromium) from the "Sign in with SSO" button to logging out."""
import threading
import warnings
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from playwright.sync_api import expect
from werkzeug.serving import make_server

from app.repositories import users as user_repo
from tests.conftest import serving
from tests.dashboard_helpers import csrf_of

with warnings.catch_warnings():  # the provider imports Authlib's deprecated authlib.jose
    warnings.simplefilter("ignore")
    import oidc_provider_mock

# The provider's own use of Authlib (its side, not the gateway's) warns of an API Authlib renamed.
pytestmark = pytest.mark.filterwarnings("ignore:get_jwt_config:DeprecationWarning")
SSO = {"OIDC_CLIENT_ID": "llm-gateway", "OIDC_CLIENT_SECRET": "gateway-secret",
       "OIDC_ALLOWED_DOMAINS": "example.com, Example.org", "OIDC_ROLE_CLAIM": "groups",
       "OIDC_ADMIN_VALUES": "gateway-admins,ops"}


@pytest.fixture(scope="module")
def provider():
    """The provider's base URL (its issuer); it asks for a nonce, as the gateway sends one."""
    server = make_server("127.0.0.1", 0, oidc_provider_mock.app(require_nonce=True),
                         threaded=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                              daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(timeout=5)


@pytest.fixture
def sso_app(app_factory, provider):
    return app_factory(OIDC_ISSUER=provider, **SSO)


def person(provider, sub, **claims):
    """Set the claims the provider releases for sub (email and email_verified with the email
    scope; others, such as groups, always)."""
    response = requests.put(f"{provider}/users/{sub}", json=claims, timeout=10)
    assert response.status_code == 204, response.text


def authorize(client, provider, sub, next_path=None):
    """Start the login at the gateway and let sub authorize at the provider; returns the
    callback URL (path and query) the provider sends the browser back to."""
    start = client.get("/dashboard/oidc/login", query_string={"next": next_path or ""})
    assert start.status_code == 302, start.get_data(as_text=True)
    location = start.headers["Location"]
    assert location.startswith(f"{provider}/oauth2/authorize?")
    query = parse_qs(urlsplit(location).query)
    assert query["response_type"] == ["code"] and query["client_id"] == ["llm-gateway"]
    assert query["code_challenge_method"] == ["S256"] and query["code_challenge"][0]
    assert query["state"][0] and query["nonce"][0]
    assert set(query["scope"][0].split()) == {"openid", "email", "profile"}
    answer = requests.post(location, data={"sub": sub}, allow_redirects=False, timeout=10)
    assert answer.status_code == 302, answer.text
    back = urlsplit(answer.headers["Location"])
    assert back.path == "/dashboard/oidc/callback" and "code=" in back.query
    return f"{back.path}?{back.query}"


def sign_in(client, provider, sub, next_path=None):
    return client.get(authorize(client, provider, sub, next_path))


def stored(app, email):
    with app.app_context():
        user = user_repo.get_by_email(email)
        return None if user is None else {"id": user.id, "role": user.role, "name": user.name,
                                          "active": user.active}


def test_the_login_page_offers_sso_only_when_configured(app, sso_app):
    assert 'id="sso"' not in app.test_client().get("/dashboard/login").get_data(as_text=True)
    response = app.test_client().get("/dashboard/oidc/login")
    assert response.status_code == 404
    assert response.get_json()["error"]["code"] == "sso_not_configured"
    page = sso_app.test_client().get("/dashboard/login?next=/dashboard/keys")
    assert 'href="/dashboard/oidc/login?next=/dashboard/keys">Sign in with SSO' in (
        page.get_data(as_text=True))


def test_the_redirect_uri_can_be_set_for_a_gateway_behind_a_proxy(app_factory, provider):
    public = "https://gateway.example.com/dashboard/oidc/callback"
    sso_app = app_factory(OIDC_ISSUER=provider, OIDC_REDIRECT_URI=public, **SSO)
    start = sso_app.test_client().get("/dashboard/oidc/login")
    assert parse_qs(urlsplit(start.headers["Location"]).query)["redirect_uri"] == [public]


def test_first_login_creates_a_member_whose_session_is_its_principal(sso_app, provider):
    person(provider, "u-ann", email="Ann@Example.com", email_verified=True, name="Ann Lee",
           groups=["staff"])
    assert stored(sso_app, "ann@example.com") is None
    client = sso_app.test_client()
    response = sign_in(client, provider, "u-ann", next_path="/dashboard/keys")
    assert response.status_code == 302 and response.headers["Location"] == "/dashboard/keys"
    ann = stored(sso_app, "ann@example.com")
    assert ann == {"id": ann["id"], "role": "member", "name": "Ann Lee", "active": True}
    cookie = response.headers["Set-Cookie"]
    assert cookie.startswith("gateway_session=") and "HttpOnly" in cookie and "Lax" in cookie

    page = client.get("/dashboard/keys")
    assert page.status_code == 200 and "ann@example.com" in page.get_data(as_text=True)
    token = csrf_of(page)
    assert client.get("/admin/keys").status_code == 200  # the member's own keys
    refused = client.get("/admin/users")
    assert refused.status_code == 403 and refused.get_json()["error"]["code"] == "admin_required"
    # Same CSRF rule as a key's session; with the token, the key is the member's own.
    assert client.post("/admin/keys", json={"name": "laptop"}).status_code == 403
    made = client.post("/admin/keys", json={"name": "laptop"}, headers={"X-CSRF-Token": token})
    assert made.status_code == 201, made.get_data(as_text=True)
    assert made.get_json()["user_id"] == ann["id"]
    secret = made.get_json()["key"]
    assert secret.startswith("sk-gw-")

    # /v1/usage is per key: a session without one is told so, not taken for the master key.
    own = client.get("/v1/usage")
    assert own.status_code == 400 and own.get_json()["error"]["code"] == "no_key_usage"
    assert "single sign-on" in own.get_json()["error"]["message"]

    # A second login finds the same user: no second row.
    again = sso_app.test_client()
    assert sign_in(again, provider, "u-ann").headers["Location"] == "/dashboard/"
    assert stored(sso_app, "ann@example.com")["id"] == ann["id"]


def test_the_role_claim_makes_an_admin_and_is_applied_on_every_login(sso_app, provider):
    person(provider, "u-bo", email="bo@example.org", email_verified=True,
           groups=["staff", "gateway-admins"])
    client = sso_app.test_client()
    assert sign_in(client, provider, "u-bo").status_code == 302
    assert stored(sso_app, "bo@example.org")["role"] == "admin"
    listed = client.get("/admin/users")
    assert listed.status_code == 200
    assert "bo@example.org" in {u["email"] for u in listed.get_json()["data"]}

    # The provider took the group away: the next login makes a member of the same user.
    person(provider, "u-bo", email="bo@example.org", email_verified=True, groups=["staff"])
    client = sso_app.test_client()
    assert sign_in(client, provider, "u-bo").status_code == 302
    assert stored(sso_app, "bo@example.org")["role"] == "member"
    assert client.get("/admin/users").status_code == 403

    # A single string claim counts too.
    person(provider, "u-bo", email="bo@example.org", groups="ops")
    assert sign_in(sso_app.test_client(), provider, "u-bo").status_code == 302
    assert stored(sso_app, "bo@example.org")["role"] == "admin"


def test_an_email_outside_the_allowed_domains_is_refused(sso_app, provider):
    person(provider, "u-eve", email="eve@evil.example", email_verified=True,
           groups=["gateway-admins"])
    client = sso_app.test_client()
    response = sign_in(client, provider, "u-eve")
    assert response.status_code == 403
    assert "domain is not allowed" in response.get_data(as_text=True)
    assert stored(sso_app, "eve@evil.example") is None
    assert client.get("/admin/keys").status_code == 401  # no session


def test_an_unverified_email_is_refused(sso_app, provider):
    person(provider, "u-una", email="una@example.com", email_verified=False)
    client = sso_app.test_client()
    response = sign_in(client, provider, "u-una")
    assert response.status_code == 403 and "not verified" in response.get_data(as_text=True)
    assert stored(sso_app, "una@example.com") is None
    assert client.get("/admin/keys").status_code == 401


def test_a_deactivated_user_is_refused_and_its_open_session_ends(sso_app, provider):
    person(provider, "u-dan", email="dan@example.com", groups=["gateway-admins"])
    client = sso_app.test_client()
    assert sign_in(client, provider, "u-dan").status_code == 302
    assert client.get("/admin/keys").status_code == 200
    with sso_app.app_context():
        user_repo.deactivate(user_repo.get_by_email("dan@example.com"))
    ended = client.get("/admin/keys")
    assert ended.status_code == 401 and ended.get_json()["error"]["code"] == "inactive_user"
    assert client.get("/admin/keys").status_code == 401  # the cookie was cleared

    response = sign_in(sso_app.test_client(), provider, "u-dan")
    assert response.status_code == 403 and "deactivated" in response.get_data(as_text=True)
    assert stored(sso_app, "dan@example.com")["active"] is False


def test_a_callback_whose_state_this_session_did_not_start_is_refused(sso_app, provider):
    person(provider, "u-sam", email="sam@example.com")
    victim, attacker = sso_app.test_client(), sso_app.test_client()
    victim.get("/dashboard/login")  # a session of its own, without any login under way
    callback = authorize(attacker, provider, "u-sam")  # the attacker's code and state
    response = victim.get(callback)
    assert response.status_code == 400 and "state mismatch" in response.get_data(as_text=True)
    assert victim.get("/admin/keys").status_code == 401
    assert stored(sso_app, "sam@example.com") is None

    # The right session, with a state altered on the way back: refused as well.
    mine = sso_app.test_client()
    forged = authorize(mine, provider, "u-sam").replace("state=", "state=x")
    assert mine.get(forged).status_code == 400
    assert mine.get("/admin/keys").status_code == 401


def test_a_login_denied_at_the_provider_opens_no_session(sso_app, provider):
    client = sso_app.test_client()
    start = client.get("/dashboard/oidc/login")
    denied = requests.post(start.headers["Location"], data={"action": "deny"},
                           allow_redirects=False, timeout=10)
    back = urlsplit(denied.headers["Location"])
    assert "error=access_denied" in back.query
    response = client.get(f"{back.path}?{back.query}")
    assert response.status_code == 400 and "access_denied" in response.get_data(as_text=True)
    assert client.get("/admin/keys").status_code == 401


def test_logout_clears_the_session_and_ends_the_providers(sso_app, provider):
    person(provider, "u-lou", email="lou@example.com")
    client = sso_app.test_client()
    assert sign_in(client, provider, "u-lou").status_code == 302
    token = csrf_of(client.get("/dashboard/"))
    assert client.post("/dashboard/logout").status_code == 403  # CSRF, as for a key's session
    response = client.post("/dashboard/logout", headers={"X-CSRF-Token": token})
    assert response.status_code == 200
    target = urlsplit(response.get_json()["next"])
    assert f"{target.scheme}://{target.netloc}{target.path}" == f"{provider}/oauth2/end_session"
    query = parse_qs(target.query)
    assert query["client_id"] == ["llm-gateway"]
    assert query["post_logout_redirect_uri"] == ["http://localhost/dashboard/login"]
    assert client.get("/admin/keys").status_code == 401




def test_browser_signs_in_with_sso_sees_itself_and_logs_out(sso_app, provider, browser):
    person(provider, "u-kim", email="kim@example.com", email_verified=True, name="Kim",
           groups=["gateway-admins"])
    with serving(sso_app) as site:
        context = browser.new_context(base_url=site)
        context.route("https://**/*", lambda route: route.abort())  # the provider's CDN style
        page = context.new_page()
        page.set_default_timeout(10_000)
        try:
            page.goto("/dashboard/keys")
            expect(page).to_have_url(f"{site}/dashboard/login?next=/dashboard/keys")
            page.click("text=Sign in with SSO")
            page.wait_for_url(f"{provider}/oauth2/authorize?**")
            page.fill("input[name=sub]", "u-kim")
            page.click("button:has-text('Authorize')")
            page.wait_for_url(f"{site}/dashboard/keys")
            expect(page.locator("#who")).to_contain_text("kim@example.com")
            expect(page.locator("#who")).to_contain_text("admin")
            page.click("#logout")
            page.wait_for_url(f"{provider}/oauth2/end_session?**")
            page.click("button:has-text('End session')")
            page.wait_for_url(f"{site}/dashboard/login?**")
            page.goto("/dashboard/keys")
            expect(page).to_have_url(f"{site}/dashboard/login?next=/dashboard/keys")
        finally:
            context.close()
    assert stored(sso_app, "kim@example.com")["role"] == "admin"
