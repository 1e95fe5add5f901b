"""Reading request_logs for the log explorer (/admin/logs) and the models' health (/admin/models).

Pages are keyset pages: rows newest first by (created_at, id), and the next page starts strictly
after the last row's (created_at, id), so page 10 000 costs what page 1 does. Every filter has an
index led by its column and followed by created_at (see models.RequestLog), which the database
walks backwards from the cursor: (api_key_id|user_id|project_id|model|provider|status_code,
created_at), ((status_code / 100), created_at) for a status class, (error_type, created_at)
where error_type is set, (created_at) alone, and request_id / client_request_id for an id.
Rows with the same created_at are put in id order by an incremental sort of that handful.

Figures for the models (last hour): one grouped query over (created_at) — on PostgreSQL with
GROUPING SETS per model and per deployment and percentile_cont for p50/p95; on other databases
(SQLite, the quick start) the hour's (model, deployment, status, latency) rows are read in one
query and the percentiles computed here, by the same linear interpolation.
"""
import base64
import binascii
import re
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, func, literal_column, or_, select, tuple_

from ..extensions import db
from ..models import RequestLog
from .usage import percentile

MAX_ROW_ID = 2**63 - 1  # a BIGINT id; SQLite refuses larger integers too
STATUS_CLASS = re.compile(r"^([1-5])xx$")
# The expression of ix_request_logs_status_class_created_at, verbatim, so the planner uses it.
_STATUS_CLASS_SQL = literal_column("(status_code / 100)")
_CURSOR = re.compile(r"^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6})~([1-9][0-9]{0,18})$")


@dataclass(frozen=True)
class LogFilters:
    """What the explorer narrows rows to; None: not filtered on. status: an exact code (int) or
    a class such as "5xx"; request_id matches the gateway's id or the client's."""
    since: datetime | None = None
    until: datetime | None = None
    status: int | str | None = None
    model: str | None = None
    api_key_id: int | None = None
    user_id: int | None = None
    project_id: int | None = None
    provider: str | None = None
    error_type: str | None = None
    request_id: str | None = None


def encode_cursor(created_at, row_id):
    raw = f"{created_at.strftime('%Y-%m-%dT%H:%M:%S.%f')}~{row_id}"
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor):
    """(created_at, id) of an encode_cursor string; ValueError when it is not one."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode("ascii")
        match = _CURSOR.match(raw)
        if match is None or len(cursor) > 64 or int(match.group(2)) > MAX_ROW_ID:
            raise ValueError
        return datetime.fromisoformat(match.group(1)), int(match.group(2))
    except (ValueError, binascii.Error, UnicodeError):
        raise ValueError("not a cursor this API made") from None


def _conditions(f):
    out = []
    if f.since is not None:
        out.append(RequestLog.created_at >= f.since)
    if f.until is not None:
        out.append(RequestLog.created_at < f.until)
    if isinstance(f.status, str):
        out.append(_STATUS_CLASS_SQL == int(STATUS_CLASS.match(f.status).group(1)))
    elif f.status is not None:
        out.append(RequestLog.status_code == f.status)
    for column, value in ((RequestLog.model, f.model), (RequestLog.api_key_id, f.api_key_id),
                          (RequestLog.user_id, f.user_id), (RequestLog.project_id, f.project_id),
                          (RequestLog.provider, f.provider),
                          (RequestLog.error_type, f.error_type)):
        if value is not None:
            out.append(column == value)
    if f.request_id is not None:
        out.append(or_(RequestLog.request_id == f.request_id,
                       RequestLog.client_request_id == f.request_id))
    return out


def page(filters, limit, after=None):
    """(rows newest first, (created_at, id) to continue after, or None on the last page)."""
    rows = db.session.scalars(page_query(filters, limit, after)).all()
    if len(rows) <= limit:
        return rows, None
    rows = rows[:limit]
    return rows, (rows[-1].created_at, rows[-1].id)


def page_query(filters, limit, after=None):
    """The SELECT of a page: limit + 1 rows, the extra one telling whether a next page exists."""
    query = select(RequestLog).where(*_conditions(filters))
    if after is not None:
        created_at, row_id = after
        # created_at <= c is what the indexes can seek on; the OR settles ties by id.
        query = query.where(RequestLog.created_at <= created_at,
                            or_(RequestLog.created_at < created_at,
                                and_(RequestLog.created_at == created_at,
                                     RequestLog.id < row_id)))
    return query.order_by(RequestLog.created_at.desc(), RequestLog.id.desc()).limit(limit + 1)


def by_request_id(request_id, user_id=None):
    """The row of the gateway's request id (only if it is user_id's, when given), or None."""
    query = select(RequestLog).where(RequestLog.request_id == request_id)
    if user_id is not None:
        query = query.where(RequestLog.user_id == user_id)
    return db.session.scalar(query)


@dataclass(frozen=True)
class Figures:
    requests: int
    errors: int
    p50_ms: float | None
    p95_ms: float | None

    @property
    def error_rate(self):
        return self.errors / self.requests if self.requests else None


def recent_figures(since):
    """({model: Figures}, {deployment id "provider/upstream_model": Figures}) of the requests
    logged since `since`. A row counts for the deployment that answered it last."""
    if db.engine.dialect.name == "postgresql":
        return _figures_grouped(since)
    return _figures_in_python(since)


def _errors():
    return func.count().filter(RequestLog.status_code >= 400)


def _figures_grouped(since):
    model, provider, upstream = RequestLog.model, RequestLog.provider, RequestLog.upstream_model
    query = (select(model, provider, upstream, func.grouping(model).label("by_deployment"),
                    func.count().label("requests"), _errors().label("errors"),
                    func.percentile_cont(0.5).within_group(RequestLog.latency_ms).label("p50"),
                    func.percentile_cont(0.95).within_group(RequestLog.latency_ms).label("p95"))
             .where(RequestLog.created_at >= since)
             .group_by(func.grouping_sets(tuple_(model), tuple_(provider, upstream))))
    by_model, by_deployment = {}, {}
    for r in db.session.execute(query):
        figures = Figures(r.requests, r.errors, _float(r.p50), _float(r.p95))
        if r.by_deployment:
            if r.provider is not None:
                by_deployment[f"{r.provider}/{r.upstream_model}"] = figures
        elif r.model is not None:
            by_model[r.model] = figures
    return by_model, by_deployment


def _figures_in_python(since):
    rows = db.session.execute(
        select(RequestLog.model, RequestLog.provider, RequestLog.upstream_model,
               RequestLog.status_code, RequestLog.latency_ms)
        .where(RequestLog.created_at >= since)).all()
    models, deployments = {}, {}
    for r in rows:
        if r.model is not None:
            models.setdefault(r.model, []).append(r)
        if r.provider is not None:
            deployments.setdefault(f"{r.provider}/{r.upstream_model}", []).append(r)
    return ({name: _summary(group) for name, group in models.items()},
            {name: _summary(group) for name, group in deployments.items()})


def _summary(rows):
    latencies = sorted(r.latency_ms for r in rows)
    return Figures(len(rows), sum(1 for r in rows if r.status_code >= 400),
                   percentile(latencies, 0.5), percentile(latencies, 0.95))


def _float(value):
    return float(value) if value is not None else None
