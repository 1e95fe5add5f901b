"""Usage and cost totals over request_logs, for the reports (/admin/usage, /v1/usage, `flask
usage`) and the remaining-budget figure.

Every report is one grouped query that filters on created_at plus at most the filter columns,
so it runs on the request_logs indexes ((api_key_id|user_id|project_id|model, created_at) and
(created_at)). Rows are aggregated first and only then joined to api_keys/users/projects for
their labels, so the join touches one row per group, not one per request.
"""
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from sqlalchemy import Date, case, cast, func, select

from ..extensions import db
from ..models import ApiKey, Project, RequestLog, User

GROUPS = ("key", "user", "project", "model", "day", "hour")
MONEY_SCALE = Decimal("1e-10")  # the scale of the Money columns: Numeric(20, 10)

# The group of requests logged without one: rejected before a model was chosen, or not made
# with a gateway key (the master key, a bad key).
NO_GROUP = {"model": "(no model)", "key": "(no key)", "user": "(no user)",
            "project": "(no project)"}
# group_by -> (the request_logs column grouped on, the labelled table, its label column)
_BY_ID = {
    "key": (RequestLog.api_key_id, ApiKey, ApiKey.prefix),
    "user": (RequestLog.user_id, User, User.email),
    "project": (RequestLog.project_id, Project, Project.name),
}
_DURATION = re.compile(r"^(\d{1,5})([mhdw])$")
_UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


@dataclass(frozen=True)
class UsageRow:
    """One group of a report. id: the key/user/project id for those groupings, else None;
    group: its label (NO_GROUP's for requests without a key/user/project/model)."""
    group: str | None
    id: int | None
    requests: int
    errors: int
    input_tokens: int
    output_tokens: int
    cached_tokens: int
    cost_usd: Decimal


def to_money(value):
    """The exact Decimal of a summed cost, at the column's scale on every database."""
    return Decimal(value if value is not None else 0).quantize(MONEY_SCALE)


def _measures():
    return [
        func.count().label("requests"),
        func.coalesce(func.sum(case((RequestLog.status_code >= 400, 1), else_=0)), 0)
        .label("errors"),
        func.coalesce(func.sum(RequestLog.input_tokens), 0).label("input_tokens"),
        func.coalesce(func.sum(RequestLog.output_tokens), 0).label("output_tokens"),
        func.coalesce(func.sum(RequestLog.cached_tokens), 0).label("cached_tokens"),
        func.coalesce(func.sum(RequestLog.cost_usd), 0).label("cost_usd"),
    ]


def _where(query, since, until, api_key_id, user_id, project_id):
    if since is not None:
        query = query.where(RequestLog.created_at >= since)
    if until is not None:
        query = query.where(RequestLog.created_at < until)
    for column, value in ((RequestLog.api_key_id, api_key_id), (RequestLog.user_id, user_id),
                          (RequestLog.project_id, project_id)):
        if value is not None:
            query = query.where(column == value)
    return query


def _day(column):
    """The UTC calendar day of a naive-UTC timestamp column."""
    if db.engine.dialect.name == "postgresql":
        return cast(column, Date)
    return func.date(column)  # SQLite (and MySQL): 'YYYY-MM-DD'


def _hour(column):
    """The UTC hour of a naive-UTC timestamp column, as its label 'YYYY-MM-DDTHH:00:00Z'."""
    if db.engine.dialect.name == "postgresql":
        return func.to_char(func.date_trunc("hour", column), 'YYYY-MM-DD"T"HH24":00:00Z"')
    return func.strftime("%Y-%m-%dT%H:00:00Z", column)  # SQLite


def _day_label(value):
    if value is None:
        return None
    return value.isoformat() if isinstance(value, date) else str(value)


def _row(group, ident, r):
    return UsageRow(group=group, id=ident, requests=int(r.requests), errors=int(r.errors),
                    input_tokens=int(r.input_tokens), output_tokens=int(r.output_tokens),
                    cached_tokens=int(r.cached_tokens), cost_usd=to_money(r.cost_usd))


def totals(group_by="model", since=None, until=None, api_key_id=None, user_id=None,
           project_id=None):
    """[UsageRow] per key, user, project, model, UTC day or UTC hour, for requests logged in
    [since, until) (either bound optional) that match every given id filter. Ordered by cost,
    highest first (by day or hour: oldest first)."""
    if group_by not in GROUPS:
        raise ValueError(f"unknown group_by {group_by!r}; expected one of {GROUPS}")
    filters = (since, until, api_key_id, user_id, project_id)
    if group_by in _BY_ID:
        column, table, label = _BY_ID[group_by]
    else:
        column = {"model": RequestLog.model, "day": _day(RequestLog.created_at),
                  "hour": _hour(RequestLog.created_at)}[group_by]
    agg = _where(select(column.label("gid"), *_measures()), *filters).group_by(column).subquery()
    if group_by in ("day", "hour"):
        rows = db.session.execute(select(agg).order_by(agg.c.gid)).all()
        return [_row(_day_label(r.gid), None, r) for r in rows]
    if group_by == "model":
        rows = db.session.execute(select(agg).order_by(agg.c.cost_usd.desc(), agg.c.gid)).all()
        return [_row(r.gid if r.gid is not None else NO_GROUP[group_by], None, r) for r in rows]
    query = (select(agg, label.label("label")).outerjoin(table, table.id == agg.c.gid)
             .order_by(agg.c.cost_usd.desc(), agg.c.gid))
    suffix = "…" if group_by == "key" else ""
    return [_row(r.label + suffix if r.label is not None else _unlabelled(group_by, r.gid),
                 r.gid, r) for r in db.session.execute(query).all()]


