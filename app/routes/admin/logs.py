"""/admin/logs: the request-log explorer. GET /admin/logs lists request-log rows newest first,
filtered, a keyset page at a time; GET /admin/logs/{request_id} shows one request with every
upstream attempt.

Access as everywhere in the admin API: an admin key (or the master key) sees every row; a member
key sees its own user's rows only, whatever `user_id` it asks for, and another user's request
answers 404.

Filters (all optional, combined with AND): `from` / `to` (ISO 8601 date or datetime, or a span
back from now such as 24h; `to` exclusive, a bare date includes that day), `status` (an exact code
such as 429, or a class: 1xx…5xx), `model` (as the client asked), `key_id`, `user_id`,
`project_id`, `provider`, `error_type`, `request_id` (the gateway's id or the client's
x-request-id). `limit` 1–500 (default 50); `cursor`: the `next_cursor` of the previous page.
"""
from flasgger import swag_from

from ... import governance as gov
from ...errors import InvalidRequest, NotFound
from ...models import utcnow
from ...repositories import log_queries
from ...repositories import usage as usage_repo
from .. import caller
from . import args, bp, doc

TEXT_FILTERS = {"model": 200, "provider": 100, "error_type": 64, "request_id": 128}
DEFAULT_LIMIT = 50


def stamp(when):
    """ISO 8601 UTC to the millisecond, trailing "Z"."""
    return when.isoformat(timespec="milliseconds") + "Z" if when is not None else None


def render_row(row):
    return {"request_id": row.request_id, "client_request_id": row.client_request_id,
            "created_at": stamp(row.created_at), "api_key_id": row.api_key_id,
            "user_id": row.user_id, "project_id": row.project_id, "surface": row.surface,
            "endpoint": row.endpoint, "model": row.model, "provider": row.provider,
            "upstream_model": row.upstream_model,
            "deployment": f"{row.provider}/{row.upstream_model}" if row.provider else None,
            "stream": row.stream, "status_code": row.status_code, "error_type": row.error_type,
            "input_tokens": row.input_tokens, "output_tokens": row.output_tokens,
            "cached_tokens": row.cached_tokens, "cache_write_tokens": row.cache_write_tokens,
            "cost_usd": format(row.cost_usd, "f") if row.cost_usd is not None else None,
            "latency_ms": row.latency_ms, "time_to_first_token_ms": row.time_to_first_token_ms,
            "attempt_count": len(row.attempts or ())}


def render_attempt(attempt):
    attempt = attempt if isinstance(attempt, dict) else {}
    provider, model = attempt.get("provider"), attempt.get("model")
    return {**attempt, "deployment": f"{provider}/{model}" if provider else None,
            "provider": provider, "model": model, "key": attempt.get("key"),
            "status": attempt.get("status"), "error": attempt.get("error"),
            "latency_ms": attempt.get("latency_ms")}


def render_detail(row):
    return {**render_row(row), "error_message": row.error_message,
            "attempts": [render_attempt(a) for a in row.attempts or ()]}


def _time(name, now, end=False):
    raw = args().get(name)
    if raw is None or raw == "":
        return None
    gov.check_no_control(raw, name)
    try:
        return usage_repo.parse_time(raw, now, end=end)
    except ValueError as exc:
        raise InvalidRequest(f"`{name}`: {exc}", param=name, code="invalid_value") from None


def _status():
    raw = args().get("status")
    if raw is None or raw == "":
        return None
    if log_queries.STATUS_CLASS.match(raw):
        return raw
    if raw.isascii() and raw.isdigit() and len(raw) == 3 and 100 <= int(raw) <= 599:
        return int(raw)
    raise InvalidRequest("`status` must be an HTTP status code from 100 to 599 (e.g. 429) or a "
                         "class: 1xx, 2xx, 3xx, 4xx or 5xx.", param="status", code="invalid_value")


def _cursor():
    raw = args().get("cursor")
    if raw is None or raw == "":
        return None
    try:
        return log_queries.decode_cursor(raw)
    except ValueError:
        raise InvalidRequest("`cursor` is not a cursor this API gave: pass the `next_cursor` of "
                             "the previous page unchanged.", param="cursor",
                             code="invalid_cursor") from None


def filters_of(principal):
    """The LogFilters of the query string; a member's are held to its own user's rows."""
    now = utcnow()
    user_id = gov.query_id(args(), "user_id")
    if not principal.is_admin:
        user_id = principal.user_id  # a member sees its own logs, as with its keys and usage
    texts = {name: gov.query_text(args(), name, length) for name, length in TEXT_FILTERS.items()}
    return log_queries.LogFilters(
        since=_time("from", now), until=_time("to", now, end=True), status=_status(),
        api_key_id=gov.query_id(args(), "key_id"), user_id=user_id,
        project_id=gov.query_id(args(), "project_id"), **texts)


@bp.get("/logs")
@swag_from(doc("admin_logs_list.yml"))
def list_logs():
    principal = caller()
    limit = gov.query_int(args(), "limit", DEFAULT_LIMIT, 1, gov.MAX_PAGE)
    filters = filters_of(principal)
    after = _cursor()
    rows, last = log_queries.page(filters, limit, after)
    return {"data": [render_row(r) for r in rows], "limit": limit,
            "next_cursor": log_queries.encode_cursor(*last) if last else None}


@bp.get("/logs/<request_id>")
@swag_from(doc("admin_logs_get.yml"))
def get_log(request_id):
    principal = caller()
    row = None
    if len(request_id) <= 64 and "\x00" not in request_id:  # no longer id is ever made
        row = log_queries.by_request_id(
            request_id, user_id=None if principal.is_admin else principal.user_id)
    if row is None:
        raise NotFound(f"No request with id {request_id[:64]!r}.", param="request_id")
    return render_detail(row)
