"""Validation of admin payloads. Plain Python: no Flask, no database.

Every parser takes the decoded JSON value and raises InvalidRequest naming the field (`param`)
when it is wrong. The limit fields are the columns of models.Limits:

    models          list of non-empty strings (names or fnmatch globs), or null = every model
    rpm, tpm, max_parallel   integers >= 1, or null = no limit
    max_budget_usd  a number from 0 to MAX_BUDGET, or a decimal string such as "12.50" (up to 10
                    digits before and after the point); stored as Decimal; null: none
    budget_period   daily | weekly | monthly, or null = the budget counts for the key's lifetime

Text (names, emails, descriptions, model patterns, the `q` search) never holds a NUL or another
control character (a description may hold tabs and line breaks): PostgreSQL refuses NUL in text,
and the others only garble lists and logs. Paging stops at MAX_OFFSET: PostgreSQL's OFFSET is a
bigint, and no list is that long. A typed query argument given empty (`?limit=`) is a 400 like any
other value that is not of its type; only `q` may be empty.

The member ceiling (what a member may set on its own keys) is in member_limits.py.
"""
import math
import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from .errors import InvalidRequest
from .models import BUDGET_PERIODS, ROLES

LIMIT_FIELDS = ("models", "rpm", "tpm", "max_parallel", "max_budget_usd", "budget_period")
INT_LIMITS = ("rpm", "tpm", "max_parallel")
MAX_INT = 2**31 - 1  # INTEGER columns on PostgreSQL
MAX_BUDGET = Decimal("9999999999")  # Numeric(20, 10) holds 10 digits before the point
MAX_PAGE = 500
MAX_OFFSET = MAX_INT
MAX_QUERY = 200  # characters of a `q` search

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
# The patterns below are also the spec's (app/routes/docs/admin_*.yml), with the same `re` meaning
# (JSON Schema patterns are searched, not fully matched; `$` also matches before a final \n).
_DURATION = re.compile(r"^([1-9][0-9]{0,4}|100000)([mhdw])$")
_DECIMAL = re.compile(r"^[0-9]{1,10}(\.[0-9]{1,10})?$")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")  # C0, DEL and C1
_CONTROL_MULTILINE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
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


def check_no_control(value, param, multiline=False):
    """400 naming param when value (a string) holds a NUL or another control character."""
    if (_CONTROL_MULTILINE if multiline else _CONTROL).search(value):
        allowed = " (tabs and line breaks are fine)" if multiline else ""
        raise _bad(f"`{param}` must not contain NUL or other control characters{allowed}.",
                   param, "control_character")
    return value


def parse_email(value, param="email"):
    if not isinstance(value, str) or len(value) > 320 or not _EMAIL.match(value.strip()):
        raise _bad(f"`{param}` must be an email address like name@example.com.", param)
    return check_no_control(value.strip(), param).lower()


def parse_role(value, param="role"):
    if value not in ROLES:
        raise _bad(f"`{param}` must be one of {', '.join(ROLES)}.", param)
    return value


def parse_text(value, param, max_length=200, required=False, multiline=False):
    """A trimmed string (None allowed unless required); empty strings count as None; no control
    characters (but tabs and line breaks when multiline)."""
    if value is None and not required:
        return None
    if not isinstance(value, str):
        raise _bad(f"`{param}` must be a string.", param)
    if len(value) > max_length:
        raise _bad(f"`{param}` is longer than {max_length} characters.", param)
    value = check_no_control(value, param, multiline).strip()
    if not value:
        if required:
            raise _bad(f"`{param}` must not be empty.", param)
        return None
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
    message = (f"`{param}` must be a number of dollars from 0 to {MAX_BUDGET}, a decimal string "
               "such as \"12.50\" (at most 10 digits before and after the point), or null for "
               "no budget.")
    if isinstance(value, str):
        if not _DECIMAL.match(value):
            raise _bad(message, param)
        return Decimal(value.strip()).quantize(Decimal("1e-10"))
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _bad(message, param)
    if isinstance(value, float) and not math.isfinite(value) or not 0 <= value <= MAX_BUDGET:
        raise _bad(message, param)
    return Decimal(str(value)).quantize(Decimal("1e-10"))


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
    if any(len(m) > 200 for m in value):
        raise _bad(f"`{param}` entries must be at most 200 characters.", param)
    for model in value:
        check_no_control(model, param)
    return list(dict.fromkeys(m.strip() for m in value))


