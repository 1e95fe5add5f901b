"""The member ceiling: a member creating or changing its own key may not exceed the limits an
admin set on its user row. Plain Python: no Flask, no database."""
import fnmatch

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
