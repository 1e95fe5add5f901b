"""Validation of admin payloads. Plain Python: no Flask, no database.

Every parser takes the decoded JSON value and raises InvalidRequest naming the field (`param`)
when it is wrong. The limit fields are the columns of models.Limits:

    models          list of non-empty strings (names or fnmatch globs), or null = every model
    rpm, tpm, max_parallel   integers >= 1, or null = no limit
    max_budget_usd  a non-negative finite number (or decimal string), stored as Decimal; null: none
    budget_period   daily | weekly | monthly, or null = the budget counts for the key's lifetime

The member ceiling (what a member may set on its own keys) is in member_limits.py.
"""
import math
import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation

from .errors import InvalidRequest
from .models import BUDGET_PERIODS, ROLES

LIMIT_FIELDS = ("models", "rpm", "tpm", "max_parallel", "max_budget_usd", "budget_period")
INT_LIMITS = ("rpm", "tpm", "max_parallel")
MAX_INT = 2**31 - 1  # INTEGER columns on PostgreSQL
MAX_BUDGET = Decimal("9999999999")  # Numeric(20, 10) holds 10 digits before the point
MAX_PAGE = 500

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_DURATION = re.compile(r"^(\d+)([mhdw])$")
_UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def _bad(message, param, code="invalid_value"):
    return InvalidRequest(message, param=param, code=code)


def check_fields(body, allowed, required=()):
    """Unknown fields → 400 naming them; a missing required field → 400 naming it."""
    unknown = sorted(set(body) - set(allowed))
    if unknown:
        raise _bad(f"Unknown field(s): {', '.join(unknown)}. Allowed: {', '.join(allowed)}.",
                   unknown[0], "unknown_field")
    for name in required:
        if body.get(name) is None:
            raise _bad(f"`{name}` is required.", name, "missing_field")


def parse_email(value, param="email"):
    if not isinstance(value, str) or len(value.strip()) > 320 or not _EMAIL.match(value.strip()):
        raise _bad(f"`{param}` must be an email address like name@example.com.", param)
    return value.strip().lower()


def parse_role(value, param="role"):
    if value not in ROLES:
        raise _bad(f"`{param}` must be one of {', '.join(ROLES)}.", param)
    return value


def parse_text(value, param, max_length=200, required=False):
    """A trimmed string (None allowed unless required); empty strings count as None."""
    if value is None and not required:
        return None
    if not isinstance(value, str):
        raise _bad(f"`{param}` must be a string.", param)
    value = value.strip()
    if not value:
        if required:
            raise _bad(f"`{param}` must not be empty.", param)
        return None
    if len(value) > max_length:
        raise _bad(f"`{param}` is longer than {max_length} characters.", param)
    return value


def parse_bool(value, param):
    if not isinstance(value, bool):
        raise _bad(f"`{param}` must be true or false.", param)
    return value


def parse_id(value, param):
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 2**63 - 1:
        raise _bad(f"`{param}` must be a positive integer id.", param)
    return value


def parse_int_limit(value, param):
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_INT:
        raise _bad(f"`{param}` must be an integer from 1 to {MAX_INT}, or null for no limit.",
                   param)
    return value


def parse_budget(value, param="max_budget_usd"):
    if value is None:
        return None
    message = (f"`{param}` must be a non-negative number of dollars below {MAX_BUDGET + 1}, "
               "or null for no budget.")
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise _bad(message, param)
    if isinstance(value, float) and not math.isfinite(value):
        raise _bad(message, param)
    try:
        amount = Decimal(str(value).strip())
    except InvalidOperation:
        raise _bad(message, param) from None
    if not amount.is_finite() or amount < 0 or amount > MAX_BUDGET:
        raise _bad(message, param)
    return amount.quantize(Decimal("1e-10"))


def parse_period(value, param="budget_period"):
    if value is not None and value not in BUDGET_PERIODS:
        raise _bad(f"`{param}` must be one of {', '.join(BUDGET_PERIODS)}, or null.", param)
    return value


