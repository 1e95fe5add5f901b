"""OpenID Connect single sign-on for the dashboard (Authlib's Flask client).

On when OIDC_ISSUER and OIDC_CLIENT_ID are set: the login page then offers "Sign in with SSO".
/dashboard/oidc/login sends the browser to the provider's authorization endpoint (found through
<issuer>/.well-known/openid-configuration) with an authorization code request, PKCE (S256), a
state and a nonce, all kept in the session cookie until the provider redirects back to
/dashboard/oidc/callback. There Authlib checks the state, redeems the code and verifies the ID
token (signature against the provider's JWKS, issuer, audience, expiry, nonce); then this module:

- needs an email, refuses one whose email_verified claim is false, and (OIDC_ALLOWED_DOMAINS)
  one outside the allowed domains;
- finds the user by email, or creates it (no cap on their number); refuses a deactivated one;
- with OIDC_ROLE_CLAIM set, sets the user's role on every login: admin when the claim (a string
  or a list; a dotted path reaches into objects, e.g. realm_access.roles) holds one of
  OIDC_ADMIN_VALUES, else member. Without it, a new user is a member and roles are left alone;
- opens a session holding the user's id (session.py): the admin API takes it as that user.

Logging out of such a session also ends the provider's when it has an end_session_endpoint.

Authlib (with requests and joserfc, ~15 MB of a worker's memory) is imported only when single
sign-on is configured.
"""
import functools
import logging

from flask import current_app, redirect, render_template, request, session, url_for

from ..errors import InvalidRequest
from ..repositories import users as user_repo
from . import session as dashboard_session
from .views import _safe_next, bp

log = logging.getLogger(__name__)
NAME = "sso"
NEXT = "oidc_next"  # where to go after the callback, kept in the session meanwhile


@functools.cache
def failures():
    """What a call to the provider may raise: the provider or its answer is at fault."""
    import requests
    from authlib.common.errors import AuthlibBaseError
    from joserfc.errors import JoseError

    return (AuthlibBaseError, JoseError, requests.RequestException, ValueError, KeyError,
            RuntimeError)


class Refused(Exception):
    """The provider vouched for someone this gateway does not let in."""


def _settings(app):
    return app.extensions.get("dashboard_oidc")


def _csv(value):
    if isinstance(value, (list, tuple, set)):
        return [str(v).strip() for v in value if str(v).strip()]
    return [part.strip() for part in str(value or "").split(",") if part.strip()]


@bp.record_once
def _configure(state):
    app = state.app
    issuer = (app.config.get("OIDC_ISSUER") or "").strip().rstrip("/")
    client_id = (app.config.get("OIDC_CLIENT_ID") or "").strip()
    if not issuer or not client_id:
        return
    from authlib.integrations.flask_client import OAuth

    oauth = OAuth(app)
    oauth.register(
        NAME, client_id=client_id, client_secret=app.config.get("OIDC_CLIENT_SECRET") or None,
        server_metadata_url=f"{issuer}/.well-known/openid-configuration",
        client_kwargs={"scope": app.config.get("OIDC_SCOPES") or "openid email profile",
                       "code_challenge_method": "S256", "default_timeout": 10})
    app.extensions["dashboard_oidc"] = {
        "client": oauth.create_client(NAME),
        "domains": {d.lower().lstrip("@") for d in _csv(app.config.get("OIDC_ALLOWED_DOMAINS"))},
        "role_claim": (app.config.get("OIDC_ROLE_CLAIM") or "").strip(),
        "admin_values": set(_csv(app.config.get("OIDC_ADMIN_VALUES"))),
        "redirect_uri": (app.config.get("OIDC_REDIRECT_URI") or "").strip(),
    }


def enabled():
    return _settings(current_app) is not None


@bp.context_processor
def _template_flags():
    return {"sso_enabled": _settings(current_app) is not None}


def _client():
    settings = _settings(current_app)
    if settings is None:
        raise InvalidRequest("Single sign-on is not configured on this gateway (OIDC_ISSUER).",
                             code="sso_not_configured", status=404)
    return settings["client"]


def _failed(message, status):
    return render_template("dashboard/login.html", next=url_for(".overview"), who=None,
                           csrf_token=dashboard_session.csrf_token(), sso_error=message), status


