"""Usage and cost totals over request_logs, grouped for reports."""
from sqlalchemy import case, func, select

from ..extensions import db
from ..models import ApiKey, RequestLog, User

GROUPS = {
    "key": (ApiKey.prefix, RequestLog.api_key_id),
    "user": (User.email, RequestLog.user_id),
    "model": (RequestLog.model, None),
}


def totals(group_by="model", since=None, until=None):
    """Rows of (group, requests, errors, input_tokens, output_tokens, cached_tokens, cost_usd)."""
    label, join_col = GROUPS[group_by]
    query = select(
        label.label("group"),
        func.count().label("requests"),
        func.sum(case((RequestLog.status_code >= 400, 1), else_=0)).label("errors"),
        func.coalesce(func.sum(RequestLog.input_tokens), 0).label("input_tokens"),
        func.coalesce(func.sum(RequestLog.output_tokens), 0).label("output_tokens"),
        func.coalesce(func.sum(RequestLog.cached_tokens), 0).label("cached_tokens"),
        func.coalesce(func.sum(RequestLog.cost_usd), 0).label("cost_usd"),
    ).select_from(RequestLog)
    if group_by == "key":
        query = query.outerjoin(ApiKey, ApiKey.id == join_col)
    elif group_by == "user":
        query = query.outerjoin(User, User.id == join_col)
    if since is not None:
        query = query.where(RequestLog.created_at >= since)
    if until is not None:
        query = query.where(RequestLog.created_at < until)
    query = query.group_by(label).order_by(func.sum(RequestLog.cost_usd).desc(), label)
    return db.session.execute(query).all()
