"""The request-log explorer (/dashboard/logs, /dashboard/logs/<request_id>) and the models page
(/dashboard/models), routes of the dashboard's blueprint. Like the other pages they are shells:
their JavaScript (static/logs.js, log_detail.js, models.js) calls GET /admin/logs and
GET /admin/models with the session, so the API decides what a member may read. The models page
is an admin's only, as /admin/models is: a member gets a page that says so (403)."""
from flask import redirect, render_template, request, url_for

from . import session as dashboard_session
from .views import _current, _who, bp

# The query-string parameters of GET /admin/logs the explorer's form sets, in the form's order.
LOG_FILTERS = ("from", "to", "status", "model", "key_id", "user_id", "project_id", "provider",
               "error_type", "request_id")


def _render(template, active, status=200, **context):
    principal = _current()
    if principal is None:
        return redirect(url_for(".login", next=request.full_path.rstrip("?")))
    return render_template(template, who=_who(principal), active=active,
                           csrf_token=dashboard_session.csrf_token(), **context), status


@bp.get("/logs")
def logs():
    values = {name: request.args.get(name, "") for name in LOG_FILTERS}
    return _render("dashboard/logs.html", "logs", filters=values)


@bp.get("/logs/<request_id>")
def log_detail(request_id):
    return _render("dashboard/log_detail.html", "logs", request_id=request_id)


@bp.get("/models")
def models():
    principal = _current()
    if principal is not None and not principal.is_admin:
        return _render("dashboard/models.html", "models", status=403)
    return _render("dashboard/models.html", "models")
