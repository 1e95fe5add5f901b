import logging

from sqlalchemy import insert, select
from sqlalchemy.exc import DataError, IntegrityError

from ..extensions import db
from ..models import RequestLog
from . import keys

log = logging.getLogger(__name__)


def insert_batch(rows):
    """Insert rows (dicts of RequestLog columns) and bump their keys' last_used_at; one commit."""
    if not rows:
        return
    try:
        db.session.execute(insert(RequestLog), rows)
    except (IntegrityError, DataError):
        db.session.rollback()
        rows = _insert_one_by_one(rows)
    last_used = {}
    for row in rows:
        key_id = row.get("api_key_id")
        if key_id is not None:
            last_used[key_id] = max(last_used.get(key_id, row["created_at"]), row["created_at"])
    keys.touch_last_used(last_used)
    db.session.commit()


def _insert_one_by_one(rows):
    """A batch with a bad row: keep every good one, report and skip the bad ones."""
    written = []
    for row in rows:
        try:
            with db.session.begin_nested():
                db.session.execute(insert(RequestLog), [row])
            written.append(row)
        except (IntegrityError, DataError) as exc:
            log.error("request log %s rejected by the database: %s", row.get("request_id"), exc)
    return written


def by_request_id(request_id):
    return db.session.scalar(select(RequestLog).where(RequestLog.request_id == request_id))


def recent(limit=100):
    return db.session.scalars(select(RequestLog).order_by(RequestLog.id.desc()).limit(limit)).all()
