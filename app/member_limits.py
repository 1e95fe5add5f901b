"""What a member may set on its own keys: never more than the limits an admin set on its user
row (the ceiling), and never looser than what an admin fixed on the key itself. Plain Python:
no Flask, no database."""
import fnmatch
from datetime import datetime
from decimal import Decimal

from .errors import PermissionDenied


def _over(field, message):
    return PermissionDenied(message, param=field, code="exceeds_user_limit")


def models_within(requested, allowed):
    """Every requested pattern is matched by one of the allowed patterns (fnmatch, case-sensitive:
    'gpt-*' allows 'gpt-4o' and 'gpt-4*', not '*')."""
    return all(any(fnmatch.fnmatchcase(r, a) for a in allowed) for r in requested)


def apply_ceiling(requested, ceiling, fill_defaults=True):
    """The limits of a key a member asks for, checked against its user's limits.

    requested: validated limit fields (see parse_limits); only the ones present are checked.
    ceiling: {field: value} of the user's row (None = no limit on that field).
    fill_defaults: for a new key, a field the member leaves out gets the user's value.
    Returns the effective limits; raises PermissionDenied (403, param = the field) on excess,
    including null (= unlimited) for a field the user is limited on."""
    result = dict(requested)
    for field in ("rpm", "tpm", "max_parallel", "max_budget_usd"):
        cap = ceiling.get(field)
        if cap is None:
            continue
        if field not in requested:
            if fill_defaults:
                result[field] = cap
            continue
        value = requested[field]
        if value is None:
            raise _over(field, f"Your user is limited to {field}={cap}; a key cannot be unlimited.")
        if value > cap:
            raise _over(field, f"`{field}` {value} exceeds your user's limit of {cap}.")
    allowed = ceiling.get("models")
    if allowed is not None:
        if "models" not in requested:
            if fill_defaults:
                result["models"] = list(allowed)
        elif requested["models"] is None or not models_within(requested["models"], allowed):
            raise _over("models", "`models` must stay within your user's allowlist: "
                        f"{', '.join(allowed) or '(none)'}.")
    if ceiling.get("max_budget_usd") is not None:
        period = ceiling.get("budget_period")
        if "budget_period" not in requested:
            if fill_defaults:
                result["budget_period"] = period
        elif requested["budget_period"] != period:
            raise _over("budget_period", f"`budget_period` must be {period or 'null'}, the period "
                        "of your user's budget.")
    return result


# --- what an admin fixed on a key ------------------------------------------------------------
# ApiKey.admin_limits holds, JSON-safe, every limit an admin set on the key (and its expiry):
# its owner, a member, may only tighten them. A member cannot move its key into or out of a
# project either (a project's budget and limits are the admin's to give or take).

def admin_fixed(fields, current, budget_period):
    """The key's admin_limits after an admin set `fields` (validated limit fields, maybe
    expires_at): a non-null value is fixed, null frees the field. A fixed budget fixes its
    period too: budget_period is the key's period once `fields` are applied."""
    fixed = dict(current or {})
    for field in FIXABLE:
        if field in fields:
            if fields[field] is None:
                fixed.pop(field, None)
            else:
                fixed[field] = _json_safe(fields[field])
    if "max_budget_usd" in fixed:
        fixed["budget_period"] = budget_period
    else:
        fixed.pop("budget_period", None)
    return fixed or None


FIXABLE = ("models", "rpm", "tpm", "max_parallel", "max_budget_usd", "expires_at")


def check_member_change(fields, fixed, current_project_id=None):
    """A member's change to its key (validated fields, expires_at included) against what an
    admin fixed; raises PermissionDenied (403, param = the field) on anything looser."""
    if "project_id" in fields and fields["project_id"] != current_project_id:
        raise PermissionDenied("A member cannot move a key into or out of a project; ask an "
                               "admin.", param="project_id", code="admin_only_field")
    for field, value in fields.items():
        if field not in (fixed or {}):
            continue
        bound = fixed[field]
        if not _within(field, value, bound):
            raise PermissionDenied(
                f"An admin fixed `{field}` of this key at {_show(bound)}; you may only tighten "
                "it.", param=field, code="exceeds_admin_limit")


def _within(field, value, bound):
    if field == "budget_period":
        return value == bound
    if value is None:
        return False
    if field == "models":
        return models_within(value, bound)
    if field == "expires_at":
        return value <= datetime.fromisoformat(bound)
    if field == "max_budget_usd":
        return value <= Decimal(bound)
    return value <= bound


def _json_safe(value):
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime):
        return value.isoformat()
    return value


def _show(bound):
    if bound is None:
        return "null"
    return ", ".join(bound) if isinstance(bound, list) else str(bound)
