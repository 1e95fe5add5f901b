"""The dashboard's management pages: a key's detail page (limits, expiry, project, revoke,
rotate, its budget burn-down), users and projects (admins only) and the usage report. Like the
other pages they are shells whose JavaScript calls the admin API with the session, so the API
alone decides what may be read or changed; a member opening an admin-only page gets a plain
"admins only" page (403) instead of a page whose every call would fail."""
from flask import redirect, render_template, request, url_for

from . import session as dashboard_session
from .views import _current, _page, _who, bp


def _admin_page(template, active):
    principal = _current()
    if principal is None:
        return redirect(url_for(".login", next=request.full_path.rstrip("?")))
    if not principal.is_admin:
        return render_template("dashboard/admins_only.html", who=_who(principal), active=active,
                               csrf_token=dashboard_session.csrf_token()), 403
    return _page(template, active)


@bp.get("/keys/<int:key_id>")
def key_detail(key_id):
    principal = _current()
    if principal is None:
        return redirect(url_for(".login", next=request.full_path.rstrip("?")))
    return render_template("dashboard/key.html", who=_who(principal), active="keys",
                           key_id=key_id, csrf_token=dashboard_session.csrf_token())


@bp.get("/usage")
def usage():
    return _page("dashboard/usage.html", "usage")


@bp.get("/users")
def users():
    return _admin_page("dashboard/users.html", "users")


@bp.get("/projects")
def projects():
    return _admin_page("dashboard/projects.html", "projects")
