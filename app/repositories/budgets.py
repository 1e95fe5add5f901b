"""What a key, user or project has spent: the seed of a budget window's counter."""
from decimal import Decimal

from sqlalchemy import func, select

from ..extensions import db
from ..models import RequestLog

_COLUMNS = {"key": RequestLog.api_key_id, "user": RequestLog.user_id,
            "project": RequestLog.project_id}


def spent_since(scope_name, start):
    """Cost logged for a scope ("key:12", "user:3", "project:5") since start (None: ever)."""
    kind, ident = scope_name.split(":", 1)
    query = select(func.coalesce(func.sum(RequestLog.cost_usd), 0)).where(
        _COLUMNS[kind] == int(ident))
    if start is not None:
        query = query.where(RequestLog.created_at >= start)
    return Decimal(db.session.scalar(query))