def _unlabelled(group_by, ident):
    """The group of requests with no key/user/project (or whose one is gone)."""
    return NO_GROUP[group_by] if ident is None else f"({group_by} {ident}, deleted)"


def overall(since=None, until=None, api_key_id=None, user_id=None, project_id=None):
    """One UsageRow (group None) summing every matching request; zeros when there is none."""
    query = _where(select(*_measures()), since, until, api_key_id, user_id, project_id)
    return _row(None, None, db.session.execute(query).one())


def latency(since=None, until=None, api_key_id=None, user_id=None, project_id=None):
    """p50 and p95 of the latency and of the time to first token (ms) of the matching requests:
    {"p50_ms", "p95_ms", "ttft_p50_ms", "ttft_p95_ms"}, None where there is nothing to measure.
    One percentile_cont query on PostgreSQL; elsewhere (SQLite) the values are read and
    interpolated the same way."""
    filters = (since, until, api_key_id, user_id, project_id)
    latency_ms, ttft_ms = RequestLog.latency_ms, RequestLog.time_to_first_token_ms
    if db.engine.dialect.name == "postgresql":
        row = db.session.execute(_where(select(*(
            func.percentile_cont(q).within_group(column)
            for column in (latency_ms, ttft_ms) for q in (0.5, 0.95))), *filters)).one()
        values = [float(v) if v is not None else None for v in row]
    else:
        rows = db.session.execute(_where(select(latency_ms, ttft_ms), *filters)).all()
        values = []
        for index in (0, 1):
            ordered = sorted(r[index] for r in rows if r[index] is not None)
            values += [percentile(ordered, 0.5), percentile(ordered, 0.95)]
    return dict(zip(("p50_ms", "p95_ms", "ttft_p50_ms", "ttft_p95_ms"), values, strict=True))


def percentile(ordered, fraction):
    """PostgreSQL's percentile_cont over an ascending list: linear interpolation."""
    if not ordered:
        return None
    position = fraction * (len(ordered) - 1)
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return float(ordered[low] + (ordered[high] - ordered[low]) * (position - low))


def summarize(rows):
    """The sum of report rows, as a UsageRow with group None."""
    return UsageRow(group=None, id=None, requests=sum(r.requests for r in rows),
                    errors=sum(r.errors for r in rows),
                    input_tokens=sum(r.input_tokens for r in rows),
                    output_tokens=sum(r.output_tokens for r in rows),
                    cached_tokens=sum(r.cached_tokens for r in rows),
                    cost_usd=to_money(sum((r.cost_usd for r in rows), Decimal(0))))


def spent(since=None, *, api_key_id=None, user_id=None, project_id=None):
    """Exact cost (Decimal) logged for a key, user and/or project since a time (None: ever)."""
    if api_key_id is None and user_id is None and project_id is None:
        raise ValueError("spent() needs api_key_id, user_id or project_id")
    query = _where(select(func.coalesce(func.sum(RequestLog.cost_usd), 0)), since, None,
                   api_key_id, user_id, project_id)
    return to_money(db.session.scalar(query))


def key_budget(key_id):
    """(id, prefix, name, max_budget_usd, budget_period) of a key, or None."""
    return db.session.execute(
        select(ApiKey.id, ApiKey.prefix, ApiKey.name, ApiKey.max_budget_usd,
               ApiKey.budget_period).where(ApiKey.id == key_id)
    ).first()


def parse_time(value, now, *, end=False):
    """A report bound as naive UTC: '30m', '24h', '7d', '2w' (that long before now); an ISO 8601
    date (midnight UTC; with end=True the next midnight, so an end date is included); or an ISO
    8601 datetime (with an offset or 'Z': converted to UTC; without: taken as UTC).
    ValueError when the value is none of these."""
    text = (value or "").strip()
    match = _DURATION.match(text)
    try:
        if match:
            return now - timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
            day = datetime.combine(date.fromisoformat(text), datetime.min.time())
            return day + timedelta(days=1) if end else day
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}.*", text):
            moment = datetime.fromisoformat(text)
            if moment.tzinfo is not None:
                moment = moment.astimezone(UTC).replace(tzinfo=None)
            return moment
    except (ValueError, OverflowError):
        pass
    raise ValueError(f"{value!r} is not a time: use an ISO 8601 date (2025-01-31) or datetime "
                     "(2025-01-31T12:00:00Z), or a span back from now such as 24h, 7d or 2w")