def parse_models(value, param="models"):
    if value is None:
        return None
    if (not isinstance(value, list) or not value
            or not all(isinstance(m, str) and m.strip() for m in value)):
        raise _bad(f"`{param}` must be a non-empty list of model names or glob patterns "
                   "(non-empty strings), or null for every model.", param)
    models = list(dict.fromkeys(m.strip() for m in value))
    if any(len(m) > 200 for m in models):
        raise _bad(f"`{param}` entries must be at most 200 characters.", param)
    return models


_LIMIT_PARSERS = {"models": parse_models, "rpm": parse_int_limit, "tpm": parse_int_limit,
                  "max_parallel": parse_int_limit, "max_budget_usd": parse_budget,
                  "budget_period": parse_period}


def parse_limits(body):
    """The limit fields present in body, validated; absent fields are absent from the result
    (so a PATCH leaves them alone) and null clears a limit."""
    return {name: _LIMIT_PARSERS[name](body[name], name) for name in LIMIT_FIELDS if name in body}


def parse_duration(value, param="expires_in"):
    """'30d', '12h', '90m', '2w' → timedelta."""
    match = _DURATION.match(value.strip()) if isinstance(value, str) else None
    if not match or int(match.group(1)) == 0 or int(match.group(1)) > 100_000:
        raise _bad(f"`{param}` must be a duration like 30d, 12h, 90m or 2w.", param)
    return timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})


def parse_timestamp(value, param="expires_at"):
    """ISO 8601 → naive UTC datetime (a value without offset is taken as UTC)."""
    if not isinstance(value, str):
        raise _bad(f"`{param}` must be an ISO 8601 timestamp such as 2030-01-31T12:00:00Z.", param)
    try:
        when = datetime.fromisoformat(value.strip().replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise _bad(f"`{param}` must be an ISO 8601 timestamp such as 2030-01-31T12:00:00Z.",
                   param) from None
    if when.tzinfo is not None:
        when = when.astimezone(UTC).replace(tzinfo=None)
    return when


def parse_expiry(body, now):
    """{'expires_at': …} or {'expires_in': …} → (present, naive UTC datetime or None).
    Both at once → 400; a time in the past → 400; expires_at null clears the expiry."""
    if "expires_at" in body and "expires_in" in body:
        raise _bad("Give either `expires_at` or `expires_in`, not both.", "expires_in")
    if "expires_in" in body:
        if body["expires_in"] is None:
            return True, None
        return True, now + parse_duration(body["expires_in"])
    if "expires_at" in body:
        if body["expires_at"] is None:
            return True, None
        when = parse_timestamp(body["expires_at"])
        if when <= now:
            raise _bad("`expires_at` must be in the future.", "expires_at")
        return True, when
    return False, None


def parse_paging(args):
    """limit (1..MAX_PAGE, default 50) and offset (>= 0, default 0) from query arguments."""
    return (_query_int(args, "limit", 50, 1, MAX_PAGE), _query_int(args, "offset", 0, 0, None))


def _query_int(args, name, default, low, high):
    raw = args.get(name)
    if raw is None or raw == "":
        return default
    if not raw.isdigit() or int(raw) < low or (high is not None and int(raw) > high):
        bound = f"from {low} to {high}" if high is not None else f"≥ {low}"
        raise _bad(f"`{name}` must be an integer {bound}.", name)
    return int(raw)


def query_bool(args, name):
    raw = args.get(name)
    if raw is None or raw == "":
        return None
    if raw.lower() in ("true", "1", "yes"):
        return True
    if raw.lower() in ("false", "0", "no"):
        return False
    raise _bad(f"`{name}` must be true or false.", name)


def query_id(args, name):
    raw = args.get(name)
    if raw is None or raw == "":
        return None
    if not raw.isdigit() or not 1 <= int(raw) <= MAX_INT:
        raise _bad(f"`{name}` must be a positive integer id.", name)
    return int(raw)


def query_choice(args, name, choices):
    raw = args.get(name)
    if raw is None or raw == "":
        return None
    if raw not in choices:
        raise _bad(f"`{name}` must be one of {', '.join(choices)}.", name)
    return raw