_LIMIT_PARSERS = {"models": parse_models, "rpm": parse_int_limit, "tpm": parse_int_limit,
                  "max_parallel": parse_int_limit, "max_budget_usd": parse_budget,
                  "budget_period": parse_period}


def parse_limits(body):
    """The limit fields present in body, validated; absent fields are absent from the result
    (so a PATCH leaves them alone) and null clears a limit."""
    return {name: _LIMIT_PARSERS[name](body[name], name) for name in LIMIT_FIELDS if name in body}


def parse_duration(value, param="expires_in"):
    """'30d', '12h', '90m', '2w' → timedelta."""
    match = _DURATION.match(value) if isinstance(value, str) else None
    if not match:
        raise _bad(f"`{param}` must be a duration like 30d, 12h, 90m or 2w (1 to 100000 units).",
                   param)
    return timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})


def parse_timestamp(value, param="expires_at"):
    """ISO 8601 → naive UTC datetime (a value without offset is taken as UTC)."""
    if not isinstance(value, str):
        raise _bad(f"`{param}` must be an ISO 8601 timestamp such as 2030-01-31T12:00:00Z.", param)
    try:
        when = datetime.fromisoformat(value.strip().replace("Z", "+00:00").replace("z", "+00:00"))
        if when.tzinfo is not None:
            when = when.astimezone(UTC).replace(tzinfo=None)
    except (ValueError, OverflowError):  # OverflowError: an offset past year 1 or 9999
        raise _bad(f"`{param}` must be an ISO 8601 timestamp such as 2030-01-31T12:00:00Z.",
                   param) from None
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
    """limit (1..MAX_PAGE, default 50) and offset (0..MAX_OFFSET, default 0) from query
    arguments."""
    return (_query_int(args, "limit", 50, 1, MAX_PAGE),
            _query_int(args, "offset", 0, 0, MAX_OFFSET))


def _digits(raw, high):
    """The value of an ASCII decimal string if it is at most high, else None (str.isdigit also
    takes '²', which int() refuses, and int() refuses strings of over 4300 digits)."""
    if not raw.isascii() or not raw.isdigit() or len(raw) > len(str(high)):
        return None
    value = int(raw)
    return value if value <= high else None


def query_int(args, name, default, low, high):
    """An integer query argument from low to high (default when absent)."""
    return _query_int(args, name, default, low, high)


def _query_int(args, name, default, low, high):
    raw = args.get(name)
    if raw is None:
        return default
    value = _digits(raw, high)
    if value is None or value < low:
        raise _bad(f"`{name}` must be an integer from {low} to {high}.", name)
    return value


def query_text(args, name, max_length=MAX_QUERY):
    """A search string from the query (trimmed; None when absent or blank): at most max_length
    characters, no control characters."""
    raw = args.get(name) or ""
    if len(raw) > max_length:
        raise _bad(f"`{name}` is longer than {max_length} characters.", name)
    return check_no_control(raw, name).strip() or None


def query_bool(args, name):
    raw = args.get(name)
    if raw is None:
        return None
    if raw.lower() == "true":  # any case: Python's requests sends True as "True"
        return True
    if raw.lower() == "false":
        return False
    raise _bad(f"`{name}` must be true or false.", name)


def query_id(args, name):
    raw = args.get(name)
    if raw is None:
        return None
    value = _digits(raw, MAX_INT)
    if value is None or value < 1:
        raise _bad(f"`{name}` must be a positive integer id.", name)
    return value


def query_choice(args, name, choices):
    raw = args.get(name)
    if raw is None:
        return None
    if raw not in choices:
        raise _bad(f"`{name}` must be one of {', '.join(choices)}.", name)
    return raw
