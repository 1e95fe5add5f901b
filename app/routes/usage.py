"""Usage reports: GET /admin/usage (admins: every key, grouped; a member: its own user's
keys only, whatever it asks for) and GET /v1/usage (any key: its own usage and remaining
budget). Registered without a URL prefix: the paths are written in full.

Times are ISO 8601 in UTC with a trailing "Z"; dollar amounts are decimal strings at the
database's full precision (10 decimal places, e.g. "0.0123450000"), so nothing is lost to floats.
"""
from datetime import timedelta
from pathlib import Path

from flasgger import swag_from
from flask import Blueprint, request

from .. import governance as gov
from ..errors import AuthenticationFailed, InvalidRequest
from ..gateway.limits.periods import window
from ..gateway.limits.tickets import Scope, from_nano
from ..models import utcnow
from ..repositories import usage as usage_repo
from . import caller, gateway

bp = Blueprint("usage", __name__)
DOCS = Path(__file__).parent / "docs"
DEFAULT_DAYS = 30
MEASURES = ("requests", "errors", "input_tokens", "output_tokens", "cached_tokens")


def iso(when):
    return when.isoformat(timespec="seconds") + "Z" if when is not None else None


def money(amount):
    return format(amount, "f") if amount is not None else None


def render_row(row, with_group=True):
    out = {"group": row.group, "id": row.id} if with_group else {}
    out.update({name: getattr(row, name) for name in MEASURES})
    out["cost_usd"] = money(row.cost_usd)
    return out


def _time_arg(name, now, *, end=False):
    raw = request.args.get(name)
    if raw is None or raw == "":
        return None
    try:
        return usage_repo.parse_time(raw, now, end=end)
    except ValueError as exc:
        raise InvalidRequest(f"`{name}`: {exc}", param=name, code="invalid_value") from None


def _range(now, default_since):
    """(since, until) from the query string. until defaults to none; since to default_since,
    or to 30 days before until when until is earlier than that."""
    since = _time_arg("since", now)
    until = _time_arg("until", now, end=True)
    if since is None:
        since = default_since
        if until is not None and since >= until:
            since = until - timedelta(days=DEFAULT_DAYS)
    if since is not None and until is not None and since >= until:
        raise InvalidRequest("`until` must be later than `since`.", param="until",
                             code="invalid_value")
    return since, until


@bp.get("/admin/usage")
@swag_from(str(DOCS / "usage_admin.yml"))
def admin_usage():
    principal = caller()
    args = request.args
    group_by = gov.query_choice(args, "group_by", usage_repo.GROUPS) or "model"
    filters = {name: gov.query_id(request.args, name)
               for name in ("key_id", "user_id", "project_id")}
    if not principal.is_admin:
        filters["user_id"] = principal.user_id  # a member sees its own usage, as with its keys
    now = utcnow()
    since, until = _range(now, now - timedelta(days=DEFAULT_DAYS))
    scope = {"since": since, "until": until, "api_key_id": filters["key_id"],
             "user_id": filters["user_id"], "project_id": filters["project_id"]}
    rows = usage_repo.totals(group_by, **scope)
    return {"group_by": group_by, "since": iso(since), "until": iso(until),
            "data": [render_row(r) for r in rows],
            "totals": render_row(usage_repo.summarize(rows), with_group=False),
            "latency": usage_repo.latency(**scope)}


@bp.get("/v1/usage")
@swag_from(str(DOCS / "usage_self.yml"))
def own_usage():
    principal = caller()
    if principal.key_id is None:  # the master key, or a dashboard single sign-on session
        who = "the master key" if principal.user_id is None else "a single sign-on session"
        raise InvalidRequest(f"/v1/usage is per key: it reports the calling virtual key's own "
                             f"usage and budget, and {who} has none. Call it with a virtual "
                             "key, or use /admin/usage for reports.",
                             code="master_key_has_no_usage" if principal.user_id is None
                             else "no_key_usage")
    key = usage_repo.key_budget(principal.key_id)
    if key is None:
        raise AuthenticationFailed("Invalid API key.")
    now = utcnow()
    start, end, _ = window(key.budget_period, now)
    if key.budget_period is None:  # no window: the last 30 days
        start, end = now - timedelta(days=DEFAULT_DAYS), None
    explicit = request.args.get("since") or request.args.get("until")
    since, until = _range(now, start)
    if not explicit:
        until = end
    usage = usage_repo.overall(since, until, api_key_id=key.id)
    budget = None
    if key.max_budget_usd is not None:
        # The budget counts in the current window (or the key's whole life without a period),
        # whatever window the usage figures above cover; its figures come from the counter that
        # admits requests (as x-gateway-budget-remaining-usd does), not from the batched log.
        _, budget_end, _ = window(key.budget_period, now)
        scope = Scope(name=f"key:{key.id}", max_budget_usd=key.max_budget_usd,
                      budget_period=key.budget_period)
        spent, reserved = (usage_repo.to_money(from_nano(n))
                           for n in gateway().limiter.budget(scope))
        limit = usage_repo.to_money(key.max_budget_usd)
        budget = {"max_budget_usd": money(limit), "budget_period": key.budget_period,
                  "spent_usd": money(spent), "reserved_usd": money(reserved),
                  "remaining_usd": money(max(limit - spent - reserved, usage_repo.to_money(0))),
                  "resets_at": iso(budget_end)}
    return {"key": {"id": key.id, "prefix": key.prefix, "name": key.name},
            "period": {"budget_period": key.budget_period, "start": iso(since), "end": iso(until)},
            "usage": render_row(usage, with_group=False), "budget": budget}
