"""The dashboard's session: an API key (or a single sign-on, oidc.py) exchanged for a signed
session cookie, and the CSRF token every state-changing request made with that cookie must carry.

The cookie holds the sha256 hash of the key it was opened with (never the key) and a random CSRF
token; Flask signs it with SECRET_KEY. Each request made with it is authenticated exactly as a
Bearer request with that key would be (same cache, same revocation, same Principal), so the
admin API decides what the dashboard may see in one place: app/routes/__init__.py's caller().
A session opened by single sign-on holds the user's id instead (there is no key): its Principal
is the user's (role, state and limits read on each request), the one any key of theirs carries.

Cookie: HttpOnly, SameSite=Lax, Secure when the request that set it came over TLS (behind a TLS
proxy, set SESSION_COOKIE_SECURE=1 or trust the proxy's X-Forwarded-Proto). A POST, PUT, PATCH or
DELETE made with the cookie (and no API key) must send the token in X-CSRF-Token, else 403.
"""
import hmac
import os
import secrets
from datetime import timedelta
from pathlib import Path

from flask import current_app, request, session
from flask.sessions import SecureCookieSessionInterface

from ..errors import AuthenticationFailed, PermissionDenied
from ..gateway.auth import hash_key
from ..repositories import principals

KEY_HASH = "key_hash"
USER_ID = "user_id"  # a session opened by single sign-on (oidc.py): no key, the user's id
CSRF = "csrf"
CSRF_HEADER = "X-CSRF-Token"
SAFE_METHODS = frozenset(("GET", "HEAD", "OPTIONS"))


class SessionInterface(SecureCookieSessionInterface):
    """Flask's signed-cookie session, Secure whenever the request came over TLS."""

    def get_cookie_secure(self, app):
        return bool(app.config["SESSION_COOKIE_SECURE"] or request.is_secure)

    def open_session(self, app, request):
        """A request without the cookie (every API call) gets an empty session at once: Flask
        builds the signing serializer, an HMAC set-up, before it looks for the cookie."""
        if "HTTP_COOKIE" not in request.environ or not request.cookies.get(
                self.get_cookie_name(app)):
            return self.session_class()
        return super().open_session(app, request)


def secret_key(app):
    """SECRET_KEY from the configuration or the environment, else one kept in
    instance/secret_key (created once, mode 0600), so every worker and restart signs sessions
    with the same key."""
    configured = app.config.get("SECRET_KEY") or os.environ.get("SECRET_KEY", "").strip()
    if configured:
        return configured
    path = Path(app.instance_path) / "secret_key"
    if not path.exists():
        # Written whole to a file of its own, then linked into place: a worker starting at the
        # same moment sees either no file or the whole key, and the first link wins.
        path.parent.mkdir(parents=True, exist_ok=True)
        draft = path.with_name(f".secret_key.{os.getpid()}.{secrets.token_hex(4)}")
        with os.fdopen(os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "w") as out:
            out.write(secrets.token_urlsafe(48))
        try:
            os.link(draft, path)
        except FileExistsError:
            pass
        except OSError:  # a file system without hard links
            if not path.exists():
                os.replace(draft, path)
        finally:
            draft.unlink(missing_ok=True)
    return path.read_text().strip()


def configure(app):
    app.config["SECRET_KEY"] = secret_key(app)
    if app.config.get("SESSION_COOKIE_NAME") in (None, "session"):  # Flask's default name
        app.config["SESSION_COOKIE_NAME"] = "gateway_session"
    if os.environ.get("SESSION_COOKIE_SECURE", "").strip().lower() in ("1", "true"):
        app.config["SESSION_COOKIE_SECURE"] = True  # TLS ends at a proxy in front
    app.config["SESSION_COOKIE_HTTPONLY"] = True
    app.config["SESSION_COOKIE_SAMESITE"] = "Lax"
    hours = float(app.config.get("DASHBOARD_SESSION_HOURS")
                  or os.environ.get("DASHBOARD_SESSION_HOURS", "").strip() or 12)
    app.config["PERMANENT_SESSION_LIFETIME"] = timedelta(hours=hours)
    app.session_interface = SessionInterface()


def csrf_token():
    """This session's CSRF token (created on first use, e.g. by the login page)."""
    if CSRF not in session:
        session[CSRF] = secrets.token_urlsafe(32)
    return session[CSRF]


def check_csrf():
    """403 unless the request is safe or carries this session's token in X-CSRF-Token."""
    if request.method in SAFE_METHODS:
        return
    expected = session.get(CSRF)
    sent = request.headers.get(CSRF_HEADER, "")
    if not expected or not hmac.compare_digest(expected.encode(), sent.encode()):
        raise PermissionDenied("Missing or wrong CSRF token: a request made with the dashboard's "
                               f"session must send the page's token in {CSRF_HEADER}.",
                               code="csrf_failed")


def _gateway():
    return current_app.extensions["gateway"]


def log_in(secret):
    """Authenticate secret as any API request would (401, 429 after repeated failures), then
    start a fresh session for it (new CSRF token). Returns the Principal."""
    check_csrf()
    principal = _gateway().authenticate(secret, request.remote_addr)
    session.clear()
    session.permanent = True
    session[KEY_HASH] = hash_key(secret)
    session[CSRF] = secrets.token_urlsafe(32)
    return principal


def log_in_user(user_id):
    """Start a fresh session (new CSRF token) for a user who signed in through the identity
    provider (oidc.py has checked them)."""
    session.clear()
    session.permanent = True
    session[USER_ID] = int(user_id)
    session[CSRF] = secrets.token_urlsafe(32)


def log_out():
    check_csrf()
    session.clear()


def logged_in():
    return KEY_HASH in session or USER_ID in session


def single_sign_on():
    """True when the session was opened through the identity provider."""
    return USER_ID in session


def principal():
    """The Principal of the session's key (or single sign-on user), or None without a session; a
    state-changing request without the CSRF token is 403; a key revoked or expired since, or a
    user deactivated or deleted since, is 401 (and ends the session)."""
    key_hash = session.get(KEY_HASH)
    if key_hash is None:
        if session.get(USER_ID) is None:
            return None
        check_csrf()
        return _user_principal(session[USER_ID])
    check_csrf()
    try:
        return _gateway().authenticator.authenticate_hash(key_hash, request.remote_addr)
    except AuthenticationFailed:
        session.clear()
        raise


def _user_principal(user_id):
    found = principals.principal_for_user(user_id)
    if found is None or not found.active:
        session.clear()
        if found is None:
            raise AuthenticationFailed("The user of this session no longer exists.",
                                       code="unknown_user")
        raise AuthenticationFailed("This user is deactivated.", code="inactive_user")
    return found
