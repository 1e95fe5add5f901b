"""The admin REST API under /admin: users, projects, keys, request logs and models' health (JSON
in, JSON out).

Access: an admin key or the master key may do everything; a member key may only list, read,
change, revoke and rotate its own keys and create keys for itself within its user's limits
(app/governance.py), and read its own user's request logs (logs.py). Another user's key or
request answers 404 to a member, not 403. /admin/models is for admins.

Rendering: ids are integers, timestamps ISO 8601 in UTC with a trailing "Z" (seconds), dollar
amounts (max_budget_usd) decimal strings such as "5" or "12.5" so no precision is lost; inputs
accept a number or such a string. Lists answer {"data": [...], "total", "limit", "offset"}.
"""
from pathlib import Path

from flask import Blueprint, request

from ...formats.checks import parse_json_object
from .. import gateway, read_body

bp = Blueprint("admin", __name__)
DOCS = Path(__file__).resolve().parent.parent / "docs"
LIMIT_COLUMNS = ("models", "rpm", "tpm", "max_parallel", "max_budget_usd", "budget_period")


def doc(name):
    return str(DOCS / name)


def read_json(optional=False):
    """The request body as a JSON object; an empty body is {} when optional."""
    raw = read_body()
    if optional and not raw.strip():
        return {}
    return parse_json_object(raw)


def args():
    return request.args


def invalidate(key_hash=None):
    """Drop a key (or, with no hash, every key) from this worker's authentication cache; other
    workers follow within KEY_CACHE_TTL_SECONDS."""
    gateway().authenticator.invalidate(key_hash)


def iso(when):
    return when.isoformat(timespec="seconds") + "Z" if when is not None else None


def money(amount):
    return format(amount.normalize(), "f") if amount is not None else None


def limits_of(row):
    out = {name: getattr(row, name) for name in LIMIT_COLUMNS}
    out["max_budget_usd"] = money(row.max_budget_usd)
    return out


def ceiling_of(row):
    """The limits of a row as plain values (Decimal budgets), for member_limits.apply_ceiling."""
    return {name: getattr(row, name) for name in LIMIT_COLUMNS}


def page_of(rows, total, limit, offset, render):
    return {"data": [render(r) for r in rows], "total": total, "limit": limit, "offset": offset}


def render_user(user):
    return {"id": user.id, "email": user.email, "name": user.name, "role": user.role,
            "active": user.active, **limits_of(user), "created_at": iso(user.created_at)}


def render_member(user):
    return {"id": user.id, "email": user.email, "name": user.name, "role": user.role,
            "active": user.active}


from . import keys, logs, models, projects, users  # noqa: E402,F401  (registers the routes on bp)