@bp.get("/oidc/login")
def oidc_login():
    client = _client()
    session[NEXT] = _safe_next(request.args.get("next"))
    try:
        return client.authorize_redirect(_settings(current_app)["redirect_uri"]
                                         or url_for(".oidc_callback", _external=True))
    except failures() as exc:
        log.warning("single sign-on: the identity provider cannot be reached: %s", exc)
        return _failed("The identity provider cannot be reached; try again later.", 502)


@bp.get("/oidc/callback")
def oidc_callback():
    client = _client()
    target = _safe_next(session.pop(NEXT, None))
    try:
        token = client.authorize_access_token()
    except failures() as exc:
        log.warning("single sign-on failed: %s: %s", type(exc).__name__, exc)
        return _failed(f"Single sign-on failed: {_describe(exc)}", 400)
    if "userinfo" not in token:  # no verified ID token: never trust the rest
        return _failed("Single sign-on failed: the provider sent no ID token.", 400)
    try:
        user = _sign_in(client, token)
    except Refused as exc:
        return _failed(str(exc), 403)
    dashboard_session.log_in_user(user.id)
    return redirect(target)


def _describe(exc):
    from authlib.common.errors import AuthlibBaseError

    if isinstance(exc, AuthlibBaseError):
        if exc.error == "mismatching_state":
            return "the login request is unknown or expired (state mismatch); start again."
        return f"{exc.description} ({exc.error})" if exc.description else str(exc.error)
    return "the identity provider's answer could not be used."


def _claims(client, token):
    """The verified ID token's claims, completed from the userinfo endpoint when the email or
    the role claim is not in the token (some providers put only `sub` there)."""
    claims = dict(token["userinfo"])
    role_claim = _settings(current_app)["role_claim"]
    missing = "email" not in claims or (role_claim and _claim(claims, role_claim) is None)
    if missing and client.load_server_metadata().get("userinfo_endpoint"):
        try:
            extra = dict(client.userinfo(token=token))
        except failures() as exc:
            log.warning("single sign-on: userinfo failed: %s", exc)
            extra = {}
        if extra.get("sub") == claims.get("sub"):
            claims = {**extra, **claims}
    return claims


def _claim(claims, path):
    value = claims
    for part in path.split("."):
        if not isinstance(value, dict) or part not in value:
            return None
        value = value[part]
    return value


def role_of(claims):
    """"admin" or "member" from the role claim, or None when roles are not mapped."""
    settings = _settings(current_app)
    if not settings["role_claim"]:
        return None
    value = _claim(claims, settings["role_claim"])
    values = value if isinstance(value, (list, tuple)) else [] if value is None else [value]
    return "admin" if settings["admin_values"] & {str(v) for v in values} else "member"


def _sign_in(client, token):
    """The user the verified claims name, created on first login; Refused when not let in."""
    claims = _claims(client, token)
    email = claims.get("email")
    if not isinstance(email, str) or "@" not in email:
        raise Refused("The identity provider did not say who you are (no email claim); ask "
                      "its administrator to release the email scope.")
    email = email.strip().lower()
    if claims.get("email_verified") is False:
        raise Refused(f"The identity provider has not verified {email}.")
    domains = _settings(current_app)["domains"]
    if domains and email.rsplit("@", 1)[1] not in domains:
        raise Refused(f"{email} may not sign in here: its domain is not allowed.")
    role = role_of(claims)
    user = user_repo.get_by_email(email)
    if user is None:
        name = claims.get("name") if isinstance(claims.get("name"), str) else None
        try:
            user = user_repo.create(email, name=name and name[:200], role=role or "member")
            log.info("single sign-on: created user %s (%s)", email, user.role)
            return user
        except InvalidRequest:  # created by a concurrent first login
            user = user_repo.get_by_email(email)
    if not user.active:
        raise Refused(f"{email} is deactivated on this gateway.")
    if role is not None and user.role != role:
        log.info("single sign-on: %s's role %s -> %s (%s)", email, user.role, role,
                 _settings(current_app)["role_claim"])
        user_repo.update(user, {"role": role})
    return user


def logout_url(post_logout_url):
    """The provider's end-session URL for a session opened by single sign-on (None otherwise,
    or when the provider has none): the browser goes there after the session is cleared."""
    settings = _settings(current_app)
    if settings is None or not dashboard_session.single_sign_on():
        return None
    client = settings["client"]
    try:
        endpoint = client.load_server_metadata().get("end_session_endpoint")
    except failures():
        return None
    if not endpoint:
        return None
    return client.create_logout_url(post_logout_redirect_uri=post_logout_url,
                                    client_id=client.client_id)["url"]
