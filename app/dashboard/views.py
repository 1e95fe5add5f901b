"""The dashboard's pages, login and logout. Pages are shells: what they show comes from the
admin API (/admin/keys, /admin/usage), called by the page's JavaScript with the session cookie,
so the API alone decides what a member or an admin may see."""
from urllib.parse import urlsplit

from flask import Blueprint, redirect, render_template, request, url_for

from ..errors import AuthenticationFailed, InvalidRequest
from ..repositories import users as user_repo
from . import session as dashboard_session

bp = Blueprint("dashboard", __name__, template_folder="templates", static_folder="static",
               static_url_path="/static")
CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'")


@bp.record_once
def _configure(state):
    dashboard_session.configure(state.app)


@bp.after_request
def _headers(response):
    response.headers.setdefault("Content-Security-Policy", CSP)
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    if response.mimetype == "text/html":
        response.headers["Cache-Control"] = "no-store"
    return response


def _current():
    """The session's Principal, or None (no session, or its key no longer valid)."""
    if not dashboard_session.logged_in():
        return None
    try:
        return dashboard_session.principal()
    except AuthenticationFailed:
        return None


def _who(principal):
    user = user_repo.get(principal.user_id) if principal.user_id is not None else None
    return {"label": user.email if user else "master key", "role": principal.role,
            "is_admin": principal.is_admin, "user_id": principal.user_id}


def _safe_next(value):
    """Only a path of the dashboard itself (no open redirect)."""
    parts = urlsplit(value or "")
    if parts.scheme or parts.netloc or not parts.path.startswith("/dashboard"):
        return url_for(".overview")
    return parts.path + (f"?{parts.query}" if parts.query else "")


def _page(template, active):
    principal = _current()
    if principal is None:
        return redirect(url_for(".login", next=request.full_path.rstrip("?")))
    return render_template(template, who=_who(principal), active=active,
                           csrf_token=dashboard_session.csrf_token())


@bp.get("/")
def overview():
    return _page("dashboard/overview.html", "overview")


@bp.get("/keys")
def keys():
    return _page("dashboard/keys.html", "keys")


@bp.get("/login")
def login():
    target = _safe_next(request.args.get("next"))
    if _current() is not None:
        return redirect(target)
    return render_template("dashboard/login.html", next=target, who=None,
                           csrf_token=dashboard_session.csrf_token())


@bp.post("/login")
def log_in():
    body = request.get_json(silent=True)
    secret = body.get("key") if isinstance(body, dict) else None
    if not isinstance(secret, str) or not secret.strip() or len(secret) > 512:
        raise InvalidRequest("Send {\"key\": \"<your API key>\"}.", param="key",
                             code="missing_field")
    principal = dashboard_session.log_in(secret.strip())
    return {"who": _who(principal), "next": _safe_next(body.get("next"))}


@bp.post("/logout")
def log_out():
    from . import oidc  # imports this module

    dashboard_session.check_csrf()
    # A single sign-on session also ends the provider's, when it has an end-session endpoint.
    target = oidc.logout_url(url_for(".login", _external=True)) or url_for(".login")
    dashboard_session.log_out()
    return {"next": target}


from . import explorer  # noqa: E402, F401  (its pages: /dashboard/logs, /dashboard/models)
